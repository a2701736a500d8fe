"""One attempt at one provider: the upstream request, and its answer relayed to the client.

Failover is only possible before the first byte reaches the client, so the response is
committed (status and headers sent) only when the upstream's first body bytes arrive.
After that the bytes are relayed as they come, in whole SSE frames, and an upstream that
breaks is reported to the client as an SSE `error` event rather than a silent truncation.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import aiohttp
import orjson
from aiohttp import web

from ccm_tui.config import ProviderConfig, ServerConfig
from ccm_tui.events import (
    EventBus,
    Failure,
    RateLimitsObserved,
    ResponseStarted,
    StreamProgressed,
)
from ccm_tui.masking import mask
from ccm_tui.providers.anthropic import Credential
from ccm_tui.providers.formats import FORMATS, Reader, UpstreamFormat
from ccm_tui.providers.registry import WireFormat
from ccm_tui.proxy.classify import (
    classify_exception,
    classify_status,
    parse_retry_after,
    read_error,
)
from ccm_tui.proxy.exchange import Exchange, Outcome, UpstreamAnswer
from ccm_tui.proxy.observer import ResponseObserver
from ccm_tui.ratelimits import RateLimits, carries_rate_limits, parse_rate_limits
from ccm_tui.sse import complete_length, error_event

PROGRESS_INTERVAL_S = 0.1
ERROR_BODY_LIMIT = 1 << 20
PROVIDER_HEADER = "x-ccm-provider"  # which provider answered, on every answer from one

LimitsHeard = Callable[[str, RateLimits], None]  # (provider, limits): the router's ear


class Relay:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        bus: EventBus,
        limits_heard: LimitsHeard | None = None,
    ) -> None:
        self.session = session
        self.bus = bus
        self._limits_heard = limits_heard

    async def attempt(
        self,
        exchange: Exchange,
        provider: ProviderConfig,
        model: str,
        credential: Credential,
        server: ServerConfig,
    ) -> Outcome:
        """Raises CancelledError when the client goes away (`exchange.committed` says
        whether a stream of this attempt's answer had begun)."""
        timeouts = server.timeouts
        fmt = FORMATS[provider.format]
        request = exchange.request
        url = fmt.url(provider, request.path_qs)
        headers = fmt.headers(request.headers.items(), provider, credential, server.api_key)
        data = exchange.upstream_body(fmt, model)
        loop = asyncio.get_running_loop()
        first_byte_s = (timeouts.first_byte_ms if exchange.stream else timeouts.api_ms) / 1000
        idle_s = timeouts.stream_idle_ms / 1000
        out: web.StreamResponse | None = None
        observer = ResponseObserver()
        try:
            async with asyncio.timeout(first_byte_s) as deadline:
                async with self.session.post(
                    url, data=data, headers=headers, allow_redirects=False
                ) as upstream:
                    if not 200 <= upstream.status < 300:
                        self._observe_limits(provider, credential, upstream)
                        return await self._error_answer(exchange, provider, model, upstream, fmt)
                    if not exchange.stream:
                        outcome = await self._whole(exchange, provider, upstream, observer, fmt)
                        self._observe_limits(provider, credential, upstream)
                        return outcome
                    read = fmt.reader(exchange, upstream.content.readany)
                    first = await read()
                    if not first:
                        return Outcome.failed(
                            Failure.SERVER_ERROR,
                            "upstream ended the response before sending any of it",
                            upstream.status,
                        )
                    out = await self._commit(exchange, provider, upstream, fmt)
                    self._observe_limits(provider, credential, upstream)
                    deadline.reschedule(loop.time() + idle_s)
                    return await self._relay(exchange, read, out, first, observer, deadline, idle_s)
        except (TimeoutError, aiohttp.ClientError, OSError) as err:
            failure, message = classify_exception(err)
            if isinstance(err, TimeoutError):
                limit = first_byte_s if out is None else idle_s
                what = "no response" if out is None else "the stream stalled"
                message = f"{what} for {limit:g} s"
            if out is None:
                return Outcome.failed(failure, message)
            return await self._broken(out, observer, message)

    async def _error_answer(
        self,
        exchange: Exchange,
        provider: ProviderConfig,
        model: str,
        upstream: aiohttp.ClientResponse,
        fmt: UpstreamFormat,
    ) -> Outcome:
        status = upstream.status
        body = fmt.error_body(status, await upstream.content.read(ERROR_BODY_LIMIT))
        parsed, message = read_error(body)  # the one parse of the error body
        failure = classify_status(status, message)
        headers = fmt.response_headers(upstream.headers.items(), "application/json")
        headers[PROVIDER_HEADER] = provider.name
        if failure is Failure.CLIENT_ERROR:
            # Another provider would refuse it too: the client gets it as it came.
            response = web.Response(status=status, body=body, headers=headers)
            return Outcome.delivered(failure, response, status, message=message)
        if failure is Failure.MODEL_NOT_FOUND:
            message = f"{model}: {message}"
        error = (
            parsed if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict) else None
        )
        answer = UpstreamAnswer(provider.name, status, list(headers.items()), body, error)
        retry_after = parse_retry_after(upstream.headers.get("retry-after"))
        return Outcome.answered(failure, answer, message, retry_after)

    async def _whole(
        self,
        exchange: Exchange,
        provider: ProviderConfig,
        upstream: aiohttp.ClientResponse,
        observer: ResponseObserver,
        fmt: UpstreamFormat,
    ) -> Outcome:
        body = await upstream.read()
        try:
            body, message = fmt.decode(exchange, body)
        except ValueError as err:
            return Outcome.failed(
                Failure.SERVER_ERROR,
                "upstream sent a malformed JSON body"
                if isinstance(err, orjson.JSONDecodeError)
                else f"upstream sent an unusable answer: {err}",
                upstream.status,
            )
        if isinstance(message, dict):
            if exchange.count_tokens:
                observer.read_count(message)
            else:
                observer.read_message(message)
        headers = fmt.response_headers(upstream.headers.items(), "application/json")
        headers[PROVIDER_HEADER] = provider.name
        response = web.Response(status=upstream.status, body=body, headers=headers)
        # The answer goes out first; the watchers (monitor fold, log line) hear of it after,
        # so their work is never part of the client's latency.
        try:
            await response.prepare(exchange.request)
            await response.write_eof()
        except ConnectionResetError:
            self._response_started(exchange, provider, upstream.status)
            return _client_gone(response, observer)
        self._response_started(exchange, provider, upstream.status)
        return Outcome.delivered(Failure.OK, response, upstream.status, observer)

    def _observe_limits(
        self, provider: ProviderConfig, credential: Credential, upstream: aiohttp.ClientResponse
    ) -> None:
        """The limits an Anthropic-format answer reports, published (after the answer went
        out, on success) and told to the router; answers without them cost two lookups."""
        headers = upstream.headers
        if provider.format is not WireFormat.ANTHROPIC or not carries_rate_limits(headers):
            return
        limits = parse_rate_limits(headers)
        if limits is None:
            return
        who = credential.token_id or mask(credential.secret) or credential.mode.value
        self.bus.publish(
            RateLimitsObserved(provider.name, who, time.time(), upstream.status, limits)
        )
        if self._limits_heard is not None:
            self._limits_heard(provider.name, limits)

    def _response_started(self, exchange: Exchange, provider: ProviderConfig, status: int) -> None:
        ttfb_ms = (asyncio.get_running_loop().time() - exchange.started) * 1000
        self.bus.publish(
            ResponseStarted(exchange.request_id, exchange.attempt, provider.name, status, ttfb_ms)
        )

    async def _commit(
        self,
        exchange: Exchange,
        provider: ProviderConfig,
        upstream: aiohttp.ClientResponse,
        fmt: UpstreamFormat,
    ) -> web.StreamResponse:
        headers = fmt.response_headers(upstream.headers.items(), "text/event-stream")
        headers[PROVIDER_HEADER] = provider.name
        out = web.StreamResponse(status=upstream.status, headers=headers)
        exchange.committed = True
        await out.prepare(exchange.request)
        self._response_started(exchange, provider, upstream.status)
        return out

    async def _relay(
        self,
        exchange: Exchange,
        read: Reader,
        out: web.StreamResponse,
        first: bytes,
        observer: ResponseObserver,
        deadline: asyncio.Timeout,
        idle_s: float,
    ) -> Outcome:
        loop = asyncio.get_running_loop()
        # The idle deadline moves lazily, by idle_s + slack at most once per slack seconds:
        # moving a timer per chunk cost ~5% of a streaming proxy's CPU. It never fires
        # before idle_s of silence, and at most slack later.
        slack = idle_s / 64
        publish = self.bus.publish
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
                    return _client_gone(out, observer)
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
                return _client_gone(out, observer)
        if observer.error is not None:
            await _end(out)
            message = f"upstream error mid-stream: {observer.error[1]}"
            return Outcome.delivered(Failure.STREAM_ERROR, out, out.status, observer, message)
        if observer.unreadable:
            # Every byte went through as it came; the client still learns it was broken.
            return await self._broken(
                out, observer, f"upstream sent {observer.unreadable} malformed SSE event(s)"
            )
        if not observer.finished:
            return await self._broken(
                out, observer, "upstream ended the stream before message_stop"
            )
        await _end(out)
        return Outcome.delivered(Failure.OK, out, out.status, observer)

    @staticmethod
    async def _broken(out: web.StreamResponse, observer: ResponseObserver, message: str) -> Outcome:
        """The upstream failed after the client got bytes: tell the client in-band."""
        try:
            await out.write(error_event("api_error", f"ccm-tui: {message}"))
            await _end(out)
        except ConnectionResetError:
            pass
        return Outcome.delivered(Failure.STREAM_ERROR, out, out.status, observer, message)


def _client_gone(out: web.StreamResponse, observer: ResponseObserver) -> Outcome:
    return Outcome.delivered(Failure.CANCELLED, out, 499, observer, "client went away")


async def _end(out: web.StreamResponse) -> None:
    with contextlib.suppress(ConnectionResetError):
        await out.write_eof()
