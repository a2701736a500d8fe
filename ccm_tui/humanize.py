"""How numbers and times read, on screen and in the CLI: short, aligned, the same everywhere."""

from __future__ import annotations

import time

URGENCY_THRESHOLDS = ((300.0, "high"), (1800.0, "medium"), (7200.0, "low"))


def countdown(seconds: float | None) -> str:
    """`5h 12m 03s`, `12m 03s`, `45s`; `expired` once past; `-` when unknown."""
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "expired"
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def compact_countdown(seconds: float) -> str:
    """`3d4h`, `2h13m`, `45m`, `30s`: a countdown that fits a status line."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m" if minutes else f"{secs}s"


def urgency(seconds: float | None) -> str:
    """The theme variable suffix for time left: ok, low, medium, high, expired."""
    if seconds is None:
        return "ok"
    if seconds <= 0:
        return "expired"
    for limit, name in URGENCY_THRESHOLDS:
        if seconds < limit:
            return name
    return "ok"


def millis(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1000:
        return f"{value:.0f}ms"
    if value < 60_000:
        return f"{value / 1000:.1f}s"
    return f"{value / 60_000:.1f}m"


def tokens(value: int) -> str:
    if value < 10_000:
        return str(value)
    if value < 1_000_000:
        return f"{value / 1000:.0f}k"
    return f"{value / 1_000_000:.1f}M"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def clock_time(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def ago(epoch: float | None, now: float) -> str:
    if epoch is None:
        return "-"
    return f"{countdown(max(1.0, now - epoch))} ago"
