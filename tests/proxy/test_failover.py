"""Every failure class, the fallback chain, the breaker and the errors clients see."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import anthropic
import pytest

from ccm_tui.actions import Action
from ccm_tui.events import AttemptFailed, BreakerState, Failure, RequestFinished
from ccm_tui.sim import Simulator

from support import EITHER_FIRST, HELLO, JSON, two_provider_config, with_formats

MODEL = "claude-sonnet-9"


def client(proxy, **kwargs) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k", max_retries=0, **kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def post(proxy, body: dict, path: str = "/v1/messages") -> tuple[int, dict, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + path, json=body) as response,
    ):
        return response.status, dict(response.headers), await response.read()


FAILOVER_CASES = [
    ({"status": 529}, Failure.OVERLOADED, 529),
    ({"status": 429, "retry_after": 5}, Failure.RATE_LIMITED, 429),
    ({"status": 500}, Failure.SERVER_ERROR, 500),
    ({"status": 503}, Failure.SERVER_ERROR, 503),
    ({"status": 401}, Failure.AUTH_ERROR, 401),
    ({"status": 403}, Failure.AUTH_ERROR, 403),
    ({"status": 404}, Failure.MODEL_NOT_FOUND, 404),
    (
        {
            "status": 400,
            "error_message": "This credential is only authorized for use with Claude Code "
            "and cannot be used for other API requests.",
        },
        Failure.OAUTH_SCOPE,
        400,
    ),
    ({"refuse": True}, Failure.SERVER_ERROR, None),
]


@EITHER_FIRST
async def test_malformed_json_answer_fails_over(sim, proxy):
    sim.scenario("primary", malformed=True)
    reply = await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert reply.content[0].text == sim.text("secondary")
    failed = proxy.log.of(AttemptFailed)[0]
    assert (failed.provider, failed.failure, failed.status) == (
        "primary",
        Failure.SERVER_ERROR,
        200,
    )


# A failing provider of either format, and failing over to a provider of either format.
@with_formats(("anthropic", "anthropic"), ("openai", "anthropic"), ("anthropic", "openai"))
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("fault", "failure", "status"), FAILOVER_CASES, ids=lambda v: str(v))
async def test_failure_before_first_byte_fails_over(sim, proxy, fault, failure, status, stream):
    sim.scenario("primary", **fault)
    if stream:
        async with client(proxy).messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as s:
            text = "".join([t async for t in s.text_stream])
    else:
        reply = await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
        text = reply.content[0].text
    assert text == sim.text("secondary")
    failed = proxy.log.of(AttemptFailed)
    assert [(f.provider, f.failure, f.status) for f in failed] == [("primary", failure, status)]
    if "retry_after" in fault:
        assert failed[0].retry_after_s == fault["retry_after"]
    counts = proxy.state.snapshot()["providers"]["primary"]["counts"]
    assert counts[failure.value] == 1


async def reply_text(proxy, stream: bool) -> str:
    """The answer's text, asked for as a stream or as one JSON body."""
    if stream:
        async with client(proxy).messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as s:
            return "".join([t async for t in s.text_stream])
    reply = await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    return reply.content[0].text


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_connection_refused_is_a_connect_error(sim, make_proxy, stream):
    config = two_provider_config(sim).replace(sim.url("primary"), f"http://127.0.0.1:{free_port()}")
    proxy = await make_proxy(config)
    assert await reply_text(proxy, stream) == sim.text("secondary")
    assert proxy.log.of(AttemptFailed)[0].failure is Failure.CONNECT_ERROR


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_no_first_byte_within_the_timeout_fails_over(sim, make_proxy, stream):
    # A stream waits first_byte_timeout_ms for its first byte; a JSON answer api_timeout_ms.
    limits = "first_byte_timeout_ms = 300" if stream else "api_timeout_ms = 300"
    proxy = await make_proxy(
        two_provider_config(sim, extra="").replace(
            "port = 0", f"port = 0\n[server.timeouts]\n{limits}"
        )
    )
    sim.scenario("primary", first_byte_delay_ms=5000)
    assert await reply_text(proxy, stream) == sim.text("secondary")
    failed = proxy.log.of(AttemptFailed)[0]
    assert failed.failure is Failure.TIMEOUT
    assert "0.3 s" in failed.message


