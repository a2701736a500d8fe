"""The monitor at work: every key and pane, driven by events and by real traffic.

Two kinds of monitor: one fed by events the test publishes on a bus (the state folds them
as a proxy's does), and one beside a real Proxy and Simulator on loopback. Tests wait for
the screen to show what they expect (a bounded poll), never for a fixed time.
"""

from __future__ import annotations

import asyncio
import io
import json
import tomllib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anthropic
import pytest
from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.text import Text
from scenes import (
    Clock,
    RecordingControl,
    attempt,
    attempt_failed,
    builtin_themes,
    finished,
    progressed,
    provider_state,
    response,
    started,
    token,
    until,
)
from textual.binding import Binding
from textual.color import Color
from textual.command import CommandList
from textual.pilot import Pilot
from textual.widgets import Input, Static, Tab, Tabs
from textual.widgets._toast import Toast

from ccm_tui import demo
from ccm_tui import humanize as fmt
from ccm_tui.actions import Action
from ccm_tui.attach import RemoteMonitor
from ccm_tui.config import load_config
from ccm_tui.control import LocalControl, RemoteControl
from ccm_tui.events import (
    AuthMode,
    BreakerState,
    EventBus,
    Failure,
    Level,
    Notice,
    RefreshState,
    RequestStarted,
)
from ccm_tui.gateway import Gateway
from ccm_tui.masking import mask
from ccm_tui.monitor import MonitorState
from ccm_tui.proxy.app import Proxy
from ccm_tui.proxy_process import Ownership
from ccm_tui.tui.app import CcmApp
from ccm_tui.tui.filtering import RequestFilter
from ccm_tui.tui.screens import ConfirmQuitScreen, FilterScreen, HelpScreen
from ccm_tui.tui.theming import no_color_requested, resolve_theme_name
from ccm_tui.tui.widgets.keybar import KeyBar
from ccm_tui.tui.widgets.line import TextLine
from ccm_tui.tui.widgets.providers import ProvidersTable
from ccm_tui.tui.widgets.requests import RequestsTable
from ccm_tui.tui.widgets.table import LiveTable

from support import HELLO, two_provider_config

CLIENT_KEY = "sk-ant-api03-client-secret-key-abcdefghijklmnop"
NARROW = (80, 24)
WIDE = (120, 40)
PANES = ("requests", "providers", "tokens", "detail")


# -- reading the screen ----------------------------------------------------------------------


