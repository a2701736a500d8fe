"""The proxy between the official Anthropic SDK and the simulated upstream: the happy paths."""

from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import aiohttp
import anthropic
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ccm_tui.events import Failure, RequestFinished, ResponseStarted, StreamProgressed
from ccm_tui.providers.registry import WireFormat
from ccm_tui.proxy.app import Proxy
from ccm_tui.sim import Simulator, wire
from ccm_tui.sim.reply import tool_input

from support import EITHER_FIRST, HELLO, JSON, WEATHER, two_provider_config

# A copy of ../shared/fixtures/claude-code-request.json: one real Claude Code request.
FIXTURE = Path(__file__).parents[1] / "fixtures" / "claude-code-request.json"


MODEL = "claude-sonnet-4-5"
# The model a client reads in the answer: an Anthropic upstream's own, and for an
# OpenAI-format one (whose ids mean nothing to the client) the model the client asked for.
ANSWER_MODEL = {WireFormat.ANTHROPIC: "primary-model", WireFormat.OPENAI: MODEL}


def client(proxy: Proxy, **kwargs: object) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=proxy.url, api_key="client-key", max_retries=0, **kwargs
    )


def sim_usage(sim: Simulator, output: str) -> tuple[int, int]:
    """The usage the simulator reports for primary's last request and an answer of `output`."""
    request = sim.requests("primary")[-1]
    return wire.estimate_tokens(len(request.body)), wire.estimate_tokens(len(output))


@EITHER_FIRST
async def test_json_reply_comes_from_first_provider_with_its_model_and_usage(sim, proxy):
    reply = await client(proxy).messages.create(model=MODEL, max_tokens=64, messages=HELLO)
    assert reply.id.startswith("msg_")
    assert reply.content[0].text == sim.text("primary")
    assert reply.stop_reason == "end_turn"
    assert reply.model == ANSWER_MODEL[proxy.config.providers[0].format]
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == sim_usage(
        sim, sim.text("primary")
    )
    sent = sim.requests("primary")[-1].json()
    assert sent["model"] == "primary-model"
    assert sim.requests("secondary") == []


@EITHER_FIRST
async def test_streamed_text_arrives_whole_and_usage_is_observed(sim, proxy):
    async with client(proxy).messages.stream(model=MODEL, max_tokens=64, messages=HELLO) as s:
        text = "".join([t async for t in s.text_stream])
        final = await s.get_final_message()
    assert text == sim.text("primary")
    assert (final.usage.input_tokens, final.usage.output_tokens) == sim_usage(sim, text)
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.OK
    assert finished.provider == "primary"
    assert finished.output_tokens == final.usage.output_tokens
    assert finished.input_tokens == final.usage.input_tokens
    assert finished.stop_reason == "end_turn"
    assert finished.blocks[-1].text == sim.text("primary")


@EITHER_FIRST
async def test_the_stream_is_well_formed_anthropic_sse(sim, proxy):
    body = {"model": MODEL, "max_tokens": 64, "messages": HELLO, "stream": True}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.url}/v1/messages", json=body) as response,
    ):
        raw = await response.read()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["x-ccm-provider"] == "primary"
    frames = [f for f in raw.split(b"\n\n") if f]
    events = [f.split(b"\n")[0] for f in frames]
    assert events[0] == b"event: message_start"
    assert events[-2:] == [b"event: message_delta", b"event: message_stop"]
    assert b"data: [DONE]" not in raw


@EITHER_FIRST
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(
    "tool_choice", [{"type": "any"}, {"type": "tool", "name": "get_weather"}], ids=["any", "named"]
)
async def test_tool_use_comes_back_with_its_input_assembled(sim, proxy, stream, tool_choice):
    kwargs = {
        "model": MODEL,
        "max_tokens": 256,
        "messages": HELLO,
        "tools": [WEATHER],
        "tool_choice": tool_choice,
    }
    if stream:
        async with client(proxy).messages.stream(**kwargs) as s:
            message = await s.get_final_message()
    else:
        message = await client(proxy).messages.create(**kwargs)
    block = message.content[-1]
    assert block.type == "tool_use"
    assert block.name == "get_weather"
    assert block.input == tool_input(WEATHER)
    assert block.id
    assert message.stop_reason == "tool_use"
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    tool_view = next(b for b in finished.blocks if b.kind == "tool_use")
    assert tool_view.name == "get_weather"
    assert json.loads(tool_view.text) == block.input


