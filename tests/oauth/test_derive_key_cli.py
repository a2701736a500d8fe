"""`ccm-tui derive-key NAME` and `ccm-tui use-oauth NAME`: the switch from a shell, saved in
config.toml with every other byte kept, applied at once by a running `ccm-tui serve`."""

from __future__ import annotations

from pathlib import Path

import httpx
from oauth_helpers import (
    NAME,
    OAUTH_BETA,
    TOKEN_ID,
    ccm,
    changed_lines,
    login,
    seed,
    send_cc,
    serve,
    stored,
    text_of,
    upstream_betas,
    watching,
    write_config,
)

from ccm_tui.masking import mask
from ccm_tui.sim import Simulator

from e2e.procs import free_port

SWITCHABLE = "use_derived_key = false   # derive-key flips this"


async def test_derive_key_saves_only_that_line_and_a_running_serve_switches_at_once(
    sim: Simulator, tmp_path: Path, store: Path, env: dict[str, str], http: httpx.AsyncClient
):
    config = write_config(
        tmp_path / "config.toml", sim, store=store, port=free_port(), oauth_extra=SWITCHABLE
    )
    seed(store, sim.issue_tokens())
    before = config.read_bytes()
    async with (
        serve(env, "--config", str(config)) as served,
        watching(http, served.url) as events,
    ):
        assert (await send_cc(http, served.url)).status_code == 200  # on OAuth

        result = await ccm(env, "derive-key", NAME, "--config", str(config))

        assert result.code == 0, result.output
        key = stored(store)["api_key"]
        assert mask(key) in result.out
        assert key not in result.output
        assert "switched at once" in result.out
        state = (await http.get(served.url + "/_ccm/state")).json()
        assert state["providers"][NAME]["auth"] == "derived_key"
        response = await send_cc(http, served.url)
        assert text_of(response) == sim.text(NAME)
        # The Tokens pane of an attached monitor learns of the key and the switch too.
        await events.wait_for_event(
            "TokenStateChanged", token_id=TOKEN_ID, derived_key=mask(key), derived_key_in_use=True
        )
    oauth, derived = sim.requests(NAME)
    assert oauth.header("authorization") is not None and oauth.header("x-api-key") is None
    assert derived.header("x-api-key") == key and derived.header("authorization") is None
    assert OAUTH_BETA not in upstream_betas(derived)
    assert changed_lines(before, config.read_bytes()) == (
        [SWITCHABLE.encode() + b"\n"],
        [SWITCHABLE.replace("false", "true").encode() + b"\n"],
    )


async def test_use_oauth_switches_a_running_serve_back_and_restores_the_file(
    sim: Simulator, tmp_path: Path, store: Path, env: dict[str, str], http: httpx.AsyncClient
):
    derived_line = SWITCHABLE.replace("false", "true")
    config = write_config(
        tmp_path / "config.toml", sim, store=store, port=free_port(), oauth_extra=derived_line
    )
    grant = sim.issue_tokens()
    seed(store, grant)
    original = config.read_bytes()
    async with (
        serve(env, "--config", str(config)) as served,
        watching(http, served.url) as events,
    ):
        assert (await send_cc(http, served.url)).status_code == 200  # derives its key
        key = stored(store)["api_key"]

        result = await ccm(env, "use-oauth", NAME, "--config", str(config))

        assert result.code == 0, result.output
        assert "switched at once" in result.out
        state = (await http.get(served.url + "/_ccm/state")).json()
        assert state["providers"][NAME]["auth"] == "oauth"
        assert (await send_cc(http, served.url)).status_code == 200
        await events.wait_for_event(
            "TokenStateChanged", token_id=TOKEN_ID, derived_key=mask(key), derived_key_in_use=False
        )
    derived, oauth = sim.requests(NAME)
    assert derived.header("x-api-key") == key
    assert oauth.header("authorization") == f"Bearer {grant.access_token}"
    assert OAUTH_BETA in upstream_betas(oauth)
    assert changed_lines(original, config.read_bytes()) == (
        [derived_line.encode() + b"\n"],
        [SWITCHABLE.encode() + b"\n"],
    )
    assert stored(store)["api_key"] == key  # kept for the next switch


async def test_derive_key_refused_for_scope_says_how_to_log_in_and_leaves_everything_as_it_was(
    tmp_path: Path, store: Path, env: dict[str, str], http: httpx.AsyncClient
):
    # A Pro/Max login, as the real service grants it: without org:create_api_key.
    sim = Simulator(max_drops_api_key_scope=True)
    async with sim.serve("127.0.0.1", 0):
        config = write_config(tmp_path / "config.toml", sim, store=store, oauth_extra=SWITCHABLE)
        logged_in, _ = await login(env, config, http)
        assert logged_in.code == 0, logged_in.output
        before = config.read_bytes()

        result = await ccm(env, "derive-key", NAME, "--config", str(config))

    assert result.code != 0
    message = " ".join(result.err.split())
    assert "org:create_api_key" in message
    assert f"ccm-tui login {NAME} --console" in message
    assert "stays on OAuth" in message
    assert "Traceback" not in result.output
    assert config.read_bytes() == before
    assert "api_key" not in stored(store)


async def test_derive_key_with_a_token_the_server_expired_refreshes_once_and_succeeds(
    sim: Simulator, tmp_path: Path, store: Path, env: dict[str, str]
):
    config = write_config(tmp_path / "config.toml", sim, store=store, oauth_extra=SWITCHABLE)
    grant = sim.issue_tokens()
    seed(store, grant)
    sim.expire(grant.access_token)

    result = await ccm(env, "derive-key", NAME, "--config", str(config))

    assert result.code == 0, result.output
    assert [r["grant_type"] for r in sim.token_requests] == ["refresh_token"]
    assert stored(store)["api_key"].startswith("sk-ant-api03-")
    assert stored(store)["access_token"] != grant.access_token
    assert "no proxy is running" in result.out
