"""One client request, tried on each candidate provider until one answers.

Failover is only possible before the first byte reaches the client, so the response is
committed (status and headers sent) only when the upstream's first body bytes arrive.
After that the bytes are relayed as they come, in whole SSE frames, and an upstream that
breaks is reported to the client as an SSE `error` event rather than a silent truncation.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict

from ccm_tui.config import ProviderConfig
from ccm_tui.events import (
    AttemptFailed,
    AttemptStarted,
    AuthMode,
    BreakerState,
    Failure,
    RequestFinished,
    RequestStarted,
    ResponseStarted,
    StreamProgressed,
)
from ccm_tui.masking import mask_headers, mask_text
from ccm_tui.providers import openai as chat
from ccm_tui.providers.anthropic import Credential, response_headers, upstream_headers
from ccm_tui.providers.registry import WireFormat
from ccm_tui.proxy.body import with_model
from ccm_tui.proxy.classify import (
    classify_exception,
    classify_status,
    error_message,
    parse_retry_after,
)
from ccm_tui.proxy.credentials import CredentialUnavailable
from ccm_tui.proxy.errors import error_body, error_response, error_type_for
from ccm_tui.proxy.observer import ResponseObserver
from ccm_tui.proxy.routing import Candidate, Route
from ccm_tui.sse import complete_length, error_event

if TYPE_CHECKING:
    from ccm_tui.proxy.app import Proxy

PROGRESS_INTERVAL_S = 0.1
ERROR_BODY_LIMIT = 1 << 20


@dataclass(slots=True)
class UpstreamAnswer:
    """An upstream's error answer, kept to hand to the client if every candidate fails."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(slots=True)
class Outcome:
    """How one attempt ended: a response for the client, or a failure to fail over from."""

    failure: Failure
    response: web.StreamResponse | None = None
    status: int | None = None
    message: str = ""
    retry_after_s: float | None = None
    answer: UpstreamAnswer | None = None


@dataclass(slots=True)
class Exchange:
    """A client request in flight through the proxy."""

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
    tried: list[dict[str, Any]] = field(default_factory=list)
    _bodies: dict[str, bytes] = field(default_factory=dict)
    chat_bodies: dict[str, bytes] = field(default_factory=dict)  # translated, per model
    tool_names: dict[str, str] | None = None  # shortened tool name -> the client's
    recorded: bool = False  # the current provider's outcome went to its breaker

    def body_for(self, model: str) -> bytes:
        """The upstream body for one actual model, built once per model."""
        data = self._bodies.get(model)
        if data is None:
            data = with_model(self.raw, self.body, model, self.route.system)
            self._bodies[model] = data
        return data


def new_request_id() -> str:
    return secrets.token_hex(6)


Reader = Callable[[], Awaitable[bytes]]


class UpstreamFormat:
    """What differs between upstream wire formats, behind one seam chosen per provider.

    This base is the Messages API as Anthropic-format providers speak it: the request goes
    up as the client sent it and the answer comes back untouched, so the hot path does no
    work beyond what it did before the seam existed.
    """

    def url(self, provider: ProviderConfig, request: web.Request) -> str:
        return provider.base_url + request.path_qs

    def headers(
        self,
        request: web.Request,
        provider: ProviderConfig,
        credential: Credential,
        proxy_key: str | None,
    ) -> CIMultiDict[str] | dict[str, str]:
        return upstream_headers(request.headers.items(), provider, credential, proxy_key)

    def body(self, exchange: Exchange, model: str) -> bytes:
        return exchange.body_for(model)

    def response_headers(
        self, upstream: aiohttp.ClientResponse, content_type: str
    ) -> CIMultiDict[str]:
        return response_headers(upstream.headers.items())

    def error_body(self, status: int, body: bytes) -> bytes:
        return body

    def decode(self, exchange: Exchange, body: bytes) -> tuple[bytes, Any]:
        """The JSON answer for the client, and its parsed form. Raises ValueError."""
        return body, orjson.loads(body)

    def reader(self, exchange: Exchange, upstream: aiohttp.ClientResponse) -> Reader:
        """Reads the stream's next bytes for the client (b"" at its end)."""
        return upstream.content.readany


