"""The simulator's subscription windows: OAuth answers report them, they fill with the
tokens served, refuse at the limit until the reset, and reset when the window passes."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from ccm_tui.ratelimits import parse_rate_limits
from ccm_tui.sim.traffic import claude_code_body, claude_code_headers
from ccm_tui.sim.wire import OAUTH_BETA

NAME = "claude-pro"


@pytest.fixture
def oauth_headers(sim) -> dict[str, str]:
    headers = claude_code_headers("s1")
    del headers["x-api-key"]
    headers["authorization"] = f"Bearer {sim.issue_tokens().access_token}"
    headers["anthropic-beta"] += f",{OAUTH_BETA}"  # what the proxy adds for a token
    return headers


async def ask(sim, headers: dict[str, str]) -> httpx.Response:
    body = claude_code_body("hello", "claude-haiku-4-5", stream=False)
    async with httpx.AsyncClient() as http:
        return await http.post(f"{sim.url(NAME)}/v1/messages", json=body, headers=headers)


async def test_oauth_answers_carry_windows_that_fill_with_use(sim, oauth_headers):
    sim.scenario(NAME, window_5h_tokens=100_000)
    first = parse_rate_limits((await ask(sim, oauth_headers)).headers.items())
    second = parse_rate_limits((await ask(sim, oauth_headers)).headers.items())
    assert first is not None and second is not None
    assert first.status == "allowed" and first.representative_claim == "five_hour"
    assert 0 < first.window("5h").utilization < second.window("5h").utilization
    assert first.window("5h").reset == pytest.approx(time.time() + 18_000, abs=5)
    assert first.window("7d") is not None and first.overage_status == "rejected"
    assert first.fallback_percentage == 0.5


async def test_api_key_answers_carry_the_classic_buckets_only(sim):
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            f"{sim.url(NAME)}/v1/messages",
            json=claude_code_body("hello", stream=False),
            headers=claude_code_headers("s1"),
        )
    limits = parse_rate_limits(answer.headers.items())
    assert limits is not None and not limits.subscription
    assert {b.name for b in limits.buckets} == {"requests", "tokens", "input-tokens"}


async def test_a_full_window_warns_then_refuses_until_it_resets(sim, oauth_headers):
    sim.scenario(NAME, window_5h_tokens=1, window_5h_s=2)
    served = await ask(sim, oauth_headers)  # this one fills it past its size
    assert served.status_code == 200
    assert served.headers["anthropic-ratelimit-unified-5h-status"] == "rejected"
    refused = await ask(sim, oauth_headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["type"] == "rate_limit_error"
    limits = parse_rate_limits(refused.headers.items())
    assert limits.status == "rejected" and limits.rejected_until is not None
    assert 1 <= int(refused.headers["retry-after"]) <= 3
    await asyncio.sleep(limits.rejected_until - time.time() + 0.05)  # the window passing
    again = await ask(sim, oauth_headers)
    assert again.status_code == 200
    assert again.headers["anthropic-ratelimit-unified-status"] == "rejected"  # full again
