"""The one place secrets are turned into something safe to show."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

SECRET_HEADERS = frozenset(
    {
        "x-api-key",
        "authorization",
        "proxy-authorization",
        "x-ccm-key",
        "cookie",
        "set-cookie",
        "x-goog-api-key",
    }
)

_KIND = re.compile(r"sk-ant-[A-Za-z0-9]{2,8}-")

# Anthropic keys and tokens, bearer-looking values and long opaque strings in free text.
_SECRET_IN_TEXT = re.compile(
    r"(sk-ant-[A-Za-z0-9]{2,8}-[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9_\-]{16,}"
    r"|(?<=Bearer )[A-Za-z0-9._\-]{12,})"
)


def safe_text(text: str) -> str:
    """`text` as valid Unicode whatever bytes it came from. aiohttp reads header bytes that
    are not UTF-8 as lone surrogates, which no JSON encoder takes: they become U+FFFD here,
    before a header value is stored or echoed anywhere."""
    if text.isascii():
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte decodes to
        raw = text.encode("utf-8", "replace")
    return raw.decode("utf-8", "replace")


def mask(secret: str | None) -> str:
    """`sk-ant-api03-…x7Qd`: enough to tell keys apart, never enough to use one."""
    if not secret:
        return ""
    if len(secret) <= 8:
        return "…" + "*" * min(len(secret), 4)
    prefix_end = 0
    kind = _KIND.match(secret)
    if kind is not None:
        prefix_end = kind.end()
    elif secret.startswith("sk-ant-"):
        prefix_end = 7
    elif secret.startswith("sk-"):
        prefix_end = 3
    prefix = secret[:prefix_end] if prefix_end < len(secret) - 8 else ""
    return f"{prefix}…{secret[-4:]}"


def mask_text(text: str) -> str:
    """Masks anything in free text (error messages, logs) that looks like a key or token."""
    # Every pattern needs `sk-` or `Bearer `: most text has neither and skips the regex.
    if "sk-" not in text and "Bearer " not in text:
        return text
    return _SECRET_IN_TEXT.sub(lambda m: mask(m.group(0)), text)


def mask_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> tuple[tuple[str, str], ...]:
    """Headers as safe to show. Not cached: the key would have to be every value (Content-Length
    differs per request), so a cache never hit, and it kept raw secrets in memory."""
    out: list[tuple[str, str]] = []
    for name, raw in headers.items() if isinstance(headers, Mapping) else headers:
        value = safe_text(raw)
        lower = name.lower()
        if lower in SECRET_HEADERS:
            if lower in ("authorization", "proxy-authorization") and " " in value:
                scheme, _, credential = value.partition(" ")
                out.append((name, f"{scheme} {mask(credential)}"))
            else:
                out.append((name, mask(value)))
        else:
            out.append((name, mask_text(value)))
    return tuple(out)