async def test_streamed_thinking_keeps_its_signature(sim, proxy):
    async with client(proxy).messages.stream(
        model="claude-sonnet-4-5",
        max_tokens=2048,
        messages=HELLO,
        thinking={"type": "enabled", "budget_tokens": 1024},
    ) as stream:
        message = await stream.get_final_message()
    thinking = message.content[0]
    assert thinking.type == "thinking"
    assert thinking.signature
    assert message.content[-1].text == sim.text("primary")


@EITHER_FIRST
async def test_events_split_across_reads_reach_the_client_whole(sim, proxy):
    sim.scenario("primary", split_events=True)
    async with client(proxy).messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as s:
        text = "".join([t async for t in s.text_stream])
    assert text == sim.text("primary")


async def test_each_sse_event_reaches_the_client_as_it_is_sent(sim, proxy):
    sim.scenario("primary", event_interval_ms=60)
    arrivals: list[float] = []
    loop = asyncio.get_running_loop()
    body = {"model": "sonnet", "max_tokens": 64, "messages": HELLO, "stream": True}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.url}/v1/messages", json=body) as response,
    ):
        buffer = b""
        async for chunk in response.content.iter_any():
            buffer += chunk
            while b"\n\n" in buffer:
                _, buffer = buffer.split(b"\n\n", 1)
                arrivals.append(loop.time())
    assert len(arrivals) >= 8
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    # Batched relaying would deliver several frames at once (gaps near zero).
    assert sum(gap > 0.03 for gap in gaps) >= len(gaps) - 2


async def test_stream_progress_is_published_while_streaming(sim, proxy):
    sim.scenario("primary", event_interval_ms=40, output_chunks=12)
    async with client(proxy).messages.stream(
        model="sonnet", max_tokens=64, messages=HELLO
    ) as stream:
        await stream.get_final_message()
    progress = proxy.log.of(StreamProgressed)
    assert len(progress) >= 2
    tokens = [p.output_tokens for p in progress]
    assert tokens == sorted(tokens) and tokens[-1] > tokens[0]  # growing as the text streams
    started = proxy.log.of(ResponseStarted)[0]
    assert started.ttfb_ms > 0


async def test_fixture_body_reaches_upstream_byte_identical_except_model(sim, proxy):
    capture = json.loads(FIXTURE.read_text())
    body = dict(capture["body"])
    body["future_field"] = {"nested": [1, 2.5, "x"], "cache_control": {"type": "ephemeral"}}
    raw = json.dumps(body, ensure_ascii=False, indent=1).encode()
    headers = {k: v for k, v in capture["headers"].items() if k.lower() != "content-length"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.url}{capture['path']}", data=raw, headers=headers) as response,
    ):
        await response.read()
    assert response.status == 200
    received = sim.requests("primary")[-1]
    expected = raw.replace(b'"model": "claude-sonnet-4-5"', b'"model": "primary-model"', 1)
    assert received.body == expected
    assert received.path_qs.endswith("/v1/messages?beta=true")


async def test_claude_code_headers_go_upstream_and_client_credentials_do_not(sim, proxy):
    capture = json.loads(FIXTURE.read_text())
    headers = {k: v for k, v in capture["headers"].items() if k.lower() != "content-length"}
    headers["x-api-key"] = "sk-ant-api03-the-clients-own-key-0000000000"
    headers["Authorization"] = "Bearer client-token-should-not-travel"
    headers["Connection"] = "keep-alive, X-Hop"
    headers["X-Hop"] = "hop-by-hop"
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{proxy.url}/v1/messages?beta=true", json=capture["body"], headers=headers
        ) as response,
    ):
        await response.read()
    received = sim.requests("primary")[-1]
    for name in (
        "anthropic-beta",
        "anthropic-version",
        "User-Agent",
        "x-app",
        "X-Claude-Code-Session-Id",
        "X-Stainless-Package-Version",
        "anthropic-dangerous-direct-browser-access",
    ):
        assert received.header(name) == capture["headers"][name], name
    assert received.header("x-api-key") == "sk-ant-api03-primary-key-000000000000"
    assert received.header("authorization") is None
    assert received.header("x-hop") is None
    assert received.header("accept-encoding") == "identity"


