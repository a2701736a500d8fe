"""monitor.py: folding events into the picture the TUI draws and /_ccm/state serves."""

from __future__ import annotations

import orjson
import pytest

from ccm_tui.events import (
    AttemptFailed,
    AttemptStarted,
    AuthMode,
    BlockView,
    BreakerState,
    Failure,
    Level,
    Notice,
    ProviderCountersReset,
    ProviderStateChanged,
    RefreshState,
    RequestFinished,
    RequestStarted,
    ResponseStarted,
    StreamProgressed,
    TokenStateChanged,
)
from ccm_tui.monitor import AttemptView, MonitorState, ProviderStats

T0 = 1_750_000_000.0


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


HEADERS = (("anthropic-version", "2023-06-01"), ("x-api-key", "sk-ant-api03-…x7Qd"))


def started(request_id: str, at: float = 1_750_000_000.0, model: str = "claude-sonnet-4-5"):
    return RequestStarted(
        request_id, at, "POST", "/v1/messages?beta=true", model, "sonnet", "auto_map", True, 3,
        24, "claude-cli/2.1.197 (external, sdk-cli)", HEADERS,
    )  # fmt: skip


def finished(request_id: str, provider: str = "secondary", **changes: object) -> RequestFinished:
    fields: dict[str, object] = {
        "request_id": request_id,
        "status": 200,
        "outcome": Failure.OK,
        "provider": provider,
        "actual_model": "glm-4.6",
        "input_tokens": 11,
        "output_tokens": 57,
        "cache_read_tokens": 2048,
        "cache_creation_tokens": 7,
        "stop_reason": "end_turn",
        "duration_ms": 900.0,
        "error_message": "",
        "at": T0 + 1,
        "blocks": (BlockView("text", "", "Hello there"),),
    }
    return RequestFinished(**(fields | changes))  # type: ignore[arg-type]


def failover_then_success(state: MonitorState, request_id: str = "r1") -> None:
    state.apply(started(request_id))
    state.apply(AttemptStarted(request_id, 1, "primary", "claude-sonnet-4-5", AuthMode.APIKEY, 1.0))
    state.apply(
        AttemptFailed(request_id, 1, "primary", Failure.RATE_LIMITED, 429,
                      "Number of requests has exceeded your rate limit", 30.0, 40.0, T0)
    )  # fmt: skip
    state.apply(AttemptStarted(request_id, 2, "secondary", "glm-4.6", AuthMode.APIKEY, 1.1))
    state.apply(ResponseStarted(request_id, 2, "secondary", 200, 120.0))
    state.apply(StreamProgressed(request_id, 10, 15, (BlockView("text", "", "Hel"),)))
    state.apply(finished(request_id))


def test_failed_attempt_then_success_gives_the_whole_story():
    state = MonitorState(clock=Clock())
    failover_then_success(state)

    request = state.requests["r1"]
    assert request.attempts == [
        AttemptView(1, "primary", "claude-sonnet-4-5", AuthMode.APIKEY, Failure.RATE_LIMITED, 429,
                    "Number of requests has exceeded your rate limit", 30.0, 40.0),
        AttemptView(2, "secondary", "glm-4.6", AuthMode.APIKEY, Failure.OK, 200, "", None, 900.0),
    ]  # fmt: skip
    assert (request.provider, request.actual_model) == ("secondary", "glm-4.6")
    assert (request.status, request.outcome) == (200, Failure.OK)
    assert (request.ttfb_ms, request.duration_ms) == (120.0, 900.0)
    assert (request.input_tokens, request.output_tokens) == (11, 57)
    assert (request.cache_read_tokens, request.cache_creation_tokens) == (2048, 7)
    assert request.stop_reason == "end_turn"
    assert request.blocks == (BlockView("text", "", "Hello there"),)
    assert request.finished is True
    assert request.streaming is False

    primary = state.providers["primary"]
    assert (primary.requests, primary.successes, primary.in_flight) == (1, 0, 0)
    assert primary.counts == {Failure.RATE_LIMITED: 1}
    assert primary.failures == 1
    assert primary.last_error == "rate_limited: Number of requests has exceeded your rate limit"
    assert primary.last_error_at == 1_750_000_000.0

    secondary = state.providers["secondary"]
    assert (secondary.requests, secondary.successes, secondary.in_flight) == (1, 1, 0)
    assert secondary.counts == {Failure.OK: 1}
    assert secondary.failures == 0
    assert secondary.last_error == ""


