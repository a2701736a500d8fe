"""The OAuth server (PKCE, both grants, derived keys) and the credential gates on /v1/messages."""

from __future__ import annotations

import base64
import os
import urllib.parse
from pathlib import Path
from typing import Any

import anthropic
import httpx
import orjson
import pytest

from ccm_tui.sim import CLIENT_ID, Simulator, pkce_challenge

# `sim` (a served Simulator) comes from tests/conftest.py.
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "claude-code-request.json"

REDIRECT = "https://console.anthropic.com/oauth/code/callback"
SCOPES = "org:create_api_key user:profile user:inference"
USER = [{"role": "user", "content": "hi"}]
OAUTH_HEADERS = {
    "anthropic-beta": "claude-code-20250219,oauth-2025-04-20",
    "user-agent": "claude-cli/2.1.197 (external, cli)",
    "anthropic-version": "2023-06-01",
}
CLAUDE_CODE_BODY = {
    "model": "m",
    "max_tokens": 50,
    "messages": USER,
    "system": [
        {
            "type": "text",
            "text": "x-anthropic-billing-header: cc_version=2.1.197; cc_entrypoint=cli;",
        },
        {"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."},
    ],
}


@pytest.fixture
def claude_code_request() -> dict[str, Any]:
    """Claude Code's captured request: `path`, `headers` (without its credential) and `body`."""
    data = orjson.loads(FIXTURE.read_bytes())
    headers = {k: v for k, v in data["headers"].items() if k.lower() != "x-api-key"}
    return {"path": data["path"], "headers": headers, "body": data["body"]}


def verifier() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


async def authorize(
    http: httpx.AsyncClient, sim: Simulator, path: str = "/oauth/authorize", **overrides: str
) -> tuple[str, str, str]:
    """Walks the authorize page like a user; returns (code, state, verifier)."""
    code_verifier = verifier()
    query = {
        "code": "true",
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": SCOPES,
        "code_challenge": pkce_challenge(code_verifier),
        "code_challenge_method": "S256",
        "state": code_verifier,
        **overrides,
    }
    url = sim.authorize_url("console" if path.startswith("/console") else "max")
    assert url == sim.base_url + path
    page = await http.get(url + "?" + urllib.parse.urlencode(query))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    code, _, state = page.text.strip().partition("#")
    return code, state, code_verifier


async def exchange(
    http: httpx.AsyncClient, sim: Simulator, code: str, state: str, code_verifier: str
) -> httpx.Response:
    return await http.post(
        sim.token_url,
        json={
            "grant_type": "authorization_code",
            "code": code,
            "state": state,
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "code_verifier": code_verifier,
        },
    )


async def refresh(http: httpx.AsyncClient, sim: Simulator, token: str) -> httpx.Response:
    return await http.post(
        sim.base_url + "/v1/oauth/token",
        json={"grant_type": "refresh_token", "refresh_token": token, "client_id": CLIENT_ID},
    )


async def post_messages(
    sim: Simulator,
    body: dict[str, Any],
    headers: dict[str, str],
    provider: str = "max",
    path: str = "/v1/messages",
) -> httpx.Response:
    async with httpx.AsyncClient(verify=False) as http:
        return await http.post(
            sim.url(provider) + path, content=orjson.dumps(body), headers=headers
        )


