"""events.py: events survive JSON both ways; the bus never blocks and counts what it drops."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect

import orjson
import pytest

from ccm_tui.events import (
    EVENT_TYPES,
    AttemptFailed,
    AttemptStarted,
    AuthMode,
    BlockView,
    BreakerState,
    ConnectionChanged,
    Event,
    EventBus,
    Failure,
    Level,
    Notice,
    ProviderCountersReset,
    ProviderStateChanged,
    RateLimitsObserved,
    RefreshState,
    RequestFinished,
    RequestStarted,
    ResponseStarted,
    SnapshotLoaded,
    StreamProgressed,
    TokenStateChanged,
    event_from_dict,
    event_to_dict,
)
from ccm_tui.ratelimits import Bucket, RateLimits, Window

BLOCKS = (
    BlockView("thinking", "", "pondering"),
    BlockView("text", "", "Hello — ünïcode ✓"),
    BlockView("tool_use", "Bash", '{"command": "ls"}'),
)

SAMPLES: list[Event] = [
    RequestStarted(
        request_id="req-1",
        at=1_750_000_000.25,
        method="POST",
        path="/v1/messages?beta=true",
        requested_model="claude-sonnet-4-5",
        routed_model="sonnet",
        route_reason="auto_map",
        stream=True,
        message_count=3,
        tool_count=24,
        user_agent="claude-cli/2.1.197 (external, sdk-cli)",
        headers=(("anthropic-version", "2023-06-01"), ("x-api-key", "sk-ant-api03-…x7Qd")),
    ),
    AttemptStarted("req-1", 1, "primary", "claude-sonnet-4-5-20250929", AuthMode.OAUTH, 1.5),
    AttemptFailed(
        "req-1", 1, "primary", Failure.RATE_LIMITED, 429, "Rate limited", 30.0, 12.5, 1.75e9
    ),
    AttemptFailed(
        "req-1", 2, "secondary", Failure.CONNECT_ERROR, None, "refused", None, 0.75, 1_750_000_000.5
    ),
    ResponseStarted("req-1", 2, "secondary", 200, 123.4),
    StreamProgressed("req-1", 7, 42, BLOCKS),
    RequestFinished(
        request_id="req-1",
        status=200,
        outcome=Failure.OK,
        provider="secondary",
        actual_model="glm-4.6",
        input_tokens=11,
        output_tokens=57,
        cache_read_tokens=2048,
        cache_creation_tokens=7,
        stop_reason="tool_use",
        duration_ms=987.5,
        error_message="",
        at=1_750_000_001.25,
        blocks=BLOCKS,
    ),
    ProviderStateChanged("primary", True, BreakerState.OPEN, 1_750_000_030.5, 3, AuthMode.APIKEY),
    ProviderStateChanged("spare", False, BreakerState.HALF_OPEN, None, 0, AuthMode.PASSTHROUGH),
    ProviderCountersReset("primary"),
    TokenStateChanged(
        token_id="claude-max",
        source="store",
        providers=("claude-max", "claude-max-backup"),
        access_token="sk-ant-oat01-…Zz9k",
        expires_at=1_750_028_800.0,
        refresh=RefreshState.FAILED,
        refresh_message="invalid_grant",
        refreshed_at=1_749_999_000.5,
        derived_key="sk-ant-api03-…AAAA",
        derived_key_in_use=True,
        read_only=False,
        retry_at=1_750_000_120.0,
    ),
    TokenStateChanged(
        "claude-code",
        "claude-code",
        (),
        "…abcd",
        None,
        RefreshState.IDLE,
        "",
        None,
        "",
        False,
        True,
    ),
    Notice(Level.WARNING, "config reloaded with 1 warning", 1_750_000_001.0),
    ConnectionChanged("http://127.0.0.1:13456", False, "connection refused", 2.0),
    ConnectionChanged("http://127.0.0.1:13456", True, "", None),
    RateLimitsObserved(
        "claude-max",
        "claude-max",
        1_750_000_002.0,
        429,
        RateLimits(
            status="rejected",
            reset=1_750_018_000.0,
            representative_claim="five_hour",
            fallback_percentage=0.5,
            overage_status="rejected",
            overage_disabled_reason="org_level_disabled",
            windows=(Window("5h", 1.0, 1_750_018_000.0, "rejected"), Window("7d", 0.31)),
            buckets=(Bucket("requests", 50, 0, 1_750_000_060.0),),
            extra=(("anthropic-ratelimit-unified-upgrade-paths", "overage"),),
        ),
    ),
    SnapshotLoaded(1_750_000_002.0),
]


def test_samples_cover_every_event_type():
    assert {type(e).__name__ for e in SAMPLES} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_event_round_trips_through_a_dict_equal(event):
    data = event_to_dict(event)
    assert data["type"] == type(event).__name__
    assert event_from_dict(data) == event


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_event_round_trips_through_orjson_equal_with_the_same_types(event):
    back = event_from_dict(orjson.loads(orjson.dumps(event_to_dict(event))))
    assert back == event
    for f in dataclasses.fields(event):
        assert type(getattr(back, f.name)) is type(getattr(event, f.name)), f.name


def test_event_dict_holds_plain_json_values():
    data = event_to_dict(SAMPLES[6])  # RequestFinished with blocks
    assert data["outcome"] == "ok"
    assert data["blocks"][2] == {"kind": "tool_use", "name": "Bash", "text": '{"command": "ls"}'}
    started = event_to_dict(SAMPLES[0])
    assert started["headers"] == [
        ["anthropic-version", "2023-06-01"],
        ["x-api-key", "sk-ant-api03-…x7Qd"],
    ]


def test_unknown_fields_from_a_newer_proxy_are_ignored():
    data = event_to_dict(SAMPLES[2]) | {"added_in_v2": {"x": 1}, "priority": 5}
    assert event_from_dict(data) == SAMPLES[2]


def test_a_token_event_from_a_proxy_without_retry_at_decodes_with_no_retry():
    failed = next(e for e in SAMPLES if isinstance(e, TokenStateChanged))
    data = event_to_dict(failed)
    del data["retry_at"]
    assert event_from_dict(data) == dataclasses.replace(failed, retry_at=None)


def test_unknown_fields_inside_nested_blocks_are_ignored():
    data = event_to_dict(SAMPLES[5])
    data["blocks"][0]["colour"] = "blue"
    assert event_from_dict(data) == SAMPLES[5]


def test_integer_json_values_for_float_fields_come_back_as_floats():
    data = event_to_dict(ResponseStarted("r", 1, "p", 200, 120.0))
    data["ttfb_ms"] = 120
    event = event_from_dict(data)
    assert isinstance(event, ResponseStarted)
    assert event.ttfb_ms == 120.0
    assert isinstance(event.ttfb_ms, float)


def test_unknown_event_type_is_refused():
    with pytest.raises(ValueError, match="FutureEvent"):
        event_from_dict({"type": "FutureEvent", "x": 1})


# --- the bus --------------------------------------------------------------------------------


def test_listeners_are_called_synchronously_in_order():
    bus = EventBus()
    calls: list[tuple[str, Event]] = []
    bus.add_listener(lambda e: calls.append(("first", e)))
    bus.add_listener(lambda e: calls.append(("second", e)))

    bus.publish(SAMPLES[0])
    assert calls == [("first", SAMPLES[0]), ("second", SAMPLES[0])]
    bus.publish(SAMPLES[1])
    assert calls[2:] == [("first", SAMPLES[1]), ("second", SAMPLES[1])]


def test_listeners_see_an_event_before_any_subscription_holds_it():
    bus = EventBus()
    sub = bus.subscribe()
    queued_when_called: list[int] = []
    bus.add_listener(lambda e: queued_when_called.append(len(sub.drain())))
    bus.publish(SAMPLES[0])
    assert queued_when_called == [0]
    assert sub.drain() == [SAMPLES[0]]


def test_subscription_receives_events_in_order():
    bus = EventBus()
    sub = bus.subscribe()
    for event in SAMPLES:
        bus.publish(event)
    assert sub.drain() == SAMPLES
    assert sub.drain() == []


def test_full_subscription_drops_the_oldest_and_counts():
    bus = EventBus()
    sub = bus.subscribe(maxsize=3)
    for event in SAMPLES[:5]:
        bus.publish(event)
    assert sub.drain() == SAMPLES[2:5]
    assert sub.dropped == 2
    assert bus.dropped == 2


def test_slow_subscription_does_not_affect_another():
    bus = EventBus()
    slow = bus.subscribe(maxsize=1)
    fast = bus.subscribe(maxsize=100)
    for event in SAMPLES[:4]:
        bus.publish(event)
    assert fast.drain() == SAMPLES[:4]
    assert fast.dropped == 0
    assert slow.drain() == [SAMPLES[3]]
    assert slow.dropped == 3


def test_dropped_includes_closed_subscriptions():
    bus = EventBus()
    left = bus.subscribe(maxsize=1)
    bus.subscribe(maxsize=2)  # stays
    for event in SAMPLES[:4]:
        bus.publish(event)
    assert bus.dropped == 3 + 2
    left.close()
    assert bus.dropped == 5
    bus.publish(SAMPLES[4])
    assert bus.dropped == 5 + 1  # `stays` drops one more; `left` no longer receives
    assert left.drain() == [SAMPLES[3]]


def test_closing_twice_does_not_count_twice():
    bus = EventBus()
    sub = bus.subscribe(maxsize=1)
    bus.publish(SAMPLES[0])
    bus.publish(SAMPLES[1])
    sub.close()
    sub.close()
    assert bus.dropped == 1


def test_publish_is_plain_synchronous_and_returns_with_every_queue_full():
    assert not inspect.iscoroutinefunction(EventBus.publish)
    bus = EventBus()
    subs = [bus.subscribe(maxsize=10) for _ in range(3)]
    for i in range(20_000):
        bus.publish(SAMPLES[i % len(SAMPLES)])
    assert [len(s.drain()) for s in subs] == [10, 10, 10]
    assert bus.dropped == 3 * (20_000 - 10)


async def test_get_batch_wakes_when_an_event_is_published():
    bus = EventBus()
    sub = bus.subscribe()
    waiter = asyncio.create_task(sub.get_batch())
    await asyncio.sleep(0)  # let it start waiting
    assert not waiter.done()

    bus.publish(SAMPLES[0])
    bus.publish(SAMPLES[1])

    async with asyncio.timeout(1):
        batch = await waiter
    assert batch == SAMPLES[:2]


async def test_get_batch_returns_at_once_what_is_already_queued():
    bus = EventBus()
    sub = bus.subscribe()
    bus.publish(SAMPLES[0])
    async with asyncio.timeout(1):
        assert await sub.get_batch() == [SAMPLES[0]]
    waiter = asyncio.create_task(sub.get_batch())
    await asyncio.sleep(0)
    assert not waiter.done()  # drained: the next call waits again
    bus.publish(SAMPLES[3])
    async with asyncio.timeout(1):
        assert await waiter == [SAMPLES[3]]