def screen_text(app: CcmApp) -> str:
    """What the terminal shows now, as plain text (modals and notifications included)."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
        color_system="truecolor", legacy_windows=False, safe_box=False,
    )  # fmt: skip
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text()


def plain(renderable: RenderableType, width: int = 200) -> str:
    """A Rich renderable as text, wide enough not to cut it."""
    console = Console(width=width, file=io.StringIO(), record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def static_text(app: CcmApp, selector: str) -> str:
    widget = app.query_one(selector)
    if isinstance(widget, TextLine):
        return widget.text.plain
    content = widget.content  # type: ignore[attr-defined]
    return content.plain if isinstance(content, Text) else str(content)


def detail_text(app: CcmApp) -> str:
    """The whole detail pane, including what is scrolled out of sight."""
    return "\n".join(
        plain(app.query_one(f"#detail-{part}", Static).content)
        for part in ("summary", "response", "headers")
    )


def toasts(app: CcmApp) -> list[str]:
    """The notifications on screen, as the person reads them: lines joined again (with a
    space, but none after a path's `/`, where a long path is broken)."""
    return [
        toast.render().plain.replace("/\n", "/").replace("\n", " ")
        for toast in app.screen.query(Toast)
    ]


def row_keys(table: LiveTable) -> list[str]:
    return list(table.row_keys)


def cells(table: LiveTable, row: str) -> dict[str, str]:
    """The row's cells in the columns shown."""
    return {column.key: table.cells(row)[column.key].plain for column in table.columns}


def cell(table: LiveTable, row: str, column: str) -> Text:
    return table.cells(row)[column]


def pane_shown(app: CcmApp, pane: str) -> bool:
    widget = app.query_one(f"#pane-{pane}")
    return widget.display and widget.region.area > 0


def count_calls(obj: object, *names: str) -> Counter[str]:
    """Counts calls of the named methods of one object from now on."""
    counts: Counter[str] = Counter()
    for name in names:
        original = getattr(obj, name)

        def wrapper(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            counts[_name] += 1
            return _original(*args, **kwargs)

        setattr(obj, name, wrapper)
    return counts


def still(app: CcmApp) -> CcmApp:
    """No animations (the tab underline glides): key presses wait for them to finish."""
    app.animation_level = "none"
    return app


@asynccontextmanager
async def running(
    app: CcmApp, size: tuple[int, int] = NARROW, *, notifications: bool = False
) -> AsyncIterator[Pilot[Any]]:
    """`app.run_test`, left the way a person leaves: the app's own exit first.

    Pilot's teardown otherwise takes the screens down while the app still handles ticks
    and redraws, which then find no status line (a test artefact, not the app's).
    """
    async with app.run_test(size=size, notifications=notifications) as pilot:
        yield pilot
        if app.return_code is None:
            app.exit()
            await pilot.pause()


# -- monitors under test ---------------------------------------------------------------------


@pytest.fixture
def themes(tmp_path: Path):
    return builtin_themes(tmp_path)


@dataclass
class Fed:
    """A monitor over a state the test feeds with events, and the clock it reads."""

    app: CcmApp
    state: MonitorState
    bus: EventBus
    clock: Clock
    control: RecordingControl

    def publish(self, *events: Any) -> None:
        for event in events:
            self.bus.publish(event)

    def request(
        self, request_id: str, provider: str = "primary", model: str = "sonnet", **done: Any
    ) -> None:
        """A whole request, answered by `provider` (unless `done` says otherwise)."""
        now = self.clock.now
        self.publish(
            started(request_id, now, model),
            attempt(request_id, 1, provider, f"{provider}-model", now),
            response(request_id, 1, provider, 150.0),
            finished(request_id, provider, f"{provider}-model", at=now, **done),
        )


async def one_by_one(pilot: Pilot[Any], f: Fed, *request_ids: str, **done: Any) -> None:
    """Whole requests, each published once the screen has taken in the one before.

    Requests arriving within one redraw have their own test
    (test_requests_arriving_together_are_listed_in_arrival_order).
    """
    table = f.app.requests
    for request_id in request_ids:
        f.request(request_id, **done)
        await until(pilot, lambda r=request_id: r in row_keys(table) or r in table.held, request_id)


@pytest.fixture
def fed(themes) -> Callable[..., Fed]:
    def make(*, tick_s: float = 3600, history: int = 1000, **app_kwargs: Any) -> Fed:
        clock = Clock()
        state = MonitorState(history=history, clock=clock)
        bus = EventBus()
        bus.add_listener(state.apply)  # what a Proxy does: fold first, then watchers read
        control = RecordingControl()
        app_kwargs.setdefault("theme", "ccm-dark")
        app = CcmApp(
            state, bus, control, themes=themes, source="test", clock=clock, tick_s=tick_s,
            **app_kwargs,
        )  # fmt: skip
        return Fed(still(app), state, bus, clock, control)

    return make


def beside(proxy: Proxy, themes: Any) -> CcmApp:
    """The monitor as `ccm-tui` runs it beside its proxy (no ticks needed here)."""
    return still(
        CcmApp(
            proxy.state, proxy.bus, LocalControl(proxy.actions), themes=themes, theme="ccm-dark",
            source=f"serving {proxy.url}", tick_s=3600,
        )
    )  # fmt: skip


@pytest.fixture
async def client(proxy: Proxy) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with client_of(proxy.url) as sdk:
        yield sdk


def client_of(url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key=CLIENT_KEY, max_retries=0)


async def ask(client: anthropic.AsyncAnthropic) -> Any:
    return await client.messages.create(model="sonnet", max_tokens=16, messages=HELLO)


def finished_ids(state: MonitorState) -> list[str]:
    return [r.request_id for r in state.requests.values() if r.finished]


# -- requests: rows patched in place -----------------------------------------------------------


async def test_a_row_is_patched_in_place_as_its_request_progresses(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        table, palette = f.app.requests, f.app.palette
        calls = count_calls(table, "add_row", "clear_rows", "remove_rows")
        f.publish(started("r1", f.clock.now), attempt("r1", 1, "primary", "p-model", f.clock.now))
        await until(pilot, lambda: "r1" in row_keys(table), "the new row")
        first = cells(table, "r1")
        assert (first["status"], first["ttfb"], first["duration"], first["output"]) == (
            "…", "-", "-", "0",
        )  # fmt: skip
        assert cell(table, "r1", "status").style == palette.style("ccm-status-pending")

        f.publish(response("r1", 1, "primary", 150.0))
        await until(pilot, lambda: cells(table, "r1")["status"] == "200", "the status")
        assert cells(table, "r1")["ttfb"] == "150ms"
        assert cell(table, "r1", "status").style == palette.style("ccm-status-streaming")

        for tokens in (12, 40):
            f.publish(progressed("r1", tokens, "Hello"))
            await until(pilot, lambda t=tokens: cells(table, "r1")["output"] == str(t), "output")

        f.publish(
            finished(
                "r1", "primary", "p-model", at=f.clock.now, output_tokens=64, duration_ms=900.0
            )
        )
        await until(pilot, lambda: cells(table, "r1")["duration"] == "900ms", "the duration")
        assert cells(table, "r1")["output"] == "64"
        assert cell(table, "r1", "status").style == palette.style("ccm-status-ok")
        assert row_keys(table) == ["r1"]
        assert calls == {"add_row": 1}  # one row, patched: never cleared, never re-added


async def test_the_stop_reason_fills_its_column_when_the_table_is_wide_enough(fed):
    f = fed()
    async with running(f.app, (110, 30)) as pilot:
        f.request("r1", stop_reason="tool_use")
        await until(pilot, lambda: "r1" in row_keys(f.app.requests), "the row")
        await until(pilot, lambda: cells(f.app.requests, "r1")["stop"] == "tool_use", "stop")
        assert "tool_use" in screen_text(f.app)


async def test_output_tokens_grow_live_while_a_real_stream_runs(sim, proxy, client, themes):
    sim.scenario("primary", event_interval_ms=50, output_chunks=30)
    app = beside(proxy, themes)
    async with running(app, NARROW) as pilot:
        table = app.requests
        calls = count_calls(table, "add_row", "clear_rows")

        async def stream() -> None:
            async with client.messages.stream(
                model="sonnet", max_tokens=64, messages=HELLO
            ) as answer:
                await answer.get_final_message()

        task = asyncio.create_task(stream())
        seen: list[int] = []
        request_id = ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while not task.done() and loop.time() < deadline:
            await pilot.pause(0.02)
            live = [r for r in proxy.state.requests.values() if r.outcome is None]
            if live and live[0].request_id in row_keys(table):
                request_id = live[0].request_id
                out = cells(table, request_id)["output"]
                if out.isdigit() and int(out) and (not seen or int(out) != seen[-1]):
                    seen.append(int(out))
        await task
        await until(pilot, lambda: cells(table, request_id)["status"] == "200", "the end")
        await until(pilot, lambda: cells(table, request_id)["duration"] != "-", "the duration")
        assert len(seen) >= 2, f"output tokens never moved while streaming: {seen}"
        assert seen == sorted(seen)
        assert row_keys(table) == [request_id]
        assert calls == {"add_row": 1}


async def test_the_table_is_not_rebuilt_by_the_clock_ticking(fed):
    f = fed(tick_s=0.02)
    async with running(f.app, NARROW) as pilot:
        await one_by_one(pilot, f, "r1", "r2")
        calls = count_calls(f.app.requests, "add_row", "clear_rows", "remove_rows", "update_cell")
        ticks = count_calls(f.app.tokens, "update_tokens")  # called once per tick
        await until(pilot, lambda: ticks["update_tokens"] >= 5, "five ticks")
        assert not calls
        assert row_keys(f.app.requests) == ["r1", "r2"]


async def test_history_cap_evicts_the_oldest_rows(sim, make_proxy, themes):
    proxy = await make_proxy(two_provider_config(sim, extra="[tui]\nhistory = 3\n"))
    app = beside(proxy, themes)
    async with client_of(proxy.url) as client, running(app, NARROW) as pilot:
        for _ in range(5):
            await ask(client)
        every = [e.request_id for e in proxy.log.of(RequestStarted)]
        newest = set(every[-3:])  # their order is test_requests_arriving_together_…'s concern
        await until(pilot, lambda: set(row_keys(app.requests)) == newest, "the newest three")
        assert list(proxy.state.requests) == every[-3:]


async def test_requests_arriving_together_are_listed_in_arrival_order(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        ids = [f"req-{n:02d}" for n in range(12)]
        for request_id in ids:  # all within one redraw
            f.request(request_id)
        await until(pilot, lambda: f.app.requests.row_count == len(ids), "every row")
        assert row_keys(f.app.requests) == ids
        assert f.app.requests.cursor_key == ids[-1]  # follow: the newest, not any


async def test_the_status_line_counts_every_request_not_only_the_kept_history(fed):
    f = fed(history=3)
    async with running(f.app, NARROW) as pilot:
        await one_by_one(pilot, f, *(f"r{n}" for n in range(5)))
        await until(pilot, lambda: "5 req" in static_text(f.app, "#status-line"), "5 req")
        assert f.app.requests.row_count == 3


# -- requests: follow, pause, filter, clear ---------------------------------------------------


async def test_follow_mode_moves_the_cursor_to_each_new_row(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        table = f.app.requests
        await one_by_one(pilot, f, "r1", "r2", "r3")
        assert table.cursor_row == 2
        f.request("r4")
        await until(pilot, lambda: table.cursor_row == 3, "the cursor on the newest row")
        assert table.cursor_key == "r4"
        assert static_text(f.app, "#requests-caption").startswith("following")


async def test_arrow_keys_hold_the_selection_and_f_follows_again(fed):
    """As in `less +F`: moving off the newest row stops following, `f` resumes."""
    f = fed()
    async with running(f.app, NARROW) as pilot:
        table = f.app.requests
        await one_by_one(pilot, f, "r1", "r2", "r3")
        await pilot.press("up")
        assert static_text(f.app, "#requests-caption").startswith("not following (f follows)")
        await one_by_one(pilot, f, "r4")
        assert table.cursor_key == "r2"
        await pilot.press("down", "down")  # onto the newest row: still held there
        await one_by_one(pilot, f, "r5")
        assert table.cursor_key == "r4"
        await pilot.press("f")
        assert table.cursor_key == "r5"
        assert static_text(f.app, "#requests-caption").startswith("following")
        await one_by_one(pilot, f, "r6")
        await until(pilot, lambda: table.cursor_key == "r6", "the newest row again")


async def test_f_turns_follow_off_and_the_cursor_stays_put(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        table = f.app.requests
        await one_by_one(pilot, f, "r1", "r2")
        await pilot.press("f")
        assert static_text(f.app, "#requests-caption").startswith("not following")
        f.request("r3")
        await until(pilot, lambda: table.row_count == 3, "the third row")
        assert table.cursor_key == "r2"
        await pilot.press("f")  # and back on: straight to the newest
        assert table.cursor_key == "r3"
        assert static_text(f.app, "#requests-caption").startswith("following")


async def test_space_pauses_and_holds_new_rows_counting_them_in_the_caption(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        table = f.app.requests
        f.request("r1")
        await until(pilot, lambda: table.row_count == 1, "the first row")
        await pilot.press("space")
        assert "PAUSED +0" in static_text(f.app, "#requests-caption")
        await one_by_one(pilot, f, "r2", "r3")
        await until(pilot, lambda: len(table.held) == 2, "two held requests")
        await pilot.pause()
        assert "PAUSED +2" in static_text(f.app, "#requests-caption")
        assert "PAUSED +2" in screen_text(f.app)
        assert row_keys(table) == ["r1"]


async def test_redrawing_every_row_while_paused_keeps_the_rows_and_the_held_ones(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        table = f.app.requests
        await one_by_one(pilot, f, "r1")
        await pilot.press("space")
        await one_by_one(pilot, f, "r2")
        assert list(table.held) == ["r2"]
        await pilot.press("t")  # a new theme draws every row again
        await until(pilot, lambda: f.app.theme == "ccm-light", "the light theme")
        assert row_keys(table) == ["r1"]
        assert list(table.held) == ["r2"]
        await pilot.press("space")
        await until(pilot, lambda: row_keys(table) == ["r1", "r2"], "both rows")


async def test_requests_held_by_a_pause_leave_with_the_history(fed):
    f = fed(history=3)
    async with running(f.app, NARROW) as pilot:
        table = f.app.requests
        await pilot.press("space")
        await one_by_one(pilot, f, *(f"r{i}" for i in range(8)))
        await until(pilot, lambda: list(table.held) == ["r5", "r6", "r7"], "the last three")
        await pilot.pause()
        assert "PAUSED +3" in static_text(f.app, "#requests-caption")


async def test_the_header_counts_every_request_not_only_the_kept_history(fed):
    f = fed(history=3)
    async with running(f.app, NARROW) as pilot:
        await one_by_one(pilot, f, *(f"r{i}" for i in range(8)))
        await until(pilot, lambda: " 8 req " in static_text(f.app, "#status-line"), "8 req")
        assert len(f.state.requests) == 3


async def test_space_again_resumes_and_shows_the_held_rows(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        table = f.app.requests
        f.request("r1")
        await until(pilot, lambda: table.row_count == 1, "the first row")
        await pilot.press("space")
        f.request("r2")
        await until(pilot, lambda: list(table.held) == ["r2"], "the held request")
        await pilot.press("space")
        assert row_keys(table) == ["r1", "r2"]
        assert "PAUSED" not in static_text(f.app, "#requests-caption")
        f.request("r3")
        await until(pilot, lambda: table.row_count == 3, "rows flowing again")


async def mixed_traffic(pilot: Pilot[Any], f: Fed) -> None:
    """r1 ok at primary; r2 primary ✗529 → secondary; r3 a 400 (haiku); r4 a 503 (opus)."""
    now = f.clock.now
    await one_by_one(pilot, f, "r1")
    f.publish(
        started("r2", now),
        attempt("r2", 1, "primary", "primary-model", now),
        attempt_failed("r2", 1, "primary", Failure.OVERLOADED, 529, "Overloaded", at=now),
        attempt("r2", 2, "secondary", "secondary-model", now),
        response("r2", 2, "secondary", 90.0),
        finished("r2", "secondary", "secondary-model", at=now),
    )
    await until(pilot, lambda: "r2" in row_keys(f.app.requests), "r2")
    f.publish(
        started("r3", now, "haiku"),
        attempt("r3", 1, "secondary", "secondary-model", now),
        finished(
            "r3",
            "secondary",
            "secondary-model",
            at=now,
            status=400,
            outcome=Failure.CLIENT_ERROR,
            error="max_tokens too large",
        ),
    )
    await until(pilot, lambda: "r3" in row_keys(f.app.requests), "r3")
    f.publish(
        started("r4", now, "opus"),
        attempt("r4", 1, "secondary", "secondary-model", now),
        finished(
            "r4",
            "secondary",
            "secondary-model",
            at=now,
            status=503,
            outcome=Failure.SERVER_ERROR,
            error="upstream unavailable",
        ),
    )
    await until(pilot, lambda: "r4" in row_keys(f.app.requests), "r4")


async def apply_filter(pilot: Pilot[Any], query: str, *, typed: bool = False) -> None:
    """`/`, the query (typed key by key, or pasted over what the dialog offers), enter."""
    await pilot.press("slash")
    assert isinstance(pilot.app.screen, FilterScreen)
    if typed:
        await pilot.press("home", "ctrl+k", *query)
    else:
        pilot.app.screen.query_one(Input).value = query
    await pilot.press("enter")
    await pilot.pause()


async def filtered(pilot: Pilot[Any], f: Fed, query: str) -> list[str]:
    """The rows left by a filter; the caption must say which filter and how many."""
    await apply_filter(pilot, query)
    assert not isinstance(f.app.screen, FilterScreen)
    shown = row_keys(f.app.requests)
    caption = static_text(f.app, "#requests-caption")
    assert f"filter: {RequestFilter.parse(query).describe()} ({len(shown)} shown)" in caption
    return shown


async def test_slash_filters_requests_by_provider(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await mixed_traffic(pilot, f)
        await apply_filter(pilot, "provider:secondary", typed=True)
        assert row_keys(f.app.requests) == ["r2", "r3", "r4"]  # r2 failed over to it
        assert await filtered(pilot, f, "provider:primary") == ["r1", "r2"]


async def test_slash_filters_requests_by_status_class(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await mixed_traffic(pilot, f)
        assert await filtered(pilot, f, "status:4xx") == ["r3"]
        assert await filtered(pilot, f, "status:5xx") == ["r4"]
        assert await filtered(pilot, f, "status:error") == ["r3", "r4"]
        assert await filtered(pilot, f, "status:failover") == ["r2"]
        assert await filtered(pilot, f, "status:ok") == ["r1", "r2"]


async def test_slash_filters_requests_by_model(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await mixed_traffic(pilot, f)
        assert await filtered(pilot, f, "model:haiku") == ["r3"]
        assert await filtered(pilot, f, "model:opus status:5xx") == ["r4"]
        assert await filtered(pilot, f, "model:secondary-model") == ["r2", "r3", "r4"]


async def test_a_filter_also_applies_to_requests_that_arrive_later(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await apply_filter(pilot, "provider:secondary")
        f.request("r1", provider="primary")
        f.request("r2", provider="secondary")
        await until(pilot, lambda: "r2" in f.state.requests, "the requests")
        await until(pilot, lambda: row_keys(f.app.requests) == ["r2"], "the matching row")


async def test_a_bad_filter_shows_the_error_and_keeps_the_dialog(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await mixed_traffic(pilot, f)
        await apply_filter(pilot, "colour:red", typed=True)
        assert isinstance(f.app.screen, FilterScreen)
        help_line = f.app.screen.query_one("#filter-help", Static)
        assert help_line.has_class("-error")
        assert "unknown filter 'colour:red'" in screen_text(f.app)
        assert f.app.screen.query_one(Input).value == "colour:red"  # kept, to be corrected
        await pilot.press("escape")
        assert not isinstance(f.app.screen, FilterScreen)
        assert f.app.requests.row_count == 4


async def test_an_empty_filter_shows_every_request_again(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await mixed_traffic(pilot, f)
        await apply_filter(pilot, "status:5xx")
        assert row_keys(f.app.requests) == ["r4"]
        await apply_filter(pilot, "")
        assert row_keys(f.app.requests) == ["r1", "r2", "r3", "r4"]
        assert "filter:" not in static_text(f.app, "#requests-caption")


async def test_c_clears_the_table_and_later_requests_still_appear(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await one_by_one(pilot, f, "r1", "r2")
        await pilot.press("c")
        assert f.app.requests.row_count == 0
        assert len(f.state.requests) == 2  # only the screen forgot them
        f.clock.advance(1)
        f.request("r3")
        await until(pilot, lambda: row_keys(f.app.requests) == ["r3"], "the new row alone")


# -- detail ------------------------------------------------------------------------------------


async def test_enter_opens_the_detail_of_the_selected_request(sim, proxy, client, themes):
    sim.scenario("primary", status=529, times=1)
    app = beside(proxy, themes)
    async with running(app, NARROW) as pilot:
        await ask(client)
        await until(pilot, lambda: finished_ids(proxy.state), "the request")
        request_id = finished_ids(proxy.state)[0]
        await until(pilot, lambda: request_id in row_keys(app.requests), "its row")
        await pilot.press("enter")
        assert app.active_pane == "detail"
        assert pane_shown(app, "detail") and not pane_shown(app, "requests")
        assert app.query_one("#pane-tabs", Tabs).active == "tab-detail"
        text = detail_text(app)
        lines = text.splitlines()
        first = next(line for line in lines if line.startswith("#1 "))
        second = next(line for line in lines if line.startswith("#2 "))
        assert first.split()[1:2] == ["primary"] and "overloaded 529 Overloaded" in first
        assert second.split()[1:2] == ["secondary"] and "ok" in second and "200" in second
        assert "POST /v1/messages" in text and "sonnet" in text
        assert "1 messages · 0 tools · json" in text
        assert sim.text("secondary") in text
        key_lines = [line for line in lines if mask(CLIENT_KEY) in line]
        assert key_lines and key_lines[0].split()[0].lower() in ("x-api-key", "authorization")


async def test_no_raw_key_reaches_the_screen(sim, proxy, client, themes):
    app = beside(proxy, themes)
    async with running(app, NARROW) as pilot:
        await ask(client)
        await until(pilot, lambda: finished_ids(proxy.state), "the request")
        await until(pilot, lambda: app.requests.row_count == 1, "its row")
        for key in ("enter", "2", "3", "4"):
            await pilot.press(key)
            shown = screen_text(app) + detail_text(app)
            assert CLIENT_KEY not in shown
            assert "sk-ant-api03-primary-key-000000000000" not in shown
        assert mask(CLIENT_KEY) in detail_text(app)


async def test_the_detail_pane_streams_the_response_text_in(sim, proxy, client, themes):
    words = [f"word{n:02d}" for n in range(20)]
    sim.scenario("primary", event_interval_ms=40, output_chunks=20, text=" ".join(words))
    app = beside(proxy, themes)
    async with running(app, NARROW) as pilot:

        async def stream() -> None:
            async with client.messages.stream(
                model="sonnet", max_tokens=64, messages=HELLO
            ) as answer:
                await answer.get_final_message()

        task = asyncio.create_task(stream())
        await until(pilot, lambda: app.requests.row_count == 1, "the row")
        await pilot.press("enter")
        await until(pilot, lambda: words[0] in detail_text(app), "the first words")
        partial = detail_text(app)
        assert words[-1] not in partial, "the answer should be seen growing, not only whole"
        assert "in flight" in partial
        await task
        await until(pilot, lambda: "ok 200 · stop end_turn" in detail_text(app), "the end")
        assert " ".join(words) in detail_text(app)


async def test_the_detail_pane_shows_tool_calls_by_name_and_their_input(fed):
    from ccm_tui.events import BlockView, StreamProgressed

    f = fed()
    async with running(f.app, NARROW) as pilot:
        now = f.clock.now
        f.publish(
            started("r1", now), attempt("r1", 1, "primary", "p-model", now),
            response("r1", 1, "primary", 80.0),
            StreamProgressed("r1", 10, 5, (BlockView("tool_use", "Bash", '{"command": "ls'),)),
        )  # fmt: skip
        await until(pilot, lambda: f.app.requests.row_count == 1, "the row")
        await pilot.press("4")
        await until(pilot, lambda: "[tool_use Bash]" in detail_text(f.app), "the tool call")
        assert '{"command": "ls' in detail_text(f.app)


def pane_text(app: CcmApp, pane: str) -> str:
    """The words inside one pane's box on screen, lines joined, spaces collapsed."""
    region = app.query_one(f"#pane-{pane}").region
    lines = screen_text(app).splitlines()[region.y : region.bottom]
    inside = " ".join(line[region.x : region.right] for line in lines)
    return " ".join(inside.replace("│", " ").split())


async def test_the_detail_pane_grows_and_shrinks_with_the_streamed_text(fed):
    """A part of the detail pane is laid out again only when its height changes; the
    screen must show every line whichever way the text goes (at a height where all of
    them fit without a scrollbar between them)."""
    f = fed()
    async with running(f.app, (120, 48)) as pilot:
        now = f.clock.now
        f.publish(
            started("r1", now), attempt("r1", 1, "primary", "p-model", now),
            response("r1", 1, "primary", 80.0), progressed("r1", 5, "first words"),
        )  # fmt: skip
        await until(pilot, lambda: "first words" in pane_text(f.app, "detail"), "the text")
        lines = "\n".join(f"line {i}" for i in range(12))
        f.publish(progressed("r1", 50, lines))
        await until(pilot, lambda: "line 11 Request headers" in pane_text(f.app, "detail"), "all")
        f.publish(progressed("r1", 60, lines.replace("line 3", "LINE 3")))  # the same height
        await until(pilot, lambda: "line 2 LINE 3 line 4" in pane_text(f.app, "detail"), "LINE 3")
        f.publish(progressed("r1", 70, "short"))
        await until(
            pilot, lambda: "short Request headers" in pane_text(f.app, "detail"), "the shrink"
        )
        assert "line 11" not in pane_text(f.app, "detail")


async def test_at_120x40_the_detail_pane_shows_each_attempt_in_full(fed):
    f = fed()
    async with running(f.app, WIDE) as pilot:
        await mixed_traffic(pilot, f)
        await pilot.press("up", "up")  # r2: primary ✗529 → secondary
        await until(pilot, lambda: f.app.detail.request_id == "r2", "r2 in the detail pane")
        await pilot.pause()
        shown = pane_text(f.app, "detail")
        assert "#1 primary primary-model overloaded 529 Overloaded" in shown, shown
        assert "#2 secondary secondary-model ok 200" in shown, shown


# -- panes and layout -------------------------------------------------------------------------


async def test_number_keys_switch_panes_at_80x24_and_the_tabs_follow(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        assert f.app.screen.has_class("-narrow")
        assert app_shows_only(f.app, "requests")
        for key, pane in (("2", "providers"), ("3", "tokens"), ("4", "detail"), ("1", "requests")):
            await pilot.press(key)
            assert app_shows_only(f.app, pane), pane
            assert f.app.query_one("#pane-tabs", Tabs).active == f"tab-{pane}"


def app_shows_only(app: CcmApp, pane: str) -> bool:
    return [p for p in PANES if pane_shown(app, p)] == [pane]


async def test_escape_goes_back_to_the_requests_pane(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await pilot.press("3")
        await pilot.press("escape")
        assert app_shows_only(f.app, "requests")
        assert f.app.focused is f.app.requests


async def test_clicking_a_tab_switches_the_pane(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await pilot.click("#tab-tokens")
        await pilot.pause()
        assert app_shows_only(f.app, "tokens")
        assert f.app.active_pane == "tokens"


async def test_at_120x40_every_pane_is_on_screen_at_once(fed):
    f = fed()
    async with running(f.app, WIDE) as pilot:
        await pilot.pause()
        assert f.app.screen.has_class("-wide")
        assert all(pane_shown(f.app, p) for p in PANES)
        assert not f.app.query_one("#pane-tabs").display
        text = screen_text(f.app)
        for title in ("Requests", "Providers", "Tokens", "Detail"):
            assert f"─ {title} ─" in text


async def test_resizing_switches_live_between_tabs_and_every_pane_at_once(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await pilot.press("2")
        await pilot.resize_terminal(*WIDE)
        await until(pilot, lambda: f.app.screen.has_class("-wide"), "the wide layout")
        await pilot.pause()
        assert all(pane_shown(f.app, p) for p in PANES)
        await pilot.resize_terminal(*NARROW)
        await until(pilot, lambda: f.app.screen.has_class("-narrow"), "the narrow layout")
        await pilot.pause()
        assert app_shows_only(f.app, "providers")  # the pane chosen before is kept
        assert f.app.query_one("#pane-tabs").display


async def test_at_120x40_the_focused_panes_border_is_the_accent_and_follows_focus(fed):
    f = fed()
    async with running(f.app, WIDE) as pilot:
        await pilot.pause()
        accent = Color.parse(f.app.palette.variables["ccm-accent"])

        def lit() -> list[str]:
            return [
                name
                for name, pane in f.app.panes.items()
                if pane.styles.border_top == ("round", accent)
            ]

        assert lit() == ["requests"]
        for key, pane in (("2", "providers"), ("4", "detail"), ("3", "tokens"), ("1", "requests")):
            await pilot.press(key)
            assert lit() == [pane], key
        await pilot.press("t")  # a new theme, a new accent
        await pilot.pause()
        accent = Color.parse(f.app.palette.variables["ccm-accent"])
        assert lit() == ["requests"]
        await pilot.resize_terminal(*NARROW)
        await until(pilot, lambda: f.app.screen.has_class("-narrow"), "the narrow layout")
        await pilot.press("2")
        assert lit() == []  # no borders when one pane fills the screen


async def test_a_pane_key_restyles_no_widget_inside_the_panes(fed):
    """A focus rule or class on a pane restyles its whole subtree: under a busy proxy that
    made a key press cost more than the redraw it caused."""
    f = fed()
    async with running(f.app, WIDE) as pilot:
        for i in range(30):
            f.request(f"r{i}")
        await until(pilot, lambda: f.app.requests.row_count == 30, "the rows")
        restyled: Counter[str] = Counter()
        update_nodes = f.app.stylesheet.update_nodes

        def counting(nodes: Any, animate: bool = False) -> None:
            nodes = list(nodes)
            restyled.update(f"{type(node).__name__}#{node.id}" for node in nodes)
            update_nodes(nodes, animate)

        f.app.stylesheet.update_nodes = counting  # type: ignore[method-assign]
        for key in "2413":
            await pilot.press(key)
        await pilot.pause()
        # The focused and blurred widgets restyle themselves (a table's cursor colour); the
        # panes, their captions and the footer do not.
        assert "RequestsTable#requests-table" in restyled  # the count sees restyles
        spread = [n for n in restyled if n.startswith(("Vertical#pane-", "TextLine", "KeyBar"))]
        assert spread == []


# -- the screen uses the width it has ----------------------------------------------------------

MODEL = "claude-sonnet-4-5→glm-4.6"
CHAIN = "claude-max ✗400 → flaky ✗529 → zai"


def refused_twice_then_answered(f: Fed, request_id: str) -> None:
    """A request refused by the OAuth provider, failed over twice: MODEL, CHAIN."""
    now = f.clock.now
    f.publish(
        started(request_id, now, "claude-sonnet-4-5"),
        attempt(request_id, 1, "claude-max", "claude-sonnet-4-5", now, AuthMode.OAUTH),
        attempt_failed(
            request_id, 1, "claude-max", Failure.OAUTH_SCOPE, 400, "Claude Code only", at=now
        ),
        attempt(request_id, 2, "flaky", "glm-4.6", now),
        attempt_failed(request_id, 2, "flaky", Failure.OVERLOADED, 529, "Overloaded", at=now),
        attempt(request_id, 3, "zai", "glm-4.6", now),
        response(request_id, 3, "zai", 90.0),
        finished(request_id, "zai", "glm-4.6", at=now),
    )


def row_on_screen(app: CcmApp, at: float) -> str:
    """The requests row of the request started at `at` (its time is the first cell)."""
    time_cell = fmt.clock_time(at)
    return next(line for line in screen_text(app).splitlines()
                if line.lstrip("│ ").startswith(time_cell))  # fmt: skip


async def test_a_model_pinned_to_a_version_reads_as_that_version_alone(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        now = f.clock.now
        f.publish(
            started("r1", now, "claude-sonnet-4-5"),
            attempt("r1", 1, "claude-max", "claude-sonnet-4-5-20250929", now, AuthMode.OAUTH),
        )
        await until(pilot, lambda: f.app.requests.row_count == 1, "the row")
        await until(
            pilot, lambda: cells(f.app.requests, "r1")["model"] == "claude-sonnet-4-5-20250929",
            "the pinned version",
        )  # fmt: skip


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 50), (200, 60)])
async def test_model_and_provider_take_the_width_there_is_and_the_target_always_shows(fed, size):
    f = fed()
    async with running(f.app, size) as pilot:
        table = f.app.requests
        refused_twice_then_answered(f, "r1")
        await until(pilot, lambda: table.row_count == 1, "the row")
        await pilot.pause()
        assert table.virtual_size.width <= table.size.width  # no sideways scrolling
        line = row_on_screen(f.app, f.clock.now)
        assert "✗529 → zai" in line  # where the request went, whatever the width
        widths = {c.key: c.width for c in table.columns}
        if size[0] >= 100:
            assert MODEL in line
        if size[0] >= 200:
            assert CHAIN in line
        if widths["model"] < len(MODEL):  # cut: then neither column has room to spare
            assert widths["provider"] < len(CHAIN)


async def test_columns_follow_their_content_as_rows_come_and_go(fed):
    f = fed(history=1)
    async with running(f.app, (200, 60)) as pilot:
        table = f.app.requests
        f.request("r1")  # sonnet→primary-model, primary
        await until(pilot, lambda: table.row_count == 1, "the row")
        narrow = table.column("model").width
        assert narrow == len("sonnet→primary-model")
        assert {c.key for c in table.columns} >= {"input", "stop"}  # room for the extras
        refused_twice_then_answered(f, "r2")  # the history keeps one: r1 leaves
        await until(pilot, lambda: table.column("model").width == len(MODEL), "a wider Model")
        f.request("r3")
        await until(pilot, lambda: table.column("model").width == narrow, "narrow again")


async def test_at_80x24_the_providers_fit_without_scrolling_sideways(fed):
    f = fed()
    f.publish(
        provider_state("claude-max", auth=AuthMode.OAUTH), provider_state("flaky"),
        provider_state("zai"),
    )  # fmt: skip
    async with running(f.app, NARROW) as pilot:
        for n in range(3):
            refused_twice_then_answered(f, f"r{n}")
        await pilot.press("2")
        table = f.app.providers
        await until(pilot, lambda: cells(table, "flaky")["classes"] == "529×3", "the counts")
        await pilot.pause()
        assert table.virtual_size.width <= table.size.width
        assert not table.show_horizontal_scrollbar
        assert "Last error" in screen_text(f.app)  # there was room left for a glimpse


async def test_a_caption_too_long_for_its_line_ends_with_an_ellipsis(fed):
    f = fed()
    f.publish(provider_state("primary"))
    async with running(f.app, NARROW) as pilot:
        now = f.clock.now
        f.publish(
            started("r1", now), attempt("r1", 1, "primary", "p", now),
            attempt_failed("r1", 1, "primary", Failure.SERVER_ERROR, 500, "word " * 30, at=now),
        )  # fmt: skip
        await pilot.press("2")
        await until(pilot, lambda: "word" in static_text(f.app, "#providers-caption"), "error")
        await pilot.pause()
        caption = next(line for line in screen_text(f.app).splitlines() if "server_error" in line)
        assert caption.rstrip().endswith("…")


async def test_the_status_line_keeps_its_counts_whole_and_cuts_the_address(fed):
    f = fed()
    f.app.source = "attached to http://a-rather-long-host-name.example.internal:13456"
    async with running(f.app, NARROW) as pilot:
        f.request("r1")
        await until(pilot, lambda: f.app.requests.row_count == 1, "the row")
        await pilot.pause()
        first = screen_text(f.app).splitlines()[0].rstrip()
        assert first.endswith("0 live · 1 req · 0.1/s")
        assert "ccm-tui attached to http://a-rather-long-host-name.ex…  0 live" in first


async def test_at_80x24_the_help_says_there_is_more_until_scrolled_to_the_end(fed):
    f = fed()
    f.app.animation_level = "full"  # the help glides to its end
    async with running(f.app, NARROW) as pilot:
        await pilot.press("question_mark")
        box = f.app.screen.query_one("#help-box")
        await until(pilot, lambda: box.border_subtitle == "↓ more", "the hint")
        assert "providers.reset" not in screen_text(f.app)
        await pilot.press("end")
        await until(pilot, lambda: box.border_subtitle == "", "no more hint at the end")
        assert "providers.reset" in screen_text(f.app)


async def test_a_long_header_value_wraps_under_the_values_not_the_names(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        value = "-".join(f"part{n}" for n in range(30))
        now = f.clock.now
        f.publish(started("r1", now, headers=(("x-api-key", "sk-…Q9xZ"), ("x-long", value))))
        await until(pilot, lambda: f.app.requests.row_count == 1, "the row")
        await pilot.press("4")
        await pilot.pause()
        lines = screen_text(f.app).splitlines()
        first = next(i for i, line in enumerate(lines) if line.startswith(" x-long"))
        column = lines[first].index("part0")
        assert lines[first + 1][:column].strip() == ""  # the value goes on under itself
        assert lines[first + 1][column:].startswith("part")


async def test_a_notification_breaks_a_long_path_after_a_slash_never_inside_a_name(fed):
    f = fed()
    async with running(f.app, NARROW, notifications=True) as pilot:
        path = "/home/someone/.local/state/ccm-tui/demo-of-a-long-name/config.toml"
        message = f"claude-max: now sending a derived API key (saved in {path})"
        f.publish(Notice(Level.INFO, message, f.clock.now))
        await until(pilot, lambda: f.app.query(Toast), "the notification")
        assert toasts(f.app) == [message]
        lines = f.app.screen.query_one(Toast).render().plain.splitlines()
        assert len(lines) > 1
        for name in path.strip("/").split("/"):
            assert any(name in line for line in lines), name


async def test_at_120x40_with_no_tokens_the_panes_reach_the_footer(fed):
    f = fed()
    f.publish(provider_state("primary"), provider_state("secondary"))
    async with running(f.app, WIDE) as pilot:
        await until(pilot, lambda: f.app.providers.row_count == 2, "the providers")
        await pilot.pause()
        assert f.app.query_one("#pane-usage").region.bottom == f.app.keybar.region.y


# -- the footer --------------------------------------------------------------------------------


def keybar_text(app: CcmApp) -> str:
    return app.query_one(KeyBar).render().plain


async def test_the_footer_shows_the_focused_panes_keys_and_the_global_ones(fed):
    f = fed()
    async with running(f.app, WIDE) as pilot:
        await pilot.pause()
        text = keybar_text(f.app)
        for shown in ("⏎ Detail", "/ Filter", "␣ Pause", "f Follow", "c Clear", "q Quit"):
            assert shown in text
        assert "1 2 3 4 5 Panes" in text and "? Help" in text and "^r Reload" in text
        assert "On/off" not in text
        f.publish(provider_state("claude-max", auth=AuthMode.OAUTH))
        await pilot.press("2")
        await until(pilot, lambda: f.app.providers.selected == "claude-max", "claude-max")
        text = keybar_text(f.app)
        for shown in ("k Derived key", "e On/off", "r Reset", "q Quit"):
            assert shown in text
        assert "Filter" not in text


@pytest.mark.parametrize(
    "auth, offered, not_offered",
    [
        (AuthMode.OAUTH, "k Derived key", "o OAuth"),
        (AuthMode.DERIVED_KEY, "o OAuth", "k Derived key"),
        (AuthMode.APIKEY, None, ("k Derived key", "o OAuth")),
    ],
    ids=["oauth", "derived", "apikey"],
)
async def test_k_and_o_are_offered_only_where_they_switch_something(
    fed, auth, offered, not_offered
):
    f = fed()
    async with running(f.app, WIDE) as pilot:
        f.publish(provider_state("p", auth=auth))
        await pilot.press("2")
        await until(pilot, lambda: f.app.providers.selected == "p", "the provider selected")
        await until(pilot, lambda: "e On/off" in keybar_text(f.app), "the provider keys")
        text = keybar_text(f.app)
        if offered:
            assert offered in text
        for key in (not_offered,) if isinstance(not_offered, str) else not_offered:
            assert key not in text


async def test_the_offered_keys_follow_the_selection_and_the_providers_switch(fed):
    f = fed()
    async with running(f.app, WIDE) as pilot:
        f.publish(provider_state("claude-max", auth=AuthMode.OAUTH), provider_state("zai"))
        await pilot.press("2")
        await until(pilot, lambda: "k Derived key" in keybar_text(f.app), "k offered")
        await pilot.press("down")
        await until(pilot, lambda: "Derived key" not in keybar_text(f.app), "not on zai")
        await pilot.press("up")
        await until(pilot, lambda: "k Derived key" in keybar_text(f.app), "k offered again")
        f.publish(provider_state("claude-max", auth=AuthMode.DERIVED_KEY))
        await until(pilot, lambda: "o OAuth" in keybar_text(f.app), "o offered")
        assert "k Derived key" not in keybar_text(f.app)


async def test_every_shown_binding_of_each_pane_is_in_the_footer(fed):
    f = fed()
    async with running(f.app, (200, 60)) as pilot:
        for key, table in (("1", RequestsTable), ("2", ProvidersTable)):
            await pilot.press(key)
            text = keybar_text(f.app)
            for binding in [*CcmApp.BINDINGS, *table.BINDINGS]:
                assert isinstance(binding, Binding)
                if binding.id in PER_PROVIDER:
                    continue  # offered where they apply: see test_k_and_o_are_offered_only_…
                if binding.show and binding.group is None:
                    assert binding.description in text, binding.id


async def test_clicking_a_key_in_the_footer_presses_it(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await pilot.pause()
        await pilot.click(KeyBar, offset=(keybar_text(f.app).index("? Help"), 0))
        await until(pilot, lambda: isinstance(f.app.screen, HelpScreen), "the help")


async def test_at_80x24_the_tabs_carry_the_pane_keys_and_every_footer_fits(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        labels = [str(tab.label) for tab in f.app.query(Tab)]
        assert labels == ["1 Requests", "2 Providers", "3 Tokens", "4 Detail", "5 Usage"]
        for key in "12345":
            await pilot.press(key)
            text = keybar_text(f.app)
            assert "Panes" not in text and "q Quit" in text
            assert cell_len(text) <= NARROW[0], text
        await pilot.resize_terminal(*WIDE)
        await until(pilot, lambda: "1 2 3 4 5 Panes" in keybar_text(f.app), "the pane keys")


# -- providers ---------------------------------------------------------------------------------


async def test_providers_pane_counts_failures_by_class_and_the_error_rate(
    sim, proxy, client, themes
):
    app = beside(proxy, themes)
    async with running(app, NARROW) as pilot:
        sim.scenario("primary", status=529, times=1)
        await ask(client)
        sim.scenario("primary", status=429, times=1)
        await ask(client)
        await until(pilot, lambda: len(finished_ids(proxy.state)) == 2, "two requests")
        await pilot.press("2")
        table = app.providers
        await until(pilot, lambda: cells(table, "primary")["classes"] == "429×1 529×1", "counts")
        primary, secondary = cells(table, "primary"), cells(table, "secondary")
        assert (primary["requests"], primary["ok"], primary["rate"]) == ("2", "0", "100%")
        assert primary["consecutive"] == "2"
        assert (secondary["requests"], secondary["ok"], secondary["rate"]) == ("2", "2", "0%")
        assert secondary["classes"] == ""
        assert "429×1 529×1" in screen_text(app)


async def test_a_providers_error_rate_falls_as_its_failures_age_out_of_the_minute(fed):
    f = fed(tick_s=0.02)
    async with running(f.app, NARROW) as pilot:
        now = f.clock.now
        f.publish(
            started("r1", now), attempt("r1", 1, "primary", "p-model", now),
            attempt_failed("r1", 1, "primary", Failure.OVERLOADED, 529, "Overloaded", at=now),
        )  # fmt: skip
        await pilot.press("2")
        table = f.app.providers
        await until(pilot, lambda: cells(table, "primary")["rate"] == "100%", "100%")
        f.clock.advance(61)  # nothing more happens to primary
        await until(pilot, lambda: cells(table, "primary")["rate"] == "-", "no rate")


async def test_the_requests_table_fits_its_pane_after_each_resize(fed):
    f = fed()
    async with running(f.app, (200, 60)) as pilot:
        table = f.app.requests
        f.request("r1")
        await until(pilot, lambda: table.row_count == 1, "the row")
        for size in ((160, 50), (120, 40), (200, 60)):
            await pilot.resize_terminal(*size)
            await until(pilot, lambda s=size: f.app.size == s, f"{size}")
            await until(
                pilot, lambda: table.virtual_size.width <= table.size.width, f"a fit at {size}"
            )


async def test_the_providers_table_fits_its_pane_from_120_columns_up(fed):
    """The last error takes the width the other columns leave, so no sideways scrolling."""
    f = fed()
    f.publish(provider_state("primary"))
    async with running(f.app, WIDE) as pilot:
        table = f.app.providers
        await until(pilot, lambda: table.row_count == 1, "the row")
        await pilot.pause()
        assert table.virtual_size.width <= table.size.width
        assert not table.show_horizontal_scrollbar
        narrow_error = table.column("last_error").width
        await pilot.resize_terminal(200, 60)
        await until(
            pilot,
            lambda: table.column("last_error").width > narrow_error,
            "a wider column",
        )
        await pilot.pause()
        assert table.virtual_size.width <= table.size.width


async def test_an_open_breaker_counts_down_with_the_clock(fed):
    f = fed(tick_s=0.02)
    async with running(f.app, NARROW) as pilot:
        until_at = f.clock.now + 30
        f.publish(provider_state("primary", breaker=BreakerState.OPEN, until=until_at))
        await pilot.press("2")
        table = f.app.providers
        await until(pilot, lambda: "primary" in row_keys(table), "the provider row")
        await until(pilot, lambda: cells(table, "primary")["state"] == "open 30s", "open 30s")
        assert cell(table, "primary", "state").style == f.app.palette.style("ccm-breaker-open")
        f.clock.advance(5)
        await until(pilot, lambda: cells(table, "primary")["state"] == "open 25s", "open 25s")
        f.clock.advance(20)
        await until(pilot, lambda: cells(table, "primary")["state"] == "open 5s", "open 5s")
        assert "open 5s" in screen_text(f.app)
        f.publish(provider_state("primary", breaker=BreakerState.HALF_OPEN))
        await until(pilot, lambda: cells(table, "primary")["state"] == "half-open", "half-open")


async def test_a_provider_refusing_every_request_reads_refused_and_the_caption_says_k(fed):
    f = fed(tick_s=0.02)
    f.publish(provider_state("claude-max", auth=AuthMode.OAUTH))
    async with running(f.app, NARROW) as pilot:
        for n in range(3):
            refused_twice_then_answered(f, f"r{n}")
        await pilot.press("2")
        table = f.app.providers
        await until(pilot, lambda: cells(table, "claude-max")["state"] == "refused", "refused")
        assert cell(table, "claude-max", "state").style == f.app.palette.style("ccm-status-failed")
        caption = static_text(f.app, "#providers-caption")
        assert caption.startswith("claude-max · refused: k sends a derived API key")
        now = f.clock.now  # Claude Code's own request gets through: no longer all refused
        f.publish(
            started("cc", now), attempt("cc", 1, "claude-max", "m", now, AuthMode.OAUTH),
            response("cc", 1, "claude-max", 80.0), finished("cc", "claude-max", "m", at=now),
        )  # fmt: skip
        await until(pilot, lambda: cells(table, "claude-max")["state"] == "ok", "ok")
        assert "refused" not in static_text(f.app, "#providers-caption")


async def test_the_selected_providers_last_error_is_in_the_caption(sim, proxy, client, themes):
    sim.scenario("primary", status=529, times=1)
    app = beside(proxy, themes)
    async with running(app, NARROW) as pilot:
        await ask(client)
        await until(pilot, lambda: finished_ids(proxy.state), "the request")
        await pilot.press("2")
        await until(pilot, lambda: app.providers.selected == "primary", "primary selected")
        await until(
            pilot, lambda: "overloaded: Overloaded" in static_text(app, "#providers-caption"),
            "the last error",
        )  # fmt: skip
        assert static_text(app, "#providers-caption").startswith("primary · ")
        await pilot.press("down")
        assert static_text(app, "#providers-caption") == "secondary · no errors"


async def test_e_disables_the_selected_provider_and_the_proxy_skips_it(sim, proxy, client, themes):
    app = beside(proxy, themes)
    async with running(app, NARROW, notifications=True) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: app.providers.selected == "primary", "primary selected")
        await pilot.press("e")
        await until(pilot, lambda: cells(app.providers, "primary")["state"] == "disabled", "off")
        assert not proxy.upstreams.is_enabled("primary")
        assert any("primary disabled" in t for t in toasts(app))
        await ask(client)
        assert sim.requests("primary") == []
        assert len(sim.requests("secondary")) == 1


async def test_e_again_enables_the_provider(sim, proxy, client, themes):
    app = beside(proxy, themes)
    async with running(app, NARROW) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: app.providers.selected == "primary", "primary selected")
        await pilot.press("e")
        await until(pilot, lambda: not proxy.upstreams.is_enabled("primary"), "primary disabled")
        await until(pilot, lambda: cells(app.providers, "primary")["state"] == "disabled", "off")
        await pilot.press("e")
        await until(pilot, lambda: cells(app.providers, "primary")["state"] == "ok", "back on")
        assert proxy.upstreams.is_enabled("primary")
        await ask(client)
        assert len(sim.requests("primary")) == 1


async def test_r_resets_the_selected_providers_counters(sim, proxy, client, themes):
    sim.scenario("primary", status=529, times=1)
    app = beside(proxy, themes)
    async with running(app, NARROW, notifications=True) as pilot:
        await ask(client)
        await pilot.press("2")
        await until(pilot, lambda: cells(app.providers, "primary")["classes"] == "529×1", "count")
        await pilot.press("r")
        await until(pilot, lambda: cells(app.providers, "primary")["requests"] == "0", "reset")
        assert cells(app.providers, "primary")["classes"] == ""
        assert proxy.state.providers["primary"].counts == {}
        assert cells(app.providers, "secondary")["requests"] == "1"  # only the selected one
        assert any("primary: counters reset" in t for t in toasts(app))


async def test_an_actions_answer_is_shown_once_and_the_same_from_another_watcher_again(
    sim, proxy, themes
):
    app = beside(proxy, themes)
    async with running(app, NARROW, notifications=True) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: app.providers.selected == "primary", "primary selected")
        await pilot.press("e")
        await until(pilot, lambda: "primary disabled" in toasts(app), "the answer")
        # Another monitor (another origin) does the same: its notice is news here.
        await proxy.actions.run(Action.ENABLE, "primary", origin="another-monitor")
        await proxy.actions.run(Action.DISABLE, "primary", origin="another-monitor")
        await until(pilot, lambda: toasts(app).count("primary disabled") == 2, "theirs too")
        assert toasts(app).count("primary enabled") == 1
        # Ours arrived as a notice as well, before theirs, and was not shown again.
        ours = [n for n in proxy.state.notices if n.origin == app.control.origin]
        assert [n.message for n in ours] == ["primary disabled"]


@pytest.mark.parametrize(
    "key, why",
    [
        ("k", "derived API key is made from a Claude Pro/Max or Console OAuth login"),
        ("o", "there is no OAuth login to switch back to"),
    ],
)
async def test_oauth_keys_on_an_apikey_provider_explain_why_they_are_unavailable(
    sim, proxy, themes, key, why
):
    app = beside(proxy, themes)
    async with running(app, NARROW, notifications=True) as pilot:
        await pilot.press("2")
        await until(pilot, lambda: app.providers.selected == "primary", "primary selected")
        await pilot.press(key)
        await until(pilot, lambda: any("does not use OAuth" in t for t in toasts(app)), "why")
        said = next(t for t in toasts(app) if "does not use OAuth" in t)
        assert said.startswith("primary does not use OAuth")
        assert why in said
        assert cells(app.providers, "primary")["auth"] == "api key"  # nothing changed
        error_toasts = [t for t in app.screen.query(Toast) if t.has_class("-error")]
        assert len(error_toasts) == 1
        assert not any("deriving" in t for t in toasts(app))  # said at once, nothing tried


async def test_k_on_an_oauth_provider_switches_it_to_a_masked_derived_key(sim, tmp_path, themes):
    directory = tmp_path / "demo"
    config = load_config(demo.prepare(directory, sim))
    sim.scenario(demo.OAUTH_PROVIDER, claude_code_only=True)
    gateway = Gateway(config, claude_code_path=tmp_path / "no-claude-code-login.json")
    await gateway.start("127.0.0.1", 0)
    try:
        app = still(
            CcmApp(
                gateway.state, gateway.bus, LocalControl(gateway.proxy.actions), themes=themes,
                theme="ccm-dark", source="test", tick_s=3600,
            )
        )  # fmt: skip
        async with running(app, NARROW, notifications=True) as pilot:
            await pilot.press("2")
            await until(pilot, lambda: app.providers.selected == "claude-max", "claude-max")
            assert cells(app.providers, "claude-max")["auth"] == "oauth"
            await pilot.press("k")
            await until(
                pilot, lambda: cells(app.providers, "claude-max")["auth"] == "derived",
                "the derived key in use",
            )  # fmt: skip
            store = json.loads((directory / "oauth_tokens.json").read_text())
            raw = next(v["api_key"] for v in store.values() if v.get("api_key"))
            await pilot.press("3")
            await until(
                pilot, lambda: "in use" in cells(app.tokens, "claude-max")["key"], "in use"
            )  # fmt: skip
            assert cells(app.tokens, "claude-max")["key"] == f"{mask(raw)} in use"
            assert raw not in screen_text(app) + "".join(toasts(app)) + detail_text(app)
            saved = tomllib.loads((directory / "config.toml").read_text())
            assert saved["providers"][0]["use_derived_key"] is True
    finally:
        await gateway.stop()


# -- tokens ------------------------------------------------------------------------------------


async def test_a_token_countdown_ticks_with_the_clock(fed):
    f = fed(tick_s=0.02)
    async with running(f.app, NARROW) as pilot:
        f.publish(token("claude-max", f.clock.now + 5 * 3600 + 12 * 60 + 3))
        await pilot.press("3")
        table = f.app.tokens
        await until(pilot, lambda: "claude-max" in row_keys(table), "the token row")
        assert cells(table, "claude-max")["expires"] == "5h 12m 03s"
        f.clock.advance(1)
        await until(pilot, lambda: cells(table, "claude-max")["expires"] == "5h 12m 02s", "tick")
        f.clock.advance(62)
        await until(pilot, lambda: cells(table, "claude-max")["expires"] == "5h 11m 00s", "tick")
        assert "5h 11m 00s" in screen_text(f.app)


async def test_token_countdowns_are_coloured_by_urgency(fed):
    f = fed()
    lefts = {"ok": 3 * 3600, "low": 3600, "medium": 600, "high": 120, "expired": -5}
    async with running(f.app, NARROW) as pilot:
        for urgency, left in lefts.items():
            f.publish(token(f"t-{urgency}", f.clock.now + left))
        await pilot.press("3")
        table = f.app.tokens
        await until(pilot, lambda: table.row_count == len(lefts), "every token")
        styles = {}
        for urgency in lefts:
            styles[urgency] = cell(table, f"t-{urgency}", "expires").style
            assert styles[urgency] == f.app.palette.style(f"ccm-urgency-{urgency}"), urgency
        assert len({str(s.color) for s in styles.values()}) >= 4  # they look different
        assert cells(table, "t-expired")["expires"] == "expired"


async def test_a_token_turns_urgent_then_expired_as_the_clock_runs(fed):
    f = fed(tick_s=0.02)
    async with running(f.app, NARROW) as pilot:
        f.publish(token("claude-max", f.clock.now + 301))
        await pilot.press("3")
        table, palette = f.app.tokens, f.app.palette

        def looks(urgency: str) -> bool:
            return cell(table, "claude-max", "expires").style == palette.style(
                f"ccm-urgency-{urgency}"
            )

        await until(pilot, lambda: "claude-max" in row_keys(table) and looks("medium"), "medium")
        f.clock.advance(2)
        await until(pilot, lambda: looks("high"), "high urgency")
        f.clock.advance(300)
        await until(pilot, lambda: cells(table, "claude-max")["expires"] == "expired", "expired")
        assert looks("expired")


async def test_the_token_row_shows_each_refresh_state(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await pilot.press("3")
        table, now = f.app.tokens, f.clock.now
        for event, shown, style in (
            (token("claude-max", now + 100), "not yet", "ccm-muted"),
            (
                token("claude-max", now + 100, refresh=RefreshState.REFRESHING),
                "refreshing…", "ccm-status-streaming",
            ),
            (
                token("claude-max", now + 7200, refresh=RefreshState.OK, refreshed_at=now - 4),
                "ok 4s ago", "ccm-status-ok",
            ),
            (
                token(
                    "claude-max", now + 100, refresh=RefreshState.FAILED,
                    message="invalid_grant: refresh token revoked",
                ),
                "failed: invalid_grant: refresh token revoked", "ccm-status-failed",
            ),
        ):  # fmt: skip
            f.publish(event)
            await until(
                pilot,
                lambda s=shown: table.row_count and cells(table, "claude-max")["refresh"] == s,
                shown,
            )
            assert cell(table, "claude-max", "refresh").style == f.app.palette.style(style)
        assert table.row_count == 1  # one row per credential, patched


async def test_a_refused_refresh_shows_its_retry_countdown_ticking_at_80_columns(fed):
    f = fed(tick_s=0.02)
    reason = "token refresh: the refresh token is no longer valid; run `ccm-tui login x` again"
    async with running(f.app, NARROW) as pilot:
        refused = token(
            "claude-max", f.clock.now + 100, refresh=RefreshState.FAILED, message=reason
        )
        f.publish(replace(refused, retry_at=f.clock.now + 4 * 60 + 3))
        await pilot.press("3")
        table = f.app.tokens

        def shown() -> str:
            return cells(table, "claude-max")["refresh"] if table.row_count else ""

        await until(pilot, lambda: shown() == f"retry 4m 03s · {reason}", "the retry time")
        assert cell(table, "claude-max", "refresh").style == f.app.palette.style(
            "ccm-status-failed"
        )
        f.clock.advance(1)
        await until(pilot, lambda: shown().startswith("retry 4m 02s · "), "tick")
        row = next(line for line in screen_text(f.app).splitlines() if "claude-max" in line)
        assert "retry 4m 02s" in row, f"the countdown is cut off at 80 columns: {row!r}"
        f.clock.advance(4 * 60 + 2)  # due: the retry is on its way
        await until(pilot, lambda: shown() == f"failed: {reason}", "no countdown once due")


async def test_claude_codes_own_login_is_shown_read_only(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        f.publish(
            token(
                "claude-code", f.clock.now + 3600, source="claude-code",
                providers=("passthru",), read_only=True,
            )
        )  # fmt: skip
        await pilot.press("3")
        await until(pilot, lambda: f.app.tokens.row_count == 1, "the row")
        row = cells(f.app.tokens, "claude-code")
        assert row["credential"] == "claude-code (claude-code)"
        assert row["refresh"] == "read-only (Claude Code)"
        assert row["used_by"] == "passthru"


async def test_a_derived_key_in_use_is_shown_masked_and_in_use(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        later = f.clock.now + 3600
        f.publish(token("claude-max", later, derived_key="sk-ant-api03-…x7Qd", in_use=True))
        f.publish(token("spare", later, derived_key="sk-ant-api03-…Zz09"))
        await pilot.press("3")
        await until(pilot, lambda: f.app.tokens.row_count == 2, "both rows")
        assert cells(f.app.tokens, "claude-max")["key"] == "sk-ant-api03-…x7Qd in use"
        assert cells(f.app.tokens, "spare")["key"] == "sk-ant-api03-…Zz09 stored"
        text = screen_text(f.app)
        claude_max = next(line for line in text.splitlines() if "claude-max" in line)
        assert "x7Qd" in claude_max
        assert "in use" in claude_max, f"'in use' is cut off at 80 columns: {claude_max!r}"


async def test_the_tokens_pane_explains_what_appears_when_it_is_empty(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await pilot.press("3")
        assert f.app.query_one("#tokens-empty").display
        assert "No credentials with an expiry" in screen_text(f.app)
        f.publish(token("claude-max", f.clock.now + 3600))
        await until(pilot, lambda: f.app.tokens.row_count == 1, "the row")
        await pilot.pause()
        assert not f.app.query_one("#tokens-empty").display


# -- themes, reload ----------------------------------------------------------------------------


async def test_t_cycles_through_the_themes_and_restyles_the_cells(fed):
    f = fed()
    async with running(f.app, NARROW, notifications=True) as pilot:
        f.request("r1")
        await until(pilot, lambda: f.app.requests.row_count == 1, "the row")
        seen = []
        for expected in ("ccm-light", "ccm-ansi", "ccm-dark"):
            before = f.app.palette.style("ccm-status-ok")
            await pilot.press("t")
            await pilot.pause()
            assert f.app.theme == expected
            ok = f.app.palette.style("ccm-status-ok")
            assert ok != before
            assert cell(f.app.requests, "r1", "status").style == ok
            seen.append(str(ok.color))
        assert len(set(seen)) == 3
        assert any("theme: ccm-dark" in t for t in toasts(f.app))


async def test_ctrl_r_with_a_bad_config_reports_it_and_keeps_the_old_one(
    sim, proxy, client, themes
):
    app = beside(proxy, themes)
    before = proxy.config
    assert before.path is not None
    before.path.write_text("[server]\nport = 'nope'\n")
    async with running(app, NARROW, notifications=True) as pilot:
        await pilot.press("ctrl+r")
        await until(pilot, lambda: any("config error" in t for t in toasts(app)), "the error")
        error = next(t for t in app.screen.query(Toast) if "config error" in t.render().plain)
        assert error.has_class("-error")
        assert "line 2" in error.render().plain
        assert proxy.config is before
        await ask(client)
        assert len(sim.requests("primary")) == 1
        assert app.providers.row_count == 2


async def test_ctrl_r_names_the_bad_line_of_the_config_literally(proxy, themes):
    app = beside(proxy, themes)
    assert proxy.config.path is not None
    proxy.config.path.write_text("[server]\nport = 'nope'\n")
    async with running(app, NARROW, notifications=True) as pilot:
        await pilot.press("ctrl+r")
        await until(pilot, lambda: any("config error" in t for t in toasts(app)), "the error")
        assert any("line 2, [server] port" in t for t in toasts(app)), toasts(app)


async def test_ctrl_r_with_a_good_config_applies_it(sim, proxy, themes):
    app = beside(proxy, themes)
    assert proxy.config.path is not None
    extra = f"""
[[providers]]
name = "tertiary"
provider_type = "anthropic"
auth_type = "apikey"
api_key = "sk-ant-api03-tertiary-key-2222222222222"
base_url = "{sim.url("tertiary")}"
"""
    proxy.config.path.write_text(two_provider_config(sim, extra=extra))
    async with running(app, NARROW, notifications=True) as pilot:
        await pilot.press("2", "ctrl+r")
        await until(pilot, lambda: "tertiary" in row_keys(app.providers), "the new provider")
        assert any(t == "config reloaded" for t in toasts(app))


# -- help, command palette ---------------------------------------------------------------------


def every_binding() -> list[Binding]:
    return [
        b
        for b in (*CcmApp.BINDINGS, *RequestsTable.BINDINGS, *ProvidersTable.BINDINGS)
        if isinstance(b, Binding)
    ]


async def test_question_mark_opens_help_listing_every_binding_with_its_id(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await pilot.press("question_mark")
        assert isinstance(f.app.screen, HelpScreen)
        listed = "\n".join(plain(s.content) for s in f.app.screen.query(Static))
        rows = listed.splitlines()
        for binding in every_binding():
            assert binding.id, binding
            row = next((r for r in rows if r.rstrip().endswith(f"· {binding.id}")), None)
            assert row is not None, f"{binding.id} is not in the help"
            assert binding.description in row
            assert (binding.key_display or binding.key) in row
        assert "create_api_key" in listed  # what k does, and why it may be unavailable
        assert "Keys" in screen_text(f.app)


async def test_escape_closes_the_help(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await pilot.press("question_mark")
        assert isinstance(f.app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(f.app.screen, HelpScreen)
        assert f.app.is_running
        await pilot.press("2")  # the keys work again
        assert f.app.active_pane == "providers"


async def test_the_command_palette_offers_every_binding_and_provider_action(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        f.publish(
            provider_state("primary", auth=AuthMode.OAUTH),
            provider_state("secondary", enabled=False, auth=AuthMode.DERIVED_KEY),
            provider_state("tertiary"),
        )
        await until(pilot, lambda: f.app.providers.row_count == 3, "three providers")
        titles = [c.title for c in f.app.get_system_commands(f.app.screen)]
        for binding in (*CcmApp.BINDINGS, *RequestsTable.BINDINGS):
            assert isinstance(binding, Binding)
            if binding.id == "app.back":
                continue  # escape only means something where it is pressed
            assert binding.description in titles, binding.id
        for provider, toggle in (
            ("primary", "Disable"), ("secondary", "Enable"), ("tertiary", "Disable")
        ):  # fmt: skip
            assert f"{toggle} {provider}" in titles
            assert f"Reset counters of {provider}" in titles
        # The key switch only where it switches something.
        assert "Use a derived API key for primary" in titles
        assert "Switch primary back to OAuth" not in titles
        assert "Switch secondary back to OAuth" in titles
        assert "Use a derived API key for secondary" not in titles
        assert [t for t in titles if "tertiary" in t] == [
            "Disable tertiary",
            "Reset counters of tertiary",
        ]  # an API-key provider has nothing to switch


async def test_a_command_palette_entry_runs_its_action(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await pilot.press("ctrl+p")
        await pilot.press(*"Pause")
        await until(
            pilot,
            lambda: f.app.screen.query_one(CommandList).highlighted is not None,
            "the matching command",
        )
        await pilot.press("enter")
        await until(pilot, lambda: f.app.requests.paused, "the pause")


async def test_a_provider_action_from_the_palette_goes_through_the_control(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        f.publish(provider_state("primary"))
        await until(pilot, lambda: f.app.providers.row_count == 1, "the provider")
        command = next(
            c for c in f.app.get_system_commands(f.app.screen) if c.title == "Disable primary"
        )
        command.callback()
        await until(pilot, lambda: f.control.calls == [("disable", "primary")], "the call")


# -- quitting ----------------------------------------------------------------------------------


async def in_flight(f: Fed, pilot: Pilot[Any]) -> None:
    """One request in flight, on screen."""
    f.publish(started("r1", f.clock.now), attempt("r1", 1, "primary", "p", f.clock.now))
    await until(pilot, lambda: f.app.requests.row_count == 1, "the live row")


async def test_q_with_requests_in_flight_asks_first_and_n_stays(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await in_flight(f, pilot)
        await pilot.press("q")
        assert isinstance(f.app.screen, ConfirmQuitScreen)
        assert "1 request(s) still in flight" in screen_text(f.app)
        await pilot.press("n")
        assert not isinstance(f.app.screen, ConfirmQuitScreen)
        assert f.app.is_running and f.app.return_code is None


async def test_q_with_requests_in_flight_then_y_exits_with_code_0(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await in_flight(f, pilot)
        await pilot.press("q")
        assert isinstance(f.app.screen, ConfirmQuitScreen)
        await pilot.press("y")
    assert f.app.return_code == 0


async def test_q_with_nothing_in_flight_exits_at_once(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        f.request("r1")
        await until(pilot, lambda: f.app.requests.row_count == 1, "the finished row")
        await pilot.press("q")
    assert f.app.return_code == 0


@pytest.mark.parametrize("ownership", [Ownership.SIMULATED, Ownership.ATTACHED])
async def test_q_quits_at_once_where_quitting_cuts_nothing_off(fed, ownership):
    """The demo's traffic is simulated; an attached proxy is left serving."""
    f = fed(ownership=ownership)
    async with running(f.app, NARROW) as pilot:
        await in_flight(f, pilot)
        await pilot.press("q")
        assert not isinstance(f.app.screen, ConfirmQuitScreen)
    assert f.app.return_code == 0 and not f.app.keep_serving


async def test_d_quits_and_keeps_the_proxy_serving(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await pilot.press("d")
    assert f.app.return_code == 0 and f.app.keep_serving


async def test_the_quit_prompt_offers_to_keep_the_proxy_serving(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await in_flight(f, pilot)
        await pilot.press("q")
        assert "d quit, keep the proxy serving" in screen_text(f.app)
        await pilot.press("d")
    assert f.app.return_code == 0 and f.app.keep_serving


@pytest.mark.parametrize("ownership", [Ownership.SIMULATED, Ownership.ATTACHED])
async def test_d_is_neither_offered_nor_acted_on_for_a_proxy_not_its_own(fed, ownership):
    f = fed(ownership=ownership)
    async with running(f.app, WIDE) as pilot:
        assert "Detach" not in f.app.keybar.render().plain
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(f.app.screen, HelpScreen), "the help")
        assert "Detach" not in screen_text(f.app) and "Theme" in screen_text(f.app)
        await pilot.press("escape")
        await pilot.press("d")
        await pilot.pause()
        assert f.app.is_running and not f.app.keep_serving


async def test_its_own_proxy_offers_d_in_the_footer_and_help_stays_in_reach(fed):
    f = fed()
    async with running(f.app, WIDE) as pilot:
        await pilot.pause()
        assert "d Detach" in f.app.keybar.render().plain
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(f.app.screen, HelpScreen), "the help")
        assert "app.detach" in screen_text(f.app)
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await pilot.pause()
        footer = f.app.keybar.render().plain
        assert footer.endswith(" … ? Help") and len(footer) <= NARROW[0], footer


@pytest.mark.parametrize(("live", "keeps"), [(True, True), (False, False)])
async def test_a_hang_up_keeps_the_proxy_serving_only_for_requests_in_flight(fed, live, keeps):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        if live:
            await in_flight(f, pilot)
        f.app.hang_up()
        await pilot.pause()
    assert f.app.return_code == 0 and f.app.keep_serving is keeps


async def test_ctrl_q_exits_at_once_even_with_requests_in_flight(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        await in_flight(f, pilot)
        await pilot.press("ctrl+q")
    assert f.app.return_code == 0


# -- untrusted text, NO_COLOR, bindings ------------------------------------------------------

MARKUP = "[bold]x[/bold] [link=https://evil.example]click[/link]"


async def test_model_output_and_names_are_shown_literally_not_as_markup(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        now = f.clock.now
        f.publish(
            started("r1", now, "[b]m[/b]"),
            attempt("r1", 1, "primary", "[b]m[/b]", now),
            response("r1", 1, "primary", 50.0),
            finished("r1", "primary", "[b]m[/b]", at=now, text=MARKUP, error=""),
        )
        await until(pilot, lambda: f.app.requests.row_count == 1, "the row")
        assert "[b]m[/b]" in screen_text(f.app)
        await pilot.press("enter")
        assert MARKUP in detail_text(f.app)
        assert MARKUP in screen_text(f.app)


async def test_upstream_error_text_is_shown_literally(fed):
    f = fed()
    async with running(f.app, NARROW) as pilot:
        now = f.clock.now
        f.publish(
            started("r1", now),
            attempt("r1", 1, "primary", "p", now),
            attempt_failed("r1", 1, "primary", Failure.SERVER_ERROR, 500, MARKUP, at=now),
            provider_state("primary"),
        )
        await until(pilot, lambda: f.app.requests.row_count == 1, "the row")
        await pilot.press("enter")
        assert MARKUP in detail_text(f.app)
        await pilot.press("2")
        await until(pilot, lambda: MARKUP in static_text(f.app, "#providers-caption"), "error")


async def test_notices_with_brackets_are_shown_literally(fed):
    f = fed()
    async with running(f.app, NARROW, notifications=True) as pilot:
        message = f"upstream said {MARKUP}"
        f.publish(Notice(Level.WARNING, message, f.clock.now))
        await until(pilot, lambda: f.app.query(Toast), "the notification")
        assert toasts(f.app) == [message]
        assert f.app.is_running


async def test_with_no_color_the_app_starts_and_renders(fed, monkeypatch, themes):
    monkeypatch.setenv("NO_COLOR", "1")
    assert no_color_requested()
    theme = resolve_theme_name("ccm-ansi", themes)  # what cli picks under NO_COLOR
    f = fed(theme=theme, ansi_color=True)
    async with running(f.app, NARROW) as pilot:
        f.request("r1")
        await until(pilot, lambda: f.app.requests.row_count == 1, "the row")
        await pilot.press("2", "3", "4", "1")
        assert f.app.theme == "ccm-ansi"
        text = screen_text(f.app)
        assert "Requests" in text and "primary" in text


HIDDEN = {"app.quit", "app.back"}  # ctrl+q and escape: everyone knows them, the footer is short
PER_PROVIDER = {"providers.derive_key", "providers.use_oauth"}  # offered where they apply


def test_every_binding_has_an_id_a_description_and_a_footer_entry():
    problems = []
    shown = {b.id for b in ProvidersTable.BINDINGS if isinstance(b, Binding) and b.show}
    for owner in (
        CcmApp, RequestsTable, ProvidersTable, HelpScreen, FilterScreen, ConfirmQuitScreen,
    ):  # fmt: skip
        for binding in owner.BINDINGS:
            if not isinstance(binding, Binding):
                problems.append(f"{owner.__name__}: {binding!r} is not a Binding")
                continue
            if not binding.id or not binding.description:
                problems.append(f"{owner.__name__} {binding.key}: needs an id and a description")
            # k and o have a hidden twin with their id, that says why where they do not apply.
            twin = not binding.show and binding.id in shown and binding.id in PER_PROVIDER
            if binding.show != (binding.id not in HIDDEN) and not twin:
                problems.append(f"{owner.__name__} {binding.id}: show={binding.show}")
    assert problems == []
    hidden = {b.id: b.key for b in CcmApp.BINDINGS if isinstance(b, Binding) and not b.show}
    assert hidden == {"app.quit": "ctrl+q", "app.back": "escape"}


# -- attach --------------------------------------------------------------------------------------


@dataclass
class Attached:
    app: CcmApp
    monitor: RemoteMonitor
    control: RemoteControl


async def attach_to(url: str, themes: Any) -> Attached:
    state, bus = MonitorState(), EventBus()
    monitor = RemoteMonitor(url, None, state, bus, backoff=(0.05, 0.3))
    control = RemoteControl(url)
    app = CcmApp(
        state, bus, control, themes=themes, theme="ccm-dark", source=f"attached to {url}",
        tick_s=3600,
    )  # fmt: skip
    return Attached(still(app), monitor, control)


def connected(app: CcmApp) -> bool:
    return app.connection is not None and app.connection.connected


async def test_an_attached_monitor_shows_the_remote_proxys_requests(sim, proxy, client, themes):
    attached = await attach_to(proxy.url, themes)
    watcher = asyncio.create_task(attached.monitor.run())
    try:
        async with running(attached.app, NARROW) as pilot:
            app = attached.app
            await until(pilot, lambda: connected(app), "the connection")
            sim.scenario("primary", status=529, times=1)
            await ask(client)
            await until(pilot, lambda: app.requests.row_count == 1, "the remote request")
            request_id = row_keys(app.requests)[0]
            await until(
                pilot,
                lambda: cells(app.requests, request_id)["provider"] == "primary ✗529 → secondary",
                "the failover",
            )
            assert "✗529 → secondary" in screen_text(app)  # cut at its start, if at all
            assert "attached to" in static_text(app, "#status-line")
    finally:
        await attached.monitor.close()
        await attached.control.aclose()
        watcher.cancel()


async def test_an_attached_monitor_says_when_the_proxy_is_away_and_recovers(
    sim, proxy, client, themes
):
    port = int(proxy.url.rsplit(":", 1)[1])
    attached = await attach_to(proxy.url, themes)
    watcher = asyncio.create_task(attached.monitor.run())
    again: Proxy | None = None
    try:
        async with running(attached.app, NARROW, notifications=True) as pilot:
            app = attached.app
            await until(pilot, lambda: connected(app), "the connection")
            await proxy.stop()
            await until(pilot, lambda: "away" in static_text(app, "#status-line"), "away")
            assert "⚠ attached to" in static_text(app, "#status-line")
            # The toast is mounted a refresh after the status line has the news.
            await until(
                pilot, lambda: any("lost the connection" in t for t in toasts(app)), "the toast"
            )

            again = Proxy(proxy.config)
            await again.start("127.0.0.1", port)
            await until(pilot, lambda: connected(app), "the reconnection", timeout=10)
            await until(pilot, lambda: "away" not in static_text(app, "#status-line"), "back")
            async with client_of(again.url) as fresh:
                await ask(fresh)
            await until(pilot, lambda: app.requests.row_count == 1, "a request after it")
    finally:
        await attached.monitor.close()
        await attached.control.aclose()
        watcher.cancel()
        if again is not None:
            await again.stop()
