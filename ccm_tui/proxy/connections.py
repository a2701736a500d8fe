"""Client connections: what happens before a request exists and after it is answered.

aiohttp's server reads a request's head with no deadline, keeps any number of
connections, answers its own parser errors in text/plain, and after an early answer
keeps reading an unread body for up to ten seconds. A connection that sends headers a
byte at a time, or a hundred that send nothing, would hold the proxy. aiohttp has no
setting or hook for these (aio-libs/aiohttp#3287), so its connection class is extended:

- the request line and headers must be whole within `header_timeout_ms` of their first
  byte (408); a connection idle between requests is aiohttp's keep-alive timer's;
- past `server.max_connections` the idle connection that has waited longest is closed to
  make room, and with none idle the new one is answered 503 and closed;
- every error aiohttp answers itself is Anthropic-shaped JSON;
- an answer that closes the connection before the body was read (413, 408) closes it at
  once instead of reading on.

It reaches into aiohttp's `RequestHandler` state (`_waiter`: the connection awaits its next
request; `_request_count`: heads parsed so far), pinned by `tests/security`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ccm_tui.config import ServerConfig
from ccm_tui.proxy.errors import error_bytes, error_response

Limits = Callable[[], ServerConfig]


class ClientConnection(RequestHandler):
    """One client connection, with a deadline on its request heads."""

    def __init__(self, manager: ConnectionPool, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._pool = manager
        self._head_due: asyncio.TimerHandle | None = None
        self._head_count = 0  # `_request_count` when the deadline was set

    @property
    def idle(self) -> bool:
        """Between requests, with nothing of the next one received."""
        waiter = self._waiter
        return waiter is not None and not waiter.done() and self._head_due is None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if not self._pool.make_room(self):
            self._answer_and_close(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "ccm-tui: too many connections (server.max_connections); try again",
            )

    def _between_requests(self) -> bool:
        """Whether bytes arriving now begin a request head: the connection awaits its next
        request, or it is new and its reading task has not started yet."""
        waiter = self._waiter
        if waiter is not None:
            return not waiter.done()
        return self._request_count == 0 and not self._request_in_progress

    def data_received(self, data: bytes) -> None:
        between = self._head_due is None and self._between_requests()
        count = self._request_count
        super().data_received(data)
        if self._head_due is not None:
            if self._request_count != self._head_count:  # the head came whole
                self._head_due.cancel()
                self._head_due = None
        elif between and data and self._request_count == count:
            # The first bytes of a request whose head is not whole yet.
            self._head_count = count
            self._head_due = self._loop.call_later(
                self._pool.limits().timeouts.header_ms / 1000, self._head_late
            )

    def _head_late(self) -> None:
        self._head_due = None
        if self._request_count == self._head_count and self._between_requests():
            self._answer_and_close(
                HTTPStatus.REQUEST_TIMEOUT,
                "ccm-tui: the request's headers did not arrive in time "
                "(server.timeouts.header_timeout_ms)",
            )

    def _answer_and_close(self, status: HTTPStatus, message: str) -> None:
        if self.transport is not None:
            self.transport.write(error_bytes(status.value, status.phrase, message))
        self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_due is not None:
            self._head_due.cancel()
            self._head_due = None
        super().connection_lost(exc)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's own errors (the parser's, an exception past every route) in the API's
        shape; aiohttp's answer is built only for its logging and its checks."""
        super().handle_error(request, status, exc, message)  # logs; raises if too late
        if status >= 500:
            text = "ccm-tui: internal error (see the proxy's log)"
        else:
            text = f"ccm-tui: malformed HTTP request: {message or HTTPStatus(status).phrase}"
        response = error_response(status, text)
        response.force_close()
        return response

    async def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        answer = await super().finish_response(request, resp, start_time)
        if not resp.keep_alive and not request.content.is_eof():
            self.force_close()  # no lingering read of a body the answer refused
        return answer


class ConnectionPool(web.Server):
    """aiohttp's server, making `ClientConnection`s and keeping their number capped."""

    def __init__(self, plain: web.Server, limits: Limits) -> None:
        # Made from the server aiohttp's runner built for the app: the same handler,
        # request factory and settings.
        super().__init__(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            **plain._kwargs,
        )
        self.limits = limits

    def __call__(self) -> ClientConnection:
        return ClientConnection(self, loop=self._loop, **self._kwargs)

    def make_room(self, new: ClientConnection) -> bool:
        """Whether `new` may stay: under the cap, or an idle connection was closed for it."""
        cap = self.limits().max_connections
        open_ = [c for c in self._connections if c.transport is not None and c is not new]
        if len(open_) < cap:
            return True
        for connection in open_:  # the oldest first
            if isinstance(connection, ClientConnection) and connection.idle:
                connection.force_close()
                return True
        return False


class GuardedRunner(web.AppRunner):
    """`web.AppRunner` serving through a `ConnectionPool`."""

    def __init__(self, app: web.Application, limits: Limits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._limits = limits

    async def _make_server(self) -> web.Server:
        return ConnectionPool(await super()._make_server(), self._limits)