async def test_response_headers_that_clients_use_come_back(sim, proxy):
    sim.scenario(
        "primary", headers={"x-should-retry": "false", "anthropic-ratelimit-tokens-limit": "99"}
    )
    body = {"model": "sonnet", "max_tokens": 8, "messages": HELLO}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.url}/v1/messages", json=body) as response,
    ):
        await response.read()
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["anthropic-ratelimit-tokens-limit"] == "99"
    assert response.headers["x-should-retry"] == "false"
    assert response.headers["content-type"].startswith("application/json")


async def post_messages(proxy: Proxy, **body: object) -> aiohttp.ClientResponse:
    body = {"model": "sonnet", "max_tokens": 8, "messages": HELLO, **body}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.url}/v1/messages", json=body) as response,
    ):
        await response.read()
    return response


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_every_answer_says_which_provider_gave_it(sim, proxy, stream):
    sim.scenario("primary", status=529, times=1)
    response = await post_messages(proxy, stream=stream)
    assert response.status == 200
    assert response.headers["x-ccm-provider"] == "secondary"


async def test_a_client_error_passed_through_says_which_provider_refused_it(sim, proxy):
    sim.scenario("primary", status=400, error_message="max_tokens: too large")
    response = await post_messages(proxy)
    assert response.status == 400
    assert response.headers["x-ccm-provider"] == "primary"


async def test_when_all_fail_the_answer_says_whose_error_it_is(sim, proxy):
    for name in ("primary", "secondary"):
        sim.scenario(name, status=529)
    response = await post_messages(proxy)
    assert response.status == 529
    assert response.headers["x-ccm-provider"] == "secondary"


async def test_passthrough_sends_the_clients_credential_but_never_the_proxy_key(sim, make_proxy):
    config = two_provider_config(sim, api_key='"proxy-secret-key"').replace(
        'auth_type = "apikey"\napi_key = "sk-ant-api03-primary-key-000000000000"',
        'auth_type = "passthrough"',
    )
    proxy = await make_proxy(config)
    headers = {"x-api-key": "sk-ant-oat01-users-own-login-token", "x-ccm-key": "proxy-secret-key"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{proxy.url}/v1/messages",
            json={"model": "sonnet", "max_tokens": 8, "messages": HELLO},
            headers=headers,
        ) as response,
    ):
        await response.read()
    assert response.status == 200
    received = sim.requests("primary")[-1]
    assert received.header("x-api-key") == "sk-ant-oat01-users-own-login-token"
    assert received.header("x-ccm-key") is None
    assert b"proxy-secret-key" not in b"".join(v.encode() for _, v in received.headers)


async def test_count_tokens_goes_to_the_first_provider(sim, proxy):
    result = await client(proxy).messages.count_tokens(model="claude-sonnet-4-5", messages=HELLO)
    assert result.input_tokens > 0
    assert sim.requests("primary")[-1].json()["model"] == "primary-model"
    assert sim.requests("primary")[-1].path_qs.endswith("/v1/messages/count_tokens")


async def test_count_tokens_estimates_locally_when_no_provider_answers(sim, proxy):
    sim.scenario("primary", status=404)
    sim.scenario("secondary", status=404)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{proxy.url}/v1/messages/count_tokens",
            json={"model": "sonnet", "messages": HELLO},
        ) as response,
    ):
        data = await response.json()
    assert response.status == 200
    assert data["input_tokens"] > 0
    assert response.headers["x-ccm-estimate"] == "local"


async def test_models_lists_configured_names_in_the_api_shape(proxy):
    page = await client(proxy).models.list()
    assert [m.id for m in page.data] == ["sonnet"]
    assert page.data[0].type == "model"


async def test_probes_and_health_answer_without_a_key(sim, make_proxy):
    proxy = await make_proxy(two_provider_config(sim, api_key='"k"'))
    async with aiohttp.ClientSession() as session:
        for path in ("/", "/api/hello"):
            async with session.head(proxy.url + path) as response:
                assert response.status == 200
        async with session.get(proxy.url + "/health") as response:
            assert (await response.json())["status"] == "ok"


async def test_x_provider_pins_one_provider(sim, proxy):
    reply = await client(proxy, default_headers={"x-provider": "secondary"}).messages.create(
        model="sonnet", max_tokens=8, messages=HELLO
    )
    assert reply.content[0].text == sim.text("secondary")
    assert sim.requests("primary") == []
    assert sim.requests("secondary")[-1].header("x-provider") is None


