"""Anthropic's error shape: the status table of WIRE.md and the body every error wears.

Kept free of aiohttp so translation code (providers/openai/) can use it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def error_type_for(status: int) -> str:
    return ERROR_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def error_body(
    error_type: str, message: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": f"req_ccm_{uuid.uuid4().hex[:24]}",
    }
    if extra:
        body.update(extra)
    return body
