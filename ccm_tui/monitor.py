"""MonitorState: the picture of the proxy that the TUI draws and `/_ccm/state` serves.

It is built only by folding events, with the times the events carry (never a clock of
its own), and its snapshot holds everything the fold reads: a remote watcher
(`ccm-tui attach`) that starts from a snapshot and folds the same events sees the same
picture, by construction.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ccm_tui.codec import decoder, encoder, wire
from ccm_tui.events import (
    AttemptFailed,
    AttemptStarted,
    AuthMode,
    BlockView,
    BreakerState,
    Event,
    Failure,
    Notice,
    ProviderCountersReset,
    ProviderStateChanged,
    RateLimitsObserved,
    RequestFinished,
    RequestStarted,
    ResponseStarted,
    StreamProgressed,
    TokenStateChanged,
)
from ccm_tui.pricing import DEFAULT_TABLE, PriceTable
from ccm_tui.usage import UsageState

RATE_WINDOWS = (60.0, 300.0)


@dataclass(slots=True)
class AttemptView:
    attempt: int
    provider: str
    actual_model: str
    auth: AuthMode
    failure: Failure | None = None  # None while in flight; OK once it answered
    status: int | None = None
    message: str = ""
    retry_after_s: float | None = None
    duration_ms: float | None = None

    @property
    def mark(self) -> str:
        """`✗529` (or `✗timeout` where no status came back) for a failed attempt, else ""."""
        if self.failure is None or self.failure is Failure.OK:
            return ""
        return f"✗{self.status or self.failure.value}"


@dataclass(slots=True)
class RequestView:
    request_id: str
    at: float
    method: str
    path: str
    requested_model: str
    routed_model: str
    route_reason: str
    stream: bool
    message_count: int
    tool_count: int
    user_agent: str
    headers: tuple[tuple[str, str], ...]
    attempts: list[AttemptView] = field(default_factory=list)
    provider: str = ""
    actual_model: str = ""
    status: int | None = None
    outcome: Failure | None = None  # None while in flight
    ttfb_ms: float | None = None
    duration_ms: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    stop_reason: str = ""
    error_message: str = ""
    blocks: tuple[BlockView, ...] = ()

    @property
    def finished(self) -> bool:
        return self.outcome is not None

    @property
    def streaming(self) -> bool:
        return self.ttfb_ms is not None and self.outcome is None


@dataclass(slots=True)
class ProviderStats:
    name: str
    enabled: bool = True
    auth: AuthMode = AuthMode.APIKEY
    breaker: BreakerState = field(default=BreakerState.CLOSED, metadata=wire("breaker", "state"))
    breaker_until: float | None = field(default=None, metadata=wire("breaker", "until"))
    consecutive_failures: int = 0
    requests: int = 0
    successes: int = 0
    in_flight: int = 0
    counts: dict[Failure, int] = field(default_factory=dict)
    last_error: str = ""
    last_error_at: float | None = None
    # [second, attempts, failed] per second over the longest rate window: bounded at any rate
    recent: deque[list[int]] = field(default_factory=deque)

    @property
    def failures(self) -> int:
        return sum(n for f, n in self.counts.items() if f.counts_against_provider)

    def note_outcome(self, at: float, failed: bool) -> None:
        second = int(at)
        if self.recent and self.recent[-1][0] == second:
            bucket = self.recent[-1]
        else:
            bucket = [second, 0, 0]
            self.recent.append(bucket)
            horizon = second - int(RATE_WINDOWS[-1])
            while self.recent and self.recent[0][0] <= horizon:
                self.recent.popleft()
        bucket[1] += 1
        bucket[2] += failed

    def error_rate(self, window_s: float, now: float) -> float | None:
        """Share of attempts in the window that failed; None when there were none."""
        since = int(now - window_s)
        total = failed = 0
        for second, attempts, failures in self.recent:
            if second > since:
                total += attempts
                failed += failures
        return failed / total if total else None


@dataclass(frozen=True, slots=True)
class ProxyInstance:
    """Which run of a proxy a picture belongs to: a restarted proxy starts a new history."""

    id: str
    started_at: float  # wall clock, epoch seconds
    keeps_history: bool = False  # its requests survive a restart ([history])

    @classmethod
    def new(cls, now: float, keeps_history: bool = False) -> ProxyInstance:
        return cls(secrets.token_hex(8), now, keeps_history)


class MonitorState:
    def __init__(
        self,
        history: int = 1000,
        clock: Callable[[], float] = time.time,
        instance: ProxyInstance | None = None,
        prices: PriceTable = DEFAULT_TABLE,
    ) -> None:
        self.history = history
        self.clock = clock  # only for what a snapshot says about "now"; the fold never reads it
        self.instance = instance or ProxyInstance.new(clock())
        self.total_requests = 0  # seen since the proxy started, not only those still kept
        self.requests: OrderedDict[str, RequestView] = OrderedDict()
        self.providers: dict[str, ProviderStats] = {}
        self.tokens: dict[str, TokenStateChanged] = {}
        self.notices: deque[Notice] = deque(maxlen=50)
        self.dropped_events = 0
        self.evicted: list[str] = []  # request ids dropped from the ring since last asked
        # Kept as they change, so a screen can show them each frame without a scan.
        # Requests in flight, each with the provider of its open attempt (None between
        # attempts). Kept after a request leaves the ring, so its end still closes that
        # attempt in the provider's counters.
        self.live: dict[str, str | None] = {}
        # [second, requests started in it], the last minute: bounded at any rate
        self.started: deque[list[int]] = deque()
        # Tokens, money and rate-limit windows: folded from the same events.
        self.usage = UsageState(prices)

    def request_rate(self, window_s: float, now: float) -> float:
        """Requests started per second over the last `window_s` seconds (at most 60)."""
        since = now - window_s
        count = 0
        for second, started in reversed(self.started):
            if second < since:
                break
            count += started
        return count / window_s

    def _note_start(self, at: float) -> None:
        second = int(at)
        if self.started and self.started[-1][0] == second:
            self.started[-1][1] += 1
            return
        self.started.append([second, 1])
        while self.started[0][0] < second - 60:
            self.started.popleft()

    def provider(self, name: str) -> ProviderStats:
        stats = self.providers.get(name)
        if stats is None:
            stats = self.providers[name] = ProviderStats(name)
        return stats

    def take_evicted(self) -> list[str]:
        evicted, self.evicted = self.evicted, []
        return evicted

    # folding ----------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)
        if type(event) in _USAGE_EVENTS:
            self.usage.apply(event)

    def restore(self, finished: list[RequestView]) -> None:
        """Starts the ring with requests from before this process (history), newest
        first as the reader gives them; those folded since stay the newest."""
        older = OrderedDict((r.request_id, r) for r in reversed(finished[: self.history]))
        for rid in self.requests:
            older.pop(rid, None)
        older.update(self.requests)
        self.requests = older
        while len(self.requests) > self.history:
            self.requests.popitem(last=False)

    def _request_started(self, e: RequestStarted) -> None:
        self.requests[e.request_id] = RequestView(
            e.request_id, e.at, e.method, e.path, e.requested_model, e.routed_model,
            e.route_reason, e.stream, e.message_count, e.tool_count, e.user_agent, e.headers,
        )  # fmt: skip
        self.live[e.request_id] = None
        self.total_requests += 1
        self._note_start(e.at)
        while len(self.requests) > self.history:
            old_id, _ = self.requests.popitem(last=False)
            self.evicted.append(old_id)
        # Nobody may be asking (`serve` has no screen): keep only the newest ids, or the list
        # would grow by one id per request forever. A reader that falls this far behind
        # trims its own rows to `history` anyway.
        if len(self.evicted) > 2 * self.history:
            del self.evicted[: -self.history]

    def _attempt_started(self, e: AttemptStarted) -> None:
        request = self.requests.get(e.request_id)
        if request is not None:
            request.attempts.append(AttemptView(e.attempt, e.provider, e.actual_model, e.auth))
            request.provider = e.provider
            request.actual_model = e.actual_model
        if e.request_id in self.live:
            self.live[e.request_id] = e.provider
        stats = self.provider(e.provider)
        stats.requests += 1
        stats.in_flight += 1

    def _finish_attempt(self, provider: str, failure: Failure, message: str, at: float) -> None:
        stats = self.provider(provider)
        stats.in_flight = max(0, stats.in_flight - 1)
        stats.counts[failure] = stats.counts.get(failure, 0) + 1
        if failure is Failure.OK:
            stats.successes += 1
        elif failure.counts_against_provider:
            stats.last_error = message
            stats.last_error_at = at
        if failure is Failure.OK or failure.counts_against_provider:
            stats.note_outcome(at, failure is not Failure.OK)

    def _attempt_failed(self, e: AttemptFailed) -> None:
        request = self.requests.get(e.request_id)
        if request is not None:
            for attempt in request.attempts:
                if attempt.attempt == e.attempt:
                    attempt.failure = e.failure
                    attempt.status = e.status
                    attempt.message = e.message
                    attempt.retry_after_s = e.retry_after_s
                    attempt.duration_ms = e.duration_ms
        if self.live.get(e.request_id) == e.provider:
            self.live[e.request_id] = None
        self._finish_attempt(e.provider, e.failure, f"{e.failure.value}: {e.message}", e.at)

    def _response_started(self, e: ResponseStarted) -> None:
        request = self.requests.get(e.request_id)
        if request is not None:
            request.ttfb_ms = e.ttfb_ms
            request.status = e.status
            for attempt in request.attempts:
                if attempt.attempt == e.attempt:
                    attempt.status = e.status

    def _stream_progressed(self, e: StreamProgressed) -> None:
        request = self.requests.get(e.request_id)
        if request is not None:
            request.input_tokens = e.input_tokens
            request.output_tokens = e.output_tokens
            request.blocks = e.blocks

    def _request_finished(self, e: RequestFinished) -> None:
        open_attempt = self.live.pop(e.request_id, None)
        request = self.requests.get(e.request_id)
        if request is None:  # gone from the ring while in flight
            if open_attempt is not None:
                self._finish_attempt(open_attempt, e.outcome, e.error_message, e.at)
            return
        request.status = e.status
        request.outcome = e.outcome
        request.provider = e.provider or request.provider
        request.actual_model = e.actual_model or request.actual_model
        request.input_tokens = e.input_tokens
        request.output_tokens = e.output_tokens
        request.cache_read_tokens = e.cache_read_tokens
        request.cache_creation_tokens = e.cache_creation_tokens
        request.stop_reason = e.stop_reason
        request.duration_ms = e.duration_ms
        request.error_message = e.error_message
        if e.blocks:
            request.blocks = e.blocks
        # The attempt that answered (or was cut off mid-stream) ends with the request.
        last = request.attempts[-1] if request.attempts else None
        if last is not None and last.failure is None:
            last.failure = e.outcome
            last.status = e.status
            last.message = e.error_message
            last.duration_ms = e.duration_ms
            self._finish_attempt(last.provider, e.outcome, e.error_message, e.at)

    def _provider_state(self, e: ProviderStateChanged) -> None:
        stats = self.provider(e.provider)
        stats.enabled = e.enabled
        stats.breaker = e.breaker
        stats.breaker_until = e.breaker_until
        stats.consecutive_failures = e.consecutive_failures
        stats.auth = e.auth

    def _counters_reset(self, e: ProviderCountersReset) -> None:
        old = self.provider(e.provider)
        fresh = ProviderStats(e.provider, old.enabled, old.auth, old.breaker, old.breaker_until)
        fresh.in_flight = old.in_flight
        self.providers[e.provider] = fresh

    def _token_state(self, e: TokenStateChanged) -> None:
        self.tokens[e.token_id] = e

    def _notice(self, e: Notice) -> None:
        self.notices.append(e)

    def replace_with(self, other: MonitorState) -> None:
        """Takes another state's contents in place, so holders of this object see them."""
        self.instance = other.instance
        self.total_requests = other.total_requests
        self.requests = other.requests
        self.providers = other.providers
        self.tokens = other.tokens
        self.notices = other.notices
        self.dropped_events = other.dropped_events
        self.evicted = []
        self.live = other.live
        self.started = other.started
        self.usage = other.usage

    # snapshots ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready picture; everything in it is already masked."""
        now = self.clock()
        data = _encode_snapshot(
            Snapshot(
                now, self.instance, self.total_requests, self.providers,
                list(reversed(self.requests.values())), self.live, self.started,
                list(self.tokens.values()), self.notices, self.dropped_events,
            )
        )  # fmt: skip
        for name, provider in data["providers"].items():  # for readers that do not fold
            stats = self.providers[name]
            provider["failures"] = stats.failures
            provider["error_rate_1m"] = stats.error_rate(60, now)
            provider["error_rate_5m"] = stats.error_rate(300, now)
        data["usage"] = self.usage.snapshot()
        return data

    @classmethod
    def from_snapshot(
        cls, data: dict[str, Any], history: int = 1000, clock: Callable[[], float] = time.time
    ) -> MonitorState:
        snapshot: Snapshot = _decode_snapshot(data)
        state = cls(history, clock, snapshot.instance)
        state.total_requests = snapshot.total_requests
        state.providers = snapshot.providers
        kept = snapshot.requests[:history]  # newest first
        state.requests = OrderedDict((r.request_id, r) for r in reversed(kept))
        state.live = snapshot.live
        state.started = snapshot.started
        state.tokens = {t.token_id: t for t in snapshot.tokens}
        state.notices.extend(snapshot.notices)
        state.dropped_events = snapshot.dropped_events
        state.usage = UsageState.from_snapshot(data.get("usage") or {})
        return state


