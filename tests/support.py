"""Helpers shared by test folders (import as `support`; conftest names clash across folders)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ccm_tui.events import Event
from ccm_tui.sim import Simulator

HELLO = [{"role": "user", "content": "Hello"}]


def two_provider_config(sim: Simulator, extra: str = "", **server: str) -> str:
    """A chain `sonnet`: primary, then secondary; both on the simulator."""
    server_lines = "\n".join(f"{k} = {v}" for k, v in server.items())
    return f"""
[server]
host = "127.0.0.1"
port = 0
{server_lines}

[router]
default = "sonnet"

[[providers]]
name = "primary"
provider_type = "anthropic"
auth_type = "apikey"
api_key = "sk-ant-api03-primary-key-000000000000"
base_url = "{sim.url("primary")}"

[[providers]]
name = "secondary"
provider_type = "anthropic"
auth_type = "apikey"
api_key = "sk-ant-api03-secondary-key-11111111111"
base_url = "{sim.url("secondary")}"

[[models]]
name = "sonnet"
[[models.mappings]]
priority = 1
provider = "primary"
actual_model = "primary-model"
[[models.mappings]]
priority = 2
provider = "secondary"
actual_model = "secondary-model"
{extra}
"""


class EventLog:
    """Collects a proxy's events so tests wait for one instead of sleeping."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 10) -> Event:
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events:
                    if predicate(event):
                        return event
                self._changed.clear()
                await self._changed.wait()
