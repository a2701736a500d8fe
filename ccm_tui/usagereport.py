"""`ccm-tui usage`: the per-day usage table from the history, as text or JSON, no TUI."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import orjson

from ccm_tui.history import HistoryReader
from ccm_tui.humanize import tokens
from ccm_tui.paths import display
from ccm_tui.usage import Totals, local_day

_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SINCE = re.compile(r"(\d{1,5})([mhdw])")


def parse_since(text: str) -> float:
    """`90m`, `24h`, `7d`, `2w` as seconds. Raises ValueError with a message to show."""
    match = _SINCE.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"--since {text!r}: expected a number and a unit, like 24h, 7d or 2w")
    return int(match.group(1)) * _UNITS[match.group(2)]


_COLUMNS = ("day", "provider", "model", "requests", "input", "output", "cache read",
            "cache write", "cost", "would cost")  # fmt: skip
_NUMERIC = frozenset(_COLUMNS[3:])


def render_usage(
    history: HistoryReader,
    since_s: float,
    as_json: bool = False,
    now: float | None = None,
    day_of: Callable[[float], str] = local_day,
) -> str:
    """The usage table of the days since `since_s` ago, newest first, and its total.

    Raises HistoryError when the file cannot be read.
    """
    now = time.time() if now is None else now
    since_day = day_of(now - since_s)
    rows = history.daily(since_day)
    total = Totals()
    for r in rows:
        total.merge(r.totals)
    if as_json:
        return orjson.dumps(
            {
                "since_day": since_day,
                "days": [
                    {"day": r.day, "provider": r.provider, "model": r.model, **r.totals.to_dict()}
                    for r in rows
                ],
                "total": total.to_dict(),
            },
            option=orjson.OPT_INDENT_2,
        ).decode()
    where = display(history.path)
    if not rows:
        if not history.exists:
            return f"No history yet at {where}: `ccm-tui serve` (or the TUI) writes it."
        return f"No usage since {since_day} in {where}."
    lines = [f"Usage since {since_day}, from {where}", ""]
    table = [_COLUMNS, *(_cells(r.day, r.provider, r.model, r.totals) for r in rows)]
    table.append(_cells("total", "", "", total))
    widths = [max(len(cells[i]) for cells in table) for i in range(len(_COLUMNS))]
    for n, cells in enumerate(table):
        if n == len(table) - 1:
            lines.append("  ".join("-" * w for w in widths))
        lines.append(
            "  ".join(
                cell.rjust(w) if _COLUMNS[i] in _NUMERIC else cell.ljust(w)
                for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )
    unpriced = sorted({r.model for r in rows if r.totals.unpriced})
    if unpriced:
        lines += [
            "",
            f"{total.unpriced} requests used models with no price ({', '.join(unpriced)}): "
            "their cost is not in the sums. Add them under [pricing] in the config.",
        ]
    if total.would_cost_usd:
        lines += ["", "would cost: what subscription traffic would have cost on API keys."]
    return "\n".join(lines)


def _cells(day: str, provider: str, model: str, t: Totals) -> tuple[str, ...]:
    return (
        day,
        provider,
        model,
        str(t.requests),
        tokens(t.input_tokens),
        tokens(t.output_tokens),
        tokens(t.cache_read_tokens),
        tokens(t.cache_write_tokens),
        _money(t.cost_usd),
        _money(t.would_cost_usd),
    )


def _money(value: float) -> str:
    if value == 0:
        return "-"
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"
