"""Messages API request -> Chat Completions request: body, headers, URL and tool names.

Fields with no Chat Completions form are dropped (their kind is logged, never their
content). Tool names OpenAI would refuse are rewritten reversibly (`tool_name_map`), so
answers can give the client its own names back.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

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

TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}

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
