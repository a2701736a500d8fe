"""A web page in the user's browser can reach a local proxy: none of it may act or read.

The attacks are played as a browser would send them: a plain form or `fetch` with a simple
content type from a foreign origin (CSRF), and DNS rebinding (a foreign `Host` whose name
resolves to 127.0.0.1, so the page is same-origin with the proxy from the browser's view).
"""

from __future__ import annotations

import orjson
import pytest
from rawhttp import assert_anthropic_error, send

from ccm_tui.config import parse_config
from ccm_tui.proxy.app import Proxy

from support import HELLO, two_provider_config

EVIL = "http://evil.example"
MESSAGE = orjson.dumps({"model": "sonnet", "max_tokens": 8, "messages": HELLO})


def local_host(proxy) -> str:
    return proxy.url.removeprefix("http://")


async def provider_enabled(proxy, name: str) -> bool:
    state = await send(proxy.url, "GET", "/_ccm/state", {})
    assert state.status == 200
    return state.json()["providers"][name]["enabled"]


def attacks(proxy) -> dict[str, dict[str, str]]:
    host = local_host(proxy)
    return {
        "csrf-text-plain": {"Origin": EVIL, "Content-Type": "text/plain"},
        "csrf-form": {"Origin": EVIL, "Content-Type": "application/x-www-form-urlencoded"},
        "csrf-multipart": {"Origin": EVIL, "Content-Type": "multipart/form-data; boundary=x"},
        "csrf-json-foreign-origin": {"Origin": EVIL, "Content-Type": "application/json"},
        "fetch-metadata-cross-site": {"Sec-Fetch-Site": "cross-site"},
        "simple-text-plain-no-origin": {"Content-Type": "text/plain"},
        "rebinding": {"Host": "evil.example:13456", "Content-Type": "application/json"},
        "rebinding-with-origin": {
            "Host": "evil.example",
            "Origin": EVIL,
            "Content-Type": "text/plain",
        },
        "null-origin": {"Origin": "null", "Content-Type": "application/json"},
        "same-site-page": {
            "Origin": f"http://{host.split(':')[0]}:3000",
            "Sec-Fetch-Site": "same-site",
        },
    }


ATTACKS = [
    "csrf-text-plain",
    "csrf-form",
    "csrf-multipart",
    "csrf-json-foreign-origin",
    "fetch-metadata-cross-site",
    "simple-text-plain-no-origin",
    "rebinding",
    "rebinding-with-origin",
    "null-origin",
    "same-site-page",
]


@pytest.mark.parametrize("attack", ATTACKS)
async def test_no_web_page_can_disable_a_provider(proxy, attack):
    headers = attacks(proxy)[attack]
    answer = await send(proxy.url, "POST", "/_ccm/providers/primary/disable", headers, b"{}")
    assert_anthropic_error(answer, (403, 415))
    assert await provider_enabled(proxy, "primary")


@pytest.mark.parametrize("attack", ATTACKS)
async def test_no_web_page_can_reload_the_config(proxy, attack):
    headers = attacks(proxy)[attack]
    answer = await send(proxy.url, "POST", "/_ccm/reload", headers, b"{}")
    assert_anthropic_error(answer, (403, 415))


@pytest.mark.parametrize("attack", ATTACKS)
async def test_no_web_page_can_spend_the_credentials(sim, proxy, attack):
    headers = attacks(proxy)[attack]
    answer = await send(proxy.url, "POST", "/v1/messages", headers, MESSAGE)
    assert_anthropic_error(answer, (403, 415))
    answer = await send(proxy.url, "POST", "/v1/messages/count_tokens", headers, MESSAGE)
    assert_anthropic_error(answer, (403, 415))
    assert sim.requests("primary") == []


@pytest.mark.parametrize("path", ["/_ccm/state", "/_ccm/events", "/v1/models"])
@pytest.mark.parametrize(
    "attack", ["rebinding", "fetch-metadata-cross-site", "csrf-json-foreign-origin"]
)
async def test_no_web_page_can_read_the_monitor(proxy, path, attack):
    headers = {k: v for k, v in attacks(proxy)[attack].items() if k != "Content-Type"}
    answer = await send(proxy.url, "GET", path, headers, timeout=5)
    assert_anthropic_error(answer, 403)


