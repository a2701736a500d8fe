"""The Messages API as the official SDK sees it: replies, streams, errors, records."""

from __future__ import annotations

import anthropic
import httpx
import orjson
import pytest

from ccm_tui.sim import Simulator

USER = [{"role": "user", "content": "hi"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
    },
}
OTHER_TOOL = {"name": "noop", "input_schema": {"type": "object", "properties": {}}}


def client(sim: Simulator, provider: str = "primary", **kwargs) -> anthropic.AsyncAnthropic:
    # A plain-HTTP client without certificate loading keeps each test fast.
    return anthropic.AsyncAnthropic(
        base_url=sim.url(provider),
        api_key="k",
        max_retries=0,
        http_client=anthropic.DefaultAsyncHttpxClient(verify=False),
        **kwargs,
    )


async def test_json_reply_echoes_model_and_answers_with_provider_text(sim: Simulator):
    message = await client(sim).messages.create(model="claude-x", max_tokens=100, messages=USER)

    assert message.model == "claude-x"
    assert message.id.startswith("msg_sim")
    assert message.content[0].type == "text"
    assert message.content[0].text == sim.text("primary") == "Hello from primary."
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0


async def test_scenario_text_overrides_the_reply(sim: Simulator):
    sim.scenario("primary", text="Custom words here.")
    message = await client(sim).messages.create(model="m", max_tokens=100, messages=USER)
    assert message.content[0].text == "Custom words here." == sim.text("primary")


async def test_stream_text_arrives_in_output_chunks_deltas(sim: Simulator):
    sim.scenario("primary", text="one two three four five six seven", output_chunks=4)
    deltas = []
    async with client(sim).messages.stream(model="m", max_tokens=100, messages=USER) as stream:
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "text_delta":
                deltas.append(event.delta.text)
        final = await stream.get_final_message()

    assert len(deltas) == 4
    assert "".join(deltas) == "one two three four five six seven"
    assert final.content[0].text == "one two three four five six seven"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 1


async def test_stream_thinking_block_comes_first_with_signature(sim: Simulator):
    thinking = {"type": "enabled", "budget_tokens": 1024}
    kinds = []
    async with client(sim).messages.stream(
        model="m", max_tokens=2048, messages=USER, thinking=thinking
    ) as stream:
        async for event in stream:
            if event.type == "content_block_delta":
                kinds.append(event.delta.type)
        final = await stream.get_final_message()

    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking
    assert final.content[0].signature
    assert kinds.count("signature_delta") == 1
    # The signature closes the thinking block, before any text.
    assert kinds.index("signature_delta") < kinds.index("text_delta")


async def test_json_thinking_block_has_signature(sim: Simulator):
    message = await client(sim).messages.create(
        model="m",
        max_tokens=2048,
        messages=USER,
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert message.content[0].type == "thinking"
    assert message.content[0].signature


async def test_stream_forced_tool_use_assembles_input_from_json_deltas(sim: Simulator):
    partials = []
    async with client(sim).messages.stream(
        model="m",
        max_tokens=100,
        messages=USER,
        tools=[WEATHER_TOOL, OTHER_TOOL],
        tool_choice={"type": "any"},
    ) as stream:
        async for event in stream:
            if event.type == "content_block_delta" and event.delta.type == "input_json_delta":
                partials.append(event.delta.partial_json)
        final = await stream.get_final_message()

    block = final.content[0]
    assert block.type == "tool_use"
    assert block.name == "get_weather"
    assert block.id.startswith("toolu_sim")
    assert block.input == {"city": "sim city", "days": 1}
    assert partials[0] == ""
    assert len(partials) > 2
    assert final.stop_reason == "tool_use"


async def test_named_tool_choice_picks_that_tool_in_json_mode(sim: Simulator):
    message = await client(sim).messages.create(
        model="m",
        max_tokens=100,
        messages=USER,
        tools=[WEATHER_TOOL, OTHER_TOOL],
        tool_choice={"type": "tool", "name": "noop"},
    )
    assert message.content[0].type == "tool_use"
    assert message.content[0].name == "noop"
    assert message.content[0].input == {}
    assert message.stop_reason == "tool_use"


async def test_auto_tool_choice_answers_with_text(sim: Simulator):
    message = await client(sim).messages.create(
        model="m", max_tokens=100, messages=USER, tools=[WEATHER_TOOL]
    )
    assert [b.type for b in message.content] == ["text"]


async def test_small_max_tokens_truncates_with_max_tokens_stop_reason(sim: Simulator):
    sim.scenario("primary", text="a long answer that does not fit")
    message = await client(sim).messages.create(model="m", max_tokens=1, messages=USER)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].text == "a lo"


