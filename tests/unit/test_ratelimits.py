"""ratelimits.py: reading the limits an upstream answer reports, from real header sets."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from ccm_tui.events import RateLimitsObserved, event_from_dict, event_to_dict
from ccm_tui.ratelimits import RateLimits, Window, carries_rate_limits, parse_rate_limits

# A Max subscription answer to Claude Code, as captured in 2025-12 (docs/ratelimit-headers.md).
MAX_ANSWER = [
    ("date", "Thu, 18 Dec 2025 07:11:00 GMT"),
    ("content-type", "text/event-stream; charset=utf-8"),
    ("request-id", "req_011CceMbbJP7RaU8xaN7whoj"),
    ("anthropic-ratelimit-unified-5h-reset", "1765944000"),
    ("anthropic-ratelimit-unified-5h-status", "allowed"),
    ("anthropic-ratelimit-unified-5h-utilization", "0.042598363636363636"),
    ("anthropic-ratelimit-unified-7d-reset", "1766030400"),
    ("anthropic-ratelimit-unified-7d-status", "allowed"),
    ("anthropic-ratelimit-unified-7d-utilization", "0.3068459187383675"),
    ("anthropic-ratelimit-unified-fallback-percentage", "0.5"),
]

# A haiku 200 from a Max account with extra usage off (captured 2026-07-03).
EXTRA_USAGE_OFF = [
    ("anthropic-ratelimit-unified-status", "allowed"),
    ("anthropic-ratelimit-unified-5h-status", "allowed"),
    ("anthropic-ratelimit-unified-5h-reset", "1783063800"),
    ("anthropic-ratelimit-unified-5h-utilization", "0.01"),
    ("anthropic-ratelimit-unified-7d-status", "allowed"),
    ("anthropic-ratelimit-unified-7d-reset", "1783116000"),
    ("anthropic-ratelimit-unified-7d-utilization", "0.57"),
    ("anthropic-ratelimit-unified-representative-claim", "five_hour"),
    ("anthropic-ratelimit-unified-fallback-percentage", "0.5"),
    ("anthropic-ratelimit-unified-reset", "1783063800"),
    ("anthropic-ratelimit-unified-overage-disabled-reason", "org_level_disabled"),
    ("anthropic-ratelimit-unified-overage-status", "rejected"),
]

# A weekly warning with the spend cap reached (a captured full set, mixed-case name).
WEEKLY_WARNING = [
    ("Anthropic-Ratelimit-Unified-Status", "allowed_warning"),
    ("anthropic-ratelimit-unified-5h-status", "allowed"),
    ("anthropic-ratelimit-unified-5h-reset", "1788020400"),
    ("anthropic-ratelimit-unified-5h-utilization", "0.13"),
    ("anthropic-ratelimit-unified-7d-status", "allowed_warning"),
    ("anthropic-ratelimit-unified-7d-reset", "1788098400"),
    ("anthropic-ratelimit-unified-7d-utilization", "0.94"),
    ("anthropic-ratelimit-unified-7d-surpassed-threshold", "0.75"),
    ("anthropic-ratelimit-unified-overage-status", "rejected"),
    ("anthropic-ratelimit-unified-overage-reset", "1788220800"),
    ("anthropic-ratelimit-unified-overage-utilization", "1.05"),
    ("anthropic-ratelimit-unified-overage-surpassed-threshold", "1.0"),
    ("anthropic-ratelimit-unified-representative-claim", "seven_day"),
    ("anthropic-ratelimit-unified-overage-disabled-reason", "org_spend_cap_reached"),
    ("anthropic-ratelimit-unified-upgrade-paths", "overage"),
]

# A 429 that refused a subscription at its 5-hour limit.
REFUSED = [
    ("retry-after", "3600"),
    ("x-should-retry", "false"),
    ("anthropic-ratelimit-unified-status", "rejected"),
    ("anthropic-ratelimit-unified-reset", "1774220400"),
    ("anthropic-ratelimit-unified-representative-claim", "five_hour"),
    ("anthropic-ratelimit-unified-5h-status", "rejected"),
    ("anthropic-ratelimit-unified-5h-reset", "1774220400"),
    ("anthropic-ratelimit-unified-5h-utilization", "1.0"),
]

# An API-key answer: the documented per-minute buckets, resets in RFC 3339.
API_KEY_ANSWER = [
    ("anthropic-ratelimit-requests-limit", "50"),
    ("anthropic-ratelimit-requests-remaining", "49"),
    ("anthropic-ratelimit-requests-reset", "2025-10-25T12:00:00Z"),
    ("anthropic-ratelimit-tokens-limit", "50000"),
    ("anthropic-ratelimit-tokens-remaining", "49500"),
    ("anthropic-ratelimit-tokens-reset", "2025-10-25T12:01:00Z"),
    ("anthropic-ratelimit-input-tokens-limit", "40000"),
    ("anthropic-ratelimit-input-tokens-remaining", "39600"),
    ("anthropic-ratelimit-input-tokens-reset", "2025-10-25T12:01:00Z"),
    ("anthropic-ratelimit-output-tokens-limit", "8000"),
    ("anthropic-ratelimit-output-tokens-remaining", "7900"),
    ("anthropic-ratelimit-output-tokens-reset", "2025-10-25T12:00:30+00:00"),
    ("anthropic-priority-input-tokens-limit", "50000"),
    ("anthropic-priority-input-tokens-remaining", "48000"),
    ("anthropic-priority-input-tokens-reset", "2025-10-25T12:01:00Z"),
]


def test_max_answer_gives_both_windows_as_fractions_with_epoch_resets():
    limits = parse_rate_limits(MAX_ANSWER)
    assert limits is not None
    assert limits.window("5h") == Window("5h", 0.042598363636363636, 1765944000.0, "allowed")
    assert limits.window("7d") == Window("7d", 0.3068459187383675, 1766030400.0, "allowed")
    assert limits.fallback_percentage == 0.5
    assert limits.subscription
    assert limits.buckets == ()


def test_representative_claim_names_the_binding_window_not_the_fullest():
    limits = parse_rate_limits(EXTRA_USAGE_OFF)
    assert limits is not None
    assert limits.representative_claim == "five_hour"
    assert limits.claimed == limits.window("5h")
    assert limits.peak == limits.window("7d")
    assert limits.reset == 1783063800.0


def test_overage_status_and_reason_are_read_at_the_top_level():
    limits = parse_rate_limits(EXTRA_USAGE_OFF)
    assert limits is not None
    assert limits.overage_status == "rejected"
    assert limits.overage_disabled_reason == "org_level_disabled"
    assert limits.window("overage") is None


def test_warning_set_keeps_the_threshold_and_the_overage_window_apart():
    limits = parse_rate_limits(WEEKLY_WARNING)
    assert limits is not None
    assert limits.status == "allowed_warning"
    assert limits.window("7d") == Window("7d", 0.94, 1788098400.0, "allowed_warning", 0.75)
    # Extra usage is a window with no status of its own: overage-status is its status.
    assert limits.window("overage") == Window("overage", 1.05, 1788220800.0, "", 1.0)
    assert limits.overage_status == "rejected"
    assert limits.peak == limits.window("7d")


def test_windows_come_in_a_fixed_order_whatever_the_header_order():
    assert parse_rate_limits(WEEKLY_WARNING) == parse_rate_limits(list(reversed(WEEKLY_WARNING)))
    limits = parse_rate_limits(WEEKLY_WARNING)
    assert limits is not None
    assert [w.name for w in limits.windows] == ["5h", "7d", "overage"]


def test_unknown_unified_headers_are_kept_as_extra_not_windows():
    limits = parse_rate_limits(
        [
            *WEEKLY_WARNING,
            ("anthropic-ratelimit-unified-grace-status", "active"),
            ("anthropic-ratelimit-unified-slow-budget-reset", "1788220800"),
        ]
    )
    assert limits is not None
    assert [w.name for w in limits.windows] == ["5h", "7d", "overage"]
    assert dict(limits.extra) == {
        "anthropic-ratelimit-unified-grace-status": "active",
        "anthropic-ratelimit-unified-slow-budget-reset": "1788220800",
        "anthropic-ratelimit-unified-upgrade-paths": "overage",
    }


def test_a_window_anthropic_adds_later_is_read_like_the_known_ones():
    limits = parse_rate_limits(
        [
            ("anthropic-ratelimit-unified-7d_sonnet-utilization", "0.2"),
            ("anthropic-ratelimit-unified-7d_sonnet-reset", "1788098400"),
            ("anthropic-ratelimit-unified-30d-utilization", "0.01"),
        ]
    )
    assert limits is not None
    assert [w.name for w in limits.windows] == ["7d_sonnet", "30d"]
    assert limits.window("7d_sonnet") == Window("7d_sonnet", 0.2, 1788098400.0)


def test_refusal_says_until_when():
    limits = parse_rate_limits(REFUSED)
    assert limits is not None
    assert limits.status == "rejected"
    assert limits.rejected_until == 1774220400.0
    assert limits.window("5h") == Window("5h", 1.0, 1774220400.0, "rejected")


def test_refusal_without_a_top_level_reset_uses_the_claimed_window():
    headers = [h for h in REFUSED if h[0] != "anthropic-ratelimit-unified-reset"]
    limits = parse_rate_limits(headers)
    assert limits is not None
    assert limits.rejected_until == 1774220400.0


def test_an_allowed_answer_is_not_rejected_until_anything():
    limits = parse_rate_limits(EXTRA_USAGE_OFF)
    assert limits is not None
    assert limits.rejected_until is None


def test_api_key_buckets_with_rfc3339_resets():
    limits = parse_rate_limits(API_KEY_ANSWER)
    assert limits is not None
    assert not limits.subscription
    requests = limits.bucket("requests")
    assert requests is not None
    assert (requests.limit, requests.remaining, requests.reset) == (50, 49, 1761393600.0)
    assert requests.used == 0.02
    output = limits.bucket("output-tokens")
    assert output is not None
    assert output.reset == 1761393630.0
    assert [b.name for b in limits.buckets] == [
        "input-tokens",
        "output-tokens",
        "priority-input-tokens",
        "requests",
        "tokens",
    ]


def test_an_answer_without_rate_limit_headers_gives_none():
    assert parse_rate_limits([("content-type", "application/json"), ("retry-after", "5")]) is None
    assert parse_rate_limits({}) is None


def test_bytes_and_mappings_read_like_str_pairs():
    as_bytes = [(k.encode(), v.encode()) for k, v in MAX_ANSWER]
    assert parse_rate_limits(as_bytes) == parse_rate_limits(MAX_ANSWER)
    assert parse_rate_limits(dict(MAX_ANSWER)) == parse_rate_limits(MAX_ANSWER)


def test_the_last_of_a_repeated_header_wins():
    limits = parse_rate_limits(
        [
            ("anthropic-ratelimit-unified-7d-utilization", "0.10"),
            ("anthropic-ratelimit-unified-7d-utilization", "0.99"),
        ]
    )
    assert limits is not None
    window = limits.window("7d")
    assert window is not None
    assert window.utilization == 0.99


def test_unreadable_values_are_absent_not_zero():
    limits = parse_rate_limits(
        [
            ("anthropic-ratelimit-unified-status", "allowed"),
            ("anthropic-ratelimit-unified-5h-utilization", "not-a-number"),
            ("anthropic-ratelimit-unified-5h-reset", "yesterday"),
            ("anthropic-ratelimit-unified-7d-utilization", "-0.5"),
            ("anthropic-ratelimit-unified-7d-reset", "0"),
            ("anthropic-ratelimit-unified-7d-status", "<script>"),
            ("anthropic-ratelimit-requests-remaining", "12abc"),
            ("anthropic-ratelimit-unified-overage-utilization", "nan"),
        ]
    )
    assert limits is not None
    assert limits.window("5h") == Window("5h")
    assert limits.window("7d") == Window("7d")
    assert limits.window("overage") == Window("overage")
    bucket = limits.bucket("requests")
    assert bucket is not None
    assert bucket.remaining is None


def test_trailing_whitespace_does_not_spoil_a_value():
    limits = parse_rate_limits([("anthropic-ratelimit-unified-7d-utilization", "0.96 ")])
    assert limits is not None
    window = limits.window("7d")
    assert window is not None
    assert window.utilization == 0.96


def test_millisecond_resets_read_as_seconds():
    limits = parse_rate_limits([("anthropic-ratelimit-unified-5h-reset", "1765944000000")])
    assert limits is not None
    window = limits.window("5h")
    assert window is not None
    assert window.reset == 1765944000.0


def test_limits_cross_the_event_codec_unchanged():
    limits = parse_rate_limits([*WEEKLY_WARNING, *API_KEY_ANSWER])
    assert limits is not None
    event = RateLimitsObserved("claude-max", "claude-max", 1_788_000_000.0, 200, limits)
    wire = orjson.loads(orjson.dumps(event_to_dict(event)))
    assert event_from_dict(wire) == event


# -- any garbage --------------------------------------------------------------------------

_NAMES = (
    st.sampled_from(
        [
            "anthropic-ratelimit-unified-status",
            "anthropic-ratelimit-unified-reset",
            "anthropic-ratelimit-unified-5h-utilization",
            "anthropic-ratelimit-unified-5h-reset",
            "anthropic-ratelimit-unified-7d-status",
            "anthropic-ratelimit-unified-representative-claim",
            "anthropic-ratelimit-unified-fallback-percentage",
            "anthropic-ratelimit-unified-overage-status",
            "anthropic-ratelimit-unified-",
            "anthropic-ratelimit-",
            "anthropic-ratelimit-tokens-reset",
            "anthropic-ratelimit-requests-limit",
            "anthropic-priority-input-tokens-remaining",
        ]
    )
    | st.text(max_size=60).map(lambda s: "anthropic-ratelimit-unified-" + s)
    | st.text(max_size=40)
)
_VALUES = (
    st.text(max_size=50)
    | st.floats(allow_nan=True, allow_infinity=True).map(repr)
    | st.integers().map(str)
    | st.datetimes().map(lambda d: d.isoformat())
)
_ANYTHING = st.one_of(st.none(), st.integers(), st.binary(max_size=30), st.text(max_size=30))


@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=40))
def test_any_header_values_parse_to_plain_bounded_limits(headers):
    limits = parse_rate_limits(headers)
    if limits is None:
        return
    assert isinstance(limits, RateLimits)
    assert len(limits.windows) <= 16 and len(limits.buckets) <= 8 and len(limits.extra) <= 16
    for window in limits.windows:
        assert window.utilization is None or 0 <= window.utilization < 1e6
        assert window.reset is None or 1e8 <= window.reset < 1e11
    for name, value in limits.extra:
        assert len(name) <= 64 and len(value) <= 100 and value.isprintable()
    # Whatever came in, the result survives the trip through JSON.
    event = RateLimitsObserved("p", "c", 1.0, 200, limits)
    assert event_from_dict(orjson.loads(orjson.dumps(event_to_dict(event)))) == event


@given(st.lists(st.one_of(st.tuples(_ANYTHING, _ANYTHING), _ANYTHING), max_size=20))
def test_any_items_at_all_never_raise(items):
    assert parse_rate_limits(items) is None or isinstance(parse_rate_limits(items), RateLimits)


@given(st.binary(max_size=40), st.binary(max_size=40))
def test_any_bytes_never_raise(name, value):
    parse_rate_limits([(b"anthropic-ratelimit-unified-" + name, value)])
    parse_rate_limits([(b"anthropic-ratelimit-" + name, value)])


# -- what limit-aware routing reads ------------------------------------------------------------


def test_only_answers_with_limit_headers_are_parsed_on_the_hot_path():
    from multidict import CIMultiDict

    for headers in (MAX_ANSWER, EXTRA_USAGE_OFF, WEEKLY_WARNING, REFUSED, API_KEY_ANSWER):
        assert carries_rate_limits(CIMultiDict(headers))
    plain = CIMultiDict([("content-type", "application/json"), ("request-id", "req_1")])
    assert not carries_rate_limits(plain)


def test_a_window_past_the_threshold_presses_until_its_reset():
    limits = parse_rate_limits(MAX_ANSWER)
    assert limits is not None
    before_reset = 1765944000 - 60
    assert limits.pressure(0.9, before_reset) == ""  # 4 % and 31 %
    assert limits.pressure(0.3, before_reset) == "7d 31%"
    assert limits.pressure(0.3, 1766030400 + 1) == ""  # that window has reset


def test_a_warning_or_a_refusal_presses_whatever_the_threshold():
    warning, refused = parse_rate_limits(WEEKLY_WARNING), parse_rate_limits(REFUSED)
    assert warning is not None and refused is not None
    assert warning.pressure(1.0, 1788020400 - 60) == "allowed_warning"
    assert refused.pressure(1.0, 1774220400 - 60) == "rejected"
    assert refused.pressure(1.0, 1774220400 + 1) == ""  # past its reset


def test_overage_utilisation_is_not_the_plans_pressure():
    limits = parse_rate_limits([h for h in WEEKLY_WARNING if "unified-status" not in h[0].lower()])
    assert limits is not None
    assert limits.pressure(0.95, 1788020400 - 60) == ""  # overage 105 %, 7d 94 %


def test_an_api_keys_bucket_presses_once_used_past_the_threshold():
    limits = parse_rate_limits(API_KEY_ANSWER)
    assert limits is not None
    before = 1761393600.0 - 10  # 2025-10-25T12:00:00Z
    assert limits.pressure(0.5, before) == ""
    nearly_out = [(k, "10" if k.endswith("requests-remaining") else v) for k, v in API_KEY_ANSWER]
    assert parse_rate_limits(nearly_out).pressure(0.5, before) == "requests 80%"
