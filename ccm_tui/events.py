"""Everything the proxy tells its watchers, and the bus that carries it.

Events are frozen dataclasses made of plain values so they can cross a process
boundary as JSON (`/_ccm/events`, `ccm-tui attach`, through `ccm_tui.codec`) and come
back equal. Each carries the wall-clock time it describes where the monitor needs one, so
folding the same events gives the same picture on any machine. Every string in an event
is already masked: no key or token ever enters one.
"""

from __future__ import annotations

import asyncio
import enum
import typing
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ccm_tui.codec import TaggedUnion
from ccm_tui.ratelimits import RateLimits


class Failure(enum.StrEnum):
    """How one attempt at one provider ended."""

    OK = "ok"
    CONNECT_ERROR = "connect_error"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    OVERLOADED = "overloaded"
    SERVER_ERROR = "server_error"
    AUTH_ERROR = "auth_error"
    OAUTH_SCOPE = "oauth_scope"
    MODEL_NOT_FOUND = "model_not_found"
    CLIENT_ERROR = "client_error"
    STREAM_ERROR = "stream_error"
    CANCELLED = "cancelled"

    @property
    def fails_over(self) -> bool:
        """Another provider may succeed where this one did not."""
        return self in _FAILS_OVER

    @property
    def counts_against_provider(self) -> bool:
        return self in _FAILS_OVER or self is Failure.STREAM_ERROR

    @property
    def opens_breaker(self) -> bool:
        # The Claude-Code-only refusal is about the client, not the provider's health:
        # it must never block Claude Code's own traffic.
        return self.counts_against_provider and self is not Failure.OAUTH_SCOPE


_FAILS_OVER = frozenset(
    {
        Failure.CONNECT_ERROR,
        Failure.TIMEOUT,
        Failure.RATE_LIMITED,
        Failure.OVERLOADED,
        Failure.SERVER_ERROR,
        Failure.AUTH_ERROR,
        Failure.OAUTH_SCOPE,
        Failure.MODEL_NOT_FOUND,
    }
)


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class AuthMode(enum.StrEnum):
    """What credential a provider sends upstream right now."""

    APIKEY = "apikey"
    PASSTHROUGH = "passthrough"
    OAUTH = "oauth"
    DERIVED_KEY = "derived_key"


class RefreshState(enum.StrEnum):
    IDLE = "idle"
    REFRESHING = "refreshing"
    OK = "ok"
    FAILED = "failed"