async def test_rate_limit_surfaces_as_sdk_rate_limit_error_with_retry_after(sim: Simulator):
    sim.scenario("primary", status=429, retry_after=7)
    with pytest.raises(anthropic.RateLimitError) as info:
        await client(sim).messages.create(model="m", max_tokens=10, messages=USER)

    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "7"
    assert info.value.body["error"]["type"] == "rate_limit_error"
    assert info.value.body["type"] == "error"
    assert info.value.request_id.startswith("req_sim")


async def test_overloaded_529_surfaces_as_sdk_overloaded_error(sim: Simulator):
    sim.scenario("primary", status=529)
    with pytest.raises(anthropic.InternalServerError) as info:
        await client(sim).messages.create(model="m", max_tokens=10, messages=USER)
    assert info.value.status_code == 529
    assert isinstance(info.value, getattr(anthropic, "OverloadedError", anthropic.APIStatusError))
    assert info.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}


async def test_stream_request_gets_http_error_before_any_event(sim: Simulator):
    sim.scenario("primary", status=500, error_message="boom")
    with pytest.raises(anthropic.InternalServerError) as info:
        async with client(sim).messages.stream(model="m", max_tokens=10, messages=USER):
            pass
    assert info.value.body["error"] == {"type": "api_error", "message": "boom"}


async def test_error_type_override_and_should_retry_header(sim: Simulator):
    sim.scenario("primary", status=400, error_type="custom_error", should_retry=False)
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(
            sim.url("primary") + "/v1/messages",
            json={"model": "m", "max_tokens": 5, "messages": USER},
        )
    assert response.status_code == 400
    assert response.headers["x-should-retry"] == "false"
    assert response.json()["error"]["type"] == "custom_error"
    assert response.json()["request_id"] == response.headers["request-id"]


async def test_times_limits_the_fault_to_the_next_requests(sim: Simulator):
    sim.scenario("primary", status=529, times=2)
    c = client(sim)
    for _ in range(2):
        with pytest.raises(anthropic.InternalServerError):
            await c.messages.create(model="m", max_tokens=10, messages=USER)
    message = await c.messages.create(model="m", max_tokens=10, messages=USER)
    assert message.content[0].text == "Hello from primary."


async def test_probability_faults_a_seeded_share_of_requests(sim: Simulator):
    sim.scenario("primary", status=503, probability=0.5)
    statuses = []
    async with httpx.AsyncClient(verify=False) as http:
        for _ in range(40):
            response = await http.post(
                sim.url("primary") + "/v1/messages",
                json={"model": "m", "max_tokens": 5, "messages": USER},
            )
            statuses.append(response.status_code)
    assert 5 < statuses.count(503) < 35
    assert statuses.count(200) == 40 - statuses.count(503)


async def test_faults_are_per_provider(sim: Simulator):
    sim.scenario("primary", status=529)
    message = await client(sim, "backup").messages.create(model="m", max_tokens=10, messages=USER)
    assert message.content[0].text == "Hello from backup."


async def test_count_tokens_returns_an_estimate(sim: Simulator):
    result = await client(sim).messages.count_tokens(model="m", messages=USER)
    assert result.input_tokens > 0


async def test_models_list_has_ids_and_display_names(sim: Simulator):
    page = await client(sim).models.list()
    assert page.data
    assert page.data[0].type == "model"
    assert page.data[0].display_name
    assert page.has_more is False
    async with httpx.AsyncClient(verify=False) as http:
        raw = (await http.get(sim.url("primary") + "/v1/models?limit=1000")).json()
    assert raw["first_id"] == raw["data"][0]["id"]
    assert raw["last_id"] == raw["data"][-1]["id"]