async def test_query_string_is_kept(sim, proxy):
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{proxy.url}/v1/messages?beta=true",
            json={"model": "sonnet", "max_tokens": 8, "messages": HELLO},
        ) as response,
    ):
        await response.read()
    assert sim.requests("primary")[-1].path_qs.endswith("/v1/messages?beta=true")


@pytest.mark.parametrize("stream", [False, True])
async def test_large_body_is_forwarded_whole(sim, proxy, stream):
    text = "x" * (2 * 1024 * 1024)
    body = {"model": "sonnet", "max_tokens": 8, "messages": [{"role": "user", "content": text}]}
    if stream:
        body["stream"] = True
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.url}/v1/messages", data=orjson.dumps(body), headers=JSON) as response,
    ):
        await response.read()
    assert response.status == 200
    assert sim.requests("primary")[-1].json()["messages"][0]["content"] == text


async def test_subagent_tag_routes_and_is_removed_before_upstream(sim, proxy):
    system = [
        {"type": "text", "text": "x-anthropic-billing-header: cc_version=2"},
        {"type": "text", "text": "Be brief.<CCM-SUBAGENT-MODEL>sonnet</CCM-SUBAGENT-MODEL>"},
    ]
    raw = (
        b'{"model":"some-agent-model","max_tokens":8,"metadata":{"n":123456789012345678901234567890},'
        + b'"system":'
        + orjson.dumps(system)
        + b',"messages":[{"role":"user","content":"hi"}]}'
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{proxy.url}/v1/messages", data=raw, headers=JSON) as response,
    ):
        await response.read()
    assert response.status == 200
    sent = sim.requests("primary")[-1]
    assert sent.json()["system"][1]["text"] == "Be brief."
    assert sent.json()["model"] == "primary-model"
    assert b"123456789012345678901234567890" in sent.body  # exact, not a float


# -- an upstream whose answers are not shaped as WIRE.md says --------------------------------


def sse(event: dict) -> bytes:
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


ODD_STREAM = b"".join(
    sse(e)
    for e in [
        {"type": "message_start", "message": {"model": "m", "usage": {"input_tokens": 9}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        {"type": "content_block_delta", "index": 0, "delta": "oops"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
         "usage": {"output_tokens": "12.5"}},
        {"type": "message_stop"},
    ]
)  # fmt: skip
ODD_MESSAGE = orjson.dumps(
    {
        "type": "message",
        "model": "m",
        "role": "assistant",
        "content": [{"type": "text", "text": "Hi"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 9, "output_tokens": "12.5"},
    }
)
ODD_COUNT = b'{"input_tokens": "12.5"}'


@pytest.fixture
async def odd_upstream(sim, make_proxy):
    """A proxy whose primary answers with odd usage counts and deltas."""

    async def answer(request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/count_tokens"):
            return web.Response(body=ODD_COUNT, content_type="application/json")
        if not (await request.json()).get("stream"):
            return web.Response(body=ODD_MESSAGE, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(ODD_STREAM)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    async with TestServer(app, host="127.0.0.1") as upstream:
        config = two_provider_config(sim).replace(sim.url("primary"), str(upstream.make_url("")))
        yield await make_proxy(config)


@pytest.mark.parametrize(
    ("path", "stream", "expected"),
    [
        ("/v1/messages", True, ODD_STREAM),
        ("/v1/messages", False, ODD_MESSAGE),
        ("/v1/messages/count_tokens", False, ODD_COUNT),
    ],
    ids=["stream", "json", "count_tokens"],
)
async def test_odd_upstream_content_is_relayed_unchanged_and_the_request_finishes(
    sim, odd_upstream, path, stream, expected
):
    body = {"model": "sonnet", "max_tokens": 8, "messages": HELLO, "stream": stream}
    async with (
        aiohttp.ClientSession() as session,
        session.post(odd_upstream.url + path, json=body) as response,
    ):
        raw = await response.read()
    assert (response.status, raw) == (200, expected)
    finished = await odd_upstream.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert (finished.status, finished.outcome, finished.provider) == (200, Failure.OK, "primary")
    assert sim.requests("secondary") == []
