"""Fixtures for the OAuth integration tests: an isolated home, the simulator, gateways."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from oauth_helpers import GatewayFactory, cli_env, write_config

from ccm_tui.config import load_config
from ccm_tui.gateway import Gateway
from ccm_tui.sim import Simulator

from support import EventLog


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test (nor any process it starts) may touch the real ~/.claude or XDG dirs."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.delenv("CLAUDE_CONFIG_DIR", raising=False)
    return home


@pytest.fixture
def env(home: Path) -> dict[str, str]:
    return cli_env(home)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "tokens" / "oauth_tokens.json"


@pytest.fixture
def config_path(tmp_path: Path, sim: Simulator, store: Path) -> Path:
    return write_config(tmp_path / "config.toml", sim, store=store)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=20, trust_env=False) as client:
        yield client


@pytest.fixture
async def start_gateway(tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """Starts a Gateway (proxy + token manager, as `serve` runs them) on a free port."""
    started: list[Gateway] = []

    async def start(config: Path, **kwargs: object) -> Gateway:
        """The config's own port when it names one (so the CLI can reach it), else any."""
        kwargs.setdefault("claude_code_path", tmp_path / "no-claude-code" / ".credentials.json")
        loaded = load_config(config)
        gateway = Gateway(loaded, **kwargs)  # type: ignore[arg-type]
        gateway.log = EventLog()  # type: ignore[attr-defined]
        gateway.bus.add_listener(gateway.log)  # type: ignore[attr-defined]
        await gateway.start("127.0.0.1", loaded.server.port)
        started.append(gateway)
        return gateway

    yield start
    for gateway in started:
        await gateway.stop()
