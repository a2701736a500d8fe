"""Anthropic Messages <-> OpenAI Chat Completions: every mapping, on its own (no proxy)."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anthropic
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from ccm_tui.config import ConfigError, parse_config
from ccm_tui.events import AuthMode
from ccm_tui.providers import openai as chat
from ccm_tui.providers.anthropic import Credential
from ccm_tui.providers.openai import stream as chat_stream

MODEL = "gpt-test"
# OpenAI's documented rule for function names.
OPENAI_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
USER = [{"role": "user", "content": "Hi"}]
LONG_NAME = "mcp__some_very_long_server_name__" + "a_tool_with_a_name_that_goes_on_" * 2
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def tool_use(block_id: str, name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": block_id, "name": name, "input": tool_input}


def request(**body: Any) -> dict[str, Any]:
    return chat.to_chat_request({"model": "claude-x", "messages": USER, **body}, MODEL)


# -- the request -----------------------------------------------------------------------------


def test_model_is_the_actual_model_and_plain_user_text_stays_a_string():
    out = request(max_tokens=10)
    assert out["model"] == MODEL
    assert out["messages"] == [{"role": "user", "content": "Hi"}]
    assert out["max_tokens"] == 10


def test_string_system_becomes_a_leading_system_message():
    assert request(system="Be brief.")["messages"][0] == {"role": "system", "content": "Be brief."}


def test_system_blocks_are_joined_into_one_system_message():
    system = [
        {"type": "text", "text": "first", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "second"},
    ]
    assert request(system=system)["messages"][0] == {
        "role": "system",
        "content": "first\n\nsecond",
    }


def test_user_text_blocks_are_joined_into_a_string():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]
    assert request(messages=messages)["messages"] == [{"role": "user", "content": "a\n\nb"}]


def test_base64_image_becomes_an_image_url_data_uri():
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"},
    }
    messages = [{"role": "user", "content": [{"type": "text", "text": "what?"}, image]}]
    assert request(messages=messages)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what?"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
            ],
        }
    ]


def test_url_image_keeps_its_url():
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    content = request(messages=[{"role": "user", "content": [image]}])["messages"][0]["content"]
    assert content == [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]


def test_assistant_tool_use_becomes_tool_calls_with_json_string_arguments():
    messages = [
        *USER,
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Looking."},
                tool_use("toolu_1", "get_weather", {"city": "Oslo"}),
            ],
        },
    ]
    assistant = request(messages=messages)["messages"][1]
    assert assistant == {
        "role": "assistant",
        "content": "Looking.",
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
            }
        ],
    }
    assert orjson.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"city": "Oslo"}


def test_assistant_with_only_tool_use_has_null_content():
    messages = [
        *USER,
        {"role": "assistant", "content": [tool_use("t", "x", {})]},
    ]
    assistant = request(messages=messages)["messages"][1]
    assert assistant["content"] is None
    assert assistant["tool_calls"][0]["function"]["arguments"] == "{}"


def test_assistant_turn_of_only_thinking_is_left_out():
    messages = [
        *USER,
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "x", "signature": "s"}]},
    ]
    assert request(messages=messages)["messages"] == [{"role": "user", "content": "Hi"}]


def test_tool_results_become_tool_messages_before_the_users_text():
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and then?"},
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_2",
                    "content": [
                        {"type": "text", "text": "line 1"},
                        {"type": "text", "text": "line 2"},
                        {"type": "image", "source": {"type": "base64", "data": "QUJD"}},
                    ],
                },
            ],
        }
    ]
    assert request(messages=messages)["messages"] == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
        {
            "role": "tool",
            "tool_call_id": "toolu_2",
            "content": "line 1\nline 2\n[image omitted: tool results carry text only]",
        },
        {"role": "user", "content": "and then?"},
    ]


def test_failed_tool_result_says_so_in_its_text():
    block = {"type": "tool_result", "tool_use_id": "t", "content": "no such file", "is_error": True}
    out = request(messages=[{"role": "user", "content": [block]}])
    assert out["messages"] == [
        {"role": "tool", "tool_call_id": "t", "content": "Error: no such file"}
    ]


def test_tools_become_functions_and_server_tools_are_dropped():
    server_tool = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
    out = request(tools=[WEATHER, server_tool])
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": WEATHER["input_schema"],
            },
        }
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, "auto"),
        ({"type": "any"}, "required"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ],
)
def test_tool_choice_maps(choice, expected):
    assert request(tools=[WEATHER], tool_choice=choice)["tool_choice"] == expected


def test_disable_parallel_tool_use_turns_parallel_tool_calls_off():
    out = request(tools=[WEATHER], tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert out["parallel_tool_calls"] is False


def test_sampling_fields_and_stop_sequences_carry_over_and_the_rest_is_dropped():
    out = request(
        max_tokens=100,
        temperature=0.2,
        top_p=0.9,
        top_k=5,
        stop_sequences=["END", "STOP"],
        thinking={"type": "enabled", "budget_tokens": 1000},
        context_management={"edits": []},
        metadata={"user_id": "user-42"},
    )
    assert out == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["END", "STOP"],
        "user": "user-42",
    }


def test_stream_asks_for_usage():
    out = request(stream=True)
    assert out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}
    assert "stream_options" not in request(stream=False)


def test_unknown_blocks_are_dropped_and_their_content_is_not_logged(caplog):
    secret = "sk-ant-api03-do-not-log-me"
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hello"},
                {"type": "mystery_block", "payload": secret},
                {"type": secret, "payload": secret},
            ],
        }
    ]
    with caplog.at_level(logging.DEBUG, logger="ccm_tui.providers.openai"):
        out = request(messages=messages)
    assert out["messages"] == [{"role": "user", "content": "hello"}]
    assert "mystery_block" in caplog.text
    assert secret not in caplog.text


def test_the_claude_code_request_translates_without_losing_the_conversation():
    fixture = Path(__file__).parents[1] / "fixtures" / "claude-code-request.json"
    body = orjson.loads(fixture.read_bytes())["body"]
    out = chat.to_chat_request(body, MODEL)
    assert out["messages"][0]["role"] == "system"
    assert out["messages"][0]["content"].startswith("x-anthropic-billing-header")
    assert out["messages"][-1]["content"].endswith("say hi")
    assert [t["function"]["name"] for t in out["tools"]] == [t["name"] for t in body["tools"]]
    assert "thinking" not in out
    assert "context_management" not in out
    assert out["stream_options"] == {"include_usage": True}


# -- tool names ------------------------------------------------------------------------------


def test_names_that_fit_are_unchanged():
    assert chat.short_tool_name("mcp__github__create_issue") == "mcp__github__create_issue"
    assert chat.short_tool_name("a" * 64) == "a" * 64


def test_long_names_are_shortened_to_64_valid_characters_and_stay_distinct():
    other = LONG_NAME[:-1] + "X"
    short, short_other = chat.short_tool_name(LONG_NAME), chat.short_tool_name(other)
    assert len(LONG_NAME) > 64
    assert len(short) <= 64
    assert OPENAI_TOOL_NAME.fullmatch(short)
    assert short != short_other
    assert chat.short_tool_name(LONG_NAME) == short  # deterministic


def test_names_with_characters_openai_refuses_are_rewritten():
    assert OPENAI_TOOL_NAME.fullmatch(chat.short_tool_name("server.tool/name"))


def test_long_tool_names_round_trip_through_request_and_response():
    tool = {**WEATHER, "name": LONG_NAME}
    body = {
        "model": "claude-x",
        "messages": USER,
        "tools": [tool, WEATHER],
        "tool_choice": {"type": "tool", "name": LONG_NAME},
    }
    out = chat.to_chat_request(body, MODEL)
    short = out["tools"][0]["function"]["name"]
    assert short == chat.short_tool_name(LONG_NAME) != LONG_NAME
    assert out["tool_choice"]["function"]["name"] == short
    names = chat.tool_name_map(body)
    assert names == {short: LONG_NAME}
    reply = completion(tool_calls=[call("call_1", short, "{}")], finish_reason="tool_calls")
    assert chat.from_chat_response(reply, "claude-x", names)["content"][0]["name"] == LONG_NAME
    frames = translate(stream_chunks(tool_calls=[(short, ["{}"])], finish="tool_calls"), names)
    start = next(d for e, d in frames if e == "content_block_start")
    assert start["content_block"]["name"] == LONG_NAME


def test_long_names_in_history_are_shortened_the_same_way():
    messages = [
        *USER,
        {"role": "assistant", "content": [tool_use("t", LONG_NAME, {})]},
    ]
    out = request(messages=messages)
    assert out["messages"][1]["tool_calls"][0]["function"]["name"] == chat.short_tool_name(
        LONG_NAME
    )


# -- JSON answers ----------------------------------------------------------------------------


def call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def completion(
    content: str | None = None, finish_reason: str = "stop", usage: dict | None = None, **message
) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": finish_reason,
            }
        ],
        "usage": usage or {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }


def test_text_answer_becomes_a_message():
    out = chat.from_chat_response(completion("Hello"), "claude-x")
    assert out["id"].startswith("msg_")
    assert out["type"] == "message"
    assert out["role"] == "assistant"
    assert out["model"] == "claude-x"
    assert out["content"] == [{"type": "text", "text": "Hello"}]
    assert out["stop_reason"] == "end_turn"
    assert out["stop_sequence"] is None
    assert out["usage"] == {
        "input_tokens": 11,
        "output_tokens": 7,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def test_the_sdk_reads_the_translated_message():
    out = chat.from_chat_response(completion("Hello"), "claude-x")
    message = anthropic.types.Message.model_validate(out)
    assert message.content[0].text == "Hello"


def test_tool_calls_become_tool_use_blocks_with_parsed_input():
    reply = completion(
        "Let me check.",
        finish_reason="tool_calls",
        tool_calls=[call("call_a", "get_weather", '{"city": "Oslo"}'), call("call_b", "x", "")],
    )
    out = chat.from_chat_response(reply, "claude-x")
    assert out["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "call_a", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "call_b", "name": "x", "input": {}},
    ]
    assert out["stop_reason"] == "tool_use"


@pytest.mark.parametrize("arguments", ['{"city": "Os', "[1, 2]", '"a string"'])
def test_tool_arguments_that_are_not_a_json_object_are_kept_raw(arguments):
    reply = completion(tool_calls=[call("c", "x", arguments)], finish_reason="tool_calls")
    assert chat.from_chat_response(reply, "m")["content"][0]["input"] == {"_raw": arguments}


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_finish_reason_maps_to_stop_reason(finish, stop):
    assert (
        chat.from_chat_response(completion("x", finish_reason=finish), "m")["stop_reason"] == stop
    )


def test_tool_calls_with_finish_reason_stop_are_still_tool_use():
    reply = completion(tool_calls=[call("c", "x", "{}")], finish_reason="stop")
    assert chat.from_chat_response(reply, "m")["stop_reason"] == "tool_use"


def test_cached_prompt_tokens_are_counted_apart_like_anthropic_does():
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 5,
        "prompt_tokens_details": {"cached_tokens": 60},
    }
    out = chat.from_chat_response(completion("x", usage=usage), "m")
    assert out["usage"]["input_tokens"] == 40
    assert out["usage"]["cache_read_input_tokens"] == 60


def test_reasoning_content_becomes_a_thinking_block_first():
    out = chat.from_chat_response(completion("Answer", reasoning_content="Because."), "m")
    assert out["content"] == [
        {"type": "thinking", "thinking": "Because.", "signature": ""},
        {"type": "text", "text": "Answer"},
    ]


def test_refusal_text_is_kept():
    reply = completion(None, finish_reason="content_filter", refusal="I can't help with that.")
    out = chat.from_chat_response(reply, "m")
    assert out["content"] == [{"type": "text", "text": "I can't help with that."}]
    assert out["stop_reason"] == "refusal"


def test_an_answer_without_choices_is_an_error():
    with pytest.raises(ValueError, match="no choices"):
        chat.from_chat_response({"error": {"message": "oops"}}, "m")


# -- errors ----------------------------------------------------------------------------------


def openai_error(message: str, kind: str = "invalid_request_error", code: Any = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (503, "api_error"),
        (529, "overloaded_error"),
        (422, "invalid_request_error"),
    ],
)
def test_error_type_comes_from_the_status_and_the_message_is_kept(status, kind):
    body = orjson.loads(chat.error_to_anthropic(status, openai_error("Nope.", "server_error")))
    assert body["type"] == "error"
    assert body["error"] == {"type": kind, "message": "Nope."}
    assert body["request_id"].startswith("req_")


def test_error_body_that_is_not_json_keeps_its_text():
    body = orjson.loads(chat.error_to_anthropic(502, b"<html>Bad Gateway</html>"))
    assert body["error"] == {"type": "api_error", "message": "<html>Bad Gateway</html>"}


@pytest.mark.parametrize(
    "raw", [b'{"error": "model not loaded"}', b'{"detail": "model not loaded"}']
)
def test_string_errors_of_other_servers_keep_their_message(raw):
    assert orjson.loads(chat.error_to_anthropic(404, raw))["error"]["message"] == "model not loaded"


def test_an_anthropic_shaped_error_is_left_alone():
    raw = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    assert chat.error_to_anthropic(529, raw) == raw


# -- headers ---------------------------------------------------------------------------------

CLIENT_HEADERS = [
    ("Accept", "application/json"),
    ("Content-Type", "application/json"),
    ("User-Agent", "claude-cli/2.1.197 (external, cli)"),
    ("anthropic-version", "2023-06-01"),
    ("anthropic-beta", "claude-code-20250219"),
    ("x-api-key", "sk-ant-api03-client-key"),
    ("X-Claude-Code-Session-Id", "abc"),
    ("x-app", "cli"),
]


def test_apikey_headers_carry_only_json_accept_user_agent_and_bearer():
    headers = chat.chat_headers(CLIENT_HEADERS, Credential(AuthMode.APIKEY, "sk-oai-1"), None)
    assert headers == {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "claude-cli/2.1.197 (external, cli)",
        "Authorization": "Bearer sk-oai-1",
    }


@pytest.mark.parametrize("header", ["x-api-key", "Authorization"])
def test_passthrough_forwards_the_clients_credential_as_bearer(header):
    value = "gsk_client" if header == "x-api-key" else "Bearer gsk_client"
    headers = chat.chat_headers([(header, value)], Credential(AuthMode.PASSTHROUGH), None)
    assert headers["Authorization"] == "Bearer gsk_client"


def test_passthrough_never_forwards_the_proxys_own_key():
    creds = [("x-api-key", "proxy-secret")]
    headers = chat.chat_headers(creds, Credential(AuthMode.PASSTHROUGH), "proxy-secret")
    assert "Authorization" not in headers


def test_passthrough_never_hands_an_anthropic_credential_to_a_third_party():
    creds = [("Authorization", "Bearer sk-ant-oat01-claude-login")]
    headers = chat.chat_headers(creds, Credential(AuthMode.PASSTHROUGH), None)
    assert "Authorization" not in headers


def test_config_accepts_enabled_openai_providers_but_not_oauth_on_them(tmp_path):
    text = """
