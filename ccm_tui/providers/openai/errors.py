"""OpenAI-style errors in the Anthropic shape, for error bodies and for stream error chunks."""

from __future__ import annotations

from typing import Any

import orjson

from ccm_tui.apierrors import error_body, error_type_for

# OpenAI-style `error.type` / `error.code` values seen in streams -> Anthropic error types.
STREAM_ERROR_TYPES = {
    "rate_limit_exceeded": "rate_limit_error",
    "rate_limit_error": "rate_limit_error",
    "insufficient_quota": "rate_limit_error",
    "server_error": "api_error",
    "api_error": "api_error",
    "overloaded": "overloaded_error",
    "overloaded_error": "overloaded_error",
    "timeout": "timeout_error",
    "invalid_request_error": "invalid_request_error",
    "context_length_exceeded": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
}


def error_message(error: Any, body: bytes) -> str:
    """The message of an OpenAI-style `error` (an object or a string), else the body's start."""
    if isinstance(error, dict) and isinstance(message := error.get("message"), str):
        return message
    if isinstance(error, str) and error:
        return error
    text = body[:300].decode("utf-8", "replace").strip()
    return text or "(empty body)"


def error_to_anthropic(status: int, body: bytes) -> bytes:
    """An upstream error body in the Anthropic shape: type from the status, message kept."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if (
        isinstance(data, dict)
        and data.get("type") == "error"
        and isinstance(data.get("error"), dict)
        and isinstance(data["error"].get("type"), str)
    ):
        return body  # already Anthropic-shaped (some compatible servers speak both)
    error: Any = None
    if isinstance(data, dict):
        error = data.get("error")
        if error is None and isinstance(data.get("detail"), str):
            error = data["detail"]  # FastAPI-style servers (vLLM, LM Studio, ...)
        elif error is None and isinstance(data.get("message"), str):
            error = data["message"]
    return orjson.dumps(error_body(error_type_for(status), error_message(error, body)))


def stream_error_type(error: Any) -> str:
    """The Anthropic error type for an error chunk in a stream: by code, else by name."""
    if isinstance(error, dict):
        code = error.get("code")
        if isinstance(code, int) and not isinstance(code, bool) and code >= 400:
            return error_type_for(code)
        for key in ("type", "code"):
            mapped = STREAM_ERROR_TYPES.get(str(error.get(key)))
            if mapped:
                return mapped
    return "api_error"
