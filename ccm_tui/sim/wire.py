"""The Anthropic wire format as the simulator speaks it: errors, headers, request checks.

Everything here is pure; what the model answers is in `reply.py`, and the aiohttp
handlers only decide *when* to write it.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

import orjson

# Real error messages where they are known, otherwise the API's usual phrasing.
ERROR_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("authentication_error", "invalid x-api-key"),
    402: (
        "billing_error",
        "Your credit balance is too low to access the Anthropic API. "
        "Please go to Plans & Billing to upgrade or purchase credits.",
    ),
    403: (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    404: ("not_found_error", "The requested resource could not be found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization of 50 requests "
        "per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits. "
        "You can see the response headers for current usage.",
    ),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}

OAUTH_BETA = "oauth-2025-04-20"
MSG_OAUTH_UNSUPPORTED = "OAuth authentication is currently not supported."
MSG_OAUTH_EXPIRED = (
    "OAuth token has expired. Please obtain a new token or refresh your existing token."
)
MSG_CLAUDE_CODE_ONLY = (
    "This credential is only authorized for use with Claude Code and cannot be used for "
    "other API requests."
)
MSG_INVALID_BEARER = "Invalid bearer token"
MSG_INVALID_KEY = "invalid x-api-key"
MSG_KEY_REQUIRED = "x-api-key header is required"
MSG_BOTH_CREDENTIALS = (
    "Send one credential: either an x-api-key header or an Authorization header, not both."
)

# The API refuses bodies over 32 MB for the Messages API.
MAX_BODY_BYTES = 32 * 1024 * 1024

MODELS: tuple[tuple[str, str, str], ...] = (
    ("claude-opus-4-1-20250805", "Claude Opus 4.1", "2025-08-05T00:00:00Z"),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-01T00:00:00Z"),
    ("claude-opus-4-20250514", "Claude Opus 4", "2025-05-14T00:00:00Z"),
    ("claude-sonnet-4-20250514", "Claude Sonnet 4", "2025-05-14T00:00:00Z"),
    ("claude-3-5-haiku-20241022", "Claude Haiku 3.5", "2024-10-22T00:00:00Z"),
)


RATE_LIMIT_REQUESTS = 4000
RATE_LIMIT_TOKENS = 2_000_000


def new_id(prefix: str) -> str:
    """Ids shaped like the API's (`msg_…`, `toolu_…`, `req_…`), marked as simulated."""
    return prefix + "sim" + os.urandom(12).hex()


