"""Per-provider circuit breaker: stop sending to a provider that keeps failing, for a while."""

from __future__ import annotations

import time
from collections.abc import Callable

from ccm_tui.events import BreakerState, Failure


class Breaker:
    def __init__(
        self,
        failures_to_open: int = 3,
        cooldown_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures_to_open = failures_to_open
        self.cooldown_s = cooldown_s
        self._clock = clock
        self.state = BreakerState.CLOSED
        self.consecutive = 0
        self._open_until = 0.0
        self._probe_out = False

    def _refresh(self) -> None:
        if self.state is BreakerState.OPEN and self._clock() >= self._open_until:
            self.state = BreakerState.HALF_OPEN
            self._probe_out = False

    def available(self) -> bool:
        """Whether `allows()` would say yes now, without taking the half-open probe."""
        self._refresh()
        return self.state is BreakerState.CLOSED or (
            self.state is BreakerState.HALF_OPEN and not self._probe_out
        )

    def allows(self) -> bool:
        """Whether a request may go now; in half-open, this takes the one probe, which
        `record` or `release` gives back. Call it only right before actually sending."""
        self._refresh()
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.HALF_OPEN and not self._probe_out:
            self._probe_out = True
            return True
        return False

    def release(self) -> None:
        """Gives back the half-open probe of an attempt that ended with nothing to `record`
        (a client error, the client going away): else the provider would stay unprobed."""
        if self.state is BreakerState.HALF_OPEN:
            self._probe_out = False

    def peek_state(self) -> BreakerState:
        self._refresh()
        return self.state

    def remaining_s(self) -> float:
        return (
            max(0.0, self._open_until - self._clock()) if self.state is BreakerState.OPEN else 0.0
        )

    def record(self, failure: Failure, retry_after_s: float | None = None) -> bool:
        """Folds one attempt's outcome in; returns whether the state or count changed."""
        before = (self.state, self.consecutive, self._open_until)
        if failure is Failure.OK:
            self.state = BreakerState.CLOSED
            self.consecutive = 0
            self._probe_out = False
        elif failure.opens_breaker:
            self.consecutive += 1
            if retry_after_s:
                self._open(retry_after_s)
            elif self.state is BreakerState.HALF_OPEN or self.consecutive >= self.failures_to_open:
                self._open(self.cooldown_s)
        elif self.state is BreakerState.HALF_OPEN:
            self._probe_out = False  # the probe told us nothing about the provider
        return before != (self.state, self.consecutive, self._open_until)

    def hold_until(self, wall: float) -> bool:
        """Open until an epoch time (a provider's limit resets then); whether it changed."""
        seconds = wall - time.time()
        if seconds <= 0:
            return False
        before = (self.state, self._open_until)
        self._open(seconds)
        return before != (self.state, self._open_until)

    def _open(self, seconds: float) -> None:
        self.state = BreakerState.OPEN
        self._open_until = max(self._open_until, self._clock() + seconds)
        self._probe_out = False

    def reset(self) -> None:
        self.state = BreakerState.CLOSED
        self.consecutive = 0
        self._open_until = 0.0
        self._probe_out = False

    def until_wall(self) -> float | None:
        """When the cooldown ends, as epoch seconds (for display across processes)."""
        if self.state is not BreakerState.OPEN:
            return None
        return time.time() + self.remaining_s()
