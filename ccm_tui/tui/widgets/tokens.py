"""Credentials that expire: time left ticking every second, refresh and derived-key state."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text

from ccm_tui import humanize as fmt
from ccm_tui.events import RefreshState, TokenStateChanged
from ccm_tui.monitor import MonitorState
from ccm_tui.tui.theming import Palette
from ccm_tui.tui.widgets.keyed import KeyedTable

COLUMNS = (
    ("credential", "Credential", 11),
    ("used_by", "Used by", 10),
    ("expires", "Expires in", 10),
    ("refresh", "Refresh", 14),
    ("key", "Derived API key", 25),
)


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


class TokensTable(KeyedTable):
    FIXED_COLUMNS = COLUMNS

    def __init__(
        self, state: MonitorState, palette: Palette, clock: Callable[[], float], **kwargs: object
    ) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.palette = palette
        self.clock = clock

    def update_tokens(self) -> None:
        """Patches every row; there are few, and their countdowns move each second."""
        now = self.clock()
        self.keep_only(self.state.tokens)
        for token_id, token in self.state.tokens.items():
            self.patch_row(token_id, token_cells(token, now, self.palette))

    def rebuild(self) -> None:
        self.forget_rows()
        self.update_tokens()
