"""The derived API key inside a running proxy: the admin switch, deriving on first use,
re-deriving a revoked key, and failing over when no key can be had."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from oauth_helpers import (
    BACKUP,
    NAME,
    NO_KEY_SCOPES,
    OAUTH_BETA,
    PATIENT_BREAKER,
    TOKEN_ID,
    GatewayFactory,
    changed_lines,
    seed,
    send_cc,
    stored,
    text_of,
    upstream_betas,
    write_config,
)

from ccm_tui.masking import mask
from ccm_tui.sim import Simulator

DERIVED = "use_derived_key = true"


def attempts(state: dict[str, Any], index: int = 0) -> list[tuple[str, str, int | None]]:
    return [
        (a["provider"], a["failure"], a["status"]) for a in state["requests"][index]["attempts"]
    ]


def token_state(state: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in state["tokens"] if t["token_id"] == TOKEN_ID)


def create_key_calls(sim: Simulator) -> int:
    return len(sim.requests("create_api_key"))


async def test_admin_derive_key_switches_the_running_proxy_at_once_and_saves_it(
    sim: Simulator,
    config_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    seed(store, sim.issue_tokens())
    gateway = await start_gateway(config_path)
    before = config_path.read_bytes()

    answer = await http.post(f"{gateway.proxy.url}/_ccm/providers/{NAME}/derive-key", json={})

    assert answer.status_code == 200
    key = stored(store)["api_key"]
    assert answer.json()["ok"] is True
    assert mask(key) in answer.json()["message"] and key not in answer.text
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert state["providers"][NAME]["auth"] == "derived_key"
    assert token_state(state)["derived_key"] == mask(key)
    assert token_state(state)["derived_key_in_use"] is True
    response = await send_cc(http, gateway.proxy.url)
    assert text_of(response) == sim.text(NAME)
    (sent,) = sim.requests(NAME)
    assert sent.header("x-api-key") == key and sent.header("authorization") is None
    assert changed_lines(before, config_path.read_bytes()) == ([], [DERIVED.encode() + b"\n"])


async def test_admin_derive_key_refused_for_scope_answers_409_and_stays_on_oauth(
    sim: Simulator,
    config_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    seed(store, sim.issue_tokens(scopes=NO_KEY_SCOPES))
    gateway = await start_gateway(config_path)
    before = config_path.read_bytes()

    answer = await http.post(f"{gateway.proxy.url}/_ccm/providers/{NAME}/derive-key", json={})

    assert answer.status_code == 409
    assert answer.json()["ok"] is False
    assert "org:create_api_key" in answer.json()["message"]
    assert f"ccm-tui login {NAME} --console" in answer.json()["message"]
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert state["providers"][NAME]["auth"] == "oauth"
    assert config_path.read_bytes() == before
    assert (await send_cc(http, gateway.proxy.url)).status_code == 200  # OAuth still works
    assert sim.requests(NAME)[0].header("authorization") is not None


async def test_derived_key_rejected_with_401_is_derived_again_once_and_the_request_retried(
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    config = write_config(tmp_path / "config.toml", sim, store=store, oauth_extra=DERIVED)
    grant = sim.issue_tokens()
    created = await http.post(
        sim.create_api_key_url, headers={"Authorization": f"Bearer {grant.access_token}"}
    )
    old_key = created.json()["raw_key"]
    seed(store, grant, api_key=old_key)
    gateway = await start_gateway(config)
    sim.revoke_api_key(old_key)  # e.g. deleted in the Console

    response = await send_cc(http, gateway.proxy.url)

    assert response.status_code == 200
    assert text_of(response) == sim.text(NAME)
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert attempts(state) == [(NAME, "auth_error", 401), (NAME, "ok", 200)]
    new_key = stored(store)["api_key"]
    assert new_key != old_key
    assert create_key_calls(sim) == 2  # ours above, and the one re-derive
    refused, retried = sim.requests(NAME)
    assert (refused.header("x-api-key"), retried.header("x-api-key")) == (old_key, new_key)


async def test_use_derived_key_without_a_stored_key_derives_one_on_first_use(
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    config = write_config(tmp_path / "config.toml", sim, store=store, oauth_extra=DERIVED)
    seed(store, sim.issue_tokens())  # as claude-code-mux leaves it: no api_key field
    gateway = await start_gateway(config)

    first = await send_cc(http, gateway.proxy.url)
    second = await send_cc(http, gateway.proxy.url)

    assert text_of(first) == text_of(second) == sim.text(NAME)
    assert create_key_calls(sim) == 1
    key = stored(store)["api_key"]
    assert [r.header("x-api-key") for r in sim.requests(NAME)] == [key, key]
    assert all(OAUTH_BETA not in upstream_betas(r) for r in sim.requests(NAME))


async def test_use_derived_key_that_cannot_be_derived_is_an_auth_error_and_fails_over(
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    config = write_config(tmp_path / "config.toml", sim, store=store, oauth_extra=DERIVED)
    seed(store, sim.issue_tokens(scopes=NO_KEY_SCOPES))
    gateway = await start_gateway(config)

    response = await send_cc(http, gateway.proxy.url)

    assert response.status_code == 200
    assert text_of(response) == sim.text(BACKUP)
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert attempts(state) == [(NAME, "auth_error", None), (BACKUP, "ok", 200)]
    assert "org:create_api_key" in state["requests"][0]["attempts"][0]["message"]
    assert "org:create_api_key" in token_state(state)["refresh_message"]
    assert sim.requests(NAME) == []


async def test_many_requests_on_a_revoked_derived_key_derive_one_new_key(
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    config = write_config(
        tmp_path / "config.toml", sim, store=store, oauth_extra=DERIVED, extra=PATIENT_BREAKER
    )
    seed(store, sim.issue_tokens())
    gateway = await start_gateway(config)
    assert text_of(await send_cc(http, gateway.proxy.url)) == sim.text(NAME)  # derives one
    old_key = stored(store)["api_key"]
    sim.revoke_api_key(old_key)
    sim.scenario("create_api_key", latency_ms=300)  # the new key takes a while to come

    responses = await asyncio.gather(*(send_cc(http, gateway.proxy.url) for _ in range(20)))

    assert {text_of(r) for r in responses} == {sim.text(NAME)}
    assert create_key_calls(sim) == 2  # the first key, and one replacement for all twenty
    new_key = stored(store)["api_key"]
    sent = [r.header("x-api-key") for r in sim.requests(NAME)[1:]]
    assert set(sent) == {old_key, new_key}
    assert len(sent) == 20 + sent.count(old_key)  # each refused request retried once
