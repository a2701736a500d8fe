"""Helpers for the auth tests (a module of its own: conftest modules are not importable)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ccm_tui.auth.store import TokenEntry, TokenStore
from ccm_tui.auth.tokens import TokenManager
from ccm_tui.config import ProviderConfig
from ccm_tui.events import AuthMode, Subscription, TokenStateChanged
from ccm_tui.providers.registry import KeyHeader, WireFormat
from ccm_tui.sim import Simulator
from ccm_tui.sim.oauth import TokenGrant as SimGrant

ID = "claude-max"  # the token id the manager tests use
NAME = "claude-max"  # and the provider that uses it

MakeManager = Callable[..., TokenManager]


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


def seed(
    store: TokenStore,
    sim: Simulator,
    expires_in_s: float = 8 * 3600,
    token_id: str = ID,
    scopes: tuple[str, ...] | None = None,
    **kwargs: Any,
) -> SimGrant:
    """A real simulator grant, stored as expiring in `expires_in_s` (the sim still honours it)."""
    grant = sim.issue_tokens() if scopes is None else sim.issue_tokens(scopes=scopes)
    store.put(entry(token_id, grant.access_token, grant.refresh_token, expires_in_s, **kwargs))
    return grant


def refreshes(sim: Simulator) -> list[dict[str, Any]]:
    return [r for r in sim.token_requests if r.get("grant_type") == "refresh_token"]


def token_events(subscription: Subscription, token_id: str = ID) -> list[TokenStateChanged]:
    return [
        e
        for e in subscription.drain()
        if isinstance(e, TokenStateChanged) and e.token_id == token_id
    ]


async def next_token_event(
    subscription: Subscription, match: Callable[[TokenStateChanged], bool]
) -> TokenStateChanged:
    """Waits (no polling) for the first published token event that matches."""

    async def wait() -> TokenStateChanged:
        while True:
            for event in await subscription.get_batch():
                if isinstance(event, TokenStateChanged) and match(event):
                    return event

    return await asyncio.wait_for(wait(), timeout=10)
