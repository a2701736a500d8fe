"""Usage: tokens and money per provider and model (today, this 5-hour window, 7 days), the
rate-limit windows as gauges with their reset countdown, and tokens per minute."""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import cell_len
from rich.text import Text

from ccm_tui import humanize as fmt
from ccm_tui.events import RateLimitsObserved
from ccm_tui.monitor import MonitorState
from ccm_tui.tui.theming import Palette
from ccm_tui.tui.widgets.table import PADDING, LiveTable, TableColumn
from ccm_tui.tui.widgets.widths import fit_widths
from ccm_tui.usage import SEVEN_DAYS, Totals

COLUMNS = (
    TableColumn("provider", "Provider", 0),
    TableColumn("model", "Model", 0),
    TableColumn("today", "Today in/out/cache", 0),
    TableColumn("cost", "Cost today", 0),
    TableColumn("week", "7d tokens", 0),
    TableColumn("week_cost", "Cost 7d", 0),
)
SPARKS = "▁▂▃▄▅▆▇█"
GAUGE_CELLS = 8


def _tokens_cell(t: Totals) -> Text:
    return Text(
        f"{fmt.tokens(t.input_tokens)}/{fmt.tokens(t.output_tokens)}/"
        f"{fmt.tokens(t.cache_read_tokens)}+{fmt.tokens(t.cache_write_tokens)}",
        no_wrap=True,
    )


def money(t: Totals, palette: Palette) -> Text:
    """What it cost on API keys, or what subscription traffic would have cost (muted, ≈)."""
    shown = Text(no_wrap=True)
    if t.cost_usd:
        shown.append(f"${t.cost_usd:.2f}")
    if t.would_cost_usd:
        shown.append(" " if shown else "")
        shown.append(f"≈${t.would_cost_usd:.2f}", palette.style("ccm-muted"))
    if t.unpriced and not shown:
        shown.append("no price", palette.style("ccm-muted"))
    return shown or Text("-", palette.style("ccm-muted"))


def usage_urgency(used: float | None, reset_in: float | None) -> str:
    """The theme's urgency by how full a window is (its reset makes a full one expire)."""
    if used is None:
        return "ok"
    if used >= 1:
        return "expired"
    for limit, name in ((0.9, "high"), (0.75, "medium"), (0.5, "low")):
        if used >= limit:
            return name
    return "ok"


def gauges(observed: RateLimitsObserved | None, now: float, palette: Palette) -> Text:
    """`5h ▰▰▰▱▱▱▱▱ 38% ↻1h12m  7d …`, each in the colour of its urgency; an API key's
    per-minute buckets only once half used (`requests 62%`): below that they are noise."""
    line = Text(no_wrap=True, overflow="ellipsis")
    if observed is None:
        return line
    limits = observed.limits
    for window in limits.windows:
        if window.name == "overage" or window.utilization is None:
            continue
        reset_in = None if window.reset is None else window.reset - now
        style = palette.style(f"ccm-urgency-{usage_urgency(window.utilization, reset_in)}")
        filled = min(GAUGE_CELLS, round(window.utilization * GAUGE_CELLS))
        line.append(f"{window.name} ", "bold")
        line.append("▰" * filled + "▱" * (GAUGE_CELLS - filled), style)
        line.append(f" {window.utilization:.0%}", style)
        if reset_in is not None and reset_in > 0:
            line.append(f" ↻{fmt.compact_countdown(reset_in)}", palette.style("ccm-muted"))
        line.append("  ")
    if limits.status and limits.status != "allowed":
        line.append(limits.status, palette.style("ccm-urgency-high"))
    if not limits.windows:
        for bucket in limits.buckets:
            used = bucket.used
            if used is None or used < 0.5:
                continue
            style = palette.style(f"ccm-urgency-{usage_urgency(used, None)}")
            line.append(f"{bucket.name} {used:.0%}  ", style)
    return line


