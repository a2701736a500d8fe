"""Server-sent events (`text/event-stream`): the one writer and the one parser.

Everything in ccm-tui that speaks SSE goes through here: the proxy's relay (where a stream
may be cut) and its response observer, the admin event stream and `attach` reading it, the
OpenAI stream translator (reading Chat Completions chunks, writing Messages API events) and
the simulator. So a frame means the same thing everywhere, and an edge case fixed here is
fixed for all of them.

Lines end in LF or CRLF (a lone CR, which the specification also allows, is not used by any
server we talk to and is not read as a line end). Field values lose one leading space;
`id` and `retry` are read past: nothing here resumes a stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

# Line breaks as byte values: `10 in data` is a memchr, `b"\n" in data` several times slower.
LF, CR = 10, 13

# -- writing ---------------------------------------------------------------------------------


def frame(data: bytes, event: str | None = None) -> bytes:
    """One frame: an optional `event:` line, the data as `data:` lines, the blank line."""
    if LF in data or CR in data:
        data = b"\ndata: ".join(data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n"))
    return _framed(data, event)


def json_frame(payload: Any, event: str | None = None) -> bytes:
    """A frame whose data is `payload` as JSON (one line: JSON escapes its line breaks)."""
    return _framed(orjson.dumps(payload), event)


def _framed(line: bytes, event: str | None) -> bytes:
    if event is None:
        return b"data: " + line + b"\n\n"
    if "\n" in event or "\r" in event:
        raise ValueError(f"an SSE event name is one line: {event!r}")
    return b"event: " + event.encode() + b"\ndata: " + line + b"\n\n"


def comment(text: str) -> bytes:
    """A comment frame: readers skip it; it keeps an idle connection alive."""
    if "\n" in text or "\r" in text:
        raise ValueError(f"an SSE comment is one line: {text!r}")
    return b": " + text.encode() + b"\n\n"


KEEPALIVE = comment("keepalive")


def message_event(payload: Mapping[str, Any]) -> bytes:
    """A Messages API event: the frame's event name is the payload's `type` (WIRE.md)."""
    event: str = payload["type"]
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


def error_event(error_type: str, message: str) -> bytes:
    """The `event: error` a Messages API stream ends with when it fails after it began."""
    return message_event({"type": "error", "error": {"type": error_type, "message": message}})


# -- reading ---------------------------------------------------------------------------------


# One dispatched frame: (event, data), both bytes as they came. The event is b"message"
# when the frame named none, and COMMENT for a comment line (only from a parser asked for
# comments; data is then its text). A plain tuple of bytes: the proxy parses every
# streamed chunk, and an object or a decoded name per frame costs.
SseFrame = tuple[bytes, bytes]

# The empty name: a frame never has it (the specification turns an empty name into
# "message"), so it cannot be mistaken for one.
COMMENT = b""


def complete_length(buffer: bytes | bytearray) -> int:
    """Length of the prefix of `buffer` made of whole frames (0 if none is whole).

    A frame ends at a blank line: a line break followed by LF or CRLF. The stream may be
    cut there without breaking a frame, so an event written next is always well-formed.
    """
    lf = buffer.rfind(b"\n\n")
    crlf = buffer.rfind(b"\n\r\n")
    if crlf > lf:
        return crlf + 3
    return lf + 2 if lf >= 0 else 0


def parse_frames(region: bytes, *, comments: bool = False) -> list[SseFrame]:
    """The frames of `region`, whole frames as `complete_length` cuts them. A last frame
    without its blank line counts as ended (the specification would drop it; servers that
    forget the final blank line are read anyway, where the caller says the stream ended).

    This is the proxy's hot path (every streamed chunk), so the frames servers write take
    shortcuts: one `event: ` line and one `data: ` line (every Messages API event), and a
    region that is one such frame or one lone `data: ` frame (a Chat Completions chunk),
    as a streamed chunk usually is. `tests/unit/test_sse.py` holds them to the rules.
    """
    if CR in region:
        region = region.replace(b"\r\n", b"\n")
    lines = region.split(b"\n", 3)  # enough to tell a lone frame, whatever the region
    if len(lines) == 4 and not lines[2] and not lines[3]:
        head, body = lines[0], lines[1]
        if head.startswith(b"event: ") and body.startswith(b"data: "):
            return [(head[7:] or b"message", body[6:])]
    elif len(lines) == 3 and not lines[1] and not lines[2] and lines[0].startswith(b"data: "):
        return [(b"message", lines[0][6:])]  # a Chat Completions chunk
    out: list[SseFrame] = []
    for block in region.split(b"\n\n"):
        if not block:
            continue
        lines = block.split(b"\n")
        if len(lines) == 2:
            head, body = lines
            if head.startswith(b"event: ") and body.startswith(b"data: "):
                out.append((head[7:] or b"message", body[6:]))
                continue
        _read_block(lines, out, comments)
    return out


def _read_block(lines: list[bytes], out: list[SseFrame], comments: bool) -> None:
    """One frame's lines by the specification's rules: `field: value` (one leading space
    dropped), `field` alone for an empty value, `:` for a comment."""
    event = b""
    data: list[bytes] | None = None
    for line in lines:
        if not line:
            continue  # a blank line at the very start of a stream: it ends nothing
        name, _, value = line.partition(b":")
        if value[:1] == b" ":
            value = value[1:]
        if name == b"data":
            if data is None:
                data = [value]
            else:
                data.append(value)
        elif name == b"event":
            event = value
        elif not name and comments:
            out.append((COMMENT, value))
        # `id`, `retry` and unknown fields: nothing here resumes a stream.
    if data is not None:
        out.append((event or b"message", data[0] if len(data) == 1 else b"\n".join(data)))


class SseParser:
    """Incremental reader: feed it chunks as they arrive, cut anywhere; it returns the
    frames each chunk completed.

    Data stays bytes (orjson reads bytes) and each byte is scanned for a frame end once,
    so a frame of several megabytes arriving in small chunks costs no more than one parse.
    """

    def __init__(self, *, comments: bool = False) -> None:
        self._comments = comments
        self._held = bytearray()  # the start of a frame not yet whole

    def feed(self, chunk: bytes) -> list[SseFrame]:
        held = self._held
        if not held:
            if chunk.endswith(b"\n\n"):  # whole frames, as a server writes them
                return parse_frames(chunk, comments=self._comments)
            cut = complete_length(chunk)
            if cut == len(chunk):
                return parse_frames(chunk, comments=self._comments) if chunk else []
            held += memoryview(chunk)[cut:]
            return parse_frames(chunk[:cut], comments=self._comments) if cut else []
        # Only the new bytes can hold a new frame end, and it may begin in the 2 bytes
        # before them: looking no further back keeps a huge frame from being rescanned.
        start = max(0, len(held) - 2)
        held += chunk
        cut = complete_length(held[start:])
        if not cut:
            return []
        cut += start
        region = bytes(held[:cut])
        del held[:cut]
        return parse_frames(region, comments=self._comments)

    def finish(self) -> list[SseFrame]:
        """The stream has ended: the last frame, if it lacked its blank line."""
        region = bytes(self._held)
        self._held.clear()
        return parse_frames(region, comments=self._comments)
