"""Error responses the proxy makes itself, shaped like the API's own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from ccm_tui.apierrors import error_body, error_type_for
from ccm_tui.masking import safe_text


def error_response(
    status: int,
    message: str,
    error_type: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> web.Response:
    body = error_body(error_type or error_type_for(status), safe_text(message), extra)
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def closing_error(status: int, message: str) -> web.Response:
    """An error after which the connection closes at once, the rest of the request unread
    (a body too large to read, or one that stopped coming): `connections` skips aiohttp's
    lingering read for it."""
    response = error_response(status, message)
    response.force_close()
    return response


def error_bytes(status: int, reason: str, message: str) -> bytes:
    """A whole HTTP/1.1 error answer, for a connection that has no request to answer
    through (headers that never ended, no room for another connection)."""
    body = orjson.dumps(error_body(error_type_for(status), message))
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


__all__ = ["closing_error", "error_body", "error_bytes", "error_response", "error_type_for"]
