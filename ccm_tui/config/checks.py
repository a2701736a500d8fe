"""The checks keys name in their declaration: each takes a value of the right TOML type and
returns what the field holds, or raises Invalid saying what was expected."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ccm_tui.config.problems import quoted, shown, shown_key
from ccm_tui.config.schema import UNSET, Invalid
from ccm_tui.events import AuthMode
from ccm_tui.pricing import PriceTable, prices_from_mapping
from ccm_tui.providers.registry import PROVIDER_TYPES, KeyHeader, lookup

_URL = re.compile(r"^https?://[^/\s]+")
# A name or an IPv4 address (a Host header's, without its port), or an IPv6 one in brackets.
_HOST_NAME = re.compile(r"\s*(?:[A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])\s*")
_AUTH_ALIASES = {"api_key": "apikey", "bearer": "apikey"}


def did_you_mean(word: str, choices: list[str]) -> str | None:
    """The choice `word` most likely misspells: close by difflib, or the same letters swapped."""
    folded = word.lower()
    close = difflib.get_close_matches(folded, choices, n=1, cutoff=0.8)
    if close:
        return close[0]
    return next((c for c in choices if sorted(c) == sorted(folded)), None)


def port_number(value: int | str) -> int:
    """0 (any free port) to 65535: the rule for `[server] port` and `--port` alike."""
    text = value.strip() if isinstance(value, str) else None
    number = int(text) if text is not None and text.isascii() and text.isdigit() else value
    if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 65535:
        found = text if text is not None else value
        raise Invalid(f"expected a port from 0 (any free port) to 65535, found {found}")
    return number


def positive_ms(value: int) -> int:
    if value <= 0:
        raise Invalid("expected a positive number of milliseconds")
    return value


def at_least_one(value: int) -> int:
    if value < 1:
        raise Invalid("expected at least 1")
    return value


def failure_count(value: int) -> int:
    """A breaker opens after at least one failure."""
    return max(1, value)


def seconds(value: float) -> float:
    return float(max(0, value))


def regex(source: str) -> re.Pattern[str] | object:
    """A regular expression; an empty one keeps the default (claude-code-mux's meaning)."""
    if not source.strip():
        return UNSET
    try:
        return re.compile(source)
    except (re.error, OverflowError, RecursionError) as err:
        raise Invalid(f"not a valid regular expression: {err}") from None


def file_path(value: str) -> Path | object:
    return Path(value).expanduser() if value.strip() else UNSET


def non_blank(expected: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not value.strip():
            raise Invalid(f"expected {expected}, found {shown(value)}")
        return value

    return check


def blank_is_none(value: str) -> str | None:
    return value if value.strip() else None


def provider_type(value: str) -> str:
    found = lookup(value)
    if found is not None:
        return found.name
    names = list(PROVIDER_TYPES)
    guess = did_you_mean(value.strip(), names)
    hint = f"; did you mean `{guess}`?" if guess else ""
    raise Invalid(f"unknown provider type {quoted(value)}{hint} (known: {', '.join(names)})")


def auth_mode(value: str) -> AuthMode:
    try:
        return AuthMode(_AUTH_ALIASES.get(value, value))
    except ValueError:
        raise Invalid(f"expected apikey, oauth or passthrough, found {quoted(value)}") from None


def http_url(value: str) -> str:
    if not _URL.match(value):
        raise Invalid(f"expected an http:// or https:// URL, found {quoted(value)}")
    return value.rstrip("/")


def key_header(value: str) -> KeyHeader:
    try:
        return KeyHeader(value)
    except ValueError:
        raise Invalid(f"expected x-api-key or bearer, found {quoted(value)}") from None


def model_names(value: list[Any]) -> tuple[str, ...]:
    wrong = next((v for v in value if not isinstance(v, str)), None)
    if wrong is not None:
        raise Invalid(f"expected a list of model names, found {shown(wrong)} in it")
    return tuple(value)


def host_names(value: list[Any]) -> tuple[str, ...]:
    """Host names as a request's Host header carries them (no port), compared lower-case."""
    wrong = next((v for v in value if not isinstance(v, str) or not _HOST_NAME.fullmatch(v)), None)
    if wrong is not None:
        raise Invalid(f"expected a list of host names (no port), found {shown(wrong)} in it")
    return tuple(v.strip().strip("[]").lower().rstrip(".") for v in value)


def fraction(value: float) -> float:
    """A share from 0 to 1, such as a window's utilisation."""
    if not 0 <= value <= 1:
        raise Invalid(f"expected a fraction from 0 to 1 (0.9 is 90 %), found {value}")
    return float(value)


def positive(value: float) -> float:
    if value <= 0:
        raise Invalid(f"expected a number above zero, found {value}")
    return value


def prices(value: dict[str, Any]) -> PriceTable:
    """`[pricing]`: the shipped price table with these models' prices replaced or added."""
    table, problems = prices_from_mapping(value)
    if problems:
        raise Invalid("; ".join(f"{where}: {message}" for where, message in problems))
    return table


def names(values: list[str]) -> str:
    """Names for a "(defined: …)" list."""
    return ", ".join(shown_key(v) for v in values) or "none"