class Level(enum.StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class BlockView:
    """One content block of a response as far as it has streamed (text is a tail)."""

    kind: str  # text | thinking | tool_use | other
    name: str = ""  # tool name for tool_use
    text: str = ""  # text, thinking or the tool input JSON so far (tail)


# --- request lifecycle -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestStarted:
    request_id: str
    at: float  # wall clock, epoch seconds
    method: str
    path: str
    requested_model: str
    routed_model: str  # "" when routing refused the request
    route_reason: str
    stream: bool
    message_count: int
    tool_count: int
    user_agent: str
    headers: tuple[tuple[str, str], ...]  # masked


@dataclass(frozen=True, slots=True)
class AttemptStarted:
    request_id: str
    attempt: int  # 1-based
    provider: str
    actual_model: str
    auth: AuthMode
    at: float


@dataclass(frozen=True, slots=True)
class AttemptFailed:
    request_id: str
    attempt: int
    provider: str
    failure: Failure
    status: int | None
    message: str  # masked
    retry_after_s: float | None
    duration_ms: float
    at: float  # wall clock, epoch seconds: when it failed


@dataclass(frozen=True, slots=True)
class ResponseStarted:
    """The first body bytes arrived and the response was committed to the client."""

    request_id: str
    attempt: int
    provider: str
    status: int
    ttfb_ms: float


@dataclass(frozen=True, slots=True)
class StreamProgressed:
    """Sent at most every 100 ms per request; each one supersedes the last."""

    request_id: str
    input_tokens: int
    output_tokens: int  # estimated until the upstream reports usage
    blocks: tuple[BlockView, ...]


@dataclass(frozen=True, slots=True)
class RequestFinished:
    request_id: str
    status: int
    outcome: Failure  # OK, or the class of the failure the client saw
    provider: str  # "" when no provider answered
    actual_model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_creation_tokens: int
    stop_reason: str
    duration_ms: float
    error_message: str  # masked; "" on success
    at: float  # wall clock, epoch seconds: when it finished
    blocks: tuple[BlockView, ...] = ()


# --- providers, tokens, notices -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderStateChanged:
    provider: str
    enabled: bool
    breaker: BreakerState
    breaker_until: float | None  # wall clock, epoch seconds
    consecutive_failures: int
    auth: AuthMode


@dataclass(frozen=True, slots=True)
class ProviderCountersReset:
    provider: str


@dataclass(frozen=True, slots=True)
class TokenStateChanged:
    """One credential with an expiry: a store entry or Claude Code's own login."""

    token_id: str  # store key (oauth_provider) or "claude-code"
    source: str  # "store" | "claude-code"
    providers: tuple[str, ...]  # configured providers that use it
    access_token: str  # masked
    expires_at: float | None  # epoch seconds
    refresh: RefreshState
    refresh_message: str  # masked; why the last refresh failed, or ""
    refreshed_at: float | None
    derived_key: str  # masked; "" when none is stored
    derived_key_in_use: bool
    read_only: bool
    # When a refresh token the server refused is sent again (epoch seconds); None when no
    # such retry is waiting. Defaulted: snapshots and proxies from before it still decode.
    retry_at: float | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    level: Level
    message: str
    at: float
    # The control that asked for what this tells (its `ProxyControl.origin`), so the
    # monitor that asked, which has the answer already, can leave it out; "" when nobody
    # asked (an automatic switch, a refresh that failed).
    origin: str = ""


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    """`ccm-tui attach` only: whether the remote proxy is reachable, and when it is tried next."""

    url: str
    connected: bool
    message: str
    retry_in_s: float | None


@dataclass(frozen=True, slots=True)
class SnapshotLoaded:
    """The whole monitor state was replaced (attach reconnected): redraw everything."""

    at: float


@dataclass(frozen=True, slots=True)
class RateLimitsObserved:
    """An upstream answer carried rate-limit headers: the latest word on that credential."""

    provider: str
    credential: str  # masked: the token id (oauth_provider, "claude-code") or the key's tail
    at: float  # wall clock, epoch seconds
    status: int  # the HTTP status of the answer that carried them
    limits: RateLimits


Event = (
    RequestStarted
    | AttemptStarted
    | AttemptFailed
    | ResponseStarted
    | StreamProgressed
    | RequestFinished
    | ProviderStateChanged
    | ProviderCountersReset
    | TokenStateChanged
    | Notice
    | ConnectionChanged
    | SnapshotLoaded
    | RateLimitsObserved
)


# --- JSON ---------------------------------------------------------------------------------

EVENTS = TaggedUnion(typing.get_args(Event), what="event type")
EVENT_TYPES: dict[str, type] = EVENTS.types


def event_to_dict(event: Event) -> dict[str, Any]:
    """Plain JSON values, with the event's class name in `"type"`."""
    return EVENTS.encode(event)


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Rebuilds an event sent by `event_to_dict`; unknown fields (a newer proxy) are ignored."""
    return EVENTS.decode(data)  # type: ignore[no-any-return]


# --- the bus ------------------------------------------------------------------------------


@dataclass(eq=False)
class Subscription:
    """A bounded queue of events for one watcher; when full the oldest event is dropped."""

    maxsize: int
    dropped: int = 0
    _queue: deque[Event] = field(init=False)
    _waiter: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _bus: EventBus | None = None

    def __post_init__(self) -> None:
        self._queue = deque()

    def offer(self, event: Event) -> None:
        if len(self._queue) >= self.maxsize:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        self._waiter.set()

    def drain(self) -> list[Event]:
        """Everything queued, oldest first, without waiting."""
        items = list(self._queue)
        self._queue.clear()
        self._waiter.clear()
        return items

    async def get_batch(self) -> list[Event]:
        """Waits until at least one event is queued, then takes all of them."""
        while not self._queue:
            self._waiter.clear()
            await self._waiter.wait()
        return self.drain()

    def close(self) -> None:
        if self._bus is not None:
            self._bus.unsubscribe(self)


class EventBus:
    """Fan-out with bounded queues; publishing never waits.

    Listeners are called synchronously (the monitor state folds each event before any
    watcher reads it); subscriptions are queues read by tasks (the TUI, the admin SSE).
    """

    DEFAULT_QUEUE = 10_000

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._listeners: list[Callable[[Event], None]] = []
        self._dropped_by_closed = 0

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    def subscribe(self, maxsize: int = DEFAULT_QUEUE) -> Subscription:
        subscription = Subscription(maxsize=maxsize, _bus=self)
        self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
            self._dropped_by_closed += subscription.dropped

    def publish(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)
        for subscription in self._subscriptions:
            subscription.offer(event)

    @property
    def dropped(self) -> int:
        """Events lost by slow watchers since start, including watchers that left."""
        return self._dropped_by_closed + sum(s.dropped for s in self._subscriptions)
