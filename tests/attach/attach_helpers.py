"""Helpers for the attach tests (import as `attach_helpers`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ccm_tui.events import Event, EventBus

PROXY_KEY = "ccm-proxy-key-0123456789abcdef"
FAST = (0.05, 0.4)  # backoff bounds that keep the tests quick


class Recorder:
    """A bus listener that keeps every event, so tests wait for one instead of sleeping."""

    def __init__(self, bus: EventBus | None = None) -> None:
        self.events: list[Event] = []
        self._changed = asyncio.Event()
        if bus is not None:
            bus.add_listener(self)

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def mark(self) -> int:
        """A position: `wait_for(..., after=mark)` only looks at later events."""
        return len(self.events)

    async def wait_for(
        self, predicate: Callable[[Any], bool], after: int = 0, timeout: float = 10
    ) -> Any:
        seen = after
        async with asyncio.timeout(timeout):
            while True:
                for event in self.events[seen:]:
                    if predicate(event):
                        return event
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()


def comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The parts of a state snapshot a watcher must reproduce exactly: all of it, but when
    it was taken, the error rates measured against that moment, and the proxy's count of
    events its watchers dropped (which it only writes into the snapshots it serves)."""
    taken_now = {"error_rate_1m", "error_rate_5m"}
    return {k: v for k, v in snapshot.items() if k not in ("at", "dropped_events")} | {
        "providers": {
            name: {k: v for k, v in p.items() if k not in taken_now}
            for name, p in snapshot["providers"].items()
        }
    }
