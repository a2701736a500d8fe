"""The request body: parsed once, and only `model` rewritten, in place, byte for byte.

Re-serialising a body loses nothing JSON cares about but changes its bytes (escapes,
spacing, number forms) and costs milliseconds on a 1 MB conversation. So the new model
name is spliced into the original bytes wherever the top-level `"model"` value can be
found unambiguously; only when it cannot is the parsed body serialised again.
"""

from __future__ import annotations

import gc
import json
import re
from typing import Any

import orjson

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_COLON = re.compile(rb"\s*:\s*")
_OPENING = re.compile(rb"\s*\{\s*")
_KEY = b'"model"'
# `model` spelled with escapes: then a literal `"model"` may be a nested key only.
_ESCAPED_KEY = re.compile(
    rb'"(?=[^"]{0,40}\\u)(?:m|\\u006[dD])(?:o|\\u006[fF])(?:d|\\u0064)(?:e|\\u0065)(?:l|\\u006[cC])"'
)


class BodyError(ValueError):
    """The body is not a JSON object the Messages API could accept."""


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
