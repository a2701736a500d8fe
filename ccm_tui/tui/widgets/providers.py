"""Per-provider health: counts by failure class, breaker with its cooldown, last error."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message

from ccm_tui import humanize as fmt
from ccm_tui.events import AuthMode, BreakerState, Failure
from ccm_tui.monitor import MonitorState, ProviderStats
from ccm_tui.tui.theming import Palette
from ccm_tui.tui.widgets.table import PADDING, LiveTable, TableColumn

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

COLUMNS = (
    TableColumn("name", "Provider", 12),
    TableColumn("auth", "Auth", 8),
    TableColumn("state", "State", 10),
    TableColumn("requests", "Req", 5),
    TableColumn("ok", "OK", 5),
    TableColumn("rate", "Err/1m", 6),
    TableColumn("consecutive", "Seq", 3),
    TableColumn("classes", "Failures", 16),
    TableColumn("last_error", "Last error", 40),  # fitted to the table's width on resize
)
LAST_ERROR_MIN = 12


def state_cell(stats: ProviderStats, now: float, palette: Palette) -> Text:
    if not stats.enabled:
        return Text("disabled", palette.style("ccm-disabled"))
    if stats.breaker is BreakerState.OPEN:
        left = (stats.breaker_until or now) - now
        return Text(f"open {fmt.countdown(left)}", palette.style("ccm-breaker-open"))
    if stats.breaker is BreakerState.HALF_OPEN:
        return Text("half-open", palette.style("ccm-breaker-half-open"))
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
        Binding("k", "derive_key", "Derived key", id="providers.derive_key"),
        Binding("o", "use_oauth", "OAuth", id="providers.use_oauth"),
        Binding("e", "toggle_enabled", "On/off", id="providers.toggle"),
        Binding("r", "reset", "Reset", id="providers.reset"),
    ]

    class Action(Message):
        """A provider command for the app to send through its control."""

        def __init__(self, action: str, provider: str) -> None:
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

    def on_resize(self, event: events.Resize) -> None:
        """The last error takes the width the other columns leave (the caption below shows
        it whole), so the table does not scroll sideways."""
        others = sum(c.width + 2 * PADDING for c in COLUMNS[:-1])
        width = max(LAST_ERROR_MIN, event.size.width - others - 2 * PADDING - 1)
        self.set_columns([*COLUMNS[:-1], TableColumn("last_error", "Last error", width)])

    def update_providers(self, names: set[str] | None = None) -> None:
        """Patches the named providers' rows (all when None); call inside batch_update."""
        now = self.clock()
        self.keep_only(self.state.providers)
        for name, stats in self.state.providers.items():
            if names is None or name in names or not self.has_row(name):
                self.patch_row(name, provider_cells(stats, now, self.palette))

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

    def _act(self, action: str) -> None:
        name = self.selected
        if name is None:
            self.notify("no provider selected", severity="warning")
            return
        self.post_message(self.Action(action, name))

    def action_toggle_enabled(self) -> None:
        name = self.selected
        stats = self.state.providers.get(name or "")
        self._act("disable" if stats is not None and stats.enabled else "enable")

    def action_reset(self) -> None:
        self._act("reset")

    def action_derive_key(self) -> None:
        self._act("derive-key")

    def action_use_oauth(self) -> None:
        self._act("use-oauth")
