"""ccm_tui.sse: the one SSE writer and parser, on the edge cases a stream can bring."""

from __future__ import annotations

import itertools

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccm_tui import sse
from ccm_tui.sse import COMMENT, SseParser, complete_length, parse_frames

PING = b'event: ping\ndata: {"type": "ping"}\n\n'
STOP = b'event: message_stop\ndata: {"type": "message_stop"}\n\n'

# Every kind of line a stream may carry: comments, fields without a value or a colon,
# multi-line data, a frame without data, ids and retries, an unnamed frame, CRLF lines.
MIXED = (
    b": keepalive\n\n"
    b'event: snapshot\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
    b"event: event\ndata:{}\nid: 7\nretry: 10\n\n"
    b"event: only-a-name\n\n"
    b"data: plain\n\n"
    b"data\n\n"
    b"data:  two spaces\nfuture: field\n\n"
    b"event:\ndata: x\n\n"
)
MIXED_FRAMES = [
    (b"snapshot", b'{"a":\n1}'),
    (b"event", b"{}"),
    (b"message", b"plain"),
    (b"message", b""),
    (b"message", b" two spaces"),
    (b"message", b"x"),
]


def feed_all(parser: SseParser, chunks: list[bytes]) -> list[sse.SseFrame]:
    frames: list[sse.SseFrame] = []
    for chunk in chunks:
        frames += parser.feed(chunk)
    return frames


# -- complete_length: where a stream may be cut ------------------------------------------------


def test_whole_lf_frames_are_complete_to_the_end():
    assert complete_length(PING + STOP) == len(PING + STOP)


def test_complete_length_stops_after_the_last_whole_frame():
    partial = b'event: message_stop\ndata: {"type": "mess'
    assert complete_length(PING + partial) == len(PING)


def test_a_frame_whose_blank_line_has_not_arrived_is_not_complete():
    assert complete_length(PING + PING[:-1]) == len(PING)


def test_no_whole_frame_is_zero():
    assert complete_length(b"") == 0
    assert complete_length(PING[:-1]) == 0
    assert complete_length(PING[:-1].replace(b"\n", b"\r\n")) == 0


def test_crlf_frames_are_cut_after_their_blank_line():
    first, second = PING.replace(b"\n", b"\r\n"), STOP.replace(b"\n", b"\r\n")
    assert complete_length(first + second) == len(first + second)
    assert complete_length(first + second[:-2]) == len(first)
    assert complete_length(first + second[:-1]) == len(first)


def test_mixed_line_endings_are_cut_at_the_later_boundary():
    crlf = PING.replace(b"\n", b"\r\n")
    assert complete_length(PING + crlf) == len(PING + crlf)
    assert complete_length(crlf + PING) == len(crlf + PING)
    assert complete_length(crlf + PING + b"data: {") == len(crlf + PING)
    # A line ended by LF, then a blank line ended by CRLF.
    assert complete_length(b"data: x\n\r\ndata: y") == len(b"data: x\n\r\n")


# -- the parser --------------------------------------------------------------------------------


@pytest.mark.parametrize("step", [1, 3, 1000], ids=["byte-by-byte", "small-chunks", "whole"])
def test_sse_frames_are_parsed_whatever_the_chunking(step):
    stream = (
        b": keepalive\n\n"
        b'event: snapshot\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
        b"event: event\ndata:{}\nid: 7\nretry: 10\n\n"
        b"data: plain\n\n"
        b"event: partial\ndata: never finished"
    )
    parser = SseParser()
    frames = feed_all(parser, [stream[i : i + step] for i in range(0, len(stream), step)])
    assert frames == [
        (b"snapshot", b'{"a":\n1}'),
        (b"event", b"{}"),
        (b"message", b"plain"),
    ]


def test_every_kind_of_line_is_read_by_the_specifications_rules():
    assert SseParser().feed(MIXED) == MIXED_FRAMES


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_a_stream_cut_at_any_byte_gives_the_frames_of_the_whole(newline):
    stream = MIXED.replace(b"\r\n", b"\n").replace(b"\n", newline)
    for cut in range(len(stream) + 1):
        parser = SseParser()
        frames = feed_all(parser, [stream[:cut], stream[cut:]])
        assert frames == MIXED_FRAMES, cut
        assert parser.finish() == []


def test_a_stream_fed_byte_by_byte_gives_each_frame_once_its_blank_line_arrives():
    parser = SseParser()
    seen: list[tuple[int, sse.SseFrame]] = []
    stream = PING + STOP
    for i in range(len(stream)):
        seen += [(i, frame) for frame in parser.feed(stream[i : i + 1])]
    assert seen == [
        (len(PING) - 1, (b"ping", b'{"type": "ping"}')),
        (len(stream) - 1, (b"message_stop", b'{"type": "message_stop"}')),
    ]


def test_comments_are_skipped_unless_asked_for_and_then_come_in_order():
    stream = b": first\n\ndata: 1\n\n:second\ndata: 2\n\n"
    assert SseParser().feed(stream) == [(b"message", b"1"), (b"message", b"2")]
    assert SseParser(comments=True).feed(stream) == [
        (COMMENT, b"first"),
        (b"message", b"1"),
        (COMMENT, b"second"),
        (b"message", b"2"),
    ]


def test_multi_line_data_is_joined_with_line_feeds():
    assert parse_frames(b"data: a\ndata:\ndata: c\n\n") == [(b"message", b"a\n\nc")]


