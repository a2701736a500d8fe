"""What an upstream answer says about the limits it counts against, read from its headers.

Subscription answers carry `anthropic-ratelimit-unified-*` (the 5-hour and 7-day windows),
API-key answers the classic per-minute buckets. The header set and its formats, with
their sources, are in `docs/ratelimit-headers.md`. Headers come from the network, so
nothing here raises: a value that cannot be read is left out, never guessed at.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_CLASSIC = "anthropic-ratelimit-"
_UNIFIED = "anthropic-ratelimit-unified-"
_PRIORITY = "anthropic-priority-"

_WINDOW_FIELDS = ("-utilization", "-reset", "-status", "-surpassed-threshold")
_BUCKET_FIELDS = ("-limit", "-remaining", "-reset")
# A duration and an optional scope (`5h`, `7d`, `7d_opus`, `7d_oi`), or paid extra usage.
# `grace-status` and `slow-status` are other things that happen to end in a window field.
_WINDOW_NAME = re.compile(r"[0-9]{1,3}[a-z](_[a-z0-9]{1,12}){0,2}|overage")
_BUCKET_NAME = re.compile(r"[a-z0-9-]{1,32}")
_TOKEN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_PRINTABLE = re.compile(r"[^\x20-\x7e]")

MAX_WINDOWS = 16
MAX_BUCKETS = 8
MAX_EXTRA = 16
MAX_EXTRA_VALUE = 100

# The representative claim names a window by its long name.
CLAIM_WINDOWS = {
    "five_hour": "5h",
    "seven_day": "7d",
    "seven_day_opus": "7d_opus",
    "seven_day_sonnet": "7d_sonnet",
    "seven_day_overage_included": "7d_oi",
    "overage": "overage",
}
_WINDOW_ORDER = {name: i for i, name in enumerate(CLAIM_WINDOWS.values())}

# Statuses as the API sends them, for the window and the top level alike.
ALLOWED = "allowed"
ALLOWED_WARNING = "allowed_warning"
REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Window:
    """One unified window (`5h`, `7d`, `7d_oi`, `overage`, ...) as the answer reported it."""

    name: str
    utilization: float | None = None  # fraction used: 0..1, above 1 past the cap
    reset: float | None = None  # epoch seconds
    status: str = ""  # allowed | allowed_warning | rejected | "" (not sent)
    surpassed_threshold: float | None = None  # highest warning threshold passed, a fraction


@dataclass(frozen=True, slots=True)
class Bucket:
    """One classic per-minute limit (`requests`, `input-tokens`, ...) of an API key."""

    name: str
    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None  # epoch seconds

    @property
    def used(self) -> float | None:
        """Fraction of the limit used, as a window's utilisation reads."""
        if not self.limit or self.remaining is None:
            return None
        return max(0.0, (self.limit - self.remaining) / self.limit)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Everything one answer said about limits. Plain values, so it rides in events as JSON."""

    status: str = ""  # unified: allowed | allowed_warning | rejected
    reset: float | None = None  # unified: when the binding window resets, epoch seconds
    representative_claim: str = ""  # five_hour | seven_day | ... (see CLAIM_WINDOWS)
    fallback: str = ""  # "available" when a fallback model may be used
    fallback_percentage: float | None = None
    overage_status: str = ""
    overage_disabled_reason: str = ""
    windows: tuple[Window, ...] = ()
    buckets: tuple[Bucket, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()  # unified headers not understood, as they came

    @property
    def subscription(self) -> bool:
        """The answer carried the unified (subscription) headers."""
        return bool(self.status or self.windows or self.representative_claim)

    def window(self, name: str) -> Window | None:
        for window in self.windows:
            if window.name == name:
                return window
        return None

    def bucket(self, name: str) -> Bucket | None:
        for bucket in self.buckets:
            if bucket.name == name:
                return bucket
        return None

    @property
    def claimed(self) -> Window | None:
        """The window the representative claim names: the one that binds now."""
        name = CLAIM_WINDOWS.get(self.representative_claim)
        return self.window(name) if name else None

    @property
    def peak(self) -> Window | None:
        """The fullest plan window (overage, which is paid extra usage, left out)."""
        full = [w for w in self.windows if w.utilization is not None and w.name != "overage"]
        return max(full, key=lambda w: w.utilization or 0.0) if full else None

    def pressure(self, threshold: float, now: float) -> str:
        """Why a router should try others first ("" when it need not): a warning or a
        refusal, or a window (or an API key's bucket) used past `threshold`, until the
        reset it reported passes."""
        if self.status in (ALLOWED_WARNING, REJECTED) and (self.reset or now + 1) > now:
            return self.status
        for window in self.windows:
            used, reset = window.utilization, window.reset
            if window.name == "overage" or used is None or used < threshold:
                continue
            if reset is None or reset > now:
                return f"{window.name} {used:.0%}"
        for bucket in self.buckets:
            used = bucket.used
            if used is not None and used >= threshold and (bucket.reset or now + 1) > now:
                return f"{bucket.name} {used:.0%}"
        return ""

    @property
    def rejected_until(self) -> float | None:
        """When a refused account may answer again: the reset of what refused it."""
        if self.status != REJECTED:
            return None
        if self.reset:
            return self.reset
        claimed = self.claimed
        if claimed is not None and claimed.reset:
            return claimed.reset
        resets = [w.reset for w in self.windows if w.status == REJECTED and w.reset]
        return max(resets) if resets else None


# One of these is in every answer that carries limits (the unified set on subscription
# traffic, the classic one on API keys): looked up first, so an answer without any costs
# a few dict lookups, not a scan of its headers.
_MARKERS = (
    "anthropic-ratelimit-unified-status",
    "anthropic-ratelimit-unified-5h-utilization",
    "anthropic-ratelimit-requests-limit",
    "anthropic-ratelimit-tokens-limit",
    "anthropic-ratelimit-input-tokens-limit",
)


def carries_rate_limits(headers: Mapping[str, str]) -> bool:
    """Whether a case-insensitive header mapping holds rate-limit headers worth parsing."""
    return any(name in headers for name in _MARKERS)


def parse_rate_limits(headers: Mapping[Any, Any] | Iterable[Any]) -> RateLimits | None:
    """The limits in an answer's headers, or None when it carries none.

    Takes a mapping or (name, value) pairs, as str or bytes; anything else is skipped.
    """
    top: dict[str, str] = {}
    windows: dict[str, dict[str, str]] = {}
    buckets: dict[str, dict[str, str]] = {}
    extra: dict[str, str] = {}
    for key, raw in _ours(headers):
        place = _place(key.lower() if isinstance(key, str) else _text(key).lower())
        if place is None:
            continue
        kind, group, field = place
        value = (raw if isinstance(raw, str) else _text(raw)).strip()
        if kind is _TOP:
            top[field] = value
        elif kind is _WINDOWS:
            if group in windows or len(windows) < MAX_WINDOWS:
                windows.setdefault(group, {})[field] = value
        elif kind is _BUCKETS:
            if group in buckets or len(buckets) < MAX_BUCKETS:
                buckets.setdefault(group, {})[field] = value
        elif field in extra or len(extra) < MAX_EXTRA:
            extra[field] = _clean(value, MAX_EXTRA_VALUE)
    if not (top or windows or buckets or extra):
        return None
    return RateLimits(
        status=_token(top.get("status", "")).lower(),
        reset=_epoch(top.get("reset")),
        representative_claim=_token(top.get("representative-claim", "")).lower(),
        fallback=_token(top.get("fallback", "")).lower(),
        fallback_percentage=_fraction(top.get("fallback-percentage")),
        overage_status=_token(top.get("overage-status", "")).lower(),
        overage_disabled_reason=_token(top.get("overage-disabled-reason", "")),
        windows=tuple(
            sorted(
                (_window(name, fields) for name, fields in windows.items()),
                key=lambda w: (_WINDOW_ORDER.get(w.name, len(_WINDOW_ORDER)), w.name),
            )
        ),
        buckets=tuple(
            Bucket(
                name,
                _count(fields.get("limit")),
                _count(fields.get("remaining")),
                _epoch(fields.get("reset")),
            )
            for name, fields in sorted(buckets.items())
        ),
        extra=tuple(sorted(extra.items())),
    )


_PREFIXES = frozenset({"anthropic-", b"anthropic-"})


def _ours(headers: Mapping[Any, Any] | Iterable[Any]) -> list[tuple[Any, Any]]:
    """The `anthropic-*` pairs among the headers.

    Well-formed headers take one comprehension (this runs on every upstream answer);
    anything else is sorted out item by item.
    """
    items = headers.items() if isinstance(headers, Mapping) else headers
    if not isinstance(items, Collection):  # a generator: it must be read twice below
        try:
            items = list(items)
        except (TypeError, ValueError):
            return []
    try:
        return [(k, v) for k, v in items if k[:10].lower() in _PREFIXES]
    except (TypeError, ValueError, AttributeError):
        pass
    return [
        (item[0], item[1])
        for item in items
        if isinstance(item, tuple | list)
        and len(item) == 2
        and _text(item[0])[:10].lower() == "anthropic-"
    ]


# Where a header's value goes: (kind, window or bucket name, field).
_TOP, _WINDOWS, _BUCKETS, _EXTRA = "top", "windows", "buckets", "extra"

# Top-level unified headers; the overage ones here are not the overage window's fields.
_TOP_LEVEL = frozenset(
    {
        "status",
        "reset",
        "representative-claim",
        "fallback",
        "fallback-percentage",
        "overage-status",
        "overage-disabled-reason",
    }
)


@functools.lru_cache(maxsize=512)
def _place(name: str) -> tuple[str, str, str] | None:
    """Where a lower-case header name's value goes; None for headers about something else.

    Cached: an upstream sends the same few names on every answer (and the bound keeps
    garbage names from growing it).
    """
    if name.startswith(_UNIFIED):
        rest = name[len(_UNIFIED) :]
        if rest in _TOP_LEVEL:
            return _TOP, "", rest
        for field in _WINDOW_FIELDS:
            if rest.endswith(field):
                window = rest[: -len(field)]
                if _WINDOW_NAME.fullmatch(window):
                    return _WINDOWS, window, field[1:]
                break
        return _EXTRA, "", _clean(name, 64)
    if name.startswith(_CLASSIC):
        rest = name[len(_CLASSIC) :]
    elif name.startswith(_PRIORITY):
        rest = "priority-" + name[len(_PRIORITY) :]
    else:
        return None
    for field in _BUCKET_FIELDS:
        if rest.endswith(field):
            bucket = rest[: -len(field)]
            return (_BUCKETS, bucket, field[1:]) if _BUCKET_NAME.fullmatch(bucket) else None
    return None


def _window(name: str, fields: dict[str, str]) -> Window:
    # The overage window has no status of its own: the top-level overage-status is it.
    status = "" if name == "overage" else _token(fields.get("status", "")).lower()
    return Window(
        name,
        _fraction(fields.get("utilization")),
        _epoch(fields.get("reset")),
        status,
        _fraction(fields.get("surpassed-threshold")),
    )


# -- values -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return ""


def _clean(value: str, limit: int) -> str:
    return _PRINTABLE.sub("?", value[:limit])


@functools.lru_cache(maxsize=256)
def _token(value: str) -> str:
    """A status or reason word as sent, or "" for anything else (cached: a few words recur)."""
    return value if _TOKEN.fullmatch(value) else ""


def _fraction(value: str | None) -> float | None:
    """A utilisation or share: a finite, non-negative number (above 1 is real: past a cap)."""
    if not value or len(value) > 40:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if 0 <= number < 1e6 else None  # NaN fails every comparison


def _count(value: str | None) -> int | None:
    if not value or len(value) > 19 or not value.isascii():
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if number >= 0 else None


# Epoch seconds this far out are milliseconds; below the floor, a value is not a time.
_MS_THRESHOLD = 1e11
_EPOCH_FLOOR = 1e8


@functools.lru_cache(maxsize=256)
def _epoch(value: str | None) -> float | None:
    """A reset time: epoch seconds (unified headers) or RFC 3339 (classic buckets).

    Cached: the same reset comes back on every answer until the window moves.
    """
    if not value or len(value) > 40:
        return None
    try:
        number = float(value)
    except ValueError:
        number = _rfc3339(value)
    if number > _MS_THRESHOLD:
        number /= 1000
    return number if _EPOCH_FLOOR <= number < _MS_THRESHOLD else None


def _rfc3339(value: str) -> float:
    """Epoch seconds, or NaN for anything that is not a time."""
    try:
        when = datetime.fromisoformat(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return when.timestamp()
    except (ValueError, OverflowError, OSError):
        return math.nan
