"""The OpenAI-compatible chat completions endpoint used for translated providers."""

from __future__ import annotations

import httpx
import orjson

from ccm_tui.sim import Simulator

MESSAGES = [{"role": "user", "content": "hi"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "lookup",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
}


def data_lines(raw: bytes) -> list[bytes]:
    assert raw.endswith(b"\n\n")
    lines = raw[:-2].split(b"\n\n")
    assert all(line.startswith(b"data: ") for line in lines)
    return [line[6:] for line in lines]


async def test_chat_completion_json_has_choice_and_usage(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(
            sim.openai_url("oa") + "/chat/completions", json={"model": "gpt", "messages": MESSAGES}
        )
    body = response.json()
    assert response.status_code == 200
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == "Hello from oa."
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )


async def test_chat_completion_stream_ends_with_usage_and_done(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(
            sim.openai_url("oa") + "/chat/completions",
            json={
                "model": "gpt",
                "messages": MESSAGES,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
    lines = data_lines(response.content)
    assert lines[-1] == b"[DONE]"
    chunks = [orjson.loads(line) for line in lines[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == "Hello from oa."
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] > 0


async def test_required_tool_choice_streams_a_tool_call(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(
            sim.openai_url("oa") + "/chat/completions",
            json={
                "model": "gpt",
                "messages": MESSAGES,
                "tools": [TOOL],
                "tool_choice": "required",
                "stream": True,
            },
        )
    chunks = [orjson.loads(line) for line in data_lines(response.content)[:-1]]
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if "tool_calls" in c["choices"][0]["delta"]
    ]
    assert calls[0]["function"]["name"] == "lookup"
    assert calls[0]["id"].startswith("call_sim")
    arguments = "".join(c["function"]["arguments"] for c in calls)
    assert orjson.loads(arguments) == {"q": "sim q"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


async def test_reasoning_model_streams_reasoning_content_first(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(
            sim.openai_url("oa") + "/chat/completions",
            json={"model": "deepseek-reasoner", "messages": MESSAGES},
        )
    message = response.json()["choices"][0]["message"]
    assert message["reasoning_content"]
    assert message["content"] == "Hello from oa."


async def test_openai_errors_use_openai_shape(sim: Simulator):
    sim.scenario("oa", api_key="right")
    async with httpx.AsyncClient(verify=False) as http:
        wrong = await http.post(
            sim.openai_url("oa") + "/chat/completions",
            json={"model": "gpt", "messages": MESSAGES},
            headers={"authorization": "Bearer wrong"},
        )
        sim.scenario("oa", status=429, retry_after=2)
        limited = await http.post(
            sim.openai_url("oa") + "/chat/completions", json={"model": "gpt", "messages": MESSAGES}
        )
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "2"
    assert set(limited.json()["error"]) == {"message", "type", "param", "code"}
