"""usage.py: folding the proxy's events into tokens and cost per provider, model and day."""

from __future__ import annotations

import time

import orjson
import pytest

from ccm_tui.events import (
    AttemptFailed,
    AttemptStarted,
    AuthMode,
    Failure,
    RateLimitsObserved,
    RequestFinished,
    RequestStarted,
    event_from_dict,
    event_to_dict,
)
from ccm_tui.pricing import PriceTable, prices_from_mapping
from ccm_tui.ratelimits import parse_rate_limits
from ccm_tui.usage import Billing, DailyUsage, Totals, UsageRecord, UsageState

T0 = 1_788_000_000.0  # 2026-08-29 10:40 UTC


def utc_day(epoch: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


def request(
    rid: str,
    at: float,
    provider: str = "claude-max",
    auth: AuthMode = AuthMode.OAUTH,
    model: str = "claude-sonnet-4-5-20250929",
    tokens: tuple[int, int, int, int] = (1000, 200, 0, 0),
    duration_ms: float = 2000.0,
    path: str = "/v1/messages",
    outcome: Failure = Failure.OK,
):
    """The events of one request that one provider answered."""
    inp, out, cache_read, cache_write = tokens
    return [
        RequestStarted(rid, at, "POST", path, "sonnet", "sonnet", "default", True, 1, 0, "", ()),
        AttemptStarted(rid, 1, provider, model, auth, at),
        RequestFinished(
            rid, 200, outcome, provider, model, inp, out, cache_read, cache_write, "end_turn",
            duration_ms, "", at + duration_ms / 1000,
        ),
    ]  # fmt: skip


def fold(*groups, state: UsageState | None = None) -> UsageState:
    state = state or UsageState(day_of=utc_day)
    for group in groups:
        for event in group:
            state.apply(event)
    return state


def test_a_finished_request_counts_each_kind_of_token():
    state = fold(request("a", T0, tokens=(1000, 200, 5000, 300)))
    today = state.today(T0)
    assert (today.requests, today.input_tokens, today.output_tokens) == (1, 1000, 200)
    assert (today.cache_read_tokens, today.cache_write_tokens) == (5000, 300)
    assert today.tokens == 6500


def test_subscription_traffic_shows_what_it_would_have_cost():
    state = fold(request("a", T0, auth=AuthMode.OAUTH, tokens=(1_000, 1_000, 0, 1_000)))
    today = state.today(T0)
    assert today.cost_usd == 0
    # Sonnet 4.5 at $3 in, $15 out, and $6 for the 1-hour cache writes subscribers get.
    assert today.would_cost_usd == pytest.approx((1_000 * 3 + 1_000 * 15 + 1_000 * 6) / 1e6)


def test_passthrough_counts_as_subscription_traffic():
    state = fold(request("a", T0, auth=AuthMode.PASSTHROUGH))
    assert state.today(T0).would_cost_usd > 0
    assert state.today(T0).cost_usd == 0


def test_api_key_traffic_costs_money_with_five_minute_cache_writes():
    state = fold(request("a", T0, auth=AuthMode.APIKEY, tokens=(1_000, 1_000, 0, 1_000)))
    today = state.today(T0)
    assert today.would_cost_usd == 0
    assert today.cost_usd == pytest.approx((1_000 * 3 + 1_000 * 15 + 1_000 * 3.75) / 1e6)


def test_a_derived_key_is_billed_like_an_api_key():
    state = fold(request("a", T0, auth=AuthMode.DERIVED_KEY))
    assert state.today(T0).cost_usd > 0


def test_the_provider_that_answered_decides_the_billing_not_the_one_that_failed():
    events = [
        RequestStarted("a", T0, "POST", "/v1/messages", "s", "s", "default", True, 1, 0, "", ()),
        AttemptStarted("a", 1, "claude-max", "claude-sonnet-4-5", AuthMode.OAUTH, T0),
        AttemptFailed("a", 1, "claude-max", Failure.OVERLOADED, 529, "Overloaded", None, 10.0, T0),
        AttemptStarted("a", 2, "console", "claude-sonnet-4-5", AuthMode.APIKEY, T0 + 0.1),
        RequestFinished(
            "a", 200, Failure.OK, "console", "claude-sonnet-4-5", 1000, 10, 0, 0, "end_turn",
            500.0, "", T0 + 0.6,
        ),
    ]  # fmt: skip
    state = fold(events)
    assert state.today(T0, "console").cost_usd > 0
    assert state.today(T0, "claude-max").requests == 0


def test_count_tokens_answers_are_not_usage():
    state = fold(request("a", T0, path="/v1/messages/count_tokens", tokens=(50_000, 0, 0, 0)))
    assert state.today(T0).requests == 0
    assert state.last(3600, T0 + 10).tokens == 0


def test_a_request_no_provider_answered_is_not_usage():
    events = request("a", T0)
    finished = events[-1]
    events[-1] = RequestFinished(
        "a",
        502,
        Failure.SERVER_ERROR,
        "",
        "",
        0,
        0,
        0,
        0,
        "",
        100.0,
        "all providers failed",
        T0 + 0.1,
    )
    assert finished.provider  # the helper's request did have one
    assert fold(events).today(T0).requests == 0


def test_an_unpriced_model_counts_tokens_and_says_it_has_no_price():
    state = fold(request("a", T0, model="glm-4.6", auth=AuthMode.APIKEY))
    today = state.today(T0)
    assert (today.requests, today.input_tokens, today.unpriced, today.cost_usd) == (1, 1000, 1, 0)


def test_configured_prices_apply_to_models_the_defaults_do_not_know():
    prices, _ = prices_from_mapping({"glm-4.6": {"input": 1, "output": 2}})
    state = fold(
        request("a", T0, model="glm-4.6", auth=AuthMode.APIKEY, tokens=(1_000_000, 0, 0, 0)),
        state=UsageState(prices, day_of=utc_day),
    )
    assert state.today(T0).cost_usd == pytest.approx(1.0)


def test_rows_are_per_day_provider_and_model():
    day2 = T0 + 86400
    state = fold(
        request("a", T0, model="claude-sonnet-4-5"),
        request("b", T0 + 60, model="claude-opus-4-1"),
        request("c", T0 + 120, provider="zai", model="glm-4.6", auth=AuthMode.APIKEY),
        request("d", day2, model="claude-sonnet-4-5"),
    )
    rows = [(r.day, r.provider, r.model, r.totals.requests) for r in state.daily()]
    assert rows == [
        (utc_day(day2), "claude-max", "claude-sonnet-4-5", 1),
        (utc_day(T0), "claude-max", "claude-opus-4-1", 1),
        (utc_day(T0), "claude-max", "claude-sonnet-4-5", 1),
        (utc_day(T0), "zai", "glm-4.6", 1),
    ]
    assert [r.day for r in state.daily(since_day=utc_day(day2))] == [utc_day(day2)]


def test_a_request_belongs_to_the_time_it_finished():
    # Started before midnight UTC, finished after it.
    midnight = 1_788_048_000.0
    state = fold(request("a", midnight - 1, duration_ms=5000))
    assert state.today(midnight + 10).requests == 1
    assert state.today(midnight - 10).requests == 0


def test_rolling_windows_keep_what_is_inside_them():
    state = fold(
        request("old", T0 - 6 * 3600, tokens=(100, 0, 0, 0)),
        request("mid", T0 - 2 * 3600, tokens=(20, 0, 0, 0)),
        request("new", T0 - 60, tokens=(3, 0, 0, 0)),
    )
    assert state.last(300, T0).input_tokens == 3
    assert state.last(5 * 3600, T0).input_tokens == 23
    assert state.last(7 * 86400, T0).input_tokens == 123


def test_seven_days_forget_what_is_older():
    state = fold(
        request("ancient", T0 - 8 * 86400, tokens=(100, 0, 0, 0)),
        request("new", T0, tokens=(1, 0, 0, 0)),
    )
    assert state.last(7 * 86400, T0 + 2).input_tokens == 1


def test_the_five_hour_window_starts_where_the_reported_reset_says():
    reset = T0 + 3600  # the window began four hours before T0
    limits = parse_rate_limits(
        [
            ("anthropic-ratelimit-unified-5h-reset", str(int(reset))),
            ("anthropic-ratelimit-unified-5h-utilization", "0.4"),
        ]
    )
    assert limits is not None
    state = fold(
        request("before", T0 - 4.5 * 3600, tokens=(100, 0, 0, 0)),
        request("inside", T0 - 3 * 3600, tokens=(7, 0, 0, 0)),
        [RateLimitsObserved("claude-max", "claude-max", T0 - 1, 200, limits)],
    )
    assert state.five_hour_window(T0).input_tokens == 7
    assert state.last(5 * 3600, T0).input_tokens == 107
    # Once the reset has passed, the window is the last five hours again.
    assert state.five_hour_window(reset + 10).input_tokens == 7


def test_the_sparkline_is_tokens_per_minute_oldest_first():
    state = fold(
        request("a", T0 - 125, tokens=(10, 0, 0, 0), duration_ms=0),
        request("b", T0 - 5, tokens=(1, 1, 0, 0), duration_ms=0),
        request("c", T0 - 3, tokens=(1, 0, 0, 0), duration_ms=0),
    )
    # T0 starts a minute: the buckets are T0-180, T0-120, T0-60 and T0 itself.
    assert state.minute_series(T0, minutes=4) == [10, 0, 3, 0]


def test_late_finishes_land_in_their_own_minute():
    state = fold(
        request("long", T0 - 600, duration_ms=480_000, tokens=(5, 0, 0, 0)),  # ends T0 - 120
        request("short", T0, duration_ms=0, tokens=(1, 0, 0, 0)),
    )
    late = request("late", T0 - 400, duration_ms=100_000, tokens=(2, 0, 0, 0))  # ends T0 - 300
    fold(late, state=state)
    series = state.minute_series(T0, minutes=10)
    assert sum(series) == 8
    assert series[-1] == 1


def test_latest_limits_are_the_newest_of_any_credential():
    old = parse_rate_limits([("anthropic-ratelimit-unified-status", "allowed")])
    new = parse_rate_limits([("anthropic-ratelimit-unified-status", "rejected")])
    assert old is not None and new is not None
    state = fold(
        [
            RateLimitsObserved("claude-max", "store-a", T0, 200, old),
            RateLimitsObserved("claude-max", "store-b", T0 + 5, 429, new),
        ]
    )
    latest = state.latest_limits("claude-max")
    assert latest is not None
    assert latest.limits.status == "rejected"
    assert state.latest_limits("zai") is None


def _history():
    limits = parse_rate_limits([("anthropic-ratelimit-unified-5h-reset", str(int(T0 + 3600)))])
    assert limits is not None
    return [
        *request("a", T0 - 7200, tokens=(10, 1, 100, 5)),
        *request("b", T0 - 3600, auth=AuthMode.APIKEY, provider="console"),
        RateLimitsObserved("claude-max", "claude-max", T0 - 3600, 200, limits),
        *request("c", T0 - 60, model="claude-opus-4-1"),
        *request("d", T0 - 30, model="glm-4.6", provider="zai", auth=AuthMode.APIKEY),
    ]


def _picture(state: UsageState, now: float) -> dict:
    return {
        "today": state.today(now).to_dict(),
        "5h": state.five_hour_window(now).to_dict(),
        "7d": state.last(7 * 86400, now).to_dict(),
        "spark": state.minute_series(now),
        "days": [(r.day, r.provider, r.model, r.totals.to_dict()) for r in state.daily()],
    }


def test_a_watcher_folding_the_same_events_over_json_sees_the_same_numbers():
    events = _history()
    local = fold(events)
    remote = fold([event_from_dict(orjson.loads(orjson.dumps(event_to_dict(e)))) for e in events])
    assert _picture(remote, T0) == _picture(local, T0)


def test_a_watcher_starting_from_a_snapshot_mid_request_sees_the_same_numbers():
    events = _history()
    cut = len(events) - 2  # inside request "d": started, not finished
    local = fold(events[:cut])
    remote = UsageState.from_snapshot(orjson.loads(orjson.dumps(local.snapshot())), day_of=utc_day)
    fold(events[cut:], state=local)
    fold(events[cut:], state=remote)
    assert _picture(remote, T0) == _picture(local, T0)
    assert remote.today(T0).requests == 4


def test_loading_history_restores_days_and_windows_without_double_counting():
    live = fold(_history())
    records = []
    replay = UsageState(day_of=utc_day)
    for event in _history():
        record = replay.apply(event)
        if record is not None:
            records.append(record)
    restored = UsageState(day_of=utc_day)
    restored.load(live.daily(), records)
    assert _picture(restored, T0) == _picture(live, T0)


def test_totals_round_trip_through_plain_dicts():
    totals = Totals(3, 10, 20, 30, 40, 1.5, 2.5, 1)
    assert Totals.from_dict(orjson.loads(orjson.dumps(totals.to_dict()))) == totals


def test_records_are_plain_values():
    record = UsageRecord("a", T0, "p", "m", Billing.API, 1, 2, 3, 4, None)
    assert DailyUsage("2026-01-01", "p", "m", Totals()).totals == Totals()
    assert orjson.loads(orjson.dumps(record))["billing"] == "api"


def test_priceless_table_prices_nothing():
    state = fold(request("a", T0), state=UsageState(PriceTable({}), day_of=utc_day))
    assert state.today(T0).unpriced == 1
