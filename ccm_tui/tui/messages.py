"""The one path from the proxy's events to the screen.

The monitor state is already folded when an event arrives; the screen only needs to know
*what* changed. The adapter drains the bus, collects the ids that changed into a `Dirty`
set, and posts one `MonitorUpdated` message; pending ones replace each other, so at any
event rate the screen redraws at most a few times a second and loses nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from textual.message import Message
from textual.message_pump import MessagePump

from ccm_tui.events import (
    AttemptFailed,
    AttemptStarted,
    ConnectionChanged,
    Event,
    EventBus,
    Notice,
    ProviderCountersReset,
    ProviderStateChanged,
    RateLimitsObserved,
    RequestFinished,
    RequestStarted,
    ResponseStarted,
    SnapshotLoaded,
    StreamProgressed,
    TokenStateChanged,
)

REDRAW_INTERVAL_S = 0.1
# Under heavy traffic the screen redraws less often, so that drawing (which costs the same
# however many events it covers) never crowds out the proxy or a key press.
BUSY_REDRAW_INTERVALS = ((800, 1.0), (300, 0.5), (100, 0.25))  # (events in a batch, wait)


def redraw_interval(events: int) -> float:
    for threshold, interval in BUSY_REDRAW_INTERVALS:
        if events >= threshold:
            return interval
    return REDRAW_INTERVAL_S


@dataclass
class Dirty:
    requests: dict[str, None] = field(default_factory=dict)
    providers: set[str] = field(default_factory=set)
    tokens: bool = False
    usage: bool = False  # a request finished or limits were heard
    everything: bool = False
    notices: list[Notice] = field(default_factory=list)
    connection: ConnectionChanged | None = None

    def note(self, event: Event) -> None:
        if isinstance(event, RequestStarted | ResponseStarted | StreamProgressed):
            self.requests[event.request_id] = None
        elif isinstance(event, AttemptStarted | AttemptFailed):
            self.requests[event.request_id] = None
            self.providers.add(event.provider)
        elif isinstance(event, RequestFinished):
            self.requests[event.request_id] = None
            self.usage = True
            if event.provider:
                self.providers.add(event.provider)
        elif isinstance(event, RateLimitsObserved):
            self.usage = True
            self.providers.add(event.provider)
        elif isinstance(event, ProviderStateChanged | ProviderCountersReset):
            self.providers.add(event.provider)
        elif isinstance(event, TokenStateChanged):
            self.tokens = True
        elif isinstance(event, Notice):
            self.notices.append(event)
        elif isinstance(event, SnapshotLoaded):
            self.everything = True
        elif isinstance(event, ConnectionChanged):
            self.connection = event

    def take(self) -> Dirty:
        taken = Dirty(
            self.requests, self.providers, self.tokens, self.usage, self.everything,
            self.notices, self.connection,
        )  # fmt: skip
        self.requests, self.providers, self.notices = {}, set(), []
        self.tokens = self.usage = self.everything = False
        self.connection = None
        return taken


class MonitorUpdated(Message):
    """Something changed in the monitor state; the receiver takes the `Dirty` set."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, MonitorUpdated)


class BusAdapter:
    """Reads the bus in a task of the app's loop and posts coalesced updates to `target`."""

    def __init__(self, bus: EventBus, target: MessagePump) -> None:
        self.dirty = Dirty()
        self._subscription = bus.subscribe()
        self._target = target
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ccm-bus-adapter")

    async def _run(self) -> None:
        while True:
            batch = await self._subscription.get_batch()
            for event in batch:
                self.dirty.note(event)
            self._target.post_message(MonitorUpdated())
            await asyncio.sleep(redraw_interval(len(batch)))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._subscription.close()
