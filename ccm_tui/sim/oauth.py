"""The simulated OAuth server: authorize (PKCE), token grants, derived API keys.

It keeps every code, token and key it issued, so the messages endpoints can
tell a valid token from an expired, unknown or rotated one exactly like the
real service does. *[reported]* facts (client id, scopes, token shapes) are
the ones in WIRE.md.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
API_KEY_SCOPE = "org:create_api_key"
DEFAULT_SCOPES: tuple[str, ...] = (API_KEY_SCOPE, "user:profile", "user:inference")
ORGANIZATION = {"uuid": "5a1e0000-0000-4000-8000-00000000c0de", "name": "Simulated Org"}
ACCOUNT = {"uuid": "5a1e0000-0000-4000-8000-0000000acc01", "email_address": "sim@example.com"}

ACCESS_PREFIX = "sk-ant-oat01-sim"
REFRESH_PREFIX = "sk-ant-ort01-sim"
DERIVED_KEY_PREFIX = "sk-ant-api03-sim"

MSG_SCOPE = f"OAuth token does not meet scope requirement {API_KEY_SCOPE}"


class OAuthError(Exception):
    """An OAuth-shaped refusal: `{"error": ..., "error_description": ...}` with a status."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description

    def to_json(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True, slots=True)
class TokenGrant:
    """One access/refresh pair as the token endpoint returns it."""

    access_token: str
    refresh_token: str
    expires_in: int
    scopes: tuple[str, ...]
    expires_at: float
    token_type: str = "Bearer"

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)

    def to_json(self) -> dict[str, Any]:
        """The token endpoint's response body."""
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "scope": self.scope,
            "organization": dict(ORGANIZATION),
            "account": dict(ACCOUNT),
        }


@dataclass(slots=True)
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    state: str
    scopes: tuple[str, ...]


@dataclass(slots=True)
class _Access:
    scopes: tuple[str, ...]
    expires_at: float


@dataclass(slots=True)
class _Refresh:
    scopes: tuple[str, ...]
    client_id: str


def pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _require(data: Mapping[str, Any], *names: str) -> None:
    for name in names:
        value = data.get(name)
        if not isinstance(value, str) or not value:
            raise OAuthError(400, "invalid_request", f"Missing required parameter: {name}")


