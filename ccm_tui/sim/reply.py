"""What a simulated model answers: thinking, a forced tool call or text, as JSON or SSE.

Pure: a validated request body goes in, the reply and its bytes come out.
"""

from __future__ import annotations

import base64
import functools
import os
import re
from dataclasses import dataclass
from typing import Any

import orjson

from ccm_tui import sse
from ccm_tui.sim.wire import estimate_tokens, invalid_request, new_id

_WORDS = re.compile(r"\s*\S+\s*$|\s*\S+")

THINKING_TEXT = (
    "The user sent a message. I should answer briefly and directly, "
    "without using any tools unless asked."
)

# The real API writes the ping with a space after the colon; keep that byte-exact.
PING_FRAME = sse.frame(b'{"type": "ping"}', "ping")


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
        raise invalid_request(
            "tool_choice: tool_choice may only be specified while providing tools."
        )
    if choice["type"] == "tool":
        name = choice.get("name")
        for tool in tools:
            if tool.get("name") == name:
                return tool
        raise invalid_request(f"tool_choice.name: Tool '{name}' not found in tools")
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
        sse.message_event(
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
        start: dict[str, Any]
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
            sse.message_event(
                {"type": "content_block_start", "index": index, "content_block": start}
            )
        )
        if index == 0:
            frames.append(PING_FRAME)
        frames.extend(
            sse.message_event({"type": "content_block_delta", "index": index, "delta": d})
            for d in deltas
        )
        frames.append(sse.message_event({"type": "content_block_stop", "index": index}))
    frames.append(
        sse.message_event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                "usage": _usage(reply, reply.output_tokens),
            }
        )
    )
    frames.append(sse.message_event({"type": "message_stop"}))
    return frames


def stream_error_frame(error_type: str, message: str) -> bytes:
    return sse.error_event(error_type, message)
