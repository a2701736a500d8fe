"""Chat Completions SSE in, Messages API SSE out: the stream translator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ccm_tui import sse
from ccm_tui.providers.openai.errors import error_message, stream_error_type
from ccm_tui.providers.openai.response import (
    new_message_id,
    new_tool_id,
    reasoning_text,
    stop_reason,
    usage_from,
)
from ccm_tui.sse import COMMENT, LF

PING = sse.message_event({"type": "ping"})


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
        self._parser = sse.SseParser(comments=True)
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
        self._read(self._parser.feed(chunk))
        return self._flush()

    def finish(self) -> bytes:
        """The frames still owed when the upstream has ended. Without a finish_reason only
        the open block is closed: no message_stop, so the stream counts as broken."""
        if self.done:
            return b""
        self._read(self._parser.finish())
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

    def _read(self, frames: list[sse.SseFrame]) -> None:
        # The event name carries nothing a chat completion needs: only data and comments.
        for event, data in frames:
            if event == COMMENT:
                if self._started:
                    # A keep-alive comment: keep the client's connection alive too.
                    self._out.append(PING)
            else:
                self._dispatch(data)
            if self.done:
                return

    def _dispatch(self, data: bytes) -> None:
        if LF in data and not self._is_json(data):
            # A server that omits the blank line between events: read each line alone.
            for line in data.split(b"\n"):
                self._payload(line)
                if self.done:
                    return
            return
        self._payload(data)

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
            self._error(stream_error_type(error), error_message(error, b"upstream error"))
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
            reasoning = reasoning_text(delta)
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
            sse.message_event(
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
            sse.message_event(
                {"type": "content_block_start", "index": self._index, "content_block": block},
            )
        )

    def _delta(self, delta: dict[str, Any]) -> None:
        self._out.append(
            sse.message_event(
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
        self._out.append(sse.message_event({"type": "content_block_stop", "index": self._index}))
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
        raw = call.get("function")
        function: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
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
            sse.message_event(
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
        self._out.append(sse.message_event({"type": "message_stop"}))
        self.done = True
        self.complete = True

    def _error(self, error_type: str, message: str) -> None:
        self._out.append(sse.error_event(error_type, message))
        self.done = True