[[providers]]
name = "groq"
provider_type = "groq"
auth_type = "apikey"
api_key = "gsk_1"

[[models]]
name = "fast"
[[models.mappings]]
priority = 1
provider = "groq"
actual_model = "llama-3.3-70b-versatile"
"""
    config = parse_config(text, tmp_path / "c.toml", env={})
    groq = config.provider("groq")
    assert groq is not None and groq.enabled
    assert chat.chat_url(groq) == "https://api.groq.com/openai/v1/chat/completions"
    with pytest.raises(ConfigError, match="oauth works only"):
        parse_config(text.replace('"apikey"', '"oauth"'), tmp_path / "c.toml", env={})


# -- streams ---------------------------------------------------------------------------------


def sse(payload: Any) -> bytes:
    return b"data: " + (payload if isinstance(payload, bytes) else orjson.dumps(payload)) + b"\n\n"


def delta_chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    return sse(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion.chunk",
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def stream_chunks(
    text: Sequence[str] = (),
    reasoning: Sequence[str] = (),
    tool_calls: Sequence[tuple[str, Sequence[str]]] = (),
    finish: str | None = "stop",
    usage: dict | None = None,
    done: bool = True,
) -> bytes:
    out = [delta_chunk({"role": "assistant", "content": ""})]
    out += [delta_chunk({"reasoning_content": r}) for r in reasoning]
    out += [delta_chunk({"content": t}) for t in text]
    for index, (name, parts) in enumerate(tool_calls):
        out.append(
            delta_chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": f"call_{index}",
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                }
            )
        )
        out += [
            delta_chunk({"tool_calls": [{"index": index, "function": {"arguments": p}}]})
            for p in parts
        ]
    if finish is not None:
        out.append(delta_chunk({}, finish))
    if usage is not None:
        out.append(sse({"id": "chatcmpl-1", "choices": [], "usage": usage}))
    if done:
        out.append(b"data: [DONE]\n\n")
    return b"".join(out)


def parse_frames(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    """Strictly: every frame is `event: X\\ndata: {json}` with the json's type equal to X."""
    assert raw.endswith(b"\n\n") or raw == b""
    frames = []
    for block in raw[:-2].split(b"\n\n") if raw else []:
        event_line, data_line = block.split(b"\n")
        assert event_line.startswith(b"event: ") and data_line.startswith(b"data: ")
        event, data = event_line[7:].decode(), orjson.loads(data_line[6:])
        assert data["type"] == event
        frames.append((event, data))
    return frames


