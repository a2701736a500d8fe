"""Tokens and money per provider, model and day, and the rate-limit windows last reported.

`UsageState` is built only by folding events, with the times the events carry: a watcher
in another process that folds the same events gets the same numbers. Queries take `now`
from the caller. API-key traffic costs money. Subscription traffic (OAuth, and passthrough
of Claude Code's own login) shows what it would have cost on API keys.
"""

from __future__ import annotations

import enum
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ccm_tui.events import (
    AttemptStarted,
    AuthMode,
    Event,
    RateLimitsObserved,
    RequestFinished,
    RequestStarted,
    event_from_dict,
    event_to_dict,
)
from ccm_tui.pricing import DEFAULT_TABLE, PriceTable, Usage

MINUTE = 60
HOUR = 3600
FIVE_HOURS = 5 * HOUR
SEVEN_DAYS = 7 * 24 * HOUR
KEEP_DAYS = 31
MAX_OPEN = 10_000  # requests in flight remembered (a finish that never comes is forgotten)

SUBSCRIPTION_AUTH = frozenset({AuthMode.OAUTH, AuthMode.PASSTHROUGH})


class Billing(enum.StrEnum):
    API = "api"  # billed per token: an API key or a derived key
    SUBSCRIPTION = "subscription"  # a Pro/Max plan: counts against its windows


def local_day(epoch: float) -> str:
    return time.strftime("%Y-%m-%d", time.localtime(epoch))


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One finished request's billable usage: what the history stores and totals add up."""

    request_id: str
    at: float  # when it finished, epoch seconds
    provider: str
    model: str
    billing: Billing
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float | None  # None: the model has no price


@dataclass(slots=True)
class Totals:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0  # API-key traffic: what it cost
    would_cost_usd: float = 0.0  # subscription traffic: what it would have cost
    unpriced: int = 0  # requests whose model has no price (their cost is not in the sums)

    @property
    def tokens(self) -> int:
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    def add(self, record: UsageRecord) -> None:
        self.requests += 1
        self.input_tokens += record.input_tokens
        self.output_tokens += record.output_tokens
        self.cache_read_tokens += record.cache_read_tokens
        self.cache_write_tokens += record.cache_write_tokens
        if record.cost_usd is None:
            self.unpriced += 1
        elif record.billing is Billing.SUBSCRIPTION:
            self.would_cost_usd += record.cost_usd
        else:
            self.cost_usd += record.cost_usd

    def merge(self, other: Totals) -> None:
        for f in _TOTALS_FIELDS:
            setattr(self, f, getattr(self, f) + getattr(other, f))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Totals:
        return cls(
            requests=int(data.get("requests", 0)),
            input_tokens=int(data.get("input_tokens", 0)),
            output_tokens=int(data.get("output_tokens", 0)),
            cache_read_tokens=int(data.get("cache_read_tokens", 0)),
            cache_write_tokens=int(data.get("cache_write_tokens", 0)),
            cost_usd=float(data.get("cost_usd", 0.0)),
            would_cost_usd=float(data.get("would_cost_usd", 0.0)),
            unpriced=int(data.get("unpriced", 0)),
        )


_TOTALS_FIELDS = tuple(f.name for f in fields(Totals))


@dataclass(frozen=True, slots=True)
class DailyUsage:
    """One row of the per-day table."""

    day: str  # YYYY-MM-DD, local time
    provider: str
    model: str
    totals: Totals


@dataclass(slots=True)
class _Open:
    """A request in flight: when it started and how each provider it tried was reached."""

    at: float
    billable: bool  # count_tokens answers are not billed
    auth: dict[str, AuthMode] = field(default_factory=dict)


