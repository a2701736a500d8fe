"""Which model a request goes to, and which providers to try for it, in order.

The order is claude-code-mux's with its traps fixed: `thinking` being enabled (as it is on
every Claude Code request) does not by itself mean "think", and a name that is a
configured model is never auto-mapped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ccm_tui.config import Config, ProviderConfig

SUBAGENT_TAG = re.compile(r"<CCM-SUBAGENT-MODEL>\s*(.*?)\s*</CCM-SUBAGENT-MODEL>", re.DOTALL)
BYTES_PER_TOKEN = 4  # a cheap estimate; exact counts are the upstream's job


@dataclass(frozen=True, slots=True)
class Candidate:
    provider: ProviderConfig
    actual_model: str


@dataclass(frozen=True, slots=True)
class Route:
    requested: str
    model: str  # the [[models]] name (or a provider-listed name) the request resolved to
    reason: str
    candidates: tuple[Candidate, ...]
    system: Any = None  # the system prompt with the subagent tag removed, when there was one


class RoutingError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _strip_subagent_tag(system: Any) -> tuple[str | None, Any]:
    """The tag's model name and the system prompt without it (None when there is no tag)."""
    if isinstance(system, str):
        match = SUBAGENT_TAG.search(system)
        if match:
            return match.group(1), SUBAGENT_TAG.sub("", system, count=1)
        return None, None
    if isinstance(system, list):
        for index, block in enumerate(system):
            text = block.get("text") if isinstance(block, dict) else None
            if isinstance(text, str):
                match = SUBAGENT_TAG.search(text)
                if match:
                    stripped = [dict(b) if isinstance(b, dict) else b for b in system]
                    stripped[index]["text"] = SUBAGENT_TAG.sub("", text, count=1)
                    return match.group(1), stripped
    return None, None


def _has_websearch(body: dict[str, Any]) -> bool:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return False
    return any(
        isinstance(t, dict) and str(t.get("type", "")).startswith("web_search") for t in tools
    )


def _thinking_budget(body: dict[str, Any]) -> int:
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        return budget if isinstance(budget, int) else 0
    return 0


def choose_model(config: Config, body: dict[str, Any], body_size: int) -> tuple[str, str, Any]:
    """(model name, reason, stripped system or None) for a request."""
    router = config.router
    requested = body.get("model")
    if not isinstance(requested, str) or not requested:
        raise RoutingError(400, "model: field required (a model name)")
    tagged, system = _strip_subagent_tag(body.get("system"))
    if tagged is not None:
        if router.subagent:
            return router.subagent, "subagent", system
        requested = tagged
    if router.websearch and _has_websearch(body):
        return router.websearch, "websearch", system
    if router.background and router.background_regex.search(requested):
        return router.background, "background", system
    if router.long_context and body_size // BYTES_PER_TOKEN > router.long_context_threshold:
        return router.long_context, "long_context", system
    if (
        router.think
        and router.think_budget_tokens is not None
        and _thinking_budget(body) >= router.think_budget_tokens
    ):
        return router.think, "think", system
    if config.model(requested) is not None:
        return requested, "subagent" if tagged is not None else "direct", system
    if router.default and router.auto_map_regex.search(requested):
        return router.default, "auto_map", system
    return requested, "subagent" if tagged is not None else "direct", system


def candidates_for(config: Config, model: str) -> tuple[Candidate, ...]:
    entry = config.model(model)
    if entry is not None:
        out = []
        for mapping in entry.mappings:
            provider = config.provider(mapping.provider)
            if provider is not None:
                out.append(Candidate(provider, mapping.actual_model))
        return tuple(out)
    return tuple(Candidate(p, model) for p in config.providers if model in p.models)


def route(config: Config, body: dict[str, Any], body_size: int, pin: str | None = None) -> Route:
    model, reason, system = choose_model(config, body, body_size)
    candidates = candidates_for(config, model)
    requested = str(body.get("model"))
    if not candidates:
        names = sorted(
            {m.name for m in config.models} | {n for p in config.providers for n in p.models}
        )
        raise RoutingError(
            404,
            f"model: {requested} is not configured in ccm-tui"
            + (f" (routed to {model})" if model != requested else "")
            + f"; configured models: {', '.join(names) or 'none'}",
        )
    if pin:
        provider = config.provider(pin)
        if provider is None:
            raise RoutingError(
                400,
                f"x-provider: no provider named {pin[:100]} "
                f"(configured: {', '.join(p.name for p in config.providers)})",
            )
        pinned = tuple(c for c in candidates if c.provider.name == pin)
        candidates = pinned or (Candidate(provider, requested),)
        reason = f"pinned to {pin}"
    return Route(requested, model, reason, candidates, system)
