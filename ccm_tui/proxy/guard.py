"""Who may use the proxy: every request passes here before its route.

A web page in the user's browser can reach a proxy on loopback, so what a browser lets any
page send is refused before a route runs: a `Host` that is not this proxy's (DNS
rebinding: a foreign name resolving to 127.0.0.1), a foreign `Origin` or a cross-site
`Sec-Fetch-Site` (a page's fetch or form), and a POST that is not `application/json` (the
content types a page may send without a preflight). Then the proxy key (`server.api_key`),
and what the body will be: its encoding and its announced length. The health check, the
HEAD probes and unserved paths stay open: they neither act nor tell anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from aiohttp import web
from multidict import CIMultiDictProxy

from ccm_tui.config import Config, ServerConfig, is_loopback
from ccm_tui.masking import safe_text
from ccm_tui.providers.anthropic import matches_secret
from ccm_tui.proxy.decoding import ENCODINGS
from ccm_tui.proxy.errors import closing_error, error_response

PROXY_KEY_HELP = (
    "ccm-tui: missing or wrong proxy key. Send server.api_key as x-api-key, "
    "Authorization: Bearer, or x-ccm-key."
)
KEY_HEADERS = ("x-ccm-key", "x-api-key", "Authorization")
# Routes anyone may reach (by their path pattern): liveness, and what is not served at all.
OPEN_ROUTES = frozenset({"/health", "/", "/api/hello", "/{tail}"})
# Fetch metadata a browser sets on a request another site's page made.
FOREIGN_FETCH_SITES = frozenset({"cross-site", "same-site"})
MAX_BODY = 64 * 1024 * 1024  # the Messages API takes up to 32 MB
KNOWN_HOSTS = 64
UNSPECIFIED = frozenset({"0.0.0.0", "::", ""})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Guarded(Protocol):
    """What the guard reads from the proxy on each request (a reload may change it)."""

    @property
    def config(self) -> Config: ...

    @property
    def bound_host(self) -> str: ...


@dataclass(frozen=True, slots=True)
class HostRule:
    """The names a request may call this proxy by, besides loopback and the address the
    connection arrived on."""

    names: frozenset[str]
    # `Host` values admitted by name: a client sends the same one every time, so the check
    # is one lookup on the hot path.
    known: set[str] = field(default_factory=set, compare=False)

    @staticmethod
    def of(server: ServerConfig, bound_host: str) -> HostRule:
        # Bound to every interface (0.0.0.0, ::), the proxy is named by the address a
        # connection arrives at; "0.0.0.0" itself is what a page uses to reach it.
        bound = _bare(bound_host)
        names = {*server.allowed_hosts} | ({bound} if bound not in UNSPECIFIED else set())
        return HostRule(frozenset(names))

    def admits(self, name: str, local_address: str | None) -> bool:
        return name in self.names or is_loopback(name) or name == local_address

    def admits_host(self, authority: str, local: Callable[[], str | None]) -> bool:
        """Whether a `Host` header names this proxy (`local` gives the connection's own
        address, asked only for a name the rule does not know)."""
        if authority in self.known:
            return True
        name = host_of(authority)
        if name in self.names or is_loopback(name):
            if len(self.known) < KNOWN_HOSTS:
                self.known.add(authority)
            return True
        return name == local()


def has_proxy_key(headers: CIMultiDictProxy[str], key: str | None) -> bool:
    """Whether the request carries the proxy key in one of its headers (or none is set)."""
    if not key:
        return True
    return any(matches_secret(headers.get(name, ""), key) for name in KEY_HEADERS)


def host_of(authority: str) -> str:
    """`Host: [::1]:13456` → `::1`, `LocalHost.:80` → `localhost`."""
    if authority.startswith("["):
        return _bare(authority[1:].partition("]")[0])
    name, colon, port = authority.rpartition(":")
    return _bare(name if colon and port.isdigit() else authority)


def _bare(name: str) -> str:
    return name.strip().strip("[]").lower().rstrip(".")


def admission(proxy: Guarded) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware, reading the config in force from `proxy` on every request."""
    rules: dict[tuple[int, str], HostRule] = {}

    def rule() -> HostRule:
        server, bound = proxy.config.server, proxy.bound_host
        found = rules.get((id(server), bound))
        if found is None:
            rules.clear()  # the config changed: one rule is enough
            found = rules[(id(server), bound)] = HostRule.of(server, bound)
        return found

    @web.middleware
    async def admit(request: web.Request, handler: Handler) -> web.StreamResponse:
        route = request.match_info.route.resource
        if route is not None and route.canonical in OPEN_ROUTES:
            return await handler(request)
        refusal = _foreign(request, rule())
        if refusal is not None:
            return error_response(403, refusal)
        headers = request.headers
        if not has_proxy_key(headers, proxy.config.server.api_key):
            return error_response(401, PROXY_KEY_HELP)
        if request.method == "POST":
            refused = _unacceptable_body(request)
            if refused is not None:
                return refused
        return await handler(request)

    return admit


def _foreign(request: web.Request, rule: HostRule) -> str | None:
    """Why a browser page that is not the proxy's own may have sent this, or None."""
    headers = request.headers
    authority = headers.get("Host")
    if authority is not None and not rule.admits_host(authority, lambda: _local_address(request)):
        name = host_of(authority)
        return (
            f"ccm-tui: Host {safe_text(name)[:100]!r} is not a name of this proxy (a web "
            "page may be rebinding it). Use 127.0.0.1 or localhost, or add the name "
            "to [server] allowed_hosts."
        )
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site.lower() in FOREIGN_FETCH_SITES:
        return f"ccm-tui: refusing a {site.lower()} request from a web page"
    origin = headers.get("Origin")
    if origin is not None and not _own_origin(origin, rule):
        return f"ccm-tui: refusing a request from the web page of {safe_text(origin)[:100]!r}"
    return None


def _local_address(request: web.Request) -> str | None:
    """The address the connection arrived at: a client may name the proxy by it."""
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    # An IPv4 client of a dual-stack socket arrives at ::ffff:a.b.c.d and names a.b.c.d.
    return str(sockname[0]).removeprefix("::ffff:") if sockname else None


def _own_origin(origin: str, rule: HostRule) -> bool:
    """The proxy's own pages and loopback ones; `null` (a sandboxed or file page) is not."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and rule.admits(_bare(parts.hostname or ""), None)


def _unacceptable_body(request: web.Request) -> web.Response | None:
    """A POST carries JSON (no page can send that without a preflight), in an encoding the
    proxy can undo, and no larger than it will read."""
    headers = request.headers
    media = headers.get("Content-Type", "")
    if media != "application/json":  # as clients send it; else its parameters dropped
        media = media.partition(";")[0].strip().lower()
        if media != "application/json":
            shown = safe_text(media)[:60] or "none"
            return error_response(
                415, f"ccm-tui: expected Content-Type: application/json, got {shown}"
            )
    encoding = headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ENCODINGS:
        shown = safe_text(encoding)[:60]
        return error_response(415, f"ccm-tui: cannot decode a body in Content-Encoding {shown}")
    length = request.content_length
    if length is not None and length > MAX_BODY:
        return closing_error(413, f"request body is larger than {MAX_BODY >> 20} MB")
    return None
