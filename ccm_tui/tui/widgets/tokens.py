"""Credentials that expire: time left ticking every second, refresh and derived-key state."""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import cell_len
from rich.text import Text

from ccm_tui import humanize as fmt
from ccm_tui.events import RefreshState, TokenStateChanged
from ccm_tui.monitor import MonitorState
from ccm_tui.tui.theming import Palette
from ccm_tui.tui.widgets.table import PADDING, LiveTable, TableColumn
from ccm_tui.tui.widgets.widths import fit_widths

COLUMNS = (  # widths: fit_columns, from the content and the table's width
    TableColumn("credential", "Credential", 0),
    TableColumn("used_by", "Used by", 0),
    TableColumn("expires", "Expires in", 0),
    TableColumn("refresh", "Refresh", 0),
    TableColumn("key", "Derived API key", 0),
)
FLOORS = {"expires": 10, "refresh": 10}  # "1h 12m 12s"; "refreshing…"


def refresh_cell(token: TokenStateChanged, now: float, palette: Palette) -> Text:
    if token.read_only:
        return Text("read-only (Claude Code)", palette.style("ccm-muted"), no_wrap=True)
    if token.refresh is RefreshState.REFRESHING:
        return Text("refreshing…", palette.style("ccm-status-streaming"))
    if token.refresh is RefreshState.FAILED:
        retry_in = None if token.retry_at is None else token.retry_at - now
        # The countdown first: at 80 columns the cell shows 14 characters, and the reason
        # (a sentence) is cut anyway; the failure colour says it failed.
        shown = (
            f"retry {fmt.countdown(retry_in)} · {token.refresh_message}"
            if retry_in is not None and retry_in > 0
            else f"failed: {token.refresh_message}"
        )
        return Text(
            shown,
            palette.style("ccm-status-failed"),
            no_wrap=True,
            overflow="ellipsis",
        )
    if token.refresh is RefreshState.OK:
        return Text(f"ok {fmt.ago(token.refreshed_at, now)}", palette.style("ccm-status-ok"))
    return Text("not yet", palette.style("ccm-muted"))


def token_cells(token: TokenStateChanged, now: float, palette: Palette) -> dict[str, Text]:
    left = None if token.expires_at is None else token.expires_at - now
    source = "" if token.source == "store" else f" ({token.source})"
    if token.derived_key:
        key = Text(token.derived_key, no_wrap=True)
        key.append(
            " in use" if token.derived_key_in_use else " stored",
            palette.style("ccm-accent" if token.derived_key_in_use else "ccm-muted"),
        )
    else:
        key = Text("-", palette.style("ccm-muted"))
    return {
        "credential": Text(f"{token.token_id}{source}", no_wrap=True, overflow="ellipsis"),
        "used_by": Text(", ".join(token.providers) or "-", no_wrap=True, overflow="ellipsis"),
        "expires": Text(fmt.countdown(left), palette.style(f"ccm-urgency-{fmt.urgency(left)}")),
        "refresh": refresh_cell(token, now, palette),
        "key": key,
    }


class TokensTable(LiveTable):
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
        """Each column as wide as its content; where they cannot all be, the widest are
        cut first, never the derived key (nor below FLOORS)."""
        if not self.size.width:
            return
        naturals = {c.key: self.natural_width(c.key, c.label) for c in COLUMNS}
        floors = {c.key: max(cell_len(c.label), FLOORS.get(c.key, 0)) for c in COLUMNS}
        floors["key"] = naturals["key"]
        budget = self.size.width - 1 - 2 * PADDING * len(COLUMNS)  # 1: the scrollbar
        widths = fit_widths(naturals, budget, floors)
        self.set_columns([TableColumn(c.key, c.label, widths[c.key]) for c in COLUMNS])

    def update_tokens(self) -> None:
        """Patches every row; there are few, and their countdowns move each second."""
        now = self.clock()
        self.keep_only(self.state.tokens)
        for token_id, token in self.state.tokens.items():
            self.patch_row(token_id, token_cells(token, now, self.palette))
        self.fit_columns()

    def rebuild(self) -> None:
        self.clear_rows()
        self.update_tokens()
