"""The simulated upstream: one aiohttp app serving many named providers plus OAuth.

Requests under `/p/{provider}/...` belong to that provider; the same routes at
the root belong to "default". Each provider has a `Scenario` (healthy unless
told otherwise) and a bounded record of what it received, byte-exact, so tests
can assert what the proxy forwarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import urllib.parse
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDictProxy

from ccm_tui.sim import openai as oai
from ccm_tui.sim import wire
from ccm_tui.sim.oauth import (
    API_KEY_SCOPE,
    CLIENT_ID,
    DEFAULT_SCOPES,
    DERIVED_KEY_PREFIX,
    MSG_SCOPE,
    OAuthError,
    OAuthState,
    TokenGrant,
)
from ccm_tui.sim.scenario import HEALTHY, Scenario, scenario_from_json

DEFAULT_PROVIDER = "default"
OAUTH_PROVIDER = "oauth"
CREATE_KEY_PROVIDER = "create_api_key"

_JSON = "application/json"


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request as a provider received it: raw path, headers in original case, raw body."""

    method: str
    path_qs: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    def header(self, name: str) -> str | None:
        """The first header with this name, compared case-insensitively."""
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path_qs": self.path_qs,
            "headers": [list(h) for h in self.headers],
            "body": self.body.decode("utf-8", "replace"),
        }


