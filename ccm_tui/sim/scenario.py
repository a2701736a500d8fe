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


@dataclass(frozen=True, slots=True)
class Scenario:
    """One provider's behaviour. The default is a healthy, keyless Anthropic upstream.

    Fault fields (status, timing, broken connections and bodies) apply to every
    request, or only to the next `times` requests, or at random with
    `probability`; the other fields (text, credentials, headers) always apply.
    """

    # Error answers: `status` (400-599) with the WIRE.md error body for that status;
    # `error_type` / `error_message` override its type and message.
    status: int | None = None
    error_type: str | None = None
    error_message: str | None = None
    retry_after: int | None = None  # `retry-after` header, integer seconds
    should_retry: bool | None = None  # `x-should-retry: true|false`
    headers: Mapping[str, str] = field(default_factory=dict)  # extra headers on every answer
    # Which requests the fault hits: the next `times` only, and/or each with `probability`.
    times: int | None = None
    probability: float | None = None
    # Timing: before the headers; after the headers but before the first body byte;
    # between SSE events (each event is then its own write).
    latency_ms: int = 0
    first_byte_delay_ms: int = 0
    event_interval_ms: int = 0
    # Broken streams and connections. `stall_after_events`: send N events then nothing,
    # connection kept open. `disconnect_after_events`: N events then the TCP connection
    # ends without the HTTP end. `error_after_events`: N events then an SSE `error` event.
    # `split_events`: every frame is written in two pieces, cut inside its data line.
    # `refuse`: the connection is closed without any response. `malformed`: a 200 whose
    # body is truncated JSON, or a stream with one broken data line.
    # For non-stream replies, stall/disconnect apply to the body (0 = nothing sent).
    stall_after_events: int | None = None
    disconnect_after_events: int | None = None
    error_after_events: int | None = None
    split_events: bool = False
    refuse: bool = False
    malformed: bool = False
    # Content: the reply text (default "Hello from {provider}."), how many text deltas,
    # and, if set, the only model ids this provider knows (others get 404 not_found_error).
    text: str | None = None
    output_chunks: int = 5
    models: tuple[str, ...] | None = None
    # Credentials: the key this provider accepts; whether a credential is required at all;
    # whether every OAuth-token request gets the Claude-Code-only 400 (claude-code-mux issue 7).
    api_key: str | None = None
    require_auth: bool = False
    claude_code_only: bool = False

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
