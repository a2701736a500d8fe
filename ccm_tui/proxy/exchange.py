"""The records of one client request on its way through the proxy: the request itself,
how each attempt ended, and what was tried (the client's `ccm_attempts`)."""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ccm_tui.events import AttemptFailed, Failure, RequestFinished
from ccm_tui.providers.formats import UpstreamFormat
from ccm_tui.providers.registry import WireFormat
from ccm_tui.proxy.body import with_model
from ccm_tui.proxy.observer import ResponseObserver
from ccm_tui.proxy.routing import Candidate, Route


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One candidate as the client's error body lists it."""

    provider: str
    model: str
    failure: Failure | None  # None: skipped, never sent to
    status: int | None
    message: str

    @property
    def result(self) -> str:
        return "skipped" if self.failure is None else self.failure.value

    def as_json(self) -> dict[str, Any]:
        """The `ccm_attempts` entry: `class` is the failure class or "skipped"."""
        return {
            "provider": self.provider,
            "model": self.model,
            "class": self.result,
            "status": self.status,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class UpstreamAnswer:
    """An upstream's error answer, kept to hand to the client if every candidate fails."""

    provider: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    error: dict[str, Any] | None  # the body parsed, when it is an Anthropic error object


class OutcomeKind(enum.Enum):
    DELIVERED = "delivered"  # the client has its response (even one that broke): done
    ANSWERED = "answered"  # an upstream error before any byte went out: fail over
    FAILED = "failed"  # no usable answer at all (connect, timeout, garbage): fail over


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one attempt ended."""

    kind: OutcomeKind
    failure: Failure
    status: int | None = None  # DELIVERED: the status the client saw
    message: str = ""
    retry_after_s: float | None = None
    response: web.StreamResponse | None = None  # DELIVERED
    observer: ResponseObserver | None = None  # DELIVERED: what the answer said
    answer: UpstreamAnswer | None = None  # ANSWERED

    @classmethod
    def delivered(
        cls,
        failure: Failure,
        response: web.StreamResponse,
        status: int,
        observer: ResponseObserver | None = None,
        message: str = "",
    ) -> Outcome:
        return cls(
            OutcomeKind.DELIVERED, failure, status, message, response=response, observer=observer
        )

    @classmethod
    def answered(
        cls, failure: Failure, answer: UpstreamAnswer, message: str, retry_after_s: float | None
    ) -> Outcome:
        return cls(
            OutcomeKind.ANSWERED, failure, answer.status, message, retry_after_s, answer=answer
        )

    @classmethod
    def failed(cls, failure: Failure, message: str, status: int | None = None) -> Outcome:
        return cls(OutcomeKind.FAILED, failure, status, message)


@dataclass(slots=True)
class Exchange:
    """A client request in flight through the proxy (the formats' `Outgoing`)."""

    request: web.Request
    request_id: str
    raw: bytes
    body: dict[str, Any]
    route: Route
    stream: bool
    count_tokens: bool
    started: float  # loop time
    attempt: int = 0
    attempt_started: float = 0.0  # loop time the current attempt began
    tried: list[AttemptRecord] = field(default_factory=list)
    tool_names: dict[str, str] | None = None  # shortened tool name -> the client's
    committed: bool = False  # status and headers went to the client: no failover now
    recorded: bool = False  # the current provider's outcome went to its breaker
    _bodies: dict[tuple[WireFormat, str], bytes] = field(default_factory=dict)

    @property
    def requested(self) -> str:
        return self.route.requested

    @property
    def system(self) -> Any:
        return self.route.system

    def with_model(self, model: str) -> bytes:
        return with_model(self.raw, self.body, model, self.route.system)

    def upstream_body(self, fmt: UpstreamFormat, model: str) -> bytes:
        """The body for one format and actual model, built once however often it is tried."""
        key = (fmt.wire, model)
        data = self._bodies.get(key)
        if data is None:
            data = self._bodies[key] = fmt.body(self, model)
        return data

    # -- records ----------------------------------------------------------------------------

    def skipped(self, candidate: Candidate, why: str) -> None:
        self.tried.append(
            AttemptRecord(candidate.provider.name, candidate.actual_model, None, None, why)
        )

    def failed(self, candidate: Candidate, outcome: Outcome) -> AttemptFailed:
        """Records the current attempt's failure; the event for the watchers."""
        name = candidate.provider.name
        self.tried.append(
            AttemptRecord(
                name, candidate.actual_model, outcome.failure, outcome.status, outcome.message
            )
        )
        return AttemptFailed(
            self.request_id,
            self.attempt,
            name,
            outcome.failure,
            outcome.status,
            outcome.message,
            outcome.retry_after_s,
            (asyncio.get_running_loop().time() - self.attempt_started) * 1000,
            time.time(),
        )

    def finished(
        self,
        status: int,
        failure: Failure,
        message: str,
        candidate: Candidate | None = None,
        observer: ResponseObserver | None = None,
    ) -> RequestFinished:
        o = observer or ResponseObserver()
        return RequestFinished(
            request_id=self.request_id,
            status=status,
            outcome=failure,
            provider=candidate.provider.name if candidate else "",
            actual_model=candidate.actual_model if candidate else "",
            input_tokens=o.input_tokens,
            output_tokens=o.output_estimate,
            cache_read_tokens=o.cache_read_tokens,
            cache_creation_tokens=o.cache_creation_tokens,
            stop_reason=o.stop_reason,
            duration_ms=(asyncio.get_running_loop().time() - self.started) * 1000,
            error_message=message,
            at=time.time(),
            blocks=o.blocks(),
        )
