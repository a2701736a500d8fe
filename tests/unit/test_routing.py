"""routing.py: which model a request goes to, and which providers to try, in order."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ccm_tui.config import Config, parse_config
from ccm_tui.proxy.routing import RoutingError, choose_model, route

ROUTER = """\
[router]
default = "sonnet"
think = "opus"
think_budget_tokens = 31999
background = "haiku"
websearch = "search"
long_context = "long"
long_context_threshold = 60000
"""

PROVIDERS_AND_MODELS = """\
[[providers]]
name = "anthropic"
provider_type = "anthropic"
auth_type = "apikey"
api_key = "sk-ant-api03-test"

[[providers]]
name = "zai"
provider_type = "z.ai"
auth_type = "apikey"
api_key = "zai-key"
models = ["glm-4.6-raw"]

[[providers]]
name = "spare"
provider_type = "anthropic"
auth_type = "passthrough"

[[models]]
name = "sonnet"
[[models.mappings]]
priority = 2
provider = "zai"
actual_model = "glm-4.6"
[[models.mappings]]
priority = 1
provider = "anthropic"
actual_model = "claude-sonnet-4-5-20250929"

[[models]]
name = "opus"
[[models.mappings]]
priority = 1
provider = "anthropic"
actual_model = "claude-opus-4-1"

[[models]]
name = "haiku"
[[models.mappings]]
priority = 1
provider = "zai"
actual_model = "glm-4.5-air"

[[models]]
name = "search"
[[models.mappings]]
priority = 1
provider = "zai"
actual_model = "glm-4.6-search"

[[models]]
name = "long"
[[models.mappings]]
priority = 1
provider = "anthropic"
actual_model = "claude-sonnet-4-5-1m"

