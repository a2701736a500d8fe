"""One route of the simulator, described where it is declared, so `--help` cannot drift."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

# A routes class's handler, unbound: (routes, request) -> response.
Handler = Callable[[Any, web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    help: str
    # Also under /p/{provider}, for each simulated provider, and counted in `in_flight`.
    per_provider: bool = False

    def help_line(self) -> str:
        path = self.path.replace("{provider}", "NAME").replace("{model_id}", "ID")
        return f"  {self.method:<6} {path:<34} {self.help}"
