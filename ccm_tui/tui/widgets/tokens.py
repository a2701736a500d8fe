"""Credentials that expire: time left ticking every second, refresh and derived-key state."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual.widgets import DataTable

from ccm_tui import humanize as fmt
from ccm_tui.events import RefreshState, TokenStateChanged
from ccm_tui.monitor import MonitorState
from ccm_tui.tui.theming import Palette

COLUMNS = (
    ("credential", "Credential", 12),
    ("used_by", "Used by", 12),
    ("expires", "Expires in", 11),
    ("refresh", "Refresh", 16),
    ("key", "Derived API key", 18),
)


def refresh_cell(token: TokenStateChanged, now: float, palette: Palette) -> Text:
    if token.read_only:
        return Text("read-only (Claude Code)", palette.style("ccm-muted"), no_wrap=True)
    if token.refresh is RefreshState.REFRESHING:
        return Text("refreshing…", palette.style("ccm-status-streaming"))
    if token.refresh is RefreshState.FAILED:
        return Text(
            f"failed: {token.refresh_message}",
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


class TokensTable(DataTable[Text]):
    def __init__(
        self, state: MonitorState, palette: Palette, clock: Callable[[], float], **kwargs: object
    ) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self.state = state
        self.palette = palette
        self.clock = clock
        self._shown: dict[str, dict[str, Text]] = {}

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, key=key, width=width)

    def update_tokens(self) -> None:
        """Patches every row; there are few, and their countdowns move each second."""
        now = self.clock()
        for token_id in list(self._shown):
            if token_id not in self.state.tokens:
                self._shown.pop(token_id)
                self.remove_row(token_id)
        for token_id, token in self.state.tokens.items():
            cells = token_cells(token, now, self.palette)
            shown = self._shown.get(token_id)
            if shown is None:
                self.add_row(*(cells[key] for key, _, _ in COLUMNS), key=token_id)
            else:
                for key, _, _ in COLUMNS:
                    if cells[key].plain != shown[key].plain or cells[key].style != shown[key].style:
                        self.update_cell(token_id, key, cells[key])
            self._shown[token_id] = cells

    def rebuild(self) -> None:
        self.clear()
        self._shown.clear()
        self.update_tokens()
