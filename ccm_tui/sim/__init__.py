"""A simulated Anthropic upstream (plus OAuth and an OpenAI-compatible endpoint) with faults.

Tests, `ccm-tui demo` and the benchmarks point the proxy at it instead of the
real API. It follows WIRE.md as closely as the public facts allow.
"""

from __future__ import annotations

from ccm_tui.sim.app import Simulator, build_app
from ccm_tui.sim.oauth import CLIENT_ID, DEFAULT_SCOPES, TokenGrant, pkce_challenge
from ccm_tui.sim.scenario import Scenario, scenario_from_json
from ccm_tui.sim.state import RecordedRequest

__all__ = [
    "CLIENT_ID",
    "DEFAULT_SCOPES",
    "RecordedRequest",
    "Scenario",
    "Simulator",
    "TokenGrant",
    "build_app",
    "pkce_challenge",
    "scenario_from_json",
]
