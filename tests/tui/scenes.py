"""A fixed picture of a proxy at work, for the monitor's snapshot and Pilot tests.

Everything is built by folding events (as the proxy does), with fixed timestamps and a
frozen clock, so the same screen is drawn on every run. Import as `scenes`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from ccm_tui.actions import Action
from ccm_tui.events import (
    AttemptFailed,
    AttemptStarted,
    AuthMode,
    BlockView,
    BreakerState,
    Event,
    EventBus,
    Failure,
    ProviderStateChanged,
    RateLimitsObserved,
    RefreshState,
    RequestFinished,
    RequestStarted,
    ResponseStarted,
    StreamProgressed,
    TokenStateChanged,
)
from ccm_tui.monitor import MonitorState
from ccm_tui.ratelimits import RateLimits, Window
from ccm_tui.tui.app import CcmApp
from ccm_tui.tui.theming import ThemeSet, load_themes

FIXED = 1_767_268_800.0  # 2026-01-01 12:00:00 UTC
SOURCE = "serving http://127.0.0.1:13456"
HEADERS = (
    ("anthropic-version", "2023-06-01"),
    ("user-agent", "claude-cli/2.1.332 (external, cli)"),
    ("x-api-key", "sk-ant-api03-…Q9xZ"),
)
STREAMING_TEXT = "I'll refactor the routing table into a dataclass. First, the"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = FIXED) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class RecordingControl:
    """A ProxyControl that changes nothing and remembers what it was asked."""

    calls: list[tuple[str, ...]] = field(default_factory=list)
    origin: str = "recording"

    async def run(self, action: Action, provider: str | None = None) -> str:
        self.calls.append((action.value,) if provider is None else (action.value, provider))
        return ANSWERS[action].format(provider)


ANSWERS = {
    Action.ENABLE: "{} enabled",
    Action.DISABLE: "{} disabled",
    Action.RESET: "{}: counters reset",
    Action.DERIVE_KEY: "{}: derived",
    Action.USE_OAUTH: "{}: oauth",
    Action.RELOAD: "config reloaded",
}


async def until(pilot: Pilot[Any], condition: Callable[[], object], what: str, timeout: float = 8):
    """Lets the app run until `condition()` holds; fails after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if not pilot.app.is_running:
            raise AssertionError(f"the app stopped while waiting for {what}")
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


# -- event builders ------------------------------------------------------------------------


def started(
    request_id: str,
    at: float,
    model: str = "sonnet",
    *,
    stream: bool = True,
    messages: int = 3,
    tools: int = 7,
    headers: tuple[tuple[str, str], ...] = HEADERS,
) -> RequestStarted:
    return RequestStarted(
        request_id, at, "POST", "/v1/messages", model, model, "model", stream, messages, tools,
        "claude-cli/2.1.332 (external, cli)", headers,
    )  # fmt: skip


def attempt(
    request_id: str, number: int, provider: str, model: str, at: float,
    auth: AuthMode = AuthMode.APIKEY,
) -> AttemptStarted:  # fmt: skip
    return AttemptStarted(request_id, number, provider, model, auth, at)


def attempt_failed(
    request_id: str, number: int, provider: str, failure: Failure, status: int | None,
    message: str, *, at: float,
) -> AttemptFailed:  # fmt: skip
    return AttemptFailed(request_id, number, provider, failure, status, message, None, 120.0, at)


def response(request_id: str, number: int, provider: str, ttfb_ms: float) -> ResponseStarted:
    return ResponseStarted(request_id, number, provider, 200, ttfb_ms)


def progressed(request_id: str, output_tokens: int, text: str = "") -> StreamProgressed:
    blocks = (BlockView("text", "", text),) if text else ()
    return StreamProgressed(request_id, 1200, output_tokens, blocks)


def finished(
    request_id: str, provider: str, model: str, *, at: float, status: int = 200,
    outcome: Failure = Failure.OK, output_tokens: int = 320, stop_reason: str = "end_turn",
    duration_ms: float = 2400.0, error: str = "", text: str = "",
) -> RequestFinished:  # fmt: skip
    blocks = (BlockView("text", "", text),) if text else ()
    return RequestFinished(
        request_id, status, outcome, provider, model, 1200, output_tokens, 0, 0, stop_reason,
        duration_ms, error, at, blocks,
    )  # fmt: skip


def provider_state(
    name: str, *, enabled: bool = True, breaker: BreakerState = BreakerState.CLOSED,
    until: float | None = None, consecutive: int = 0, auth: AuthMode = AuthMode.APIKEY,
) -> ProviderStateChanged:  # fmt: skip
    return ProviderStateChanged(name, enabled, breaker, until, consecutive, auth)