def error_of(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert body["type"] == "error"
    return body["error"]


async def test_authorize_then_exchange_with_pkce_grants_tokens(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        code, state, code_verifier = await authorize(http, sim)
        response = await exchange(http, sim, code, state, code_verifier)

    assert state == code_verifier
    assert response.status_code == 200
    grant = response.json()
    assert grant["access_token"].startswith("sk-ant-oat01-sim")
    assert grant["refresh_token"].startswith("sk-ant-ort01-sim")
    assert grant["token_type"] == "Bearer"
    assert grant["expires_in"] == 28800
    assert grant["scope"] == SCOPES
    assert set(grant["organization"]) == {"uuid", "name"}
    assert set(grant["account"]) == {"uuid", "email_address"}
    assert sim.authorize_requests[0]["code_challenge"] == pkce_challenge(code_verifier)
    assert sim.authorize_requests[0]["kind"] == "max"
    assert sim.token_requests[-1]["grant_type"] == "authorization_code"


async def test_authorization_code_is_single_use(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        code, state, code_verifier = await authorize(http, sim)
        assert (await exchange(http, sim, code, state, code_verifier)).status_code == 200
        again = await exchange(http, sim, code, state, code_verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["error_description"]


async def test_wrong_code_verifier_is_invalid_grant(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        code, state, _ = await authorize(http, sim)
        response = await exchange(http, sim, code, state, verifier())
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


async def test_unknown_client_id_is_refused_at_authorize(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        page = await http.get(
            sim.base_url + "/oauth/authorize",
            params={
                "client_id": "someone-else",
                "response_type": "code",
                "redirect_uri": REDIRECT,
                "scope": SCOPES,
                "code_challenge": "x",
                "code_challenge_method": "S256",
                "state": "s",
            },
        )
    assert page.status_code == 400


async def test_refresh_rotates_and_invalidates_the_old_refresh_token(sim: Simulator):
    grant = sim.issue_tokens()
    async with httpx.AsyncClient(verify=False) as http:
        first = await refresh(http, sim, grant.refresh_token)
        reused = await refresh(http, sim, grant.refresh_token)
        second = await refresh(http, sim, first.json()["refresh_token"])

    assert first.status_code == 200
    assert first.json()["refresh_token"] != grant.refresh_token
    assert first.json()["access_token"] != grant.access_token
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert second.status_code == 200
    assert [r["grant_type"] for r in sim.token_requests] == ["refresh_token"] * 3


async def test_refresh_without_rotation_keeps_the_same_refresh_token():
    sim = Simulator(rotate_refresh_tokens=False)
    async with sim.serve(), httpx.AsyncClient(verify=False) as http:
        grant = sim.issue_tokens()
        first = await refresh(http, sim, grant.refresh_token)
        second = await refresh(http, sim, grant.refresh_token)
    assert first.json()["refresh_token"] == second.json()["refresh_token"] == grant.refresh_token
    assert first.json()["access_token"] != second.json()["access_token"]


async def test_unknown_refresh_token_and_grant_type_get_oauth_errors(sim: Simulator):
    async with httpx.AsyncClient(verify=False) as http:
        unknown = await refresh(http, sim, "sk-ant-ort01-nope")
        bad_type = await http.post(
            sim.base_url + "/v1/oauth/token", json={"grant_type": "password"}
        )
        bad_json = await http.post(sim.base_url + "/v1/oauth/token", content=b"{")
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "invalid_grant"
    assert bad_type.status_code == 400
    assert bad_type.json()["error"] == "unsupported_grant_type"
    assert bad_json.status_code == 400
    assert bad_json.json()["error"] == "invalid_request"
    assert len(sim.token_requests) == 3


async def test_refresh_with_another_client_id_is_refused(sim: Simulator):
    grant = sim.issue_tokens()
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(
            sim.base_url + "/v1/oauth/token",
            json={
                "grant_type": "refresh_token",
                "refresh_token": grant.refresh_token,
                "client_id": "other",
            },
        )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


async def test_oauth_scenario_faults_the_token_endpoint(sim: Simulator):
    sim.scenario("oauth", status=500, times=1)
    grant = sim.issue_tokens()
    async with httpx.AsyncClient(verify=False) as http:
        failed = await refresh(http, sim, grant.refresh_token)
        ok = await refresh(http, sim, grant.refresh_token)
    assert failed.status_code == 500
    assert failed.json()["error"] == "server_error"
    assert ok.status_code == 200


async def test_create_api_key_returns_a_raw_key_that_then_authenticates(sim: Simulator):
    grant = sim.issue_tokens()
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(
            sim.create_api_key_url,
            headers={
                "Authorization": f"Bearer {grant.access_token}",
                "Content-Type": "application/json",
            },
        )
    assert response.status_code == 200
    key = response.json()["raw_key"]
    assert key.startswith("sk-ant-api03-sim")
    sim.scenario("max", api_key="the-real-key")
    ok = await anthropic.AsyncAnthropic(
        base_url=sim.url("max"),
        api_key=key,
        max_retries=0,
        http_client=anthropic.DefaultAsyncHttpxClient(verify=False),
    ).messages.create(model="m", max_tokens=10, messages=USER)
    assert ok.content[0].text == "Hello from max."

    sim.revoke_api_key(key)
    with pytest.raises(anthropic.AuthenticationError) as info:
        await anthropic.AsyncAnthropic(
            base_url=sim.url("max"),
            api_key=key,
            max_retries=0,
            http_client=anthropic.DefaultAsyncHttpxClient(verify=False),
        ).messages.create(model="m", max_tokens=10, messages=USER)
    assert info.value.body["error"]["message"] == "invalid x-api-key"


async def test_made_up_derived_looking_key_is_rejected(sim: Simulator):
    response = await post_messages(
        sim,
        {"model": "m", "max_tokens": 5, "messages": USER},
        {"x-api-key": "sk-ant-api03-simfake"},
    )
    assert response.status_code == 401
    assert error_of(response) == {"type": "authentication_error", "message": "invalid x-api-key"}


async def test_create_api_key_without_scope_is_403_naming_the_scope(sim: Simulator):
    grant = sim.issue_tokens(scopes=["user:profile", "user:inference"])
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(
            sim.base_url + "/api/oauth/claude_cli/create_api_key",
            headers={"Authorization": f"Bearer {grant.access_token}"},
        )
    assert response.status_code == 403
    error = error_of(response)
    assert error["type"] == "permission_error"
    assert "org:create_api_key" in error["message"]


async def test_create_api_key_with_expired_or_unknown_token_is_401(sim: Simulator):
    grant = sim.issue_tokens()
    sim.expire(grant.access_token)
    async with httpx.AsyncClient(verify=False) as http:
        expired = await http.post(
            sim.base_url + "/api/oauth/claude_cli/create_api_key",
            headers={"Authorization": f"Bearer {grant.access_token}"},
        )
        unknown = await http.post(
            sim.base_url + "/api/oauth/claude_cli/create_api_key",
            headers={"Authorization": "Bearer sk-ant-oat01-unknown"},
        )
    assert expired.status_code == 401
    assert error_of(expired)["message"].startswith("OAuth token has expired.")
    assert unknown.status_code == 401
    assert error_of(unknown)["type"] == "authentication_error"


async def test_max_grant_drops_api_key_scope_when_configured():
    sim = Simulator(max_drops_api_key_scope=True)
    async with sim.serve(), httpx.AsyncClient(verify=False) as http:
        code, state, code_verifier = await authorize(http, sim, "/oauth/authorize")
        max_grant = (await exchange(http, sim, code, state, code_verifier)).json()
        code, state, code_verifier = await authorize(http, sim, "/console/oauth/authorize")
        console_grant = (await exchange(http, sim, code, state, code_verifier)).json()
        refused = await http.post(
            sim.base_url + "/api/oauth/claude_cli/create_api_key",
            headers={"Authorization": f"Bearer {max_grant['access_token']}"},
        )
    assert "org:create_api_key" not in max_grant["scope"].split()
    assert "org:create_api_key" in console_grant["scope"].split()
    assert refused.status_code == 403
    assert sim.authorize_requests[1]["kind"] == "console"


# -- gates on /v1/messages ---------------------------------------------------------------------


async def test_claude_code_fixture_with_oauth_token_is_accepted(
    sim: Simulator, claude_code_request
):
    grant = sim.issue_tokens()
    headers = dict(claude_code_request["headers"])
    headers["anthropic-beta"] += ",oauth-2025-04-20"
    headers["Authorization"] = f"Bearer {grant.access_token}"
    async with httpx.AsyncClient(verify=False) as http:
        response = await http.post(
            sim.url("max") + claude_code_request["path"],
            content=orjson.dumps(claude_code_request["body"]),
            headers=headers,
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert b"event: message_stop" in response.content
    # Claude Code enables thinking on every request: the reply starts with a thinking block.
    assert b'"content_block":{"type":"thinking"' in response.content
    # Subscription traffic carries the unified rate-limit headers.
    assert response.headers["anthropic-ratelimit-unified-status"] == "allowed"
    assert int(response.headers["anthropic-ratelimit-unified-reset"]) > 0


async def test_oauth_token_without_oauth_beta_is_401(sim: Simulator):
    grant = sim.issue_tokens()
    headers = {**OAUTH_HEADERS, "anthropic-beta": "claude-code-20250219"}
    headers["authorization"] = f"Bearer {grant.access_token}"
    response = await post_messages(sim, CLAUDE_CODE_BODY, headers)
    assert response.status_code == 401
    assert error_of(response) == {
        "type": "authentication_error",
        "message": "OAuth authentication is currently not supported.",
    }


async def test_expired_oauth_token_is_401_with_the_expired_message(sim: Simulator):
    grant = sim.issue_tokens()
    sim.expire(grant.access_token)
    headers = {**OAUTH_HEADERS, "authorization": f"Bearer {grant.access_token}"}
    response = await post_messages(sim, CLAUDE_CODE_BODY, headers)
    assert response.status_code == 401
    assert error_of(response)["message"] == (
        "OAuth token has expired. Please obtain a new token or refresh your existing token."
    )


async def test_short_lived_token_expires_by_itself(sim: Simulator):
    grant = sim.issue_tokens(lifetime_s=0)
    headers = {**OAUTH_HEADERS, "authorization": f"Bearer {grant.access_token}"}
    response = await post_messages(sim, CLAUDE_CODE_BODY, headers)
    assert response.status_code == 401
    assert "expired" in error_of(response)["message"]


async def test_unknown_oauth_token_is_401_invalid_bearer(sim: Simulator):
    headers = {**OAUTH_HEADERS, "authorization": "Bearer sk-ant-oat01-notissued"}
    response = await post_messages(sim, CLAUDE_CODE_BODY, headers)
    assert response.status_code == 401
    assert error_of(response) == {"type": "authentication_error", "message": "Invalid bearer token"}


@pytest.mark.parametrize(
    ("change_body", "change_headers"),
    [
        (lambda b: b.pop("system"), lambda h: None),
        (lambda b: b.update(system="You are a helpful assistant."), lambda h: None),
        (lambda b: None, lambda h: h.update({"user-agent": "python-httpx/0.28"})),
    ],
    ids=["no-system", "other-system", "other-user-agent"],
)
async def test_oauth_request_not_shaped_like_claude_code_is_400(
    sim: Simulator, change_body, change_headers
):
    grant = sim.issue_tokens()
    body = orjson.loads(orjson.dumps(CLAUDE_CODE_BODY))
    headers = {**OAUTH_HEADERS, "authorization": f"Bearer {grant.access_token}"}
    change_body(body)
    change_headers(headers)
    response = await post_messages(sim, body, headers)
    assert response.status_code == 400
    assert error_of(response) == {
        "type": "invalid_request_error",
        "message": "This credential is only authorized for use with Claude Code and cannot be "
        "used for other API requests.",
    }


async def test_claude_code_identity_without_billing_block_is_accepted(sim: Simulator):
    grant = sim.issue_tokens()
    body = {**CLAUDE_CODE_BODY, "system": CLAUDE_CODE_BODY["system"][1:]}
    headers = {**OAUTH_HEADERS, "authorization": f"Bearer {grant.access_token}"}
    response = await post_messages(sim, body, headers)
    assert response.status_code == 200


async def test_claude_code_only_scenario_refuses_every_oauth_request(
    sim: Simulator, claude_code_request
):
    sim.scenario("max", claude_code_only=True)
    grant = sim.issue_tokens()
    headers = dict(claude_code_request["headers"])
    headers["anthropic-beta"] += ",oauth-2025-04-20"
    headers["Authorization"] = f"Bearer {grant.access_token}"
    response = await post_messages(sim, claude_code_request["body"], headers)
    assert response.status_code == 400
    assert error_of(response)["message"].startswith("This credential is only authorized")
    # A derived API key still works on the same provider: the issue-7 workaround.
    key = sim.oauth.create_api_key(grant.access_token)["raw_key"]
    ok = await post_messages(
        sim, claude_code_request["body"], {**claude_code_request["headers"], "x-api-key": key}
    )
    assert ok.status_code == 200


async def test_count_tokens_with_oauth_token_skips_the_shape_check(sim: Simulator):
    grant = sim.issue_tokens()
    headers = {**OAUTH_HEADERS, "authorization": f"Bearer {grant.access_token}"}
    response = await post_messages(
        sim, {"model": "m", "messages": USER}, headers, path="/v1/messages/count_tokens"
    )
    assert response.status_code == 200
    assert response.json()["input_tokens"] > 0


async def test_scenario_api_key_must_match(sim: Simulator):
    sim.scenario("zai", api_key="right")
    body = {"model": "m", "max_tokens": 5, "messages": USER}
    wrong = await post_messages(sim, body, {"x-api-key": "wrong"}, provider="zai")
    missing = await post_messages(sim, body, {}, provider="zai")
    bearer = await post_messages(sim, body, {"authorization": "Bearer right"}, provider="zai")
    right = await post_messages(sim, body, {"x-api-key": "right"}, provider="zai")
    assert wrong.status_code == 401
    assert error_of(wrong) == {"type": "authentication_error", "message": "invalid x-api-key"}
    assert missing.status_code == 401
    assert error_of(missing)["message"] == "x-api-key header is required"
    assert bearer.status_code == 200
    assert right.status_code == 200


async def test_require_auth_refuses_requests_without_a_credential(sim: Simulator):
    sim.scenario("p", require_auth=True)
    body = {"model": "m", "max_tokens": 5, "messages": USER}
    assert (await post_messages(sim, body, {}, provider="p")).status_code == 401
    assert (await post_messages(sim, body, {"x-api-key": "any"}, provider="p")).status_code == 200


async def test_both_credentials_at_once_are_refused(sim: Simulator):
    grant = sim.issue_tokens()
    headers = {
        **OAUTH_HEADERS,
        "authorization": f"Bearer {grant.access_token}",
        "x-api-key": "leaked-client-key",
    }
    response = await post_messages(sim, CLAUDE_CODE_BODY, headers)
    assert response.status_code == 401
    assert error_of(response)["type"] == "authentication_error"