def estimate_tokens(n_chars: int) -> int:
    """Roughly four characters a token, like the usual rule of thumb."""
    return max(1, (n_chars + 3) // 4)


def error_body(status: int, error_type: str | None, message: str | None, request_id: str) -> bytes:
    default_type, default_message = ERROR_TYPES.get(
        status, ("api_error", "Internal server error") if status >= 500 else ERROR_TYPES[400]
    )
    return orjson.dumps(
        {
            "type": "error",
            "error": {"type": error_type or default_type, "message": message or default_message},
            "request_id": request_id,
        }
    )


class _RateLimitClock:
    """RFC 3339 reset times change once a second; format them once a second."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = ""

    def reset(self) -> str:
        now = int(time.time())
        if now != self._second:
            self._second = now
            nxt = datetime.fromtimestamp(now - now % 60 + 60, UTC)
            self._value = nxt.strftime("%Y-%m-%dT%H:%M:%SZ")
        return self._value


_clock = _RateLimitClock()


def rate_limit_headers(remaining: int, input_tokens: int) -> dict[str, str]:
    reset = _clock.reset()
    tokens_left = str(max(0, RATE_LIMIT_TOKENS - input_tokens))
    return {
        "anthropic-ratelimit-requests-limit": str(RATE_LIMIT_REQUESTS),
        "anthropic-ratelimit-requests-remaining": str(remaining),
        "anthropic-ratelimit-requests-reset": reset,
        "anthropic-ratelimit-tokens-limit": str(RATE_LIMIT_TOKENS),
        "anthropic-ratelimit-tokens-remaining": tokens_left,
        "anthropic-ratelimit-tokens-reset": reset,
        "anthropic-ratelimit-input-tokens-limit": str(RATE_LIMIT_TOKENS),
        "anthropic-ratelimit-input-tokens-remaining": tokens_left,
        "anthropic-ratelimit-input-tokens-reset": reset,
    }


class RequestError(Exception):
    """A request the real API would refuse with 4xx; carries the status, type and message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def invalid_request(message: str) -> RequestError:
    return RequestError(400, "invalid_request_error", message)


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_request(
            "There was an error parsing the body of your request: invalid JSON"
        ) from None


def validate_messages_request(body: Any, *, need_max_tokens: bool) -> dict[str, Any]:
    """The checks the real API makes first, with its `field: problem` messages."""
    if not isinstance(body, dict):
        raise invalid_request("Input should be a valid dictionary or object to extract fields from")
    if "model" not in body:
        raise invalid_request("model: Field required")
    if not isinstance(body["model"], str):
        raise invalid_request("model: Input should be a valid string")
    if need_max_tokens:
        if "max_tokens" not in body:
            raise invalid_request("max_tokens: Field required")
        max_tokens = body["max_tokens"]
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise invalid_request("max_tokens: Input should be a valid integer")
        if max_tokens < 1:
            raise invalid_request("max_tokens: Input should be greater than or equal to 1")
    if "messages" not in body:
        raise invalid_request("messages: Field required")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise invalid_request("messages: Input should be a valid list")
    if not messages:
        raise invalid_request("messages: at least one message is required")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid_request(f"messages.{i}: Input should be a valid dictionary")
        # Current Claude Code builds send mid-conversation `system` messages (hook output),
        # and the API takes them for current models.
        if message.get("role") not in ("user", "assistant", "system"):
            raise invalid_request(
                f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'"
            )
        if "content" not in message:
            raise invalid_request(f"messages.{i}.content: Field required")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise invalid_request("tools: Input should be a valid list")
    return body


def models_json(models: tuple[str, ...] | None) -> bytes:
    if models is None:
        entries = [
            {"type": "model", "id": mid, "display_name": name, "created_at": created}
            for mid, name, created in MODELS
        ]
    else:
        known = {mid: (name, created) for mid, name, created in MODELS}
        entries = [
            {
                "type": "model",
                "id": mid,
                "display_name": known.get(mid, (mid, ""))[0],
                "created_at": known.get(mid, ("", "2025-01-01T00:00:00Z"))[1],
            }
            for mid in models
        ]
    return orjson.dumps(
        {
            "data": entries,
            "has_more": False,
            "first_id": entries[0]["id"] if entries else None,
            "last_id": entries[-1]["id"] if entries else None,
        }
    )


def model_entry(models: tuple[str, ...] | None, model_id: str) -> dict[str, Any] | None:
    entries: list[dict[str, Any]] = orjson.loads(models_json(models))["data"]
    for entry in entries:
        if entry["id"] == model_id:
            return entry
    return None


def system_texts(body: dict[str, Any]) -> list[str]:
    system = body.get("system")
    if isinstance(system, str):
        return [system]
    if isinstance(system, list):
        return [b.get("text", "") for b in system if isinstance(b, dict)]
    return []


# *[reported]* How the API tells Claude Code's own requests from others. One place to change.
_CLAUDE_CODE_IDENTITIES = (
    "You are Claude Code",
    "You are a Claude agent, built on Anthropic's Claude Agent SDK",
)


def looks_like_claude_code(body: dict[str, Any], user_agent: str) -> bool:
    """Claude Code's shape: its user-agent and its attribution or identity block first in system."""
    if not user_agent.startswith("claude-cli/"):
        return False
    texts = system_texts(body)
    if not texts:
        return False
    if texts[0].startswith("x-anthropic-billing-header"):
        return True
    return any(t.lstrip().startswith(_CLAUDE_CODE_IDENTITIES) for t in texts[:2])