def token(
    token_id: str, expires_at: float | None, *, source: str = "store",
    providers: tuple[str, ...] = ("claude-max",), refresh: RefreshState = RefreshState.IDLE,
    message: str = "", refreshed_at: float | None = None, derived_key: str = "",
    in_use: bool = False, read_only: bool = False,
) -> TokenStateChanged:  # fmt: skip
    return TokenStateChanged(
        token_id, source, providers, "sk-ant-oat01-…a1B2", expires_at, refresh, message,
        refreshed_at, derived_key, in_use, read_only,
    )  # fmt: skip


# -- the scene -----------------------------------------------------------------------------


def scene_events(now: float = FIXED) -> list[Event]:
    """Three providers (one with its breaker open, one disabled), four requests (a plain
    answer, a failover `claude-max ✗529 → zai`, a client error, one still streaming) and
    two tokens, one comfortable and one about to expire."""
    return [
        provider_state("claude-max", auth=AuthMode.OAUTH),
        provider_state("zai"),
        provider_state("openrouter"),
        # r1: a plain answer
        started("r1", now - 40),
        attempt("r1", 1, "claude-max", "claude-sonnet-4-5", now - 40, AuthMode.OAUTH),
        response("r1", 1, "claude-max", 420.0),
        finished(
            "r1", "claude-max", "claude-sonnet-4-5", at=now - 37.6, output_tokens=512, text="Done."
        ),
        # r2: claude-max overloaded, zai answered
        started("r2", now - 31),
        attempt("r2", 1, "claude-max", "claude-sonnet-4-5", now - 31, AuthMode.OAUTH),
        # claude-max's latest failure, dated `now` (the Providers caption shows its age)
        attempt_failed("r2", 1, "claude-max", Failure.OVERLOADED, 529, "Overloaded", at=now),
        attempt("r2", 2, "zai", "glm-4.6", now - 31),
        response("r2", 2, "zai", 310.0),
        finished(
            "r2",
            "zai",
            "glm-4.6",
            at=now - 29.2,
            output_tokens=87,
            duration_ms=1830.0,
            text="The breaker opens after three failures in a row.",
        ),
        # claude-max's subscription windows, as its last answer reported them
        RateLimitsObserved(
            "claude-max",
            "claude-max",
            now - 37.6,
            200,
            RateLimits(
                status="allowed_warning",
                reset=now + 4320,
                representative_claim="five_hour",
                windows=(
                    Window("5h", 0.82, now + 4320, "allowed_warning", 0.75),
                    Window("7d", 0.31, now + 3 * 86400, "allowed"),
                ),
            ),
        ),
        # r3: the client's own mistake, passed through
        started("r3", now - 22, "haiku", stream=False, tools=0),
        attempt("r3", 1, "zai", "glm-4.5-air", now - 22),
        finished(
            "r3",
            "zai",
            "glm-4.5-air",
            at=now - 22,
            status=400,
            outcome=Failure.CLIENT_ERROR,
            output_tokens=0,
            stop_reason="",
            duration_ms=35.0,
            error="max_tokens: 100000 > 8192, the maximum for glm-4.5-air",
        ),
        # claude-max keeps failing: its breaker opens for 42 more seconds
        provider_state(
            "claude-max",
            breaker=BreakerState.OPEN,
            until=now + 42,
            consecutive=3,
            auth=AuthMode.OAUTH,
        ),
        provider_state("openrouter", enabled=False),
        # r4: streaming now, through zai
        started("r4", now - 5, "opus"),
        attempt("r4", 1, "zai", "glm-4.6", now - 5),
        response("r4", 1, "zai", 290.0),
        progressed("r4", 57, STREAMING_TEXT),
        token(
            "claude-max",
            now + 4332,
            refresh=RefreshState.OK,
            refreshed_at=now - 300,
            derived_key="sk-ant-api03-…x7Qd",
            in_use=True,
        ),
        token(
            "claude-code",
            now + 200,
            source="claude-code",
            providers=("passthru",),
            read_only=True,
        ),
    ]


def folded(
    events: Iterable[Event], clock: Callable[[], float], history: int = 1000
) -> MonitorState:
    state = MonitorState(history=history, clock=clock)
    for event in events:
        state.apply(event)
    return state


def builtin_themes(tmp: Path) -> ThemeSet:
    """The shipped themes only: a user's own theme directory must not change a test."""
    return load_themes(tmp / "no-user-themes")


def scene_app(
    tmp: Path, theme: str = "ccm-dark", clock: Callable[[], float] = lambda: FIXED
) -> CcmApp:
    """The monitor over the scene: frozen clock, no traffic, no tick during a snapshot,
    no animation (the tabs' underline slides in: caught mid-way, a picture would differ)."""
    app = CcmApp(
        folded(scene_events(), clock),
        EventBus(),
        RecordingControl(),
        themes=builtin_themes(tmp),
        theme=theme,
        source=SOURCE,
        clock=clock,
        tick_s=3600,
    )
    app.animation_level = "none"
    return app
