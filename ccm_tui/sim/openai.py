"""An OpenAI-compatible `/v1/chat/completions` for the providers ccm-tui translates to.

Just enough of the format (WIRE.md, "OpenAI Chat Completions") to exercise the
proxy's translation: text, forced tool calls, `reasoning_content`, usage, and
the `data: ... / data: [DONE]` stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from ccm_tui import sse
from ccm_tui.sim import wire
from ccm_tui.sim.reply import split_text, tool_input
from ccm_tui.sim.scenario import Scenario

_STATUS_TYPES = {
    400: ("invalid_request_error", "Invalid request."),
    401: ("invalid_request_error", "Incorrect API key provided."),
    403: ("permission_error", "You are not allowed to sample from this model."),
    404: ("invalid_request_error", "The requested resource could not be found."),
    429: (
        "rate_limit_exceeded",
        "Rate limit reached for requests. Please try again in 7s.",
    ),
    500: ("server_error", "The server had an error while processing your request."),
    503: ("server_error", "The engine is currently overloaded, please try again later."),
}

REASONING_TEXT = "The user wants a short answer. I will reply briefly."


class OpenAIError(Exception):
    """An error in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`."""

    def __init__(self, status: int, error_type: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.code = code

    def body(self) -> bytes:
        return orjson.dumps(
            {
                "error": {
                    "message": self.message,
                    "type": self.error_type,
                    "param": None,
                    "code": self.code,
                }
            }
        )


def fault_error(scenario: Scenario) -> OpenAIError:
    status = scenario.status or 500
    default_type, default_message = _STATUS_TYPES.get(
        status, _STATUS_TYPES[500] if status >= 500 else _STATUS_TYPES[400]
    )
    return OpenAIError(
        status, scenario.error_type or default_type, scenario.error_message or default_message
    )


def validate(body: Any) -> None:
    if not isinstance(body, dict):
        raise OpenAIError(400, "invalid_request_error", "The request body must be a JSON object.")
    if not isinstance(body.get("model"), str):
        raise OpenAIError(400, "invalid_request_error", "you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise OpenAIError(
            400, "invalid_request_error", "'messages' must be a non-empty array of messages."
        )


def authenticate(authorization: str | None, scenario: Scenario) -> None:
    key = None
    if authorization is not None:
        scheme, _, credential = authorization.partition(" ")
        if scheme.lower() == "bearer" and credential.strip():
            key = credential.strip()
    if key is None:
        if scenario.api_key is not None or scenario.require_auth:
            raise OpenAIError(
                401,
                "invalid_request_error",
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        return
    if scenario.api_key is not None and key != scenario.api_key:
        raise OpenAIError(
            401, "invalid_request_error", "Incorrect API key provided.", "invalid_api_key"
        )


@dataclass(frozen=True, slots=True)
class ChatReply:
    completion_id: str
    model: str
    created: int
    reasoning: tuple[str, ...]
    text: tuple[str, ...]
    tool: dict[str, Any] | None
    tool_chunks: tuple[str, ...]
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def _forced_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    choice = body.get("tool_choice")
    tools: list[dict[str, Any]] = [
        t["function"]
        for t in body.get("tools") or ()
        if isinstance(t, dict) and isinstance(t.get("function"), dict)
    ]
    if choice == "required" and tools:
        return tools[0]
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
        for tool in tools:
            if tool.get("name") == name:
                return tool
        raise OpenAIError(400, "invalid_request_error", f"Tool '{name}' not found in tools.")
    return None


def build_reply(body: dict[str, Any], raw_len: int, text: str, chunks: int) -> ChatReply:
    """Reasoning when asked for (`reasoning_effort` or a reasoner model), then a tool or text."""
    reasoning: tuple[str, ...] = ()
    if "reasoning_effort" in body or "reason" in body["model"]:
        reasoning = split_text(REASONING_TEXT, 3)
    tool = _forced_tool(body)
    tool_chunks: tuple[str, ...] = ()
    out = sum(map(len, reasoning))
    if tool is not None:
        args = orjson.dumps(tool_input({"input_schema": tool.get("parameters")})).decode()
        tool_chunks = split_text(args, 3)
        tool = {"id": wire.new_id("call_"), "name": tool.get("name", ""), "arguments": args}
        text_chunks: tuple[str, ...] = ()
        finish = "tool_calls"
        out += len(args)
    else:
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        finish = "stop"
        if isinstance(limit, int) and len(text) > limit * 4:
            text = text[: limit * 4]
            finish = "length"
        text_chunks = split_text(text, chunks)
        out += len(text)
    return ChatReply(
        completion_id=wire.new_id("chatcmpl-"),
        model=body["model"],
        created=int(time.time()),
        reasoning=reasoning,
        text=text_chunks,
        tool=tool,
        tool_chunks=tool_chunks,
        finish_reason=finish,
        prompt_tokens=wire.estimate_tokens(raw_len),
        completion_tokens=wire.estimate_tokens(out),
    )


def _usage(reply: ChatReply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "total_tokens": reply.prompt_tokens + reply.completion_tokens,
    }


def completion_json(reply: ChatReply) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(reply.text) or None}
    if reply.reasoning:
        message["reasoning_content"] = "".join(reply.reasoning)
    if reply.tool is not None:
        message["tool_calls"] = [
            {
                "id": reply.tool["id"],
                "type": "function",
                "function": {"name": reply.tool["name"], "arguments": reply.tool["arguments"]},
            }
        ]
    return orjson.dumps(
        {
            "id": reply.completion_id,
            "object": "chat.completion",
            "created": reply.created,
            "model": reply.model,
            "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
            "usage": _usage(reply),
        }
    )


def stream_frames(reply: ChatReply, body: dict[str, Any]) -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse.json_frame(
            {
                "id": reply.completion_id,
                "object": "chat.completion.chunk",
                "created": reply.created,
                "model": reply.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
        )

    frames = [chunk({"role": "assistant", "content": ""})]
    frames.extend(chunk({"reasoning_content": p}) for p in reply.reasoning)
    frames.extend(chunk({"content": p}) for p in reply.text)
    if reply.tool is not None:
        frames.append(
            chunk(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": reply.tool["id"],
                            "type": "function",
                            "function": {"name": reply.tool["name"], "arguments": ""},
                        }
                    ]
                }
            )
        )
        frames.extend(
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": p}}]})
            for p in reply.tool_chunks
        )
    frames.append(chunk({}, reply.finish_reason))
    options = body.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        frames.append(
            sse.json_frame(
                {
                    "id": reply.completion_id,
                    "object": "chat.completion.chunk",
                    "created": reply.created,
                    "model": reply.model,
                    "choices": [],
                    "usage": _usage(reply),
                }
            )
        )
    frames.append(sse.frame(b"[DONE]"))
    return frames


def stream_error_frame(error_type: str, message: str) -> bytes:
    return sse.json_frame(
        {"error": {"message": message, "type": error_type, "param": None, "code": None}}
    )
