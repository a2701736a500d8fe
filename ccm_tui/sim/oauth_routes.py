"""The OAuth endpoints: authorize (the user's approval, simulated), token grants and
refreshes, and the derived API key Claude Code creates from a Console login."""

from __future__ import annotations

import urllib.parse
from typing import Any

import orjson
from aiohttp import web

from ccm_tui.sim import delivery, wire
from ccm_tui.sim.endpoint import Endpoint
from ccm_tui.sim.oauth import API_KEY_SCOPE, MSG_SCOPE, OAuthError
from ccm_tui.sim.state import CREATE_KEY_PROVIDER, OAUTH_PROVIDER, SimState

_OAUTH_ERRORS = {
    400: "invalid_request",
    401: "invalid_client",
    403: "access_denied",
    429: "rate_limit_exceeded",
    503: "temporarily_unavailable",
    529: "temporarily_unavailable",
}


class OAuthRoutes:
    """The OAuth endpoints, bound to one simulator's state."""

    def __init__(self, sim: SimState) -> None:
        self.sim = sim

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
        begun = await delivery.begin(self.sim, request, OAUTH_PROVIDER)
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
                return delivery.json_response(
                    scenario.status,
                    {
                        "error": error,
                        "error_description": scenario.error_message or error.replace("_", " "),
                    },
                    headers,
                )
        if data is None:
            return delivery.json_response(
                400,
                {"error": "invalid_request", "error_description": "Request body is not valid JSON"},
                headers,
            )
        try:
            grant = self.sim.oauth.token(data)
        except OAuthError as exc:
            return delivery.json_response(exc.status, exc.to_json(), headers)
        return await delivery.send_body(
            self.sim, request, scenario, fault, orjson.dumps(grant.to_json()), headers
        )

    async def create_api_key(self, request: web.Request) -> web.StreamResponse:
        begun = await delivery.begin(self.sim, request, CREATE_KEY_PROVIDER)
        if begun is None:
            return web.Response()
        _, scenario, fault = begun
        headers = delivery.answer_headers(
            self.sim, CREATE_KEY_PROVIDER, scenario, fault, wire.new_id("req_"), 0
        )
        if fault and scenario.status is not None:
            return delivery.fault_error(scenario, headers)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return delivery.error(401, "authentication_error", wire.MSG_INVALID_BEARER, headers)
        status, scopes = self.sim.oauth.access_status(token)
        if status == "unknown":
            return delivery.error(401, "authentication_error", wire.MSG_INVALID_BEARER, headers)
        if status == "expired":
            return delivery.error(401, "authentication_error", wire.MSG_OAUTH_EXPIRED, headers)
        if API_KEY_SCOPE not in scopes:
            return delivery.error(403, "permission_error", MSG_SCOPE, headers)
        payload = orjson.dumps(self.sim.oauth.create_api_key(token))
        return await delivery.send_body(self.sim, request, scenario, fault, payload, headers)


ENDPOINTS = (
    Endpoint(
        "GET",
        "/oauth/authorize",
        OAuthRoutes.authorize,
        "a login, approved at once: answers CODE#STATE",
    ),
    Endpoint("GET", "/console/oauth/authorize", OAuthRoutes.authorize, "the same, as the Console"),
    Endpoint(
        "POST",
        "/v1/oauth/token",
        OAuthRoutes.oauth_token,
        "grant or refresh tokens (faults: provider `oauth`)",
    ),
    Endpoint(
        "POST",
        "/api/oauth/claude_cli/create_api_key",
        OAuthRoutes.create_api_key,
        "a key derived from an access token (faults: provider `create_api_key`)",
    ),
)
