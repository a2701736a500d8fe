"""`ccm-tui attach`: a local MonitorState and EventBus fed from a remote proxy's event stream.

The remote proxy's `/_ccm/events` starts with a snapshot of its MonitorState and then
carries every event it publishes; folding those events into a state loaded from the
snapshot gives the same picture the proxy has (monitor.py's promise). The TUI then draws
that state and reads that bus exactly as it does beside an in-process proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import Any, cast

import httpx
import orjson

from ccm_tui.backoff import Backoff
from ccm_tui.control import (
    KEY_HEADER,
    describe_transport_error,
    display_url,
    normalize_url,
    refused_key,
    server_message,
)
from ccm_tui.events import (
    ConnectionChanged,
    Event,
    EventBus,
    Level,
    Notice,
    SnapshotLoaded,
    event_from_dict,
)
from ccm_tui.masking import mask_text
from ccm_tui.monitor import MonitorState, ProxyInstance
from ccm_tui.sse import SseParser

log = logging.getLogger(__name__)

EVENTS_PATH = "/_ccm/events"
# The proxy sends a keepalive every 15 s: silence this long means a dead connection
# (a laptop that slept, a NAT that forgot us), which TCP alone may not notice for hours.
IDLE_TIMEOUT_S = 40.0
# No read timeout: the stream is quiet between events by design; silence is judged above.
STREAM_TIMEOUT = httpx.Timeout(10.0, read=None)
# Events that describe this attach session itself; a remote's copies would only mislead.
_LOCAL_ONLY = (ConnectionChanged, SnapshotLoaded)


# -- the monitor -----------------------------------------------------------------------------


class _Ended(Exception):
    """One connection is over: why, in plain words (`whole`: already names the proxy)."""

    def __init__(self, reason: str, unauthorized: bool = False, whole: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unauthorized = unauthorized
        self.whole = whole


class RemoteMonitor:
    """Keeps `state` equal to a remote proxy's MonitorState and republishes its events on `bus`.

    Exactly-once folding: like `Proxy`, the RemoteMonitor owns the fold. Its constructor
    adds the one listener that applies events to `state`, and it only ever *publishes*
    remote events to `bus` (the bus calls listeners before any subscriber reads, so the
    state is current when the TUI sees an event). Whoever builds the TUI's bus must
    therefore not add a state listener of their own: the same contract as for an
    in-process proxy, so the TUI wires both modes identically.

    `ConnectionChanged` is published when a connection is made (`connected=True`) and
    after every failed or lost one (`connected=False`, `message` = the reason in plain
    words, `retry_in_s` = when the next attempt starts). Retries back off exponentially
    with jitter between `backoff` bounds and start over after a good connection; a wrong
    key (401) keeps being retried at the slowest pace, so fixing the proxy is picked up.

    Each snapshot names the proxy run it comes from: reconnected to another run (the proxy
    restarted), the monitor publishes a warning `Notice` after its `SnapshotLoaded`, so a
    history and counters that start again are not mistaken for lost data.

    Remote events whose type or fields this version does not know are skipped (counted
    in `skipped`), as are a remote's own ConnectionChanged/SnapshotLoaded: those describe
    this session only. Nothing is printed; an unexpected error is logged and retried.

    Run `run()` in its own task; `close()` cancels that task and closes an owned client.
    """

    def __init__(
        self,
        url: str,
        key: str | None,
        state: MonitorState,
        bus: EventBus,
        client: httpx.AsyncClient | None = None,
        backoff: tuple[float, float] = (0.5, 10.0),
        *,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        rng: random.Random | None = None,
        greeting: str | None = None,
    ) -> None:
        """`greeting`: what the first connection says instead of "connected to URL"."""
        self.url = normalize_url(url)
        self.shown_url = display_url(self.url)
        self.key = key
        self.state = state
        self.bus = bus
        self.backoff = Backoff(*backoff)
        self.idle_timeout_s = idle_timeout_s
        self.connected = False
        self.skipped = 0  # events this version could not read (a newer proxy's)
        self._rng = rng or random.Random()
        self._greeting = greeting
        self._client = client
        self._owns_client = client is None
        self._task: asyncio.Task[Any] | None = None
        self._loaded = False  # the current connection delivered its snapshot
        self._instance: ProxyInstance | None = None  # the proxy run the last snapshot came from
        bus.add_listener(self._fold)

    def _fold(self, event: Event) -> None:
        self.state.apply(event)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=STREAM_TIMEOUT)
        return self._client

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Connects, follows the stream and reconnects, until cancelled."""
        if self._task is not None:
            raise RuntimeError("this RemoteMonitor is already running")
        self._task = asyncio.current_task()
        failures = 0
        try:
            while True:
                self._loaded = False
                try:
                    await self._follow()
                    raise _Ended("the proxy closed the connection")
                except _Ended as ended:
                    outcome = ended
                except Exception as err:  # a bug must not end the watch: log it, retry
                    log.exception("attach: unexpected error")
                    outcome = _Ended(f"unexpected error: {mask_text(repr(err))[:200]}")
                # A connection that delivered its snapshot was good: back off from the start.
                failures = 1 if self._loaded else failures + 1
                delay = self._delay(failures, outcome.unauthorized)
                was_connected, self.connected = self.connected, False
                prefix = "lost the connection to" if was_connected else "cannot reach"
                message = (
                    outcome.reason
                    if outcome.whole
                    else f"{prefix} {self.shown_url}: {outcome.reason}"
                )
                self.bus.publish(ConnectionChanged(self.shown_url, False, message, delay))
                await asyncio.sleep(delay)
        finally:
            self.connected = False
            self._task = None

    async def close(self) -> None:
        """Stops `run()` (if another task runs it) and closes the client if it made it."""
        task = self._task
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            await asyncio.wait([task])
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    def _delay(self, failures: int, unauthorized: bool) -> float:
        if unauthorized:
            return self.backoff.high_s
        return self.backoff.delay(failures, self._rng)

    # -- one connection ----------------------------------------------------------------------

    async def _follow(self) -> None:
        """One connection, until it ends (raises _Ended) or the task is cancelled."""
        headers = {"accept": "text/event-stream", "cache-control": "no-cache"}
        if self.key:
            headers[KEY_HEADER] = self.key
        try:
            async with self.client.stream(
                "GET", self.url + EVENTS_PATH, headers=headers, timeout=STREAM_TIMEOUT
            ) as response:
                if response.status_code == 401:
                    raise _Ended(refused_key(self.shown_url, self.key), True, whole=True)
                if response.status_code != 200:
                    await response.aread()
                    raise _Ended(
                        f"{self.shown_url} answered {response.status_code} on {EVENTS_PATH}: "
                        f"{server_message(response)} (is it a ccm-tui proxy?)",
                        whole=True,
                    )
                kind = response.headers.get("content-type", "").split(";")[0].strip()
                if kind != "text/event-stream":
                    raise _Ended(
                        f"{self.shown_url} answered {EVENTS_PATH} with {kind or 'no content type'}"
                        ", not an event stream: is it a ccm-tui proxy?",
                        whole=True,
                    )
                self.connected = True
                said, self._greeting = self._greeting, None
                said = said or f"connected to {self.shown_url}"
                self.bus.publish(ConnectionChanged(self.shown_url, True, said, None))
                parser = SseParser()
                # httpx declares an AsyncIterator; it is a generator: closing it frees the stream.
                byte_chunks = cast("AsyncGenerator[bytes, None]", response.aiter_bytes())
                async with contextlib.aclosing(byte_chunks) as chunks:
                    while (chunk := await self._next_chunk(chunks)) is not None:
                        for event, data in parser.feed(chunk):
                            self._handle(event, data)
        except httpx.TransportError as err:
            raise _Ended(describe_transport_error(err)) from None

    async def _next_chunk(self, chunks: AsyncIterator[bytes]) -> bytes | None:
        """The next chunk, None at the end; _Ended when nothing, not even a keepalive, arrives."""
        try:
            async with asyncio.timeout(self.idle_timeout_s):
                return await anext(chunks)
        except StopAsyncIteration:
            return None
        except TimeoutError:
            raise _Ended(
                f"nothing received for {self.idle_timeout_s:g} s, not even a keepalive: "
                "the connection looks dead"
            ) from None

    def _handle(self, event: bytes, data: bytes) -> None:
        if event == b"snapshot":
            try:
                fresh = MonitorState.from_snapshot(
                    orjson.loads(data), history=self.state.history, clock=self.state.clock
                )
            except (ValueError, KeyError, TypeError, AttributeError) as err:
                raise _Ended(
                    f"its snapshot could not be read ({mask_text(str(err))[:200]}): "
                    "is it a much newer or older ccm-tui?"
                ) from None
            previous, self._instance = self._instance, fresh.instance
            self.state.replace_with(fresh)
            self._loaded = True
            self.bus.publish(SnapshotLoaded(time.time()))
            if previous is not None and previous.id != fresh.instance.id:
                self.bus.publish(self._restarted(fresh.instance))
        elif event == b"event":
            decoded = self._decode(data)
            if decoded is not None:
                self.bus.publish(decoded)  # folded once, by self._fold

    def _restarted(self, instance: ProxyInstance) -> Notice:
        """Without this, a history and counters that start again look like lost data."""
        when = datetime.fromtimestamp(instance.started_at).strftime("%H:%M")
        if instance.keeps_history:
            what = "its request history was reloaded; its live counters started again"
        else:
            what = "it keeps no history (see [history]): requests and counters started again"
        return Notice(Level.WARNING, f"{self.shown_url} restarted at {when}: {what}", time.time())

    def _decode(self, data: bytes) -> Event | None:
        """The event, or None for one this version does not know (a newer proxy's)."""
        try:
            raw = orjson.loads(data)
            event = event_from_dict(raw)
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            self.skipped += 1
            log.debug("skipped an event this version cannot read: %s", mask_text(str(err)))
            return None
        if isinstance(event, _LOCAL_ONLY):
            self.skipped += 1
            return None
        return event
