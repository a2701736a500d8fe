"""One client request, tried on each candidate provider until one answers.

The forwarder reads the providers' current state from `Upstreams` (enabled, breakers,
credentials) and holds each outcome against its provider's breaker; the attempts
themselves are the relay's. A failed attempt's credential may be renewed (one more try
on the same provider) or, on the resolver's SWITCH verdict, the provider moved to its
derived key by the `switch` it was given.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from ccm_tui.events import (
    AttemptStarted,
    AuthMode,
    BreakerState,
    EventBus,
    Failure,
    RequestStarted,
)
from ccm_tui.masking import mask_headers, mask_text, safe_text
from ccm_tui.providers.registry import WireFormat
from ccm_tui.proxy.credentials import CredentialUnavailable, Verdict
from ccm_tui.proxy.errors import error_body, error_response, error_type_for
from ccm_tui.proxy.exchange import Exchange, Outcome, OutcomeKind
from ccm_tui.proxy.observer import ResponseObserver
from ccm_tui.proxy.relay import PROVIDER_HEADER, Relay
from ccm_tui.proxy.routing import Candidate, Route
from ccm_tui.proxy.upstreams import Upstreams

# Headers of an upstream's error answer that still mean something to the client.
KEPT_ERROR_HEADERS = frozenset({"retry-after", "x-should-retry", "request-id", "content-type"})

Switch = Callable[[str], Awaitable[bool]]  # moves a provider to its derived key


def new_request_id() -> str:
    return secrets.token_hex(6)


class Forwarder:
    def __init__(
        self, upstreams: Upstreams, bus: EventBus, session: aiohttp.ClientSession, switch: Switch
    ) -> None:
        self.upstreams = upstreams
        self.bus = bus
        self.relay = Relay(session, bus, upstreams.limits_heard)
        self._switch = switch

    # -- the two ways in -------------------------------------------------------------------

    async def messages(
        self, request: web.Request, raw: bytes, body: dict[str, Any], route: Route
    ) -> web.StreamResponse:
        exchange = self._begin(request, raw, body, route, count_tokens=False)
        outcome = await self._run(exchange, route.candidates)
        if outcome is not None and outcome.response is not None:
            return outcome.response
        return self._all_failed(exchange, outcome)

    async def count_tokens(
        self, request: web.Request, raw: bytes, body: dict[str, Any], route: Route
    ) -> web.StreamResponse:
        """Counted by the first Anthropic-format provider that can; when none can, an
        estimate beats an error (Claude Code would estimate too)."""
        exchange = self._begin(request, raw, body, route, count_tokens=True)
        counting = tuple(c for c in route.candidates if c.provider.format is WireFormat.ANTHROPIC)
        outcome = await self._run(exchange, counting)
        if outcome is not None and outcome.response is not None:
            return outcome.response
        tokens = max(1, len(raw) // 4)
        observer = ResponseObserver()
        observer.input_tokens = tokens
        self.bus.publish(exchange.finished(200, Failure.OK, "", None, observer))
        return web.Response(
            body=orjson.dumps({"input_tokens": tokens}),
            content_type="application/json",
            headers={"x-ccm-estimate": "local"},
        )

    def _begin(
        self,
        request: web.Request,
        raw: bytes,
        body: dict[str, Any],
        route: Route,
        count_tokens: bool,
    ) -> Exchange:
        stream = body.get("stream") is True and not count_tokens
        exchange = Exchange(
            request,
            new_request_id(),
            raw,
            body,
            route,
            stream,
            count_tokens,
            asyncio.get_running_loop().time(),
        )
        messages = body.get("messages")
        tools = body.get("tools")
        self.bus.publish(
            RequestStarted(
                request_id=exchange.request_id,
                at=time.time(),
                method=request.method,
                path=request.path,
                requested_model=route.requested,
                routed_model=route.model,
                route_reason=route.reason,
                stream=stream,
                message_count=len(messages) if isinstance(messages, list) else 0,
                tool_count=len(tools) if isinstance(tools, list) else 0,
                user_agent=mask_text(safe_text(request.headers.get("User-Agent", ""))),
                headers=mask_headers(request.headers.items()),
            )
        )
        return exchange

    # -- the candidates ---------------------------------------------------------------------

    async def _run(self, exchange: Exchange, candidates: tuple[Candidate, ...]) -> Outcome | None:
        """The outcome that decides the answer: a delivered one; else the last upstream
        error answer; else the last failure; None when no candidate could be tried."""
        decisive: Outcome | None = None
        ordered, gated = self._ordered(exchange, candidates)
        try:
            for candidate in ordered:
                outcome = await self._try_gated(exchange, candidate, gated)
                if outcome is None:
                    continue
                if outcome.kind is OutcomeKind.DELIVERED:
                    return outcome
                if (
                    decisive is None
                    or outcome.kind is OutcomeKind.ANSWERED
                    or (decisive.kind is OutcomeKind.FAILED)
                ):
                    decisive = outcome
        except asyncio.CancelledError:
            self.bus.publish(exchange.finished(499, Failure.CANCELLED, "client went away"))
            raise
        return decisive

    def _ordered(
        self, exchange: Exchange, candidates: tuple[Candidate, ...]
    ) -> tuple[list[Candidate], bool]:
        """Enabled candidates whose breaker would let them through, in priority order, and
        True; if every breaker is closed to them, all of them anyway (a cooling provider
        beats no answer), and False. Only peeks: a half-open probe is taken when tried."""
        upstreams = self.upstreams
        enabled = [c for c in candidates if upstreams.is_enabled(c.provider.name)]
        allowed = [c for c in enabled if upstreams.breaker(c.provider.name).available()]
        for c in enabled:
            if c not in allowed:
                self._skipped(exchange, c)
        for c in candidates:
            if c not in enabled:
                exchange.skipped(c, "disabled")
        if allowed:
            return _pressed_last(allowed, upstreams), True
        return enabled, False

    def _skipped(self, exchange: Exchange, candidate: Candidate) -> None:
        breaker = self.upstreams.breaker(candidate.provider.name)
        state = breaker.peek_state()
        why = (
            "a probe is in flight"
            if state is BreakerState.HALF_OPEN
            else f"{breaker.remaining_s():.0f} s left"
        )
        exchange.skipped(candidate, f"breaker {state.value}, {why}")

    async def _try_gated(
        self, exchange: Exchange, candidate: Candidate, gated: bool
    ) -> Outcome | None:
        """Tries one provider, first asking its breaker (`gated`), which takes the half-open
        probe; the probe is given back if the attempt ends with no outcome to record.
        None: the breaker said no (another request took the probe since `_ordered`)."""
        breaker = self.upstreams.breaker(candidate.provider.name)
        probing = False
        if gated:
            probing = breaker.peek_state() is BreakerState.HALF_OPEN
            if not breaker.allows():
                self._skipped(exchange, candidate)
                return None
        exchange.recorded = False
        try:
            return await self._try_provider(exchange, candidate)
        finally:
            if probing and not exchange.recorded:
                breaker.release()

    def _record(self, exchange: Exchange, name: str, outcome: Outcome) -> None:
        """Holds an outcome against (or for) the provider's breaker, which frees its probe."""
        exchange.recorded = True
        self.upstreams.record(name, outcome.failure, outcome.retry_after_s)

    # -- one provider -----------------------------------------------------------------------

    async def _try_provider(self, exchange: Exchange, candidate: Candidate) -> Outcome:
        """One provider: an attempt, and at most one more with a renewed credential. Its
        settings are read anew each time: a switch or a reload may have changed them."""
        name = candidate.provider.name
        credentials = self.upstreams.credentials
        renewed = False
        while True:
            provider = self.upstreams.provider(name) or candidate.provider
            exchange.attempt += 1
            exchange.attempt_started = asyncio.get_running_loop().time()
            try:
                credential = await credentials.credential(provider)
            except CredentialUnavailable as err:
                self._started(exchange, candidate, err.mode)
                outcome = Outcome.failed(Failure.AUTH_ERROR, err.message)
                self.bus.publish(exchange.failed(candidate, outcome))
                self._record(exchange, name, outcome)
                return outcome
            self._started(exchange, candidate, credential.mode)
            server = self.upstreams.config.server
            try:
                outcome = await self.relay.attempt(
                    exchange, provider, candidate.actual_model, credential, server
                )
            except asyncio.CancelledError:
                if not exchange.committed:
                    gone = Outcome.failed(Failure.CANCELLED, "client went away")
                    self.bus.publish(exchange.failed(candidate, gone))
                raise
            if outcome.kind is OutcomeKind.DELIVERED:
                self._delivered(exchange, candidate, outcome)
                return outcome
            self.bus.publish(exchange.failed(candidate, outcome))
            # A renewed credential (refreshed token, derived key) earns one more try here,
            # and a failure it mends is not held against the provider's breaker.
            verdict = Verdict.GIVE_UP
            if not renewed:
                verdict = await credentials.verdict(
                    provider, credential, outcome.failure, outcome.status
                )
            if verdict is Verdict.SWITCH and not await self._switch(name):
                credentials.switch_refused(name, credential.secret)
                verdict = Verdict.GIVE_UP
            if verdict is Verdict.GIVE_UP:
                self._record(exchange, name, outcome)
                return outcome
            renewed = True

    def _started(self, exchange: Exchange, candidate: Candidate, mode: AuthMode) -> None:
        self.bus.publish(
            AttemptStarted(
                exchange.request_id,
                exchange.attempt,
                candidate.provider.name,
                candidate.actual_model,
                mode,
                time.time(),
            )
        )

    def _delivered(self, exchange: Exchange, candidate: Candidate, outcome: Outcome) -> None:
        """The client has its response: the attempt's verdict on the provider, then the
        request's end. A client error or a client gone says nothing about the provider."""
        if outcome.failure is Failure.CLIENT_ERROR:
            self.bus.publish(exchange.failed(candidate, outcome))
        elif outcome.failure is not Failure.CANCELLED:
            self._record(exchange, candidate.provider.name, outcome)
        status = outcome.status or 0
        self.bus.publish(
            exchange.finished(status, outcome.failure, outcome.message, candidate, outcome.observer)
        )

    # -- when nobody answered ---------------------------------------------------------------

    def _all_failed(self, exchange: Exchange, decisive: Outcome | None) -> web.Response:
        """The last upstream's error as it came (Claude Code reads its wording), with the
        attempts listed; 502/504 when no upstream answered, 503 when none was tried."""
        attempts = {"ccm_attempts": [t.as_json() for t in exchange.tried]}
        if decisive is not None and decisive.answer is not None:
            answer = decisive.answer
            if answer.error is not None:
                body = {**answer.error, **attempts}
            else:
                body = error_body(error_type_for(answer.status), decisive.message, attempts)
            headers = [
                (k, v)
                for k, v in answer.headers
                if k.lower() in KEPT_ERROR_HEADERS or k.lower().startswith("anthropic-ratelimit-")
            ]
            headers.append((PROVIDER_HEADER, answer.provider))
            self.bus.publish(exchange.finished(answer.status, decisive.failure, decisive.message))
            return web.Response(status=answer.status, body=orjson.dumps(body), headers=headers)
        if decisive is None:
            message = "no enabled provider for model " + exchange.route.model
            self.bus.publish(exchange.finished(503, Failure.SERVER_ERROR, message))
            return error_response(503, message, "api_error", extra=attempts)
        status = 504 if decisive.failure is Failure.TIMEOUT else 502
        summary = "; ".join(f"{t.provider}: {t.result} ({t.message})" for t in exchange.tried)
        message = f"all providers failed: {summary}"
        self.bus.publish(exchange.finished(status, decisive.failure, message))
        return error_response(status, message, extra=attempts)


def _pressed_last(candidates: list[Candidate], upstreams: Upstreams) -> list[Candidate]:
    """Limit-aware routing: providers near or at their limits go after the others, in
    their own order (only those with `prefer_below`, so by default nothing moves)."""
    pressed = [c for c in candidates if upstreams.pressed(c.provider.name)]
    if not pressed:
        return candidates
    return [c for c in candidates if c not in pressed] + pressed
