"""The proxy process: its aiohttp app, its upstream session, breakers and provider switches.

`Proxy` is what `ccm-tui serve`, the TUI and the tests all run. It holds the state that
changes at run time (enabled providers, breakers, the config after a reload) and the one
`EventBus` every watcher subscribes to.
"""

from __future__ import annotations

import errno
import hmac
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

from ccm_tui import __version__
from ccm_tui.config import Config, listen_refusal, load_config
from ccm_tui.events import (
    Event,
    EventBus,
    Failure,
    Level,
    Notice,
    ProviderCountersReset,
    ProviderStateChanged,
)
from ccm_tui.monitor import MonitorState
from ccm_tui.proxy.admin import add_admin_routes
from ccm_tui.proxy.body import BodyError, parse_body
from ccm_tui.proxy.breaker import Breaker
from ccm_tui.proxy.credentials import Credentials
from ccm_tui.proxy.errors import error_response
from ccm_tui.proxy.forward import Forwarder
from ccm_tui.proxy.routing import RoutingError, route

MAX_BODY = 64 * 1024 * 1024  # the Messages API takes up to 32 MB


class StartupError(Exception):
    """The proxy cannot start; the message says why and what to do."""


class Proxy:
    def __init__(
        self,
        config: Config,
        bus: EventBus | None = None,
        state: MonitorState | None = None,
        credentials: Credentials | None = None,
    ) -> None:
        self.config = config
        self.bus = bus or EventBus()
        self.state = state or MonitorState(history=config.tui.history)
        self.bus.add_listener(self._fold)
        self.credentials = credentials or Credentials()
        self.credentials.bind(self)
        self.forwarder = Forwarder(self)
        self._breakers: dict[str, Breaker] = {}
        self._enabled: dict[str, bool] = {}
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.started_at = time.time()
        self.url = ""
        self.app = build_app(self)
        self._apply_config(config)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("the proxy is not started")
        return self._session

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
        self._runner = web.AppRunner(
            self.app, handler_cancellation=True, access_log=None, shutdown_timeout=3.0
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
        for provider in self.config.providers:
            self.publish_provider(provider.name)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- runtime state ----------------------------------------------------------------------

    def _fold(self, event: Event) -> None:
        self.state.apply(event)

    def _apply_config(self, config: Config) -> None:
        self.config = config
        self.state.history = config.tui.history
        breaker = config.breaker
        self._breakers = {
            p.name: self._breakers.get(p.name) or Breaker(breaker.failures, breaker.cooldown_s)
            for p in config.providers
        }
        for b in self._breakers.values():
            b.failures_to_open, b.cooldown_s = breaker.failures, breaker.cooldown_s
        self._enabled = {p.name: p.enabled for p in config.providers}
        self.credentials.configure(config)

    def apply_provider_change(self, config: Config, name: str) -> None:
        """One provider's settings changed (the derived-key switch); nothing else resets."""
        self.config = config
        self.credentials.configure(config)
        self.publish_provider(name)

    def breaker(self, name: str) -> Breaker:
        return self._breakers[name]

    def is_enabled(self, name: str) -> bool:
        return self._enabled.get(name, False)

    def record(self, name: str, failure: Failure, retry_after_s: float | None) -> None:
        breaker = self._breakers.get(name)
        if breaker is not None and breaker.record(failure, retry_after_s):
            self.publish_provider(name)

    def publish_provider(self, name: str) -> None:
        provider = self.config.provider(name)
        breaker = self._breakers.get(name)
        if provider is None or breaker is None:
            return
        self.bus.publish(
            ProviderStateChanged(
                provider=name,
                enabled=self.is_enabled(name),
                breaker=breaker.peek_state(),
                breaker_until=breaker.until_wall(),
                consecutive_failures=breaker.consecutive,
                auth=self.credentials.mode(provider),
            )
        )

    def notice(self, level: Level, message: str) -> None:
        self.bus.publish(Notice(level, message, time.time()))

    # -- actions (the TUI and the admin API call these) -------------------------------------

    def require_provider(self, name: str) -> None:
        if self.config.provider(name) is None:
            known = ", ".join(p.name for p in self.config.providers)
            raise KeyError(f"no provider named {name} (configured: {known})")

    def set_enabled(self, name: str, enabled: bool) -> str:
        self.require_provider(name)
        self._enabled[name] = enabled
        self.publish_provider(name)
        return f"{name} {'enabled' if enabled else 'disabled'}"

    def reset_counters(self, name: str) -> str:
        self.require_provider(name)
        self._breakers[name].reset()
        self.bus.publish(ProviderCountersReset(name))
        self.publish_provider(name)
        return f"{name}: counters reset, breaker closed"

    async def switch_to_derived(self, name: str) -> str:
        self.require_provider(name)
        return await self.credentials.switch_to_derived(name)

    async def switch_to_oauth(self, name: str) -> str:
        self.require_provider(name)
        return await self.credentials.switch_to_oauth(name)

    def reload(self, path: Path | None = None) -> str:
        """Re-reads config.toml; a bad file is reported and the running config kept."""
        path = path or self.config.path
        if path is None:
            raise ValueError("this proxy was not started from a config file")
        new = load_config(path)  # raises ConfigError; the caller reports it
        server = self.config.server
        self._apply_config(new)
        for provider in new.providers:
            self.publish_provider(provider.name)
        changed = (new.server.host, new.server.port) != (server.host, server.port)
        note = " (host/port changes take effect on restart)" if changed else ""
        self.notice(Level.INFO, f"config reloaded{note}")
        return f"config reloaded{note}"


# -- handlers --------------------------------------------------------------------------------

PROXY_KEY_HELP = (
    "ccm-tui: missing or wrong proxy key. Send server.api_key as x-api-key, "
    "Authorization: Bearer, or x-ccm-key."
)


def authorized(proxy: Proxy, request: web.Request) -> bool:
    key = proxy.config.server.api_key
    if not key:
        return True
    expected = key.encode()
    headers = request.headers
    bearer = headers.get("Authorization", "")
    for value in (
        headers.get("x-ccm-key"),
        headers.get("x-api-key"),
        bearer[7:] if bearer[:7].lower() == "bearer " else None,
    ):
        if value and hmac.compare_digest(value.encode(), expected):
            return True
    return False


def build_app(proxy: Proxy) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)

    async def messages(request: web.Request) -> web.StreamResponse:
        return await _inference(request, count_tokens=False)

    async def count_tokens(request: web.Request) -> web.StreamResponse:
        return await _inference(request, count_tokens=True)

    async def _inference(request: web.Request, count_tokens: bool) -> web.StreamResponse:
        if not authorized(proxy, request):
            return error_response(401, PROXY_KEY_HELP)
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return error_response(413, f"request body is larger than {MAX_BODY >> 20} MB")
        try:
            body = parse_body(raw)
            decision = route(proxy.config, body, len(raw), request.headers.get("x-provider"))
        except BodyError as err:
            return error_response(400, str(err))
        except RoutingError as err:
            return error_response(err.status, err.message)
        return await proxy.forwarder.forward(
            request, raw, body, decision, count_tokens=count_tokens
        )

    async def models(request: web.Request) -> web.Response:
        if not authorized(proxy, request):
            return error_response(401, PROXY_KEY_HELP)
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
    add_admin_routes(app, proxy)
    app.router.add_route("*", "/{tail:.*}", not_found)
    return app
