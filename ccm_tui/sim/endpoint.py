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

    def help_lines(self) -> list[str]:
        """`METHOD PATH  what it does`, the description on its own line when too long."""
        path = self.path.replace("{provider}", "NAME").replace("{model_id}", "ID")
        line = f"  {self.method:<6} {path:<28} {self.help}"
        if len(line) <= HELP_WIDTH:
            return [line]
        return [f"  {self.method:<6} {path}", f"      {self.help}"]


HELP_WIDTH = 88
