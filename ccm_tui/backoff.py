"""Exponential backoff with jitter, for whatever retries a failure by itself.

Doubling spaces the retries of something that keeps failing; the jitter keeps several
processes that failed together (two proxies sharing a token store, many monitors attached
to one proxy) from retrying together.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Backoff:
    """`low_s` after the first failure, doubled after each further one, never over `high_s`;
    each delay is stretched by a random factor of up to `1 + jitter`."""

    low_s: float
    high_s: float
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.low_s <= self.high_s:
            raise ValueError(
                f"backoff must be (min, max) with 0 < min <= max, not ({self.low_s:g}, "
                f"{self.high_s:g})"
            )
        if self.jitter < 0:
            raise ValueError(f"backoff jitter must not be negative, not {self.jitter:g}")

    def delay(self, failures: int, rng: random.Random) -> float:
        """Seconds to wait after the `failures`-th failure in a row (1 for the first)."""
        base = min(self.high_s, self.low_s * 2.0 ** min(max(failures, 1) - 1, 32))
        return min(self.high_s, base * rng.uniform(1.0, 1.0 + self.jitter))