def translate(raw: bytes, names: dict[str, str] | None = None) -> list[tuple[str, dict]]:
    translator = chat.StreamTranslator("claude-x", names)
    return parse_frames(translator.feed(raw) + translator.finish())


async def sdk_message(raw: bytes) -> anthropic.types.Message:
    """What the official SDK makes of the frames, through its own SSE decoder and accumulator
    (served by a tiny in-process server, so nothing depends on the SDK's HTTP internals)."""

    async def messages(_: web.Request) -> web.Response:
        return web.Response(body=raw, content_type="text/event-stream")

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    async with TestServer(app, host="127.0.0.1") as server:
        client = anthropic.AsyncAnthropic(
            api_key="k", base_url=str(server.make_url("")), max_retries=0
        )
        async with client.messages.stream(model="claude-x", max_tokens=8, messages=USER) as s:
            return await s.get_final_message()


USAGE = {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}


def test_text_stream_is_the_wire_md_event_sequence():
    frames = translate(stream_chunks(text=["Hel", "lo"], usage=USAGE))
    assert [e for e, _ in frames] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = frames[0][1]["message"]
    assert start["id"].startswith("msg_")
    assert (start["role"], start["model"], start["content"]) == ("assistant", "claude-x", [])
    assert frames[1][1] == {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    assert frames[2][1]["delta"] == {"type": "text_delta", "text": "Hel"}
    assert frames[4][1] == {"type": "content_block_stop", "index": 0}
    assert frames[5][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {
            "input_tokens": 12,
            "output_tokens": 4,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    }


def test_fed_byte_by_byte_equals_fed_whole(monkeypatch):
    monkeypatch.setattr(chat_stream, "new_message_id", lambda: "msg_fixed")
    raw = stream_chunks(
        text=["Hé", "llo ✓"],
        reasoning=["think"],
        tool_calls=[("get_weather", ['{"ci', 'ty": "Oslo"}']), ("x", [])],
        finish="tool_calls",
        usage=USAGE,
    ).replace(b"\n\n", b"\r\n\r\n", 3)
    whole = chat.StreamTranslator("claude-x")
    expected = whole.feed(raw) + whole.finish()
    piecewise = chat.StreamTranslator("claude-x")
    got = b"".join(piecewise.feed(raw[i : i + 1]) for i in range(len(raw))) + piecewise.finish()
    assert got == expected
    assert piecewise.complete


async def test_the_sdk_accumulates_text_and_usage():
    raw = stream_chunks(text=["Hello", " there"], usage=USAGE)
    message = await sdk_message(chat.StreamTranslator("claude-x").feed(raw))
    assert message.content[0].text == "Hello there"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 4)


async def test_the_sdk_assembles_parallel_tool_calls():
    raw = stream_chunks(
        text=["Checking."],
        tool_calls=[("get_weather", ["", '{"city"', ': "Oslo"}']), ("get_time", [])],
        finish="tool_calls",
        usage=USAGE,
    )
    message = await sdk_message(chat.StreamTranslator("claude-x").feed(raw))
    kinds = [(b.type, getattr(b, "name", None), getattr(b, "input", None)) for b in message.content]
    assert kinds == [
        ("text", None, None),
        ("tool_use", "get_weather", {"city": "Oslo"}),
        ("tool_use", "get_time", {}),
    ]
    assert message.content[1].id == "call_0"
    assert message.stop_reason == "tool_use"


def test_tool_use_block_starts_with_empty_input_then_json_deltas():
    frames = translate(stream_chunks(tool_calls=[("f", ['{"a":', "1}"])], finish="tool_calls"))
    assert frames[1][1]["content_block"] == {
        "type": "tool_use",
        "id": "call_0",
        "name": "f",
        "input": {},
    }
    deltas = [d["delta"] for e, d in frames if e == "content_block_delta"]
    assert deltas == [
        {"type": "input_json_delta", "partial_json": '{"a":'},
        {"type": "input_json_delta", "partial_json": "1}"},
    ]


async def test_reasoning_becomes_a_signed_off_thinking_block_before_the_text():
    raw = stream_chunks(reasoning=["Let me ", "think."], text=["Done."], usage=USAGE)
    frames = parse_frames(chat.StreamTranslator("claude-x").feed(raw))
    assert frames[1][1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    thinking = [d["delta"] for e, d in frames if e == "content_block_delta" and d["index"] == 0]
    assert thinking[-1] == {"type": "signature_delta", "signature": ""}
    assert [e for e, d in frames if d.get("index") == 0][-1] == "content_block_stop"
    message = await sdk_message(chat.StreamTranslator("claude-x").feed(raw))
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == "Let me think."


def test_usage_after_the_finish_chunk_reaches_message_delta():
    frames = translate(stream_chunks(text=["x"], usage=USAGE))
    assert frames[-2][1]["usage"]["output_tokens"] == 4


def test_without_usage_the_output_is_estimated():
    frames = translate(stream_chunks(text=["x" * 40]))
    assert frames[-2][1]["usage"] == {"input_tokens": 0, "output_tokens": 10}


def test_a_stream_without_finish_reason_is_left_without_message_stop():
    translator = chat.StreamTranslator("claude-x")
    raw = translator.feed(stream_chunks(text=["Hel"], finish=None, done=False))
    tail = translator.finish()
    assert [e for e, _ in parse_frames(tail)] == ["content_block_stop"]
    assert "message_stop" not in [e for e, _ in parse_frames(raw + tail)]
    assert translator.done and not translator.complete
    assert translator.finish() == b""


def test_done_without_finish_reason_is_still_broken():
    translator = chat.StreamTranslator("claude-x")
    translator.feed(stream_chunks(text=["Hel"], finish=None))
    translator.finish()
    assert not translator.complete


def test_a_finish_without_done_still_closes_the_message():
    translator = chat.StreamTranslator("claude-x")
    translator.feed(stream_chunks(text=["Hi"], done=False))
    assert [e for e, _ in parse_frames(translator.finish())] == ["message_delta", "message_stop"]
    assert translator.complete


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"message": "Rate limit reached", "type": "rate_limit_exceeded"}, "rate_limit_error"),
        ({"message": "boom", "type": "server_error"}, "api_error"),
        ({"message": "busy", "code": 529}, "overloaded_error"),
        ({"message": "odd", "type": "whatever"}, "api_error"),
    ],
)
def test_an_error_chunk_becomes_an_error_event(error, kind):
    raw = stream_chunks(text=["Hi"], finish=None, done=False) + sse({"error": error})
    translator = chat.StreamTranslator("claude-x")
    frames = parse_frames(translator.feed(raw + delta_chunk({"content": "more"})))
    assert frames[-1] == (
        "error",
        {"type": "error", "error": {"type": kind, "message": error["message"]}},
    )
    assert translator.done and not translator.complete


