"""The refusal of claude-code-mux issue 7 ("only authorized for use with Claude Code"): counted
as `oauth_scope`, failed over without opening the breaker, and with `auto_derive_api_key` the
provider moves itself to its derived key and the request is retried there."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import anthropic
import httpx
from oauth_helpers import (
    BACKUP,
    NAME,
    NO_KEY_SCOPES,
    OAUTH_BETA,
    TOKEN_ID,
    GatewayFactory,
    changed_lines,
    login,
    seed,
    send_cc,
    stored,
    text_of,
    upstream_betas,
    write_config,
)

from ccm_tui import actions
from ccm_tui.config import load_config
from ccm_tui.events import Notice
from ccm_tui.sim import Simulator
from ccm_tui.sim.traffic import BETAS
from ccm_tui.sim.wire import MSG_CLAUDE_CODE_ONLY

from e2e.procs import free_port


def attempts(state: dict[str, Any], index: int = 0) -> list[tuple[str, str, int | None]]:
    return [
        (a["provider"], a["failure"], a["status"]) for a in state["requests"][index]["attempts"]
    ]


async def test_claude_code_only_400_counts_as_oauth_scope_and_fails_over_with_the_breaker_closed(
    sim: Simulator,
    config_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    seed(store, sim.issue_tokens())
    gateway = await start_gateway(config_path)
    sim.scenario(NAME, claude_code_only=True)
    before = config_path.read_bytes()

    for _ in range(4):  # more than the 3 failures that open a breaker
        response = await send_cc(http, gateway.proxy.url)
        assert response.status_code == 200
        assert text_of(response) == sim.text(BACKUP)

    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert attempts(state) == [(NAME, "oauth_scope", 400), (BACKUP, "ok", 200)]
    assert state["providers"][NAME]["counts"] == {"oauth_scope": 4}
    assert state["providers"][NAME]["breaker"]["state"] == "closed"
    assert state["providers"][NAME]["auth"] == "oauth"
    assert len(sim.requests(NAME)) == 4  # still tried first every time
    assert config_path.read_bytes() == before  # no automatic switch unless asked for


async def test_a_client_that_is_not_claude_code_is_refused_upstream_and_served_by_the_next(
    sim: Simulator,
    config_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    seed(store, sim.issue_tokens())
    gateway = await start_gateway(config_path)
    client = anthropic.AsyncAnthropic(base_url=gateway.proxy.url, api_key="anything", max_retries=0)

    reply = await client.messages.create(
        model="claude-sonnet-4-5", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
    )

    assert reply.content[0].text == sim.text(BACKUP)
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert attempts(state) == [(NAME, "oauth_scope", 400), (BACKUP, "ok", 200)]
    assert MSG_CLAUDE_CODE_ONLY[:40] in state["requests"][0]["attempts"][0]["message"]


async def test_auto_derive_switches_the_provider_retries_on_the_derived_key_and_saves_the_choice(
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    config_path = write_config(
        tmp_path / "config.toml", sim, store=store, oauth_extra="auto_derive_api_key = true"
    )
    grant = sim.issue_tokens()
    seed(store, grant)
    gateway = await start_gateway(config_path)
    sim.scenario(NAME, claude_code_only=True)
    before = config_path.read_bytes()

    response = await send_cc(http, gateway.proxy.url)

    assert response.status_code == 200
    assert text_of(response) == sim.text(NAME)  # retried on the same provider, now accepted
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert attempts(state) == [(NAME, "oauth_scope", 400), (NAME, "ok", 200)]
    assert sim.requests(BACKUP) == []
    key = stored(store)["api_key"]
    refused, retried = sim.requests(NAME)
    assert refused.header("authorization") == f"Bearer {grant.access_token}"
    assert retried.header("x-api-key") == key
    assert retried.header("authorization") is None
    assert OAUTH_BETA not in upstream_betas(retried)
    assert upstream_betas(retried) == BETAS.split(",")
    # Saved after the answer, in the provider's own table, every other byte as it was.
    saved = await gateway.log.wait_for(lambda e: isinstance(e, Notice) and "saved in" in e.message)
    assert saved.origin == ""  # nobody asked: every monitor shows it
    removed, added = changed_lines(before, config_path.read_bytes())
    assert (removed, added) == ([], [b"use_derived_key = true\n"])
    assert load_config(config_path).provider(NAME).use_derived_key is True  # type: ignore[union-attr]
    assert state["providers"][NAME]["auth"] == "derived_key"
    token = next(t for t in state["tokens"] if t["token_id"] == TOKEN_ID)
    assert token["derived_key_in_use"] is True

    again = await send_cc(http, gateway.proxy.url)  # from now on, straight to the key
    assert text_of(again) == sim.text(NAME)
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert attempts(state) == [(NAME, "ok", 200)]


async def test_the_automatic_switch_answers_before_the_config_file_is_written(
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
    monkeypatch,
):
    config_path = write_config(
        tmp_path / "config.toml", sim, store=store, oauth_extra="auto_derive_api_key = true"
    )
    seed(store, sim.issue_tokens())
    gateway = await start_gateway(config_path)
    sim.scenario(NAME, claude_code_only=True)
    answered = threading.Event()
    write = actions.set_provider_option

    def slow_disk(*args: Any) -> None:
        # A disk that takes as long as it likes: if the request waited for this write,
        # the answer would never come before the wait ends.
        answered.wait(timeout=10)
        write(*args)

    monkeypatch.setattr(actions, "set_provider_option", slow_disk)
    response = await send_cc(http, gateway.proxy.url)
    answered.set()

    assert text_of(response) == sim.text(NAME)
    assert b"use_derived_key" not in config_path.read_bytes()  # the answer came first
    await gateway.log.wait_for(lambda e: isinstance(e, Notice) and "saved in" in e.message)
    assert load_config(config_path).provider(NAME).use_derived_key is True  # type: ignore[union-attr]


async def test_auto_derive_refused_for_scope_keeps_oauth_fails_over_and_does_not_ask_again(
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    config_path = write_config(
        tmp_path / "config.toml", sim, store=store, oauth_extra="auto_derive_api_key = true"
    )
    seed(store, sim.issue_tokens(scopes=NO_KEY_SCOPES))  # a Pro/Max grant
    gateway = await start_gateway(config_path)
    sim.scenario(NAME, claude_code_only=True)
    before = config_path.read_bytes()

    for _ in range(2):
        response = await send_cc(http, gateway.proxy.url)
        assert text_of(response) == sim.text(BACKUP)

    assert len(sim.requests("create_api_key")) == 1  # refused once, not asked again
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert attempts(state) == [(NAME, "oauth_scope", 400), (BACKUP, "ok", 200)]
    assert state["providers"][NAME]["auth"] == "oauth"
    assert config_path.read_bytes() == before
    assert "api_key" not in stored(store)
    assert any("org:create_api_key" in n["message"] for n in state["notices"])


async def test_after_the_advised_console_login_the_automatic_switch_is_tried_again(
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    env: dict[str, str],
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    config_path = write_config(
        tmp_path / "config.toml",
        sim,
        store=store,
        port=free_port(),
        oauth_extra="auto_derive_api_key = true",
    )
    seed(store, sim.issue_tokens(scopes=NO_KEY_SCOPES))
    gateway = await start_gateway(config_path)
    sim.scenario(NAME, claude_code_only=True)
    assert text_of(await send_cc(http, gateway.proxy.url)) == sim.text(BACKUP)  # refused

    console, _ = await login(env, config_path, http, "--console")  # as the message advises
    assert console.code == 0, console.output
    assert "uses it at once" in console.out
    response = await send_cc(http, gateway.proxy.url)

    assert text_of(response) == sim.text(NAME)
    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()
    assert attempts(state) == [(NAME, "oauth_scope", 400), (NAME, "ok", 200)]
    assert state["providers"][NAME]["auth"] == "derived_key"
