"""Anthropic's OAuth flow (WIRE.md, *[reported]*): PKCE, code exchange, refresh, create_api_key.

Endpoints, client id and scopes come from `OAuthSettings`, the one place those
reported facts live. Every failure becomes an `OAuthError` whose message a
person can act on and which never contains a token, a code or a key.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ccm_tui.config import OAuthSettings
from ccm_tui.masking import mask_text

API_KEY_SCOPE = "org:create_api_key"
# A grant without `expires_in` (never seen, but possible) is treated as short-lived.
_DEFAULT_EXPIRES_IN = 3600


# --- errors --------------------------------------------------------------------------------


class OAuthError(Exception):
    """An OAuth step failed. `status` is the HTTP status when the server answered."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class InvalidGrant(OAuthError):
    """400 invalid_grant: the code or refresh token is dead; only a new login helps."""


class ScopeRefused(OAuthError):
    """403 from create_api_key: the token lacks `org:create_api_key`."""


class TokenExpired(OAuthError):
    """401: the access token was refused as expired or unknown."""


def login_hint(name: str | None) -> str:
    return f"`ccm-tui login {name or 'NAME'}`"


def scope_refused_message(provider_name: str) -> str:
    return (
        f"provider {provider_name}: cannot derive an API key: the OAuth token lacks the "
        f"`{API_KEY_SCOPE}` scope (Claude Pro/Max logins are reported to drop it). "
        f"The provider stays on OAuth. To get a token that can create keys, log in through "
        f"the Anthropic Console: `ccm-tui login {provider_name} --console`"
    )


def scope_refused_in_use_message(provider_name: str) -> str:
    """The refusal when `use_derived_key = true` and there is no key yet: nothing to stay on."""
    return (
        f"provider {provider_name}: use_derived_key is on but no API key can be derived: the "
        f"OAuth token lacks the `{API_KEY_SCOPE}` scope (Claude Pro/Max logins are reported "
        f"to drop it). Log in through the Anthropic Console "
        f"(`ccm-tui login {provider_name} --console`), or go back to the OAuth token "
        f"(`ccm-tui use-oauth {provider_name}`)"
    )


# --- PKCE and the authorize URL ------------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class Pkce:
    """One login attempt's PKCE pair; the verifier doubles as `state` (as Claude Code does)."""

    verifier: str = field(repr=False)
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = _b64url(secrets.token_bytes(32))
        return cls(verifier, challenge_for(verifier))


def challenge_for(verifier: str) -> str:
    return _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def authorize_url(settings: OAuthSettings, pkce: Pkce, console: bool) -> str:
    """Where the user logs in: claude.ai for Pro/Max, the Console for key-creating tokens."""
    base = settings.console_authorize_url if console else settings.authorize_url
    query = [
        ("code", "true"),
        ("client_id", settings.client_id),
        ("response_type", "code"),
        ("redirect_uri", settings.redirect_uri),
        ("scope", settings.scopes),
        ("code_challenge", pkce.challenge),
        ("code_challenge_method", "S256"),
        ("state", pkce.verifier),
    ]
    separator = "&" if "?" in base else "?"
    return base + separator + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)


def parse_pasted_code(text: str, expected_state: str | None = None) -> tuple[str, str]:
    """`CODE#STATE` as the callback page shows it, or the whole callback URL.

    With `expected_state`, a code from another login attempt is refused.
    """
    value = text.strip()
    if not value:
        raise OAuthError("nothing was pasted: paste the CODE#STATE line the login page shows")
    if value.lower().startswith(("http://", "https://")):
        parsed = urllib.parse.urlsplit(value)
        params = urllib.parse.parse_qs(parsed.query)
        params.update(
            {k: v for k, v in urllib.parse.parse_qs(parsed.fragment).items() if k not in params}
        )
        code = (params.get("code") or [""])[0].strip()
        state = (params.get("state") or [""])[0].strip()
        if not code or not state:
            raise OAuthError(
                "the pasted URL has no code= and state= in it: paste the CODE#STATE line "
                "the login page shows"
            )
    else:
        code, sep, state = value.partition("#")
        code, state = code.strip(), state.strip()
        if not sep or not code or not state or any(c.isspace() for c in code + state):
            raise OAuthError(
                "that does not look like CODE#STATE: paste the whole line the login page "
                "shows, including the part after #"
            )
    if expected_state is not None and state != expected_state:
        raise OAuthError(
            "the pasted code belongs to a different login attempt: open the URL printed "
            "by this command and paste the code it shows"
        )
    return code, state


# --- grants --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """What the token endpoint granted; `refresh_token` is the old one if it did not rotate."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_at: datetime
    expires_in: float
    scopes: tuple[str, ...] = ()
    token_type: str = "Bearer"
    account: dict[str, Any] | None = None
    organization: dict[str, Any] | None = None


def _host(url: str) -> str:
    return urllib.parse.urlsplit(url).netloc or url


