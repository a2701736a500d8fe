"""Fixtures for attach: a key-guarded proxy and monitors attached to a URL, closed after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from attach_helpers import FAST, PROXY_KEY, Recorder

from ccm_tui.attach import RemoteMonitor
from ccm_tui.events import EventBus
from ccm_tui.monitor import MonitorState
from ccm_tui.proxy.app import Proxy

from support import two_provider_config


@pytest.fixture
async def guarded(sim, make_proxy) -> Proxy:
    return await make_proxy(two_provider_config(sim, api_key=f'"{PROXY_KEY}"'))


@dataclass
class Attached:
    monitor: RemoteMonitor
    state: MonitorState
    bus: EventBus
    log: Recorder  # listens after the monitor's fold: the state is current when it records
    task: asyncio.Task[None]


AttachFactory = Callable[..., Awaitable[Attached]]


@pytest.fixture
async def attach() -> AsyncIterator[AttachFactory]:
    made: list[Attached] = []

    async def factory(
        url: str, key: str | None = None, state: MonitorState | None = None, **kwargs: Any
    ) -> Attached:
        state = state or MonitorState()
        bus = EventBus()
        kwargs.setdefault("backoff", FAST)
        monitor = RemoteMonitor(url, key, state, bus, **kwargs)
        log = Recorder(bus)
        attached = Attached(monitor, state, bus, log, asyncio.create_task(monitor.run()))
        made.append(attached)
        return attached

    yield factory
    for attached in made:
        await attached.monitor.close()
        assert attached.task.done()