async def test_the_sdk_raises_on_a_translated_error_event():
    raw = stream_chunks(text=["Hi"], finish=None, done=False)
    raw += sse({"error": {"message": "Overloaded", "type": "server_error"}})
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        await sdk_message(chat.StreamTranslator("claude-x").feed(raw))


def test_a_chunk_that_is_not_json_is_a_stream_error():
    frames = translate(delta_chunk({"content": "Hi"}) + b'data: {"choices": [\n\n')
    assert frames[-1][0] == "error"
    assert "not JSON" in frames[-1][1]["error"]["message"]


def test_keepalive_comments_become_pings_once_the_message_started():
    raw = b": keep-alive\n\n" + delta_chunk({"content": "Hi"}) + b": OPENROUTER PROCESSING\n\n"
    frames = translate(raw + delta_chunk({}, "stop") + b"data: [DONE]\n\n")
    assert [e for e, _ in frames].count("ping") == 1
    assert frames[0][0] == "message_start"


def test_events_without_blank_lines_between_them_are_still_read():
    raw = b"".join(
        b"data: " + orjson.dumps({"choices": [{"index": 0, "delta": {"content": t}}]}) + b"\n"
        for t in ("a", "b")
    )
    frames = translate(raw + b"\n" + delta_chunk({}, "stop") + b"data: [DONE]\n\n")
    texts = [d["delta"]["text"] for e, d in frames if e == "content_block_delta"]
    assert texts == ["a", "b"]


