"""Anthropic Messages <-> OpenAI Chat Completions, for the OpenAI-compatible provider types.

Pure functions and one state machine: no I/O, no aiohttp, so every mapping is tested on its
own. The proxy sends `to_chat_request(...)` upstream and hands the client what
`from_chat_response`, `StreamTranslator` and `error_to_anthropic` make of the answer, so a
client that speaks only the Messages API (Claude Code, the anthropic SDK) never sees the
other format. Mappings follow WIRE.md, "OpenAI Chat Completions".
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from ccm_tui.apierrors import error_body, error_type_for
from ccm_tui.config import ProviderConfig
from ccm_tui.events import AuthMode
from ccm_tui.providers.anthropic import Credential, matches_secret

log = logging.getLogger(__name__)

# OpenAI's rule for function names; longer or other names are rewritten reversibly.
MAX_TOOL_NAME = 64
_TOOL_NAME_OK = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOOL_NAME_BAD_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_HASH_CHARS = 10
_BLOCK_TYPE_OK = re.compile(r"[a-z0-9_]{1,40}")

STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}

# OpenAI-style `error.type` / `error.code` values seen in streams -> Anthropic error types.
_STREAM_ERROR_TYPES = {
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

# Client headers an OpenAI-compatible upstream may see; everything Anthropic stays behind.
FORWARDED_HEADERS = ("accept", "user-agent")


# -- tool names ------------------------------------------------------------------------------


def short_tool_name(name: str) -> str:
    """A name OpenAI accepts; names that already fit are unchanged, others get a hash suffix
    (so two long names that share a prefix stay distinct, and the mapping can be reversed)."""
    if _TOOL_NAME_OK.fullmatch(name):
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_CHARS]
    safe = _TOOL_NAME_BAD_CHARS.sub("_", name)[: MAX_TOOL_NAME - _HASH_CHARS - 1]
    return f"{safe}_{digest}"


def tool_name_map(body: Mapping[str, Any]) -> dict[str, str]:
    """Shortened name -> original, for every tool name in the request that had to change."""
    names: set[str] = set()
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
            names.add(tool["name"])
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and isinstance(choice.get("name"), str):
        names.add(choice["name"])
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            for block in content:
                if (
                    isinstance(block, dict)
                    and block.get("type") == "tool_use"
                    and isinstance(block.get("name"), str)
                ):
                    names.add(block["name"])
    out: dict[str, str] = {}
    for name in names:
        short = short_tool_name(name)
        if short != name:
            out[short] = name
    return out


# -- request ---------------------------------------------------------------------------------


def _dropped(block_type: Any) -> None:
    """Logs the kind of a block that has no Chat Completions form, never its content."""
    ok = isinstance(block_type, str) and _BLOCK_TYPE_OK.fullmatch(block_type)
    kind = block_type if ok else "?"
    log.debug("openai translation: dropped a %s block (no Chat Completions equivalent)", kind)


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        parts = []
        for block in system:
            if isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            else:
                _dropped(block.get("type") if isinstance(block, dict) else None)
        return "\n\n".join(parts)
    return ""


def _image_part(block: Mapping[str, Any]) -> dict[str, Any] | None:
    source = block.get("source")
    if not isinstance(source, dict):
        return None
    if source.get("type") == "base64":
        media = source.get("media_type") or "image/png"
        url = f"data:{media};base64,{source.get('data', '')}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        return None
    return {"type": "image_url", "image_url": {"url": url}}


def _document_text(block: Mapping[str, Any]) -> str | None:
    source = block.get("source")
    if isinstance(source, dict) and source.get("type") == "text":
        return str(source.get("data", ""))
    return None


def _flatten(content: Any) -> str:
    """A tool result's content as plain text (Chat Completions tool messages carry text)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return "" if content is None else str(content)
    parts: list[str] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append(str(block.get("text", "")))
        elif kind == "image":
            parts.append("[image omitted: tool results carry text only]")
        elif kind == "document" and (text := _document_text(block)) is not None:
            parts.append(text)
        else:
            _dropped(kind)
    return "\n".join(parts)


def _user_messages(content: Any) -> list[dict[str, Any]]:
    """One Anthropic user turn: tool messages first (they must follow the assistant's
    tool_calls), then the user's own text and images."""
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    if not isinstance(content, list):
        return []
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text", ""))})
        elif kind == "image":
            image = _image_part(block)
            if image is not None:
                parts.append(image)
            else:
                _dropped(kind)
        elif kind == "document" and (text := _document_text(block)) is not None:
            parts.append({"type": "text", "text": text})
        elif kind == "tool_result":
            text = _flatten(block.get("content"))
            if block.get("is_error"):
                text = f"Error: {text}" if text else "Error"
            tools.append(
                {"role": "tool", "tool_call_id": str(block.get("tool_use_id", "")), "content": text}
            )
        else:
            _dropped(kind)
    out = tools
    if parts:
        if all(p["type"] == "text" for p in parts):
            # Plain text is the form every OpenAI-compatible server accepts.
            out.append({"role": "user", "content": "\n\n".join(p["text"] for p in parts)})
        else:
            out.append({"role": "user", "content": parts})
    return out