@EITHER_FIRST
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_client_error_is_returned_as_an_invalid_request_error_and_not_failed_over(
    sim, proxy, stream
):
    sim.scenario("primary", status=400, error_message="max_tokens: must be at least 1")
    with pytest.raises(anthropic.BadRequestError) as caught:
        await reply_text(proxy, stream)
    body = caught.value.body
    assert body["type"] == "error"
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "max_tokens: must be at least 1",
    }
    assert "ccm_attempts" not in body
    assert caught.value.response.headers["content-type"].startswith("application/json")
    assert sim.requests("secondary") == []
    primary = proxy.state.snapshot()["providers"]["primary"]
    assert primary["consecutive_failures"] == 0
    assert primary["failures"] == 0


@with_formats(("anthropic", "anthropic"), ("anthropic", "openai"))
async def test_when_all_fail_the_last_upstream_error_comes_back_as_an_anthropic_error(sim, proxy):
    sim.scenario("primary", status=529)
    sim.scenario(
        "secondary", status=429, retry_after=17, error_message="Number of requests exceeded"
    )
    with pytest.raises(anthropic.RateLimitError) as caught:
        await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    error = caught.value
    assert error.status_code == 429
    assert error.body["type"] == "error"
    assert error.body["error"] == {
        "type": "rate_limit_error",
        "message": "Number of requests exceeded",
    }
    assert error.response.headers["retry-after"] == "17"
    assert error.response.headers["content-type"].startswith("application/json")
    attempts = error.body["ccm_attempts"]
    assert [(a["provider"], a["class"], a["status"]) for a in attempts] == [
        ("primary", "overloaded", 529),
        ("secondary", "rate_limited", 429),
    ]
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.RATE_LIMITED


async def test_when_no_upstream_answers_the_client_gets_502(sim, make_proxy):
    config = (
        two_provider_config(sim)
        .replace(sim.url("primary"), f"http://127.0.0.1:{free_port()}")
        .replace(sim.url("secondary"), f"http://127.0.0.1:{free_port()}")
    )
    proxy = await make_proxy(config)
    with pytest.raises(anthropic.APIStatusError) as caught:
        await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert caught.value.status_code == 502
    assert caught.value.body["error"]["type"] == "api_error"
    assert len(caught.value.body["ccm_attempts"]) == 2


async def test_when_every_upstream_times_out_the_client_gets_504(sim, make_proxy):
    config = two_provider_config(sim).replace(
        "port = 0", "port = 0\n[server.timeouts]\napi_timeout_ms = 200"
    )
    proxy = await make_proxy(config)
    sim.scenario("primary", latency_ms=3000)
    sim.scenario("secondary", latency_ms=3000)
    status, _, body = await post(proxy, {"model": MODEL, "max_tokens": 8, "messages": HELLO})
    assert status == 504
    assert b"timeout_error" in body


@EITHER_FIRST
async def test_mid_stream_disconnect_gives_the_client_an_sse_error(sim, proxy):
    sim.scenario("primary", disconnect_after_events=4)
    with pytest.raises(anthropic.APIStatusError) as caught:
        async with client(proxy).messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as s:
            async for _ in s.text_stream:
                pass
    assert "ccm-tui" in str(caught.value)
    assert sim.requests("secondary") == []
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.STREAM_ERROR


@EITHER_FIRST
async def test_an_error_event_mid_stream_reaches_the_client_and_is_not_failed_over(sim, proxy):
    sim.scenario("primary", error_after_events=3, error_type="server_error", error_message="Boom")
    with pytest.raises(anthropic.APIStatusError, match="Boom"):
        async with client(proxy).messages.stream(model=MODEL, max_tokens=8, messages=HELLO) as s:
            async for _ in s.text_stream:
                pass
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.STREAM_ERROR
    assert sim.requests("secondary") == []