class ChatCompletionsFormat(UpstreamFormat):
    """OpenAI Chat Completions: request, answers, errors and streams are translated
    (`providers/openai/`), so the client and the observer only see the Messages API."""

    def url(self, provider: ProviderConfig, request: web.Request) -> str:
        return chat.chat_url(provider)

    def headers(
        self,
        request: web.Request,
        provider: ProviderConfig,
        credential: Credential,
        proxy_key: str | None,
    ) -> CIMultiDict[str] | dict[str, str]:
        return chat.chat_headers(request.headers.items(), credential, proxy_key)

    def body(self, exchange: Exchange, model: str) -> bytes:
        data = exchange.chat_bodies.get(model)
        if data is None:
            body = exchange.body
            if exchange.route.system is not None:
                body = {**body, "system": exchange.route.system}
            data = orjson.dumps(chat.to_chat_request(body, model))
            exchange.chat_bodies[model] = data
        return data

    def response_headers(
        self, upstream: aiohttp.ClientResponse, content_type: str
    ) -> CIMultiDict[str]:
        headers = response_headers(upstream.headers.items())
        headers["Content-Type"] = content_type  # the body is ours now, whatever came
        return headers

    def error_body(self, status: int, body: bytes) -> bytes:
        return chat.error_to_anthropic(status, body)

    def decode(self, exchange: Exchange, body: bytes) -> tuple[bytes, Any]:
        data = orjson.loads(body)
        if not isinstance(data, dict):
            raise ValueError("the answer is not a JSON object")
        message = chat.from_chat_response(data, exchange.route.requested, self._names(exchange))
        return orjson.dumps(message), message

    def reader(self, exchange: Exchange, upstream: aiohttp.ClientResponse) -> Reader:
        translator = chat.StreamTranslator(exchange.route.requested, self._names(exchange))
        readany = upstream.content.readany

        async def read() -> bytes:
            # Upstream chunks that translate to nothing (usage, role-only) are read past.
            while not translator.done:
                chunk = await readany()
                frames = translator.feed(chunk) if chunk else translator.finish()
                if frames or not chunk:
                    return frames
            return b""

        return read

    @staticmethod
    def _names(exchange: Exchange) -> dict[str, str]:
        if exchange.tool_names is None:
            exchange.tool_names = chat.tool_name_map(exchange.body)
        return exchange.tool_names


FORMATS: dict[WireFormat, UpstreamFormat] = {
    WireFormat.ANTHROPIC: UpstreamFormat(),
    WireFormat.OPENAI: ChatCompletionsFormat(),
}


