"""The Usage pane beside a real proxy: rows per provider and model patched as requests
finish, totals and the limits the simulator reported."""

from __future__ import annotations

import time
from pathlib import Path

import anthropic
import pytest
from scenes import builtin_themes, until

from ccm_tui.control import LocalControl
from ccm_tui.events import RateLimitsObserved, RequestFinished
from ccm_tui.tui.app import CcmApp

from support import HELLO, two_provider_config

UNIFIED = "anthropic-ratelimit-unified-"


def limits_headers(five_hour: float) -> dict[str, str]:
    reset = str(int(time.time() + 2 * 3600))
    return {
        f"{UNIFIED}status": "allowed",
        f"{UNIFIED}5h-utilization": str(five_hour),
        f"{UNIFIED}5h-reset": reset,
        f"{UNIFIED}7d-utilization": "0.2",
        f"{UNIFIED}7d-reset": str(int(time.time() + 86400)),
    }


@pytest.fixture
async def watched(sim, make_proxy, tmp_path: Path):
    proxy = await make_proxy(two_provider_config(sim))
    app = CcmApp(
        proxy.state, proxy.bus, LocalControl(proxy.actions), themes=builtin_themes(tmp_path),
        theme="ccm-dark", source=f"serving {proxy.url}", tick_s=3600,
    )  # fmt: skip
    app.animation_level = "none"
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k", max_retries=0)
    return proxy, app, client


async def test_key_5_shows_usage_rows_patched_as_requests_finish(watched, sim):
    proxy, app, client = watched
    sim.scenario("primary", headers=limits_headers(0.4))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        assert app.active_pane == "usage" and app.usage.has_focus
        await client.messages.create(model="sonnet", max_tokens=16, messages=HELLO)
        await until(pilot, lambda: app.usage.row_count == 1, "the first row")
        key = app.usage.row_keys[0]
        first = app.usage.cells(key)["today"].plain
        await client.messages.create(model="sonnet", max_tokens=16, messages=HELLO)
        await proxy.log.wait_for(lambda _: len(proxy.log.of(RequestFinished)) == 2)
        await until(pilot, lambda: app.usage.cells(key)["today"].plain != first, "the patch")
        assert app.usage.row_keys == [key]  # the same row, patched, not a new one
        today = proxy.state.usage.today(time.time())
        assert app.usage.cells(key)["provider"].plain == "primary"
        assert app.usage.cells(key)["today"].plain.startswith(f"{today.input_tokens}/")
        await until(pilot, lambda: "40%" in str(app.usage_limits.render()), "the 5h gauge")
        app.exit()


async def test_the_providers_caption_shows_the_selected_providers_windows(watched, sim):
    proxy, app, client = watched
    sim.scenario("primary", headers=limits_headers(0.93))
    async with app.run_test(size=(80, 24)) as pilot:
        await client.messages.create(model="sonnet", max_tokens=16, messages=HELLO)
        await proxy.log.wait_for(lambda e: isinstance(e, RateLimitsObserved))
        await pilot.press("2")
        await until(
            pilot, lambda: "5h" in app.providers_caption.text.plain, "the gauge in the caption"
        )
        caption = app.providers_caption.text
        assert "93%" in caption.plain and "↻1h59m" in caption.plain
        high = app.palette.style("ccm-urgency-high")
        assert any(span.style == high for span in caption.spans)  # 93 %: urgent
        app.exit()
