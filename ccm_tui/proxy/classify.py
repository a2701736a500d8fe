"""Which failure class an upstream answer or exception belongs to (DESIGN.md, Failures)."""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import Any

import aiohttp
import orjson

from ccm_tui.events import Failure
from ccm_tui.masking import mask_text

# The refusal in claude-code-mux issue 7; Claude Code matches on this wording [reported].
CLAUDE_CODE_ONLY = "only authorized for use with Claude Code"

MAX_RETRY_AFTER_S = 3600.0


def read_error(body: bytes) -> tuple[Any, str]:
    """An upstream error body, parsed (None when it is not JSON), and its message: the
    `error.message` of an Anthropic error, or a short printable excerpt."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return data, mask_text(error["message"])
    if isinstance(error, str):  # OAuth-style {"error": "...", "error_description": "..."}
        return data, mask_text(str(data.get("error_description") or error))
    text = body[:300].decode("utf-8", "replace").strip()
    return data, mask_text(text) or "(empty body)"


def classify_status(status: int, message: str) -> Failure:
    if 200 <= status < 300:
        return Failure.OK
    if status == 400 and CLAUDE_CODE_ONLY in message:
        return Failure.OAUTH_SCOPE
    if status == 429:
        return Failure.RATE_LIMITED
    if status == 529:
        return Failure.OVERLOADED
    if status in (401, 402, 403):
        return Failure.AUTH_ERROR
    if status == 404:
        return Failure.MODEL_NOT_FOUND
    if status == 408:
        return Failure.TIMEOUT
    if status >= 500:
        return Failure.SERVER_ERROR
    return Failure.CLIENT_ERROR


def classify_exception(exc: BaseException) -> tuple[Failure, str]:
    if isinstance(exc, asyncio.CancelledError):
        return Failure.CANCELLED, "client went away"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return Failure.TIMEOUT, "timed out connecting"
    if isinstance(exc, TimeoutError):
        return Failure.TIMEOUT, str(exc) or "timed out"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return Failure.CONNECT_ERROR, f"cannot connect: {exc.os_error.strerror or exc.os_error}"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError):
        return Failure.SERVER_ERROR, "upstream closed the connection"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return Failure.CONNECT_ERROR, mask_text(str(exc)) or type(exc).__name__
    return Failure.SERVER_ERROR, mask_text(f"{type(exc).__name__}: {exc}")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `retry-after` header: integer seconds (the API's form) or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)