class _Series:
    """Totals in fixed buckets (a minute, an hour) over a bounded span, oldest first."""

    def __init__(self, width: int, span: int) -> None:
        self.width = width
        self.span = span
        self.buckets: deque[tuple[int, Totals]] = deque()

    def add(self, record: UsageRecord) -> None:
        start = int(record.at // self.width) * self.width
        buckets = self.buckets
        if buckets and start <= buckets[-1][0] - self.span:
            return  # older than the span: already forgotten
        if not buckets or buckets[-1][0] < start:
            buckets.append((start, Totals()))
            while buckets[0][0] <= start - self.span:
                buckets.popleft()
            buckets[-1][1].add(record)
            return
        # A late finish (finish times are start plus duration): find or make its bucket.
        index = len(buckets) - 1
        while index >= 0 and buckets[index][0] > start:
            index -= 1
        if index < 0 or buckets[index][0] != start:
            index += 1
            buckets.insert(index, (start, Totals()))
        buckets[index][1].add(record)

    def since(self, start: float, now: float) -> Totals:
        """Totals of the buckets that began after `start` and by `now`."""
        total = Totals()
        for begin, totals in reversed(self.buckets):
            if begin > now:
                continue
            if begin + self.width <= start:
                break
            total.merge(totals)
        return total

    def per_bucket(self, now: float, count: int) -> list[Totals]:
        """The last `count` buckets up to `now`, oldest first, empty ones included."""
        last = int(now // self.width) * self.width
        by_start = {begin: totals for begin, totals in self.buckets}
        return [by_start.get(last - i * self.width, Totals()) for i in range(count - 1, -1, -1)]

    def snapshot(self) -> list[list[Any]]:
        return [[begin, totals.to_dict()] for begin, totals in self.buckets]

    def restore(self, rows: Iterable[Any]) -> None:
        self.buckets = deque((int(row[0]), Totals.from_dict(row[1])) for row in rows)


class UsageState:
    """Folds events into usage per provider, model and day, and the latest limits."""

    def __init__(
        self,
        prices: PriceTable = DEFAULT_TABLE,
        day_of: Callable[[float], str] = local_day,
        keep_days: int = KEEP_DAYS,
    ) -> None:
        self.prices = prices
        self.day_of = day_of
        self.keep_days = keep_days
        self.days: dict[tuple[str, str, str], Totals] = {}  # (day, provider, model)
        self.minutes: dict[str, _Series] = {}  # per provider, the last five hours
        self.hours: dict[str, _Series] = {}  # per provider, the last seven days
        self.limits: dict[tuple[str, str], RateLimitsObserved] = {}  # (provider, credential)
        self._open: OrderedDict[str, _Open] = OrderedDict()
        self.last_record: UsageRecord | None = None  # of the newest finish (history reads it)
        self._newest_day = ""
        self._day_memo = (-1, "")  # (minute, its day): days change on minute boundaries

    # -- folding ---------------------------------------------------------------------------

    def apply(self, event: Event) -> UsageRecord | None:
        """Folds one event; a finished billable request comes back as its record."""
        if isinstance(event, RequestStarted):
            self._open[event.request_id] = _Open(event.at, not event.path.endswith("/count_tokens"))
            if len(self._open) > MAX_OPEN:
                self._open.popitem(last=False)
        elif isinstance(event, AttemptStarted):
            request = self._open.get(event.request_id)
            if request is not None:
                request.auth[event.provider] = event.auth
        elif isinstance(event, RequestFinished):
            return self._finished(event)
        elif isinstance(event, RateLimitsObserved):
            self.limits[(event.provider, event.credential)] = event
        return None

    def _finished(self, e: RequestFinished) -> UsageRecord | None:
        request = self._open.pop(e.request_id, None)
        if request is None or not request.billable or not e.provider:
            return None
        auth = request.auth.get(e.provider, AuthMode.APIKEY)
        billing = Billing.SUBSCRIPTION if auth in SUBSCRIPTION_AUTH else Billing.API
        # The event has one cache-write count. Claude Code asks for the 1-hour cache on
        # subscription traffic and the 5-minute one on API keys (its TTL choice in 2.1.332):
        # price the writes by that until the answer's split reaches the event.
        one_hour = billing is Billing.SUBSCRIPTION
        usage = Usage(
            input_tokens=e.input_tokens,
            output_tokens=e.output_tokens,
            cache_read_tokens=e.cache_read_tokens,
            cache_write_5m_tokens=0 if one_hour else e.cache_creation_tokens,
            cache_write_1h_tokens=e.cache_creation_tokens if one_hour else 0,
        )
        record = UsageRecord(
            request_id=e.request_id,
            at=e.at,
            provider=e.provider,
            model=e.actual_model,
            billing=billing,
            input_tokens=e.input_tokens,
            output_tokens=e.output_tokens,
            cache_read_tokens=e.cache_read_tokens,
            cache_write_tokens=e.cache_creation_tokens,
            cost_usd=self.prices.cost(usage, e.actual_model),
        )
        self.add(record)
        self.last_record = record
        return record

    def add(self, record: UsageRecord) -> None:
        """Counts one record: in its day's row and in the rolling windows."""
        self._add_to_day(record)
        self._add_to_windows(record)

    def _day(self, at: float) -> str:
        minute = int(at // 60)
        if minute != self._day_memo[0]:
            self._day_memo = (minute, self.day_of(at))
        return self._day_memo[1]

    def _add_to_day(self, record: UsageRecord) -> None:
        day = self._day(record.at)
        key = (day, record.provider, record.model)
        totals = self.days.get(key)
        if totals is None:
            totals = self.days[key] = Totals()
        totals.add(record)
        if day > self._newest_day:
            self._newest_day = day
            self._forget_days_before(self.day_of(record.at - self.keep_days * 86400))

    def _add_to_windows(self, record: UsageRecord) -> None:
        minutes = self.minutes.get(record.provider)
        if minutes is None:
            minutes = self.minutes[record.provider] = _Series(MINUTE, FIVE_HOURS)
            self.hours[record.provider] = _Series(HOUR, SEVEN_DAYS)
        minutes.add(record)
        self.hours[record.provider].add(record)

    def _forget_days_before(self, oldest: str) -> None:
        for key in [k for k in self.days if k[0] < oldest]:
            del self.days[key]

    def load(self, daily: Iterable[DailyUsage], records: Iterable[UsageRecord]) -> None:
        """Starts from persisted history: the per-day rows as stored, and the recent
        records (the last seven days) for the rolling windows."""
        for row in daily:
            self.days[(row.day, row.provider, row.model)] = row.totals
            self._newest_day = max(self._newest_day, row.day)
        for record in records:
            self._add_to_windows(record)

    # -- queries ---------------------------------------------------------------------------

    def today(self, now: float, provider: str | None = None) -> Totals:
        day = self._day(now)
        total = Totals()
        for (d, p, _), totals in self.days.items():
            if d == day and (provider is None or p == provider):
                total.merge(totals)
        return total

    def last(self, seconds: float, now: float, provider: str | None = None) -> Totals:
        """Totals of the last `seconds` (up to seven days; to the minute within five hours,
        to the hour beyond)."""
        series = self.minutes if seconds <= FIVE_HOURS else self.hours
        total = Totals()
        for name, s in series.items():
            if provider is None or name == provider:
                total.merge(s.since(now - seconds, now))
        return total

    def five_hour_window(self, now: float, provider: str | None = None) -> Totals:
        """Totals since each provider's current 5-hour window began: from its reported
        reset where an answer gave one, else the last five hours."""
        total = Totals()
        for name, s in self.minutes.items():
            if provider is None or name == provider:
                reset = self.window_reset(name, "5h", now)
                start = reset - FIVE_HOURS if reset is not None else now - FIVE_HOURS
                total.merge(s.since(max(start, now - FIVE_HOURS), now))
        return total

    def minute_series(
        self, now: float, minutes: int = 60, provider: str | None = None
    ) -> list[int]:
        """Tokens per minute over the last `minutes` (all kinds), oldest first: a sparkline."""
        counts = [0] * minutes
        for name, s in self.minutes.items():
            if provider is None or name == provider:
                for i, totals in enumerate(s.per_bucket(now, minutes)):
                    counts[i] += totals.tokens
        return counts

    def daily(self, since_day: str = "") -> list[DailyUsage]:
        """Per-day rows from `since_day` on, newest day first."""
        rows = [DailyUsage(d, p, m, t) for (d, p, m), t in self.days.items() if d >= since_day]
        rows.sort(key=lambda r: (r.day, r.provider, r.model))
        rows.sort(key=lambda r: r.day, reverse=True)
        return rows

    def latest_limits(self, provider: str) -> RateLimitsObserved | None:
        """The newest limits any credential of the provider reported."""
        seen = [e for (p, _), e in self.limits.items() if p == provider]
        return max(seen, key=lambda e: e.at) if seen else None

    def window_reset(self, provider: str, window: str, now: float) -> float | None:
        """When the provider's window resets, if an answer said so and it is still ahead."""
        observed = self.latest_limits(provider)
        found = observed.limits.window(window) if observed is not None else None
        if found is None or found.reset is None or found.reset <= now:
            return None
        return found.reset

    # -- snapshots (attach) ----------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        return {
            "prices": self.prices.to_plain(),
            "days": [[d, p, m, t.to_dict()] for (d, p, m), t in self.days.items()],
            "minutes": {name: s.snapshot() for name, s in self.minutes.items()},
            "hours": {name: s.snapshot() for name, s in self.hours.items()},
            "limits": [event_to_dict(e) for e in self.limits.values()],
            "open": [
                [rid, o.at, o.billable, {p: a.value for p, a in o.auth.items()}]
                for rid, o in self._open.items()
            ],
        }

    @classmethod
    def from_snapshot(
        cls,
        data: dict[str, Any],
        prices: PriceTable = DEFAULT_TABLE,
        day_of: Callable[[float], str] = local_day,
    ) -> UsageState:
        if "prices" in data:
            prices = PriceTable.from_plain(data["prices"])
        state = cls(prices, day_of)
        for d, p, m, t in data.get("days", []):
            state.days[(d, p, m)] = Totals.from_dict(t)
            state._newest_day = max(state._newest_day, d)
        for attr, width, span in (("minutes", MINUTE, FIVE_HOURS), ("hours", HOUR, SEVEN_DAYS)):
            for name, rows in data.get(attr, {}).items():
                series = getattr(state, attr)[name] = _Series(width, span)
                series.restore(rows)
        for raw in data.get("limits", []):
            event = event_from_dict(raw)
            if isinstance(event, RateLimitsObserved):
                state.limits[(event.provider, event.credential)] = event
        for rid, at, billable, auth in data.get("open", []):
            state._open[rid] = _Open(at, billable, {p: AuthMode(a) for p, a in auth.items()})
        return state