async def test_stalled_stream_is_ended_with_an_error_event(sim, make_proxy):
    config = two_provider_config(sim).replace(
        "port = 0", "port = 0\n[server.timeouts]\nstream_idle_timeout_ms = 300"
    )
    proxy = await make_proxy(config)
    sim.scenario("primary", stall_after_events=3)
    body = {"model": MODEL, "max_tokens": 8, "messages": HELLO, "stream": True}
    status, _, raw = await post(proxy, body)
    assert status == 200
    frames = [f for f in raw.split(b"\n\n") if f]
    assert frames[-1].startswith(b"event: error\ndata: ")
    assert b"stream stalled" in frames[-1]
    await sim.wait_in_flight("primary", 0)


async def test_a_slow_stream_lasting_past_the_idle_limit_is_not_cut(sim, make_proxy):
    """The idle deadline moves lazily (once per slack, not per chunk); a stream whose every
    gap is under the limit must still reach its end however long it runs."""
    config = two_provider_config(sim).replace(
        "port = 0", "port = 0\n[server.timeouts]\nstream_idle_timeout_ms = 300"
    )
    proxy = await make_proxy(config)
    sim.scenario("primary", event_interval_ms=120, output_chunks=12)  # ~2 s, gaps 120 ms
    body = {"model": MODEL, "max_tokens": 8, "messages": HELLO, "stream": True}
    status, _, raw = await post(proxy, body)
    assert status == 200
    assert b"event: message_stop" in raw and b"event: error" not in raw
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.OK
    assert finished.duration_ms > 3 * 300


async def test_client_disconnect_cancels_the_upstream_request(sim, proxy):
    sim.scenario("primary", stall_after_events=2)
    body = {"model": MODEL, "max_tokens": 8, "messages": HELLO, "stream": True}
    async with aiohttp.ClientSession() as session:
        response = await session.post(proxy.url + "/v1/messages", json=body)
        await response.content.readuntil(b"\n\n")
        await sim.wait_in_flight("primary", 1)
        response.close()
    await sim.wait_in_flight("primary", 0)
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.CANCELLED


async def test_client_disconnect_before_the_answer_cancels_upstream(sim, proxy):
    sim.scenario("primary", latency_ms=30_000)
    body = {"model": MODEL, "max_tokens": 8, "messages": HELLO}
    async with aiohttp.ClientSession() as session:
        task = asyncio.ensure_future(session.post(proxy.url + "/v1/messages", json=body))
        await sim.wait_in_flight("primary", 1)
        task.cancel()
    await sim.wait_in_flight("primary", 0)
    finished = await proxy.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.CANCELLED
    assert sim.requests("secondary") == []


async def test_breaker_opens_after_three_failures_and_skips_the_provider(sim, proxy):
    sim.scenario("primary", status=500)
    for _ in range(3):
        await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert proxy.upstreams.breaker("primary").peek_state() is BreakerState.OPEN
    sim.clear_requests()
    reply = await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert reply.content[0].text == sim.text("secondary")
    assert sim.requests("primary") == []
    state = proxy.state.snapshot()["providers"]["primary"]
    assert state["breaker"]["state"] == "open"
    assert state["breaker"]["until"] is not None


async def test_retry_after_opens_the_breaker_for_that_long_without_sleeping(sim, proxy):
    sim.scenario("primary", status=429, retry_after=120)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert loop.time() - started < 5
    breaker = proxy.upstreams.breaker("primary")
    assert breaker.peek_state() is BreakerState.OPEN
    assert 110 < breaker.remaining_s() <= 120


async def test_when_every_breaker_is_open_the_providers_are_tried_anyway(sim, proxy):
    for name in ("primary", "secondary"):
        sim.scenario(name, status=429, retry_after=60)
    for _ in range(2):
        with pytest.raises(anthropic.RateLimitError):
            await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    sim.scenario("primary")
    reply = await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert reply.content[0].text == sim.text("primary")


