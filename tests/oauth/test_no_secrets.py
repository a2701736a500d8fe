"""No token or key, in full, anywhere a person or another program can see: `ccm-tui serve`'s
stderr, `/_ccm/state`, `/_ccm/events`, the CLI's output and the monitor's log file."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest
from oauth_helpers import (
    BACKUP,
    BACKUP_KEY,
    CLIENT_BEARER,
    NAME,
    PROXY_KEY,
    GatewayFactory,
    ccm,
    cli_env,
    seed,
    send_cc,
    serve,
    stored,
    text_of,
    watching,
    write_config,
)

from ccm_tui.cli.common import log_to_file
from ccm_tui.requestlog import RequestLogger
from ccm_tui.sim import Simulator

from e2e.procs import free_port


def assert_nothing_leaks(secrets: Iterable[str], **places: str) -> None:
    for secret in secrets:
        assert len(secret) > 16
        for where, text in places.items():
            assert secret not in text, f"a secret appears unmasked in {where}"
            assert secret[-12:] not in text, f"most of a secret appears in {where}"


def credentials_file(directory: Path, sim: Simulator) -> list[str]:
    grant = sim.issue_tokens()
    directory.mkdir()
    (directory / ".credentials.json").write_text(
        json.dumps(
            {
                "claudeAiOauth": {
                    "accessToken": grant.access_token,
                    "refreshToken": grant.refresh_token,
                    "expiresAt": int(grant.expires_at * 1000),
                }
            }
        )
    )
    return [grant.access_token, grant.refresh_token]


async def test_serve_state_events_and_cli_output_show_tokens_and_keys_only_masked(
    sim: Simulator, tmp_path: Path, store: Path, home: Path, http: httpx.AsyncClient
):
    config = write_config(
        tmp_path / "config.toml",
        sim,
        store=store,
        port=free_port(),
        server_extra=f'api_key = "{PROXY_KEY}"\nlog_level = "debug"',
        passthrough=True,
    )
    grant = sim.issue_tokens()
    seed(store, grant, expires_in_s=60)  # refreshed on the first request
    secrets = [grant.access_token, grant.refresh_token, PROXY_KEY, BACKUP_KEY, CLIENT_BEARER]
    secrets += credentials_file(tmp_path / "claude-config", sim)
    env = cli_env(home, CLAUDE_CONFIG_DIR=str(tmp_path / "claude-config"))
    client = {"x_api_key": PROXY_KEY, "authorization": f"Bearer {CLIENT_BEARER}"}
    outputs = []

    async with (
        serve(env, "--config", str(config)) as served,
        watching(http, served.url, PROXY_KEY) as events,
    ):
        assert text_of(await send_cc(http, served.url, **client)) == sim.text(NAME)
        refreshed = stored(store)
        secrets += [refreshed["access_token"], refreshed["refresh_token"]]
        sim.expire(refreshed["access_token"])  # a 401 "expired", and a second refresh
        assert text_of(await send_cc(http, served.url, **client)) == sim.text(NAME)
        secrets += [stored(store)["access_token"], stored(store)["refresh_token"]]

        derive = await ccm(env, "derive-key", NAME, "--config", str(config))
        assert derive.code == 0, derive.output
        assert "switched at once" in derive.out  # it used the proxy key to ask
        outputs.append(derive.output)
        first_key = stored(store)["api_key"]
        sim.revoke_api_key(first_key)  # a 401 on the key, and a second key
        assert text_of(await send_cc(http, served.url, **client)) == sim.text(NAME)
        secrets += [first_key, stored(store)["api_key"]]
        sim.scenario(NAME, status=401, error_message=f"x-api-key {stored(store)['api_key']} bad")
        await send_cc(http, served.url, **client)  # an error message echoing the key
        secrets.append(stored(store)["api_key"])  # derived again after that 401
        await events.wait_for('"type":"RequestFinished"', count=4)

        state = (await http.get(served.url + "/_ccm/state", headers={"x-ccm-key": PROXY_KEY})).text
        back = await ccm(env, "use-oauth", NAME, "--config", str(config))
        outputs.append(back.output)
    assert await served.stop() == 0
    assert "refreshed OAuth token" in served.log  # the log does talk about them, masked
    assert '"type":"TokenStateChanged"' in events.text
    assert '"token_id":"claude-code"' in state  # Claude Code's login was shown, masked

    assert_nothing_leaks(
        set(secrets),
        stderr=served.log,
        state=state,
        events=events.text,
        cli="".join(outputs),
    )


@pytest.fixture
def log_file(home: Path) -> Iterator[Path]:
    """The monitor's log file (`ccm-tui`, `demo` and `attach` log there, not to the screen)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    path = log_to_file()
    assert path.is_relative_to(home)
    yield path
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(False)


async def test_the_monitor_log_file_shows_tokens_and_keys_only_masked(
    sim: Simulator,
    log_file: Path,
    config_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    grant = sim.issue_tokens()
    seed(store, grant, expires_in_s=60)
    secrets = [grant.access_token, grant.refresh_token]
    gateway = await start_gateway(config_path)
    gateway.bus.add_listener(RequestLogger(gateway.state))
    url = gateway.proxy.url

    assert text_of(await send_cc(http, url)) == sim.text(NAME)  # a refresh
    refreshed = stored(store)
    secrets += [refreshed["access_token"], refreshed["refresh_token"]]
    assert (await http.post(f"{url}/_ccm/providers/{NAME}/derive-key", json={})).status_code == 200
    key = stored(store)["api_key"]
    secrets.append(key)
    # An upstream that echoes the credential back in its error, twice (re-derived between).
    sim.scenario(NAME, status=401, error_message=f"invalid x-api-key {key}")
    assert text_of(await send_cc(http, url)) == sim.text(BACKUP)
    secrets.append(stored(store)["api_key"])
    # Back on OAuth: a token the server expired, and a token endpoint echoing the refresh token.
    sim.scenario(NAME)
    assert (await http.post(f"{url}/_ccm/providers/{NAME}/use-oauth", json={})).status_code == 200
    sim.expire(refreshed["access_token"])
    sim.scenario(
        "oauth",
        status=400,
        error_type="invalid_grant",
        error_message=f"refresh token {refreshed['refresh_token']} was revoked",
    )
    assert text_of(await send_cc(http, url)) == sim.text(BACKUP)
    for handler in logging.getLogger().handlers:
        handler.flush()

    text = log_file.read_text()
    assert "derived an API key" in text and "refresh of OAuth token" in text
    assert_nothing_leaks(set(secrets), log=text)
