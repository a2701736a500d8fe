"""`/_ccm/*`: the proxy's state and event stream for watchers, and its switches.

`ccm-tui attach` uses exactly these, so a TUI in another terminal (or on another
machine) can do everything the local one can.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import orjson
from aiohttp import web

from ccm_tui import sse
from ccm_tui.config import ConfigError
from ccm_tui.events import event_to_dict
from ccm_tui.proxy.errors import error_response

if TYPE_CHECKING:
    from ccm_tui.proxy.app import Proxy

KEEPALIVE_S = 15.0
EVENTS_QUEUE = 20_000


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def add_admin_routes(app: web.Application, proxy: Proxy) -> None:
    from ccm_tui.proxy.app import PROXY_KEY_HELP, authorized

    def guard(request: web.Request) -> web.Response | None:
        return None if authorized(proxy, request) else error_response(401, PROXY_KEY_HELP)

    def snapshot() -> dict[str, object]:
        proxy.state.dropped_events = proxy.bus.dropped
        return proxy.state.snapshot()

    async def state(request: web.Request) -> web.Response:
        return guard(request) or _json(snapshot())

    streams: set[asyncio.Task[object]] = set()

    async def events(request: web.Request) -> web.StreamResponse:
        refused = guard(request)
        if refused is not None:
            return refused
        subscription = proxy.bus.subscribe(EVENTS_QUEUE)
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

    async def provider_action(request: web.Request) -> web.Response:
        refused = guard(request)
        if refused is not None:
            return refused
        name = request.match_info["name"]
        action = request.match_info["action"]
        try:
            if action == "enable":
                message = proxy.set_enabled(name, True)
            elif action == "disable":
                message = proxy.set_enabled(name, False)
            elif action == "reset":
                message = proxy.reset_counters(name)
            elif action == "derive-key":
                message = await proxy.switch_to_derived(name)
            elif action == "use-oauth":
                message = await proxy.switch_to_oauth(name)
            else:
                return error_response(404, f"unknown action {action}")
        except KeyError as err:
            return error_response(404, str(err.args[0]))
        except ValueError as err:
            return _json({"ok": False, "message": str(err)}, status=409)
        return _json({"ok": True, "message": message})

    async def reload(request: web.Request) -> web.Response:
        refused = guard(request)
        if refused is not None:
            return refused
        try:
            message = proxy.reload()
        except ConfigError as err:
            return _json({"ok": False, "message": str(err)}, status=422)
        except ValueError as err:
            return _json({"ok": False, "message": str(err)}, status=409)
        return _json({"ok": True, "message": message})

    app.on_shutdown.append(end_streams)
    app.router.add_get("/_ccm/state", state)
    app.router.add_get("/_ccm/events", events)
    app.router.add_post("/_ccm/providers/{name}/{action}", provider_action)
    app.router.add_post("/_ccm/reload", reload)
