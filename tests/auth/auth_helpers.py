"""Helpers for the auth tests (a module of its own: conftest modules are not importable)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ccm_tui.auth.store import TokenEntry
from ccm_tui.config import ProviderConfig
from ccm_tui.events import AuthMode
from ccm_tui.providers.registry import KeyHeader, WireFormat


def provider(
    name: str,
    token_id: str | None = None,
    auth: AuthMode = AuthMode.OAUTH,
    use_derived_key: bool = False,
) -> ProviderConfig:
    return ProviderConfig(
        name=name,
        provider_type="anthropic",
        auth_type=auth,
        base_url="https://api.anthropic.com",
        format=WireFormat.ANTHROPIC,
        key_header=KeyHeader.X_API_KEY,
        oauth_provider=token_id if auth is AuthMode.OAUTH else None,
        use_derived_key=use_derived_key,
    )


def entry(
    token_id: str,
    access: str = "sk-ant-oat01-access-aaaaaaaaaaaaaaaa",
    refresh: str = "sk-ant-ort01-refresh-bbbbbbbbbbbbbbbb",
    expires_in_s: float = 8 * 3600,
    **kwargs: object,
) -> TokenEntry:
    expires = datetime.fromtimestamp(int(time.time() + expires_in_s), UTC)
    return TokenEntry(token_id, access, refresh, expires, **kwargs)  # type: ignore[arg-type]