def test_request_in_flight_and_streaming_before_it_finishes():
    state = MonitorState(clock=Clock())
    state.apply(started("r1"))
    state.apply(AttemptStarted("r1", 1, "primary", "m", AuthMode.APIKEY, 1.0))
    request = state.requests["r1"]
    assert (request.finished, request.streaming) == (False, False)
    assert state.providers["primary"].in_flight == 1
    state.apply(ResponseStarted("r1", 1, "primary", 200, 80.0))
    assert (request.finished, request.streaming) == (False, True)
    assert request.status == 200
    assert request.attempts[0].status == 200
    assert request.attempts[0].failure is None


def test_stream_progress_updates_tokens_and_blocks_in_place():
    state = MonitorState(clock=Clock())
    state.apply(started("r1"))
    state.apply(AttemptStarted("r1", 1, "primary", "m", AuthMode.APIKEY, 1.0))
    state.apply(ResponseStarted("r1", 1, "primary", 200, 80.0))
    first = (BlockView("thinking", "", "hmm"),)
    second = (BlockView("thinking", "", "hmm, yes"), BlockView("text", "", "Answer"))
    state.apply(StreamProgressed("r1", 10, 4, first))
    assert (state.requests["r1"].output_tokens, state.requests["r1"].blocks) == (4, first)
    state.apply(StreamProgressed("r1", 10, 9, second))
    assert (state.requests["r1"].output_tokens, state.requests["r1"].blocks) == (9, second)


def test_finish_without_blocks_keeps_the_streamed_blocks():
    state = MonitorState(clock=Clock())
    state.apply(started("r1"))
    state.apply(AttemptStarted("r1", 1, "primary", "m", AuthMode.APIKEY, 1.0))
    blocks = (BlockView("text", "", "streamed"),)
    state.apply(StreamProgressed("r1", 10, 3, blocks))
    state.apply(finished("r1", provider="primary", blocks=()))
    assert state.requests["r1"].blocks == blocks


def test_client_error_is_recorded_but_not_counted_against_the_provider():
    state = MonitorState(clock=Clock())
    state.apply(started("r2"))
    state.apply(AttemptStarted("r2", 1, "primary", "m", AuthMode.APIKEY, 1.0))
    message = "max_tokens: Field required"
    state.apply(
        AttemptFailed("r2", 1, "primary", Failure.CLIENT_ERROR, 400, message, None, 5.0, T0)
    )
    state.apply(
        finished("r2", provider="primary", status=400, outcome=Failure.CLIENT_ERROR,
                 error_message=message, blocks=())
    )  # fmt: skip

    request = state.requests["r2"]
    assert (request.status, request.outcome, request.error_message) == (
        400,
        Failure.CLIENT_ERROR,
        message,
    )
    assert request.attempts[0].failure is Failure.CLIENT_ERROR
    stats = state.providers["primary"]
    assert stats.counts == {Failure.CLIENT_ERROR: 1}  # folded once, not again at the finish
    assert stats.failures == 0
    assert stats.last_error == ""
    assert stats.in_flight == 0
    assert stats.error_rate(60, state.clock()) is None


def test_mid_stream_failure_ends_the_answering_attempt_with_that_class():
    state = MonitorState(clock=Clock())
    state.apply(started("r3"))
    state.apply(AttemptStarted("r3", 1, "primary", "m", AuthMode.APIKEY, 1.0))
    state.apply(ResponseStarted("r3", 1, "primary", 200, 50.0))
    state.apply(
        finished("r3", provider="primary", outcome=Failure.STREAM_ERROR,
                 error_message="upstream closed the connection")
    )  # fmt: skip
    attempt = state.requests["r3"].attempts[0]
    assert (attempt.failure, attempt.message) == (
        Failure.STREAM_ERROR,
        "upstream closed the connection",
    )
    stats = state.providers["primary"]
    assert stats.counts == {Failure.STREAM_ERROR: 1}
    assert stats.failures == 1
    assert stats.last_error == "upstream closed the connection"


