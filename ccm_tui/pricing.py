"""What tokens cost: a price table for Claude models, overridable from `[pricing]`.

Prices are USD per million tokens, from Anthropic's pricing page
(platform.claude.com/docs/en/about-claude/pricing, as published in 2026-11). The rows that
page added last (Fable 5.2, Opus 5.5, Haiku 5.5, and Sonnet 5.5's cache-read cut of
2026-10-07) were cross-checked against the price refreshes of claude-usage (checked
2026-12-01), claudit (2026-10-24) and PromptFuel (2026-10-16). A model the table does not
know has no price: its cost is unknown (None), never a guess from a neighbour.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ccm_tui.codec import decoder, encoder

MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens of each kind."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float


@dataclass(frozen=True, slots=True)
class Price:
    """A model's rates. Some models bill a long prompt at other rates for the whole request."""

    rates: Rates
    long_context: Rates | None = None
    long_context_above: int = 0  # prompt tokens (input + cache reads + cache writes)


@dataclass(frozen=True, slots=True)
class Usage:
    """The tokens of one request, as the API's `usage` object counts them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0

    @property
    def prompt_tokens(self) -> int:
        return (
            self.input_tokens
            + self.cache_read_tokens
            + self.cache_write_5m_tokens
            + self.cache_write_1h_tokens
        )


def rates(
    input: float,
    output: float,
    cache_write_5m: float | None = None,
    cache_write_1h: float | None = None,
    cache_read: float | None = None,
) -> Rates:
    """Rates with the usual prompt-caching multipliers where a cache rate is not given:
    5-minute writes 1.25×, 1-hour writes 2×, reads 0.1× the input rate."""
    return Rates(
        float(input),
        float(output),
        float(input * 1.25 if cache_write_5m is None else cache_write_5m),
        float(input * 2 if cache_write_1h is None else cache_write_1h),
        float(input * 0.1 if cache_read is None else cache_read),
    )


_FABLE_5_2 = Price(rates(8, 40, 10, 16, 0.20))
_FABLE_5_1 = Price(rates(10, 50, 12.5, 20, 0.25))
_FABLE_5 = Price(rates(10, 50, 12.5, 20, 1.0))
_OPUS_5_5 = Price(rates(4, 20, 5, 8, 0.20))
_OPUS_4_5 = Price(rates(5, 25, 6.25, 10, 0.50))
_OPUS_4 = Price(rates(15, 75, 18.75, 30, 1.50))
_SONNET_5_5 = Price(rates(2, 10, 2.5, 4, 0.10))
_SONNET_5 = Price(rates(2, 10, 2.5, 4, 0.20))
_SONNET_3 = Price(rates(3, 15, 3.75, 6, 0.30))
# Sonnet 4 and 4.5 bill a prompt over 200k tokens at 2× input and 1.5× output.
_SONNET_4 = Price(_SONNET_3.rates, rates(6, 22.5, 7.5, 12, 0.60), 200_000)
# Haiku 5.5 bills a prompt over 100k tokens at 5× every rate.
_HAIKU_5_5 = Price(
    rates(0.10, 0.50, 0.125, 0.20, 0.01), rates(0.50, 2.50, 0.625, 1.0, 0.05), 100_000
)
_HAIKU_4_5 = Price(rates(1, 5, 1.25, 2, 0.10))
_HAIKU_3_5 = Price(rates(0.80, 4, 1, 1.6, 0.08))
_HAIKU_3 = Price(rates(0.25, 1.25, 0.30, 0.50, 0.03))

# Keys are canonical names (see `canonical_model`): family, major and minor version.
DEFAULT_PRICES: dict[str, Price] = {
    "claude-fable-5-2": _FABLE_5_2,
    "claude-mythos-5-2": _FABLE_5_2,
    "claude-fable-5-1": _FABLE_5_1,
    "claude-mythos-5-1": _FABLE_5_1,
    "claude-fable-5-0": _FABLE_5,
    "claude-mythos-5-0": _FABLE_5,
    "claude-opus-5-5": _OPUS_5_5,
    "claude-opus-5-0": _OPUS_4_5,
    "claude-opus-4-8": _OPUS_4_5,
    "claude-opus-4-7": _OPUS_4_5,
    "claude-opus-4-6": _OPUS_4_5,
    "claude-opus-4-5": _OPUS_4_5,
    "claude-opus-4-1": _OPUS_4,
    "claude-opus-4-0": _OPUS_4,
    "claude-opus-3-0": _OPUS_4,
    "claude-sonnet-5-5": _SONNET_5_5,
    "claude-sonnet-5-0": _SONNET_5,
    "claude-sonnet-4-6": _SONNET_3,
    "claude-sonnet-4-5": _SONNET_4,
    "claude-sonnet-4-0": _SONNET_4,
    "claude-sonnet-3-7": _SONNET_3,
    "claude-sonnet-3-5": _SONNET_3,
    "claude-haiku-5-5": _HAIKU_5_5,
    "claude-haiku-4-5": _HAIKU_4_5,
    "claude-haiku-3-5": _HAIKU_3_5,
    "claude-haiku-3-0": _HAIKU_3,
}

_FAMILIES = "opus|sonnet|haiku|fable|mythos"
# claude-sonnet-4-5-20250929, claude-opus-4-1, claude-sonnet-4-20250514, claude-haiku-4-5-latest
_CURRENT = re.compile(rf"claude-({_FAMILIES})-(\d{{1,2}})(?:-(\d{{1,2}}))?(?:-(?:\d{{8}}|latest))?")
# claude-3-5-haiku-20241022, claude-3-opus-latest
_LEGACY = re.compile(rf"claude-(\d)(?:-(\d))?-({_FAMILIES})(?:-(?:\d{{8}}|latest))?")
_PLATFORM_PREFIX = re.compile(r"^(?:[a-z]{2,6}\.)?anthropic\.")  # Bedrock: us.anthropic.
_PLATFORM_SUFFIX = re.compile(r"(?:-v\d+(?::\d+)?|@\d{8}|\[[^\]]*\])$")  # -v1:0, @date, [1m]


@functools.lru_cache(maxsize=1024)
def canonical_model(name: str) -> str:
    """The table's key for a model name, however a platform spells it.

    `claude-sonnet-4-5-20250929`, `claude-sonnet-4-5`, `anthropic/claude-sonnet-4.5`,
    `us.anthropic.claude-sonnet-4-5-20250929-v1:0`, `claude-sonnet-4-5@20250929` and
    `claude-sonnet-4-5[1m]` are all `claude-sonnet-4-5`; `claude-3-5-haiku-20241022` is
    `claude-haiku-3-5`. Other names are only lower-cased. Cached: a proxy sees a handful of
    names, each on every request.
    """
    text = name.strip().lower()
    model = _PLATFORM_PREFIX.sub("", text.rsplit("/", 1)[-1])
    while True:
        shorter = _PLATFORM_SUFFIX.sub("", model)
        if shorter == model:
            break
        model = shorter
    if not model.startswith("claude-"):
        return text
    model = model.replace(".", "-")
    current = _CURRENT.fullmatch(model)
    if current:
        family, major, minor = current.groups()
        return f"claude-{family}-{int(major)}-{int(minor or 0)}"
    legacy = _LEGACY.fullmatch(model)
    if legacy:
        major, minor, family = legacy.groups()
        return f"claude-{family}-{int(major)}-{int(minor or 0)}"
    return text


class PriceTable:
    """Prices by canonical model name; `cost` of one request's usage."""

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = {canonical_model(name): price for name, price in prices.items()}

    def price(self, model: str) -> Price | None:
        return self._prices.get(canonical_model(model))

    def cost(self, usage: Usage, model: str) -> float | None:
        """USD for one request, or None when the model has no price."""
        price = self.price(model)
        if price is None:
            return None
        r = price.rates
        if price.long_context is not None and usage.prompt_tokens > price.long_context_above:
            r = price.long_context
        return (
            usage.input_tokens * r.input
            + usage.output_tokens * r.output
            + usage.cache_read_tokens * r.cache_read
            + usage.cache_write_5m_tokens * r.cache_write_5m
            + usage.cache_write_1h_tokens * r.cache_write_1h
        ) / MILLION

    def names(self) -> list[str]:
        return sorted(self._prices)

    def with_prices(self, prices: Mapping[str, Price]) -> PriceTable:
        """This table with some models' prices replaced or added."""
        return PriceTable({**self._prices, **prices})

    def to_plain(self) -> dict[str, Any]:
        """JSON values (a snapshot carries the proxy's prices to an attached monitor)."""
        return {name: _encode_price(price) for name, price in self._prices.items()}

    @classmethod
    def from_plain(cls, data: Mapping[str, Any]) -> PriceTable:
        return cls({name: _decode_price(price) for name, price in data.items()})


