"""Anthropic OAuth: the token store, the protocol, fresh tokens, Claude Code's own login."""

from __future__ import annotations

from ccm_tui.auth.claude_code import (
    ClaudeCodeCredentialsError,
    ClaudeCodeLogin,
    import_into_store,
    parse_claude_code_login,
    read_claude_code_login,
)
from ccm_tui.auth.oauth import (
    InvalidGrant,
    OAuthError,
    Pkce,
    ScopeRefused,
    TokenExpired,
    TokenGrant,
    authorize_url,
    create_api_key,
    exchange_code,
    parse_pasted_code,
    refresh_grant,
)
from ccm_tui.auth.status import NotLoggedIn, RefreshFailed
from ccm_tui.auth.store import TokenEntry, TokenStore, TokenStoreError
from ccm_tui.auth.tokens import TokenManager

__all__ = [
    "ClaudeCodeCredentialsError",
    "ClaudeCodeLogin",
    "InvalidGrant",
    "NotLoggedIn",
    "OAuthError",
    "Pkce",
    "RefreshFailed",
    "ScopeRefused",
    "TokenEntry",
    "TokenExpired",
    "TokenGrant",
    "TokenManager",
    "TokenStore",
    "TokenStoreError",
    "authorize_url",
    "create_api_key",
    "exchange_code",
    "import_into_store",
    "parse_claude_code_login",
    "parse_pasted_code",
    "read_claude_code_login",
    "refresh_grant",
]
