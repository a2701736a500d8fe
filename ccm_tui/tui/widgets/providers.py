"""Per-provider health: counts by failure class, breaker with its cooldown, last error."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from ccm_tui import humanize as fmt
from ccm_tui.actions import Action, not_oauth
from ccm_tui.events import AuthMode, BreakerState, Failure
from ccm_tui.monitor import MonitorState, ProviderStats
from ccm_tui.tui.theming import Palette
from ccm_tui.tui.widgets.table import PADDING, LiveTable, TableColumn
from ccm_tui.tui.widgets.widths import fit_widths

# Short names for the failure-class column, most telling first.
CLASS_MARKS = (
    (Failure.OAUTH_SCOPE, "scope"),
    (Failure.AUTH_ERROR, "auth"),
    (Failure.RATE_LIMITED, "429"),
    (Failure.OVERLOADED, "529"),
    (Failure.SERVER_ERROR, "5xx"),
    (Failure.TIMEOUT, "tmo"),
    (Failure.CONNECT_ERROR, "conn"),
    (Failure.MODEL_NOT_FOUND, "404"),
    (Failure.STREAM_ERROR, "strm"),
    (Failure.CLIENT_ERROR, "4xx"),
)

AUTH_LABELS = {
    AuthMode.APIKEY: "api key",
    AuthMode.PASSTHROUGH: "passthru",
    AuthMode.OAUTH: "oauth",
    AuthMode.DERIVED_KEY: "derived",
}

COLUMNS = (  # widths: fit_columns, from the content and the table's width
    TableColumn("name", "Provider", 0),
    TableColumn("auth", "Auth", 0),
    TableColumn("state", "State", 0),
    TableColumn("requests", "Req", 0),
    TableColumn("ok", "OK", 0),
    TableColumn("rate", "Err/1m", 0),
    TableColumn("consecutive", "Seq", 0),
    TableColumn("classes", "Failures", 0),
    TableColumn("last_error", "Last error", 0),
)
FLOORS = {"state": 9}  # "half-open": the column does not jump with each state
LAST_ERROR_MIN = 12

# Where the key switch leads from each credential a provider can be on.
SWITCHES = {AuthMode.OAUTH: Action.DERIVE_KEY, AuthMode.DERIVED_KEY: Action.USE_OAUTH}
ALREADY = {
    AuthMode.OAUTH: "is on its OAuth token already",
    AuthMode.DERIVED_KEY: "sends its derived API key already",
}


def offered_actions(stats: ProviderStats) -> tuple[Action, ...]:
    """The actions that would change something on this provider, as the keys and the
    command palette offer them: k only on OAuth, o only on the derived key."""
    toggle = Action.DISABLE if stats.enabled else Action.ENABLE
    switch = SWITCHES.get(stats.auth)
    return (toggle, Action.RESET) if switch is None else (toggle, Action.RESET, switch)


def refused(stats: ProviderStats, now: float) -> bool:
    """Every attempt of the last minute failed, the last one with Anthropic's refusal of
    an OAuth login for anything but Claude Code's own requests (which never opens the
    breaker: the provider would otherwise read "ok")."""
    return stats.error_rate(60, now) == 1 and stats.last_error.startswith(
        f"{Failure.OAUTH_SCOPE.value}:"
    )


def state_cell(stats: ProviderStats, now: float, palette: Palette) -> Text:
    if not stats.enabled:
        return Text("disabled", palette.style("ccm-disabled"))
    if stats.breaker is BreakerState.OPEN:
        left = (stats.breaker_until or now) - now
        return Text(f"open {fmt.countdown(left)}", palette.style("ccm-breaker-open"))
    if stats.breaker is BreakerState.HALF_OPEN:
        return Text("half-open", palette.style("ccm-breaker-half-open"))
    if refused(stats, now):
        return Text("refused", palette.style("ccm-status-failed"))
    return Text("ok", palette.style("ccm-breaker-closed"))


def provider_cells(stats: ProviderStats, now: float, palette: Palette) -> dict[str, Text]:
    classes = Text(no_wrap=True, overflow="ellipsis")
    for failure, mark in CLASS_MARKS:
        count = stats.counts.get(failure, 0)
        if count:
            if classes:
                classes.append(" ")
            style = (
                "ccm-status-client-error"
                if failure is Failure.CLIENT_ERROR
                else "ccm-status-failed"
            )
            classes.append(f"{mark}×{count}", palette.style(style))
    rate = stats.error_rate(60, now)
    rate_style = palette.style("ccm-status-failed") if rate else palette.style("ccm-muted")
    auth_style = "ccm-accent" if stats.auth is AuthMode.DERIVED_KEY else "ccm-muted"
    return {
        "name": Text(stats.name, no_wrap=True, overflow="ellipsis"),
        "auth": Text(AUTH_LABELS[stats.auth], palette.style(auth_style)),
        "state": state_cell(stats, now, palette),
        "requests": Text(str(stats.requests), justify="right"),
        "ok": Text(str(stats.successes), justify="right"),
        "rate": Text(fmt.percent(rate), rate_style, justify="right"),
        "consecutive": Text(
            str(stats.consecutive_failures),
            palette.style("ccm-status-failed") if stats.consecutive_failures else "",
            justify="right",
        ),
        "classes": classes,
        "last_error": Text(
            stats.last_error, palette.style("ccm-muted"), no_wrap=True, overflow="ellipsis"
        ),
    }


class ProvidersTable(LiveTable):
    """One row per configured provider; the provider keys act on the selected row."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("k", "switch('derive-key')", "Derived key", id="providers.derive_key"),
        Binding("o", "switch('use-oauth')", "OAuth", id="providers.use_oauth"),
        Binding("e", "toggle_enabled", "On/off", id="providers.toggle"),
        Binding("r", "reset", "Reset", id="providers.reset"),
        # Where k or o is not offered, the same key (and id, so a keymap moves both) says
        # at once why, without asking the proxy.
        Binding("k", "why_not('derive-key')", "Derived key", id="providers.derive_key", show=False),
        Binding("o", "why_not('use-oauth')", "OAuth", id="providers.use_oauth", show=False),
    ]

    class ActionRequested(Message):
        """A provider command for the app to send through its control."""

        def __init__(self, action: Action, provider: str) -> None:
            super().__init__()
            self.action = action
            self.provider = provider

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
        self._offered: tuple[str | None, AuthMode | None] = (None, None)

    def fit_columns(self) -> None:
        """Each column as wide as its content (cut to a common width when they cannot
        all be), and the last error in what is left, if that is enough to read (the
        caption below shows it whole): the table does not scroll sideways."""
        if not self.size.width:
            return
        others = COLUMNS[:-1]
        naturals = {c.key: self.natural_width(c.key, c.label) for c in others}
        floors = {c.key: max(cell_len(c.label), FLOORS.get(c.key, 0)) for c in others}
        naturals = {k: max(n, floors[k]) for k, n in naturals.items()}
        budget = self.size.width - 1 - 2 * PADDING * len(others)  # 1: the scrollbar
        rest = budget - sum(naturals.values()) - 2 * PADDING
        if rest >= LAST_ERROR_MIN:
            last_error = COLUMNS[-1]
            self.set_columns([*(TableColumn(c.key, c.label, naturals[c.key]) for c in others),
                              TableColumn(last_error.key, last_error.label, rest)])  # fmt: skip
            return
        widths = fit_widths(naturals, budget, floors)
        self.set_columns([TableColumn(c.key, c.label, widths[c.key]) for c in others])

    def update_providers(self, names: set[str] | None = None) -> None:
        """Patches the named providers' rows (all when None); call inside batch_update."""
        now = self.clock()
        self.keep_only(self.state.providers)
        for name, stats in self.state.providers.items():
            if names is None or name in names or not self.has_row(name):
                self.patch_row(name, provider_cells(stats, now, self.palette))
        self.fit_columns()
        self._offer_keys()

    def tick(self) -> None:
        """Cooldowns count down every second, and error rates fall as failures age out of
        their minute (until a second after the last outcome has)."""
        since = int(self.clock()) - 62
        ticking = {
            n
            for n, s in self.state.providers.items()
            if s.breaker is BreakerState.OPEN or (s.recent and s.recent[-1][0] >= since)
        }
        if ticking:
            self.update_providers(ticking)

    def rebuild(self) -> None:
        self.clear_rows()
        self.update_providers()

    @property
    def selected(self) -> str | None:
        return self.cursor_key

    @property
    def _selected_stats(self) -> ProviderStats | None:
        return self.state.providers.get(self.selected or "")

    # -- the keys ----------------------------------------------------------------------------

    def on_live_table_highlighted(self, _: LiveTable.Highlighted) -> None:
        self._offer_keys()

    def _offer_keys(self) -> None:
        """The key bar asks `check_action` again only when what it would say changed."""
        stats = self._selected_stats
        offered = (self.selected, stats.auth if stats is not None else None)
        if offered != self._offered:
            self._offered = offered
            self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "switch":
            return True
        stats = self._selected_stats
        return stats is not None and Action(str(parameters[0])) in offered_actions(stats)

    def _act(self, action: Action) -> None:
        name = self.selected
        if name is None:
            self.notify("no provider selected", severity="warning")
            return
        self.post_message(self.ActionRequested(action, name))

    def action_toggle_enabled(self) -> None:
        stats = self._selected_stats
        self._act(Action.DISABLE if stats is not None and stats.enabled else Action.ENABLE)

    def action_reset(self) -> None:
        self._act(Action.RESET)

    def action_switch(self, action: str) -> None:
        self._act(Action(action))

    def action_why_not(self, action: str) -> None:
        """k or o where it changes nothing: say why at once."""
        stats = self._selected_stats
        if stats is None:
            self.notify("no provider selected", severity="warning")
        elif stats.auth in SWITCHES:
            self.notify(f"{stats.name} {ALREADY[stats.auth]}", markup=False)
        else:
            why = not_oauth(Action(action), stats.name, stats.auth).message
            self.notify(why, severity="error", timeout=12, markup=False)
