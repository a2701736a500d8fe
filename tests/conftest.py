"""Shared fixtures: a real simulated upstream and real proxies, on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ccm_tui.config import Config, parse_config
from ccm_tui.proxy.app import Proxy
from ccm_tui.sim import Simulator

from support import EventLog, two_provider_config

ProxyFactory = Callable[..., Awaitable[Proxy]]


@pytest.fixture(autouse=True)
def own_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test (and the `serve` it starts) keeps its history and logs in a state dir of
    its own, never the user's: the usage history is on by default."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(seed=0)
    async with simulator.serve("127.0.0.1", 0):
        yield simulator


@pytest.fixture
async def make_proxy(tmp_path: Path) -> AsyncIterator[ProxyFactory]:
    started: list[Proxy] = []

    async def factory(config: str | Config, **kwargs: object) -> Proxy:
        if isinstance(config, str):
            path = tmp_path / f"config{len(started)}.toml"
            path.write_text(config)
            config = parse_config(config, path, env={})
        proxy = Proxy(config, **kwargs)  # type: ignore[arg-type]
        proxy.log = EventLog()  # type: ignore[attr-defined]
        proxy.bus.add_listener(proxy.log)  # type: ignore[attr-defined]
        await proxy.start("127.0.0.1", 0)
        started.append(proxy)
        return proxy

    yield factory
    for proxy in started:
        await proxy.stop()


@pytest.fixture
async def proxy(sim: Simulator, make_proxy: ProxyFactory, request: pytest.FixtureRequest) -> Proxy:
    """The chain primary -> secondary; `support.with_formats` sets their wire formats."""
    formats = getattr(request, "param", ("anthropic", "anthropic"))
    return await make_proxy(two_provider_config(sim, formats=formats))
