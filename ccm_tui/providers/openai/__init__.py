"""Anthropic Messages <-> OpenAI Chat Completions, for the OpenAI-compatible provider types.

Pure functions and one state machine: no I/O, no aiohttp, so every mapping is tested on its
own. The proxy sends `to_chat_request(...)` upstream and hands the client what
`from_chat_response`, `StreamTranslator` and `error_to_anthropic` make of the answer, so a
client that speaks only the Messages API (Claude Code, the anthropic SDK) never sees the
other format. Mappings follow WIRE.md, "OpenAI Chat Completions".

`request` (body, headers, URL, tool names), `response` (a whole answer), `stream` (the SSE
translator) and `errors` (error bodies and error chunks); the names others use are here.
"""

from __future__ import annotations

from ccm_tui.providers.openai.errors import error_to_anthropic
from ccm_tui.providers.openai.request import (
    chat_headers,
    chat_url,
    short_tool_name,
    to_chat_request,
    tool_name_map,
)
from ccm_tui.providers.openai.response import from_chat_response
from ccm_tui.providers.openai.stream import StreamTranslator

__all__ = [
    "StreamTranslator",
    "chat_headers",
    "chat_url",
    "error_to_anthropic",
    "from_chat_response",
    "short_tool_name",
    "to_chat_request",
    "tool_name_map",
]
