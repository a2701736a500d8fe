"""The OAuth protocol: PKCE, the authorize URL, pasted codes, grants, create_api_key, errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import socket
import time
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from ccm_tui.auth.oauth import (
    InvalidGrant,
    OAuthError,
    Pkce,
    ScopeRefused,
    TokenExpired,
    authorize_url,
    create_api_key,
    exchange_code,
    parse_pasted_code,
    refresh_grant,
)
from ccm_tui.config import OAuthSettings
from ccm_tui.sim import Simulator, pkce_challenge

# --- PKCE and the authorize URL ------------------------------------------------------------


def test_pkce_verifier_is_32_random_bytes_base64url_without_padding() -> None:
    pkce = Pkce.new()
    assert "=" not in pkce.verifier
    assert len(base64.urlsafe_b64decode(pkce.verifier + "=")) == 32
    assert Pkce.new().verifier != pkce.verifier


def test_pkce_challenge_is_base64url_sha256_of_the_verifier() -> None:
    pkce = Pkce.new()
    digest = hashlib.sha256(pkce.verifier.encode()).digest()
    assert pkce.challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert pkce.challenge == pkce_challenge(pkce.verifier)
    assert pkce.verifier not in repr(pkce)


def test_authorize_url_for_pro_max_has_the_wire_query_in_order() -> None:
    settings = OAuthSettings()
    pkce = Pkce.new()
    url = authorize_url(settings, pkce, console=False)
    base, _, query = url.partition("?")
    assert base == "https://claude.ai/oauth/authorize"
    assert urllib.parse.parse_qsl(query) == [
        ("code", "true"),
        ("client_id", "9d1c250a-e61b-44d9-88ed-5944d1962f5e"),
        ("response_type", "code"),
        ("redirect_uri", "https://console.anthropic.com/oauth/code/callback"),
        ("scope", "org:create_api_key user:profile user:inference"),
        ("code_challenge", pkce.challenge),
        ("code_challenge_method", "S256"),
        ("state", pkce.verifier),
    ]
    assert " " not in url


def test_authorize_url_for_console_uses_the_console_page() -> None:
    url = authorize_url(OAuthSettings(), Pkce.new(), console=True)
    assert url.startswith("https://console.anthropic.com/oauth/authorize?code=true&")


# --- pasted codes --------------------------------------------------------------------------


def test_pasted_code_hash_state_is_split_and_trimmed() -> None:
    assert parse_pasted_code("  abc123#state-xyz \n") == ("abc123", "state-xyz")


def test_pasted_callback_url_is_accepted() -> None:
    url = "https://console.anthropic.com/oauth/code/callback?code=abc123&state=st4te"
    assert parse_pasted_code(url) == ("abc123", "st4te")


@pytest.mark.parametrize("pasted", ["", "abc123", "#state", "abc#", "ab c#state"])
def test_pasted_text_that_is_not_code_hash_state_is_refused_plainly(pasted: str) -> None:
    with pytest.raises(OAuthError) as info:
        parse_pasted_code(pasted)
    assert "CODE#STATE" in info.value.message
    if pasted.strip():
        assert pasted.strip() not in info.value.message


def test_pasted_code_from_another_login_attempt_is_refused() -> None:
    with pytest.raises(OAuthError, match="different login attempt"):
        parse_pasted_code("abc#other-state", expected_state="my-state")


# --- grants against the simulated upstream -----------------------------------------------


async def test_exchange_code_sends_the_wire_body_and_returns_the_grant(
    sim: Simulator, settings: OAuthSettings, client: httpx.AsyncClient
) -> None:
    pkce = Pkce.new()
    page = await client.get(authorize_url(settings, pkce, console=False))
    code, state = parse_pasted_code(page.text, expected_state=pkce.verifier)
    before = time.time()
    grant = await exchange_code(client, settings, code, state, pkce.verifier)
    assert sim.token_requests[-1] == {
        "grant_type": "authorization_code",
        "code": code,
        "state": state,
        "client_id": settings.client_id,
        "redirect_uri": settings.redirect_uri,
        "code_verifier": pkce.verifier,
    }
    assert grant.access_token.startswith("sk-ant-oat01-")
    assert grant.refresh_token.startswith("sk-ant-ort01-")
    assert before + 28800 - 2 <= grant.expires_at.timestamp() <= time.time() + 28800
    assert "org:create_api_key" in grant.scopes
    assert grant.organization is not None
    assert grant.access_token not in repr(grant)
    assert grant.refresh_token not in repr(grant)


async def test_used_code_is_invalid_grant_with_login_advice(
    settings: OAuthSettings, client: httpx.AsyncClient
) -> None:
    pkce = Pkce.new()
    page = await client.get(authorize_url(settings, pkce, console=False))
    code, state = parse_pasted_code(page.text)
    await exchange_code(client, settings, code, state, pkce.verifier)
    with pytest.raises(InvalidGrant) as info:
        await exchange_code(client, settings, code, state, pkce.verifier, login_name="claude-max")
    assert info.value.status == 400
    assert "`ccm-tui login claude-max`" in info.value.message
    assert code not in info.value.message


async def test_refresh_sends_the_wire_body_and_rotates(
    sim: Simulator, settings: OAuthSettings, client: httpx.AsyncClient
) -> None:
    issued = sim.issue_tokens()
    grant = await refresh_grant(client, settings, issued.refresh_token)
    assert sim.token_requests[-1] == {
        "grant_type": "refresh_token",
        "refresh_token": issued.refresh_token,
        "client_id": settings.client_id,
    }
    assert grant.access_token != issued.access_token
    assert grant.refresh_token != issued.refresh_token


async def test_refresh_with_dead_token_is_invalid_grant_naming_the_login_command(
    settings: OAuthSettings, client: httpx.AsyncClient
) -> None:
    dead = "sk-ant-ort01-never-issued-aaaaaaaaaaaaaaaa"
    with pytest.raises(InvalidGrant) as info:
        await refresh_grant(client, settings, dead, login_name="claude-max")
    assert "no longer valid" in info.value.message
    assert "`ccm-tui login claude-max`" in info.value.message
    assert dead not in info.value.message
    assert dead not in repr(info.value)


async def test_token_endpoint_500_is_an_oauth_error_with_its_status(
    sim: Simulator, settings: OAuthSettings, client: httpx.AsyncClient
) -> None:
    sim.scenario("oauth", status=500)
    with pytest.raises(OAuthError) as info:
        await refresh_grant(client, settings, sim.issue_tokens().refresh_token)
    assert type(info.value) is OAuthError
    assert info.value.status == 500
    assert "answered 500" in info.value.message


async def test_create_api_key_posts_bearer_with_no_body_and_returns_raw_key(
    sim: Simulator, settings: OAuthSettings, client: httpx.AsyncClient
) -> None:
    issued = sim.issue_tokens()
    key = await create_api_key(client, settings, issued.access_token, "claude-max")
    assert key.startswith("sk-ant-api03-")
    request = sim.requests("create_api_key")[-1]
    assert request.header("authorization") == f"Bearer {issued.access_token}"
    assert request.header("content-type") == "application/json"
    assert request.body == b""


async def test_create_api_key_without_scope_is_scope_refused_with_console_advice(
    sim: Simulator, settings: OAuthSettings, client: httpx.AsyncClient
) -> None:
    issued = sim.issue_tokens(scopes=("user:profile", "user:inference"))
    with pytest.raises(ScopeRefused) as info:
        await create_api_key(client, settings, issued.access_token, "claude-max")
    message = info.value.message
    assert info.value.status == 403
    assert "org:create_api_key" in message
    assert "`ccm-tui login claude-max --console`" in message
    assert "stays on OAuth" in message
    assert issued.access_token not in message


async def test_create_api_key_with_expired_token_is_token_expired(
    sim: Simulator, settings: OAuthSettings, client: httpx.AsyncClient
) -> None:
    issued = sim.issue_tokens()
    sim.expire(issued.access_token)
    with pytest.raises(TokenExpired) as info:
        await create_api_key(client, settings, issued.access_token, "claude-max")
    assert info.value.status == 401
    assert issued.access_token not in info.value.message


# --- failures of the network and of odd servers ---------------------------------------------


@dataclass
class FakeEndpoint:
    """A loopback server answering every POST with the response set by the test."""

    url: str = ""
    status: int = 200
    body: Any = field(default_factory=dict)
    hang: bool = False
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        if self.hang:
            await self.release.wait()
        if isinstance(self.body, str):
            return web.Response(status=self.status, text=self.body)
        return web.json_response(self.body, status=self.status)


@pytest.fixture
async def fake() -> AsyncIterator[FakeEndpoint]:
    endpoint = FakeEndpoint()
    app = web.Application()
    app.router.add_post("/{tail:.*}", endpoint.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    endpoint.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield endpoint
    endpoint.release.set()
    await runner.cleanup()


def fake_settings(url: str) -> OAuthSettings:
    return OAuthSettings(token_url=f"{url}/v1/oauth/token", create_api_key_url=f"{url}/key")


async def test_refresh_answer_without_refresh_token_keeps_the_old_one(
    fake: FakeEndpoint, client: httpx.AsyncClient
) -> None:
    fake.body = {"access_token": "sk-ant-oat01-new-aaaaaaaaaaaaaaaa", "expires_in": 3600}
    old = "sk-ant-ort01-old-bbbbbbbbbbbbbbbbbbbb"
    grant = await refresh_grant(client, fake_settings(fake.url), old)
    assert grant.refresh_token == old
    assert grant.access_token == "sk-ant-oat01-new-aaaaaaaaaaaaaaaa"


async def test_connection_refused_is_a_plain_oauth_error(client: httpx.AsyncClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OAuthError) as info:
        await refresh_grant(client, fake_settings(f"http://127.0.0.1:{port}"), "sk-ant-ort01-x")
    assert info.value.status is None
    assert f"could not reach 127.0.0.1:{port}" in info.value.message


async def test_timeout_is_a_plain_oauth_error(fake: FakeEndpoint) -> None:
    fake.hang = True
    async with httpx.AsyncClient(timeout=0.2) as impatient:
        with pytest.raises(OAuthError) as info:
            await refresh_grant(impatient, fake_settings(fake.url), "sk-ant-ort01-x")
    assert "did not answer in time" in info.value.message


async def test_answer_without_access_token_is_an_oauth_error(
    fake: FakeEndpoint, client: httpx.AsyncClient
) -> None:
    fake.body = "<html>gateway</html>"
    with pytest.raises(OAuthError, match="no access_token"):
        await refresh_grant(client, fake_settings(fake.url), "sk-ant-ort01-x")


async def test_secrets_echoed_by_the_server_are_masked_in_the_message(
    fake: FakeEndpoint, client: httpx.AsyncClient
) -> None:
    secret = "sk-ant-ort01-echoed-secret-cccccccccccccccc"
    fake.status = 400
    fake.body = {"error": "invalid_request", "error_description": f"bad token {secret}"}
    with pytest.raises(OAuthError) as info:
        await refresh_grant(client, fake_settings(fake.url), secret)
    assert secret not in info.value.message
    assert "answered 400 invalid_request" in info.value.message


async def test_create_api_key_answer_without_raw_key_is_an_oauth_error(
    fake: FakeEndpoint, client: httpx.AsyncClient
) -> None:
    fake.body = {"id": "k1"}
    with pytest.raises(OAuthError, match="no raw_key"):
        await create_api_key(client, fake_settings(fake.url), "sk-ant-oat01-x", "claude-max")
