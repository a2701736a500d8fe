"""No connection can hold the proxy: headers and bodies have deadlines, connections a cap."""

from __future__ import annotations

import asyncio
import contextlib
import time

import orjson
import pytest
from rawhttp import address, assert_anthropic_error, parse_response, send

from support import HELLO, two_provider_config

MESSAGE = orjson.dumps({"model": "sonnet", "max_tokens": 8, "messages": HELLO})
LIMITS = """
[server.timeouts]
header_timeout_ms = 800
body_timeout_ms = 800
"""


@pytest.fixture
async def strict(sim, make_proxy):
    config = two_provider_config(sim, max_connections="16")
    return await make_proxy(config.replace("[router]", LIMITS + "\n[router]"))


async def open_raw(proxy):
    return await asyncio.open_connection(*address(proxy.url))


async def answer_within(reader, seconds: float) -> bytes:
    async with asyncio.timeout(seconds):
        return await reader.read()


async def test_a_huge_content_length_is_refused_at_once(proxy):
    host = proxy.url.removeprefix("http://")
    started = time.monotonic()
    head = (
        f"POST /v1/messages HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        "Content-Length: 10000000000\r\n\r\n"
    )
    reader, writer = await open_raw(proxy)
    writer.write(head.encode() + b"{}")
    try:
        data = await answer_within(reader, 5)
    finally:
        writer.close()
    assert_anthropic_error(parse_response(data), 413)
    assert time.monotonic() - started < 3


async def test_slow_headers_are_cut_off(strict):
    reader, writer = await open_raw(strict)
    host = strict.url.removeprefix("http://")
    writer.write(f"POST /v1/messages HTTP/1.1\r\nHost: {host}\r\n".encode())
    started = time.monotonic()
    try:
        async with asyncio.timeout(10):
            while True:  # slowloris: a header byte every 200 ms, never the blank line
                writer.write(b"X-a: b\r\n")
                await writer.drain()
                try:
                    data = await asyncio.wait_for(reader.read(), 0.2)
                except TimeoutError:
                    continue
                break
    except (ConnectionError, BrokenPipeError):
        data = b""
    finally:
        writer.close()
    assert time.monotonic() - started < 5
    if data:
        assert_anthropic_error(parse_response(data), 408)


@pytest.mark.parametrize(
    "head, body",
    [
        ("Content-Length: 100\r\n", b'{"model"'),  # a short body
        ("Transfer-Encoding: chunked\r\n", b"5\r\nhello\r\n"),  # a chunked body that never ends
    ],
    ids=["short-body", "endless-chunked"],
)
async def test_a_body_that_stops_coming_is_a_408(sim, strict, head, body):
    reader, writer = await open_raw(strict)
    host = strict.url.removeprefix("http://")
    writer.write(
        f"POST /v1/messages HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"{head}\r\n".encode()
        + body
    )
    started = time.monotonic()
    try:
        data = await answer_within(reader, 5)
    finally:
        writer.close()
    assert_anthropic_error(parse_response(data), 408)
    assert time.monotonic() - started < 4
    assert sim.requests("primary") == []


async def test_idle_connections_beyond_the_cap_make_room_for_a_real_client(strict):
    # max_connections = 16: sixteen connections that send nothing hold every slot.
    held = [await open_raw(strict) for _ in range(16)]
    try:
        answer = await send(
            strict.url, "POST", "/v1/messages", {"Content-Type": "application/json"}, MESSAGE
        )
        assert answer.status == 200
        closed = 0
        for reader, _ in held:
            with contextlib.suppress(TimeoutError):
                closed += (await asyncio.wait_for(reader.read(), 0.5)) == b""
        assert closed >= 1, "an idle connection must give its slot to the new client"
    finally:
        for _, writer in held:
            writer.close()


async def test_past_the_cap_a_connection_with_nothing_idle_to_evict_is_refused(strict):
    host = strict.url.removeprefix("http://")
    busy = []
    for _ in range(16):  # each mid-request: headers sent, the body still to come
        reader, writer = await open_raw(strict)
        writer.write(
            f"POST /v1/messages HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            "Content-Length: 100\r\n\r\n".encode()
        )
        await writer.drain()
        busy.append((reader, writer))
    try:
        reader, writer = await open_raw(strict)
        writer.write(f"GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = await answer_within(reader, 3)
        writer.close()
        if data:
            assert_anthropic_error(parse_response(data), 503)
    finally:
        for _, w in busy:
            w.close()


async def test_a_slow_upload_that_keeps_coming_is_read_whole(sim, strict):
    # body_timeout_ms = 800 bounds a pause, not the upload: 6 pieces 400 ms apart take 2 s.
    reader, writer = await open_raw(strict)
    host = strict.url.removeprefix("http://")
    writer.write(
        f"POST /v1/messages HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(MESSAGE)}\r\nConnection: close\r\n\r\n".encode()
    )
    started = time.monotonic()
    step = -(-len(MESSAGE) // 6)
    try:
        for start in range(0, len(MESSAGE), step):
            writer.write(MESSAGE[start : start + step])
            await writer.drain()
            await asyncio.sleep(0.4)
        data = await answer_within(reader, 5)
    finally:
        writer.close()
    assert time.monotonic() - started > 0.8 * 2
    answer = parse_response(data)
    assert answer.status == 200, answer.body[:300]
    assert sim.requests("primary")[-1].json()["messages"] == HELLO


async def test_a_stream_longer_than_every_read_timeout_is_relayed_whole(sim, strict):
    # The response side has no deadline but the upstream's own idle one: a 2.4 s stream
    # through a proxy whose header and body deadlines are 0.8 s ends with message_stop.
    sim.scenario("primary", event_interval_ms=300)
    body = orjson.dumps({"model": "sonnet", "max_tokens": 8, "messages": HELLO, "stream": True})
    started = time.monotonic()
    answer = await send(
        strict.url, "POST", "/v1/messages", {"Content-Type": "application/json"}, body
    )
    assert time.monotonic() - started > 0.8 * 2
    assert answer.status == 200
    assert answer.body.rstrip().endswith(b'data: {"type":"message_stop"}'), answer.body[-200:]


async def test_an_idle_keep_alive_connection_outlives_the_header_timeout(strict):
    # header_timeout_ms bounds a head that has begun; a connection between requests is not
    # sending one (clients keep them open to reuse).
    reader, writer = await open_raw(strict)
    host = strict.url.removeprefix("http://")
    probe = f"GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    try:
        for _ in range(2):
            writer.write(probe)
            await writer.drain()
            async with asyncio.timeout(5):
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                await reader.readexactly(length)
            assert head.startswith(b"HTTP/1.1 200"), head
            await asyncio.sleep(1.2)  # idle longer than header_timeout_ms
    finally:
        writer.close()
