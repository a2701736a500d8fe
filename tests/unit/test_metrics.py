"""metrics.py: events become Prometheus metrics, scraped and parsed by prometheus_client."""

from __future__ import annotations

from prometheus_client import REGISTRY

from ccm_tui.events import (
    AttemptFailed,
    AttemptStarted,
    AuthMode,
    BreakerState,
    Failure,
    ProviderStateChanged,
    RateLimitsObserved,
    RefreshState,
    RequestFinished,
    RequestStarted,
    ResponseStarted,
    TokenStateChanged,
)
from ccm_tui.metrics import Metrics
from ccm_tui.monitor import MonitorState
from ccm_tui.ratelimits import parse_rate_limits
from ccm_tui.usage import UsageState

from support import Clock, scrape

NOW = 1_788_000_000.0


def started(rid: str, path: str = "/v1/messages") -> RequestStarted:
    return RequestStarted(rid, NOW, "POST", path, "sonnet", "sonnet", "default", True, 1, 0, "", ())


def finished(rid: str, provider: str, outcome: Failure = Failure.OK, tokens=(100, 20, 300, 4)):
    return RequestFinished(
        rid, 200 if outcome is Failure.OK else 502, outcome, provider, "claude-sonnet-4-5",
        *tokens, "end_turn", 1234.0, "", NOW + 1.234,
    )  # fmt: skip


class Proxy:
    """The folding a proxy does, with metrics added as one more listener."""

    def __init__(self) -> None:
        self.clock = Clock(NOW)
        self.state = MonitorState(clock=self.clock)
        self.usage = UsageState()
        self.metrics = Metrics(self.state, self.usage, self.clock)

    def publish(self, *events) -> None:
        for event in events:
            self.state.apply(event)
            self.usage.apply(event)
            self.metrics.apply(event)

    def scrape(self) -> dict[str, dict[tuple, float]]:
        body, content_type = self.metrics.render()
        assert content_type.startswith("text/plain")
        return scrape(body)


def labels(**kv: str) -> tuple:
    return tuple(sorted(kv.items()))


def test_requests_and_attempts_are_counted_by_provider_and_class():
    p = Proxy()
    p.publish(
        started("a"),
        AttemptStarted("a", 1, "primary", "m", AuthMode.APIKEY, NOW),
        AttemptFailed("a", 1, "primary", Failure.OVERLOADED, 529, "Overloaded", None, 5.0, NOW),
        AttemptStarted("a", 2, "secondary", "m", AuthMode.APIKEY, NOW),
        ResponseStarted("a", 2, "secondary", 200, 120.0),
        finished("a", "secondary"),
        started("b"),
        finished("b", "", Failure.SERVER_ERROR, (0, 0, 0, 0)),
    )
    m = p.scrape()
    assert m["ccm_requests_total"] == {
        labels(provider="secondary", outcome="ok"): 1,
        labels(provider="none", outcome="server_error"): 1,
    }
    assert m["ccm_attempts_total"] == {
        labels(provider="primary", **{"class": "overloaded"}): 1,
        labels(provider="secondary", **{"class": "ok"}): 1,
    }


def test_a_client_error_attempt_is_counted_once():
    p = Proxy()
    p.publish(
        started("a"),
        AttemptStarted("a", 1, "primary", "m", AuthMode.APIKEY, NOW),
        AttemptFailed("a", 1, "primary", Failure.CLIENT_ERROR, 400, "bad", None, 5.0, NOW),
        finished("a", "primary", Failure.CLIENT_ERROR, (0, 0, 0, 0)),
    )
    assert p.scrape()["ccm_attempts_total"] == {
        labels(provider="primary", **{"class": "client_error"}): 1
    }


def test_latency_and_ttfb_land_in_histograms():
    p = Proxy()
    p.publish(
        started("a"),
        AttemptStarted("a", 1, "primary", "m", AuthMode.APIKEY, NOW),
        ResponseStarted("a", 1, "primary", 200, 80.0),
        finished("a", "primary"),
    )
    m = p.scrape()
    assert m["ccm_ttfb_seconds_count"] == {labels(provider="primary"): 1}
    assert m["ccm_ttfb_seconds_sum"] == {labels(provider="primary"): 0.08}
    assert m["ccm_ttfb_seconds_bucket"][labels(provider="primary", le="0.05")] == 0
    assert m["ccm_ttfb_seconds_bucket"][labels(provider="primary", le="0.1")] == 1
    assert m["ccm_request_duration_seconds_sum"] == {labels(provider="primary"): 1.234}