async def test_disabled_provider_is_skipped(sim, proxy):
    await proxy.actions.run(Action.DISABLE, "primary")
    reply = await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert reply.content[0].text == sim.text("secondary")
    assert sim.requests("primary") == []


async def test_unknown_model_is_404_naming_the_configured_models(sim, proxy):
    with pytest.raises(anthropic.NotFoundError) as caught:
        await client(proxy).messages.create(model="gpt-4o", max_tokens=8, messages=HELLO)
    assert "sonnet" in caught.value.body["error"]["message"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [(b"{not json", b"not valid JSON"), (b"[1, 2]", b"JSON object"), (b"", b"empty")],
)
async def test_malformed_request_gets_an_anthropic_shaped_400(proxy, raw, fragment):
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + "/v1/messages", data=raw, headers=JSON) as response,
    ):
        body = await response.json()
    assert response.status == 400
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert fragment.decode() in body["error"]["message"]


async def test_unknown_path_gets_an_anthropic_shaped_404(proxy):
    async with (
        aiohttp.ClientSession() as session,
        session.get(proxy.url + "/v2/whatever") as response,
    ):
        body = await response.json()
    assert response.status == 404
    assert body["error"]["type"] == "not_found_error"


async def test_a_fault_on_one_request_fails_over_only_that_request(sim: Simulator, proxy):
    sim.scenario("primary", status=529, times=1)
    first = await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    second = await client(proxy).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert first.content[0].text == sim.text("secondary")
    assert second.content[0].text == sim.text("primary")


# One failure opens a breaker and the cooldown is over at once: a failed provider is
# half-open on the next request, without waiting.
PROBE_AT_ONCE = "\n[breaker]\nfailures = 1\ncooldown_seconds = 0\n"


@pytest.fixture
async def probing(sim, make_proxy):
    """A proxy whose secondary is half-open, its one probe not yet taken."""
    proxy = await make_proxy(two_provider_config(sim, extra=PROBE_AT_ONCE))
    proxy.upstreams.record("secondary", Failure.SERVER_ERROR, None)
    assert proxy.upstreams.breaker("secondary").peek_state() is BreakerState.HALF_OPEN
    return proxy


async def test_half_open_probe_is_not_taken_when_an_earlier_provider_answers(sim, probing):
    reply = await client(probing).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert reply.content[0].text == sim.text("primary")
    assert sim.requests("secondary") == []
    # The probe is still free: when the primary fails, the secondary is tried.
    sim.scenario("primary", status=500, times=1)
    reply = await client(probing).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert reply.content[0].text == sim.text("secondary")
    assert probing.upstreams.breaker("secondary").peek_state() is BreakerState.CLOSED


async def test_a_client_error_on_the_half_open_probe_gives_the_probe_back(sim, probing):
    sim.scenario("primary", status=500)
    sim.scenario("secondary", status=400, error_message="max_tokens: too big", times=1)
    with pytest.raises(anthropic.BadRequestError):
        await client(probing).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    reply = await client(probing).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert reply.content[0].text == sim.text("secondary")
    assert probing.upstreams.breaker("secondary").peek_state() is BreakerState.CLOSED


async def test_a_client_leaving_during_the_half_open_probe_gives_the_probe_back(sim, probing):
    sim.scenario("primary", status=500)
    sim.scenario("secondary", latency_ms=30_000, times=1)
    body = {"model": MODEL, "max_tokens": 8, "messages": HELLO}
    async with aiohttp.ClientSession() as session:
        task = asyncio.ensure_future(session.post(probing.url + "/v1/messages", json=body))
        await sim.wait_in_flight("secondary", 1)
        task.cancel()
    finished = await probing.log.wait_for(lambda e: isinstance(e, RequestFinished))
    assert finished.outcome is Failure.CANCELLED
    reply = await client(probing).messages.create(model=MODEL, max_tokens=8, messages=HELLO)
    assert reply.content[0].text == sim.text("secondary")
