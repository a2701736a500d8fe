"""Error responses the proxy makes itself, shaped like the API's own."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from ccm_tui.apierrors import error_body, error_type_for


def error_response(
    status: int,
    message: str,
    error_type: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> web.Response:
    body = error_body(error_type or error_type_for(status), message, extra)
    return web.Response(
        status=status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=headers,
    )


__all__ = ["error_body", "error_response", "error_type_for"]
