"""Usage and metrics folded from a real proxy's events, in front of the simulator."""

from __future__ import annotations

import time

import anthropic
import httpx

from ccm_tui.events import RequestFinished

from support import HELLO, scrape, two_provider_config

MODELS = """
[[models]]
name = "haiku"
[[models.mappings]]
priority = 1
provider = "primary"
actual_model = "claude-haiku-4-5-20251001"
"""


async def watched(sim, make_proxy):
    proxy = await make_proxy(two_provider_config(sim, MODELS, api_key='"the-key"'))
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="the-key", max_retries=0)
    return proxy, proxy.state.usage, client


async def scraped(proxy, key: str | None = "the-key") -> tuple[int, bytes]:
    """GET /metrics as Prometheus would, with the proxy key in x-ccm-key."""
    headers = {"x-ccm-key": key} if key else {}
    async with httpx.AsyncClient() as http:
        response = await http.get(f"{proxy.url}/metrics", headers=headers)
    return response.status_code, response.content


async def test_tokens_and_costs_match_what_the_proxy_reported(sim, make_proxy):
    proxy, usage, client = await watched(sim, make_proxy)
    await client.messages.create(model="haiku", max_tokens=64, messages=HELLO)
    async with client.messages.stream(model="haiku", max_tokens=64, messages=HELLO) as stream:
        await stream.get_final_message()
    await client.messages.count_tokens(model="haiku", messages=HELLO)
    await proxy.log.wait_for(lambda _: len(proxy.log.of(RequestFinished)) == 3)
    answers = proxy.log.of(RequestFinished)[:2]
    today = usage.today(time.time())
    assert today.requests == 2  # count_tokens is not usage
    assert today.input_tokens == sum(e.input_tokens for e in answers)
    assert today.output_tokens == sum(e.output_tokens for e in answers)
    # API-key traffic on Haiku 4.5: $1 in, $5 out per million tokens.
    expected = (today.input_tokens * 1 + today.output_tokens * 5) / 1e6
    assert abs(today.cost_usd - expected) < 1e-12 and today.would_cost_usd == 0
    status, body = await scraped(proxy)
    assert status == 200
    tokens = scrape(body)["ccm_tokens_total"]
    model = {"provider": "primary", "model": "claude-haiku-4-5-20251001"}
    assert tokens[tuple(sorted({**model, "kind": "input"}.items()))] == today.input_tokens
    assert tokens[tuple(sorted({**model, "kind": "output"}.items()))] == today.output_tokens


async def test_a_failover_shows_in_attempts_and_in_the_answering_providers_usage(sim, make_proxy):
    proxy, usage, client = await watched(sim, make_proxy)
    sim.scenario("primary", status=529)
    await client.messages.create(model="sonnet", max_tokens=16, messages=HELLO)
    await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    m = scrape((await scraped(proxy))[1])
    attempts = {
        f"{dict(k)['provider']}:{dict(k)['class']}": v for k, v in m["ccm_attempts_total"].items()
    }
    assert attempts == {"primary:overloaded": 1, "secondary:ok": 1}
    assert m["ccm_requests_total"] == {(("outcome", "ok"), ("provider", "secondary")): 1}
    now = time.time()
    assert usage.today(now, "secondary").requests == 1
    assert usage.today(now, "primary").requests == 0
    # secondary-model has no price: its tokens count, its cost is unknown.
    assert usage.today(now).unpriced == 1
    assert sum(usage.minute_series(now)) == usage.today(now).tokens


async def test_metrics_want_the_proxy_key(sim, make_proxy):
    proxy, _, _ = await watched(sim, make_proxy)
    assert (await scraped(proxy, key=None))[0] == 401
    assert (await scraped(proxy, key="wrong"))[0] == 401


async def test_the_breaker_and_latency_histograms_are_scraped(sim, make_proxy):
    proxy, _, client = await watched(sim, make_proxy)
    sim.scenario("primary", status=529)
    for _ in range(3):  # [breaker] failures = 3 opens primary's
        await client.messages.create(model="sonnet", max_tokens=8, messages=HELLO)
    await proxy.log.wait_for(lambda _: len(proxy.log.of(RequestFinished)) == 3)
    m = scrape((await scraped(proxy))[1])
    assert m["ccm_breaker_state"][(("provider", "primary"), ("state", "open"))] == 1
    assert m["ccm_breaker_state"][(("provider", "secondary"), ("state", "closed"))] == 1
    assert m["ccm_request_duration_seconds_count"][(("provider", "secondary"),)] == 3
    assert m["ccm_ttfb_seconds_count"][(("provider", "secondary"),)] == 3
