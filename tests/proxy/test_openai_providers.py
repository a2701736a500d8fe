"""OpenAI-format providers behind the proxy: the Anthropic SDK never sees the difference."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import anthropic
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ccm_tui.events import AttemptFailed, Failure, RequestFinished
from ccm_tui.providers import openai as chat
from ccm_tui.sim import Simulator, wire
from ccm_tui.sim.openai import REASONING_TEXT
from ccm_tui.sim.reply import tool_input

from support import HELLO

MODEL = "claude-sonnet-4-5"
OAI_KEY = "sk-proj-oai-test-key-0000000000"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "claude-code-request.json"
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def openai_config(
    sim: Simulator,
    actual_model: str = "gpt-test",
    auth: str = "apikey",
    oai_url: str | None = None,
    oai_last: bool = False,
    alone: bool = False,
) -> str:
    """A chain `sonnet`: oai (OpenAI format) first, then secondary (Anthropic format);
    `oai_last` swaps them, `alone` leaves secondary out of the chain."""
    key_line = f'api_key = "{OAI_KEY}"' if auth == "apikey" else ""
    oai, secondary = (2, 1) if oai_last else (1, 2)
    chain = f"""
[[models.mappings]]
priority = {oai}
provider = "oai"
actual_model = "{actual_model}"
"""
    if not alone:
        chain += f"""
[[models.mappings]]
priority = {secondary}
provider = "secondary"
actual_model = "secondary-model"
"""
    return f"""
[server]
host = "127.0.0.1"
port = 0

[router]
default = "sonnet"

[[providers]]
name = "oai"
provider_type = "openai"
auth_type = "{auth}"
{key_line}
base_url = "{oai_url or sim.openai_url("oai")}"

[[providers]]
name = "secondary"
provider_type = "anthropic"
auth_type = "apikey"
api_key = "sk-ant-api03-secondary-key-11111111111"
base_url = "{sim.url("secondary")}"

