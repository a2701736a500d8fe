"""Server-sent events: cut a byte stream at frame boundaries, and watch what it says.

The proxy forwards bytes untouched; these helpers only decide *where* a chunk may be cut
(complete frames, so an injected error event is always well-formed) and read usage, stop
reason and a text tail on the side.
"""

from __future__ import annotations

from typing import Any

import orjson

from ccm_tui.events import BlockView

TAIL_CHARS = 4000
MAX_BLOCKS = 16


def split_complete(buffer: bytes) -> int:
    """Length of the prefix of `buffer` made of complete frames (0 if none is complete)."""
    end = buffer.rfind(b"\n\n")
    crlf = buffer.rfind(b"\r\n\r\n")
    if crlf >= 0 and crlf + 4 > end + 2:
        return crlf + 4
    return end + 2 if end >= 0 else 0


class _Block:
    __slots__ = ("kind", "name", "parts", "size")

    def __init__(self, kind: str, name: str) -> None:
        self.kind = kind
        self.name = name
        self.parts: list[str] = []
        self.size = 0

    def append(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size > 2 * TAIL_CHARS:
            joined = "".join(self.parts)[-TAIL_CHARS:]
            self.parts = [joined]
            self.size = len(joined)

    def view(self) -> BlockView:
        return BlockView(self.kind, self.name, "".join(self.parts)[-TAIL_CHARS:])


class ResponseObserver:
    """Reads a Messages API response (SSE frames or one JSON body) for the monitor."""

    def __init__(self) -> None:
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.cache_creation_tokens = 0
        self.stop_reason = ""
        self.model = ""
        self.finished = False  # message_stop seen
        self.error: tuple[str, str] | None = None  # (type, message) of an `event: error`
        self.malformed = 0
        self._blocks: dict[int, _Block] = {}
        self._chars = 0
        self._usage_reported = False

    # streaming ----------------------------------------------------------------------------

    def feed(self, frames: bytes) -> None:
        """`frames` must be whole frames (see `split_complete`)."""
        for frame in frames.replace(b"\r\n", b"\n").split(b"\n\n"):
            if frame:
                self._frame(frame)

    def _frame(self, frame: bytes) -> None:
        data = b""
        for line in frame.split(b"\n"):
            if line.startswith(b"data:"):
                chunk = line[5:]
                data = data + b"\n" + chunk.lstrip(b" ") if data else chunk.lstrip(b" ")
        if not data:
            return
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.malformed += 1
            return
        if isinstance(event, dict):
            self._event(event)

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "content_block_delta":
            block = self._blocks.get(event.get("index", 0))
            delta = event.get("delta") or {}
            text = delta.get("text") or delta.get("thinking") or delta.get("partial_json") or ""
            if block is not None and text:
                block.append(text)
                self._chars += len(text)
        elif kind == "content_block_start":
            content = event.get("content_block") or {}
            ctype = str(content.get("type", "other"))
            if ctype in ("server_tool_use", "mcp_tool_use"):
                ctype = "tool_use"
            self._blocks[event.get("index", len(self._blocks))] = _Block(
                ctype, str(content.get("name", ""))
            )
            if ctype == "text" and content.get("text"):
                self._blocks[event.get("index", 0)].append(str(content["text"]))
        elif kind == "message_start":
            message = event.get("message") or {}
            self.model = str(message.get("model", ""))
            self._usage(message.get("usage") or {})
        elif kind == "message_delta":
            self.stop_reason = str((event.get("delta") or {}).get("stop_reason") or "")
            self._usage(event.get("usage") or {}, final=True)
        elif kind == "message_stop":
            self.finished = True
        elif kind == "error":
            error = event.get("error") or {}
            self.error = (str(error.get("type", "api_error")), str(error.get("message", "")))

    def _usage(self, usage: dict[str, Any], final: bool = False) -> None:
        if "input_tokens" in usage and usage["input_tokens"] is not None:
            self.input_tokens = int(usage["input_tokens"])
        if usage.get("cache_read_input_tokens") is not None:
            self.cache_read_tokens = int(usage["cache_read_input_tokens"])
        if usage.get("cache_creation_input_tokens") is not None:
            self.cache_creation_tokens = int(usage["cache_creation_input_tokens"])
        if final and usage.get("output_tokens") is not None:
            self.output_tokens = int(usage["output_tokens"])
            self._usage_reported = True

    @property
    def output_estimate(self) -> int:
        """Output tokens: the upstream's count once it gave one, else about 4 characters each."""
        return self.output_tokens if self._usage_reported else self._chars // 4

    def blocks(self) -> tuple[BlockView, ...]:
        items = sorted(self._blocks.items())[-MAX_BLOCKS:]
        return tuple(block.view() for _, block in items)

    # whole JSON bodies ----------------------------------------------------------------------

    def read_message(self, message: dict[str, Any]) -> None:
        self.model = str(message.get("model", ""))
        self.stop_reason = str(message.get("stop_reason") or "")
        self._usage(message.get("usage") or {}, final=True)
        for index, content in enumerate(message.get("content") or []):
            if not isinstance(content, dict):
                continue
            ctype = str(content.get("type", "other"))
            block = _Block("tool_use" if ctype.endswith("tool_use") else ctype, "")
            if block.kind == "tool_use":
                block.name = str(content.get("name", ""))
                block.append(orjson.dumps(content.get("input", {})).decode())
            else:
                block.append(str(content.get("text") or content.get("thinking") or ""))
            self._blocks[index] = block
        self.finished = True
