"""The monitor's snapshot: what it carries, and that folding goes on from it exactly.

`ccm-tui attach` loads the proxy's snapshot (through JSON) and folds the events that
follow. Whatever the events and wherever the snapshot is taken, its picture must be the
proxy's to the byte, with nothing read from either side's clock.
"""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ccm_tui.events import (
    AttemptFailed,
    AttemptStarted,
    AuthMode,
    BlockView,
    BreakerState,
    Event,
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
from ccm_tui.monitor import MonitorState, ProxyInstance

T0 = 1_767_268_800.0
END = T0 + 400  # past the five-minute rate window, so old buckets age out


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# A few ids and names, so events meet requests in the ring, evicted ones and unknown ones.
request_ids = st.sampled_from([f"r{i}" for i in range(6)])
providers = st.sampled_from(["alpha", "beta", "gamma"])
attempts = st.integers(1, 3)
times = st.floats(T0, END)
durations = st.floats(0, 60_000)
counts = st.integers(0, 200_000)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
statuses = st.sampled_from([200, 400, 401, 429, 500, 529])
blocks = st.lists(
    st.builds(BlockView, st.sampled_from(["text", "thinking", "tool_use"]), texts, texts),
    max_size=2,
).map(tuple)

request_started = st.builds(
    RequestStarted, request_ids, times, st.just("POST"), st.just("/v1/messages"), texts, texts,
    texts, st.booleans(), st.integers(0, 50), st.integers(0, 50), texts,
    st.lists(st.tuples(texts, texts), max_size=2).map(tuple),
)  # fmt: skip
events: st.SearchStrategy[Event] = st.one_of(
    request_started,
    st.builds(AttemptStarted, request_ids, attempts, providers, texts, st.sampled_from(AuthMode),
              times),
    st.builds(AttemptFailed, request_ids, attempts, providers, st.sampled_from(Failure),
              st.none() | statuses, texts, st.none() | durations, durations, times),
    st.builds(ResponseStarted, request_ids, attempts, providers, statuses, durations),
    st.builds(StreamProgressed, request_ids, counts, counts, blocks),
    st.builds(RequestFinished, request_ids, statuses, st.sampled_from(Failure),
              st.just("") | providers, texts, counts, counts, counts, counts, texts, durations,
              texts, times, blocks),
    st.builds(ProviderStateChanged, providers, st.booleans(), st.sampled_from(BreakerState),
              st.none() | times, st.integers(0, 5), st.sampled_from(AuthMode)),
    st.builds(ProviderCountersReset, providers),
    st.builds(TokenStateChanged, st.sampled_from(["claude-max", "claude-code"]), texts,
              st.lists(providers, max_size=2).map(tuple), texts, st.none() | times,
              st.sampled_from(RefreshState), texts, st.none() | times, texts, st.booleans(),
              st.booleans()),
    st.builds(Notice, st.sampled_from(Level), texts, times),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(history=st.integers(1, 4), data=st.data())
def test_a_snapshot_then_the_remaining_events_give_the_same_picture(history, data):
    # More requests than the history keeps, among any other events, in any order.
    starts = data.draw(st.lists(request_started, min_size=history + 1, max_size=history + 6))
    others = data.draw(st.lists(events, max_size=70))
    sequence = data.draw(st.permutations(starts + others), label="events")
    cut = data.draw(st.integers(0, len(sequence)), label="snapshot after this many events")
    instance = ProxyInstance("0123456789abcdef", T0)

    clock = Clock(END)
    direct = MonitorState(history, clock, instance)
    for event in sequence:
        direct.apply(event)

    # The other side's clock is far off while it folds: the fold must never read it.
    elsewhere = Clock(T0 - 86_400)
    before = MonitorState(history, elsewhere, instance)
    for event in sequence[:cut]:
        before.apply(event)
    wire = orjson.dumps(before.snapshot())
    resumed = MonitorState.from_snapshot(orjson.loads(wire), history, elsewhere)
    for event in sequence[cut:]:
        resumed.apply(event)

    elsewhere.now = END  # both pictures are taken at the same moment
    assert orjson.dumps(resumed.snapshot()) == orjson.dumps(direct.snapshot())
    assert resumed.total_requests == sum(isinstance(e, RequestStarted) for e in sequence)


def started(request_id: str, at: float = T0) -> RequestStarted:
    return RequestStarted(request_id, at, "POST", "/v1/messages", "sonnet", "sonnet", "model",
                          True, 1, 0, "claude-cli/2", ())  # fmt: skip


def through_json(state: MonitorState, history: int = 1000) -> MonitorState:
    return MonitorState.from_snapshot(orjson.loads(orjson.dumps(state.snapshot())), history)


def test_total_requests_counts_past_the_history_and_travels_in_the_snapshot():
    state = MonitorState(history=2)
    for i in range(5):
        state.apply(started(f"r{i}"))
    assert (len(state.requests), state.total_requests) == (2, 5)
    assert state.snapshot()["total_requests"] == 5
    assert through_json(state, history=2).total_requests == 5


def test_a_snapshot_names_the_proxy_run_it_comes_from():
    state = MonitorState(clock=Clock(T0))
    assert state.snapshot()["instance"] == {
        "id": state.instance.id,
        "started_at": T0,
        "keeps_history": False,
    }
    assert len(state.instance.id) == 16
    assert through_json(state).instance == state.instance
    assert MonitorState().instance.id != state.instance.id  # each run draws its own


def test_a_snapshot_without_the_fields_that_have_defaults_still_loads():
    state = MonitorState()
    state.apply(started("r1"))
    state.apply(AttemptStarted("r1", 1, "primary", "m", AuthMode.APIKEY, T0))
    data = orjson.loads(orjson.dumps(state.snapshot()))
    del data["dropped_events"]
    for key in ("attempts", "blocks", "outcome", "ttfb_ms", "input_tokens"):
        del data["requests"][0][key]
    for key in ("counts", "recent", "breaker", "last_error"):
        del data["providers"]["primary"][key]
    copy = MonitorState.from_snapshot(data)
    request = copy.requests["r1"]
    assert (request.attempts, request.blocks, request.outcome) == ([], (), None)
    primary = copy.providers["primary"]
    assert (primary.counts, list(primary.recent), primary.breaker) == ({}, [], BreakerState.CLOSED)
    assert (primary.requests, primary.in_flight) == (1, 1)
