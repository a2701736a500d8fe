"""`ccm-tui login NAME` as a person runs it: open the printed URL, paste CODE#STATE back."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
from oauth_helpers import NAME, TOKEN_ID, login, stored, write_config

from ccm_tui.masking import mask
from ccm_tui.sim import Simulator


def default_store(home: Path) -> Path:
    return home / ".local" / "share" / "ccm-tui" / "oauth_tokens.json"


async def test_login_stores_the_token_under_the_oauth_provider_id_in_a_private_file(
    sim: Simulator, tmp_path: Path, home: Path, env: dict[str, str], http: httpx.AsyncClient
):
    config = write_config(tmp_path / "config.toml", sim)  # no token_store: the XDG default

    result, url = await login(env, config, http)

    assert result.code == 0, result.output
    assert url.startswith(sim.authorize_url("max") + "?")
    assert sim.authorize_requests[-1]["kind"] == "max"
    path = default_store(home)
    entry = stored(path)
    assert entry["provider_id"] == TOKEN_ID
    assert entry["access_token"].startswith("sk-ant-oat01-")
    assert entry["expires_at"].endswith("Z")
    assert set(json.loads(path.read_text())) == {TOKEN_ID}  # not under the provider's name
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # The CLI shows the token masked, and neither secret in full.
    assert mask(entry["access_token"]) in result.out
    assert entry["access_token"] not in result.output
    assert entry["refresh_token"] not in result.output


async def test_console_login_sends_the_user_to_the_console_page(
    sim: Simulator, tmp_path: Path, home: Path, env: dict[str, str], http: httpx.AsyncClient
):
    config = write_config(tmp_path / "config.toml", sim)

    result, url = await login(env, config, http, "--console")

    assert result.code == 0, result.output
    assert url.startswith(sim.authorize_url("console") + "?")
    assert sim.authorize_requests[-1]["kind"] == "console"
    assert stored(default_store(home))["access_token"].startswith("sk-ant-oat01-")


async def test_login_with_a_wrong_code_fails_with_a_clear_message_and_stores_nothing(
    sim: Simulator, tmp_path: Path, home: Path, env: dict[str, str], http: httpx.AsyncClient
):
    config = write_config(tmp_path / "config.toml", sim)

    result, _ = await login(
        env, config, http, paste=lambda line: "not-the-code" + line[line.index("#") :]
    )

    assert result.code != 0
    assert "code was refused" in result.err
    assert f"ccm-tui login {NAME}" in result.err
    assert "Traceback" not in result.output
    assert not default_store(home).exists()
