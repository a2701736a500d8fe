"""A subscription's rate-limit windows, as the simulator's OAuth answers report them.

Each provider has a 5-hour and a 7-day window that fill with the tokens it serves to OAuth
tokens and empty when they reset, as Anthropic's unified headers describe them
(docs/ratelimit-headers.md): utilisation, reset, status per window; the top-level status,
reset and representative claim; fallback and overage. Past a warning threshold the status
is `allowed_warning`; at the limit it is `rejected`, and the answer is a 429 until the
binding window resets. The scenario sets each window's size and length, so the demo can
make them short enough to watch fill and reset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ccm_tui.sim.scenario import Scenario

WARN_AT = 0.75  # the threshold past which a window's status becomes allowed_warning
CLAIMS = {"5h": "five_hour", "7d": "seven_day"}
PREFIX = "anthropic-ratelimit-unified-"
REJECTED_MESSAGE = "This request would exceed your account's rate limit. Please try again later."


@dataclass(slots=True)
class _Window:
    start: float
    tokens: int = 0


class PlanWindows:
    """Every simulated provider's windows (shared by its OAuth tokens, as an account is)."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], _Window] = {}

    def _sizes(self, scenario: Scenario) -> dict[str, tuple[int, float]]:
        return {
            "5h": (scenario.window_5h_tokens, scenario.window_5h_s),
            "7d": (scenario.window_7d_tokens, scenario.window_7d_s),
        }

    def _window(self, provider: str, name: str, length: float, now: float) -> _Window:
        window = self._windows.get((provider, name))
        if window is None or now >= window.start + length:
            # A new window begins with the first request after the old one ended.
            window = self._windows[(provider, name)] = _Window(now)
        return window

    def charge(self, provider: str, scenario: Scenario, tokens: int, now: float) -> None:
        for name, (_, length) in self._sizes(scenario).items():
            self._window(provider, name, length, now).tokens += tokens

    def _read(self, provider: str, scenario: Scenario, now: float) -> dict[str, tuple[float, int]]:
        """Each window's (utilisation, reset epoch)."""
        read = {}
        for name, (size, length) in self._sizes(scenario).items():
            window = self._window(provider, name, length, now)
            used = window.tokens / size if size > 0 else 0.0
            read[name] = (used, math.ceil(window.start + length))
        return read

    def rejected_for(self, provider: str, scenario: Scenario, now: float) -> float | None:
        """Seconds until a refused account may answer again; None when it is not refused."""
        full = [reset for used, reset in self._read(provider, scenario, now).values() if used >= 1]
        return max(full) - now if full else None

    def headers(self, provider: str, scenario: Scenario, now: float) -> dict[str, str]:
        read = self._read(provider, scenario, now)
        out: dict[str, str] = {}
        statuses = []
        for name, (used, reset) in read.items():
            status = _status(used)
            statuses.append(status)
            out[f"{PREFIX}{name}-utilization"] = f"{used:.4f}"
            out[f"{PREFIX}{name}-reset"] = str(reset)
            out[f"{PREFIX}{name}-status"] = status
            if used >= WARN_AT:
                out[f"{PREFIX}{name}-surpassed-threshold"] = "1.0" if used >= 1 else str(WARN_AT)
        # The binding window: a refused one, else the fullest.
        binding = max(read, key=lambda n: (read[n][0] >= 1, read[n][0]))
        top = "rejected" if "rejected" in statuses else _status(read[binding][0])
        out[f"{PREFIX}status"] = top
        out[f"{PREFIX}reset"] = str(read[binding][1])
        out[f"{PREFIX}representative-claim"] = CLAIMS[binding]
        out[f"{PREFIX}fallback-percentage"] = "0.5"
        out[f"{PREFIX}overage-status"] = "rejected"
        out[f"{PREFIX}overage-disabled-reason"] = "org_level_disabled"
        return out


def _status(used: float) -> str:
    if used >= 1:
        return "rejected"
    return "allowed_warning" if used >= WARN_AT else "allowed"