async def test_scenario_models_restricts_known_models(sim: Simulator):
    sim.scenario("primary", models=("glm-4.6",))
    with pytest.raises(anthropic.NotFoundError) as info:
        await client(sim).messages.create(model="other", max_tokens=10, messages=USER)
    assert info.value.body["error"] == {"type": "not_found_error", "message": "model: other"}
    message = await client(sim).messages.create(model="glm-4.6", max_tokens=10, messages=USER)
    assert message.model == "glm-4.6"
    assert [m.id for m in (await client(sim).models.list()).data] == ["glm-4.6"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_tokens": 5, "messages": USER}, "model: Field required"),
        ({"model": "m", "messages": USER}, "max_tokens: Field required"),
        ({"model": "m", "max_tokens": 5}, "messages: Field required"),
        ({"model": "m", "max_tokens": "5", "messages": USER}, "max_tokens: Input should be"),
    ],
)
async def test_missing_or_wrong_fields_get_invalid_request_error(sim: Simulator, body, message):
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(sim.url("primary") + "/v1/messages", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith(message)


async def test_bad_json_gets_invalid_request_error(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(
            sim.url("primary") + "/v1/messages",
            content=b'{"model": "m",',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "invalid_request_error"


async def test_success_headers_carry_request_id_and_rate_limits(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        first = await http.post(
            sim.url("primary") + "/v1/messages",
            json={"model": "m", "max_tokens": 5, "messages": USER},
        )
        second = await http.post(
            sim.url("primary") + "/v1/messages",
            json={"model": "m", "max_tokens": 5, "messages": USER},
        )
    assert first.headers["request-id"].startswith("req_sim")
    assert first.headers["request-id"] != second.headers["request-id"]
    assert first.headers["anthropic-ratelimit-requests-limit"] == "4000"
    remaining = int(first.headers["anthropic-ratelimit-requests-remaining"])
    assert int(second.headers["anthropic-ratelimit-requests-remaining"]) == remaining - 1
    assert first.headers["anthropic-ratelimit-requests-reset"].endswith("Z")


async def test_scenario_headers_are_added_to_responses(sim: Simulator):
    sim.scenario("primary", headers={"anthropic-ratelimit-unified-status": "allowed_warning"})
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(
            sim.url("primary") + "/v1/messages",
            json={"model": "m", "max_tokens": 5, "messages": USER},
        )
    assert response.headers["anthropic-ratelimit-unified-status"] == "allowed_warning"


async def test_requests_are_recorded_byte_exact_with_original_header_case(sim: Simulator):
    raw = b'{"model":"m",  "max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
    async with httpx.AsyncClient(verify=False) as http:
        await http.post(
            sim.url("primary") + "/v1/messages?beta=true",
            content=raw,
            headers={"Content-Type": "application/json", "X-Custom-Header": "Value"},
        )
    [recorded] = sim.requests("primary")
    assert recorded.method == "POST"
    assert recorded.path_qs == "/p/primary/v1/messages?beta=true"
    assert recorded.body == raw
    assert recorded.json()["model"] == "m"
    assert ("X-Custom-Header", "Value") in recorded.headers
    assert recorded.header("x-custom-header") == "Value"
    assert recorded.header("absent") is None
    assert sim.requests("other") == []
    sim.clear_requests()
    assert sim.requests("primary") == []


async def test_root_routes_belong_to_the_default_provider(sim: Simulator):
    message = await anthropic.AsyncAnthropic(
        base_url=sim.base_url,
        api_key="k",
        max_retries=0,
        http_client=anthropic.DefaultAsyncHttpxClient(verify=False),
    ).messages.create(model="m", max_tokens=10, messages=USER)
    assert message.content[0].text == "Hello from default."
    assert sim.requests("default")[0].path_qs == "/v1/messages"


async def test_warming_probes_answer_200(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        assert (await http.head(sim.base_url + "/")).status_code == 200
        assert (await http.head(sim.base_url + "/api/hello")).status_code == 200
        assert (await http.head(sim.url("primary") + "/api/hello")).status_code == 200


async def test_request_history_is_bounded():
    sim = Simulator(history=3)
    async with sim.serve(), httpx.AsyncClient(verify=False) as http:
        for i in range(5):
            await http.head(sim.url("p") + "/api/hello", headers={"n": str(i)})
        assert [r.header("n") for r in sim.requests("p")] == ["2", "3", "4"]


async def test_non_stream_body_is_valid_json_matching_wire_shape(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(
            sim.url("primary") + "/v1/messages",
            json={"model": "m", "max_tokens": 5, "messages": USER},
        )
    body = orjson.loads(response.content)
    assert response.headers["content-type"].startswith("application/json")
    assert set(body) == {
        "id",
        "type",
        "role",
        "model",
        "content",
        "stop_reason",
        "stop_sequence",
        "usage",
    }
    assert body["usage"]["cache_read_input_tokens"] == 0


async def test_unknown_route_gets_the_api_404_shape(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(sim.url("primary") + "/v1/complete", json={})
    assert response.status_code == 404
    assert response.json()["error"] == {"type": "not_found_error", "message": "Not Found"}