def test_events_for_unknown_requests_still_count_for_providers():
    state = MonitorState(clock=Clock())
    state.apply(AttemptStarted("gone", 1, "primary", "m", AuthMode.APIKEY, 1.0))
    state.apply(
        AttemptFailed("gone", 1, "primary", Failure.TIMEOUT, None, "timed out", None, 1.0, T0)
    )
    state.apply(StreamProgressed("gone", 10, 5, ()))
    state.apply(finished("gone"))
    assert state.requests == {}
    assert state.providers["primary"].counts == {Failure.TIMEOUT: 1}


def test_attempt_ends_are_dated_by_their_events_not_by_the_clock():
    state = MonitorState(clock=Clock(T0 + 86_400))  # a clock a day off: never read by the fold
    state.apply(started("r1"))
    state.apply(AttemptStarted("r1", 1, "primary", "m", AuthMode.APIKEY, T0))
    state.apply(AttemptFailed("r1", 1, "primary", Failure.OVERLOADED, 529, "Overloaded", None,
                              5.0, T0 + 1.5))  # fmt: skip
    state.apply(AttemptStarted("r1", 2, "secondary", "m", AuthMode.APIKEY, T0 + 1.6))
    state.apply(finished("r1", at=T0 + 3.2))
    primary, secondary = state.providers["primary"], state.providers["secondary"]
    assert primary.last_error_at == T0 + 1.5
    assert list(primary.recent) == [[int(T0 + 1.5), 1, 1]]
    assert list(secondary.recent) == [[int(T0 + 3.2), 1, 0]]


def test_provider_state_event_sets_breaker_and_auth():
    state = MonitorState(clock=Clock())
    state.apply(ProviderStateChanged("primary", False, BreakerState.OPEN, 1_750_000_030.0, 3,
                                     AuthMode.DERIVED_KEY))  # fmt: skip
    stats = state.providers["primary"]
    assert (stats.enabled, stats.breaker, stats.breaker_until) == (
        False,
        BreakerState.OPEN,
        1_750_000_030.0,
    )
    assert (stats.consecutive_failures, stats.auth) == (3, AuthMode.DERIVED_KEY)


def test_counters_reset_clears_counts_but_keeps_state_and_in_flight():
    state = MonitorState(clock=Clock())
    failover_then_success(state)
    state.apply(ProviderStateChanged("primary", True, BreakerState.OPEN, 1_750_000_030.0, 3,
                                     AuthMode.OAUTH))  # fmt: skip
    state.apply(AttemptStarted("r9", 1, "primary", "m", AuthMode.OAUTH, 2.0))

    state.apply(ProviderCountersReset("primary"))

    stats = state.providers["primary"]
    assert (stats.requests, stats.successes, stats.counts, stats.last_error) == (0, 0, {}, "")
    assert stats.error_rate(300, state.clock()) is None
    assert stats.in_flight == 1
    assert (stats.enabled, stats.auth, stats.breaker, stats.breaker_until) == (
        True,
        AuthMode.OAUTH,
        BreakerState.OPEN,
        1_750_000_030.0,
    )
    assert state.providers["secondary"].counts == {Failure.OK: 1}


def token(token_id: str, expires_at: float, refresh: RefreshState) -> TokenStateChanged:
    return TokenStateChanged(token_id, "store", ("claude-max",), "sk-ant-oat01-…Zz9k", expires_at,
                             refresh, "", None, "", False, False)  # fmt: skip


def test_token_state_keeps_the_latest_event_per_token():
    state = MonitorState(clock=Clock())
    state.apply(token("claude-max", 100.0, RefreshState.REFRESHING))
    state.apply(token("other", 50.0, RefreshState.IDLE))
    state.apply(token("claude-max", 200.0, RefreshState.OK))
    assert list(state.tokens) == ["claude-max", "other"]
    assert state.tokens["claude-max"].expires_at == 200.0
    assert state.tokens["claude-max"].refresh is RefreshState.OK


# --- history --------------------------------------------------------------------------------


def test_history_cap_evicts_the_oldest_and_reports_their_ids():
    state = MonitorState(history=3, clock=Clock())
    for i in range(5):
        state.apply(started(f"r{i}"))
    assert list(state.requests) == ["r2", "r3", "r4"]
    assert state.take_evicted() == ["r0", "r1"]
    assert state.take_evicted() == []
    state.apply(started("r5"))
    assert state.take_evicted() == ["r2"]


