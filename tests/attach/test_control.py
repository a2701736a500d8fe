"""The TUI's actions behave the same on a proxy in-process and on one reached over HTTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from attach_helpers import PROXY_KEY

from ccm_tui.actions import Action, ActionRefused, Refusal
from ccm_tui.config import parse_config
from ccm_tui.control import LocalControl, ProxyControl, RemoteControl

from e2e.procs import free_port
from support import two_provider_config

Asking = Callable[[ProxyControl], Awaitable[str]]

# action → (expected kind: "ok" or the refusal, a phrase the message contains)
CASES: dict[str, tuple[Asking, str, str]] = {
    "disable": (lambda c: c.run(Action.DISABLE, "primary"), "ok", "primary disabled"),
    "enable": (lambda c: c.run(Action.ENABLE, "primary"), "ok", "primary enabled"),
    "reset": (lambda c: c.run(Action.RESET, "secondary"), "ok", "counters reset"),
    "derive-key-on-an-apikey-provider": (
        lambda c: c.run(Action.DERIVE_KEY, "primary"), Refusal.NOT_APPLICABLE, "does not use OAuth"
    ),
    "use-oauth-on-an-apikey-provider": (
        lambda c: c.run(Action.USE_OAUTH, "primary"), Refusal.NOT_APPLICABLE, "does not use OAuth"
    ),
    "enable-unknown-provider": (
        lambda c: c.run(Action.ENABLE, "nobody"), Refusal.UNKNOWN_PROVIDER,
        "no provider named nobody",
    ),
    "reset-unknown-provider": (
        lambda c: c.run(Action.RESET, "nobody"), Refusal.UNKNOWN_PROVIDER, "no provider named"
    ),
    "reload": (lambda c: c.run(Action.RELOAD), "ok", "config reloaded"),
}  # fmt: skip


async def outcome(action: Asking, control: ProxyControl) -> tuple[str, str]:
    """("ok", the answer) or (the refusal's code, its message)."""
    try:
        return "ok", await action(control)
    except ActionRefused as err:
        return err.refusal, err.message


@pytest.fixture
async def client():
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


@pytest.mark.parametrize("case", CASES)
async def test_local_and_remote_control_give_the_same_result(proxy, client, case):
    action, kind, phrase = CASES[case]
    local = await outcome(action, LocalControl(proxy.actions))
    remote = await outcome(action, RemoteControl(proxy.url, client=client))
    assert remote == local
    assert local[0] == kind
    assert phrase in local[1]


async def test_remote_disable_and_enable_switch_the_proxy(proxy, client):
    control = RemoteControl(proxy.url + "/", client=client)  # a trailing slash is fine
    await control.run(Action.DISABLE, "primary")
    assert not proxy.upstreams.is_enabled("primary")
    await control.run(Action.ENABLE, "primary")
    assert proxy.upstreams.is_enabled("primary")


async def test_a_bad_config_on_reload_is_refused_the_same_way_and_the_old_one_kept(proxy, client):
    good = proxy.config
    path = proxy.config.path
    path.write_text(path.read_text() + "\n[[models]]\nname = 3\n")
    local = await outcome(lambda c: c.run(Action.RELOAD), LocalControl(proxy.actions))
    remote = await outcome(lambda c: c.run(Action.RELOAD), RemoteControl(proxy.url, client=client))
    assert remote == local
    assert local[0] == Refusal.CONFIG_INVALID
    assert "line" in local[1]
    assert proxy.config is good


async def test_reload_without_a_config_file_is_refused_the_same_way(sim, make_proxy, client):
    proxy = await make_proxy(parse_config(two_provider_config(sim), None, env={}))
    local = await outcome(lambda c: c.run(Action.RELOAD), LocalControl(proxy.actions))
    remote = await outcome(lambda c: c.run(Action.RELOAD), RemoteControl(proxy.url, client=client))
    assert (
        remote
        == local
        == (
            Refusal.NOT_APPLICABLE,
            "this proxy was not started from a config file",
        )
    )


async def test_remote_control_with_the_right_key_is_obeyed(guarded, client):
    control = RemoteControl(guarded.url, key=PROXY_KEY, client=client)
    assert await control.run(Action.DISABLE, "secondary") == "secondary disabled"
    assert not guarded.upstreams.is_enabled("secondary")


@pytest.mark.parametrize("key", ["wrong-key-abcdefghijklmnop", None], ids=["wrong", "missing"])
async def test_remote_control_without_the_right_key_says_so(guarded, client, key):
    control = RemoteControl(guarded.url, key=key, client=client)
    with pytest.raises(ActionRefused) as refused:
        await control.run(Action.RESET, "primary")
    assert refused.value.refusal is Refusal.UNAUTHORIZED
    message = refused.value.message
    assert "401" in message
    assert "--key" in message
    assert "server.api_key" in message
    assert "wrong-key" not in message
    assert PROXY_KEY not in message


async def test_remote_control_of_an_absent_proxy_says_it_is_not_reachable():
    url = f"http://127.0.0.1:{free_port()}"
    control = RemoteControl(url)
    try:
        with pytest.raises(ActionRefused) as refused:
            await control.run(Action.RELOAD)
    finally:
        await control.aclose()
    assert refused.value.refusal is Refusal.UNAVAILABLE
    assert refused.value.message.startswith(f"proxy at {url} is not reachable: ")
    assert "refused" in refused.value.message


async def test_credentials_in_the_url_never_reach_a_message():
    control = RemoteControl(f"http://admin:hunter2secret@127.0.0.1:{free_port()}")
    try:
        with pytest.raises(ActionRefused) as refused:
            await control.run(Action.RELOAD)
    finally:
        await control.aclose()
    assert "hunter2secret" not in refused.value.message


@pytest.mark.parametrize("url", ["ftp://example.com", "http://", ""])
def test_an_address_that_cannot_be_a_proxy_is_refused_at_once(url):
    with pytest.raises(ValueError, match=r"proxy address|valid URL"):
        RemoteControl(url)


def test_a_bare_host_and_port_is_taken_as_http():
    assert RemoteControl("127.0.0.1:8082/").url == "http://127.0.0.1:8082"


@pytest.mark.parametrize(
    "url",
    ["admin:hunter2secret@127.0.0.1:port", "admin:hunter2secret@", "admin:hunter2secret@[::1"],
)
def test_a_refused_address_without_a_scheme_never_shows_its_password(url):
    with pytest.raises(ValueError, match=r"proxy address|valid URL") as refused:
        RemoteControl(url)
    assert "hunter2secret" not in str(refused.value)
