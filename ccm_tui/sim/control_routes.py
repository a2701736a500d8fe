"""The control API under `/_sim/`: set a provider's scenario, read what it received, mint,
expire and revoke credentials. Tests, the demo and `python -m ccm_tui.sim` steer with it."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from ccm_tui.sim import delivery
from ccm_tui.sim.endpoint import Endpoint
from ccm_tui.sim.oauth import DEFAULT_SCOPES
from ccm_tui.sim.scenario import scenario_from_json
from ccm_tui.sim.state import SimState


class ControlRoutes:
    """The control endpoints, bound to one simulator's state."""

    def __init__(self, sim: SimState) -> None:
        self.sim = sim

    # -- control API ------------------------------------------------------------------------------

    async def put_scenario(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info["provider"]
        raw = await request.read()
        try:
            data = orjson.loads(raw) if raw.strip() else {}
            scenario = scenario_from_json(data)
        except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
            return delivery.json_response(400, {"error": str(exc)})
        self.sim.scenario(provider, scenario)
        return delivery.json_response(200, {"provider": provider, "scenario": scenario.to_json()})

    async def get_scenario(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info["provider"]
        scenario = self.sim.get_scenario(provider)
        return delivery.json_response(200, {"provider": provider, "scenario": scenario.to_json()})

    async def get_requests(self, request: web.Request) -> web.StreamResponse:
        provider = request.match_info["provider"]
        return delivery.json_response(200, [r.to_json() for r in self.sim.requests(provider)])

    async def delete_requests(self, request: web.Request) -> web.StreamResponse:
        self.sim.clear_requests(request.match_info.get("provider"))
        return delivery.json_response(200, {"cleared": True})

    async def get_token_requests(self, request: web.Request) -> web.StreamResponse:
        return delivery.json_response(200, self.sim.token_requests)

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
            return delivery.json_response(400, {"error": str(exc)})
        grant = self.sim.issue_tokens(scopes, lifetime)
        return delivery.json_response(
            200, {**grant.to_json(), "expires_at": grant.expires_at, "scopes": list(grant.scopes)}
        )

    async def post_expire(self, request: web.Request) -> web.StreamResponse:
        try:
            data = await self._control_body(request)
            self.sim.expire(data["access_token"])
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
            return delivery.json_response(400, {"error": f"expected a known access_token ({exc})"})
        return delivery.json_response(200, {"expired": True})

    async def post_revoke(self, request: web.Request) -> web.StreamResponse:
        try:
            data = await self._control_body(request)
            self.sim.revoke_api_key(data["key"])
        except (orjson.JSONDecodeError, ValueError, KeyError, TypeError) as exc:
            return delivery.json_response(400, {"error": f"expected a key ({exc})"})
        return delivery.json_response(200, {"revoked": True})


ENDPOINTS = (
    Endpoint(
        "PUT",
        "/_sim/scenario/{provider}",
        ControlRoutes.put_scenario,
        "set NAME's scenario: the fields below ({} = healthy)",
    ),
    Endpoint("GET", "/_sim/scenario/{provider}", ControlRoutes.get_scenario, "NAME's scenario"),
    Endpoint(
        "GET",
        "/_sim/requests/{provider}",
        ControlRoutes.get_requests,
        "what NAME received: method, path, headers, body",
    ),
    Endpoint("DELETE", "/_sim/requests", ControlRoutes.delete_requests, "forget every record"),
    Endpoint("DELETE", "/_sim/requests/{provider}", ControlRoutes.delete_requests, "forget NAME's"),
    Endpoint(
        "GET", "/_sim/token_requests", ControlRoutes.get_token_requests, "the token calls made"
    ),
    Endpoint(
        "POST",
        "/_sim/tokens",
        ControlRoutes.post_tokens,
        'tokens without a login: {"scopes": [...], "lifetime_s": N}',
    ),
    Endpoint("POST", "/_sim/expire", ControlRoutes.post_expire, 'expire {"access_token": "..."}'),
    Endpoint("POST", "/_sim/revoke_api_key", ControlRoutes.post_revoke, 'revoke {"key": "..."}'),
)
