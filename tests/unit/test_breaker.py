"""breaker.py: a provider that keeps failing is left alone for a while, then probed once."""

from __future__ import annotations

import pytest

from ccm_tui.events import BreakerState, Failure
from ccm_tui.proxy.breaker import Breaker


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> Breaker:
    return Breaker(failures_to_open=3, cooldown_s=30.0, clock=clock)


def fail(breaker: Breaker, times: int, failure: Failure = Failure.SERVER_ERROR) -> None:
    for _ in range(times):
        breaker.record(failure)


def test_new_breaker_is_closed_and_lets_requests_through(breaker):
    assert breaker.peek_state() is BreakerState.CLOSED
    assert [breaker.allows() for _ in range(5)] == [True] * 5
    assert breaker.remaining_s() == 0.0
    assert breaker.until_wall() is None


def test_stays_closed_below_the_failure_count(breaker):
    fail(breaker, 2)
    assert breaker.peek_state() is BreakerState.CLOSED
    assert breaker.consecutive == 2
    assert breaker.allows() is True


def test_opens_after_n_consecutive_failures_for_the_cooldown(breaker):
    fail(breaker, 3)
    assert breaker.peek_state() is BreakerState.OPEN
    assert breaker.allows() is False
    assert breaker.remaining_s() == 30.0


def test_success_in_between_resets_the_count(breaker):
    fail(breaker, 2)
    breaker.record(Failure.OK)
    fail(breaker, 2)
    assert breaker.peek_state() is BreakerState.CLOSED
    assert breaker.consecutive == 2


@pytest.mark.parametrize(
    "failure",
    [Failure.CONNECT_ERROR, Failure.TIMEOUT, Failure.OVERLOADED, Failure.AUTH_ERROR,
     Failure.MODEL_NOT_FOUND, Failure.RATE_LIMITED, Failure.STREAM_ERROR],
)  # fmt: skip
def test_failures_that_count_against_the_provider_open_it(breaker, failure):
    fail(breaker, 3, failure)
    assert breaker.peek_state() is BreakerState.OPEN


def test_stays_open_until_the_cooldown_ends(breaker, clock):
    fail(breaker, 3)
    clock.advance(29.9)
    assert breaker.allows() is False
    assert breaker.remaining_s() == pytest.approx(0.1)


def test_after_the_cooldown_half_open_lets_exactly_one_probe_through(breaker, clock):
    fail(breaker, 3)
    clock.advance(30)
    assert breaker.peek_state() is BreakerState.HALF_OPEN
    assert breaker.peek_state() is BreakerState.HALF_OPEN  # peeking takes no probe
    assert [breaker.allows() for _ in range(4)] == [True, False, False, False]


def test_probe_success_closes_it(breaker, clock):
    fail(breaker, 3)
    clock.advance(30)
    assert breaker.allows() is True
    breaker.record(Failure.OK)
    assert breaker.peek_state() is BreakerState.CLOSED
    assert breaker.consecutive == 0
    assert [breaker.allows() for _ in range(3)] == [True, True, True]


def test_probe_failure_reopens_it_for_another_cooldown(breaker, clock):
    fail(breaker, 3)
    clock.advance(30)
    assert breaker.allows() is True
    breaker.record(Failure.TIMEOUT)
    assert breaker.peek_state() is BreakerState.OPEN
    assert breaker.allows() is False
    assert breaker.remaining_s() == 30.0
    clock.advance(30)
    assert breaker.allows() is True  # the next probe
    assert breaker.allows() is False


def test_retry_after_opens_it_at_once_for_that_long(breaker, clock):
    breaker.record(Failure.RATE_LIMITED, retry_after_s=120.0)
    assert breaker.peek_state() is BreakerState.OPEN
    assert breaker.allows() is False
    assert breaker.remaining_s() == 120.0
    clock.advance(119)
    assert breaker.allows() is False
    clock.advance(1)
    assert breaker.peek_state() is BreakerState.HALF_OPEN
    assert breaker.allows() is True