async def test_a_form_post_without_a_content_type_is_refused(sim, proxy):
    # `fetch(url, {method: "POST", body: new Blob([json])})` sends no content type at all,
    # and is still a simple request that no preflight stops.
    answer = await send(proxy.url, "POST", "/v1/messages", {}, MESSAGE)
    assert_anthropic_error(answer, 415)
    answer = await send(proxy.url, "POST", "/_ccm/providers/primary/disable", {})
    assert_anthropic_error(answer, (403, 415))
    assert await provider_enabled(proxy, "primary")
    assert sim.requests("primary") == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST", "127.0.0.1.", "[::1]"])
async def test_loopback_names_are_accepted_as_host(proxy, host):
    port = proxy.url.rsplit(":", 1)[1]
    answer = await send(proxy.url, "GET", "/_ccm/state", {"Host": f"{host}:{port}"})
    assert answer.status == 200, answer.body[:200]


async def test_a_same_origin_json_post_from_the_proxy_page_itself_is_accepted(proxy):
    origin = proxy.url
    headers = {
        "Origin": origin,
        "Content-Type": "application/json",
        "Sec-Fetch-Site": "same-origin",
    }
    answer = await send(proxy.url, "POST", "/_ccm/providers/primary/disable", headers, b"{}")
    assert answer.status == 200, answer.body[:200]
    assert not await provider_enabled(proxy, "primary")


async def test_allowed_hosts_admits_a_configured_name(sim, make_proxy):
    proxy = await make_proxy(two_provider_config(sim, allowed_hosts='["ccm.lan"]'))
    answer = await send(proxy.url, "GET", "/_ccm/state", {"Host": "ccm.lan:13456"})
    assert answer.status == 200, answer.body[:200]
    answer = await send(proxy.url, "GET", "/_ccm/state", {"Host": "evil.example"})
    assert_anthropic_error(answer, 403)


async def test_the_refusal_says_how_to_allow_a_host(proxy):
    answer = await send(proxy.url, "GET", "/_ccm/state", {"Host": "ccm.lan"})
    message = assert_anthropic_error(answer, 403)
    assert "ccm.lan" in message
    assert "allowed_hosts" in message


async def test_the_anthropic_sdk_and_curl_still_get_through(proxy, sim):
    import asyncio
    import shutil

    import anthropic

    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="any", max_retries=0)
    reply = await client.messages.create(model="sonnet", max_tokens=8, messages=HELLO)
    assert reply.content[0].text == sim.text("primary")
    curl = shutil.which("curl")
    assert curl, "curl is installed by .ci/run"
    # As the README and Anthropic's own docs write it.
    proc = await asyncio.create_subprocess_exec(
        curl, "-sS", proxy.url + "/v1/messages",
        "-H", "content-type: application/json", "-H", "anthropic-version: 2023-06-01",
        "-H", "x-api-key: any", "-d", MESSAGE.decode(),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert orjson.loads(out)["content"][0]["text"] == sim.text("primary")


def interface_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: it only picks a route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


async def test_a_proxy_on_every_interface_answers_to_the_address_it_was_reached_at(sim):
    address = interface_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    config = two_provider_config(sim, api_key='"ccm-key-0123456789abcdef"')
    proxy = Proxy(parse_config(config.replace('"127.0.0.1"', '"0.0.0.0"'), None, env={}))
    await proxy.start("0.0.0.0", 0)
    try:
        port = proxy.url.rsplit(":", 1)[1]
        url = f"http://{address}:{port}"
        key = {"x-api-key": "ccm-key-0123456789abcdef"}
        answer = await send(url, "GET", "/_ccm/state", {"Host": f"{address}:{port}", **key})
        assert answer.status == 200, answer.body[:200]
        answer = await send(url, "GET", "/_ccm/state", {"Host": f"0.0.0.0:{port}", **key})
        assert_anthropic_error(answer, 403)
    finally:
        await proxy.stop()
