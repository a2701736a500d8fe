"""The simulated upstream: one aiohttp app serving many named providers plus OAuth.

Requests under `/p/{provider}/...` belong to that provider; the same routes at
the root belong to "default". Each provider has a `Scenario` (healthy unless
told otherwise) and a bounded record of what it received, byte-exact, so tests
can assert what the proxy forwarded. The endpoints are in `model_routes`,
`oauth_routes` and `control_routes`; how answers leave (and break) is in `delivery`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from ccm_tui.sim import control_routes, model_routes, oauth_routes, wire
from ccm_tui.sim.endpoint import Endpoint
from ccm_tui.sim.state import DEFAULT_PROVIDER, SimState


class Simulator(SimState):
    """State shared by all simulated providers; serve it with `serve()` or embed `build_app`."""

    _base_url: str | None = None

    # -- addresses -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the simulator is not serving; use `async with sim.serve()`")
        return self._base_url

    def url(self, provider: str) -> str:
        """An Anthropic-format base URL for a simulated provider (the SDK appends `/v1/...`)."""
        return f"{self.base_url}/p/{provider}"

    def openai_url(self, provider: str) -> str:
        """An OpenAI-format base URL (`.../v1`, the client appends `/chat/completions`)."""
        return f"{self.base_url}/p/{provider}/v1"

    def authorize_url(self, kind: str = "max") -> str:
        """The authorize endpoint: "max" (claude.ai-like) or "console"."""
        prefix = "/console" if kind == "console" else ""
        return f"{self.base_url}{prefix}/oauth/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/v1/oauth/token"

    @property
    def create_api_key_url(self) -> str:
        return f"{self.base_url}/api/oauth/claude_cli/create_api_key"

    # -- serving -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serves on host:port (0 picks a free port) and yields the base URL."""
        runner = web.AppRunner(
            build_app(self),
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=0.5,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, backlog=1024)
            await site.start()
            real_port = runner.addresses[0][1]
            shown = f"[{host}]" if ":" in host else host
            self._base_url = f"http://{shown}:{real_port}"
            yield self._base_url
        finally:
            self._base_url = None
            await runner.cleanup()


Bound = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(sim: Simulator) -> web.Application:
    """The simulator as an aiohttp app, for embedding in another runner or test server."""
    # Large enough for any request the real API accepts; bigger bodies get its 413.
    app = web.Application(client_max_size=wire.MAX_BODY_BYTES * 2)

    async def on_startup(_: web.Application) -> None:
        sim.closing = asyncio.Event()

    async def on_shutdown(_: web.Application) -> None:
        sim.closing.set()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)

    def bind(owner: object, endpoint: Endpoint) -> Bound:
        handler = endpoint.handler
        if not endpoint.per_provider:

            async def handle(request: web.Request) -> web.StreamResponse:
                return await handler(owner, request)

            return handle

        async def tracked(request: web.Request) -> web.StreamResponse:
            provider = request.match_info.get("provider", DEFAULT_PROVIDER)
            sim.track_in_flight(provider, 1)
            try:
                return await handler(owner, request)
            finally:
                sim.track_in_flight(provider, -1)

        return tracked

    tables = (
        (model_routes.ModelRoutes(sim), model_routes.ENDPOINTS),
        (oauth_routes.OAuthRoutes(sim), oauth_routes.ENDPOINTS),
        (control_routes.ControlRoutes(sim), control_routes.ENDPOINTS),
    )
    router = app.router
    for owner, endpoints in tables:
        for endpoint in endpoints:
            handler = bind(owner, endpoint)
            router.add_route(endpoint.method, endpoint.path, handler)
            if endpoint.per_provider:
                router.add_route(endpoint.method, "/p/{provider}" + endpoint.path, handler)
                if endpoint.path == "/":
                    router.add_route(endpoint.method, "/p/{provider}", handler)
    # Last, so it only sees what nothing else matched: the API's own 404 shape.
    router.add_route("*", "/{tail:.*}", model_routes.not_found)
    return app