def _assistant_message(content: Any) -> dict[str, Any] | None:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    if not isinstance(content, list):
        return None
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": str(block.get("id", "")),
                    "type": "function",
                    "function": {
                        "name": short_tool_name(str(block.get("name", ""))),
                        "arguments": orjson.dumps(block.get("input") or {}).decode(),
                    },
                }
            )
        else:  # thinking, redacted_thinking, server tool blocks: no equivalent
            _dropped(kind)
    if not texts and not calls:
        return None
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools if isinstance(tools, list) else ():
        # Server tools (web_search_..., bash_...) have no input_schema and no equivalent.
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            continue
        if "input_schema" not in tool:
            _dropped("server_tool")
            continue
        function: dict[str, Any] = {
            "name": short_tool_name(tool["name"]),
            "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
        }
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any) -> Any:
    if not isinstance(choice, dict):
        return None
    kind = choice.get("type")
    if kind == "tool" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": short_tool_name(choice["name"])}}
    return TOOL_CHOICES.get(str(kind))


def to_chat_request(body: Mapping[str, Any], actual_model: str) -> dict[str, Any]:
    """The Chat Completions request for a Messages API request. Fields with no equivalent
    (thinking, top_k, cache_control, context_management, server tools) are dropped."""
    messages: list[dict[str, Any]] = []
    system = _system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if message.get("role") == "assistant":
            assistant = _assistant_message(content)
            if assistant is not None:
                messages.append(assistant)
        else:
            messages.extend(_user_messages(content))
    out: dict[str, Any] = {"model": actual_model, "messages": messages}
    if body.get("max_tokens") is not None:
        out["max_tokens"] = body["max_tokens"]
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop_sequences")
    if isinstance(stop, list) and stop:
        out["stop"] = stop
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = tools
        choice = body.get("tool_choice")
        mapped = _tool_choice(choice)
        if mapped is not None:
            out["tool_choice"] = mapped
        if isinstance(choice, dict) and choice.get("disable_parallel_tool_use") is True:
            out["parallel_tool_calls"] = False
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        out["user"] = metadata["user_id"]
    if body.get("stream") is True:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out


def chat_headers(
    client_headers: Iterable[tuple[str, str]],
    credential: Credential,
    proxy_key: str | None,
) -> dict[str, str]:
    """Headers for an OpenAI-compatible upstream: JSON, the client's accept and user-agent,
    and a Bearer credential. No Anthropic header travels (betas, session ids, x-api-key)."""
    out = {"Content-Type": "application/json"}
    client_secret: str | None = None
    for name, value in client_headers:
        lower = name.lower()
        if lower in FORWARDED_HEADERS:
            out[name] = value
        elif lower in ("authorization", "x-api-key") and client_secret is None:
            candidate = value[7:] if value[:7].lower() == "bearer " else value
            if candidate.strip() and not matches_secret(value, proxy_key):
                client_secret = candidate.strip()
    if credential.mode is AuthMode.PASSTHROUGH:
        # An Anthropic key or claude.ai token must never reach a third party.
        if client_secret is not None and not client_secret.startswith("sk-ant-"):
            out["Authorization"] = f"Bearer {client_secret}"
    elif credential.secret:
        out["Authorization"] = f"Bearer {credential.secret}"
    return out


def chat_url(provider: ProviderConfig) -> str:
    base = provider.base_url.rstrip("/")
    return base if base.endswith("/chat/completions") else base + "/chat/completions"


# -- responses -------------------------------------------------------------------------------


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


def _reasoning(message: Mapping[str, Any]) -> str:
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
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    names = tool_names or {}
    content: list[dict[str, Any]] = []
    reasoning = _reasoning(message)
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


def _message_of(error: Any, body: bytes) -> str:
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
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
    return orjson.dumps(error_body(error_type_for(status), _message_of(error, body)))


# -- streams ---------------------------------------------------------------------------------