class Forwarder:
    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy

    # -- the request --------------------------------------------------------------------

    async def forward(
        self,
        request: web.Request,
        raw: bytes,
        body: dict[str, Any],
        route: Route,
        *,
        count_tokens: bool = False,
    ) -> web.StreamResponse:
        proxy = self.proxy
        loop = asyncio.get_running_loop()
        stream = body.get("stream") is True and not count_tokens
        exchange = Exchange(
            request, new_request_id(), raw, body, route, stream, count_tokens, loop.time()
        )
        messages = body.get("messages")
        tools = body.get("tools")
        proxy.bus.publish(
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
                user_agent=mask_text(request.headers.get("User-Agent", "")),
                headers=mask_headers(request.headers.items()),
            )
        )
        last: Outcome | None = None
        answered: Outcome | None = None
        candidates, gated = self._ordered(exchange, route.candidates)
        try:
            for candidate in candidates:
                outcome = await self._try_gated(exchange, candidate, gated)
                if outcome is None:
                    continue
                if outcome.response is not None:
                    return outcome.response
                last = outcome
                if outcome.answer is not None:
                    answered = outcome
        except asyncio.CancelledError:
            self._finish(exchange, 499, Failure.CANCELLED, "client went away")
            raise
        if count_tokens and (last is None or last.failure.fails_over):
            return self._local_count(exchange)
        return self._all_failed(exchange, last, answered)

    def _ordered(
        self, exchange: Exchange, candidates: tuple[Candidate, ...]
    ) -> tuple[list[Candidate], bool]:
        """Enabled candidates whose breaker would let them through, in priority order, and
        True; if every breaker is closed to them, all of them anyway (a cooling provider
        beats no answer), and False. Only peeks: a half-open probe is taken when tried."""
        proxy = self.proxy
        enabled = [c for c in candidates if proxy.is_enabled(c.provider.name)]
        if exchange.count_tokens:
            enabled = [c for c in enabled if c.provider.format.value == "anthropic"]
        allowed = [c for c in enabled if proxy.breaker(c.provider.name).available()]
        for c in enabled:
            if c not in allowed:
                self._skipped(exchange, c)
        for c in candidates:
            if c not in enabled:
                exchange.tried.append(
                    {
                        "provider": c.provider.name,
                        "model": c.actual_model,
                        "class": "skipped",
                        "status": None,
                        "message": "disabled",
                    }
                )
        return (allowed, True) if allowed else (enabled, False)

    def _skipped(self, exchange: Exchange, candidate: Candidate) -> None:
        breaker = self.proxy.breaker(candidate.provider.name)
        state = breaker.peek_state()
        why = (
            "a probe is in flight"
            if state is BreakerState.HALF_OPEN
            else f"{breaker.remaining_s():.0f} s left"
        )
        exchange.tried.append(
            {
                "provider": candidate.provider.name,
                "model": candidate.actual_model,
                "class": "skipped",
                "status": None,
                "message": f"breaker {state.value}, {why}",
            }
        )

    async def _try_gated(
        self, exchange: Exchange, candidate: Candidate, gated: bool
    ) -> Outcome | None:
        """Tries one provider, first asking its breaker (`gated`), which takes the half-open
        probe; the probe is given back if the attempt ends with no outcome to record.
        None: the breaker said no (another request took the probe since `_ordered`)."""
        breaker = self.proxy.breaker(candidate.provider.name)
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

    def _record(
        self,
        exchange: Exchange,
        candidate: Candidate,
        failure: Failure,
        retry_after_s: float | None = None,
    ) -> None:
        """Holds an outcome against (or for) the provider's breaker, which frees its probe."""
        exchange.recorded = True
        self.proxy.record(candidate.provider.name, failure, retry_after_s)

    async def _try_provider(self, exchange: Exchange, candidate: Candidate) -> Outcome:
        """One provider: an attempt, and at most one retry with a renewed credential."""
        provider = candidate.provider
        credentials = self.proxy.credentials
        recovered = False
        while True:
            exchange.attempt += 1
            exchange.attempt_started = asyncio.get_running_loop().time()
            try:
                credential = await credentials.credential(provider)
            except CredentialUnavailable as err:
                self._started(exchange, candidate, err.mode)
                outcome = Outcome(Failure.AUTH_ERROR, message=err.message)
                self._failed(exchange, candidate, outcome)
                return outcome
            self._started(exchange, candidate, credential.mode)
            outcome = await self._attempt(exchange, candidate, credential)
            if outcome.failure is Failure.OK or outcome.response is not None:
                return outcome
            self._failed(exchange, candidate, outcome, count=False)
            # A renewed credential (refreshed token, derived key) earns one more try here,
            # and a failure it mends is not held against the provider's breaker.
            if recovered or not await credentials.recover(provider, credential, outcome):
                self._record(exchange, candidate, outcome.failure, outcome.retry_after_s)
                return outcome
            recovered = True

    def _started(self, exchange: Exchange, candidate: Candidate, mode: AuthMode) -> None:
        self.proxy.bus.publish(
            AttemptStarted(
                exchange.request_id,
                exchange.attempt,
                candidate.provider.name,
                candidate.actual_model,
                mode,
                time.time(),
            )
        )

    def _failed(
        self, exchange: Exchange, candidate: Candidate, outcome: Outcome, count: bool = True
    ) -> None:
        """Publishes an attempt's failure; `count` also holds it against the breaker."""
        name = candidate.provider.name
        exchange.tried.append(
            {
                "provider": name,
                "model": candidate.actual_model,
                "class": outcome.failure.value,
                "status": outcome.status,
                "message": outcome.message,
            }
        )
        self.proxy.bus.publish(
            AttemptFailed(
                exchange.request_id,
                exchange.attempt,
                name,
                outcome.failure,
                outcome.status,
                outcome.message,
                outcome.retry_after_s,
                (asyncio.get_running_loop().time() - exchange.attempt_started) * 1000,
                time.time(),
            )
        )
        if count:
            self._record(exchange, candidate, outcome.failure, outcome.retry_after_s)

    # -- one attempt ----------------------------------------------------------------------

    async def _attempt(
        self, exchange: Exchange, candidate: Candidate, credential: Credential
    ) -> Outcome:
        proxy = self.proxy
        provider = candidate.provider
        timeouts = proxy.config.server.timeouts
        fmt = FORMATS[provider.format]
        url = fmt.url(provider, exchange.request)
        headers = fmt.headers(exchange.request, provider, credential, proxy.config.server.api_key)
        data = fmt.body(exchange, candidate.actual_model)
        loop = asyncio.get_running_loop()
        first_byte_s = (timeouts.first_byte_ms if exchange.stream else timeouts.api_ms) / 1000
        out: web.StreamResponse | None = None
        observer = ResponseObserver()
        try:
            async with asyncio.timeout(first_byte_s) as deadline:
                async with proxy.session.post(
                    url, data=data, headers=headers, allow_redirects=False
                ) as upstream:
                    if not 200 <= upstream.status < 300:
                        return await self._error_answer(exchange, candidate, upstream, fmt)
                    if not exchange.stream:
                        return await self._whole(exchange, candidate, upstream, observer, fmt)
                    read = fmt.reader(exchange, upstream)
                    first = await read()
                    if not first:
                        return Outcome(
                            Failure.SERVER_ERROR,
                            status=upstream.status,
                            message="upstream ended the response before sending any of it",
                        )
                    out = await self._commit(exchange, candidate, upstream, fmt)
                    deadline.reschedule(loop.time() + timeouts.stream_idle_ms / 1000)
                    return await self._relay(
                        exchange, candidate, read, out, first, observer, deadline
                    )
        except asyncio.CancelledError:
            if out is None:
                gone = Outcome(Failure.CANCELLED, message="client went away")
                self._failed(exchange, candidate, gone, count=False)
            raise
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            failure, message = classify_exception(err)
            if isinstance(err, TimeoutError):
                limit = first_byte_s if out is None else timeouts.stream_idle_ms / 1000
                what = "no response" if out is None else "the stream stalled"
                message = f"{what} for {limit:g} s"
            if out is None:
                return Outcome(failure, message=message)
            return await self._broken(exchange, candidate, out, observer, message)

    async def _error_answer(
        self,
        exchange: Exchange,
        candidate: Candidate,
        upstream: aiohttp.ClientResponse,
        fmt: UpstreamFormat,
    ) -> Outcome:
        body = fmt.error_body(upstream.status, await upstream.content.read(ERROR_BODY_LIMIT))
        message = error_message(body)
        failure = classify_status(upstream.status, message)
        headers = list(fmt.response_headers(upstream, "application/json").items())
        if failure is Failure.CLIENT_ERROR:
            # Another provider would refuse it too: the client gets it as it came.
            response = web.Response(status=upstream.status, body=body, headers=headers)
            outcome = Outcome(failure, response=response, status=upstream.status, message=message)
            self._failed(exchange, candidate, outcome, count=False)
            self._finish(exchange, upstream.status, failure, message, candidate)
            return outcome
        if failure is Failure.MODEL_NOT_FOUND:
            message = f"{candidate.actual_model}: {message}"
        return Outcome(
            failure,
            status=upstream.status,
            message=message,
            retry_after_s=parse_retry_after(upstream.headers.get("retry-after")),
            answer=UpstreamAnswer(upstream.status, headers, body),
        )

    async def _whole(
        self,
        exchange: Exchange,
        candidate: Candidate,
        upstream: aiohttp.ClientResponse,
        observer: ResponseObserver,
        fmt: UpstreamFormat,
    ) -> Outcome:
        body = await upstream.read()
        try:
            body, message = fmt.decode(exchange, body)
        except ValueError as err:
            return Outcome(
                Failure.SERVER_ERROR,
                status=upstream.status,
                message="upstream sent a malformed JSON body"
                if isinstance(err, orjson.JSONDecodeError)
                else f"upstream sent an unusable answer: {err}",
            )
        if isinstance(message, dict) and not exchange.count_tokens:
            observer.read_message(message)
        if exchange.count_tokens and isinstance(message, dict):
            observer.read_count(message)
        response = web.Response(
            status=upstream.status,
            body=body,
            headers=fmt.response_headers(upstream, "application/json"),
        )
        # The answer goes out first; the watchers (monitor fold, log line) hear of it after,
        # so their work is never part of the client's latency.
        try:
            await response.prepare(exchange.request)
            await response.write_eof()
        except ConnectionResetError:
            self._response_started(exchange, candidate, upstream.status)
            return self._client_gone(exchange, candidate, response, observer)
        self._response_started(exchange, candidate, upstream.status)
        self._finish(exchange, upstream.status, Failure.OK, "", candidate, observer)
        return Outcome(Failure.OK, response=response)

    def _response_started(self, exchange: Exchange, candidate: Candidate, status: int) -> None:
        ttfb_ms = (asyncio.get_running_loop().time() - exchange.started) * 1000
        self.proxy.bus.publish(
            ResponseStarted(
                exchange.request_id, exchange.attempt, candidate.provider.name, status, ttfb_ms
            )
        )

    async def _commit(
        self,
        exchange: Exchange,
        candidate: Candidate,
        upstream: aiohttp.ClientResponse,
        fmt: UpstreamFormat,
    ) -> web.StreamResponse:
        out = web.StreamResponse(
            status=upstream.status, headers=fmt.response_headers(upstream, "text/event-stream")
        )
        out.headers["x-ccm-provider"] = candidate.provider.name
        await out.prepare(exchange.request)
        self._response_started(exchange, candidate, upstream.status)
        return out

    async def _relay(
        self,
        exchange: Exchange,
        candidate: Candidate,
        read: Reader,
        out: web.StreamResponse,
        first: bytes,
        observer: ResponseObserver,
        deadline: asyncio.Timeout,
    ) -> Outcome:
        loop = asyncio.get_running_loop()
        idle_s = self.proxy.config.server.timeouts.stream_idle_ms / 1000
        # The idle deadline moves lazily, by idle_s + slack at most once per slack seconds:
        # moving a timer per chunk cost ~5% of a streaming proxy's CPU. It never fires
        # before idle_s of silence, and at most slack later.
        slack = idle_s / 64
        publish = self.proxy.bus.publish
        next_progress = loop.time() + PROGRESS_INTERVAL_S
        pending = first
        while True:
            cut = complete_length(pending)
            if cut:
                frames = pending[:cut] if cut < len(pending) else pending
                pending = pending[cut:]
                try:
                    await out.write(frames)
                except ConnectionResetError:
                    return self._client_gone(exchange, candidate, out, observer)
                observer.feed(frames)
                now = loop.time()
                if now >= next_progress:
                    next_progress = now + PROGRESS_INTERVAL_S
                    publish(
                        StreamProgressed(
                            exchange.request_id,
                            observer.input_tokens,
                            observer.output_estimate,
                            observer.blocks(),
                        )
                    )
            chunk = await read()
            if not chunk:
                break
            now = loop.time()
            if now + idle_s > (deadline.when() or 0.0):
                deadline.reschedule(now + idle_s + slack)
            pending += chunk
        if pending:  # a last frame without its blank line: relay it as it came
            observer.feed(pending)
            try:
                await out.write(pending)
            except ConnectionResetError:
                return self._client_gone(exchange, candidate, out, observer)
        if observer.error is not None:
            failure_message = f"upstream error mid-stream: {observer.error[1]}"
            self._finish(
                exchange, out.status, Failure.STREAM_ERROR, failure_message, candidate, observer
            )
            self._record(exchange, candidate, Failure.STREAM_ERROR)
            await self._end(out)
            return Outcome(Failure.STREAM_ERROR, response=out)
        if not observer.finished:
            return await self._broken(
                exchange, candidate, out, observer, "upstream ended the stream before message_stop"
            )
        await self._end(out)
        self._finish(exchange, out.status, Failure.OK, "", candidate, observer)
        return Outcome(Failure.OK, response=out)

    async def _broken(
        self,
        exchange: Exchange,
        candidate: Candidate,
        out: web.StreamResponse,
        observer: ResponseObserver,
        message: str,
    ) -> Outcome:
        """The upstream failed after the client got bytes: tell the client in-band."""
        try:
            await out.write(error_event("api_error", f"ccm-tui: {message}"))
            await self._end(out)
        except ConnectionResetError:
            pass
        self._finish(exchange, out.status, Failure.STREAM_ERROR, message, candidate, observer)
        self._record(exchange, candidate, Failure.STREAM_ERROR)
        return Outcome(Failure.STREAM_ERROR, response=out, message=message)

    def _client_gone(
        self,
        exchange: Exchange,
        candidate: Candidate,
        out: web.StreamResponse,
        observer: ResponseObserver,
    ) -> Outcome:
        self._finish(exchange, 499, Failure.CANCELLED, "client went away", candidate, observer)
        return Outcome(Failure.CANCELLED, response=out)

    @staticmethod
    async def _end(out: web.StreamResponse) -> None:
        with contextlib.suppress(ConnectionResetError):
            await out.write_eof()

    # -- the end ----------------------------------------------------------------------------

    def _finish(
        self,
        exchange: Exchange,
        status: int,
        outcome: Failure,
        message: str,
        candidate: Candidate | None = None,
        observer: ResponseObserver | None = None,
    ) -> None:
        if outcome is Failure.OK and candidate is not None:
            self._record(exchange, candidate, Failure.OK)
        o = observer or ResponseObserver()
        self.proxy.bus.publish(
            RequestFinished(
                request_id=exchange.request_id,
                status=status,
                outcome=outcome,
                provider=candidate.provider.name if candidate else "",
                actual_model=candidate.actual_model if candidate else "",
                input_tokens=o.input_tokens,
                output_tokens=o.output_estimate,
                cache_read_tokens=o.cache_read_tokens,
                cache_creation_tokens=o.cache_creation_tokens,
                stop_reason=o.stop_reason,
                duration_ms=(asyncio.get_running_loop().time() - exchange.started) * 1000,
                error_message=message,
                at=time.time(),
                blocks=o.blocks(),
            )
        )

    def _all_failed(
        self, exchange: Exchange, last: Outcome | None, answered: Outcome | None
    ) -> web.Response:
        attempts = {"ccm_attempts": exchange.tried}
        if answered is not None and answered.answer is not None:
            answer = answered.answer
            try:
                body = orjson.loads(answer.body)
            except orjson.JSONDecodeError:
                body = None
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                body.update(attempts)
            else:
                body = error_body(error_type_for(answer.status), answered.message, attempts)
            keep = {"retry-after", "x-should-retry", "request-id", "content-type"}
            headers = [
                (k, v)
                for k, v in answer.headers
                if k.lower() in keep or k.lower().startswith("anthropic-ratelimit-")
            ]
            self._finish(exchange, answer.status, answered.failure, answered.message)
            return web.Response(status=answer.status, body=orjson.dumps(body), headers=headers)
        if last is None:
            message = "no enabled provider for model " + exchange.route.model
            self._finish(exchange, 503, Failure.SERVER_ERROR, message)
            return error_response(503, message, "api_error", extra=attempts)
        status = 504 if last.failure is Failure.TIMEOUT else 502
        summary = "; ".join(
            f"{t['provider']}: {t['class']} ({t['message']})" for t in exchange.tried
        )
        message = f"all providers failed: {summary}"
        self._finish(exchange, status, last.failure, message)
        return error_response(status, message, extra=attempts)

    def _local_count(self, exchange: Exchange) -> web.Response:
        """No provider could count: an estimate beats an error (Claude Code would estimate)."""
        tokens = max(1, len(exchange.raw) // 4)
        observer = ResponseObserver()
        observer.input_tokens = tokens
        self._finish(exchange, 200, Failure.OK, "", None, observer)
        return web.json_response(
            {"input_tokens": tokens},
            headers={"x-ccm-estimate": "local"},
            dumps=lambda o: orjson.dumps(o).decode(),
        )