def test_events_of_an_evicted_request_are_ignored_for_the_ring():
    state = MonitorState(history=1, clock=Clock())
    state.apply(started("old"))
    state.apply(started("new"))
    state.apply(finished("old"))
    assert list(state.requests) == ["new"]
    assert state.requests["new"].outcome is None


def test_a_request_evicted_while_in_flight_still_ends_in_the_counters():
    state = MonitorState(history=1, clock=Clock())
    state.apply(started("old"))
    state.apply(AttemptStarted("old", 1, "primary", "m", AuthMode.APIKEY, 1.0))
    state.apply(
        AttemptFailed("old", 1, "primary", Failure.OVERLOADED, 529, "Overloaded", None, 5.0, T0)
    )
    state.apply(AttemptStarted("old", 2, "secondary", "m", AuthMode.APIKEY, 1.1))
    state.apply(started("new"))  # "old" leaves the ring, still streaming
    assert list(state.requests) == ["new"]
    assert set(state.live) == {"old", "new"}  # still in flight: the quit prompt counts it
    state.apply(finished("old", provider="secondary"))
    assert set(state.live) == {"new"}
    secondary = state.providers["secondary"]
    assert secondary.in_flight == 0
    assert (secondary.successes, secondary.counts) == (1, {Failure.OK: 1})
    primary = state.providers["primary"]  # its failure was counted once, by AttemptFailed
    assert (primary.in_flight, primary.counts) == (0, {Failure.OVERLOADED: 1})


def test_a_request_evicted_after_all_its_attempts_failed_is_not_counted_twice():
    state = MonitorState(history=1, clock=Clock())
    state.apply(started("old"))
    state.apply(AttemptStarted("old", 1, "primary", "m", AuthMode.APIKEY, 1.0))
    state.apply(
        AttemptFailed("old", 1, "primary", Failure.OVERLOADED, 529, "Overloaded", None, 5.0, T0)
    )
    state.apply(started("new"))
    state.apply(finished("old", provider="primary", status=529, outcome=Failure.OVERLOADED))
    assert state.providers["primary"].counts == {Failure.OVERLOADED: 1}
    assert set(state.live) == {"new"}


# --- error rates ------------------------------------------------------------------------------


def test_error_rates_over_one_and_five_minutes():
    clock = Clock(10_000.0)
    state = MonitorState(clock=clock)

    def outcome(request_id: str, failure: Failure) -> None:
        state.apply(started(request_id))
        state.apply(AttemptStarted(request_id, 1, "p", "m", AuthMode.APIKEY, clock.now))
        if failure is Failure.OK:
            state.apply(finished(request_id, provider="p", at=clock.now))
        else:
            state.apply(
                AttemptFailed(request_id, 1, "p", failure, 500, "boom", None, 1.0, clock.now)
            )

    outcome("a", Failure.SERVER_ERROR)  # t = 10000
    outcome("b", Failure.SERVER_ERROR)  # t = 10000
    clock.now = 10_200.0
    outcome("c", Failure.OK)
    outcome("d", Failure.CLIENT_ERROR)  # not the provider's fault: not in the rates
    clock.now = 10_230.0
    outcome("e", Failure.TIMEOUT)
    outcome("f", Failure.OK)

    stats = state.providers["p"]
    now = 10_240.0
    assert stats.error_rate(60, now) == pytest.approx(1 / 3)  # c ok, e failed, f ok
    assert stats.error_rate(300, now) == pytest.approx(3 / 5)  # plus a and b
    assert stats.error_rate(60, 10_330.0) is None  # nothing in the last minute
    assert stats.error_rate(300, 10_000.0 + 600) is None

    clock.now = now
    snapshot = state.snapshot()["providers"]["p"]
    assert snapshot["error_rate_1m"] == pytest.approx(1 / 3)
    assert snapshot["error_rate_5m"] == pytest.approx(3 / 5)
    assert snapshot["counts"] == {"server_error": 2, "ok": 2, "client_error": 1, "timeout": 1}
    assert snapshot["failures"] == 3


