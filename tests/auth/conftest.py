"""Shared fixtures: an isolated home, a token store in tmp, the simulated upstream, a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ccm_tui.auth.store import TokenStore
from ccm_tui.auth.tokens import TokenManager
from ccm_tui.config import OAuthSettings, ProviderConfig
from ccm_tui.events import EventBus, Subscription
from ccm_tui.sim import Simulator

from auth_helpers import ID, NAME, MakeManager, provider


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No test may read or write the real ~/.claude or ~/.local/share."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "CLAUDE_CONFIG_DIR"):
        monkeypatch.delenv(var, raising=False)
    yield home


@pytest.fixture
def store(tmp_path: Path) -> TokenStore:
    return TokenStore(tmp_path / "data" / "ccm-tui" / "oauth_tokens.json")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator()
    async with simulator.serve(host="127.0.0.1", port=0):
        yield simulator


@pytest.fixture
def settings(sim: Simulator) -> OAuthSettings:
    base = sim.base_url
    return OAuthSettings(
        authorize_url=f"{base}/oauth/authorize",
        console_authorize_url=f"{base}/console/oauth/authorize",
        token_url=f"{base}/v1/oauth/token",
        create_api_key_url=f"{base}/api/oauth/claude_cli/create_api_key",
    )


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def events(bus: EventBus) -> Subscription:
    return bus.subscribe()


@pytest.fixture
async def make_manager(
    store: TokenStore,
    settings: OAuthSettings,
    bus: EventBus,
    client: httpx.AsyncClient,
    tmp_path: Path,
) -> AsyncIterator[MakeManager]:
    made: list[TokenManager] = []

    def make(
        providers: tuple[ProviderConfig, ...] = (provider(NAME, ID),), **kwargs: Any
    ) -> TokenManager:
        kwargs.setdefault("claude_code_path", tmp_path / "claude" / ".credentials.json")
        manager = TokenManager(
            kwargs.pop("store", store), settings, bus, providers, client, **kwargs
        )
        made.append(manager)
        return manager

    yield make
    for manager in made:
        await manager.close()
