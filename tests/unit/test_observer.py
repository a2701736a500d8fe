"""ResponseObserver: reading a Messages API response for the monitor, without changing it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ccm_tui.events import BlockView
from ccm_tui.proxy.observer import TAIL_CHARS, ResponseObserver
from ccm_tui.sse import complete_length


def frame(event: dict[str, Any], newline: str = "\n") -> bytes:
    text = f"event: {event['type']}{newline}data: {json.dumps(event)}{newline}{newline}"
    return text.encode()


# A streamed response as WIRE.md describes it: thinking with a signature, text, a tool use
# with input_json_delta fragments, pings, cumulative usage.
EVENTS: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": "claude-sonnet-4-5-20250929",
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": 11,
                "output_tokens": 1,
                "cache_creation_input_tokens": 7,
                "cache_read_input_tokens": 2048,
            },
        },
    },
    {"type": "content_block_start", "index": 0,
     "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
    {"type": "content_block_delta", "index": 0,
     "delta": {"type": "thinking_delta", "thinking": "Let me think. "}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0,
     "delta": {"type": "thinking_delta", "thinking": "Listing files helps."}},
    {"type": "content_block_delta", "index": 0,
     "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_delta", "index": 1,
     "delta": {"type": "text_delta", "text": ", I'll look — ünïcode ✓."}},
    {"type": "content_block_stop", "index": 1},
    {"type": "content_block_start", "index": 2,
     "content_block": {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {}}},
    {"type": "content_block_delta", "index": 2,
     "delta": {"type": "input_json_delta", "partial_json": ""}},
    {"type": "content_block_delta", "index": 2,
     "delta": {"type": "input_json_delta", "partial_json": '{"command": '}},
    {"type": "content_block_delta", "index": 2,
     "delta": {"type": "input_json_delta", "partial_json": '"ls -la"}'}},
    {"type": "content_block_stop", "index": 2},
    {"type": "ping"},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
     "usage": {"output_tokens": 40}},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
     "usage": {"output_tokens": 57}},
    {"type": "message_stop"},
]  # fmt: skip

EXPECTED_BLOCKS = (
    BlockView("thinking", "", "Let me think. Listing files helps."),
    BlockView("text", "", "Hello, I'll look — ünïcode ✓."),
    BlockView("tool_use", "Bash", '{"command": "ls -la"}'),
)


def stream(newline: str = "\n") -> bytes:
    return b"".join(frame(e, newline) for e in EVENTS)


def state(o: ResponseObserver) -> tuple[Any, ...]:
    return (
        o.input_tokens,
        o.output_tokens,
        o.output_estimate,
        o.cache_read_tokens,
        o.cache_creation_tokens,
        o.stop_reason,
        o.model,
        o.finished,
        o.error,
        o.malformed,
        o.blocks(),
    )


def feed_like_the_proxy(observer: ResponseObserver, chunks: list[bytes]) -> bytes:
    """Feeds only complete frames, holding back the rest; returns what is still held."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        cut = complete_length(buffer)
        if cut:
            observer.feed(buffer[:cut])
            buffer = buffer[cut:]
    return buffer


# --- ResponseObserver on a stream -----------------------------------------------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_observer_reads_usage_stop_reason_and_block_tails(newline):
    o = ResponseObserver()
    o.feed(stream(newline))

    assert o.model == "claude-sonnet-4-5-20250929"
    assert o.input_tokens == 11
    assert o.cache_creation_tokens == 7
    assert o.cache_read_tokens == 2048
    assert o.output_tokens == 57  # cumulative: the last message_delta, not a sum
    assert o.output_estimate == 57
    assert o.stop_reason == "tool_use"
    assert o.finished is True
    assert o.error is None
    assert o.malformed == 0
    assert o.blocks() == EXPECTED_BLOCKS


def test_signature_deltas_do_not_enter_the_thinking_text():
    o = ResponseObserver()
    o.feed(stream())
    assert "EqQBCg" not in o.blocks()[0].text


def test_finished_only_after_message_stop():
    o = ResponseObserver()
    o.feed(b"".join(frame(e) for e in EVENTS[:-1]))
    assert o.finished is False
    assert o.stop_reason == "tool_use"
    o.feed(frame(EVENTS[-1]))
    assert o.finished is True


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_feeding_one_byte_at_a_time_gives_the_same_result_as_all_at_once(newline):
    data = stream(newline)
    whole = ResponseObserver()
    whole.feed(data)

    piecemeal = ResponseObserver()
    held = feed_like_the_proxy(piecemeal, [data[i : i + 1] for i in range(len(data))])

    assert held == b""
    assert state(piecemeal) == state(whole)


