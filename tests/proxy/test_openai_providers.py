"""OpenAI-format providers behind the proxy: the Anthropic SDK never sees the difference."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import anthropic
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ccm_tui.events import Failure, RequestFinished
from ccm_tui.providers import openai as chat
from ccm_tui.sim import Simulator
from ccm_tui.sim.openai import REASONING_TEXT

from support import HELLO, WEATHER

MODEL = "claude-sonnet-4-5"
OAI_KEY = "sk-proj-oai-test-key-0000000000"
FIXTURE = Path(__file__).parents[1] / "fixtures" / "claude-code-request.json"


def openai_config(
    sim: Simulator,
    actual_model: str = "gpt-test",
    auth: str = "apikey",
    oai_url: str | None = None,
    alone: bool = False,
) -> str:
    """A chain `sonnet`: oai (OpenAI format) first, then secondary (Anthropic format);
    `alone` leaves secondary out of the chain."""
    key_line = f'api_key = "{OAI_KEY}"' if auth == "apikey" else ""
    chain = f"""
[[models.mappings]]
priority = 1
provider = "oai"
actual_model = "{actual_model}"
"""
    if not alone:
        chain += """
[[models.mappings]]
priority = 2
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


async def post(proxy, body: dict, path: str = "/v1/messages") -> tuple[int, dict, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + path, json=body) as response,
    ):
        return response.status, dict(response.headers), await response.read()


# -- answers ---------------------------------------------------------------------------------


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


async def test_a_named_tool_choice_goes_upstream_as_a_function_choice(sim, proxy):
    await client(proxy).messages.create(
        model=MODEL,
        max_tokens=64,
        messages=HELLO,
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    sent = sim.requests("oai")[-1].json()
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}


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


async def test_a_malformed_stream_chunk_is_reported_not_skipped(sim, proxy):
    sim.scenario("oai", malformed=True)
    body = {"model": MODEL, "max_tokens": 8, "messages": HELLO, "stream": True}
    status, _, raw = await post(proxy, body)
    assert status == 200
    assert raw.rstrip().split(b"\n\n")[-1].startswith(b"event: error")
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.STREAM_ERROR
