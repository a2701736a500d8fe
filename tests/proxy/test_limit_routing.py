"""Limit-aware routing: a provider near its limits is tried after the others, only when the
user turned it on (`prefer_below`), with the simulator sending the rate-limit headers."""

from __future__ import annotations

import asyncio
import time

import anthropic

from ccm_tui.events import BreakerState, RateLimitsObserved, RequestFinished

from support import HELLO, two_provider_config

UNIFIED = "anthropic-ratelimit-unified-"


def opted_in(sim, prefer_below: float = 0.9) -> str:
    return two_provider_config(sim).replace(
        'name = "primary"\n', f'name = "primary"\nprefer_below = {prefer_below}\n', 1
    )


def windows(five_hour: float, status: str = "allowed", reset_in: float = 3600) -> dict[str, str]:
    reset = str(int(time.time() + reset_in))
    return {
        f"{UNIFIED}status": status,
        f"{UNIFIED}reset": reset,
        f"{UNIFIED}representative-claim": "five_hour",
        f"{UNIFIED}5h-utilization": str(five_hour),
        f"{UNIFIED}5h-reset": reset,
        f"{UNIFIED}7d-utilization": "0.31",
        f"{UNIFIED}7d-reset": str(int(time.time() + 86400)),
    }


async def answered_by(proxy, client) -> str:
    """Sends one request; the provider that answered it."""
    before = len(proxy.log.of(RequestFinished))
    await client.messages.create(model="sonnet", max_tokens=8, messages=HELLO)
    await proxy.log.wait_for(lambda _: len(proxy.log.of(RequestFinished)) > before)
    return proxy.log.of(RequestFinished)[-1].provider


def client_of(proxy) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k", max_retries=0)


async def test_a_window_past_prefer_below_sends_the_next_request_to_the_next_mapping(
    sim, make_proxy
):
    proxy = await make_proxy(opted_in(sim))
    client = client_of(proxy)
    sim.scenario("primary", headers=windows(0.5))
    assert await answered_by(proxy, client) == "primary"
    sim.scenario("primary", headers=windows(0.93))
    assert await answered_by(proxy, client) == "primary"  # this answer reported 93 %
    assert await answered_by(proxy, client) == "secondary"
    assert len(sim.requests("primary")) == 2  # no 429 was needed to move


async def test_a_warning_status_moves_it_too(sim, make_proxy):
    proxy = await make_proxy(opted_in(sim))
    client = client_of(proxy)
    sim.scenario("primary", headers=windows(0.2, status="allowed_warning"))
    await answered_by(proxy, client)
    assert await answered_by(proxy, client) == "secondary"


async def test_without_prefer_below_the_order_never_changes(sim, make_proxy):
    proxy = await make_proxy(two_provider_config(sim))
    client = client_of(proxy)
    sim.scenario("primary", headers=windows(0.99, status="allowed_warning"))
    for _ in range(3):
        assert await answered_by(proxy, client) == "primary"
    assert proxy.upstreams.breaker("primary").peek_state() is BreakerState.CLOSED


async def test_a_reset_window_brings_the_provider_back_first(sim, make_proxy):
    proxy = await make_proxy(opted_in(sim))
    client = client_of(proxy)
    sim.scenario("primary", headers=windows(0.95, reset_in=3))
    await answered_by(proxy, client)
    assert await answered_by(proxy, client) == "secondary"
    heard = [e for e in proxy.log.of(RateLimitsObserved) if e.provider == "primary"]
    reset = heard[-1].limits.window("5h").reset
    await asyncio.sleep(reset - time.time() + 0.05)  # the wall clock passing is the behaviour
    sim.scenario("primary")
    assert await answered_by(proxy, client) == "primary"


async def test_rejected_with_a_reset_opens_the_provider_until_then(sim, make_proxy):
    proxy = await make_proxy(opted_in(sim))
    client = client_of(proxy)
    sim.scenario(
        "primary",
        status=429,
        error_type="rate_limit_error",
        headers=windows(1.0, status="rejected", reset_in=600),
    )
    assert await answered_by(proxy, client) == "secondary"
    breaker = proxy.upstreams.breaker("primary")
    assert breaker.peek_state() is BreakerState.OPEN
    assert 590 < breaker.remaining_s() <= 600
    observed = next(e for e in proxy.log.of(RateLimitsObserved) if e.provider == "primary")
    assert (observed.provider, observed.status, observed.limits.status) == (
        "primary",
        429,
        "rejected",
    )
    sim.scenario("primary")
    assert await answered_by(proxy, client) == "secondary"
    assert len(sim.requests("primary")) == 1


async def test_the_limits_reach_the_monitor_state_and_the_snapshot(sim, make_proxy):
    proxy = await make_proxy(two_provider_config(sim))
    sim.scenario("primary", headers=windows(0.42))
    await answered_by(proxy, client_of(proxy))
    await proxy.log.wait_for(lambda e: isinstance(e, RateLimitsObserved))
    window = proxy.state.usage.latest_limits("primary").limits.window("5h")
    assert window.utilization == 0.42
    limits = proxy.state.snapshot()["usage"]["limits"]
    assert {entry["provider"] for entry in limits} == {"primary"}
