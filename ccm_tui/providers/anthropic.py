"""Headers for an Anthropic-format upstream: the client's, minus what must not travel, plus
the provider's credential in the form its auth mode calls for."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field

from multidict import CIMultiDict

from ccm_tui.config import ProviderConfig
from ccm_tui.events import AuthMode
from ccm_tui.providers.registry import KeyHeader

OAUTH_BETA = "oauth-2025-04-20"
DEFAULT_VERSION = "2023-06-01"

# RFC 9110 hop-by-hop headers, plus those the HTTP client must compute itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "accept-encoding",
        "content-encoding",  # the proxy's server decoded the body: it goes upstream plain
    }
)
PROXY_ONLY = frozenset({"x-ccm-key", "x-provider"})
CREDENTIALS = frozenset({"x-api-key", "authorization"})
DROPPED_UPSTREAM = HOP_BY_HOP | PROXY_ONLY

# Response headers that describe the upstream connection, not the answer.
RESPONSE_DROP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "set-cookie",
        "server",
        "date",
        "alt-svc",
        "via",
        "cf-ray",
        "cf-cache-status",
    }
)


@dataclass(frozen=True, slots=True)
class Credential:
    """What a provider authenticates with for one attempt."""

    mode: AuthMode
    secret: str | None = field(default=None, repr=False)  # None for passthrough
    token_id: str | None = None  # the token store entry behind an oauth or derived credential


def matches_secret(value: str, secret: str | None) -> bool:
    """Whether a header value (bare or `Bearer ...`) is `secret`, compared in constant time."""
    if not secret:
        return False
    candidate = value[7:] if value[:7].lower() == "bearer " else value
    # A header's bytes that are not UTF-8 arrive as lone surrogates: compare them as bytes.
    return hmac.compare_digest(candidate.encode("utf-8", "surrogateescape"), secret.encode())


def merge_beta(value: str | None, add: str | None = None, remove: str | None = None) -> str:
    """A comma list of betas with one added (kept in the client's order) or removed."""
    items = [b.strip() for b in (value or "").split(",") if b.strip()]
    if remove:
        items = [b for b in items if b != remove]
    if add and add not in items:
        items.append(add)
    return ",".join(items)


def _betas(headers: CIMultiDict[str]) -> str:
    """Every anthropic-beta the client sent, one list: it may send the header twice."""
    return ",".join(headers.getall("anthropic-beta", ()))


def upstream_headers(
    client_headers: Iterable[tuple[str, str]],
    provider: ProviderConfig,
    credential: Credential,
    proxy_key: str | None,
) -> CIMultiDict[str]:
    items = [(name, value, name.lower()) for name, value in client_headers]
    # Headers named in `Connection` are hop-by-hop too (RFC 9110 7.6.1).
    dropped = DROPPED_UPSTREAM
    for _, value, lower in items:
        if lower == "connection":
            dropped = dropped | {t.strip().lower() for t in value.split(",")}
    out: CIMultiDict[str] = CIMultiDict()
    for name, value, lower in items:
        if lower in dropped:
            continue
        if lower in CREDENTIALS and (
            credential.mode is not AuthMode.PASSTHROUGH or matches_secret(value, proxy_key)
        ):
            continue
        out.add(name, value)
    # Ask for identity so no compressed bytes are ever relayed without their encoding.
    out["Accept-Encoding"] = "identity"
    out.setdefault("anthropic-version", DEFAULT_VERSION)
    mode = credential.mode
    if mode is AuthMode.APIKEY:
        if provider.key_header is KeyHeader.BEARER:
            out["Authorization"] = f"Bearer {credential.secret}"
        else:
            out["x-api-key"] = credential.secret or ""
    elif mode is AuthMode.OAUTH:
        out["Authorization"] = f"Bearer {credential.secret}"
        out["anthropic-beta"] = merge_beta(_betas(out), add=OAUTH_BETA)
    elif mode is AuthMode.DERIVED_KEY:
        out["x-api-key"] = credential.secret or ""
        beta = merge_beta(_betas(out), remove=OAUTH_BETA)
        if beta:
            out["anthropic-beta"] = beta
        else:
            out.popall("anthropic-beta", None)
    return out


def response_headers(upstream: Iterable[tuple[str, str]]) -> CIMultiDict[str]:
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream:
        if name.lower() not in RESPONSE_DROP:
            out.add(name, value)
    return out