def _describe(response: httpx.Response) -> tuple[str, str]:
    """(OAuth `error` code, a short masked description) from an error response."""
    error, description = "", ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        raw_error = body.get("error")
        if isinstance(raw_error, dict):  # Anthropic API style {"error": {"type", "message"}}
            error = str(raw_error.get("type") or "")
            description = str(raw_error.get("message") or "")
        elif isinstance(raw_error, str):
            error = raw_error
            description = str(body.get("error_description") or "")
    if not description and body is None:
        description = response.text
    description = " ".join(mask_text(description).split())
    if len(description) > 200:
        description = description[:199] + "…"
    return error, description


async def _post(
    client: httpx.AsyncClient,
    url: str,
    what: str,
    *,
    json_body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POSTs, turning transport failures into plain OAuthErrors."""
    try:
        if json_body is None:
            return await client.post(url, headers=headers)
        return await client.post(url, json=json_body, headers=headers)
    except httpx.TimeoutException:
        raise OAuthError(f"{what}: {_host(url)} did not answer in time") from None
    except httpx.HTTPError as err:
        reason = type(err).__name__
        raise OAuthError(f"{what}: could not reach {_host(url)} ({reason})") from None


def _grant_from(
    response: httpx.Response, what: str, old_refresh: str | None, now: float
) -> TokenGrant:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
        raise OAuthError(f"{what}: the token endpoint's answer has no access_token", None)
    refresh = body.get("refresh_token")
    if not isinstance(refresh, str) or not refresh:
        if old_refresh is None:
            raise OAuthError(f"{what}: the token endpoint's answer has no refresh_token")
        refresh = old_refresh
    expires_in = body.get("expires_in")
    if not isinstance(expires_in, int | float) or isinstance(expires_in, bool):
        expires_in = _DEFAULT_EXPIRES_IN
    scope = body.get("scope")
    scopes = tuple(scope.split()) if isinstance(scope, str) else ()
    account = body.get("account")
    organization = body.get("organization")
    return TokenGrant(
        access_token=body["access_token"],
        refresh_token=refresh,
        expires_at=datetime.fromtimestamp(int(now + expires_in), UTC),
        expires_in=float(expires_in),
        scopes=scopes,
        token_type=str(body.get("token_type") or "Bearer"),
        account=account if isinstance(account, dict) else None,
        organization=organization if isinstance(organization, dict) else None,
    )


def _token_error(response: httpx.Response, what: str, invalid_grant_advice: str) -> OAuthError:
    error, description = _describe(response)
    status = response.status_code
    detail = f" ({description})" if description else ""
    if status == 400 and error == "invalid_grant":
        return InvalidGrant(f"{what}: {invalid_grant_advice}{detail}", status)
    name = f" {error}" if error else ""
    return OAuthError(f"{what}: the token endpoint answered {status}{name}{detail}", status)


async def exchange_code(
    client: httpx.AsyncClient,
    settings: OAuthSettings,
    code: str,
    state: str,
    verifier: str,
    *,
    login_name: str | None = None,
    clock: Callable[[], float] = time.time,
) -> TokenGrant:
    """Trades the pasted code for tokens (authorization_code grant with the PKCE verifier)."""
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "state": state,
        "client_id": settings.client_id,
        "redirect_uri": settings.redirect_uri,
        "code_verifier": verifier,
    }
    what = "login"
    response = await _post(client, settings.token_url, what, json_body=body)
    if response.status_code != 200:
        advice = (
            "the code was refused: codes work once and expire within minutes; "
            f"run {login_hint(login_name)} again"
        )
        raise _token_error(response, what, advice)
    return _grant_from(response, what, None, clock())


async def refresh_grant(
    client: httpx.AsyncClient,
    settings: OAuthSettings,
    refresh_token: str,
    *,
    login_name: str | None = None,
    clock: Callable[[], float] = time.time,
) -> TokenGrant:
    """A new access token; keeps `refresh_token` when the answer does not rotate it."""
    body = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": settings.client_id,
    }
    what = "token refresh"
    response = await _post(client, settings.token_url, what, json_body=body)
    if response.status_code != 200:
        advice = (
            "the refresh token is no longer valid (revoked, or used by another program "
            f"that rotated it); run {login_hint(login_name)} again"
        )
        raise _token_error(response, what, advice)
    return _grant_from(response, what, refresh_token, clock())


async def create_api_key(
    client: httpx.AsyncClient,
    settings: OAuthSettings,
    access_token: str,
    provider_name: str,
) -> str:
    """Derives an API key from an OAuth token (needs the `org:create_api_key` scope)."""
    what = f"provider {provider_name}: create_api_key"
    headers = {"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"}
    response = await _post(client, settings.create_api_key_url, what, headers=headers)
    status = response.status_code
    if status == 403:
        raise ScopeRefused(scope_refused_message(provider_name), status)
    if status == 401:
        _, description = _describe(response)
        detail = f" ({description})" if description else ""
        raise TokenExpired(f"{what}: the OAuth token was refused{detail}", status)
    if status != 200:
        error, description = _describe(response)
        detail = f": {description}" if description else ""
        name = f" {error}" if error else ""
        raise OAuthError(f"{what}: answered {status}{name}{detail}", status)
    try:
        body = response.json()
    except ValueError:
        body = None
    key = body.get("raw_key") if isinstance(body, dict) else None
    if not isinstance(key, str) or not key:
        raise OAuthError(f"{what}: the answer has no raw_key", status)
    return key
