"""RemoteMonitor against real servers on loopback: a real Proxy, and a scripted SSE server."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import anthropic
import orjson
import pytest
from aiohttp import web
from attach_helpers import PROXY_KEY, comparable

from ccm_tui.actions import Action
from ccm_tui.attach import RemoteMonitor
from ccm_tui.events import (
    ConnectionChanged,
    EventBus,
    Level,
    Notice,
    RequestFinished,
    SnapshotLoaded,
    event_to_dict,
)
from ccm_tui.monitor import MonitorState, ProxyInstance

from e2e.procs import free_port
from support import HELLO

LOCAL_ONLY = (ConnectionChanged, SnapshotLoaded)


def is_connected(e: object) -> bool:
    return isinstance(e, ConnectionChanged) and e.connected


def is_lost(e: object) -> bool:
    return isinstance(e, ConnectionChanged) and not e.connected


async def traffic(proxy, sim) -> None:
    """A plain request, one that fails over, and a streamed one."""
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k", max_retries=0)
    await client.messages.create(model="sonnet", max_tokens=16, messages=HELLO)
    sim.scenario("primary", status=529, times=1)
    await client.messages.create(model="sonnet", max_tokens=16, messages=HELLO)
    async with client.messages.stream(model="sonnet", max_tokens=16, messages=HELLO) as stream:
        await stream.get_final_message()


async def settled(proxy, attached, text: str) -> None:
    """Everything the proxy published so far has reached the attached state (SSE keeps order)."""
    proxy.bus.publish(Notice(Level.INFO, text, time.time()))
    await attached.log.wait_for(lambda e: isinstance(e, Notice) and e.message == text)


# -- against a real proxy --------------------------------------------------------------------


async def test_snapshot_then_live_events_reproduce_the_proxys_state(sim, proxy, attach):
    await traffic(proxy, sim)  # before attaching: must arrive through the snapshot
    attached = await attach(proxy.url)
    await attached.log.wait_for(lambda e: isinstance(e, SnapshotLoaded))
    assert len(attached.state.requests) == 3
    assert comparable(attached.state.snapshot()) == comparable(proxy.state.snapshot())

    await traffic(proxy, sim)  # after: must arrive as events
    await proxy.actions.run(Action.RESET, "secondary")
    await proxy.actions.run(Action.DISABLE, "primary")
    await settled(proxy, attached, "marker")

    assert len(attached.state.requests) == 6
    ours, theirs = attached.state.snapshot(), proxy.state.snapshot()
    assert comparable(ours) == comparable(theirs)
    assert ours["providers"]["primary"]["counts"] == {"ok": 4, "overloaded": 2}
    assert ours["providers"]["primary"]["enabled"] is False
    assert ours["providers"]["secondary"]["requests"] == 0  # reset after its 2 answers
    # The Usage pane's numbers too, history totals included: snapshot, then events.
    assert ours["usage"]["days"] and ours["usage"] == theirs["usage"]


async def test_each_remote_event_is_published_and_folded_exactly_once(sim, proxy, attach):
    state = MonitorState()
    folded: list[object] = []
    apply = state.apply
    state.apply = lambda event: (folded.append(event), apply(event))  # type: ignore[method-assign]
    attached = await attach(proxy.url, state=state)
    await attached.log.wait_for(lambda e: isinstance(e, SnapshotLoaded))
    start, seen = len(proxy.log.events), attached.log.mark()

    await traffic(proxy, sim)
    await settled(proxy, attached, "marker")

    published_by_proxy = proxy.log.events[start:]
    received = [e for e in attached.log.events[seen:] if not isinstance(e, LOCAL_ONLY)]
    assert received == published_by_proxy  # each once, in order, equal after the JSON trip
    assert folded == attached.log.events  # every event on the bus folded once, none twice
    stats = attached.state.providers["primary"]
    assert (stats.requests, stats.successes) == (proxy.state.providers["primary"].requests, 2)
    assert sum(r.finished for r in attached.state.requests.values()) == 3


async def test_a_wrong_key_is_reported_as_401_and_retried_slowly(guarded, attach):
    backoff = (0.05, 0.3)
    attached = await attach(guarded.url, key="wrong-key-abcdefghijklmnop", backoff=backoff)
    first = await attached.log.wait_for(is_lost)
    again = await attached.log.wait_for(is_lost, after=attached.log.events.index(first) + 1)
    for lost in (first, again):
        assert "401" in lost.message and "--key" in lost.message
        assert "wrong-key" not in lost.message and PROXY_KEY not in lost.message
        assert lost.retry_in_s == backoff[1]
    assert not attached.log.of(SnapshotLoaded)


async def test_the_right_key_is_let_in(guarded, attach):
    attached = await attach(guarded.url, key=PROXY_KEY)
    await attached.log.wait_for(lambda e: isinstance(e, SnapshotLoaded))
    assert set(attached.state.providers) == {"primary", "secondary"}


async def test_close_stops_the_run_task(proxy):
    monitor = RemoteMonitor(proxy.url, None, MonitorState(), EventBus())
    task = asyncio.create_task(monitor.run())
    await asyncio.sleep(0)
    await monitor.close()
    assert task.done() and task.cancelled()
    assert not monitor.connected


# -- against a scripted SSE server -----------------------------------------------------------


def frame(event: str, data: object) -> bytes:
    return f"event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


SNAPSHOT = frame("snapshot", MonitorState().snapshot())


@contextlib.asynccontextmanager
async def sse_server(body: bytes, port: int = 0) -> AsyncIterator[str]:
    """Answers /_ccm/events with `body`, then says nothing (no keepalive) until closed."""

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(body)
        await asyncio.Event().wait()
        return response

    app = web.Application()
    app.router.add_get("/_ccm/events", events)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def test_events_a_newer_proxy_sends_are_skipped_not_fatal(attach):
    hello = Notice(Level.INFO, "still here", 1.0)
    body = (
        SNAPSHOT
        + frame("event", {"type": "QuantumEntangled", "qubits": 3})
        + frame("event", {"type": "Notice", "level": "info"})  # fields it no longer sends
        + frame("event", event_to_dict(ConnectionChanged("elsewhere", False, "x", None)))
        + b"event: event\ndata: {not json\n\n"
        + frame("something-new", {"a": 1})
        + frame("event", event_to_dict(hello))
    )
    async with sse_server(body) as url:
        attached = await attach(url)
        await attached.log.wait_for(lambda e: isinstance(e, Notice))
    assert attached.monitor.skipped == 4
    assert list(attached.state.notices) == [hello]
    assert [e.connected for e in attached.log.of(ConnectionChanged)] == [True]


async def test_a_silent_connection_is_judged_dead_and_replaced(attach):
    async with sse_server(SNAPSHOT) as url:
        attached = await attach(url, idle_timeout_s=0.3)
        lost = await attached.log.wait_for(is_lost)
        assert "not even a keepalive" in lost.message
        assert lost.message.startswith(f"lost the connection to {url}")
        await attached.log.wait_for(
            lambda e: isinstance(e, SnapshotLoaded), after=attached.log.events.index(lost)
        )


async def test_retries_back_off_within_bounds_and_start_over_after_a_good_connection(attach):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    low, high = 0.05, 0.2
    attached = await attach(url, backoff=(low, high))
    async with asyncio.timeout(10):
        while len(attached.log.of(ConnectionChanged)) < 5:
            await attached.log.wait_for(is_lost, after=attached.log.mark())
    delays = [e.retry_in_s for e in attached.log.of(ConnectionChanged)]
    assert all(low <= d <= high for d in delays)
    assert delays[0] <= low * 1.5 < delays[2]
    first = attached.log.of(ConnectionChanged)[0]
    assert first.message.startswith(f"cannot reach {url}: connection refused")

    async with sse_server(SNAPSHOT, port):
        mark = attached.log.mark()
        await attached.log.wait_for(lambda e: isinstance(e, SnapshotLoaded), after=mark)
        mark = attached.log.mark()
    lost = await attached.log.wait_for(is_lost, after=mark)
    assert lost.message.startswith(f"lost the connection to {url}")
    assert lost.retry_in_s <= low * 1.5


async def test_a_monitor_prints_nothing(sim, proxy, attach, capfd):
    attached = await attach(f"http://127.0.0.1:{free_port()}")
    await attached.log.wait_for(is_lost)
    attached = await attach(proxy.url)
    await attached.log.wait_for(lambda e: isinstance(e, SnapshotLoaded))
    await traffic(proxy, sim)
    await attached.log.wait_for(lambda e: isinstance(e, RequestFinished))
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


@pytest.mark.parametrize(
    ("keeps", "said"),
    [
        (True, "its request history was reloaded; its live counters started again"),
        (False, "it keeps no history (see [history]): requests and counters started again"),
    ],
)
def test_a_restart_says_whether_the_proxy_kept_its_history(keeps, said):
    monitor = RemoteMonitor("http://127.0.0.1:9", None, MonitorState(), EventBus())
    notice = monitor._restarted(ProxyInstance("run2", 1_767_268_800.0, keeps))
    assert notice.level is Level.WARNING and notice.message.endswith(said)
