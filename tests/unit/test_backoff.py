"""backoff.py: delays double up to the cap, jitter only stretches them, bad bounds are refused."""

from __future__ import annotations

import random

import pytest

from ccm_tui.backoff import Backoff


def test_delays_double_from_the_first_and_stop_at_the_cap():
    backoff = Backoff(60.0, 1800.0, jitter=0.0)
    rng = random.Random(0)
    assert [backoff.delay(n, rng) for n in range(1, 9)] == [
        60, 120, 240, 480, 960, 1800, 1800, 1800,
    ]  # fmt: skip
    assert backoff.delay(10_000, rng) == 1800  # no overflow however many failures


def test_jitter_stretches_each_delay_by_at_most_its_fraction_and_never_past_the_cap():
    backoff = Backoff(10.0, 100.0, jitter=0.1)
    rng = random.Random(7)
    for failures, base in ((1, 10.0), (2, 20.0), (3, 40.0), (4, 80.0)):
        delays = [backoff.delay(failures, rng) for _ in range(200)]
        assert all(base <= d <= base * 1.1 for d in delays)
        assert len(set(delays)) > 100  # spread out, not one value
    assert all(backoff.delay(5, rng) == 100.0 for _ in range(50))  # 160 capped at 100


@pytest.mark.parametrize(("low", "high"), [(0.0, 1.0), (-1.0, 1.0), (2.0, 1.0)])
def test_bounds_that_are_not_zero_below_min_below_max_are_refused(low: float, high: float):
    with pytest.raises(ValueError, match="0 < min <= max"):
        Backoff(low, high)


def test_negative_jitter_is_refused():
    with pytest.raises(ValueError, match="jitter"):
        Backoff(1.0, 2.0, jitter=-0.1)
