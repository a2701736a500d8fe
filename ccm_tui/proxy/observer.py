"""What a Messages API response says, read on the side while the proxy relays it.

The proxy forwards bytes untouched; the observer only reads usage, stop reason and a text
tail of each block for the monitor, from SSE frames (`ccm_tui.sse` cuts and parses them)
or from one JSON body.
"""

from __future__ import annotations

from typing import Any

import orjson

from ccm_tui.events import BlockView
from ccm_tui.sse import parse_frames

TAIL_CHARS = 4000
MAX_BLOCKS = 16


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
        self.malformed = 0  # events not JSON, or not shaped as WIRE.md says
        self.unreadable = 0  # of those, data that is not JSON at all: a broken stream
        self._blocks: dict[int, _Block] = {}
        self._chars = 0
        self._usage_reported = False

    # streaming ----------------------------------------------------------------------------

    def feed(self, frames: bytes) -> None:
        """`frames` must be whole frames (`ccm_tui.sse.complete_length` cuts them there),
        or the last bytes of a stream."""
        for _, data in parse_frames(frames):
            if not data:
                continue
            try:
                event = orjson.loads(data)
            except orjson.JSONDecodeError:
                self.malformed += 1
                self.unreadable += 1
                continue
            if isinstance(event, dict):
                # The bytes reach the client whatever they say: an odd event goes uncounted.
                try:
                    self._event(event)
                except _UNEXPECTED:
                    self.malformed += 1

    def _event(self, event: dict[str, Any]) -> None:
        """Raises one of `_UNEXPECTED` on an event not shaped as WIRE.md says."""
        kind = event.get("type")
        if kind == "content_block_delta":
            # The most frequent event by far: its usual shape skips the checking helpers.
            index = event.get("index", 0)
            block = self._blocks.get(index if type(index) is int else _index(event, 0))
            delta = event.get("delta")
            if type(delta) is not dict:
                delta = _obj(delta)
            text = delta.get("text") or delta.get("thinking") or delta.get("partial_json") or ""
            if not isinstance(text, str):
                raise TypeError("delta text is not a string")
            if block is not None and text:
                block.append(text)
                self._chars += len(text)
        elif kind == "content_block_start":
            content = _obj(event.get("content_block"))
            ctype = str(content.get("type", "other"))
            if ctype in ("server_tool_use", "mcp_tool_use"):
                ctype = "tool_use"
            block = _Block(ctype, str(content.get("name", "")))
            self._blocks[_index(event, len(self._blocks))] = block
            if ctype == "text" and content.get("text"):
                block.append(str(content["text"]))
        elif kind == "message_start":
            message = _obj(event.get("message"))
            self.model = str(message.get("model", ""))
            self._usage(_obj(message.get("usage")))
        elif kind == "message_delta":
            self.stop_reason = str(_obj(event.get("delta")).get("stop_reason") or "")
            self._usage(_obj(event.get("usage")), final=True)
        elif kind == "message_stop":
            self.finished = True
        elif kind == "error":
            error = event.get("error")
            if isinstance(error, dict):
                self.error = (str(error.get("type", "api_error")), str(error.get("message", "")))
            else:  # still an error event: the stream failed, whatever the detail looks like
                self.error = ("api_error", str(error or ""))

    def _usage(self, usage: dict[str, Any], final: bool = False) -> None:
        # All counts are read before any is kept, so a bad one leaves the others as they were.
        input_tokens = _count(usage.get("input_tokens"))
        cache_read = _count(usage.get("cache_read_input_tokens"))
        cache_creation = _count(usage.get("cache_creation_input_tokens"))
        output_tokens = _count(usage.get("output_tokens")) if final else None
        if input_tokens is not None:
            self.input_tokens = input_tokens
        if cache_read is not None:
            self.cache_read_tokens = cache_read
        if cache_creation is not None:
            self.cache_creation_tokens = cache_creation
        if output_tokens is not None:
            self.output_tokens = output_tokens
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
        try:
            self._message(message)
        except _UNEXPECTED:
            self.malformed += 1
        self.finished = True

    def read_count(self, answer: dict[str, Any]) -> None:
        """A count_tokens answer: `{"input_tokens": N}`."""
        try:
            self.input_tokens = _count(answer.get("input_tokens")) or 0
        except _UNEXPECTED:
            self.malformed += 1

    def _message(self, message: dict[str, Any]) -> None:
        self.model = str(message.get("model", ""))
        self.stop_reason = str(message.get("stop_reason") or "")
        self._usage(_obj(message.get("usage")), final=True)
        content = message.get("content") or []
        if not isinstance(content, list):
            raise TypeError("content is not a list")
        for index, item in enumerate(content):
            if not isinstance(item, dict):
                continue
            ctype = str(item.get("type", "other"))
            block = _Block("tool_use" if ctype.endswith("tool_use") else ctype, "")
            if block.kind == "tool_use":
                block.name = str(item.get("name", ""))
                block.append(orjson.dumps(item.get("input", {})).decode())
            else:
                block.append(str(item.get("text") or item.get("thinking") or ""))
            self._blocks[index] = block


# What reading an upstream event not shaped as expected may raise; counted as malformed.
_UNEXPECTED = (TypeError, ValueError, AttributeError)


def _obj(value: Any) -> dict[str, Any]:
    """A JSON object field: {} when absent or null; TypeError when it is something else."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {type(value).__name__}")
    return value


def _index(event: dict[str, Any], default: int) -> int:
    """A block index; anything but an integer would break the sorting in `blocks()`."""
    index = event.get("index", default)
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError("block index is not an integer")
    return index


def _count(value: Any) -> int | None:
    """A token count: None when absent or null; ValueError when not a whole number."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"token count is not a number: {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"token count is not whole: {value!r}")
        return int(value)
    return value