[[models]]
name = "sonnet"
{chain}
"""


@pytest.fixture
async def proxy(sim, make_proxy):
    return await make_proxy(openai_config(sim))


def client(proxy, **kwargs) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k", max_retries=0, **kwargs)


def sim_usage(sim: Simulator, output: str) -> tuple[int, int]:
    """The usage the simulator reports for its last request and an answer of `output`."""
    return wire.estimate_tokens(len(sim.requests("oai")[-1].body)), wire.estimate_tokens(
        len(output)
    )


async def post(proxy, body: dict, path: str = "/v1/messages") -> tuple[int, dict, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + path, json=body) as response,
    ):
        return response.status, dict(response.headers), await response.read()


# -- answers ---------------------------------------------------------------------------------


async def test_json_text_and_usage_come_back_as_an_anthropic_message(sim, proxy):
    reply = await client(proxy).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert reply.id.startswith("msg_")
    assert reply.content[0].text == sim.text("oai")
    assert reply.stop_reason == "end_turn"
    assert reply.model == MODEL
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == sim_usage(sim, sim.text("oai"))
    assert sim.requests("secondary") == []


async def test_streamed_text_and_usage_reach_the_sdk_and_the_monitor(sim, proxy):
    async with client(proxy).messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as s:
        text = "".join([t async for t in s.text_stream])
        final = await s.get_final_message()
    assert text == sim.text("oai")
    assert (final.usage.input_tokens, final.usage.output_tokens) == sim_usage(sim, text)
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.OK
    assert finished.provider == "oai"
    assert (finished.input_tokens, finished.output_tokens) == sim_usage(sim, text)
    assert finished.stop_reason == "end_turn"
    assert finished.blocks[-1].text == sim.text("oai")


async def test_the_stream_is_well_formed_anthropic_sse(sim, proxy):
    body = {"model": MODEL, "max_tokens": 64, "messages": HELLO, "stream": True}
    status, headers, raw = await post(proxy, body)
    assert status == 200
    assert headers["Content-Type"].startswith("text/event-stream")
    assert headers["x-ccm-provider"] == "oai"
    frames = [f for f in raw.split(b"\n\n") if f]
    events = [f.split(b"\n")[0] for f in frames]
    assert events[0] == b"event: message_start"
    assert events[-2:] == [b"event: message_delta", b"event: message_stop"]
    assert b"data: [DONE]" not in raw


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_tool_use_comes_back_with_its_input_assembled(sim, proxy, stream):
    kwargs = {
        "model": MODEL,
        "max_tokens": 64,
        "messages": HELLO,
        "tools": [WEATHER],
        "tool_choice": {"type": "tool", "name": "get_weather"},
    }
    if stream:
        async with client(proxy).messages.stream(**kwargs) as s:
            reply = await s.get_final_message()
    else:
        reply = await client(proxy).messages.create(**kwargs)
    tool = reply.content[-1]
    assert tool.type == "tool_use"
    assert tool.name == "get_weather"
    assert tool.input == tool_input(WEATHER)
    assert tool.id
    assert reply.stop_reason == "tool_use"
    sent = sim.requests("oai")[-1].json()
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_long_tool_names_are_shortened_upstream_and_restored_for_the_client(
    sim, proxy, stream
):
    long_name = "mcp__" + "x" * 80
    kwargs = {
        "model": MODEL,
        "max_tokens": 64,
        "messages": HELLO,
        "tools": [{**WEATHER, "name": long_name}],
        "tool_choice": {"type": "any"},
    }
    if stream:
        async with client(proxy).messages.stream(**kwargs) as s:
            reply = await s.get_final_message()
    else:
        reply = await client(proxy).messages.create(**kwargs)
    sent = sim.requests("oai")[-1].json()["tools"][0]["function"]["name"]
    assert sent == chat.short_tool_name(long_name)
    assert len(sent) <= 64
    assert reply.content[-1].name == long_name


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_reasoning_content_becomes_a_thinking_block(sim, make_proxy, stream):
    proxy = await make_proxy(openai_config(sim, actual_model="sim-reasoner"))
    kwargs = {"model": MODEL, "max_tokens": 64, "messages": HELLO}
    if stream:
        async with client(proxy).messages.stream(**kwargs) as s:
            reply = await s.get_final_message()
    else:
        reply = await client(proxy).messages.create(**kwargs)
    assert [b.type for b in reply.content] == ["thinking", "text"]
    assert reply.content[0].thinking == REASONING_TEXT
    assert reply.content[1].text == sim.text("oai")


# -- what goes upstream ----------------------------------------------------------------------


async def test_the_upstream_gets_chat_completions_with_bearer_and_no_anthropic_headers(sim, proxy):
    fixture = orjson.loads(FIXTURE.read_bytes())
    headers = {
        k: v
        for k, v in fixture["headers"].items()
        if k.lower() not in ("connection", "accept-encoding")
    }
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            proxy.url + fixture["path"], data=orjson.dumps(fixture["body"]), headers=headers
        ) as response,
    ):
        raw = await response.read()
    assert response.status == 200, raw
    assert b"event: message_stop" in raw
    sent = sim.requests("oai")[-1]
    assert sent.path_qs == "/p/oai/v1/chat/completions"
    names = {k.lower() for k, _ in sent.headers}
    assert not {n for n in names if n.startswith(("anthropic-", "x-stainless", "x-claude"))}
    assert "x-api-key" not in names
    assert "x-app" not in names
    assert sent.header("authorization") == f"Bearer {OAI_KEY}"
    assert sent.header("user-agent") == fixture["headers"]["User-Agent"]
    body = sent.json()
    assert body["model"] == "gpt-test"
    assert body["messages"][0]["role"] == "system"
    assert body["stream_options"] == {"include_usage": True}
    assert "thinking" not in body


async def test_passthrough_sends_the_clients_key_as_bearer(sim, make_proxy):
    proxy = await make_proxy(openai_config(sim, auth="passthrough"))
    client_key = "gsk_client_own_key_123"
    sim.scenario("oai", api_key=client_key)
    reply = await anthropic.AsyncAnthropic(
        base_url=proxy.url, api_key=client_key, max_retries=0
    ).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert reply.content[0].text == sim.text("oai")
    assert sim.requests("oai")[-1].header("authorization") == f"Bearer {client_key}"


async def test_count_tokens_is_never_sent_to_an_openai_provider(sim, make_proxy):
    proxy = await make_proxy(openai_config(sim, alone=True))
    status, headers, raw = await post(
        proxy, {"model": MODEL, "messages": HELLO}, path="/v1/messages/count_tokens"
    )
    assert status == 200
    assert headers["x-ccm-estimate"] == "local"
    assert orjson.loads(raw)["input_tokens"] > 0
    assert sim.requests("oai") == []


# -- failures --------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    ("fault", "failure", "status"),
    [
        ({"status": 429, "retry_after": 7}, Failure.RATE_LIMITED, 429),
        ({"status": 500}, Failure.SERVER_ERROR, 500),
        ({"status": 503}, Failure.SERVER_ERROR, 503),
        ({"status": 401}, Failure.AUTH_ERROR, 401),
        ({"status": 404}, Failure.MODEL_NOT_FOUND, 404),
        ({"refuse": True}, Failure.SERVER_ERROR, None),
    ],
    ids=lambda v: str(v),
)
async def test_failure_before_the_first_byte_fails_over_to_the_next_provider(
    sim, proxy, fault, failure, status, stream
):
    sim.scenario("oai", **fault)
    if stream:
        async with client(proxy).messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as s:
            text = "".join([t async for t in s.text_stream])
    else:
        reply = await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
        text = reply.content[0].text
    assert text == sim.text("secondary")
    failed = proxy.log.of(AttemptFailed)
    assert [(f.provider, f.failure, f.status) for f in failed] == [("oai", failure, status)]
    if "retry_after" in fault:
        assert failed[0].retry_after_s == 7


async def test_a_malformed_json_answer_fails_over(sim, proxy):
    sim.scenario("oai", malformed=True)
    reply = await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert reply.content[0].text == sim.text("secondary")
    failed = proxy.log.of(AttemptFailed)[0]
    assert (failed.provider, failed.failure, failed.status) == ("oai", Failure.SERVER_ERROR, 200)


async def test_a_400_comes_back_as_an_anthropic_invalid_request_error(sim, proxy):
    message = "This model's maximum context length is 8192 tokens."
    sim.scenario("oai", status=400, error_message=message)
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    body = caught.value.body
    assert body["type"] == "error"
    assert body["error"] == {"type": "invalid_request_error", "message": message}
    assert caught.value.response.headers["content-type"].startswith("application/json")
    assert sim.requests("secondary") == []
    assert proxy.state.snapshot()["providers"]["oai"]["failures"] == 0


async def test_when_the_openai_provider_fails_last_its_error_comes_back_anthropic_shaped(
    sim, make_proxy
):
    proxy = await make_proxy(openai_config(sim, oai_last=True))
    sim.scenario("secondary", status=529)
    sim.scenario("oai", status=429, retry_after=9)
    with pytest.raises(anthropic.RateLimitError) as caught:
        await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    body = caught.value.body
    assert body["type"] == "error"
    assert body["error"] == {
        "type": "rate_limit_error",
        "message": "Rate limit reached for requests. Please try again in 7s.",
    }
    assert caught.value.response.headers["retry-after"] == "9"
    assert caught.value.response.headers["content-type"].startswith("application/json")
    attempts = [(a["provider"], a["class"], a["status"]) for a in body["ccm_attempts"]]
    assert attempts == [("secondary", "overloaded", 529), ("oai", "rate_limited", 429)]


async def test_failover_from_an_anthropic_provider_lands_on_the_openai_one(sim, make_proxy):
    proxy = await make_proxy(openai_config(sim, oai_last=True))
    sim.scenario("secondary", status=529)
    async with client(proxy).messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as s:
        text = "".join([t async for t in s.text_stream])
    assert text == sim.text("oai")


async def test_mid_stream_disconnect_gives_the_client_an_sse_error(sim, proxy):
    sim.scenario("oai", disconnect_after_events=3)
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with client(proxy).messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as s:
            async for _ in s.text_stream:
                pass
    assert "ccm-tui" in str(caught.value)
    assert sim.requests("secondary") == []
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.STREAM_ERROR


async def test_a_stream_that_ends_cleanly_without_finish_reason_is_a_stream_error(sim, make_proxy):
    # The simulator's faults all break the connection; this upstream ends the body cleanly.
    async def truncated(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b'data: {"choices":[{"index":0,"delta":{"content":"Hal"}}]}\n\n')
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", truncated)
    async with TestServer(app, host="127.0.0.1") as upstream:
        proxy = await make_proxy(openai_config(sim, oai_url=str(upstream.make_url("/v1"))))
        body = {"model": MODEL, "max_tokens": 8, "messages": HELLO, "stream": True}
        status, _, raw = await post(proxy, body)
    assert status == 200
    frames = [f for f in raw.split(b"\n\n") if f]
    assert [f.split(b"\n")[0] for f in frames] == [
        b"event: message_start",
        b"event: content_block_start",
        b"event: content_block_delta",
        b"event: content_block_stop",
        b"event: error",
    ]
    assert b"before message_stop" in frames[-1]
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.STREAM_ERROR
    assert sim.requests("secondary") == []


async def test_an_error_chunk_mid_stream_reaches_the_client_as_an_error_event(sim, proxy):
    sim.scenario("oai", error_after_events=3, error_type="server_error", error_message="Boom")
    with pytest.raises(anthropic.APIStatusError, match="Boom"):
        async with client(proxy).messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as s:
            async for _ in s.text_stream:
                pass
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.STREAM_ERROR
    assert sim.requests("secondary") == []


async def test_a_malformed_stream_chunk_is_reported_not_skipped(sim, proxy):
    sim.scenario("oai", malformed=True)
    body = {"model": MODEL, "max_tokens": 8, "messages": HELLO, "stream": True}
    status, _, raw = await post(proxy, body)
    assert status == 200
    assert raw.rstrip().split(b"\n\n")[-1].startswith(b"event: error")
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.STREAM_ERROR


async def test_events_split_across_reads_are_translated_whole(sim, proxy):
    sim.scenario("oai", split_events=True)
    async with client(proxy).messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as s:
        text = "".join([t async for t in s.text_stream])
    assert text == sim.text("oai")