def test_shorter_retry_after_does_not_cut_a_longer_cooldown(breaker, clock):
    breaker.record(Failure.RATE_LIMITED, retry_after_s=120.0)
    breaker.record(Failure.RATE_LIMITED, retry_after_s=5.0)
    assert breaker.remaining_s() == 120.0


def test_zero_retry_after_counts_as_an_ordinary_failure(breaker):
    breaker.record(Failure.RATE_LIMITED, retry_after_s=0.0)
    assert breaker.peek_state() is BreakerState.CLOSED
    assert breaker.consecutive == 1


@pytest.mark.parametrize("failure", [Failure.OAUTH_SCOPE, Failure.CLIENT_ERROR, Failure.CANCELLED])
def test_failures_about_the_client_never_open_it(breaker, failure):
    for _ in range(10):
        breaker.record(failure, retry_after_s=60.0)
    assert breaker.peek_state() is BreakerState.CLOSED
    assert breaker.consecutive == 0
    assert breaker.allows() is True


def test_oauth_scope_does_not_break_a_run_of_real_failures_into_an_open(breaker):
    fail(breaker, 2)
    breaker.record(Failure.OAUTH_SCOPE)
    assert breaker.peek_state() is BreakerState.CLOSED
    breaker.record(Failure.SERVER_ERROR)
    assert breaker.peek_state() is BreakerState.OPEN


def test_client_error_on_the_probe_frees_the_probe_slot(breaker, clock):
    fail(breaker, 3)
    clock.advance(30)
    assert breaker.allows() is True
    breaker.record(Failure.CLIENT_ERROR)
    assert breaker.peek_state() is BreakerState.HALF_OPEN
    assert breaker.allows() is True
    assert breaker.allows() is False


def test_reset_closes_it_and_forgets_failures(breaker):
    fail(breaker, 5)
    breaker.reset()
    assert breaker.peek_state() is BreakerState.CLOSED
    assert breaker.consecutive == 0
    assert breaker.remaining_s() == 0.0
    assert breaker.allows() is True
    fail(breaker, 2)
    assert breaker.peek_state() is BreakerState.CLOSED


def test_record_reports_whether_anything_changed(breaker):
    assert breaker.record(Failure.OK) is False
    assert breaker.record(Failure.SERVER_ERROR) is True
    assert breaker.record(Failure.CLIENT_ERROR) is False
    assert breaker.record(Failure.OK) is True


def test_until_wall_is_when_the_cooldown_ends_in_epoch_seconds(breaker, monkeypatch):
    from ccm_tui.proxy import breaker as breaker_module

    monkeypatch.setattr(breaker_module.time, "time", lambda: 1_750_000_000.0)
    fail(breaker, 3)
    assert breaker.until_wall() == 1_750_000_030.0


def test_single_failure_threshold_opens_on_the_first_failure(clock):
    b = Breaker(failures_to_open=1, cooldown_s=5.0, clock=clock)
    b.record(Failure.OVERLOADED)
    assert b.peek_state() is BreakerState.OPEN
    assert b.remaining_s() == 5.0


def test_available_peeks_without_taking_the_half_open_probe(breaker, clock):
    fail(breaker, 3)
    assert breaker.available() is False
    clock.advance(30)
    assert [breaker.available() for _ in range(3)] == [True, True, True]
    assert breaker.allows() is True
    assert breaker.available() is False


def test_release_gives_the_half_open_probe_back(breaker, clock):
    fail(breaker, 3)
    clock.advance(30)
    assert breaker.allows() is True
    assert breaker.allows() is False
    breaker.release()
    assert breaker.peek_state() is BreakerState.HALF_OPEN
    assert breaker.allows() is True
    assert breaker.allows() is False


def test_release_outside_half_open_changes_nothing(breaker, clock):
    breaker.release()
    assert breaker.allows() is True
    fail(breaker, 3)
    breaker.release()
    assert breaker.peek_state() is BreakerState.OPEN
    assert breaker.allows() is False
    assert breaker.remaining_s() == 30.0
