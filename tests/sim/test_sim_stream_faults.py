"""SSE framing byte by byte, and the timing and connection faults a proxy must survive."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import httpx
import orjson
import pytest
from aiohttp import web

from ccm_tui.sim import Simulator, build_app

BODY = {"model": "m", "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**BODY, "stream": True}


def parse_frames(raw: bytes) -> list[tuple[str, bytes]]:
    """Splits an SSE body into (event, data) pairs, asserting the exact WIRE.md frame format."""
    assert raw.endswith(b"\n\n")
    frames = []
    for block in raw[:-2].split(b"\n\n"):
        event_line, data_line = block.split(b"\n")
        assert event_line.startswith(b"event: ")
        assert data_line.startswith(b"data: ")
        frames.append((event_line[7:].decode(), data_line[6:]))
    return frames


async def test_stream_frames_follow_the_wire_format_in_order(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(sim.url("p") + "/v1/messages?beta=true", json=STREAM)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["request-id"].startswith("req_sim")
    frames = parse_frames(response.content)
    names = [name for name, _ in frames]
    for name, data in frames:
        assert orjson.loads(data)["type"] == name
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert "ping" in names
    assert names.count("content_block_start") == names.count("content_block_stop") == 1
    assert b'event: ping\ndata: {"type": "ping"}\n\n' in response.content
    start = orjson.loads(frames[0][1])["message"]
    assert start["id"].startswith("msg_sim")
    assert start["model"] == "m"
    assert start["content"] == []
    delta = orjson.loads(frames[-2][1])
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"]["output_tokens"] >= 1
    text = "".join(
        orjson.loads(d)["delta"]["text"] for n, d in frames if n == "content_block_delta"
    )
    assert text == "Hello from p."


async def read_chunks(response: aiohttp.ClientResponse) -> list[tuple[float, bytes]]:
    chunks = []
    async for chunk in response.content.iter_any():
        chunks.append((time.monotonic(), chunk))
    return chunks


async def test_event_interval_sends_each_event_as_its_own_timed_write(sim: Simulator):
    sim.scenario("p", event_interval_ms=20)
    async with (
        aiohttp.ClientSession() as http,
        http.post(sim.url("p") + "/v1/messages", json=STREAM) as r,
    ):
        chunks = await read_chunks(r)

    events = b"".join(c for _, c in chunks).count(b"event: ")
    # Each read holds exactly one event: nothing was batched.
    assert len(chunks) == events
    assert all(c.count(b"event: ") == 1 for _, c in chunks)
    span = chunks[-1][0] - chunks[0][0]
    assert span >= (events - 1) * 0.020 * 0.8


async def test_split_events_cut_frames_inside_the_data_line(sim: Simulator):
    sim.scenario("p", split_events=True, event_interval_ms=5)
    async with (
        aiohttp.ClientSession() as http,
        http.post(sim.url("p") + "/v1/messages", json=STREAM) as r,
    ):
        chunks = await read_chunks(r)
    body = b"".join(c for _, c in chunks)
    parse_frames(body)
    assert any(not c.endswith(b"\n\n") for _, c in chunks)


async def test_first_byte_delay_sends_headers_then_waits_before_the_body(sim: Simulator):
    sim.scenario("p", first_byte_delay_ms=300)
    async with aiohttp.ClientSession() as http:
        for body in (STREAM, BODY):
            started = time.monotonic()
            async with http.post(sim.url("p") + "/v1/messages", json=body) as r:
                headers_at = time.monotonic() - started
                assert r.status == 200
                await r.read()
                body_at = time.monotonic() - started
            assert headers_at < 0.2
            assert body_at >= 0.28


async def test_latency_delays_the_response_headers(sim: Simulator):
    sim.scenario("p", latency_ms=150)
    async with httpx.AsyncClient(verify=False) as http:
        started = time.monotonic()
        response = await http.post(sim.url("p") + "/v1/messages", json=BODY)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.14


async def test_stall_sends_some_events_then_nothing_while_keeping_the_connection(sim: Simulator):
    sim.scenario("p", stall_after_events=3)
    async with (
        aiohttp.ClientSession() as http,
        http.post(sim.url("p") + "/v1/messages", json=STREAM) as r,
    ):
        received = b""
        while received.count(b"\n\n") < 3:
            received += await r.content.readany()
        assert received.count(b"event: ") == 3
        # Nothing more comes, and the connection is not closed either.
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(r.content.readany(), 0.3)
        assert not r.content.at_eof()


async def test_stalled_handler_ends_when_the_client_leaves(sim: Simulator):
    sim.scenario("p", stall_after_events=1)
    async with aiohttp.ClientSession() as http:
        r = await http.post(sim.url("p") + "/v1/messages", json=STREAM)
        await r.content.readany()
        assert sim.in_flight("p") == 1
        r.close()
    await sim.wait_in_flight("p", 0, timeout=2)


async def test_slow_stream_handler_ends_when_the_client_leaves(sim: Simulator):
    sim.scenario("p", event_interval_ms=1000)
    async with aiohttp.ClientSession() as http:
        r = await http.post(sim.url("p") + "/v1/messages", json=STREAM)
        await r.content.readany()
        r.close()
    await sim.wait_in_flight("p", 0, timeout=0.5)


async def test_embedded_app_without_handler_cancellation_still_ends_stalls():
    sim = Simulator()
    runner = web.AppRunner(build_app(sim), shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/p/p/v1/messages"
    try:
        sim.scenario("p", stall_after_events=1)
        async with aiohttp.ClientSession() as http:
            r = await http.post(url, json=STREAM)
            await r.content.readany()
            r.close()
        await sim.wait_in_flight("p", 0, timeout=2)
    finally:
        await runner.cleanup()


async def test_stalled_stream_does_not_hold_up_shutdown():
    sim = Simulator()
    async with sim.serve():
        sim.scenario("p", stall_after_events=0)
        http = aiohttp.ClientSession()
        r = await http.post(sim.url("p") + "/v1/messages", json=STREAM)
        assert r.status == 200
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    with pytest.raises(aiohttp.ClientPayloadError):
        await r.read()
    await http.close()


async def test_disconnect_aborts_the_connection_after_n_events(sim: Simulator):
    sim.scenario("p", disconnect_after_events=4)
    received = b""
    async with (
        aiohttp.ClientSession() as http,
        http.post(sim.url("p") + "/v1/messages", json=STREAM) as r,
    ):
        assert r.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            async for chunk in r.content.iter_any():
                received += chunk
    assert received.count(b"event: ") == 4
    assert b"message_stop" not in received


async def test_disconnect_on_json_reply_cuts_the_body(sim: Simulator):
    sim.scenario("p", disconnect_after_events=0)
    async with httpx.AsyncClient(verify=False) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(sim.url("p") + "/v1/messages", json=BODY)


async def test_refuse_closes_the_connection_without_any_response(sim: Simulator):
    sim.scenario("p", refuse=True)
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await http.post(sim.url("p") + "/v1/messages", json=BODY)
    async with httpx.AsyncClient(verify=False) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(sim.url("p") + "/v1/messages", json=BODY)
    assert len(sim.requests("p")) == 2


async def test_malformed_json_reply_is_a_truncated_200(sim: Simulator):
    sim.scenario("p", malformed=True)
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(sim.url("p") + "/v1/messages", json=BODY)
    assert response.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(response.content)


async def test_malformed_stream_has_one_broken_data_line(sim: Simulator):
    sim.scenario("p", malformed=True)
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(sim.url("p") + "/v1/messages", json=STREAM)
    assert response.status_code == 200
    broken = 0
    for _, data in parse_frames(response.content):
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError:
            broken += 1
    assert broken == 1


async def test_error_after_events_ends_the_stream_with_an_error_event(sim: Simulator):
    sim.scenario("p", error_after_events=3)
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(sim.url("p") + "/v1/messages", json=STREAM)
    assert response.status_code == 200
    frames = parse_frames(response.content)
    assert len(frames) == 4
    assert frames[-1][0] == "error"
    assert orjson.loads(frames[-1][1]) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


async def test_faults_apply_to_count_tokens_and_models_too(sim: Simulator):
    sim.scenario("p", status=529)
    async with httpx.AsyncClient(verify=False) as http:
        counted = await http.post(sim.url("p") + "/v1/messages/count_tokens", json=BODY)
        models = await http.get(sim.url("p") + "/v1/models")
    assert counted.status_code == models.status_code == 529