def test_feeding_odd_sized_chunks_gives_the_same_result_as_all_at_once():
    data = stream()
    whole = ResponseObserver()
    whole.feed(data)
    piecemeal = ResponseObserver()
    held = feed_like_the_proxy(piecemeal, [data[i : i + 7] for i in range(0, len(data), 7)])
    assert held == b""
    assert state(piecemeal) == state(whole)


def test_output_is_estimated_from_streamed_characters_until_usage_arrives():
    o = ResponseObserver()
    o.feed(b"".join(frame(e) for e in EVENTS[:10]))  # through the second text delta
    chars = len("Let me think. Listing files helps.") + len("Hello, I'll look — ünïcode ✓.")
    assert o.output_tokens == 0
    assert o.output_estimate == chars // 4
    o.feed(b"".join(frame(e) for e in EVENTS[10:]))
    assert o.output_estimate == 57


def test_usage_of_zero_output_tokens_is_reported_as_zero_not_estimated():
    o = ResponseObserver()
    o.feed(frame(EVENTS[0]) + frame(EVENTS[7]) + frame(EVENTS[8]))
    delta = {"stop_reason": "end_turn"}
    o.feed(frame({"type": "message_delta", "delta": delta, "usage": {"output_tokens": 0}}))
    assert o.output_estimate == 0
    assert o.stop_reason == "end_turn"


def test_message_delta_usage_may_update_input_and_cache_counts():
    o = ResponseObserver()
    o.feed(frame(EVENTS[0]))
    o.feed(
        frame(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"input_tokens": 12, "cache_read_input_tokens": 4096, "output_tokens": 3},
            }
        )
    )
    assert (o.input_tokens, o.cache_read_tokens, o.cache_creation_tokens) == (12, 4096, 7)
    assert o.output_tokens == 3


def test_error_event_is_recorded_with_type_and_message():
    o = ResponseObserver()
    o.feed(b"".join(frame(e) for e in EVENTS[:9]))  # through the "Hello" delta
    o.feed(
        b"event: error\n"
        b'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    assert o.error == ("overloaded_error", "Overloaded")
    assert o.finished is False
    assert o.blocks()[-1] == BlockView("text", "", "Hello")


def test_malformed_data_is_counted_and_the_stream_still_read():
    o = ResponseObserver()
    o.feed(frame(EVENTS[0]))
    o.feed(b'event: content_block_delta\ndata: {"type": "content_block_delta", "ind\n\n')
    o.feed(b"data: not json at all\n\n")
    o.feed(b"".join(frame(e) for e in EVENTS[1:]))
    assert o.malformed == 2
    assert o.blocks() == EXPECTED_BLOCKS
    assert o.finished is True


def test_frames_without_data_and_comments_are_ignored():
    o = ResponseObserver()
    o.feed(b": keep-alive comment\n\nevent: ping\n\nretry: 100\n\n")
    assert state(o) == state(ResponseObserver())


def test_data_split_over_several_lines_is_joined():
    o = ResponseObserver()
    o.feed(b'event: message_stop\ndata: {"type":\ndata: "message_stop"}\n\n')
    assert o.finished is True
    assert o.malformed == 0


def test_block_text_is_a_tail_of_the_last_characters():
    o = ResponseObserver()
    text_block = {"type": "text", "text": ""}
    o.feed(frame({"type": "content_block_start", "index": 0, "content_block": text_block}))
    pieces = [f"{i:05d}|" for i in range(3000)]  # 18000 characters
    for piece in pieces:
        delta = {"type": "text_delta", "text": piece}
        o.feed(frame({"type": "content_block_delta", "index": 0, "delta": delta}))
    text = "".join(pieces)
    assert o.blocks() == (BlockView("text", "", text[-TAIL_CHARS:]),)
    assert o.output_estimate == len(text) // 4


def test_server_tool_use_blocks_show_as_tool_use():
    o = ResponseObserver()
    block = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {}}
    o.feed(frame({"type": "content_block_start", "index": 0, "content_block": block}))
    delta = {"type": "input_json_delta", "partial_json": '{"query":"x"}'}
    o.feed(frame({"type": "content_block_delta", "index": 0, "delta": delta}))
    assert o.blocks() == (BlockView("tool_use", "web_search", '{"query":"x"}'),)


