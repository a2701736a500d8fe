"""Claude Code's own login: read it, import it, never write it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ccm_tui.auth.claude_code import (
    TOKEN_ID,
    ClaudeCodeCredentialsError,
    import_into_store,
    read_claude_code_login,
)
from ccm_tui.auth.store import TokenStore
from ccm_tui.auth.tokens import TokenManager
from ccm_tui.config import OAuthSettings
from ccm_tui.events import AuthMode, EventBus, TokenStateChanged

from auth_helpers import entry, provider

ACCESS = "sk-ant-oat01-claude-code-access-aaaaaaaaaaaa"
REFRESH = "sk-ant-ort01-claude-code-refresh-bbbbbbbbbbb"
EXPIRES_MS = 1_900_000_000_123


def credentials(**oauth_overrides: object) -> dict[str, object]:
    oauth: dict[str, object] = {
        "accessToken": ACCESS,
        "refreshToken": REFRESH,
        "expiresAt": EXPIRES_MS,
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
    }
    oauth.update(oauth_overrides)
    return {"claudeAiOauth": oauth, "mcpOAuth": {"server": {"accessToken": "other"}}}


@pytest.fixture
def credentials_file(isolated_home: Path) -> Path:
    path = isolated_home / ".claude" / ".credentials.json"
    path.parent.mkdir()
    path.write_text(json.dumps(credentials()))
    path.chmod(0o600)
    return path


def test_reads_the_login_from_the_default_path(credentials_file: Path) -> None:
    login = read_claude_code_login()
    assert login is not None
    assert login.access_token == ACCESS
    assert login.refresh_token == REFRESH
    assert login.expires_at == datetime.fromtimestamp(EXPIRES_MS / 1000, UTC)
    assert login.scopes == ("user:inference", "user:profile")
    assert login.subscription_type == "max"
    assert login.path == credentials_file
    assert ACCESS not in repr(login)
    assert REFRESH not in repr(login)


def test_claude_config_dir_moves_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (moved / ".credentials.json").write_text(json.dumps(credentials(subscriptionType="pro")))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(moved))
    login = read_claude_code_login()
    assert login is not None
    assert login.subscription_type == "pro"


def test_no_file_means_no_login(isolated_home: Path) -> None:
    assert read_claude_code_login() is None


def test_file_without_claude_ai_login_means_no_login(credentials_file: Path) -> None:
    credentials_file.write_text(json.dumps({"mcpOAuth": {}}))
    assert read_claude_code_login() is None


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('{"claudeAiOauth": {"accessToken": "sk-ant-oat01-x', "not valid JSON"),
        ("[]", "not a JSON object"),
        (json.dumps({"claudeAiOauth": {"refreshToken": REFRESH}}), "has no accessToken"),
        (json.dumps(credentials(expiresAt="tomorrow")), "expiresAt is not a number"),
    ],
)
def test_malformed_file_raises_a_clear_error_naming_the_file(
    credentials_file: Path, content: str, reason: str
) -> None:
    credentials_file.write_text(content)
    with pytest.raises(ClaudeCodeCredentialsError) as info:
        read_claude_code_login()
    assert reason in str(info.value)
    assert "~/.claude/.credentials.json" in str(info.value)
    assert REFRESH not in str(info.value)


def test_import_copies_tokens_and_keeps_unknown_fields(
    credentials_file: Path, store: TokenStore
) -> None:
    store.put(entry("claude-max", extra={"note": "mine"}))
    login = read_claude_code_login()
    assert login is not None
    imported = import_into_store(store, "claude-max", login)
    stored = store.get("claude-max")
    assert stored == imported
    assert stored.access_token == ACCESS
    assert stored.refresh_token == REFRESH
    assert stored.expires_at == login.expires_at
    assert stored.extra == {"note": "mine"}


def test_import_into_an_empty_store_creates_the_entry(
    credentials_file: Path, store: TokenStore
) -> None:
    login = read_claude_code_login()
    assert login is not None
    import_into_store(store, "claude-max", login)
    assert store.get("claude-max").refresh_token == REFRESH  # type: ignore[union-attr]


def test_import_of_a_login_without_refresh_token_is_refused(
    credentials_file: Path, store: TokenStore
) -> None:
    credentials_file.write_text(json.dumps(credentials(refreshToken=None)))
    login = read_claude_code_login()
    assert login is not None
    with pytest.raises(ClaudeCodeCredentialsError, match="no refresh token"):
        import_into_store(store, "claude-max", login)
    assert store.load() == {}


async def test_credentials_file_is_never_written(credentials_file: Path, store: TokenStore) -> None:
    before_bytes = credentials_file.read_bytes()
    before = credentials_file.stat()
    bus = EventBus()
    seen = bus.subscribe()
    login = read_claude_code_login()
    assert login is not None
    import_into_store(store, "claude-max", login)
    providers = [provider("claude-max", "claude-max"), provider("own", auth=AuthMode.PASSTHROUGH)]
    async with httpx.AsyncClient() as client:
        manager = TokenManager(store, OAuthSettings(), bus, providers, client)
        await manager.start()
        await manager.check()
        manager.publish_all()
        await manager.access_token("claude-max")  # fresh: no network
        await manager.close()
    after = credentials_file.stat()
    assert credentials_file.read_bytes() == before_bytes
    assert after.st_mtime_ns == before.st_mtime_ns
    assert after.st_ino == before.st_ino
    shown = [e for e in seen.drain() if isinstance(e, TokenStateChanged) and e.token_id == TOKEN_ID]
    assert shown
    assert shown[0].source == "claude-code"
    assert shown[0].read_only is True
    assert shown[0].providers == ("own",)
    assert shown[0].expires_at == pytest.approx(EXPIRES_MS / 1000)
    assert shown[0].access_token.endswith(ACCESS[-4:])
    assert ACCESS not in shown[0].access_token