def test_a_new_call_that_reuses_index_zero_is_its_own_block():
    def whole_call(call_id: str, name: str) -> bytes:
        function = {"name": name, "arguments": "{}"}
        return delta_chunk({"tool_calls": [{"index": 0, "id": call_id, "function": function}]})

    frames = translate(whole_call("a", "f") + whole_call("b", "g") + delta_chunk({}, "tool_calls"))
    starts = [d["content_block"]["name"] for e, d in frames if e == "content_block_start"]
    assert starts == ["f", "g"]


def test_late_fragments_of_a_closed_call_are_dropped_and_counted():
    def fragment(index: int, **function: str) -> bytes:
        call: dict[str, Any] = {"index": index, "function": function}
        if "name" in function:
            call["id"] = f"c{index}"
        return delta_chunk({"tool_calls": [call]})

    translator = chat.StreamTranslator("claude-x")
    raw = (
        fragment(0, name="f", arguments="{")
        + fragment(1, name="g", arguments="{}")
        + fragment(0, arguments="}")
        + delta_chunk({}, "tool_calls")
        + b"data: [DONE]\n\n"
    )
    frames = parse_frames(translator.feed(raw))
    assert translator.dropped == 1
    assert [e for e, _ in frames][-2:] == ["message_delta", "message_stop"]