# --- read_message ------------------------------------------------------------------------


def test_read_message_reads_a_whole_json_response():
    o = ResponseObserver()
    o.read_message(
        {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "glm-4.6",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Hi there"},
                {"type": "tool_use", "id": "toolu_1", "name": "Read",
                 "input": {"file_path": "/tmp/x"}},
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 21, "output_tokens": 9,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 100},
        }
    )  # fmt: skip

    assert o.model == "glm-4.6"
    assert (o.input_tokens, o.output_tokens, o.cache_read_tokens) == (21, 9, 100)
    assert o.output_estimate == 9
    assert o.stop_reason == "tool_use"
    assert o.finished is True
    assert o.blocks() == (
        BlockView("thinking", "", "hmm"),
        BlockView("text", "", "Hi there"),
        BlockView("tool_use", "Read", '{"file_path":"/tmp/x"}'),
    )


def test_read_message_tolerates_missing_fields():
    o = ResponseObserver()
    o.read_message({"content": [None, "x", {"type": "text"}]})
    assert o.finished is True
    assert (o.input_tokens, o.output_tokens, o.stop_reason) == (0, 0, "")
    assert o.blocks() == (BlockView("text", "", ""),)


# --- upstream events not shaped as WIRE.md says ------------------------------------------

ODD_EVENTS: list[dict[str, Any]] = [
    {"type": "content_block_delta", "index": 1, "delta": "oops"},
    {"type": "content_block_delta", "index": [1], "delta": {"type": "text_delta", "text": "x"}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": 5}},
    {"type": "content_block_start", "index": "a", "content_block": {"type": "text"}},
    {"type": "content_block_start", "index": 1, "content_block": "text"},
    {"type": "message_start", "message": "oops"},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
     "usage": {"output_tokens": "12.5"}},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": "lots"},
    {"type": "message_delta", "delta": "oops"},
]  # fmt: skip


@pytest.mark.parametrize("odd", ODD_EVENTS, ids=lambda e: json.dumps(e))
def test_an_odd_event_is_counted_as_malformed_and_the_rest_still_read(odd):
    o = ResponseObserver()
    o.feed(b"".join(frame(e) for e in EVENTS[:9]))  # through the "Hello" delta
    o.feed(frame(odd))
    o.feed(b"".join(frame(e) for e in EVENTS[9:]))
    assert o.malformed == 1
    assert o.blocks() == EXPECTED_BLOCKS
    assert (o.input_tokens, o.output_estimate, o.stop_reason) == (11, 57, "tool_use")
    assert o.finished is True


def test_an_error_event_with_an_odd_error_is_still_an_error():
    o = ResponseObserver()
    o.feed(frame({"type": "error", "error": "Overloaded"}))
    assert o.error == ("api_error", "Overloaded")


def test_a_block_start_without_index_keeps_its_text_on_its_own_block():
    o = ResponseObserver()
    o.feed(frame({"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}))
    o.feed(frame({"type": "content_block_start", "content_block": {"type": "text", "text": "B"}}))
    assert o.blocks() == (BlockView("text", "", ""), BlockView("text", "", "B"))


@pytest.mark.parametrize(
    "message",
    [
        {"model": "m", "usage": {"output_tokens": "12.5"}, "content": [{"type": "text"}]},
        {"model": "m", "usage": "lots", "content": []},
        {"model": "m", "usage": {"output_tokens": 3}, "content": 7},
    ],
    ids=["count", "usage", "content"],
)
def test_read_message_counts_an_odd_message_as_malformed(message):
    o = ResponseObserver()
    o.read_message(message)
    assert (o.malformed, o.finished, o.model) == (1, True, "m")
    o.blocks()  # still readable


def test_read_count_takes_a_whole_count_and_counts_anything_else_as_malformed():
    o = ResponseObserver()
    o.read_count({"input_tokens": 42})
    assert (o.input_tokens, o.malformed) == (42, 0)
    o.read_count({"input_tokens": "12.5"})
    assert (o.input_tokens, o.malformed) == (42, 1)
