"""Helpers shared by test folders (import as `support`; conftest names clash across folders)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from ccm_tui.events import (
    AttemptStarted,
    AuthMode,
    BlockView,
    Event,
    Failure,
    RequestFinished,
    RequestStarted,
)
from ccm_tui.history import History
from ccm_tui.monitor import MonitorState
from ccm_tui.sim import Simulator
from ccm_tui.usage import UsageState

# The content type the proxy requires of every POST (a web page cannot send it unasked).
JSON = {"Content-Type": "application/json"}
HELLO = [{"role": "user", "content": "Hello"}]
# A tool with one required parameter (the simulator fills it in when the tool is forced).
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


class Clock:
    """A wall clock a test moves by hand."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def scrape(body: bytes) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """A /metrics body parsed by prometheus_client: sample name -> sorted labels -> value."""
    from prometheus_client.parser import text_string_to_metric_families

    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


# Each provider's key, by wire format (other tests look for these exact strings).
KEYS = {
    "anthropic": {
        "primary": "sk-ant-api03-primary-key-000000000000",
        "secondary": "sk-ant-api03-secondary-key-11111111111",
    },
    "openai": {
        "primary": "sk-proj-primary-key-00000000000000000",
        "secondary": "sk-proj-secondary-key-111111111111111",
    },
}


def _provider(sim: Simulator, name: str, wire_format: str) -> str:
    url = sim.openai_url(name) if wire_format == "openai" else sim.url(name)
    return f"""
[[providers]]
name = "{name}"
provider_type = "{wire_format}"
auth_type = "apikey"
api_key = "{KEYS[wire_format][name]}"
base_url = "{url}"
"""


def two_provider_config(
    sim: Simulator,
    extra: str = "",
    formats: tuple[str, str] = ("anthropic", "anthropic"),
    **server: str,
) -> str:
    """A chain `sonnet`: primary, then secondary; both on the simulator, each speaking the
    wire format `formats` gives it ("anthropic" or "openai")."""
    server_lines = "\n".join(f"{k} = {v}" for k, v in server.items())
    return f"""
[server]
host = "127.0.0.1"
port = 0
{server_lines}

[router]
default = "sonnet"
{_provider(sim, "primary", formats[0])}
{_provider(sim, "secondary", formats[1])}
[[models]]
name = "sonnet"
[[models.mappings]]
priority = 1
provider = "primary"
actual_model = "primary-model"
[[models.mappings]]
priority = 2
provider = "secondary"
actual_model = "secondary-model"
{extra}
"""


def with_formats(*chains: tuple[str, str]) -> pytest.MarkDecorator:
    """Runs a test once per chain: its `proxy` fixture built with those `formats`."""
    return pytest.mark.parametrize(
        "proxy", chains, indirect=True, ids=["-".join(chain) for chain in chains]
    )


# The behaviour of the first provider, whichever format it speaks (the fallback: Anthropic).
EITHER_FIRST = with_formats(("anthropic", "anthropic"), ("openai", "anthropic"))


class EventLog:
    """Collects a proxy's events so tests wait for one instead of sleeping."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 10) -> Event:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                self._changed.clear()
                await self._changed.wait()


class RequestFeed:
    """Folds a request's events the way `serve` would, and hands the result to history."""

    def __init__(self, history: History | None = None) -> None:
        self.state = MonitorState(history=100_000)
        self.usage = UsageState()
        self.history = history

    def request(
        self,
        rid: str,
        at: float | None = None,
        auth: AuthMode = AuthMode.OAUTH,
        model: str = "claude-sonnet-4-5-20250929",
        tokens: tuple[int, int, int, int] = (1200, 300, 5000, 100),
        error: str = "",
    ) -> None:
        at = time.time() if at is None else at
        events = [
            RequestStarted(rid, at, "POST", "/v1/messages", "sonnet", "sonnet", "default", True,
                           3, 2, "claude-cli/2.1.332", (("x-api-key", "sk-ant-api03-…x7Qd"),)),
            AttemptStarted(rid, 1, "claude-max", model, auth, at),
            RequestFinished(rid, 200, Failure.OK, "claude-max", model, *tokens, "end_turn",
                            1500.0, error, at + 1.5,
                            (BlockView("text", "", "the streamed answer"),)),
        ]  # fmt: skip
        record = None
        for event in events:
            self.state.apply(event)
            record = self.usage.apply(event)
        if self.history is not None:
            self.history.record(self.state.requests[rid], record)
