"""Fresh tokens for real traffic: one refresh for many requests, retry after an expired 401,
and a failed refresh that fails over instead of taking the proxy down."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from oauth_helpers import (
    BACKUP,
    NAME,
    PATIENT_BREAKER,
    TOKEN_ID,
    GatewayFactory,
    login,
    seed,
    send_cc,
    stored,
    text_of,
    write_config,
)

from ccm_tui.backoff import Backoff
from ccm_tui.events import (
    AttemptFailed,
    BreakerState,
    Event,
    RefreshState,
    TokenStateChanged,
)
from ccm_tui.masking import mask
from ccm_tui.sim import Simulator


def refreshes(sim: Simulator) -> list[dict[str, Any]]:
    return [r for r in sim.token_requests if r.get("grant_type") == "refresh_token"]


def attempts(state: dict[str, Any], index: int = 0) -> list[tuple[str, str, int | None]]:
    """(provider, class, status) of each attempt of the `index`-th newest request."""
    return [
        (a["provider"], a["failure"], a["status"]) for a in state["requests"][index]["attempts"]
    ]


async def test_fifty_concurrent_requests_on_a_token_due_for_refresh_refresh_it_once(
    sim: Simulator,
    config_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    gateway = await start_gateway(config_path)  # nothing stored yet: no background refresh
    grant = sim.issue_tokens()
    seed(store, grant, expires_in_s=120)  # well inside the 5-minute margin
    sim.scenario("oauth", latency_ms=300)  # a slow token endpoint: every request waits on it

    responses = await asyncio.gather(*(send_cc(http, gateway.proxy.url) for _ in range(50)))

    assert [r.status_code for r in responses] == [200] * 50
    assert {text_of(r) for r in responses} == {sim.text(NAME)}
    assert len(refreshes(sim)) == 1
    assert refreshes(sim)[0]["refresh_token"] == grant.refresh_token
    entry = stored(store)
    sent = [r.header("authorization") for r in sim.requests(NAME)]
    assert sent == [f"Bearer {entry['access_token']}"] * 50  # every one on the new token
    assert entry["access_token"] != grant.access_token
    # The rotated refresh token is the one saved: the server accepts it, and not the old one.
    sim.scenario("oauth")
    assert entry["refresh_token"] != grant.refresh_token
    old = await refresh(http, sim, grant.refresh_token)
    new = await refresh(http, sim, entry["refresh_token"])
    assert (old.status_code, new.status_code) == (400, 200)


async def refresh(http: httpx.AsyncClient, sim: Simulator, token: str) -> httpx.Response:
    return await http.post(
        sim.token_url,
        json={
            "grant_type": "refresh_token",
            "refresh_token": token,
            "client_id": sim.oauth.client_id,
        },
    )


async def test_expired_401_refreshes_once_and_retries_on_the_same_provider(
    sim: Simulator,
    config_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    grant = sim.issue_tokens()
    seed(store, grant)  # ccm-tui believes it has hours left
    gateway = await start_gateway(config_path)
    sim.expire(grant.access_token)  # ... but the server says it has expired

    response = await send_cc(http, gateway.proxy.url)

    assert response.status_code == 200
    assert text_of(response) == sim.text(NAME)
    assert len(refreshes(sim)) == 1
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert attempts(state) == [(NAME, "auth_error", 401), (NAME, "ok", 200)]
    assert sim.requests(BACKUP) == []
    first, second = sim.requests(NAME)
    assert first.header("authorization") == f"Bearer {grant.access_token}"
    assert second.header("authorization") == f"Bearer {stored(store)['access_token']}"


@pytest.mark.parametrize("cause", ["invalid_grant", "token endpoint 500"])
async def test_failed_refresh_is_a_visible_token_state_and_the_request_fails_over(
    cause: str,
    sim: Simulator,
    config_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    grant = sim.issue_tokens()
    if cause == "invalid_grant":
        grant = dataclasses.replace(grant, refresh_token="sk-ant-ort01-revoked-elsewhere-0123456")
        expected = f"ccm-tui login {NAME}"
    else:
        sim.scenario("oauth", status=500)
        expected = "500"
    seed(store, grant, expires_in_s=60)
    gateway = await start_gateway(config_path)

    response = await send_cc(http, gateway.proxy.url)

    assert response.status_code == 200
    assert text_of(response) == sim.text(BACKUP)
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert attempts(state) == [(NAME, "auth_error", None), (BACKUP, "ok", 200)]
    token = next(t for t in state["tokens"] if t["token_id"] == TOKEN_ID)
    assert token["refresh"] == "failed"
    assert expected in token["refresh_message"]
    assert sim.requests(NAME) == []  # never sent a token inside the margin
    assert (await http.get(gateway.proxy.url + "/health")).status_code == 200


async def test_many_requests_refused_as_expired_at_once_share_one_refresh_and_all_retry(
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    config = write_config(tmp_path / "config.toml", sim, store=store, extra=PATIENT_BREAKER)
    grant = sim.issue_tokens()
    seed(store, grant)
    gateway = await start_gateway(config)
    sim.expire(grant.access_token)
    sim.scenario("oauth", latency_ms=300)  # the refresh takes a while

    responses = await asyncio.gather(*(send_cc(http, gateway.proxy.url) for _ in range(20)))

    assert {text_of(r) for r in responses} == {sim.text(NAME)}
    assert len(refreshes(sim)) == 1  # a 401 for a replaced token retries with the new one
    old, new = f"Bearer {grant.access_token}", f"Bearer {stored(store)['access_token']}"
    sent = [r.header("authorization") for r in sim.requests(NAME)]
    assert set(sent) == {old, new}
    assert len(sent) == 20 + sent.count(old)  # each refused request retried once


async def test_a_refresh_ahead_of_expiry_shows_as_refreshing_then_ok_on_the_event_stream(
    sim: Simulator,
    config_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    gateway = await start_gateway(config_path)
    states: list[dict[str, Any]] = []
    async with http.stream("GET", gateway.proxy.url + "/_ccm/events") as stream:
        lines = stream.aiter_lines()
        assert (await anext(lines)).startswith("event: snapshot")
        seed(store, sim.issue_tokens(), expires_in_s=90)
        gateway.tokens.wake()  # as a login or a reload does; no request is needed
        async with asyncio.timeout(10):
            async for line in lines:
                event = json.loads(line[6:]) if line.startswith("data: {") else {}
                if event.get("type") == "TokenStateChanged":
                    states.append(event)
                    if event["refresh"] == "ok":
                        break

    assert [s["refresh"] for s in states if s["token_id"] == TOKEN_ID][-2:] == ["refreshing", "ok"]
    entry = stored(store)
    assert states[-1]["access_token"] == mask(entry["access_token"])
    assert states[-1]["expires_at"] > time.time() + 3600
    assert len(refreshes(sim)) == 1


async def test_expired_401s_that_a_refresh_mends_do_not_open_the_breaker(
    sim: Simulator,
    config_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    grant = sim.issue_tokens()
    seed(store, grant)
    gateway = await start_gateway(config_path)
    sim.expire(grant.access_token)
    sim.scenario("oauth", latency_ms=500)  # the refresh is under way for a while
    first = [asyncio.create_task(send_cc(http, gateway.proxy.url)) for _ in range(3)]
    await gateway.log.wait_for(lambda e: len(gateway.log.of(AttemptFailed)) >= 3)

    later = await send_cc(http, gateway.proxy.url)  # arrives while the token is being renewed

    assert {text_of(r) for r in await asyncio.gather(*first)} == {sim.text(NAME)}
    assert text_of(later) == sim.text(NAME)
    assert gateway.proxy.breaker(NAME).peek_state() is BreakerState.CLOSED


async def test_a_new_login_after_a_dead_refresh_token_is_used_at_once_and_clears_the_failure(
    sim: Simulator,
    config_path: Path,
    store: Path,
    env: dict[str, str],
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    dead = dataclasses.replace(sim.issue_tokens(), refresh_token="sk-ant-ort01-dead-0123456789ab")
    seed(store, dead, expires_in_s=60)
    gateway = await start_gateway(config_path)
    assert text_of(await send_cc(http, gateway.proxy.url)) == sim.text(BACKUP)

    logged_in, _ = await login(env, config_path, http)  # in another terminal, as advised
    assert logged_in.code == 0, logged_in.output
    response = await send_cc(http, gateway.proxy.url)

    assert text_of(response) == sim.text(NAME)
    assert (
        sim.requests(NAME)[0].header("authorization") == f"Bearer {stored(store)['access_token']}"
    )
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    token = next(t for t in state["tokens"] if t["token_id"] == TOKEN_ID)
    assert token["refresh"] != "failed"
    assert token["access_token"] == mask(stored(store)["access_token"])


async def test_a_refresh_refused_once_recovers_by_itself_after_the_backoff(
    sim: Simulator,
    config_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    grant = sim.issue_tokens()
    seed(store, grant, expires_in_s=60)  # due: the background task refreshes it at start
    sim.scenario("oauth", status=400, error_type="invalid_grant", times=1)  # refused once
    backoff = Backoff(3.0, 3.0, jitter=0.0)
    gateway = await start_gateway(config_path, refusal_backoff=backoff)

    def token_state(refresh: RefreshState) -> Callable[[Event], bool]:
        return lambda e: (
            isinstance(e, TokenStateChanged) and e.token_id == TOKEN_ID and e.refresh is refresh
        )

    failed = await gateway.log.wait_for(token_state(RefreshState.FAILED))
    assert isinstance(failed, TokenStateChanged) and failed.retry_at is not None
    assert f"ccm-tui login {NAME}" in failed.refresh_message

    # Meanwhile a request fails over at once, the dead token is not sent, and the monitor's
    # snapshot says when the retry comes.
    response = await send_cc(http, gateway.proxy.url)
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert time.time() < failed.retry_at, "the machine was too slow to look inside the backoff"
    assert text_of(response) == sim.text(BACKUP)
    assert attempts(state) == [(NAME, "auth_error", None), (BACKUP, "ok", 200)]
    token = next(t for t in state["tokens"] if t["token_id"] == TOKEN_ID)
    assert (token["refresh"], token["retry_at"]) == ("failed", failed.retry_at)
    assert len(refreshes(sim)) == 1

    recovered = await gateway.log.wait_for(token_state(RefreshState.OK))
    assert time.time() >= failed.retry_at  # not a moment before the backoff ended
    assert isinstance(recovered, TokenStateChanged) and recovered.retry_at is None
    assert [r["refresh_token"] for r in refreshes(sim)] == [grant.refresh_token] * 2
    response = await send_cc(http, gateway.proxy.url)
    assert text_of(response) == sim.text(NAME)
    sent = sim.requests(NAME)[-1].header("authorization")
    assert sent == f"Bearer {stored(store)['access_token']}"
