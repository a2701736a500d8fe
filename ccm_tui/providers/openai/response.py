"""Chat completion -> Messages API answer: content blocks, stop reason, usage."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import orjson

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def new_tool_id() -> str:
    return "toolu_" + secrets.token_hex(12)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def usage_from(usage: Any) -> dict[str, int]:
    """OpenAI counts cached prompt tokens inside prompt_tokens; Anthropic counts them apart."""
    if not isinstance(usage, dict):
        usage = {}
    details = usage.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    prompt = _int(usage.get("prompt_tokens"))
    return {
        "input_tokens": max(prompt - cached, 0),
        "output_tokens": _int(usage.get("completion_tokens")),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


def stop_reason(finish_reason: Any, used_tools: bool) -> str:
    reason = STOP_REASONS.get(str(finish_reason), "end_turn")
    # Some servers (ollama among them) say "stop" after tool calls; the client must run them.
    if used_tools and reason == "end_turn":
        return "tool_use"
    return reason


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def reasoning_text(message: Mapping[str, Any]) -> str:
    """The reasoning a message or delta carries, under either name servers use for it."""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def tool_input(arguments: Any) -> dict[str, Any]:
    """Parsed tool arguments; anything that is not a JSON object is kept under `_raw`."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {"_raw": arguments}
    return parsed if isinstance(parsed, dict) else {"_raw": arguments}


def from_chat_response(
    data: Mapping[str, Any],
    requested_model: str,
    tool_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Messages API answer for a chat completion. Raises ValueError when `data` is not
    one (no choices), so the proxy can fail over as for any malformed answer."""
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("the chat completion has no choices")
    choice = choices[0]
    raw = choice.get("message")
    message: dict[str, Any] = raw if isinstance(raw, dict) else {}
    names = tool_names or {}
    content: list[dict[str, Any]] = []
    reasoning = reasoning_text(message)
    if reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = _text_of(message.get("content"))
    refusal = message.get("refusal")
    if not text and isinstance(refusal, str) and refusal:
        text = refusal
    if text:
        content.append({"type": "text", "text": text})
    calls = message.get("tool_calls")
    used_tools = False
    for call in calls if isinstance(calls, list) else ():
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            continue
        name = str(function.get("name") or "")
        content.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or new_tool_id()),
                "name": names.get(name, name),
                "input": tool_input(function.get("arguments")),
            }
        )
        used_tools = True
    return {
        "id": new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": requested_model,
        "content": content,
        "stop_reason": stop_reason(choice.get("finish_reason"), used_tools),
        "stop_sequence": None,
        "usage": usage_from(data.get("usage")),
    }
