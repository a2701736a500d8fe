"""Any byte in any header is survivable: nothing stored or echoed breaks the JSON after it."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from rawhttp import assert_anthropic_error, send

from support import HELLO, two_provider_config

MESSAGE = orjson.dumps({"model": "sonnet", "max_tokens": 8, "messages": HELLO})
JSON = [(b"Content-Type", b"application/json")]


async def state_is_readable(proxy) -> dict:
    answer = await send(proxy.url, "GET", "/_ccm/state", {})
    assert answer.status == 200, answer.body[:300]
    return answer.json()


@pytest.mark.parametrize(
    "header", [b"User-Agent", b"anthropic-beta", b"anthropic-version", b"x-claude-code-session-id"]
)
@pytest.mark.parametrize("value", [b"claude-cli/\xff", b"\xc3\x28", b"\x80\x81\x82", b"a\x00b"])
async def test_a_non_utf8_header_never_breaks_the_state_or_the_watchers(proxy, header, value):
    watcher = await asyncio.open_connection(*proxy.url.removeprefix("http://").rsplit(":", 1))
    reader, writer = watcher
    host = proxy.url.removeprefix("http://")
    writer.write(f"GET /_ccm/events HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await writer.drain()
    try:
        answer = await send(proxy.url, "POST", "/v1/messages", [*JSON, (header, value)], MESSAGE)
        state = await state_is_readable(proxy)
        refused = b"\x00" in value
        if refused:
            # RFC 9110 forbids NUL in a field value: the HTTP parser refuses the request
            # before it is one, in the API's error shape.
            assert_anthropic_error(answer, 400)
        else:
            assert answer.status < 500, answer.body[:300]
            assert state["requests"], "the request is in the history"
        again = await send(proxy.url, "POST", "/v1/messages", JSON, MESSAGE)
        assert again.status == 200
        # The watcher connected before the odd request still gets events after it.
        seen = b""
        async with asyncio.timeout(5):
            while seen.count(b"RequestFinished") < (1 if refused else 2):
                chunk = await reader.read(65536)
                assert chunk, "the event stream ended"
                seen += chunk
    finally:
        writer.close()


@pytest.mark.parametrize(
    "value", [b"\xff", b"zai\xfe", b"\x00", b"p" * 10_000], ids=["ff", "fe", "nul", "long"]
)
async def test_an_odd_x_provider_gets_an_anthropic_error(proxy, value):
    answer = await send(proxy.url, "POST", "/v1/messages", [*JSON, (b"x-provider", value)], MESSAGE)
    assert_anthropic_error(answer, (400, 404))
    await state_is_readable(proxy)


@pytest.mark.parametrize("value", [b"\xff", b"\xc3\x28key", b"Bearer \xff"])
async def test_an_odd_proxy_key_is_a_401_not_a_500(sim, make_proxy, value):
    proxy = await make_proxy(two_provider_config(sim, api_key='"ccm-key-0123456789abcdef"'))
    for header in (b"x-api-key", b"x-ccm-key", b"Authorization"):
        answer = await send(proxy.url, "POST", "/v1/messages", [*JSON, (header, value)], MESSAGE)
        assert_anthropic_error(answer, 401)