class OAuthState:
    """Codes, tokens and derived keys issued by one simulator."""

    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        token_lifetime_s: int = 28800,
        rotate_refresh_tokens: bool = True,
        max_drops_api_key_scope: bool = False,
    ) -> None:
        self.client_id = client_id
        self.token_lifetime_s = token_lifetime_s
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.max_drops_api_key_scope = max_drops_api_key_scope
        self.authorize_requests: list[dict[str, str]] = []
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._api_keys: dict[str, str] = {}  # key -> the access token that created it

    # -- authorize ---------------------------------------------------------------

    def authorize(self, kind: str, query: Mapping[str, str]) -> str:
        """Simulates the user approving; returns the `CODE#STATE` line the callback page shows."""
        _require(
            query,
            "client_id",
            "response_type",
            "redirect_uri",
            "scope",
            "code_challenge",
            "code_challenge_method",
            "state",
        )
        if query["client_id"] != self.client_id:
            raise OAuthError(400, "invalid_client", "Unknown client_id")
        if query["response_type"] != "code":
            raise OAuthError(400, "unsupported_response_type", "response_type must be code")
        if query["code_challenge_method"] != "S256":
            raise OAuthError(400, "invalid_request", "code_challenge_method must be S256")
        scopes = tuple(query["scope"].split())
        if kind == "max" and self.max_drops_api_key_scope:
            scopes = tuple(s for s in scopes if s != API_KEY_SCOPE)
        self.authorize_requests.append(
            {
                "kind": kind,
                "client_id": query["client_id"],
                "redirect_uri": query["redirect_uri"],
                "scope": query["scope"],
                "code_challenge": query["code_challenge"],
                "state": query["state"],
            }
        )
        code = secrets.token_urlsafe(32)
        self._codes[code] = _Code(
            client_id=query["client_id"],
            redirect_uri=query["redirect_uri"],
            challenge=query["code_challenge"],
            state=query["state"],
            scopes=scopes,
        )
        return f"{code}#{query['state']}\n"

    # -- tokens ------------------------------------------------------------------

    def issue(
        self,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        lifetime_s: int | None = None,
        *,
        client_id: str | None = None,
    ) -> TokenGrant:
        lifetime = self.token_lifetime_s if lifetime_s is None else lifetime_s
        scopes = tuple(scopes)
        access = ACCESS_PREFIX + secrets.token_urlsafe(48)
        refresh = REFRESH_PREFIX + secrets.token_urlsafe(48)
        expires_at = time.time() + lifetime
        self._access[access] = _Access(scopes, expires_at)
        self._refresh[refresh] = _Refresh(scopes, client_id or self.client_id)
        return TokenGrant(access, refresh, lifetime, scopes, expires_at)

    def token(self, data: Any) -> TokenGrant:
        """The token endpoint: `authorization_code` and `refresh_token` grants."""
        if not isinstance(data, dict):
            raise OAuthError(400, "invalid_request", "Request body must be a JSON object")
        grant_type = data.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange(data)
        if grant_type == "refresh_token":
            return self._refresh_grant(data)
        if grant_type is None:
            raise OAuthError(400, "invalid_request", "Missing required parameter: grant_type")
        raise OAuthError(400, "unsupported_grant_type", f"Unsupported grant_type: {grant_type}")

    def _check_client(self, data: Mapping[str, Any]) -> None:
        if data["client_id"] != self.client_id:
            raise OAuthError(401, "invalid_client", "Client authentication failed")

    def _exchange(self, data: Mapping[str, Any]) -> TokenGrant:
        _require(data, "code", "client_id", "redirect_uri", "code_verifier")
        self._check_client(data)
        code = self._codes.get(data["code"])
        if code is None:
            raise OAuthError(400, "invalid_grant", "Invalid 'code' in request.")
        if data["client_id"] != code.client_id:
            raise OAuthError(400, "invalid_grant", "The code was issued to another client.")
        if data["redirect_uri"] != code.redirect_uri:
            raise OAuthError(400, "invalid_grant", "redirect_uri does not match the authorization")
        if data.get("state", code.state) != code.state:
            raise OAuthError(400, "invalid_grant", "state does not match the authorization")
        if not hmac.compare_digest(pkce_challenge(data["code_verifier"]), code.challenge):
            raise OAuthError(400, "invalid_grant", "Invalid code_verifier")
        del self._codes[data["code"]]  # single use
        return self.issue(code.scopes, client_id=code.client_id)

    def _refresh_grant(self, data: Mapping[str, Any]) -> TokenGrant:
        _require(data, "refresh_token", "client_id")
        self._check_client(data)
        old = data["refresh_token"]
        record = self._refresh.get(old)
        if record is None:
            raise OAuthError(400, "invalid_grant", "Refresh token not found or invalid")
        if record.client_id != data["client_id"]:
            raise OAuthError(400, "invalid_grant", "Refresh token was issued to another client")
        grant = self.issue(record.scopes, client_id=record.client_id)
        if self.rotate_refresh_tokens:
            del self._refresh[old]
            return grant
        # Without rotation the same refresh token stays valid and is returned again.
        del self._refresh[grant.refresh_token]
        return TokenGrant(grant.access_token, old, grant.expires_in, grant.scopes, grant.expires_at)

    # -- using tokens ------------------------------------------------------------

    def expire(self, access_token: str) -> None:
        record = self._access.get(access_token)
        if record is None:
            raise KeyError("unknown access token")
        record.expires_at = time.time() - 1

    def access_status(self, access_token: str) -> tuple[str, tuple[str, ...]]:
        """`("ok" | "expired" | "unknown", scopes)` for a bearer token."""
        record = self._access.get(access_token)
        if record is None:
            return "unknown", ()
        if record.expires_at <= time.time():
            return "expired", record.scopes
        return "ok", record.scopes

    def create_api_key(self, access_token: str) -> dict[str, Any]:
        """Mints a derived key; the caller has already checked the token and its scope."""
        key = DERIVED_KEY_PREFIX + secrets.token_urlsafe(64)
        self._api_keys[key] = access_token
        return {
            "raw_key": key,
            "id": "apikey_sim" + secrets.token_hex(8),
            "name": "Claude Code (simulated)",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def api_key_valid(self, key: str) -> bool:
        return key in self._api_keys

    def revoke_api_key(self, key: str) -> None:
        self._api_keys.pop(key, None)