class Simulator:
    """State shared by all simulated providers; serve it with `serve()` or embed `build_app`."""

    def __init__(
        self,
        *,
        token_lifetime_s: int = 28800,
        seed: int | None = 0,
        rotate_refresh_tokens: bool = True,
        max_drops_api_key_scope: bool = False,
        client_id: str = CLIENT_ID,
        history: int = 1000,
    ) -> None:
        self.oauth = OAuthState(
            client_id=client_id,
            token_lifetime_s=token_lifetime_s,
            rotate_refresh_tokens=rotate_refresh_tokens,
            max_drops_api_key_scope=max_drops_api_key_scope,
        )
        self.token_requests: list[dict[str, Any]] = []
        self._history = history
        self._scenarios: dict[str, Scenario] = {}
        self._fault_left: dict[str, int] = {}
        self._requests: dict[str, deque[RecordedRequest]] = {}
        self._served: dict[str, int] = {}
        self._rng = random.Random(seed)
        self._base_url: str | None = None
        self._closing: asyncio.Event | None = None
        self._in_flight: dict[str, int] = {}
        self._in_flight_waiters: list[tuple[str, int, asyncio.Future[None]]] = []

    # -- addresses -----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the simulator is not serving; use `async with sim.serve()`")
        return self._base_url

    def url(self, provider: str) -> str:
        """An Anthropic-format base URL for a simulated provider (the SDK appends `/v1/...`)."""
        return f"{self.base_url}/p/{provider}"

    def openai_url(self, provider: str) -> str:
        """An OpenAI-format base URL (`.../v1`, the client appends `/chat/completions`)."""
        return f"{self.base_url}/p/{provider}/v1"

    def authorize_url(self, kind: str = "max") -> str:
        """The authorize endpoint: "max" (claude.ai-like) or "console"."""
        prefix = "/console" if kind == "console" else ""
        return f"{self.base_url}{prefix}/oauth/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/v1/oauth/token"

    @property
    def create_api_key_url(self) -> str:
        return f"{self.base_url}/api/oauth/claude_cli/create_api_key"

    # -- scenarios -------------------------------------------------------------------

    def scenario(
        self, provider: str, scenario: Scenario | None = None, /, **fields: Any
    ) -> Scenario:
        """Replaces a provider's behaviour; with no arguments it is healthy again."""
        if scenario is not None and fields:
            raise TypeError("pass a Scenario or its fields, not both")
        new = scenario if scenario is not None else Scenario(**fields) if fields else HEALTHY
        if new == HEALTHY:
            self._scenarios.pop(provider, None)
        else:
            self._scenarios[provider] = new
        if new.times is None:
            self._fault_left.pop(provider, None)
        else:
            self._fault_left[provider] = new.times
        return new

    def get_scenario(self, provider: str) -> Scenario:
        return self._scenarios.get(provider, HEALTHY)

    def text(self, provider: str) -> str:
        """The text this provider answers with."""
        scenario = self._scenarios.get(provider)
        if scenario is not None and scenario.text is not None:
            return scenario.text
        return f"Hello from {provider}."

    def _fault(self, provider: str) -> tuple[Scenario, bool]:
        """The provider's scenario and whether its fault applies to this request."""
        scenario = self._scenarios.get(provider, HEALTHY)
        if not scenario.has_fault:
            return scenario, False
        left = 0
        if scenario.times is not None:
            left = self._fault_left.get(provider, 0)
            if left <= 0:
                return scenario, False
        if scenario.probability is not None and self._rng.random() >= scenario.probability:
            return scenario, False
        if scenario.times is not None:
            self._fault_left[provider] = left - 1
        return scenario, True

    # -- records -------------------------------------------------------------------------

    def requests(self, provider: str) -> list[RecordedRequest]:
        """What this provider received, oldest first (the last `history` requests)."""
        return list(self._requests.get(provider, ()))

    def clear_requests(self, provider: str | None = None) -> None:
        """Forgets one provider's records, or all of them (and `token_requests`) by default."""
        if provider is None:
            self._requests.clear()
            self.token_requests.clear()
        else:
            self._requests.pop(provider, None)

    def _record(self, provider: str, request: web.BaseRequest, body: bytes) -> None:
        queue = self._requests.get(provider)
        if queue is None:
            queue = self._requests[provider] = deque(maxlen=self._history)
        queue.append(
            RecordedRequest(
                request.method,
                request.raw_path,
                tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers),
                body,
            )
        )

    # -- in-flight requests ----------------------------------------------------------------

    def in_flight(self, provider: str) -> int:
        """How many of this provider's requests are being answered right now (streams included)."""
        return self._in_flight.get(provider, 0)

    async def wait_in_flight(self, provider: str, count: int = 0, timeout: float = 5.0) -> None:
        """Waits until `in_flight(provider) == count`, e.g. 0 once a cancelled stream is gone."""
        if self.in_flight(provider) == count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiter = (provider, count, future)
        self._in_flight_waiters.append(waiter)
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            self._in_flight_waiters.remove(waiter)

    def _track(self, provider: str, delta: int) -> None:
        now = self._in_flight[provider] = self._in_flight.get(provider, 0) + delta
        for name, count, future in self._in_flight_waiters:
            if name == provider and count == now and not future.done():
                future.set_result(None)

    @property
    def authorize_requests(self) -> list[dict[str, str]]:
        """Every approved authorize call: kind (max/console), client_id, scope, challenge, state."""
        return self.oauth.authorize_requests

    # -- OAuth shortcuts ---------------------------------------------------------------------

    def issue_tokens(
        self, scopes: Iterable[str] = DEFAULT_SCOPES, lifetime_s: int | None = None
    ) -> TokenGrant:
        """Mints a valid token pair without the browser dance (tests, demo seeding)."""
        return self.oauth.issue(scopes, lifetime_s)

    def expire(self, access_token: str) -> None:
        self.oauth.expire(access_token)

    def revoke_api_key(self, key: str) -> None:
        self.oauth.revoke_api_key(key)

    # -- serving -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def serve(self, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
        """Serves on host:port (0 picks a free port) and yields the base URL."""
        runner = web.AppRunner(
            build_app(self),
            access_log=None,
            handler_cancellation=True,
            shutdown_timeout=0.5,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, backlog=1024)
            await site.start()
            real_port = runner.addresses[0][1]
            shown = f"[{host}]" if ":" in host else host
            self._base_url = f"http://{shown}:{real_port}"
            yield self._base_url
        finally:
            self._base_url = None
            await runner.cleanup()


# ------------------------------------------------------------------------------------------
# Handlers


def _json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(payload), content_type=_JSON, headers=headers
    )