def frame(event: str, data: Mapping[str, Any]) -> bytes:
    """One Anthropic SSE frame, as WIRE.md shows it."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


PING = frame("ping", {"type": "ping"})


def _stream_error_type(error: Any) -> str:
    if isinstance(error, dict):
        code = error.get("code")
        if isinstance(code, int) and not isinstance(code, bool) and code >= 400:
            return error_type_for(code)
        for key in ("type", "code"):
            mapped = _STREAM_ERROR_TYPES.get(str(error.get(key)))
            if mapped:
                return mapped
    return "api_error"


class StreamTranslator:
    """Chat Completions SSE bytes in, Messages API SSE frames out.

    Feed it upstream chunks as they come (they may cut lines anywhere); each call returns
    the whole frames now owed to the client, possibly none. Blocks are opened on the first
    reasoning text, text, or fragment of each tool call, and closed when another begins or
    the choice finishes; `message_delta` (with the usage that OpenAI sends after the
    finish) and `message_stop` follow at `[DONE]`. A stream that ends without a
    finish_reason gets no `message_stop`: the proxy reports it as broken.
    """

    def __init__(self, requested_model: str, tool_names: Mapping[str, str] | None = None) -> None:
        self.model = requested_model
        self._names = tool_names or {}
        self._line_buf = b""
        self._data: list[bytes] = []
        self._out: list[bytes] = []
        self._started = False
        self._index = -1
        self._open: str | None = None  # "text" | "thinking" | "tool"
        self._tool_key: tuple[str, Any] | None = None
        self._tool_id = ""
        self._tool_args = False
        self._closed_tools: set[tuple[str, Any]] = set()
        self._used_tools = False
        self._finish_reason: str | None = None
        self._usage: Any = None
        self._chars = 0
        self.done = False  # message_stop or an error sent, or the stream finished broken
        self.complete = False  # message_stop sent
        self.dropped = 0  # late tool-call fragments for a block already closed

    # input ----------------------------------------------------------------------------------

    def feed(self, chunk: bytes) -> bytes:
        if self.done:
            return b""
        lines = (self._line_buf + chunk).split(b"\n")
        self._line_buf = lines.pop()
        for line in lines:
            self._line(line)
            if self.done:
                break
        return self._flush()

    def finish(self) -> bytes:
        """The frames still owed when the upstream has ended. Without a finish_reason only
        the open block is closed: no message_stop, so the stream counts as broken."""
        if self.done:
            return b""
        if self._line_buf:
            self._line(self._line_buf)
            self._line_buf = b""
        if self._data and not self.done:
            self._dispatch()
        if not self.done:
            if self._finish_reason is not None:
                self._end_message()
            else:
                self._close_block()
                self.done = True
        return self._flush()

    def _flush(self) -> bytes:
        if not self._out:
            return b""
        out = b"".join(self._out)
        self._out.clear()
        return out

    def _line(self, line: bytes) -> None:
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            if self._data:
                self._dispatch()
        elif line.startswith(b"data:"):
            value = line[5:]
            self._data.append(value[1:] if value.startswith(b" ") else value)
        elif line.startswith(b":") and self._started:
            # A keep-alive comment: keep the client's connection alive too.
            self._out.append(PING)
        # `event:`, `id:` and `retry:` carry nothing a chat completion needs.

    def _dispatch(self) -> None:
        lines, self._data = self._data, []
        if len(lines) > 1 and not self._is_json(b"\n".join(lines)):
            # A server that omits the blank line between events: read each line alone.
            for line in lines:
                self._payload(line)
                if self.done:
                    return
            return
        self._payload(b"\n".join(lines))

    @staticmethod
    def _is_json(payload: bytes) -> bool:
        try:
            orjson.loads(payload)
        except orjson.JSONDecodeError:
            return False
        return True

    def _payload(self, payload: bytes) -> None:
        """One event's data: `[DONE]`, or a chunk as JSON."""
        if payload.strip() == b"[DONE]":
            if self._finish_reason is not None:
                self._end_message()
            return
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            self._error("api_error", "ccm-tui: the upstream sent a stream chunk that is not JSON")
            return
        if isinstance(chunk, dict):
            self._chunk(chunk)

    # chunks ---------------------------------------------------------------------------------

    def _chunk(self, chunk: Mapping[str, Any]) -> None:
        error = chunk.get("error")
        if error:
            self._error(_stream_error_type(error), _message_of(error, b"upstream error"))
            return
        self._start()
        usage = chunk.get("usage")
        if not isinstance(usage, dict):
            extra = chunk.get("x_groq")
            usage = extra.get("usage") if isinstance(extra, dict) else None
        if isinstance(usage, dict):
            self._usage = usage
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:
            return
        choice = next((c for c in choices if isinstance(c, dict) and c.get("index", 0) == 0), None)
        if choice is None:
            return
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = _reasoning(delta)
            if reasoning:
                self._thinking(reasoning)
            text = delta.get("content")
            if not isinstance(text, str) or not text:
                text = delta.get("refusal")
            if isinstance(text, str) and text:
                self._text(text)
            calls = delta.get("tool_calls")
            if isinstance(calls, list):
                for position, call in enumerate(calls):
                    if isinstance(call, dict):
                        self._tool(call, position)
        finish = choice.get("finish_reason")
        if finish:
            self._finish_reason = str(finish)
            self._close_block()

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        self._out.append(
            frame(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": new_message_id(),
                        "type": "message",
                        "role": "assistant",
                        "content": [],
                        "model": self.model,
                        "stop_reason": None,
                        "stop_sequence": None,
                        # OpenAI reports usage only at the end: message_delta carries it.
                        "usage": {
                            "input_tokens": 0,
                            "output_tokens": 0,
                            "cache_creation_input_tokens": 0,
                            "cache_read_input_tokens": 0,
                        },
                    },
                },
            )
        )

    def _open_block(self, kind: str, block: dict[str, Any]) -> None:
        self._close_block()
        self._index += 1
        self._open = kind
        self._out.append(
            frame(
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": block},
            )
        )

    def _delta(self, delta: dict[str, Any]) -> None:
        self._out.append(
            frame(
                "content_block_delta",
                {"type": "content_block_delta", "index": self._index, "delta": delta},
            )
        )

    def _close_block(self) -> None:
        if self._open is None:
            return
        if self._open == "thinking":
            # Anthropic ends a thinking block with its signature; there is none to give.
            self._delta({"type": "signature_delta", "signature": ""})
        elif self._open == "tool":
            if not self._tool_args:
                self._delta({"type": "input_json_delta", "partial_json": "{}"})
            if self._tool_key is not None:
                self._closed_tools.add(self._tool_key)
        self._out.append(
            frame("content_block_stop", {"type": "content_block_stop", "index": self._index})
        )
        self._open = None

    def _thinking(self, text: str) -> None:
        if self._open != "thinking":
            self._open_block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        self._delta({"type": "thinking_delta", "thinking": text})
        self._chars += len(text)

    def _text(self, text: str) -> None:
        if self._open != "text":
            self._open_block("text", {"type": "text", "text": ""})
        self._delta({"type": "text_delta", "text": text})
        self._chars += len(text)

    def _tool(self, call: Mapping[str, Any], position: int) -> None:
        call_id = call.get("id") if isinstance(call.get("id"), str) else ""
        index = call.get("index")
        key: tuple[str, Any]
        if isinstance(index, int) and not isinstance(index, bool):
            key = ("index", index)
        elif call_id:
            key = ("id", call_id)
        elif self._open == "tool" and self._tool_key is not None:
            key = self._tool_key
        else:
            key = ("index", position)
        if self._open == "tool" and key == self._tool_key and call_id and call_id != self._tool_id:
            key = ("id", call_id)  # a new call reusing index 0 (some servers number each alone)
        function = call.get("function") if isinstance(call.get("function"), dict) else {}
        arguments = function.get("arguments")
        args = arguments if isinstance(arguments, str) else ""
        if not (self._open == "tool" and key == self._tool_key):
            if key in self._closed_tools:
                self.dropped += 1  # interleaved parallel calls: the block is already closed
                return
            name = str(function.get("name") or "")
            self._tool_id = call_id or new_tool_id()
            self._open_block(
                "tool",
                {
                    "type": "tool_use",
                    "id": self._tool_id,
                    "name": self._names.get(name, name),
                    "input": {},
                },
            )
            self._tool_key = key
            self._tool_args = False
            self._used_tools = True
        if args:
            self._tool_args = True
            self._delta({"type": "input_json_delta", "partial_json": args})
            self._chars += len(args)

    # the end --------------------------------------------------------------------------------

    def _end_message(self) -> None:
        self._close_block()
        if self._usage is not None:
            usage = usage_from(self._usage)
        else:  # the upstream ignored stream_options: about four characters a token
            usage = {"input_tokens": 0, "output_tokens": (self._chars + 3) // 4}
        self._out.append(
            frame(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {
                        "stop_reason": stop_reason(self._finish_reason, self._used_tools),
                        "stop_sequence": None,
                    },
                    "usage": usage,
                },
            )
        )
        self._out.append(frame("message_stop", {"type": "message_stop"}))
        self.done = True
        self.complete = True

    def _error(self, error_type: str, message: str) -> None:
        self._out.append(
            frame("error", {"type": "error", "error": {"type": error_type, "message": message}})
        )
        self.done = True