def sparkline(counts: list[int]) -> str:
    top = max(counts, default=0)
    if not top:
        return SPARKS[0] * len(counts)
    return "".join(SPARKS[min(len(SPARKS) - 1, c * len(SPARKS) // (top + 1))] for c in counts)


class UsageTable(LiveTable):
    """One keyed row per provider and model seen in the last seven days."""

    def __init__(
        self,
        state: MonitorState,
        palette: Palette,
        clock: Callable[[], float],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(COLUMNS, id=id)
        self.state = state
        self.palette = palette
        self.clock = clock

    def fit_columns(self) -> None:
        if not self.size.width:
            return
        naturals = {c.key: self.natural_width(c.key, c.label) for c in COLUMNS}
        floors = {c.key: cell_len(c.label) for c in COLUMNS}
        floors["model"] = min(naturals["model"], 12)
        budget = self.size.width - 1 - 2 * PADDING * len(COLUMNS)
        widths = fit_widths(naturals, budget, floors)
        self.set_columns([TableColumn(c.key, c.label, widths[c.key], c.cut) for c in COLUMNS])

    def update_usage(self) -> None:
        now = self.clock()
        usage = self.state.usage
        day = usage.day_of(now)
        week_day = usage.day_of(now - SEVEN_DAYS)
        today: dict[str, Totals] = {}
        week: dict[str, Totals] = {}
        names: dict[str, tuple[str, str]] = {}
        for row in usage.daily(week_day):
            key = f"{row.provider}\x00{row.model}"
            names[key] = (row.provider, row.model)
            week.setdefault(key, Totals()).merge(row.totals)
            if row.day == day:
                today.setdefault(key, Totals()).merge(row.totals)
        self.keep_only(names)
        for key, (provider, model) in sorted(names.items()):
            day_totals = today.get(key, Totals())
            self.patch_row(
                key,
                {
                    "provider": Text(provider, no_wrap=True),
                    "model": Text(model, no_wrap=True, overflow="ellipsis"),
                    "today": _tokens_cell(day_totals),
                    "cost": money(day_totals, self.palette),
                    "week": Text(fmt.tokens(week[key].tokens), no_wrap=True),
                    "week_cost": money(week[key], self.palette),
                },
            )
        self.fit_columns()

    def rebuild(self) -> None:
        self.clear_rows()
        self.update_usage()


def usage_caption(state: MonitorState, palette: Palette, now: float, width: int) -> Text:
    """Totals of every provider (today, 5 h, 7 d), and tokens per minute for the last hour."""
    usage = state.usage
    today, week = usage.today(now), usage.last(SEVEN_DAYS, now)
    caption = Text(no_wrap=True, overflow="ellipsis")
    caption.append("today ", "bold")
    caption.append(f"{fmt.tokens(today.tokens)} tok ")
    caption.append_text(money(today, palette))
    caption.append("  5h ", "bold")
    caption.append(f"{fmt.tokens(usage.five_hour_window(now).tokens)}")
    caption.append("  7d ", "bold")
    caption.append(f"{fmt.tokens(week.tokens)} ")
    caption.append_text(money(week, palette))
    room = max(10, min(60, width - caption.cell_len - 12))
    caption.append("  tok/min ", "bold")
    caption.append(sparkline(usage.minute_series(now, room)), palette.style("ccm-accent"))
    return caption


def limits_lines(state: MonitorState, palette: Palette, now: float) -> Text:
    """A line for each provider that reported limits: its tokens in this 5-hour window
    (from its reported reset), then its gauges."""
    lines = Text(no_wrap=True, overflow="ellipsis")
    usage = state.usage
    for name in state.providers:
        observed = usage.latest_limits(name)
        if observed is None:
            continue
        if lines:
            lines.append("\n")
        lines.append(f"{name} ", "bold")
        lines.append(f"{fmt.tokens(usage.five_hour_window(now, name).tokens)} tok this 5h  ")
        shown = gauges(observed, now, palette)
        lines.append_text(shown or Text("within its per-minute limits", palette.style("ccm-muted")))
    return lines or Text("No rate-limit headers heard yet.", palette.style("ccm-muted"))