class _Routes:
    """The request handlers, bound to one Simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    # -- plumbing -----------------------------------------------------------------------

    def _closing(self) -> asyncio.Event:
        if self.sim._closing is None:
            self.sim._closing = asyncio.Event()
        return self.sim._closing

    @staticmethod
    def _drop(request: web.BaseRequest) -> None:
        """Ends the TCP connection with no clean HTTP end (sending what is already written)."""
        transport = request.transport
        if transport is None:
            return
        if transport.get_write_buffer_size():
            transport.close()
        else:
            transport.abort()

    async def _stall(self, request: web.BaseRequest) -> None:
        """Sends nothing more until the client leaves or the simulator shuts down."""
        closing = self._closing()
        while True:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            # The runner from `serve()` cancels this handler the moment the client goes;
            # the short poll covers apps embedded without handler cancellation.
            try:
                await asyncio.wait_for(closing.wait(), 0.1)
            except TimeoutError:
                continue
            self._drop(request)
            return

    async def _begin(
        self, request: web.BaseRequest, provider: str
    ) -> tuple[bytes, Scenario, bool] | None:
        """Reads and records the request, applies refusal and latency; None when refused."""
        body = await request.read()
        self.sim._record(provider, request, body)
        scenario, fault = self.sim._fault(provider)
        if fault:
            if scenario.refuse:
                self._drop(request)
                return None
            if scenario.latency_ms:
                await asyncio.sleep(scenario.latency_ms / 1000)
        return body, scenario, fault

    def _headers(
        self, provider: str, scenario: Scenario, fault: bool, request_id: str, input_tokens: int
    ) -> dict[str, str]:
        served = self.sim._served.get(provider, 0)
        self.sim._served[provider] = served + 1
        headers = wire.rate_limit_headers(
            wire.RATE_LIMIT_REQUESTS - 1 - served % wire.RATE_LIMIT_REQUESTS, input_tokens
        )
        headers["request-id"] = request_id
        if scenario.headers:
            headers.update(scenario.headers)
        if fault:
            if scenario.retry_after is not None:
                headers["retry-after"] = str(scenario.retry_after)
            if scenario.should_retry is not None:
                headers["x-should-retry"] = "true" if scenario.should_retry else "false"
        return headers

    @staticmethod
    def _error(
        status: int, error_type: str | None, message: str | None, headers: dict[str, str]
    ) -> web.Response:
        body = wire.error_body(status, error_type, message, headers["request-id"])
        return web.Response(status=status, body=body, content_type=_JSON, headers=headers)

    def _fault_error(self, scenario: Scenario, headers: dict[str, str]) -> web.Response:
        assert scenario.status is not None
        return self._error(scenario.status, scenario.error_type, scenario.error_message, headers)

    async def _send_body(
        self,
        request: web.BaseRequest,
        scenario: Scenario,
        fault: bool,
        body: bytes,
        headers: dict[str, str],
        content_type: str = _JSON,
    ) -> web.StreamResponse:
        """A complete (non-stream) 200 body, with the body-level faults when they apply."""
        if not fault or not (
            scenario.first_byte_delay_ms
            or scenario.malformed
            or scenario.stall_after_events is not None
            or scenario.disconnect_after_events is not None
        ):
            return web.Response(body=body, content_type=content_type, headers=headers)
        if scenario.malformed:
            body = body[: len(body) // 2]
        response = web.StreamResponse(headers=headers)
        response.content_type = content_type
        response.content_length = len(body)
        await response.prepare(request)
        if scenario.first_byte_delay_ms:
            await asyncio.sleep(scenario.first_byte_delay_ms / 1000)
        if scenario.stall_after_events is not None:
            await self._stall(request)
            return response
        try:
            if scenario.disconnect_after_events is not None:
                await response.write(body[: len(body) // 2])
                self._drop(request)
                return response
            await response.write(body)
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client left during the delay
        return response

    async def _send_stream(
        self,
        request: web.BaseRequest,
        scenario: Scenario,
        fault: bool,
        frames: list[bytes],
        headers: dict[str, str],
        error_frame: Callable[[str, str], bytes] = wire.stream_error_frame,
        malformed_at: bytes = b"event: content_block_delta",
    ) -> web.StreamResponse:
        """Writes each SSE event as its own chunk; applies the stream faults when they apply."""
        headers["Cache-Control"] = "no-cache"
        response = web.StreamResponse(headers=headers)
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        await response.prepare(request)
        try:
            if not fault:
                for frame in frames:
                    await response.write(frame)
            elif not await self._write_faulty(
                request, response, scenario, frames, error_frame, malformed_at
            ):
                return response
            await response.write_eof()
        except ConnectionResetError:
            # The client went away mid-stream: nothing left to do (and nothing worth logging).
            pass
        return response

    async def _write_faulty(
        self,
        request: web.BaseRequest,
        response: web.StreamResponse,
        scenario: Scenario,
        frames: list[bytes],
        error_frame: Callable[[str, str], bytes],
        malformed_at: bytes,
    ) -> bool:
        """Writes a stream with its faults; False when it must not end cleanly."""
        if scenario.first_byte_delay_ms:
            await asyncio.sleep(scenario.first_byte_delay_ms / 1000)
        if scenario.malformed:
            at = next((i for i, f in enumerate(frames) if f.startswith(malformed_at)), 1)
            frames = [*frames[:at], wire.broken_frame(frames[at]), *frames[at + 1 :]]
        if scenario.error_after_events is not None:
            frames = [
                *frames[: scenario.error_after_events],
                error_frame(
                    scenario.error_type or "overloaded_error",
                    scenario.error_message or "Overloaded",
                ),
            ]
        interval = scenario.event_interval_ms / 1000
        stall_at = scenario.stall_after_events
        drop_at = scenario.disconnect_after_events
        for i, frame in enumerate(frames):
            if i == stall_at:
                break
            if i == drop_at:
                self._drop(request)
                return False
            if interval and i:
                await asyncio.sleep(interval)
            if scenario.split_events:
                cut = frame.find(b"\ndata: ") + 10
                await response.write(frame[:cut])
                # A pause long enough that the halves reach the client as separate reads.
                await asyncio.sleep(interval / 2 if interval else 0.005)
                await response.write(frame[cut:])
            else:
                await response.write(frame)
        if stall_at is not None:
            await self._stall(request)
            return False
        if drop_at is not None:
            self._drop(request)
            return False
        return True

    def _authenticate(
        self, headers: CIMultiDictProxy[str], scenario: Scenario, body: Any, shape: bool
    ) -> bool:
        """The credential gates of the real API, in its order; True for an OAuth token.

        Raises RequestError with the real API's status and wording.
        """
        api_key = headers.get("x-api-key")
        authorization = headers.get("authorization")
        if api_key is not None and authorization is not None:
            raise wire.RequestError(401, "authentication_error", wire.MSG_BOTH_CREDENTIALS)
        bearer = None
        if authorization is not None:
            scheme, _, credential = authorization.partition(" ")
            bearer = credential.strip()
            if scheme.lower() != "bearer" or not bearer:
                raise wire.RequestError(401, "authentication_error", wire.MSG_INVALID_BEARER)
        if bearer is not None and bearer.startswith("sk-ant-oat"):
            betas = {b.strip() for b in headers.get("anthropic-beta", "").split(",")}
            if wire.OAUTH_BETA not in betas:
                raise wire.RequestError(401, "authentication_error", wire.MSG_OAUTH_UNSUPPORTED)
            status, _ = self.sim.oauth.access_status(bearer)
            if status == "unknown":
                raise wire.RequestError(401, "authentication_error", wire.MSG_INVALID_BEARER)
            if status == "expired":
                raise wire.RequestError(401, "authentication_error", wire.MSG_OAUTH_EXPIRED)
            if scenario.claude_code_only or (
                shape and not wire.looks_like_claude_code(body, headers.get("user-agent", ""))
            ):
                raise wire.RequestError(400, "invalid_request_error", wire.MSG_CLAUDE_CODE_ONLY)
            return True
        key = api_key if api_key is not None else bearer
        if key is None:
            if scenario.api_key is not None or scenario.require_auth:
                raise wire.RequestError(401, "authentication_error", wire.MSG_KEY_REQUIRED)
        elif key.startswith(DERIVED_KEY_PREFIX):
            if not self.sim.oauth.api_key_valid(key):
                raise wire.RequestError(401, "authentication_error", wire.MSG_INVALID_KEY)
        elif scenario.api_key is not None and key != scenario.api_key:
            raise wire.RequestError(401, "authentication_error", wire.MSG_INVALID_KEY)
        return False

    @staticmethod
    def _check_model(scenario: Scenario, model: str) -> None:
        if scenario.models is not None and model not in scenario.models:
            raise wire.RequestError(404, "not_found_error", f"model: {model}")

    # -- Anthropic API ----------------------------------------------------------------------

    async def messages(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info.get("provider", DEFAULT_PROVIDER)
        begun = await self._begin(request, provider)
        if begun is None:
            return web.Response()
        raw, scenario, fault = begun
        headers = self._headers(provider, scenario, fault, wire.new_id("req_"), len(raw) // 4)
        try:
            if len(raw) > wire.MAX_BODY_BYTES:
                raise wire.RequestError(413, "request_too_large", wire.ERROR_TYPES[413][1])
            body = wire.parse_json(raw)
            wire.validate_messages_request(body, need_max_tokens=True)
            if self._authenticate(request.headers, scenario, body, shape=True):
                wire.add_unified_headers(headers)
            self._check_model(scenario, body["model"])
            if fault and scenario.status is not None:
                return self._fault_error(scenario, headers)
            reply = wire.build_reply(
                body, len(raw), self.sim.text(provider), scenario.output_chunks
            )
        except wire.RequestError as exc:
            return self._error(exc.status, exc.error_type, exc.message, headers)
        if body.get("stream") is True:
            return await self._send_stream(
                request, scenario, fault, wire.stream_frames(reply), headers
            )
        return await self._send_body(request, scenario, fault, wire.message_json(reply), headers)

    async def count_tokens(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info.get("provider", DEFAULT_PROVIDER)
        begun = await self._begin(request, provider)
        if begun is None:
            return web.Response()
        raw, scenario, fault = begun
        tokens = wire.estimate_tokens(len(raw))
        headers = self._headers(provider, scenario, fault, wire.new_id("req_"), tokens)
        try:
            body = wire.parse_json(raw)
            wire.validate_messages_request(body, need_max_tokens=False)
            self._authenticate(request.headers, scenario, body, shape=False)
            self._check_model(scenario, body["model"])
        except wire.RequestError as exc:
            return self._error(exc.status, exc.error_type, exc.message, headers)
        if fault and scenario.status is not None:
            return self._fault_error(scenario, headers)
        payload = orjson.dumps({"input_tokens": tokens})
        return await self._send_body(request, scenario, fault, payload, headers)

    async def models(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info.get("provider", DEFAULT_PROVIDER)
        begun = await self._begin(request, provider)
        if begun is None:
            return web.Response()
        _, scenario, fault = begun
        headers = self._headers(provider, scenario, fault, wire.new_id("req_"), 0)
        model_id = request.match_info.get("model_id")
        try:
            self._authenticate(request.headers, scenario, {}, shape=False)
            if fault and scenario.status is not None:
                return self._fault_error(scenario, headers)
            if model_id is None:
                payload = wire.models_json(scenario.models)
            else:
                entry = wire.model_entry(scenario.models, model_id)
                if entry is None:
                    raise wire.RequestError(404, "not_found_error", f"model: {model_id}")
                payload = orjson.dumps(entry)
        except wire.RequestError as exc:
            return self._error(exc.status, exc.error_type, exc.message, headers)
        return await self._send_body(request, scenario, fault, payload, headers)

    async def hello(self, request: web.Request) -> web.StreamResponse:
        """Claude Code's connection-warming probes (`HEAD /`, `HEAD /api/hello`)."""
        provider = request.match_info.get("provider", DEFAULT_PROVIDER)
        self.sim._record(provider, request, b"")
        return web.Response()

    # -- OpenAI-compatible ---------------------------------------------------------------------

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info.get("provider", DEFAULT_PROVIDER)
        begun = await self._begin(request, provider)
        if begun is None:
            return web.Response()
        raw, scenario, fault = begun
        headers = {"x-request-id": wire.new_id("req_")}
        if scenario.headers:
            headers.update(scenario.headers)
        if fault and scenario.retry_after is not None:
            headers["retry-after"] = str(scenario.retry_after)
        try:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                raise oai.OpenAIError(
                    400,
                    "invalid_request_error",
                    "We could not parse the JSON body of your request.",
                ) from None
            oai.validate(body)
            oai.authenticate(request.headers.get("authorization"), scenario)
            if scenario.models is not None and body["model"] not in scenario.models:
                raise oai.OpenAIError(
                    404,
                    "invalid_request_error",
                    f"The model `{body['model']}` does not exist or you do not have access to it.",
                    "model_not_found",
                )
            if fault and scenario.status is not None:
                raise oai.fault_error(scenario)
            reply = oai.build_reply(body, len(raw), self.sim.text(provider), scenario.output_chunks)
        except oai.OpenAIError as exc:
            return web.Response(
                status=exc.status, body=exc.body(), content_type=_JSON, headers=headers
            )
        if body.get("stream") is True:
            return await self._send_stream(
                request,
                scenario,
                fault,
                oai.stream_frames(reply, body),
                headers,
                error_frame=oai.stream_error_frame,
                malformed_at=b"data: ",
            )
        return await self._send_body(request, scenario, fault, oai.completion_json(reply), headers)

    # -- OAuth ----------------------------------------------------------------------------------

    async def authorize(self, request: web.Request) -> web.StreamResponse:
        """Simulates the user approving at claude.ai (Pro/Max) or the Console."""
        kind = "console" if request.path.startswith("/console/") else "max"
        try:
            line = self.sim.oauth.authorize(kind, request.query)
        except OAuthError as exc:
            return web.Response(
                status=exc.status,
                text=f"{exc.error}: {exc.description}\n",
                content_type="text/plain",
            )
        return web.Response(text=line, content_type="text/plain")

    async def oauth_token(self, request: web.Request) -> web.StreamResponse:
        begun = await self._begin(request, OAUTH_PROVIDER)
        raw = await request.read()
        data: Any
        if request.content_type == "application/x-www-form-urlencoded":
            data = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace")))
        else:
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                data = None
        self.sim.token_requests.append(
            data if isinstance(data, dict) else {"_raw": raw.decode("utf-8", "replace")}
        )
        if begun is None:
            return web.Response()
        _, scenario, fault = begun
        headers: dict[str, str] = dict(scenario.headers)
        if fault:
            if scenario.retry_after is not None:
                headers["retry-after"] = str(scenario.retry_after)
            if scenario.status is not None:
                error = scenario.error_type or _OAUTH_ERRORS.get(scenario.status, "server_error")
                return _json_response(
                    scenario.status,
                    {
                        "error": error,
                        "error_description": scenario.error_message or error.replace("_", " "),
                    },
                    headers,
                )
        if data is None:
            return _json_response(
                400,
                {"error": "invalid_request", "error_description": "Request body is not valid JSON"},
                headers,
            )
        try:
            grant = self.sim.oauth.token(data)
        except OAuthError as exc:
            return _json_response(exc.status, exc.to_json(), headers)
        return await self._send_body(
            request, scenario, fault, orjson.dumps(grant.to_json()), headers
        )

    async def create_api_key(self, request: web.Request) -> web.StreamResponse:
        begun = await self._begin(request, CREATE_KEY_PROVIDER)
        if begun is None:
            return web.Response()
        _, scenario, fault = begun
        headers = self._headers(CREATE_KEY_PROVIDER, scenario, fault, wire.new_id("req_"), 0)
        if fault and scenario.status is not None:
            return self._fault_error(scenario, headers)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return self._error(401, "authentication_error", wire.MSG_INVALID_BEARER, headers)
        status, scopes = self.sim.oauth.access_status(token)
        if status == "unknown":
            return self._error(401, "authentication_error", wire.MSG_INVALID_BEARER, headers)
        if status == "expired":
            return self._error(401, "authentication_error", wire.MSG_OAUTH_EXPIRED, headers)
        if API_KEY_SCOPE not in scopes:
            return self._error(403, "permission_error", MSG_SCOPE, headers)
        payload = orjson.dumps(self.sim.oauth.create_api_key(token))
        return await self._send_body(request, scenario, fault, payload, headers)

    async def not_found(self, request: web.Request) -> web.StreamResponse:
        request_id = wire.new_id("req_")
        body = wire.error_body(404, "not_found_error", "Not Found", request_id)
        return web.Response(
            status=404, body=body, content_type=_JSON, headers={"request-id": request_id}
        )

    # -- control API ------------------------------------------------------------------------------

    async def put_scenario(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info["provider"]
        raw = await request.read()
        try:
            data = orjson.loads(raw) if raw.strip() else {}
            scenario = scenario_from_json(data)
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            return _json_response(400, {"error": str(exc)})
        self.sim.scenario(provider, scenario)
        return _json_response(200, {"provider": provider, "scenario": scenario.to_json()})

    async def get_scenario(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info["provider"]
        scenario = self.sim.get_scenario(provider)
        return _json_response(200, {"provider": provider, "scenario": scenario.to_json()})

    async def get_requests(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info["provider"]
        return _json_response(200, [r.to_json() for r in self.sim.requests(provider)])

    async def delete_requests(self, request: web.Request) -> web.StreamResponse:
        self.sim.clear_requests(request.match_info.get("provider"))
        return _json_response(200, {"cleared": True})

    async def get_token_requests(self, request: web.Request) -> web.StreamResponse:
        return _json_response(200, self.sim.token_requests)

    @staticmethod
    async def _control_body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        data = orjson.loads(raw) if raw.strip() else {}
        if not isinstance(data, dict):
            raise ValueError("body must be a JSON object")
        return data

    async def post_tokens(self, request: web.Request) -> web.StreamResponse:
        try:
            data = await self._control_body(request)
            unknown = sorted(set(data) - {"scopes", "lifetime_s"})
            if unknown:
                raise ValueError(f"unknown field: {', '.join(unknown)}")
            scopes = data.get("scopes", list(DEFAULT_SCOPES))
            if isinstance(scopes, str):
                scopes = scopes.split()
            lifetime = data.get("lifetime_s")
            if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
                raise ValueError("scopes: expected a list of strings")
            if lifetime is not None and not isinstance(lifetime, int):
                raise ValueError("lifetime_s: expected an integer")
        except (orjson.JSONDecodeError, ValueError) as exc:
            return _json_response(400, {"error": str(exc)})
        grant = self.sim.issue_tokens(scopes, lifetime)
        return _json_response(
            200, {**grant.to_json(), "expires_at": grant.expires_at, "scopes": list(grant.scopes)}
        )

    async def post_expire(self, request: web.Request) -> web.StreamResponse:
        try:
            data = await self._control_body(request)
            self.sim.expire(data["access_token"])
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
            return _json_response(400, {"error": f"expected a known access_token ({exc})"})
        return _json_response(200, {"expired": True})

    async def post_revoke(self, request: web.Request) -> web.StreamResponse:
        try:
            data = await self._control_body(request)
            self.sim.revoke_api_key(data["key"])
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
            return _json_response(400, {"error": f"expected a key ({exc})"})
        return _json_response(200, {"revoked": True})


_OAUTH_ERRORS = {
    400: "invalid_request",
    401: "invalid_client",
    403: "access_denied",
    429: "rate_limit_exceeded",
    503: "temporarily_unavailable",
    529: "temporarily_unavailable",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(sim: Simulator) -> web.Application:
    """The simulator as an aiohttp app, for embedding in another runner or test server."""
    # Large enough for any request the real API accepts; bigger bodies get its 413.
    app = web.Application(client_max_size=wire.MAX_BODY_BYTES * 2)
    routes = _Routes(sim)

    async def on_startup(_: web.Application) -> None:
        sim._closing = asyncio.Event()

    async def on_shutdown(_: web.Application) -> None:
        if sim._closing is not None:
            sim._closing.set()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)

    def tracked(handler: Handler) -> Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            provider = request.match_info.get("provider", DEFAULT_PROVIDER)
            sim._track(provider, 1)
            try:
                return await handler(request)
            finally:
                sim._track(provider, -1)

        return handle

    api: list[tuple[str, str, Handler]] = [
        ("POST", "/v1/messages", routes.messages),
        ("POST", "/v1/messages/count_tokens", routes.count_tokens),
        ("GET", "/v1/models", routes.models),
        ("GET", "/v1/models/{model_id}", routes.models),
        ("POST", "/v1/chat/completions", routes.chat_completions),
        ("HEAD", "/api/hello", routes.hello),
    ]
    router = app.router
    for method, path, handler in api:
        router.add_route(method, path, tracked(handler))
        router.add_route(method, "/p/{provider}" + path, tracked(handler))
    router.add_route("HEAD", "/", routes.hello)
    router.add_route("HEAD", "/p/{provider}", routes.hello)
    router.add_route("HEAD", "/p/{provider}/", routes.hello)

    router.add_get("/oauth/authorize", routes.authorize, allow_head=False)
    router.add_get("/console/oauth/authorize", routes.authorize, allow_head=False)
    router.add_post("/v1/oauth/token", routes.oauth_token)
    router.add_post("/api/oauth/claude_cli/create_api_key", routes.create_api_key)

    router.add_put("/_sim/scenario/{provider}", routes.put_scenario)
    router.add_get("/_sim/scenario/{provider}", routes.get_scenario, allow_head=False)
    router.add_get("/_sim/requests/{provider}", routes.get_requests, allow_head=False)
    router.add_delete("/_sim/requests", routes.delete_requests)
    router.add_delete("/_sim/requests/{provider}", routes.delete_requests)
    router.add_get("/_sim/token_requests", routes.get_token_requests, allow_head=False)
    router.add_post("/_sim/tokens", routes.post_tokens)
    router.add_post("/_sim/expire", routes.post_expire)
    router.add_post("/_sim/revoke_api_key", routes.post_revoke)
    # Last, so it only sees what nothing else matched: the API's own 404 shape.
    router.add_route("*", "/{tail:.*}", routes.not_found)
    return app
