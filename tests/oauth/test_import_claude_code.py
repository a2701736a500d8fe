"""Claude Code's own login (`$CLAUDE_CONFIG_DIR/.credentials.json`): copied into the store by
`ccm-tui import claude-code NAME`, shown read-only to passthrough users, never written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from oauth_helpers import (
    NAME,
    TOKEN_ID,
    GatewayFactory,
    ccm,
    cli_env,
    send_cc,
    stored,
    text_of,
    write_config,
)

from ccm_tui.auth.store import parse_time
from ccm_tui.masking import mask
from ccm_tui.sim import Simulator
from ccm_tui.sim.oauth import TokenGrant


def claude_code_file(directory: Path, grant: TokenGrant) -> tuple[Path, dict[str, Any]]:
    """Claude Code's credentials as it writes them: expiresAt in ms, keys ccm-tui ignores."""
    login = {
        "accessToken": grant.access_token,
        "refreshToken": grant.refresh_token,
        "expiresAt": int(grant.expires_at * 1000),
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
        "rateLimitTier": "default_claude_max_20x",
    }
    document = {
        "claudeAiOauth": login,
        "mcpOAuth": {"linear": {"accessToken": "mcp-token-not-ours-0123456789abcdef"}},
        "organizationUuid": "5a1e0000-0000-4000-8000-00000000c0de",
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".credentials.json"
    path.write_text(json.dumps(document, indent=2))
    path.chmod(0o600)
    return path, login


async def test_import_copies_the_login_into_the_store_and_never_touches_claude_codes_file(
    sim: Simulator, tmp_path: Path, store: Path, home: Path
):
    config = write_config(tmp_path / "config.toml", sim, store=store)
    path, login = claude_code_file(tmp_path / "claude-config", sim.issue_tokens())
    os.utime(path, ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))
    before, seen = path.read_bytes(), path.stat()
    env = cli_env(home, CLAUDE_CONFIG_DIR=str(path.parent))

    result = await ccm(env, "import", "claude-code", NAME, "--config", str(config))

    assert result.code == 0, result.output
    entry = stored(store)
    assert entry["access_token"] == login["accessToken"]
    assert entry["refresh_token"] == login["refreshToken"]
    assert parse_time(entry["expires_at"]).timestamp() == pytest.approx(
        login["expiresAt"] / 1000, abs=0.001
    )
    assert entry["expires_at"].endswith("Z")
    assert path.read_bytes() == before
    after = path.stat()
    assert (after.st_mtime_ns, after.st_mode, after.st_ino) == (
        seen.st_mtime_ns,
        seen.st_mode,
        seen.st_ino,
    )
    assert mask(login["accessToken"]) in result.out
    for secret in (login["accessToken"], login["refreshToken"]):
        assert secret not in result.output


async def test_imported_login_serves_claude_code_traffic_through_the_proxy(
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    home: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    config = write_config(tmp_path / "config.toml", sim, store=store)
    path, login = claude_code_file(tmp_path / "claude-config", sim.issue_tokens())
    env = cli_env(home, CLAUDE_CONFIG_DIR=str(path.parent))
    assert (await ccm(env, "import", "claude-code", NAME, "--config", str(config))).code == 0
    gateway = await start_gateway(config)

    response = await send_cc(http, gateway.proxy.url)

    assert text_of(response) == sim.text(NAME)
    assert sim.requests(NAME)[0].header("authorization") == f"Bearer {login['accessToken']}"
    assert TOKEN_ID in json.loads(store.read_text())


async def test_claude_codes_login_appears_read_only_in_the_state_for_a_passthrough_config(
    sim: Simulator,
    tmp_path: Path,
    store: Path,
    start_gateway: GatewayFactory,
    http: httpx.AsyncClient,
):
    config = write_config(tmp_path / "config.toml", sim, store=store, passthrough=True)
    path, login = claude_code_file(tmp_path / "claude-config", sim.issue_tokens())
    before = path.read_bytes()
    gateway = await start_gateway(config, claude_code_path=path)

    state = (await http.get(gateway.proxy.url + "/_ccm/state")).json()

    (token,) = [t for t in state["tokens"] if t["token_id"] == "claude-code"]
    assert token["source"] == "claude-code"
    assert token["read_only"] is True
    assert token["providers"] == ["claude"]
    assert token["access_token"] == mask(login["accessToken"])
    assert token["expires_at"] == pytest.approx(login["expiresAt"] / 1000, abs=0.001)
    assert login["accessToken"] not in json.dumps(state)
    assert path.read_bytes() == before


async def test_import_of_a_login_without_a_refresh_token_is_an_error_not_a_traceback(
    sim: Simulator, tmp_path: Path, store: Path, home: Path
):
    config = write_config(tmp_path / "config.toml", sim, store=store)
    path, login = claude_code_file(tmp_path / "claude-config", sim.issue_tokens())
    document = json.loads(path.read_text())
    del document["claudeAiOauth"]["refreshToken"]
    path.write_text(json.dumps(document))
    env = cli_env(home, CLAUDE_CONFIG_DIR=str(path.parent))

    result = await ccm(env, "import", "claude-code", NAME, "--config", str(config))

    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert "hold no refresh token" in result.err
    assert login["accessToken"] not in result.output
    assert not store.exists()


async def test_import_into_a_corrupt_store_is_an_error_and_leaves_the_store_alone(
    sim: Simulator, tmp_path: Path, store: Path, home: Path
):
    config = write_config(tmp_path / "config.toml", sim, store=store)
    path, login = claude_code_file(tmp_path / "claude-config", sim.issue_tokens())
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text("{oops")
    env = cli_env(home, CLAUDE_CONFIG_DIR=str(path.parent))

    result = await ccm(env, "import", "claude-code", NAME, "--config", str(config))

    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    assert "is not valid JSON" in result.err
    assert login["accessToken"] not in result.output
    assert store.read_text() == "{oops"
