"""Claude Code's own login (`~/.claude/.credentials.json`), read-only.

ccm-tui shows its expiry and can copy it into the token store
(`ccm-tui import claude-code NAME`), but never writes Claude Code's file: Claude
Code owns it and refreshes it itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ccm_tui.auth.store import TokenEntry, TokenStore
from ccm_tui.paths import claude_code_credentials_path, display

TOKEN_ID = "claude-code"  # the token_id its TokenStateChanged events carry


class ClaudeCodeCredentialsError(Exception):
    """Claude Code's credentials file exists but cannot be read or understood."""


@dataclass(frozen=True, slots=True)
class ClaudeCodeLogin:
    """Claude Code's claude.ai login. Secrets are left out of the repr."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime | None
    scopes: tuple[str, ...]
    subscription_type: str | None
    path: Path

    @property
    def expires_at_epoch(self) -> float | None:
        return self.expires_at.timestamp() if self.expires_at else None


def read_claude_code_login(path: Path | None = None) -> ClaudeCodeLogin | None:
    """The login, or None when Claude Code has none (no file, or no `claudeAiOauth`)."""
    path = path if path is not None else claude_code_credentials_path()
    where = f"Claude Code's credentials {display(path)}"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise ClaudeCodeCredentialsError(
            f"{where} cannot be read ({err.strerror or type(err).__name__})"
        ) from None
    return parse_claude_code_login(data, path)


def parse_claude_code_login(data: bytes, path: Path) -> ClaudeCodeLogin | None:
    """The login in the file's bytes (`path` is for messages), or None when there is none."""
    where = f"Claude Code's credentials {display(path)}"
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ClaudeCodeCredentialsError(
            f"{where} is not valid JSON: log in to Claude Code again (`claude /login`)"
        ) from None
    if not isinstance(document, dict):
        raise ClaudeCodeCredentialsError(f"{where} is not a JSON object")
    oauth = document.get("claudeAiOauth")
    if oauth is None:
        return None
    problem = _problem(oauth)
    if problem:
        raise ClaudeCodeCredentialsError(f"{where}: claudeAiOauth {problem}")
    expires_ms = oauth.get("expiresAt")
    scopes = oauth.get("scopes")
    subscription = oauth.get("subscriptionType")
    return ClaudeCodeLogin(
        access_token=oauth["accessToken"],
        refresh_token=oauth.get("refreshToken") or None,
        expires_at=(
            datetime.fromtimestamp(expires_ms / 1000, UTC) if expires_ms is not None else None
        ),
        scopes=tuple(s for s in scopes if isinstance(s, str)) if isinstance(scopes, list) else (),
        subscription_type=subscription if isinstance(subscription, str) else None,
        path=path,
    )


def _problem(oauth: Any) -> str:
    """What is wrong with a `claudeAiOauth` object (never its values), or ""."""
    if not isinstance(oauth, dict):
        return "is not a JSON object"
    if not isinstance(oauth.get("accessToken"), str) or not oauth["accessToken"]:
        return "has no accessToken"
    refresh = oauth.get("refreshToken")
    if refresh is not None and not isinstance(refresh, str):
        return "refreshToken is not a string"
    expires = oauth.get("expiresAt")
    if expires is not None and (not isinstance(expires, int | float) or isinstance(expires, bool)):
        return "expiresAt is not a number of milliseconds"
    return ""


def import_into_store(store: TokenStore, token_id: str, login: ClaudeCodeLogin) -> TokenEntry:
    """Copies the login into the store under `token_id`, keeping the entry's unknown fields.

    The refresh token is then shared: whichever program refreshes first rotates it,
    and the other one's copy stops working (it must log in again).
    """
    if not login.refresh_token:
        raise ClaudeCodeCredentialsError(
            f"Claude Code's credentials {display(login.path)} hold no refresh token: "
            f"ccm-tui could not keep it fresh; run `ccm-tui login {token_id}` instead"
        )
    if login.expires_at is None:
        raise ClaudeCodeCredentialsError(
            f"Claude Code's credentials {display(login.path)} give no expiresAt"
        )
    refresh_token = login.refresh_token
    expires_at = login.expires_at

    def merge(old: TokenEntry | None) -> TokenEntry:
        if old is None:
            return TokenEntry(token_id, login.access_token, refresh_token, expires_at)
        # A new credential: a key derived from another login may belong to another org.
        api_key = old.api_key if old.access_token == login.access_token else None
        return replace(
            old,
            access_token=login.access_token,
            refresh_token=refresh_token,
            expires_at=expires_at,
            api_key=api_key,
        )

    with store.transaction() as tx:
        entry = merge(tx.get(token_id))
        tx.put(entry)
    return entry