[[models]]
name = "claude-opus-4-1"
[[models.mappings]]
priority = 1
provider = "anthropic"
actual_model = "claude-opus-4-1-20250805"
"""

SMALL = 1000  # body size in bytes, far under the long context threshold


def make_config(router: str = ROUTER) -> Config:
    return parse_config(router + "\n" + PROVIDERS_AND_MODELS, None, env={})


@pytest.fixture
def config() -> Config:
    return make_config()


def body(model: str = "claude-sonnet-4-5", **extra: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 1024, "messages": [{"role": "user", "content": "hi"}]} | (
        extra
    )


def chain(r: Any) -> list[tuple[str, str]]:
    return [(c.provider.name, c.actual_model) for c in r.candidates]


WEB_SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
# Claude Code's own WebSearch tool is a plain client tool: a name and a schema, no type.
CLAUDE_CODE_WEBSEARCH = {
    "name": "WebSearch",
    "description": "Search the web",
    "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
}


# --- the real Claude Code request ----------------------------------------------------------


def test_real_claude_code_request_routes_to_default_not_think_or_websearch(claude_code_body):
    # Thinking is enabled (budget 31999) and the WebSearch tool is present, as on every
    # Claude Code request; neither may pull it off the default route.
    assert claude_code_body["thinking"] == {"budget_tokens": 31999, "type": "enabled"}
    assert "WebSearch" in [t.get("name") for t in claude_code_body["tools"]]
    config = make_config(
        ROUTER.replace("think_budget_tokens = 31999", "think_budget_tokens = 32000")
    )
    size = len(json.dumps(claude_code_body).encode())

    r = route(config, claude_code_body, size)

    assert (r.requested, r.model, r.reason) == ("claude-sonnet-4-5", "sonnet", "auto_map")
    assert chain(r) == [("anthropic", "claude-sonnet-4-5-20250929"), ("zai", "glm-4.6")]
    assert r.system is None


def test_real_claude_code_request_with_think_configured_without_budget_goes_to_default(
    claude_code_body,
):
    config = make_config(ROUTER.replace("think_budget_tokens = 31999\n", ""))
    r = route(config, claude_code_body, SMALL)
    assert (r.model, r.reason) == ("sonnet", "auto_map")


def test_real_claude_code_request_reaching_the_think_budget_routes_to_think(claude_code_body):
    r = route(make_config(), claude_code_body, SMALL)  # budget 31999 >= 31999
    assert (r.model, r.reason) == ("opus", "think")
    assert chain(r) == [("anthropic", "claude-opus-4-1")]


# --- think -------------------------------------------------------------------------------


def test_thinking_enabled_below_the_budget_does_not_route_to_think(config):
    b = body(thinking={"type": "enabled", "budget_tokens": 31998})
    assert choose_model(config, b, SMALL)[:2] == ("sonnet", "auto_map")


def test_thinking_merely_enabled_never_routes_to_think_when_no_budget_is_configured():
    config = make_config(ROUTER.replace("think_budget_tokens = 31999\n", ""))
    b = body(thinking={"type": "enabled", "budget_tokens": 1_000_000})
    assert choose_model(config, b, SMALL)[:2] == ("sonnet", "auto_map")


def test_disabled_thinking_with_a_large_budget_does_not_route_to_think(config):
    b = body(thinking={"type": "disabled", "budget_tokens": 100_000})
    assert choose_model(config, b, SMALL)[:2] == ("sonnet", "auto_map")


def test_think_budget_without_a_think_route_does_nothing():
    config = make_config(ROUTER.replace('think = "opus"\n', ""))
    b = body(thinking={"type": "enabled", "budget_tokens": 100_000})
    assert choose_model(config, b, SMALL)[:2] == ("sonnet", "auto_map")


# --- websearch ---------------------------------------------------------------------------


@pytest.mark.parametrize("tool_type", ["web_search_20250305", "web_search", "web_search_2026"])
def test_web_search_server_tool_routes_to_websearch(config, tool_type):
    b = body(tools=[CLAUDE_CODE_WEBSEARCH, {"type": tool_type, "name": "web_search"}])
    r = route(config, b, SMALL)
    assert (r.model, r.reason) == ("search", "websearch")
    assert chain(r) == [("zai", "glm-4.6-search")]


def test_claude_codes_plain_websearch_tool_does_not_route_to_websearch(config):
    b = body(tools=[CLAUDE_CODE_WEBSEARCH, {"name": "web_search", "input_schema": {}}])
    assert choose_model(config, b, SMALL)[:2] == ("sonnet", "auto_map")


def test_web_search_tool_without_a_websearch_route_goes_to_default():
    config = make_config(ROUTER.replace('websearch = "search"\n', ""))
    b = body(tools=[WEB_SEARCH_TOOL])
    assert choose_model(config, b, SMALL)[:2] == ("sonnet", "auto_map")


def test_malformed_tools_do_not_route_to_websearch(config):
    assert choose_model(config, body(tools="web_search"), SMALL)[1] == "auto_map"
    assert choose_model(config, body(tools=["web_search_1", 3]), SMALL)[1] == "auto_map"


# --- background and long context ------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["claude-haiku-4-5-20251001", "claude-3-5-haiku-20241022", "Claude-Haiku-4-5"]
)
def test_haiku_requests_route_to_background(config, name):
    r = route(config, body(name), SMALL)
    assert (r.requested, r.model, r.reason) == (name, "haiku", "background")
    assert chain(r) == [("zai", "glm-4.5-air")]


def test_custom_background_regex_is_used():
    config = make_config(ROUTER + 'background_regex = "^gpt-4o-mini$"\n')
    assert choose_model(config, body("gpt-4o-mini"), SMALL)[:2] == ("haiku", "background")
    # The default pattern no longer applies: haiku is auto-mapped like any claude- name.
    assert choose_model(config, body("claude-haiku-4-5"), SMALL)[:2] == ("sonnet", "auto_map")


def test_body_over_the_long_context_threshold_routes_to_long_context(config):
    over = (60_000 + 1) * 4
    assert choose_model(config, body(), over)[:2] == ("long", "long_context")


def test_body_at_the_long_context_threshold_stays_on_default(config):
    at = 60_000 * 4 + 3
    assert choose_model(config, body(), at)[:2] == ("sonnet", "auto_map")


def test_long_context_threshold_without_a_route_does_nothing():
    config = make_config(ROUTER.replace('long_context = "long"\n', ""))
    assert choose_model(config, body(), 10_000_000)[:2] == ("sonnet", "auto_map")


# --- the order of the rules ------------------------------------------------------------------


def test_websearch_comes_before_background(config):
    b = body("claude-haiku-4-5", tools=[WEB_SEARCH_TOOL])
    assert choose_model(config, b, SMALL)[1] == "websearch"


def test_background_comes_before_long_context(config):
    assert choose_model(config, body("claude-haiku-4-5"), 10_000_000)[1] == "background"


def test_long_context_comes_before_think(config):
    b = body(thinking={"type": "enabled", "budget_tokens": 64_000})
    assert choose_model(config, b, 10_000_000)[1] == "long_context"


def test_think_comes_before_configured_names(config):
    b = body("sonnet", thinking={"type": "enabled", "budget_tokens": 64_000})
    assert choose_model(config, b, SMALL)[:2] == ("opus", "think")


# --- names -----------------------------------------------------------------------------------


def test_configured_model_name_is_used_as_is(config):
    r = route(config, body("opus"), SMALL)
    assert (r.requested, r.model, r.reason) == ("opus", "opus", "direct")
    assert chain(r) == [("anthropic", "claude-opus-4-1")]


def test_configured_name_matching_auto_map_regex_is_not_auto_mapped(config):
    r = route(config, body("claude-opus-4-1"), SMALL)
    assert (r.model, r.reason) == ("claude-opus-4-1", "direct")
    assert chain(r) == [("anthropic", "claude-opus-4-1-20250805")]


def test_unconfigured_claude_name_is_auto_mapped_to_default(config):
    r = route(config, body("claude-sonnet-4-5-20250929"), SMALL)
    assert (r.requested, r.model, r.reason) == ("claude-sonnet-4-5-20250929", "sonnet", "auto_map")


def test_custom_auto_map_regex_maps_other_families_to_default():
    config = make_config(ROUTER + 'auto_map_regex = "^(claude-|gpt-)"\n')
    assert choose_model(config, body("gpt-5"), SMALL)[:2] == ("sonnet", "auto_map")


def test_name_listed_by_a_provider_routes_to_those_providers(config):
    r = route(config, body("glm-4.6-raw"), SMALL)
    assert (r.model, r.reason) == ("glm-4.6-raw", "direct")
    assert chain(r) == [("zai", "glm-4.6-raw")]


def test_candidates_are_in_priority_order_not_file_order(config):
    assert chain(route(config, body("sonnet"), SMALL)) == [
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("zai", "glm-4.6"),
    ]


def test_name_that_matches_nothing_is_a_404_naming_the_configured_models(config):
    with pytest.raises(RoutingError) as info:
        route(config, body("gpt-5"), SMALL)
    assert info.value.status == 404
    message = info.value.message
    assert "gpt-5" in message
    for name in ("claude-opus-4-1", "glm-4.6-raw", "haiku", "long", "opus", "search", "sonnet"):
        assert name in message


def test_claude_name_without_a_default_route_is_a_404():
    config = make_config(ROUTER.replace('default = "sonnet"\n', ""))
    with pytest.raises(RoutingError) as info:
        route(config, body("claude-sonnet-4-5"), SMALL)
    assert info.value.status == 404
    assert "claude-sonnet-4-5" in info.value.message


@pytest.mark.parametrize("model", [None, "", 42])
def test_missing_or_non_string_model_is_a_400(config, model):
    b = body()
    if model is None:
        del b["model"]
    else:
        b["model"] = model
    with pytest.raises(RoutingError) as info:
        route(config, b, SMALL)
    assert info.value.status == 400
    assert "model" in info.value.message


# --- subagent tag -------------------------------------------------------------------------


def test_subagent_tag_in_a_string_system_picks_the_model_and_is_stripped(config):
    system = "You are a helper.<CCM-SUBAGENT-MODEL>opus</CCM-SUBAGENT-MODEL> Be brief."
    b = body(system=system)
    r = route(config, b, SMALL)

    assert (r.requested, r.model, r.reason) == ("claude-sonnet-4-5", "opus", "subagent")
    assert chain(r) == [("anthropic", "claude-opus-4-1")]
    assert r.system == "You are a helper. Be brief."
    assert b["system"] == system  # the request itself is not modified


def test_subagent_tag_in_system_blocks_is_stripped_from_its_block_only(config):
    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197;"},
        {
            "type": "text",
            "text": "Agent prompt\n<CCM-SUBAGENT-MODEL> haiku </CCM-SUBAGENT-MODEL>\nGo.",
            "cache_control": {"type": "ephemeral"},
        },
    ]
    b = body(system=system)
    original = copy.deepcopy(system)

    model, reason, stripped = choose_model(config, b, SMALL)

    assert (model, reason) == ("haiku", "subagent")
    assert stripped == [
        original[0],
        {"type": "text", "text": "Agent prompt\n\nGo.", "cache_control": {"type": "ephemeral"}},
    ]
    assert b["system"] == original


def test_subagent_tag_name_goes_through_the_other_rules(config):
    # The tag replaces the requested name; a haiku name still means background.
    b = body("claude-opus-4-1", system="<CCM-SUBAGENT-MODEL>claude-haiku-4-5</CCM-SUBAGENT-MODEL>")
    model, reason, stripped = choose_model(config, b, SMALL)
    assert (model, reason, stripped) == ("haiku", "background", "")


def test_router_subagent_overrides_the_tags_model_and_comes_first():
    config = make_config(ROUTER + 'subagent = "opus"\n')
    b = body(
        "claude-haiku-4-5",
        system=[{"type": "text", "text": "<CCM-SUBAGENT-MODEL>sonnet</CCM-SUBAGENT-MODEL>hi"}],
        tools=[WEB_SEARCH_TOOL],
    )
    model, reason, stripped = choose_model(config, b, SMALL)
    assert (model, reason) == ("opus", "subagent")
    assert stripped == [{"type": "text", "text": "hi"}]


def test_without_a_tag_the_route_has_no_replacement_system(config):
    b = body(system=[{"type": "text", "text": "plain"}])
    assert route(config, b, SMALL).system is None


# --- x-provider pin -----------------------------------------------------------------------


def test_pin_to_a_provider_in_the_chain_keeps_only_that_provider(config):
    r = route(config, body(), SMALL, pin="zai")
    assert chain(r) == [("zai", "glm-4.6")]
    assert r.model == "sonnet"
    assert r.reason == "pinned to zai"


def test_pin_to_a_provider_not_mapped_for_the_model_sends_the_requested_name_there(config):
    r = route(config, body("claude-sonnet-4-5"), SMALL, pin="spare")
    assert chain(r) == [("spare", "claude-sonnet-4-5")]
    assert r.reason == "pinned to spare"


def test_pin_to_an_unknown_provider_is_a_400_naming_the_configured_ones(config):
    with pytest.raises(RoutingError) as info:
        route(config, body(), SMALL, pin="nobody")
    assert info.value.status == 400
    assert "nobody" in info.value.message
    for name in ("anthropic", "zai", "spare"):
        assert name in info.value.message
