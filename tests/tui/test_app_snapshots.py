"""Snapshots of the monitor: each pane at 80x24 and 120x40, and each built-in theme.

The picture is the fixed scene of `scenes.py`: a frozen clock, fixed timestamps shown in
UTC, a bus with no traffic and a tick too slow to fire. `pytest --snapshot-update`
rewrites the SVGs under `__snapshots__/`; look at them before committing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scenes import scene_app
from textual.pilot import Pilot
from textual.widgets import Input

from ccm_tui.tui.theming import BUILTIN_ORDER

SIZES = {"80x24": (80, 24), "120x40": (120, 40)}


@pytest.fixture(autouse=True)
def utc() -> Iterator[None]:
    """Clock times are drawn in local time: make that UTC for every run and machine."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


async def open_filter(pilot: Pilot[Any]) -> None:
    # The tabs place their underline after the first layout; a modal opened before that
    # freezes the screen beneath it without one (this flaked about one run in two).
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
    await pilot.press("slash")
    pilot.app.screen.query_one(Input).cursor_blink = False  # a blinking cursor is not a picture


PANES: dict[str, tuple[tuple[str, ...], Callable[[Pilot[Any]], Awaitable[None]] | None]] = {
    "providers": (("2",), None),
    "tokens": (("3",), None),
    "detail": (("up", "up", "4"), None),  # the `claude-max ✗529 → zai` request
    "usage": (("5",), None),
    "help": (("question_mark",), None),
    "filter": ((), open_filter),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("pane", PANES)
def test_each_pane_in_the_dark_theme(snap_compare, tmp_path: Path, pane: str, size: str):
    press, run_before = PANES[pane]
    app = scene_app(tmp_path, "ccm-dark")
    assert snap_compare(app, press=press, terminal_size=SIZES[size], run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("theme", BUILTIN_ORDER)
def test_the_requests_view_in_each_theme(snap_compare, tmp_path: Path, theme: str, size: str):
    app = scene_app(tmp_path, theme)
    assert snap_compare(app, terminal_size=SIZES[size])
