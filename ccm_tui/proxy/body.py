"""The request body: parsed once, and only `model` rewritten, in place, byte for byte.

Re-serialising a body loses nothing JSON cares about but changes its bytes (escapes,
spacing, number forms) and costs milliseconds on a 1 MB conversation. So the new model
name is spliced into the original bytes wherever the top-level `"model"` value can be
found unambiguously; only when it cannot is the parsed body serialised again.
"""

from __future__ import annotations

import asyncio
import gc
import json
import re
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ccm_tui.proxy.decoding import DECODERS, DecodeError, TooLarge

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_COLON = re.compile(rb"\s*:\s*")
_OPENING = re.compile(rb"\s*\{\s*")
_KEY = b'"model"'
# `model` spelled with escapes: then a literal `"model"` may be a nested key only.
_ESCAPED_KEY = re.compile(
    rb'"(?=[^"]{0,40}\\u)(?:m|\\u006[dD])(?:o|\\u006[fF])(?:d|\\u0064)(?:e|\\u0065)(?:l|\\u006[cC])"'
)


class BodyError(ValueError):
    """The body is not a JSON object the Messages API could accept (400), or it could not
    be read: too large (413), stopped coming (408), not decodable (400)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


async def read_body(request: web.Request, limit: int, idle_s: float) -> bytes:
    """The whole body, decoded from its Content-Encoding (the guard admitted only those
    `decoding` knows). It may pause at most `idle_s` between chunks: a slow upload that
    keeps coming is read to its end, one that stops is not waited for."""
    content = request.content
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    make = DECODERS.get(encoding)
    if make is None and content.is_eof():  # all of it here already: nothing to wait for
        whole = content.read_nowait()
        if len(whole) > limit:
            raise BodyError(f"request body is larger than {limit >> 20} MB", 413)
        return whole
    # As aiohttp's own `read` does: the connection is not paused every 64 kB meanwhile.
    set_chunk_size = getattr(content, "set_read_chunk_size", None)  # aiohttp 3.13+
    if set_chunk_size is not None:
        set_chunk_size(limit)
    decoder = make(limit) if make is not None else None
    loop = asyncio.get_running_loop()
    chunks: list[bytes] = []  # joined once at the end: one copy of the body, not two
    size = 0
    try:
        async with asyncio.timeout(idle_s) as deadline:
            while chunk := await content.readany():
                if decoder is not None:
                    chunk = decoder.feed(chunk)
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise TooLarge
                deadline.reschedule(loop.time() + idle_s)
        if decoder is not None:
            decoder.finish()
    except TooLarge:
        raise BodyError(f"request body is larger than {limit >> 20} MB", 413) from None
    except TimeoutError:
        raise BodyError(
            f"the request body stopped coming for {idle_s:g} s (server.timeouts.body_timeout_ms)",
            408,
        ) from None
    except DecodeError as err:
        raise BodyError(f"request body is not valid {encoding}: {err}") from None
    except (web.RequestPayloadError, HttpProcessingError) as err:
        raise BodyError(f"request body cannot be read: {err.__cause__ or err}") from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise BodyError("request body is empty: expected a JSON object")
    # A long conversation parses into tens of thousands of dicts and lists, and the cyclic
    # garbage collector would walk them again and again while they are being built (half
    # the parse time of a 1 MB body). A parse has no cycles to find: pause it meanwhile.
    collecting = gc.isenabled()
    gc.disable()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        raise BodyError(f"request body is not valid JSON: {err}") from None
    finally:
        if collecting:
            gc.enable()
    if not isinstance(body, dict):
        raise BodyError("request body must be a JSON object")
    return body


def _reserialised(raw: bytes, model: str, system: Any = None) -> bytes:
    """The body written anew: JSON-equal, not byte-equal. Parsed again with the standard
    library, whose integers are exact beyond 64 bits (orjson reads those as floats)."""
    body = json.loads(raw)
    body["model"] = model
    if system is not None:
        body["system"] = system
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _model_values(raw: bytes, old: str) -> list[tuple[int, int]]:
    """Spans of string values of `"model"` keys equal to `old`, wherever they are nested."""
    spans: list[tuple[int, int]] = []
    start = raw.find(_KEY)
    while start >= 0:
        backslashes = 0
        i = start - 1
        while i >= 0 and raw[i] == 0x5C:  # an escaped quote is inside some other string
            backslashes += 1
            i -= 1
        end = start + len(_KEY)
        if backslashes % 2 == 0:
            span = _value_span(raw, end, old)
            if span is not None:
                spans.append(span)
        start = raw.find(_KEY, end)
    return spans


def with_model(raw: bytes, body: dict[str, Any], model: str, system: Any = None) -> bytes:
    """`raw` with the top-level `model` set to `model`, every other byte unchanged if possible.
    A new `system` (the subagent tag removed) means writing the body anew."""
    if system is not None:
        return _reserialised(raw, model, system)
    old = body.get("model")
    if old == model:
        return raw
    new_value = orjson.dumps(model)
    if isinstance(old, str):
        span: tuple[int, int] | None = None
        opening = _OPENING.match(raw)
        first = opening is not None and raw.startswith(_KEY, opening.end())
        if first:
            # Claude Code sends `model` first, and a first key is never nested: its value is
            # the one to replace, found without reading the rest of the body.
            span = _value_span(raw, opening.end() + len(_KEY), old)  # type: ignore[union-attr]
        if span is None:
            spans = _model_values(raw, old)
            if (spans and first) or (len(spans) == 1 and not _ESCAPED_KEY.search(raw)):
                span = spans[0]
        if span is not None:
            # One copy of the body, not two (a slice, then the concatenation).
            view = memoryview(raw)
            return b"".join((view[: span[0]], new_value, view[span[1] :]))
    return _reserialised(raw, model)


def _value_span(raw: bytes, end: int, old: str) -> tuple[int, int] | None:
    """The span of the string value after the key ending at `end`, if it decodes to `old`."""
    colon = _COLON.match(raw, end)
    value = _STRING.match(raw, colon.end()) if colon is not None else None
    if value is None:
        return None
    try:
        if orjson.loads(value.group(0)) == old:
            return value.start(), value.end()
    except orjson.JSONDecodeError:
        pass
    return None
