"""`/_ccm/*`: the proxy's state and event stream for watchers, and its actions.

`ccm-tui attach` uses exactly these, so a TUI in another terminal (or on another
machine) can do everything the local one can. An action answers
`{"ok": true, "message": ...}`, or `{"ok": false, "refusal": CODE, "message": ...}` with
the refusal's status; the guard in front of every route checks the proxy key.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

import orjson
from aiohttp import web

from ccm_tui import sse
from ccm_tui.actions import ORIGIN_HEADER, Action, ActionRefused, ProxyActions
from ccm_tui.events import EventBus, event_to_dict
from ccm_tui.monitor import MonitorState
from ccm_tui.proxy.errors import error_response

KEEPALIVE_S = 15.0
LINGER_S = 0.02
EVENTS_QUEUE = 20_000
_ORIGIN = re.compile(r"[A-Za-z0-9_-]{1,64}")
PROVIDER_ACTIONS = frozenset(a.value for a in Action if a.per_provider)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def origin_of(request: web.Request) -> str:
    """Who asked, as the control said; anything else than a short token is not kept."""
    origin = request.headers.get(ORIGIN_HEADER, "")
    return origin if _ORIGIN.fullmatch(origin) else "admin-api"


def add_admin_routes(
    app: web.Application, bus: EventBus, state: MonitorState, actions: ProxyActions
) -> None:
    def snapshot() -> dict[str, object]:
        state.dropped_events = bus.dropped
        return state.snapshot()

    async def state_route(request: web.Request) -> web.Response:
        return _json(snapshot())

    streams: set[asyncio.Task[object]] = set()

    async def events(request: web.Request) -> web.StreamResponse:
        subscription = bus.subscribe(EVENTS_QUEUE)
        # Taken before anything can yield, so no event is both in it and on the stream.
        first = sse.json_frame(snapshot(), "snapshot")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        task = asyncio.current_task()
        if task is not None:
            streams.add(task)
        try:
            await response.prepare(request)
            await response.write(first)
            while subscription.dropped == 0:
                try:
                    async with asyncio.timeout(KEEPALIVE_S):
                        batch = await subscription.get_batch()
                except TimeoutError:
                    await response.write(sse.KEEPALIVE)
                    continue
                # A stream's events come in runs: one write per run, not per event, cut
                # what a watching screen costs the proxy from +12-21 % CPU per request to
                # +4-8 % (bench/README.md, Isolation); 20 ms is below what a screen shows.
                await asyncio.sleep(LINGER_S)
                batch += subscription.drain()
                frames = b"".join(sse.json_frame(event_to_dict(e), "event") for e in batch)
                await response.write(frames)
            # This watcher fell behind and lost events: end the stream, so it reconnects
            # and starts again from a fresh snapshot instead of drifting.
            with contextlib.suppress(ConnectionResetError):
                await response.write_eof()
        except ConnectionResetError:
            pass
        finally:
            subscription.close()
            if task is not None:
                streams.discard(task)
        return response

    async def end_streams(_: web.Application) -> None:
        """Watchers never end their streams; a shutdown must not wait for them."""
        for task in list(streams):
            task.cancel()

    async def act(request: web.Request, action: Action, name: str | None) -> web.Response:
        try:
            message = await actions.run(action, name, origin_of(request))
        except ActionRefused as refused:
            body = {"ok": False, "refusal": refused.refusal.value, "message": refused.message}
            return _json(body, status=refused.refusal.status)
        return _json({"ok": True, "message": message})

    async def provider_action(request: web.Request) -> web.Response:
        name = request.match_info["action"]
        if name not in PROVIDER_ACTIONS:
            return error_response(404, f"unknown action {name}")
        return await act(request, Action(name), request.match_info["name"])

    async def reload(request: web.Request) -> web.Response:
        return await act(request, Action.RELOAD, None)

    app.on_shutdown.append(end_streams)
    app.router.add_get("/_ccm/state", state_route)
    app.router.add_get("/_ccm/events", events)
    app.router.add_post("/_ccm/providers/{name}/{action}", provider_action)
    app.router.add_post("/_ccm/reload", reload)