@dataclass(slots=True)
class Snapshot:
    """What `/_ccm/state` sends: everything the fold reads, so folding goes on from it."""

    at: float  # when it was taken
    instance: ProxyInstance
    total_requests: int
    providers: dict[str, ProviderStats]
    requests: list[RequestView]  # newest first
    live: dict[str, str | None]
    started: deque[list[int]]
    tokens: list[TokenStateChanged]
    notices: deque[Notice]
    dropped_events: int = 0


_encode_snapshot = encoder(Snapshot)
_decode_snapshot = decoder(Snapshot)


_USAGE_EVENTS = frozenset({RequestStarted, AttemptStarted, RequestFinished, RateLimitsObserved})

_HANDLERS: dict[type, Callable[[MonitorState, Any], None]] = {
    RequestStarted: MonitorState._request_started,
    AttemptStarted: MonitorState._attempt_started,
    AttemptFailed: MonitorState._attempt_failed,
    ResponseStarted: MonitorState._response_started,
    StreamProgressed: MonitorState._stream_progressed,
    RequestFinished: MonitorState._request_finished,
    ProviderStateChanged: MonitorState._provider_state,
    ProviderCountersReset: MonitorState._counters_reset,
    TokenStateChanged: MonitorState._token_state,
    Notice: MonitorState._notice,
}