def test_tokens_are_counted_by_kind_without_count_tokens():
    p = Proxy()
    p.publish(
        started("a"),
        AttemptStarted("a", 1, "primary", "m", AuthMode.APIKEY, NOW),
        finished("a", "primary", tokens=(100, 20, 300, 4)),
        started("c", "/v1/messages/count_tokens"),
        AttemptStarted("c", 1, "primary", "m", AuthMode.APIKEY, NOW),
        finished("c", "primary", tokens=(9999, 0, 0, 0)),
    )
    tokens = p.scrape()["ccm_tokens_total"]
    base = {"provider": "primary", "model": "claude-sonnet-4-5"}
    assert tokens == {
        labels(**base, kind="input"): 100,
        labels(**base, kind="output"): 20,
        labels(**base, kind="cache_read"): 300,
        labels(**base, kind="cache_write"): 4,
    }


def test_breaker_states_are_one_hot_per_provider():
    p = Proxy()
    p.publish(ProviderStateChanged("primary", True, BreakerState.OPEN, NOW + 30, 5, AuthMode.OAUTH))
    m = p.scrape()
    assert m["ccm_breaker_state"] == {
        labels(provider="primary", state="closed"): 0,
        labels(provider="primary", state="open"): 1,
        labels(provider="primary", state="half_open"): 0,
    }
    assert m["ccm_provider_enabled"] == {labels(provider="primary"): 1}


def test_windows_and_resets_are_read_at_scrape_time():
    limits = parse_rate_limits(
        [
            ("anthropic-ratelimit-unified-status", "allowed_warning"),
            ("anthropic-ratelimit-unified-5h-utilization", "0.42"),
            ("anthropic-ratelimit-unified-5h-reset", str(int(NOW + 600))),
            ("anthropic-ratelimit-requests-remaining", "49"),
            ("anthropic-ratelimit-requests-limit", "50"),
            ("anthropic-ratelimit-requests-reset", "2026-08-29T10:41:00Z"),
        ]
    )
    assert limits is not None
    p = Proxy()
    p.publish(RateLimitsObserved("claude-max", "claude-max", NOW, 200, limits))
    who = {"provider": "claude-max", "credential": "claude-max"}
    m = p.scrape()
    assert m["ccm_ratelimit_utilization"] == {labels(**who, window="5h"): 0.42}
    assert m["ccm_ratelimit_reset_seconds"] == {labels(**who, window="5h"): 600}
    assert m["ccm_ratelimit_status"][labels(**who, status="allowed_warning")] == 1
    assert m["ccm_ratelimit_status"][labels(**who, status="rejected")] == 0
    assert m["ccm_ratelimit_remaining"] == {labels(**who, bucket="requests"): 49}
    assert m["ccm_ratelimit_limit"] == {labels(**who, bucket="requests"): 50}
    assert m["ccm_ratelimit_bucket_reset_seconds"] == {labels(**who, bucket="requests"): 60}
    p.clock.now += 100
    assert p.scrape()["ccm_ratelimit_reset_seconds"] == {labels(**who, window="5h"): 500}


def test_token_expiry_counts_down_between_scrapes():
    p = Proxy()
    p.publish(
        TokenStateChanged(
            "claude-max", "store", ("claude-max",), "sk-ant-oat01-…abcd", NOW + 3600,
            RefreshState.OK, "", NOW - 10, "", False, False,
        )
    )  # fmt: skip
    assert p.scrape()["ccm_token_expiry_seconds"] == {
        labels(token="claude-max", source="store"): 3600
    }
    p.clock.now += 3700
    assert p.scrape()["ccm_token_expiry_seconds"] == {
        labels(token="claude-max", source="store"): -100
    }


def test_openmetrics_is_served_when_asked_for():
    body, content_type = Proxy().metrics.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith(b"# EOF")


def test_each_metrics_has_its_own_registry_never_the_global_one():
    first, second = Proxy(), Proxy()
    first.publish(started("a"), finished("a", "p"))
    assert "ccm_requests_total" not in second.scrape()
    assert (
        REGISTRY.get_sample_value("ccm_requests_total", {"provider": "p", "outcome": "ok"}) is None
    )
