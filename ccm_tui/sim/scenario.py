"""What a simulated provider does with the next request: healthy, or one of many faults.

A `Scenario` is plain data so the same thing can be set in-process
(`sim.scenario("p", status=529)`), over the control API (`PUT /_sim/scenario/p`)
or on the command line (`--scenario p={"status":529}`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson


def _doc(default: Any, help: str) -> Any:
    """A field with its `--help` line, so the documentation lives beside the field."""
    if isinstance(default, dict):
        return field(default_factory=dict, metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class Scenario:
    """One provider's behaviour. The default is a healthy, keyless Anthropic upstream.

    Fault fields (status, timing, broken connections and bodies) apply to every
    request, or only to the next `times` requests, or at random with
    `probability`; the other fields (text, credentials, headers) always apply.
    """

    # Error answers.
    status: int | None = _doc(None, "answer with this HTTP error status (400-599) and its body")
    error_type: str | None = _doc(
        None, "the error's type (error body, `error` event) instead of the usual"
    )
    error_message: str | None = _doc(None, "the error's message instead of the usual one")
    retry_after: int | None = _doc(None, "with the fault, a `retry-after` header (whole seconds)")
    should_retry: bool | None = _doc(None, "with the fault, an `x-should-retry: true|false` header")
    headers: Mapping[str, str] = _doc({}, "extra headers on every answer (not only faults)")
    # Which requests the fault hits.
    times: int | None = _doc(None, "the fault hits only the next N requests")
    probability: float | None = _doc(None, "the fault hits each request with this chance")
    # Timing.
    latency_ms: int = _doc(0, "wait before the response headers")
    first_byte_delay_ms: int = _doc(0, "wait after the headers, before the first body byte")
    event_interval_ms: int = _doc(0, "wait between SSE events (each event its own write)")
    # Broken streams and connections.
    stall_after_events: int | None = _doc(
        None, "send N events, then nothing (the connection kept open)"
    )
    disconnect_after_events: int | None = _doc(
        None, "send N events, then end the TCP connection without the HTTP end"
    )
    error_after_events: int | None = _doc(None, "send N events, then an SSE `error` event")
    split_events: bool = _doc(False, "write every event in two pieces, cut in its data line")
    refuse: bool = _doc(False, "close the connection without any response")
    malformed: bool = _doc(
        False, "a 200 whose body is truncated JSON, or a stream with one broken data line"
    )
    # Content.
    text: str | None = _doc(None, 'the reply text (default "Hello from NAME.")')
    output_chunks: int = _doc(5, "how many text deltas the reply is streamed in (at least 1)")
    models: tuple[str, ...] | None = _doc(
        None, "the only model ids this provider knows (others get 404 not_found_error)"
    )
    # Credentials.
    api_key: str | None = _doc(None, "the key this provider accepts (as x-api-key or Bearer)")
    require_auth: bool = _doc(False, "refuse a request with no credential (any key will do)")
    claude_code_only: bool = _doc(
        False, "every OAuth-token request gets the Claude-Code-only 400 (claude-code-mux #7)"
    )
    # Subscription windows (OAuth answers' anthropic-ratelimit-unified-* headers).
    window_5h_tokens: int = _doc(
        50_000_000, "tokens the 5-hour window holds: utilisation is tokens served / this"
    )
    window_5h_s: int = _doc(18_000, "the 5-hour window's length in seconds (short for a demo)")
    window_7d_tokens: int = _doc(500_000_000, "tokens the 7-day window holds")
    window_7d_s: int = _doc(604_800, "the 7-day window's length in seconds")

    def __post_init__(self) -> None:
        # Freeze the mutable inputs so a Scenario can be shared between requests safely.
        object.__setattr__(self, "headers", types.MappingProxyType(dict(self.headers)))
        if self.models is not None:
            object.__setattr__(self, "models", tuple(self.models))
        if self.output_chunks < 1:
            raise ValueError("output_chunks must be at least 1")
        if self.probability is not None and not 0.0 <= self.probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if self.times is not None and self.times < 0:
            raise ValueError("times must not be negative")
        if (
            min(self.window_5h_tokens, self.window_5h_s, self.window_7d_tokens, self.window_7d_s)
            < 1
        ):
            raise ValueError("window sizes and lengths must be at least 1")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")

    @property
    def has_fault(self) -> bool:
        """Whether anything here departs from a healthy, prompt answer."""
        return bool(
            self.status is not None
            or self.latency_ms
            or self.first_byte_delay_ms
            or self.event_interval_ms
            or self.stall_after_events is not None
            or self.disconnect_after_events is not None
            or self.error_after_events is not None
            or self.split_events
            or self.refuse
            or self.malformed
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "headers":
                value = dict(value)
            elif f.name == "models" and value is not None:
                value = list(value)
            out[f.name] = value
        return out


HEALTHY = Scenario()

_HINTS = typing.get_type_hints(Scenario)
FIELD_NAMES = frozenset(f.name for f in dataclasses.fields(Scenario))
_DEFAULTS = {name: getattr(HEALTHY, name) for name in FIELD_NAMES}


def _check_type(name: str, value: Any) -> Any:
    """Validates one JSON value against the field's annotation; returns the value to use."""
    hint = _HINTS[name]
    base = hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        base = next(a for a in typing.get_args(hint) if a is not type(None))
    if value is None:
        # null means "not set": None where allowed, otherwise the field's default.
        return None if base is not hint else _DEFAULTS[name]
    origin = typing.get_origin(base) or base
    if origin is bool:
        ok = isinstance(value, bool)
    elif origin is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif origin is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif origin is str:
        ok = isinstance(value, str)
    elif origin is tuple:
        ok = isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    elif origin in (Mapping, dict):
        ok = isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        )
    else:  # pragma: no cover - every field is covered above
        ok = True
    if not ok:
        raise ValueError(f"{name}: expected {hint}, got {type(value).__name__}")
    return value


def scenario_from_json(data: Any) -> Scenario:
    """Builds a Scenario from a JSON object; the error names the offending field."""
    if not isinstance(data, dict):
        raise ValueError("scenario must be a JSON object")
    unknown = sorted(set(data) - FIELD_NAMES)
    if unknown:
        raise ValueError(f"unknown Scenario field: {', '.join(unknown)}")
    kwargs = {name: _check_type(name, value) for name, value in data.items()}
    return Scenario(**kwargs)


def _json_type(name: str) -> str:
    base = _HINTS[name]
    if typing.get_origin(base) in (typing.Union, types.UnionType):
        base = next(a for a in typing.get_args(base) if a is not type(None))
    origin = typing.get_origin(base) or base
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    if origin is tuple:
        return "list of strings"
    if origin in (Mapping, dict):
        return "object of strings"
    return names[origin]


def fields_help() -> str:
    """Every Scenario field with its JSON type, default and effect: what `--help` shows."""
    defaults = HEALTHY.to_json()
    lines = []
    for f in dataclasses.fields(Scenario):
        shown = orjson.dumps(defaults[f.name]).decode()
        lines.append(f"  {f.name} ({_json_type(f.name)}, default {shown})")
        lines.append(f"      {f.metadata['help']}")
    return "\n".join(lines)
