"""How an answer leaves the simulator: headers, errors, and the faults of its delivery.

Every endpoint builds its bytes elsewhere (`wire`, `reply`, `openai`) and hands them here;
this is where a scenario's timing, stalls, drops, broken bodies and broken streams happen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from aiohttp import web

from ccm_tui.sim import reply, wire
from ccm_tui.sim.scenario import Scenario
from ccm_tui.sim.state import SimState

JSON = "application/json"


def json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status, body=orjson.dumps(payload), content_type=JSON, headers=headers
    )


def drop(request: web.BaseRequest) -> None:
    """Ends the TCP connection with no clean HTTP end (sending what is already written)."""
    transport = request.transport
    if transport is None:
        return
    if transport.get_write_buffer_size():
        transport.close()
    else:
        transport.abort()


async def stall(sim: SimState, request: web.BaseRequest) -> None:
    """Sends nothing more until the client leaves or the simulator shuts down."""
    while True:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        # The runner from `serve()` cancels this handler the moment the client goes;
        # the short poll covers apps embedded without handler cancellation.
        try:
            await asyncio.wait_for(sim.closing.wait(), 0.1)
        except TimeoutError:
            continue
        drop(request)
        return


async def begin(
    sim: SimState, request: web.BaseRequest, provider: str
) -> tuple[bytes, Scenario, bool] | None:
    """Reads and records the request, applies refusal and latency; None when refused."""
    body = await request.read()
    sim.record_request(provider, request, body)
    scenario, fault = sim.next_fault(provider)
    if fault:
        if scenario.refuse:
            drop(request)
            return None
        if scenario.latency_ms:
            await asyncio.sleep(scenario.latency_ms / 1000)
    return body, scenario, fault


def answer_headers(
    sim: SimState,
    provider: str,
    scenario: Scenario,
    fault: bool,
    request_id: str,
    input_tokens: int,
) -> dict[str, str]:
    """The Anthropic API's headers: request id, rate limits, the scenario's extras."""
    served = sim.count_served(provider)
    headers = wire.rate_limit_headers(
        wire.RATE_LIMIT_REQUESTS - 1 - served % wire.RATE_LIMIT_REQUESTS, input_tokens
    )
    headers["request-id"] = request_id
    if scenario.headers:
        headers.update(scenario.headers)
    if fault:
        if scenario.retry_after is not None:
            headers["retry-after"] = str(scenario.retry_after)
        if scenario.should_retry is not None:
            headers["x-should-retry"] = "true" if scenario.should_retry else "false"
    return headers


def error(
    status: int, error_type: str | None, message: str | None, headers: dict[str, str]
) -> web.Response:
    """An Anthropic error answer (type and message default to the status's usual ones)."""
    body = wire.error_body(status, error_type, message, headers["request-id"])
    return web.Response(status=status, body=body, content_type=JSON, headers=headers)


def fault_error(scenario: Scenario, headers: dict[str, str]) -> web.Response:
    assert scenario.status is not None
    return error(scenario.status, scenario.error_type, scenario.error_message, headers)


async def send_body(
    sim: SimState,
    request: web.BaseRequest,
    scenario: Scenario,
    fault: bool,
    body: bytes,
    headers: dict[str, str],
    content_type: str = JSON,
) -> web.StreamResponse:
    """A complete (non-stream) 200 body, with the body-level faults when they apply."""
    if not fault or not (
        scenario.first_byte_delay_ms
        or scenario.malformed
        or scenario.stall_after_events is not None
        or scenario.disconnect_after_events is not None
    ):
        return web.Response(body=body, content_type=content_type, headers=headers)
    if scenario.malformed:
        body = body[: len(body) // 2]
    response = web.StreamResponse(headers=headers)
    response.content_type = content_type
    response.content_length = len(body)
    await response.prepare(request)
    if scenario.first_byte_delay_ms:
        await asyncio.sleep(scenario.first_byte_delay_ms / 1000)
    if scenario.stall_after_events is not None:
        await stall(sim, request)
        return response
    try:
        if scenario.disconnect_after_events is not None:
            await response.write(body[: len(body) // 2])
            drop(request)
            return response
        await response.write(body)
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client left during the delay
    return response


async def send_stream(
    sim: SimState,
    request: web.BaseRequest,
    scenario: Scenario,
    fault: bool,
    frames: list[bytes],
    headers: dict[str, str],
    error_frame: Callable[[str, str], bytes] = reply.stream_error_frame,
    malformed_at: bytes = b"event: content_block_delta",
) -> web.StreamResponse:
    """Writes each SSE event as its own chunk; applies the stream faults when they apply."""
    headers["Cache-Control"] = "no-cache"
    response = web.StreamResponse(headers=headers)
    response.content_type = "text/event-stream"
    response.charset = "utf-8"
    await response.prepare(request)
    try:
        if not fault:
            for frame in frames:
                await response.write(frame)
        elif not await _write_faulty(
            sim, request, response, scenario, frames, error_frame, malformed_at
        ):
            return response
        await response.write_eof()
    except ConnectionResetError:
        # The client went away mid-stream: nothing left to do (and nothing worth logging).
        pass
    return response


def broken_frame(frame: bytes) -> bytes:
    """An event whose data line is cut off mid-JSON but still ends like a frame."""
    head, _, data = frame.partition(b"\ndata: ")
    return head + b"\ndata: " + data[: max(1, len(data) // 2)].rstrip(b"\n") + b"\n\n"


async def _write_faulty(
    sim: SimState,
    request: web.BaseRequest,
    response: web.StreamResponse,
    scenario: Scenario,
    frames: list[bytes],
    error_frame: Callable[[str, str], bytes],
    malformed_at: bytes,
) -> bool:
    """Writes a stream with its faults; False when it must not end cleanly."""
    if scenario.first_byte_delay_ms:
        await asyncio.sleep(scenario.first_byte_delay_ms / 1000)
    if scenario.malformed:
        at = next((i for i, f in enumerate(frames) if f.startswith(malformed_at)), 1)
        frames = [*frames[:at], broken_frame(frames[at]), *frames[at + 1 :]]
    if scenario.error_after_events is not None:
        frames = [
            *frames[: scenario.error_after_events],
            error_frame(
                scenario.error_type or "overloaded_error",
                scenario.error_message or "Overloaded",
            ),
        ]
    interval = scenario.event_interval_ms / 1000
    stall_at = scenario.stall_after_events
    drop_at = scenario.disconnect_after_events
    for i, frame in enumerate(frames):
        if i == stall_at:
            break
        if i == drop_at:
            drop(request)
            return False
        if interval and i:
            await asyncio.sleep(interval)
        if scenario.split_events:
            cut = frame.find(b"\ndata: ") + 10
            await response.write(frame[:cut])
            # A pause long enough that the halves reach the client as separate reads.
            await asyncio.sleep(interval / 2 if interval else 0.005)
            await response.write(frame[cut:])
        else:
            await response.write(frame)
    if stall_at is not None:
        await stall(sim, request)
        return False
    if drop_at is not None:
        drop(request)
        return False
    return True
