"""What the simulator knows: each provider's scenario, what it received, what is in flight.

Plain state, no aiohttp routes: the handlers read and update it, tests steer and inspect
it through `Simulator` (which adds addresses and serving).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ccm_tui.sim.limits import PlanWindows
from ccm_tui.sim.oauth import CLIENT_ID, DEFAULT_SCOPES, OAuthState, TokenGrant
from ccm_tui.sim.scenario import HEALTHY, Scenario

DEFAULT_PROVIDER = "default"
OAUTH_PROVIDER = "oauth"
CREATE_KEY_PROVIDER = "create_api_key"


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


class SimState:
    """State shared by all simulated providers."""

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
        self.plans = PlanWindows()  # the subscription windows OAuth answers report
        # Set when the app shuts down: stalled answers then end instead of holding it up.
        self.closing = asyncio.Event()
        self._history = history
        self._scenarios: dict[str, Scenario] = {}
        self._fault_left: dict[str, int] = {}
        self._requests: dict[str, deque[RecordedRequest]] = {}
        self._served: dict[str, int] = {}
        self._rng = random.Random(seed)
        self._in_flight: dict[str, int] = {}
        self._in_flight_waiters: list[tuple[str, int, asyncio.Future[None]]] = []

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

    def next_fault(self, provider: str) -> tuple[Scenario, bool]:
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

    def count_served(self, provider: str) -> int:
        """How many answers this provider gave before this one (rate-limit headers)."""
        served = self._served.get(provider, 0)
        self._served[provider] = served + 1
        return served

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

    def record_request(self, provider: str, request: web.BaseRequest, body: bytes) -> None:
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

    def track_in_flight(self, provider: str, delta: int) -> None:
        now = self._in_flight[provider] = self._in_flight.get(provider, 0) + delta
        for name, count, future in self._in_flight_waiters:
            if name == provider and count == now and not future.done():
                future.set_result(None)

    # -- OAuth -------------------------------------------------------------------------------

    @property
    def authorize_requests(self) -> list[dict[str, str]]:
        """Every approved authorize call: kind (max/console), client_id, scope, challenge, state."""
        return self.oauth.authorize_requests

    def issue_tokens(
        self, scopes: Iterable[str] = DEFAULT_SCOPES, lifetime_s: int | None = None
    ) -> TokenGrant:
        """Mints a valid token pair without the browser dance (tests, demo seeding)."""
        return self.oauth.issue(scopes, lifetime_s)

    def expire(self, access_token: str) -> None:
        self.oauth.expire(access_token)

    def revoke_api_key(self, key: str) -> None:
        self.oauth.revoke_api_key(key)
