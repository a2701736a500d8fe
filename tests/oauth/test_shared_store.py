"""`--tokens` on claude-code-mux's own store: ccm-tui refreshes only its Anthropic entry and
leaves the others (a Gemini login here) exactly as they were, never sending them anywhere."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from oauth_helpers import NAME, TOKEN_ID, cli_env, send_cc, serve, text_of, write_config

from ccm_tui.sim import Simulator

GEMINI = {
    "provider_id": "gemini",
    "access_token": "ya29.a0-gemini-access-token-0123456789abcdef",
    "refresh_token": "1//0g-gemini-refresh-token-0123456789abcdef",
    "expires_at": "2025-01-01T00:00:00+00:00",  # long expired: a refresher would try it
    "project_id": "my-gcp-project",
    "scopes": ["https://www.googleapis.com/auth/cloud-platform"],
}


async def test_serve_with_a_claude_code_mux_store_refreshes_only_its_own_entry(
    sim: Simulator, tmp_path: Path, home: Path, http: httpx.AsyncClient
):
    grant = sim.issue_tokens()
    soon = datetime.now(UTC) + timedelta(seconds=60)  # inside the margin: refreshed at start
    mux = home / ".claude-code-mux" / "oauth_tokens.json"
    mux.parent.mkdir(mode=0o700)
    mux.write_text(
        json.dumps(
            {
                "gemini": GEMINI,
                TOKEN_ID: {
                    "provider_id": TOKEN_ID,
                    "access_token": grant.access_token,
                    "refresh_token": grant.refresh_token,
                    "expires_at": soon.isoformat(),  # claude-code-mux writes +00:00
                },
            },
            indent=2,
        )
    )
    mux.chmod(0o600)
    config = write_config(tmp_path / "config.toml", sim)  # no token_store: --tokens decides

    async with serve(cli_env(home), "--config", str(config), "--tokens", str(mux)) as served:
        response = await send_cc(http, served.url)
        state = (await http.get(served.url + "/_ccm/state")).json()

    assert text_of(response) == sim.text(NAME)
    document = json.loads(mux.read_text())
    assert document["gemini"] == GEMINI
    assert document[TOKEN_ID]["refresh_token"] != grant.refresh_token  # rotated, saved there
    assert document[TOKEN_ID]["expires_at"].endswith("Z")
    assert [r.get("refresh_token") for r in sim.token_requests] == [grant.refresh_token]
    gemini = next(t for t in state["tokens"] if t["token_id"] == "gemini")
    assert gemini["read_only"] is True
    assert gemini["refresh"] == "idle"
    assert GEMINI["access_token"] not in json.dumps(state)