DEFAULT_TABLE = PriceTable(DEFAULT_PRICES)
_encode_price = encoder(Price)
_decode_price = decoder(Price)


def cost(usage: Usage, model: str, table: PriceTable = DEFAULT_TABLE) -> float | None:
    return table.cost(usage, model)


# -- [pricing] in the config --------------------------------------------------------------

_RATE_FIELDS = tuple(f.name for f in fields(Rates))
_EXAMPLE = "{ input = 3.0, output = 15.0 }"


def prices_from_mapping(
    data: Mapping[str, Any], base: PriceTable = DEFAULT_TABLE
) -> tuple[PriceTable, list[tuple[str, str]]]:
    """The table `[pricing]` describes over `base`, and the problems found as (key, message).

    Each entry is a model name (any spelling `canonical_model` reads) mapped to a table:
    `input` and `output` are required, the cache rates default to the usual multipliers,
    `long_context = { above = 200000, input = ..., output = ... }` is optional. A bad entry
    is left out and reported; the good ones still apply.
    """
    prices: dict[str, Price] = {}
    problems: list[tuple[str, str]] = []
    if not isinstance(data, Mapping):
        return base, [("pricing", f'expected a table of models, like "glm-4.6" = {_EXAMPLE}')]
    for model, entry in data.items():
        key = f"pricing.{_quoted(str(model))}"
        if not isinstance(entry, Mapping):
            problems.append((key, f"expected a table of USD per million tokens, like {_EXAMPLE}"))
            continue
        entry_problems: list[tuple[str, str]] = []
        short = {k: v for k, v in entry.items() if k != "long_context"}
        parsed = _rates(key, short, entry_problems)
        price = Price(parsed) if parsed is not None else None
        long_entry = entry.get("long_context")
        if long_entry is not None and price is not None:
            price = _with_long_context(f"{key}.long_context", price, long_entry, entry_problems)
        problems.extend(entry_problems)
        if price is not None and not entry_problems:
            prices[str(model)] = price
    return base.with_prices(prices), problems


