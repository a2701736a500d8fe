"""The endpoints a model is asked through: the Anthropic Messages API (messages,
count_tokens, models, the connection probes) and the OpenAI-compatible chat completions.

Each checks a request as the real service does (body, credentials, model), then answers
through `delivery`, which applies the provider's scenario.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDictProxy

from ccm_tui.sim import delivery, limits, reply, wire
from ccm_tui.sim import openai as oai
from ccm_tui.sim.endpoint import Endpoint
from ccm_tui.sim.oauth import DERIVED_KEY_PREFIX
from ccm_tui.sim.scenario import Scenario
from ccm_tui.sim.state import DEFAULT_PROVIDER, SimState


class ModelRoutes:
    """The model endpoints, bound to one simulator's state."""

    def __init__(self, sim: SimState) -> None:
        self.sim = sim

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

    def _refused_by_plan(self, provider: str, scenario: Scenario, headers: dict[str, str]) -> bool:
        """A subscription at its limit: the unified headers say so, and when it resets."""
        now = time.time()
        wait = self.sim.plans.rejected_for(provider, scenario, now)
        headers.update(self.sim.plans.headers(provider, scenario, now))
        if wait is None:
            return False
        headers["retry-after"] = str(max(1, int(wait + 0.999)))
        return True

    @staticmethod
    def _check_model(scenario: Scenario, model: str) -> None:
        if scenario.models is not None and model not in scenario.models:
            raise wire.RequestError(404, "not_found_error", f"model: {model}")

    # -- Anthropic API ----------------------------------------------------------------------

    async def messages(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info.get("provider", DEFAULT_PROVIDER)
        begun = await delivery.begin(self.sim, request, provider)
        if begun is None:
            return web.Response()
        raw, scenario, fault = begun
        headers = delivery.answer_headers(
            self.sim, provider, scenario, fault, wire.new_id("req_"), len(raw) // 4
        )
        try:
            if len(raw) > wire.MAX_BODY_BYTES:
                raise wire.RequestError(413, "request_too_large", wire.ERROR_TYPES[413][1])
            body = wire.parse_json(raw)
            wire.validate_messages_request(body, need_max_tokens=True)
            oauth = self._authenticate(request.headers, scenario, body, shape=True)
            self._check_model(scenario, body["model"])
            if fault and scenario.status is not None:
                return delivery.fault_error(scenario, headers)
            if oauth and self._refused_by_plan(provider, scenario, headers):
                raise wire.RequestError(429, "rate_limit_error", limits.REJECTED_MESSAGE)
            answer = reply.build_reply(
                body, len(raw), self.sim.text(provider), scenario.output_chunks
            )
            if oauth:
                now = time.time()
                tokens = answer.input_tokens + answer.output_tokens
                self.sim.plans.charge(provider, scenario, tokens, now)
                headers.update(self.sim.plans.headers(provider, scenario, now))
        except wire.RequestError as exc:
            return delivery.error(exc.status, exc.error_type, exc.message, headers)
        if body.get("stream") is True:
            return await delivery.send_stream(
                self.sim, request, scenario, fault, reply.stream_frames(answer), headers
            )
        return await delivery.send_body(
            self.sim, request, scenario, fault, reply.message_json(answer), headers
        )

    async def count_tokens(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info.get("provider", DEFAULT_PROVIDER)
        begun = await delivery.begin(self.sim, request, provider)
        if begun is None:
            return web.Response()
        raw, scenario, fault = begun
        tokens = wire.estimate_tokens(len(raw))
        headers = delivery.answer_headers(
            self.sim, provider, scenario, fault, wire.new_id("req_"), tokens
        )
        try:
            body = wire.parse_json(raw)
            wire.validate_messages_request(body, need_max_tokens=False)
            self._authenticate(request.headers, scenario, body, shape=False)
            self._check_model(scenario, body["model"])
        except wire.RequestError as exc:
            return delivery.error(exc.status, exc.error_type, exc.message, headers)
        if fault and scenario.status is not None:
            return delivery.fault_error(scenario, headers)
        payload = orjson.dumps({"input_tokens": tokens})
        return await delivery.send_body(self.sim, request, scenario, fault, payload, headers)

    async def models(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info.get("provider", DEFAULT_PROVIDER)
        begun = await delivery.begin(self.sim, request, provider)
        if begun is None:
            return web.Response()
        _, scenario, fault = begun
        headers = delivery.answer_headers(
            self.sim, provider, scenario, fault, wire.new_id("req_"), 0
        )
        model_id = request.match_info.get("model_id")
        try:
            self._authenticate(request.headers, scenario, {}, shape=False)
            if fault and scenario.status is not None:
                return delivery.fault_error(scenario, headers)
            if model_id is None:
                payload = wire.models_json(scenario.models)
            else:
                entry = wire.model_entry(scenario.models, model_id)
                if entry is None:
                    raise wire.RequestError(404, "not_found_error", f"model: {model_id}")
                payload = orjson.dumps(entry)
        except wire.RequestError as exc:
            return delivery.error(exc.status, exc.error_type, exc.message, headers)
        return await delivery.send_body(self.sim, request, scenario, fault, payload, headers)

    async def hello(self, request: web.Request) -> web.StreamResponse:
        """Claude Code's connection-warming probes (`HEAD /`, `HEAD /api/hello`)."""
        provider = request.match_info.get("provider", DEFAULT_PROVIDER)
        self.sim.record_request(provider, request, b"")
        return web.Response()

    # -- OpenAI-compatible ---------------------------------------------------------------------

    async def chat_completions(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info.get("provider", DEFAULT_PROVIDER)
        begun = await delivery.begin(self.sim, request, provider)
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
            answer = oai.build_reply(
                body, len(raw), self.sim.text(provider), scenario.output_chunks
            )
        except oai.OpenAIError as exc:
            return web.Response(
                status=exc.status, body=exc.body(), content_type=delivery.JSON, headers=headers
            )
        if body.get("stream") is True:
            return await delivery.send_stream(
                self.sim,
                request,
                scenario,
                fault,
                oai.stream_frames(answer, body),
                headers,
                error_frame=oai.stream_error_frame,
                malformed_at=b"data: ",
            )
        return await delivery.send_body(
            self.sim, request, scenario, fault, oai.completion_json(answer), headers
        )


ENDPOINTS = (
    Endpoint("POST", "/v1/messages", ModelRoutes.messages, "the Messages API (JSON or SSE)", True),
    Endpoint(
        "POST",
        "/v1/messages/count_tokens",
        ModelRoutes.count_tokens,
        "a token count (about 4 characters a token)",
        True,
    ),
    Endpoint(
        "GET",
        "/v1/models",
        ModelRoutes.models,
        "the model list (the scenario's `models` if set)",
        True,
    ),
    Endpoint("GET", "/v1/models/{model_id}", ModelRoutes.models, "one model", True),
    Endpoint(
        "POST",
        "/v1/chat/completions",
        ModelRoutes.chat_completions,
        "OpenAI-compatible chat completions (JSON or SSE)",
        True,
    ),
    Endpoint("HEAD", "/api/hello", ModelRoutes.hello, "Claude Code's connection probe", True),
    Endpoint("HEAD", "/", ModelRoutes.hello, "the same probe", True),
)


async def not_found(request: web.Request) -> web.StreamResponse:
    """Anything no route matched, in the API's own 404 shape."""
    request_id = wire.new_id("req_")
    body = wire.error_body(404, "not_found_error", "Not Found", request_id)
    return web.Response(
        status=404, body=body, content_type=delivery.JSON, headers={"request-id": request_id}
    )
