"""Who may use the proxy: every request passes here before its route.

Today that is the proxy key (`server.api_key`), required everywhere but the health check
and the HEAD probes clients send before they start; checks of where a request comes from
belong here too, so no route can forget them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from multidict import CIMultiDictProxy

from ccm_tui.providers.anthropic import matches_secret
from ccm_tui.proxy.errors import error_response

PROXY_KEY_HELP = (
    "ccm-tui: missing or wrong proxy key. Send server.api_key as x-api-key, "
    "Authorization: Bearer, or x-ccm-key."
)
KEY_HEADERS = ("x-ccm-key", "x-api-key", "Authorization")
# Routes anyone may reach (by their path pattern): liveness, and what is not served at all.
OPEN_ROUTES = frozenset({"/health", "/", "/api/hello", "/{tail}"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def has_proxy_key(headers: CIMultiDictProxy[str], key: str | None) -> bool:
    """Whether the request carries the proxy key in one of its headers (or none is set)."""
    if not key:
        return True
    return any(matches_secret(headers.get(name, ""), key) for name in KEY_HEADERS)


def admission(proxy_key: Callable[[], str | None]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware; `proxy_key` gives the key of the config in force (a reload may
    change it)."""

    @web.middleware
    async def admit(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.resource
        if route is not None and route.canonical in OPEN_ROUTES:
            return await handler(request)
        if not has_proxy_key(request.headers, proxy_key()):
            return error_response(401, PROXY_KEY_HELP)
        return await handler(request)

    return admit