def _with_long_context(
    key: str, price: Price, entry: Any, problems: list[tuple[str, str]]
) -> Price:
    if not isinstance(entry, Mapping):
        problems.append((key, "expected a table like { above = 200000, input = 6, output = 22.5 }"))
        return price
    above = _number(f"{key}.above", entry.get("above"), problems, whole=True)
    long_rates = _rates(key, {k: v for k, v in entry.items() if k != "above"}, problems)
    if above is None or long_rates is None:
        return price
    return replace(price, long_context=long_rates, long_context_above=int(above))


def _rates(key: str, entry: Mapping[str, Any], problems: list[tuple[str, str]]) -> Rates | None:
    ok = True
    for name in entry:
        if name not in _RATE_FIELDS:
            problems.append((f"{key}.{name}", f"unknown field (known: {', '.join(_RATE_FIELDS)})"))
            ok = False
    values: dict[str, float] = {}
    for name in _RATE_FIELDS:
        if name in entry or name in ("input", "output"):
            value = _number(f"{key}.{name}", entry.get(name), problems)
            if value is None:
                ok = False
            else:
                values[name] = value
    if not ok:
        return None
    return rates(
        values["input"],
        values["output"],
        values.get("cache_write_5m"),
        values.get("cache_write_1h"),
        values.get("cache_read"),
    )


def _number(
    key: str, value: Any, problems: list[tuple[str, str]], whole: bool = False
) -> float | None:
    kind = "a whole number of tokens" if whole else "USD per million tokens"
    if value is None:
        problems.append((key, f"required: {kind}"))
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.append((key, f"expected {kind}, a number, not {value!r}"))
        return None
    if not math.isfinite(value) or value < 0 or (whole and value != int(value)):
        problems.append((key, f"expected {kind}: a finite number, zero or more, not {value!r}"))
        return None
    return float(value)


def _quoted(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'
