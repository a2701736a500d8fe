"""The Anthropic wire format as the simulator writes it: replies, SSE frames, errors, headers.

Everything here is pure: a request body goes in, bytes come out. The
aiohttp handlers in `app.py` only decide *when* to write them.
"""

from __future__ import annotations

import base64
import functools
import os
import re
import time
from dataclasses import dataclass
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

_WORDS = re.compile(r"\s*\S+\s*$|\s*\S+")

THINKING_TEXT = (
    "The user sent a message. I should answer briefly and directly, "
    "without using any tools unless asked."
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


def sse_frame(event: str, data: bytes) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def _frame(payload: dict[str, Any]) -> bytes:
    return sse_frame(payload["type"], orjson.dumps(payload))


# The real API writes the ping with a space after the colon; keep that byte-exact.
PING_FRAME = b'event: ping\ndata: {"type": "ping"}\n\n'


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


def add_unified_headers(headers: dict[str, str]) -> None:
    """*[reported]* Subscription (OAuth) traffic also carries the unified rate-limit headers."""
    now = int(time.time())
    headers.setdefault("anthropic-ratelimit-unified-status", "allowed")
    headers.setdefault("anthropic-ratelimit-unified-reset", str(now - now % 18000 + 18000))


class RequestError(Exception):
    """A request the real API would refuse with 4xx; carries the status, type and message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def _invalid(message: str) -> RequestError:
    return RequestError(400, "invalid_request_error", message)


def parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _invalid(
            "There was an error parsing the body of your request: invalid JSON"
        ) from None


def validate_messages_request(body: Any, *, need_max_tokens: bool) -> dict[str, Any]:
    """The checks the real API makes first, with its `field: problem` messages."""
    if not isinstance(body, dict):
        raise _invalid("Input should be a valid dictionary or object to extract fields from")
    if "model" not in body:
        raise _invalid("model: Field required")
    if not isinstance(body["model"], str):
        raise _invalid("model: Input should be a valid string")
    if need_max_tokens:
        if "max_tokens" not in body:
            raise _invalid("max_tokens: Field required")
        max_tokens = body["max_tokens"]
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool):
            raise _invalid("max_tokens: Input should be a valid integer")
        if max_tokens < 1:
            raise _invalid("max_tokens: Input should be greater than or equal to 1")
    if "messages" not in body:
        raise _invalid("messages: Field required")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _invalid("messages: Input should be a valid list")
    if not messages:
        raise _invalid("messages: at least one message is required")
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _invalid(f"messages.{i}: Input should be a valid dictionary")
        # Current Claude Code builds send mid-conversation `system` messages (hook output),
        # and the API takes them for current models.
        if message.get("role") not in ("user", "assistant", "system"):
            raise _invalid(f"messages.{i}.role: Input should be 'user', 'assistant' or 'system'")
        if "content" not in message:
            raise _invalid(f"messages.{i}.content: Field required")
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise _invalid("tools: Input should be a valid list")
    return body


@dataclass(frozen=True, slots=True)
class Reply:
    """What the simulated model answers: blocks in order plus the final stop reason."""

    model: str
    message_id: str
    blocks: tuple[dict[str, Any], ...]
    text_chunks: tuple[tuple[str, ...], ...]
    stop_reason: str
    input_tokens: int
    output_tokens: int


@functools.lru_cache(maxsize=256)
def split_text(text: str, n: int) -> tuple[str, ...]:
    """Cuts text into exactly min(n, len(text)) pieces, at word starts when there are enough."""
    if n <= 1 or len(text) <= 1:
        return (text,)
    words = _WORDS.findall(text)
    if len(words) >= n:
        per = len(words) / n
        return tuple("".join(words[round(i * per) : round((i + 1) * per)]) for i in range(n))
    n = min(n, len(text))
    per = len(text) / n
    return tuple(text[round(i * per) : round((i + 1) * per)] for i in range(n))


def _schema_value(name: str, schema: Any) -> Any:
    if not isinstance(schema, dict):
        return "sim"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "string":
        return f"sim {name}"
    if kind in ("number", "integer"):
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    return None


def tool_input(tool: dict[str, Any]) -> dict[str, Any]:
    """A plausible input for a tool: its required properties, or all of them."""
    schema = tool.get("input_schema")
    if not isinstance(schema, dict):
        return {}
    props = schema.get("properties")
    if not isinstance(props, dict):
        return {}
    required = schema.get("required")
    names = [n for n in required if n in props] if isinstance(required, list) else []
    if not names:
        names = list(props)
    return {n: _schema_value(n, props[n]) for n in names}


def _forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") not in ("any", "tool"):
        return None
    tools = [t for t in body.get("tools") or () if isinstance(t, dict)]
    if not tools:
        raise _invalid("tool_choice: tool_choice may only be specified while providing tools.")
    if choice["type"] == "tool":
        name = choice.get("name")
        for tool in tools:
            if tool.get("name") == name:
                return tool
        raise _invalid(f"tool_choice.name: Tool '{name}' not found in tools")
    custom = [t for t in tools if "input_schema" in t]
    return (custom or tools)[0]


def thinking_enabled(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def build_reply(body: dict[str, Any], raw_len: int, text: str, output_chunks: int) -> Reply:
    """Answers from the request: thinking first if enabled, then a forced tool, else text."""
    blocks: list[dict[str, Any]] = []
    chunks: list[tuple[str, ...]] = []
    out_chars = 0
    if thinking_enabled(body):
        signature = base64.b64encode(os.urandom(48)).decode()
        blocks.append({"type": "thinking", "thinking": THINKING_TEXT, "signature": signature})
        chunks.append(split_text(THINKING_TEXT, 3))
        out_chars += len(THINKING_TEXT)
    tool = _forced_tool(body)
    if tool is not None:
        tool_args = tool_input(tool)
        args_json = orjson.dumps(tool_args).decode()
        blocks.append(
            {
                "type": "tool_use",
                "id": new_id("toolu_"),
                "name": tool.get("name", ""),
                "input": tool_args,
            }
        )
        # The API's first input_json_delta is usually empty.
        chunks.append(("", *split_text(args_json, 3)))
        out_chars += len(args_json)
        stop_reason = "tool_use"
    else:
        stop_reason = "end_turn"
        max_chars = body.get("max_tokens", 1 << 30) * 4
        if isinstance(max_chars, int) and len(text) > max_chars:
            text = text[:max_chars]
            stop_reason = "max_tokens"
        blocks.append({"type": "text", "text": text})
        chunks.append(split_text(text, output_chunks))
        out_chars += len(text)
    return Reply(
        model=body["model"],
        message_id=new_id("msg_"),
        blocks=tuple(blocks),
        text_chunks=tuple(chunks),
        stop_reason=stop_reason,
        input_tokens=estimate_tokens(raw_len),
        output_tokens=estimate_tokens(out_chars),
    )


def _usage(reply: Reply, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": reply.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
    }


def message_json(reply: Reply) -> bytes:
    return orjson.dumps(
        {
            "id": reply.message_id,
            "type": "message",
            "role": "assistant",
            "model": reply.model,
            "content": list(reply.blocks),
            "stop_reason": reply.stop_reason,
            "stop_sequence": None,
            "usage": _usage(reply, reply.output_tokens),
        }
    )


def stream_frames(reply: Reply) -> list[bytes]:
    """The complete SSE event sequence for a reply, one bytes object per event."""
    frames = [
        _frame(
            {
                "type": "message_start",
                "message": {
                    "id": reply.message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": reply.model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": _usage(reply, 1),
                },
            }
        )
    ]
    for index, (block, pieces) in enumerate(zip(reply.blocks, reply.text_chunks, strict=True)):
        kind = block["type"]
        if kind == "thinking":
            start = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in pieces]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "tool_use":
            start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        else:
            start = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in pieces]
        frames.append(
            _frame({"type": "content_block_start", "index": index, "content_block": start})
        )
        if index == 0:
            frames.append(PING_FRAME)
        frames.extend(
            _frame({"type": "content_block_delta", "index": index, "delta": d}) for d in deltas
        )
        frames.append(_frame({"type": "content_block_stop", "index": index}))
    frames.append(
        _frame(
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                "usage": _usage(reply, reply.output_tokens),
            }
        )
    )
    frames.append(_frame({"type": "message_stop"}))
    return frames


def stream_error_frame(error_type: str, message: str) -> bytes:
    return _frame({"type": "error", "error": {"type": error_type, "message": message}})


def broken_frame(frame: bytes) -> bytes:
    """An event whose data line is cut off mid-JSON but still ends like a frame."""
    head, _, data = frame.partition(b"\ndata: ")
    return head + b"\ndata: " + data[: max(1, len(data) // 2)].rstrip(b"\n") + b"\n\n"


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
    for entry in orjson.loads(models_json(models))["data"]:
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
