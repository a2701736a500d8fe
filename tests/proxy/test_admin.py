"""The proxy key, the admin API and what it must never reveal."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import anthropic
import orjson
import pytest

from ccm_tui.actions import Action
from ccm_tui.config import parse_config
from ccm_tui.events import event_from_dict
from ccm_tui.proxy.app import Proxy, StartupError
from ccm_tui.requestlog import RequestLogger

from support import HELLO, two_provider_config

PROXY_KEY = "ccm-proxy-key-0123456789abcdef"
SECRETS = (
    PROXY_KEY,
    "sk-ant-api03-primary-key-000000000000",
    "sk-ant-api03-secondary-key-11111111111",
)


@pytest.fixture
async def guarded(sim, make_proxy) -> Proxy:
    return await make_proxy(two_provider_config(sim, api_key=f'"{PROXY_KEY}"'))


async def status_of(proxy, method: str, path: str, headers: dict | None = None) -> int:
    body = {"model": "sonnet", "max_tokens": 8, "messages": HELLO} if method == "POST" else None
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, proxy.url + path, headers=headers, json=body) as response,
    ):
        return response.status


@pytest.mark.parametrize(
    "path", ["/v1/messages", "/v1/messages/count_tokens", "/v1/models", "/_ccm/state"]
)
async def test_every_endpoint_refuses_a_missing_proxy_key(guarded, path):
    method = "POST" if "messages" in path else "GET"
    assert await status_of(guarded, method, path) == 401
    assert await status_of(guarded, method, path, {"x-api-key": "wrong"}) == 401


@pytest.mark.parametrize(
    "headers",
    [
        {"x-api-key": PROXY_KEY},
        {"Authorization": f"Bearer {PROXY_KEY}"},
        {"x-ccm-key": PROXY_KEY},
    ],
    ids=["x-api-key", "bearer", "x-ccm-key"],
)
async def test_the_proxy_key_is_accepted_in_each_header(guarded, headers):
    assert await status_of(guarded, "POST", "/v1/messages", headers) == 200


async def test_the_proxy_key_never_goes_upstream(sim, guarded):
    await status_of(guarded, "POST", "/v1/messages", {"x-api-key": PROXY_KEY})
    received = sim.requests("primary")[-1]
    assert PROXY_KEY not in str(received.headers)
    assert received.header("x-api-key") == SECRETS[1]


async def test_anthropic_sdk_errors_on_a_wrong_proxy_key(guarded):
    client = anthropic.AsyncAnthropic(base_url=guarded.url, api_key="nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        await client.messages.create(model="sonnet", max_tokens=8, messages=HELLO)


async def test_listening_beyond_loopback_without_a_key_is_refused(sim):
    proxy = Proxy(parse_config(two_provider_config(sim), env={}))
    with pytest.raises(StartupError, match=r"server\.api_key"):
        await proxy.start("0.0.0.0", 0)


async def test_listening_beyond_loopback_with_a_key_is_allowed(sim):
    proxy = Proxy(parse_config(two_provider_config(sim, api_key='"k"'), env={}))
    try:
        assert await proxy.start("0.0.0.0", 0)
    finally:
        await proxy.stop()


async def test_port_in_use_is_a_readable_startup_error(sim, proxy):
    other = Proxy(parse_config(two_provider_config(sim), env={}))
    port = int(proxy.url.rsplit(":", 1)[1])
    with pytest.raises(StartupError, match="already in use"):
        await other.start("127.0.0.1", port)


async def test_state_has_the_documented_shape(sim, proxy):
    sim.scenario("primary", status=529, times=1)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k", max_retries=0)
    await client.messages.create(model="sonnet", max_tokens=8, messages=HELLO)
    async with aiohttp.ClientSession() as session, session.get(proxy.url + "/_ccm/state") as r:
        state = await r.json()
    primary = state["providers"]["primary"]
    assert primary["counts"] == {"overloaded": 1}
    assert primary["consecutive_failures"] == 1
    assert primary["breaker"] == {"state": "closed", "until": None}
    assert primary["last_error"] == "overloaded: Overloaded"
    assert state["requests"][0]["attempts"][0]["failure"] == "overloaded"
    assert state["requests"][0]["provider"] == "secondary"
    assert state["tokens"] == []
    assert state["dropped_events"] == 0


async def test_events_stream_starts_with_a_snapshot_then_carries_events(sim, proxy):
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k", max_retries=0)
    async with aiohttp.ClientSession() as session:
        response = await session.get(proxy.url + "/_ccm/events")
        first = await response.content.readuntil(b"\n\n")
        assert first.startswith(b"event: snapshot\ndata: ")
        await client.messages.create(model="sonnet", max_tokens=8, messages=HELLO)
        kinds = []
        async with asyncio.timeout(5):
            while "RequestFinished" not in kinds:
                frame = await response.content.readuntil(b"\n\n")
                if frame.startswith(b"event: event"):
                    data = orjson.loads(frame.split(b"data: ", 1)[1])
                    kinds.append(type(event_from_dict(data)).__name__)
        response.close()
    assert kinds[:2] == ["RequestStarted", "AttemptStarted"]


async def test_admin_actions_switch_providers(sim, proxy):
    async with aiohttp.ClientSession() as session:
        async with session.post(proxy.url + "/_ccm/providers/primary/disable", json={}) as r:
            assert (await r.json())["ok"] is True
        assert not proxy.upstreams.is_enabled("primary")
        async with session.post(proxy.url + "/_ccm/providers/primary/enable", json={}) as r:
            assert r.status == 200
        async with session.post(proxy.url + "/_ccm/providers/nobody/enable", json={}) as r:
            assert r.status == 404
    assert proxy.upstreams.is_enabled("primary")


async def post(proxy, path: str) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session, session.post(proxy.url + path, json={}) as r:
        return r.status, await r.json()


@pytest.mark.parametrize(
    "path, status, refusal, phrase",
    [
        ("/_ccm/providers/nobody/reset", 404, "unknown_provider", "no provider named nobody"),
        ("/_ccm/providers/primary/derive-key", 409, "not_applicable", "does not use OAuth"),
        ("/_ccm/providers/primary/use-oauth", 409, "not_applicable", "no OAuth login"),
    ],
    ids=["unknown-provider", "derive-key-on-apikey", "use-oauth-on-apikey"],
)
async def test_a_refused_action_answers_its_refusal_code_and_why(
    proxy, path, status, refusal, phrase
):
    answer = await post(proxy, path)
    assert answer[0] == status
    assert answer[1]["ok"] is False
    assert answer[1]["refusal"] == refusal
    assert phrase in answer[1]["message"]


async def test_an_unknown_action_is_not_a_route(proxy):
    for action in ("explode", "reload"):  # reload is the proxy's, not a provider's
        status, body = await post(proxy, f"/_ccm/providers/primary/{action}")
        assert status == 404
        assert body["error"]["message"] == f"unknown action {action}"
    assert proxy.upstreams.is_enabled("primary")


async def test_reset_clears_counters_and_closes_the_breaker(sim, proxy):
    sim.scenario("primary", status=429, retry_after=60)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k", max_retries=0)
    await client.messages.create(model="sonnet", max_tokens=8, messages=HELLO)
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + "/_ccm/providers/primary/reset", json={}) as r,
    ):
        assert r.status == 200
    primary = proxy.state.snapshot()["providers"]["primary"]
    assert primary["counts"] == {}
    assert primary["breaker"]["state"] == "closed"


async def test_a_bad_config_on_reload_is_reported_and_the_old_one_kept(sim, proxy):
    assert proxy.config.path is not None
    good = proxy.config
    proxy.config.path.write_text(proxy.config.path.read_text() + "\n[[models]]\nname = 3\n")
    async with (
        aiohttp.ClientSession() as session,
        session.post(proxy.url + "/_ccm/reload", json={}) as r,
    ):
        body = await r.json()
    assert r.status == 422
    assert body["refusal"] == "config_invalid"
    assert "line" in body["message"]
    assert proxy.config is good


async def test_reload_applies_a_good_config(sim, proxy):
    path = proxy.config.path
    path.write_text(
        path.read_text().replace('actual_model = "primary-model"', 'actual_model = "p2"')
    )
    assert "reloaded" in await proxy.actions.run(Action.RELOAD)
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="k", max_retries=0)
    await client.messages.create(model="sonnet", max_tokens=8, messages=HELLO)
    assert sim.requests("primary")[-1].json()["model"] == "p2"


async def test_no_secret_reaches_state_events_or_logs(sim, guarded, caplog):
    caplog.set_level(logging.DEBUG)
    guarded.bus.add_listener(RequestLogger(guarded.state))
    sim.scenario("primary", status=401, error_message=f"invalid x-api-key {SECRETS[1]}")
    headers = {"x-api-key": PROXY_KEY, "x-ccm-key": PROXY_KEY}
    assert await status_of(guarded, "POST", "/v1/messages", headers) == 200
    async with (
        aiohttp.ClientSession(headers={"x-ccm-key": PROXY_KEY}) as session,
        session.get(guarded.url + "/_ccm/state") as r,
    ):
        state = await r.text()
    events = "".join(repr(e) for e in guarded.log.events)
    for secret in SECRETS:
        assert secret not in state
        assert secret not in events
        assert secret not in caplog.text
    assert "x-api-key" in state  # the header is listed, masked
