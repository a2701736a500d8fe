"""The proxy server: its lifecycle and its routes.

`Proxy` is what `ccm-tui serve`, the TUI and the tests all run. It puts together the one
`EventBus` every watcher subscribes to, the providers' run-time state (`Upstreams`), the
actions on them (`ProxyActions`) and the forwarder, and serves them behind the guard.
"""

from __future__ import annotations

import errno
import time
from datetime import UTC, datetime

import aiohttp
import orjson
from aiohttp import web

from ccm_tui import __version__
from ccm_tui.actions import ProxyActions
from ccm_tui.auth import TokenManager
from ccm_tui.config import Config, listen_refusal
from ccm_tui.events import EventBus
from ccm_tui.metrics import Metrics
from ccm_tui.monitor import MonitorState
from ccm_tui.proxy.admin import add_admin_routes
from ccm_tui.proxy.body import BodyError, parse_body, read_body
from ccm_tui.proxy.connections import GuardedRunner
from ccm_tui.proxy.errors import closing_error, error_response
from ccm_tui.proxy.forward import Forwarder
from ccm_tui.proxy.guard import MAX_BODY, admission
from ccm_tui.proxy.routing import RoutingError, route
from ccm_tui.proxy.upstreams import Upstreams
from ccm_tui.statusline import STATUS_PATH, status_body, status_line


class StartupError(Exception):
    """The proxy cannot start; the message says why and what to do."""


class Proxy:
    def __init__(
        self,
        config: Config,
        bus: EventBus | None = None,
        state: MonitorState | None = None,
        tokens: TokenManager | None = None,
    ) -> None:
        self.bus = bus or EventBus()
        self.state = state or MonitorState(history=config.tui.history, prices=config.pricing)
        self.state.history = config.tui.history
        self.bus.add_listener(self.state.apply)
        self.metrics: Metrics | None = None
        if config.server.metrics:
            self.metrics = Metrics(self.state, self.state.usage)
            self.bus.add_listener(self.metrics.apply)
        self.upstreams = Upstreams(config, self.bus, tokens)
        self.actions = ProxyActions(self.upstreams, self.bus, self.state)
        self._forwarder: Forwarder | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.started_at = time.time()
        self.url = ""
        self.bound_host = config.server.host  # what start() listens on
        self.app = build_app(self)

    @property
    def config(self) -> Config:
        """The config in force (a reload or a key switch replaces it)."""
        return self.upstreams.config

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def forwarder(self) -> Forwarder:
        if self._forwarder is None:
            raise RuntimeError("the proxy is not started")
        return self._forwarder

    async def start(self, host: str | None = None, port: int | None = None) -> str:
        host = host or self.config.server.host
        port = self.config.server.port if port is None else port
        refusal = listen_refusal(host, self.config.server.api_key)
        if refusal is not None:
            raise StartupError(refusal)
        timeouts = self.config.server.timeouts
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=512, ttl_dns_cache=300),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=timeouts.connect_ms / 1000),
            skip_auto_headers=("User-Agent",),
            auto_decompress=True,
        )
        self._forwarder = Forwarder(
            self.upstreams, self.bus, self._session, self.actions.switch_automatically
        )
        self.bound_host = host
        self._runner = GuardedRunner(
            self.app,
            lambda: self.config.server,
            handler_cancellation=True,
            auto_decompress=False,  # request bodies: proxy/decoding.py, strictly
            access_log=None,
            shutdown_timeout=3.0,
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError as err:
            await self.stop()
            if err.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {port} on {host} is already in use (another ccm-tui?). "
                    "Stop it, or choose another with --port."
                ) from None
            raise StartupError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
        bound = self._runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        self.url = f"http://{shown}:{bound[1]}"
        self.started_at = time.time()
        self.upstreams.publish_all()
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.actions.close()  # a key switch's pending save
        if self._session is not None:
            await self._session.close()
            self._session = None


# -- routes ----------------------------------------------------------------------------------


def build_app(proxy: Proxy) -> web.Application:
    app = web.Application(
        client_max_size=MAX_BODY,
        middlewares=[admission(proxy)],
    )

    async def messages(request: web.Request) -> web.StreamResponse:
        return await _inference(request, count_tokens=False)

    async def count_tokens(request: web.Request) -> web.StreamResponse:
        return await _inference(request, count_tokens=True)

    async def _inference(request: web.Request, count_tokens: bool) -> web.StreamResponse:
        try:
            body_s = proxy.config.server.timeouts.body_ms / 1000
            raw = await read_body(request, MAX_BODY, body_s)
        except BodyError as err:
            return closing_error(err.status, str(err))
        try:
            body = parse_body(raw)
            decision = route(proxy.config, body, len(raw), request.headers.get("x-provider"))
        except BodyError as err:
            return error_response(err.status, str(err))
        except RoutingError as err:
            return error_response(err.status, err.message)
        forwarder = proxy.forwarder
        forward = forwarder.count_tokens if count_tokens else forwarder.messages
        return await forward(request, raw, body, decision)

    async def models(request: web.Request) -> web.Response:
        config = proxy.config
        names = [m.name for m in config.models]
        names += [n for p in config.providers for n in p.models if n not in names]
        created = datetime.fromtimestamp(proxy.started_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = [{"id": n, "display_name": n, "type": "model", "created_at": created} for n in names]
        return web.Response(
            body=orjson.dumps(
                {
                    "data": data,
                    "has_more": False,
                    "first_id": names[0] if names else None,
                    "last_id": names[-1] if names else None,
                }
            ),
            content_type="application/json",
        )

    async def probe(request: web.Request) -> web.Response:
        return web.Response(status=200)

    async def health(request: web.Request) -> web.Response:
        return web.Response(
            body=orjson.dumps(
                {
                    "status": "ok",
                    "version": __version__,
                    "uptime_s": round(time.time() - proxy.started_at, 1),
                }
            ),
            content_type="application/json",
        )

    async def status(request: web.Request) -> web.Response:
        """What `ccm-tui statusline` prints (`?format=line`), or its parts as JSON."""
        now = time.time()
        if request.query.get("format") == "line":
            return web.Response(text=status_line(proxy.state, proxy.state.usage, now))
        return web.Response(
            body=orjson.dumps(status_body(proxy.state, proxy.state.usage, now)),
            content_type="application/json",
        )

    async def metrics(request: web.Request) -> web.Response:
        if proxy.metrics is None:
            return error_response(404, "metrics are off ([server] metrics = false)")
        body, content_type = proxy.metrics.render(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def not_found(request: web.Request) -> web.Response:
        known = {"/v1/messages", "/v1/messages/count_tokens", "/v1/models", "/health"}
        if request.path in known:
            return error_response(405, f"{request.method} is not allowed on {request.path}")
        return error_response(404, f"ccm-tui does not serve {request.method} {request.path}")

    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)
    app.router.add_get("/v1/models", models)
    app.router.add_route("HEAD", "/", probe)
    app.router.add_route("HEAD", "/api/hello", probe)
    app.router.add_get("/health", health)
    app.router.add_get(STATUS_PATH, status)
    app.router.add_get("/metrics", metrics)
    add_admin_routes(app, proxy.bus, proxy.state, proxy.actions)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app