def test_rate_buckets_stay_bounded_over_a_long_run():
    stats = ProviderStats("p")
    for second in range(0, 3600):
        stats.note_outcome(10_000.0 + second, failed=second % 2 == 0)
    assert len(stats.recent) <= 301
    assert stats.error_rate(60, 10_000.0 + 3600) == pytest.approx(0.5, abs=0.02)


# --- snapshots -------------------------------------------------------------------------------


def busy_state(clock: Clock) -> MonitorState:
    state = MonitorState(history=10, clock=clock)
    failover_then_success(state, "r1")
    state.apply(started("r2"))
    state.apply(AttemptStarted("r2", 1, "primary", "m", AuthMode.OAUTH, 3.0))
    state.apply(ResponseStarted("r2", 1, "primary", 200, 70.5))
    state.apply(StreamProgressed("r2", 10, 12, (BlockView("tool_use", "Bash", '{"comm'),)))
    state.apply(ProviderStateChanged("primary", True, BreakerState.HALF_OPEN, None, 1,
                                     AuthMode.OAUTH))  # fmt: skip
    state.apply(token("claude-max", 1_750_028_800.0, RefreshState.OK))
    state.apply(Notice(Level.WARNING, "primary is rate limited", 1_750_000_001.0))
    state.dropped_events = 4
    return state


def test_snapshot_through_orjson_rebuilds_an_equal_picture():
    clock = Clock()
    state = busy_state(clock)
    snapshot = state.snapshot()

    copy = MonitorState.from_snapshot(orjson.loads(orjson.dumps(snapshot)), clock=clock)

    assert list(copy.requests) == list(state.requests)
    assert copy.requests == state.requests
    assert copy.providers == state.providers
    assert copy.tokens == state.tokens
    assert copy.dropped_events == 4
    # Notices have their own test below.
    without_notices = {k: v for k, v in snapshot.items() if k != "notices"}
    assert {k: v for k, v in copy.snapshot().items() if k != "notices"} == without_notices


def test_snapshot_carries_the_notices():
    clock = Clock()
    state = busy_state(clock)
    copy = MonitorState.from_snapshot(orjson.loads(orjson.dumps(state.snapshot())), clock=clock)
    assert list(copy.notices) == list(state.notices)


def test_snapshot_has_the_documented_shape():
    snapshot = busy_state(Clock()).snapshot()
    primary = snapshot["providers"]["primary"]
    assert primary["counts"] == {"rate_limited": 1}
    assert primary["consecutive_failures"] == 1
    assert primary["breaker"] == {"state": "half_open", "until": None}
    assert primary["last_error"].startswith("rate_limited: ")
    assert [r["request_id"] for r in snapshot["requests"]] == ["r2", "r1"]  # newest first
    assert snapshot["tokens"][0]["token_id"] == "claude-max"
    assert snapshot["dropped_events"] == 4


def test_state_rebuilt_from_a_snapshot_keeps_folding_events():
    clock = Clock()
    copy = MonitorState.from_snapshot(
        orjson.loads(orjson.dumps(busy_state(clock).snapshot())), clock=clock
    )
    copy.apply(finished("r2", provider="primary"))
    assert copy.requests["r2"].outcome is Failure.OK
    assert copy.requests["r2"].attempts[0].failure is Failure.OK
    assert copy.providers["primary"].counts == {Failure.RATE_LIMITED: 1, Failure.OK: 1}


def test_snapshot_from_a_newer_proxy_with_extra_fields_still_loads():
    clock = Clock()
    data = orjson.loads(orjson.dumps(busy_state(clock).snapshot()))
    data["requests"][0]["priority"] = "high"
    data["requests"][0]["attempts"][0]["region"] = "eu"
    data["providers"]["primary"]["weight"] = 3
    copy = MonitorState.from_snapshot(data, clock=clock)
    assert list(copy.requests) == ["r1", "r2"]


def test_replace_with_swaps_contents_in_place():
    clock = Clock()
    state = MonitorState(clock=clock)
    state.apply(started("old"))
    state.take_evicted()
    other = busy_state(clock)
    state.replace_with(other)
    assert list(state.requests) == ["r1", "r2"]
    assert state.providers is other.providers
    assert state.dropped_events == 4
    assert state.take_evicted() == []