def test_a_last_frame_without_its_blank_line_comes_only_when_the_stream_ends():
    parser = SseParser()
    assert parser.feed(PING + b"event: message_stop\ndata: {}") == [(b"ping", b'{"type": "ping"}')]
    assert parser.feed(b"") == []
    assert parser.finish() == [(b"message_stop", b"{}")]
    assert parser.finish() == []


def test_blank_lines_before_the_first_frame_end_nothing():
    assert parse_frames(b"\n\r\n\ndata: x\n\n") == [(b"message", b"x")]


def test_a_huge_frame_in_small_chunks_arrives_whole_and_once():
    data = orjson.dumps({"text": "x" * (8 << 20)})
    stream = b"event: snapshot\ndata: " + data + b"\n\n" + PING
    parser = SseParser()
    chunks = [stream[i : i + 4096] for i in range(0, len(stream), 4096)]
    frames = feed_all(parser, chunks)
    assert [event for event, _ in frames] == [b"snapshot", b"ping"]
    assert frames[0][1] == data


def test_a_huge_multi_line_frame_is_joined_whole():
    lines = [b"%06d" % i for i in range(200_000)]
    stream = b"".join(b"data: " + line + b"\n" for line in lines) + b"\n"
    assert SseParser().feed(stream) == [(b"message", b"\n".join(lines))]


# -- the writer --------------------------------------------------------------------------------


def test_a_frame_is_an_event_line_a_data_line_and_a_blank_line():
    assert sse.frame(b'{"type": "ping"}', "ping") == PING
    assert sse.frame(b"[DONE]") == b"data: [DONE]\n\n"


def test_data_with_line_breaks_becomes_several_data_lines():
    assert sse.frame(b"a\nb\r\nc\rd") == b"data: a\ndata: b\ndata: c\ndata: d\n\n"


def test_an_event_name_or_comment_with_a_line_break_is_refused():
    with pytest.raises(ValueError, match="one line"):
        sse.frame(b"{}", "bad\nname")
    with pytest.raises(ValueError, match="one line"):
        sse.comment("two\nlines")


def test_a_comment_reads_as_nothing_and_keeps_the_connection_alive():
    assert sse.KEEPALIVE == b": keepalive\n\n"
    assert SseParser().feed(sse.KEEPALIVE) == []


def test_messages_api_events_are_named_by_their_type():
    assert sse.message_event({"type": "message_stop"}) == (
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    assert parse_frames(sse.error_event("overloaded_error", "Overloaded")) == [
        (b"error", b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')
    ]


# Event names are ours (the relay passes upstream's frames through as bytes), so any text
# UTF-8 can carry: a lone surrogate is no name, and the writer's encode says so.
@given(
    event=st.none() | st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), min_size=1),
    data=st.binary().filter(lambda b: b"\r" not in b),
)
def test_what_the_writer_writes_the_parser_reads_back(event, data):
    written = sse.frame(data, event)
    assert parse_frames(written) == [((event or "message").encode(), data)]
    assert complete_length(written) == len(written)


@given(payload=st.dictionaries(st.text(), st.text() | st.integers(-(2**63), 2**63 - 1)))
def test_a_json_frame_carries_its_payload(payload):
    ((event, data),) = SseParser().feed(sse.json_frame(payload, "event"))
    assert (event, orjson.loads(data)) == (b"event", payload)


def reference_frames(stream: bytes) -> list[sse.SseFrame]:
    """The specification's algorithm, line by line, as plainly as it reads (LF or CRLF)."""
    frames: list[sse.SseFrame] = []
    event, data = b"", None
    for line in stream.replace(b"\r\n", b"\n").split(b"\n")[:-1]:
        if not line:
            if data is not None:
                frames.append((event or b"message", b"\n".join(data)))
            event, data = b"", None
            continue
        name, _, value = line.partition(b":")
        value = value[1:] if value.startswith(b" ") else value
        if not name:
            frames.append((COMMENT, value))
        elif name == b"data":
            data = [*(data or []), value]
        elif name == b"event":
            event = value
    return frames


# Single lines of every kind, and the frames servers actually write (which the parser
# reads by a shortcut), so streams mix both.
LINES = st.sampled_from(
    [(b"event: ping",), (b"event:x",), (b"event",), (b"data: {}",), (b"data:1",), (b"data",),
     (b"data:  two",), (b": keepalive",), (b":",), (b"id: 7",), (b"retry: 10",),
     (b"other: field",), (b"",),
     (b"event: ping", b'data: {"type": "ping"}', b""), (b"data: {}", b""), (b"event: e", b"data:")]
).map(list)  # fmt: skip


@given(
    lines=st.lists(LINES, max_size=30).map(lambda groups: [x for g in groups for x in g]),
    newline=st.sampled_from([b"\n", b"\r\n"]),
    cuts=st.lists(st.integers(0, 400), max_size=8),
)
def test_any_stream_in_any_chunks_reads_as_the_specification_says(lines, newline, cuts):
    stream = b"".join(line + newline for line in lines) + newline
    bounds = [0, *sorted(c for c in cuts if c < len(stream)), len(stream)]
    chunks = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    assert feed_all(SseParser(comments=True), chunks) == reference_frames(stream)


@given(
    lines=st.lists(LINES, max_size=30).map(lambda groups: [x for g in groups for x in g]),
    newline=st.sampled_from([b"\n", b"\r\n"]),
)
def test_any_stream_fed_frame_by_frame_reads_as_the_specification_says(lines, newline):
    stream = b"".join(line + newline for line in lines) + newline
    blank = newline * 2
    chunks = [frame + blank for frame in stream.split(blank)]
    assert feed_all(SseParser(comments=True), chunks) == reference_frames(b"".join(chunks))
