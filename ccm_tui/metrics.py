"""`/metrics`: the proxy in Prometheus' text format, fed by the same events as everything else.

Counters and histograms are folded from events as they pass. The gauges (breakers,
windows, token expiry) are read from the monitor and usage state at scrape time, so a
countdown is current whenever Prometheus asks. The registry is this object's own, never
the library's global one: two proxies in one process (the tests) stay apart.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from ccm_tui.events import (
    AttemptFailed,
    AttemptStarted,
    BreakerState,
    Event,
    RequestFinished,
    RequestStarted,
    ResponseStarted,
)
from ccm_tui.monitor import MonitorState
from ccm_tui.ratelimits import ALLOWED, ALLOWED_WARNING, REJECTED
from ccm_tui.usage import UsageState

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
TTFB_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)
MAX_OPEN = 10_000
NO_PROVIDER = "none"  # the label of requests no provider answered


class Metrics:
    """Feed it every event (`apply`, a bus listener); `render` answers a scrape."""

    def __init__(
        self, state: MonitorState, usage: UsageState, clock: Callable[[], float] = time.time
    ) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self._requests = Counter(
            "ccm_requests", "Requests finished, by the provider that answered and how they ended",
            ["provider", "outcome"], registry=r,
        )  # fmt: skip
        self._attempts = Counter(
            "ccm_attempts", "Attempts at a provider, by how each ended (its failure class)",
            ["provider", "class"], registry=r,
        )  # fmt: skip
        self._latency = Histogram(
            "ccm_request_duration_seconds", "Time from a request's arrival to its last byte",
            ["provider"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self._ttfb = Histogram(
            "ccm_ttfb_seconds", "Time from a request's arrival to the first byte of its answer",
            ["provider"], buckets=TTFB_BUCKETS, registry=r,
        )  # fmt: skip
        self._tokens = Counter(
            "ccm_tokens", "Tokens the upstream reported, by kind (count_tokens excluded)",
            ["provider", "model", "kind"], registry=r,
        )  # fmt: skip
        r.register(_StateCollector(state, usage, clock))
        # Requests in flight: whether it is billable, and the provider of its open attempt.
        self._open: OrderedDict[str, list[Any]] = OrderedDict()
        self._children: dict[tuple[Any, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        """A labelled child, cached: `labels()` takes a lock and builds a key each time."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def apply(self, event: Event) -> None:
        if isinstance(event, RequestStarted):
            self._open[event.request_id] = [not event.path.endswith("/count_tokens"), None]
            if len(self._open) > MAX_OPEN:
                self._open.popitem(last=False)
        elif isinstance(event, AttemptStarted):
            request = self._open.get(event.request_id)
            if request is not None:
                request[1] = event.provider
        elif isinstance(event, AttemptFailed):
            self._child(self._attempts, event.provider, event.failure.value).inc()
            request = self._open.get(event.request_id)
            if request is not None and request[1] == event.provider:
                request[1] = None
        elif isinstance(event, ResponseStarted):
            self._child(self._ttfb, event.provider).observe(event.ttfb_ms / 1000)
        elif isinstance(event, RequestFinished):
            self._finished(event)

    def _finished(self, e: RequestFinished) -> None:
        billable, open_attempt = self._open.pop(e.request_id, (True, None))
        provider = e.provider or NO_PROVIDER
        self._child(self._requests, provider, e.outcome.value).inc()
        self._child(self._latency, provider).observe(e.duration_ms / 1000)
        if open_attempt is not None:  # the attempt that answered ends with the request
            self._child(self._attempts, open_attempt, e.outcome.value).inc()
        if not billable or not e.provider:
            return
        model = e.actual_model
        for kind, count in (
            ("input", e.input_tokens),
            ("output", e.output_tokens),
            ("cache_read", e.cache_read_tokens),
            ("cache_write", e.cache_creation_tokens),
        ):
            if count:
                self._child(self._tokens, e.provider, model, kind).inc(count)

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """The scrape's body and its content type, in the format `accept` asks for."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


_STATUSES = (ALLOWED, ALLOWED_WARNING, REJECTED)


def _gauge(name: str, documentation: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


class _StateCollector(Collector):
    """Gauges read at scrape time: what is true now, not what was true at the last event."""

    def __init__(self, state: MonitorState, usage: UsageState, clock: Callable[[], float]) -> None:
        self.state = state
        self.usage = usage
        self.clock = clock

    def describe(self) -> list[Metric]:
        return []  # gauges appear with the providers and tokens they are about

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        yield from self._providers()
        yield from self._limits(now)
        yield from self._tokens(now)

    def _providers(self) -> Iterator[Metric]:
        breaker = _gauge("ccm_breaker_state", "1 for the state each provider's breaker is in",
                         "provider", "state")  # fmt: skip
        enabled = _gauge("ccm_provider_enabled", "1 when the provider is enabled", "provider")
        in_flight = _gauge("ccm_requests_in_flight", "Attempts open at each provider", "provider")
        for name, stats in self.state.providers.items():
            for state in BreakerState:
                breaker.add_metric([name, state.value], float(stats.breaker is state))
            enabled.add_metric([name], float(stats.enabled))
            in_flight.add_metric([name], float(stats.in_flight))
        yield from (breaker, enabled, in_flight)

    def _limits(self, now: float) -> Iterator[Metric]:
        window, bucket = ("provider", "credential", "window"), ("provider", "credential", "bucket")
        utilization = _gauge(
            "ccm_ratelimit_utilization",
            "Fraction of a subscription window used, as last reported",
            *window,
        )
        reset = _gauge(
            "ccm_ratelimit_reset_seconds", "Seconds until a subscription window resets", *window
        )
        status = _gauge(
            "ccm_ratelimit_status",
            "1 for the unified status last reported",
            "provider",
            "credential",
            "status",
        )
        remaining = _gauge(
            "ccm_ratelimit_remaining", "What is left of an API key's per-minute bucket", *bucket
        )
        limit = _gauge("ccm_ratelimit_limit", "The size of an API key's per-minute bucket", *bucket)
        bucket_reset = _gauge(
            "ccm_ratelimit_bucket_reset_seconds",
            "Seconds until an API key's bucket refills",
            *bucket,
        )
        for (provider, credential), observed in self.usage.limits.items():
            limits = observed.limits
            for w in limits.windows:
                labels = [provider, credential, w.name]
                if w.utilization is not None:
                    utilization.add_metric(labels, w.utilization)
                if w.reset is not None:
                    reset.add_metric(labels, max(0.0, w.reset - now))
            if limits.status:
                for value in _STATUSES:
                    status.add_metric([provider, credential, value], float(limits.status == value))
            for b in limits.buckets:
                labels = [provider, credential, b.name]
                if b.remaining is not None:
                    remaining.add_metric(labels, float(b.remaining))
                if b.limit is not None:
                    limit.add_metric(labels, float(b.limit))
                if b.reset is not None:
                    bucket_reset.add_metric(labels, max(0.0, b.reset - now))
        yield from (utilization, reset, status, remaining, limit, bucket_reset)

    def _tokens(self, now: float) -> Iterator[Metric]:
        expiry = _gauge(
            "ccm_token_expiry_seconds",
            "Seconds until an OAuth access token expires (negative: expired)",
            "token",
            "source",
        )
        for token in self.state.tokens.values():
            if token.expires_at is not None:
                expiry.add_metric([token.token_id, token.source], token.expires_at - now)
        yield expiry
