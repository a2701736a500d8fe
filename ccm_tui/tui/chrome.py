"""The lines around the tables: the status line, the pane captions, notification text.

Pure functions of what the monitor knows, so the app only decides when to redraw them.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text

from ccm_tui import humanize as fmt
from ccm_tui.events import AuthMode, ConnectionChanged
from ccm_tui.monitor import MonitorState, ProviderStats
from ccm_tui.tui.theming import Palette
from ccm_tui.tui.widgets.providers import refused
from ccm_tui.tui.widgets.requests import RequestsTable

# Toasts as ccm.tcss sizes them (Toast: width 60, at most 75% of the screen), less their
# padding and left border: the width their text is laid out in.
TOAST_WIDTH, TOAST_SHARE, TOAST_CHROME = 60, 0.75, 3


def status_line(
    state: MonitorState,
    source: str,
    connection: ConnectionChanged | None,
    palette: Palette,
    now: float,
) -> tuple[Text, Text]:
    """Where the monitor's state comes from, and the counts: the first is cut (with an
    ellipsis) where the line is too short for both, the counts never are."""
    where = Text(no_wrap=True, overflow="ellipsis")
    where.append("ccm-tui ", "bold")
    if connection is not None and not connection.connected:
        where.append(f"⚠ {source} — away", palette.style("ccm-status-failed"))
        if connection.retry_in_s is not None:
            where.append(f", retrying in {connection.retry_in_s:.0f}s", palette.style("ccm-muted"))
    else:
        where.append(source, palette.style("ccm-accent"))
    rate = state.request_rate(10, now)
    counts = Text(
        f"  {len(state.live)} live · {state.total_requests} req · {rate:.1f}/s", no_wrap=True
    )
    return where, counts


def requests_caption(table: RequestsTable, palette: Palette) -> Text:
    caption = Text(no_wrap=True, overflow="ellipsis")
    if table.follow:
        caption.append("following", palette.style("ccm-muted"))
    else:
        caption.append("not following (f follows)", palette.style("ccm-muted"))
    if table.paused:
        caption.append(f"  PAUSED +{len(table.held)}", palette.style("ccm-status-client-error"))
    if table.filter.active:
        caption.append(f"  filter: {table.filter.describe()}", palette.style("ccm-accent"))
        caption.append(f" ({table.row_count} shown)", palette.style("ccm-muted"))
    return caption


def provider_caption(stats: ProviderStats | None, palette: Palette, now: float) -> Text:
    """The selected provider's last error in full (the table has room for a glimpse), and
    what to do about an OAuth login refused for anything but Claude Code."""
    caption = Text(no_wrap=True, overflow="ellipsis")
    if stats is None:
        return caption
    caption.append(stats.name, "bold")
    if refused(stats, now) and stats.auth is AuthMode.OAUTH:
        caption.append(" · refused: k sends a derived API key", palette.style("ccm-accent"))
    if stats.last_error:
        caption.append(f" · {fmt.ago(stats.last_error_at, now)}: ", palette.style("ccm-muted"))
        caption.append(stats.last_error, palette.style("ccm-status-failed"))
    else:
        caption.append(" · no errors", palette.style("ccm-muted"))
    return caption


def toast_text(message: str, screen_width: int) -> str:
    """A notification laid out for its box: lines break between words, and a word too
    long for a line (a path, a URL) after one of its `/`, never inside a name."""
    width = max(10, min(TOAST_WIDTH, int(screen_width * TOAST_SHARE)) - TOAST_CHROME)
    lines: list[str] = []
    for paragraph in message.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            for index, piece in enumerate(_pieces(word, width)):
                gap = " " if line and not index else ""
                if line and cell_len(line + gap + piece) > width:
                    lines.append(line)
                    line = piece
                else:
                    line += gap + piece
        lines.append(line)
    return "\n".join(lines)


def _pieces(word: str, width: int) -> list[str]:
    """A word as is if it fits a line, else cut after its slashes (`/a/`, `b/`, `c`)."""
    if cell_len(word) <= width or "/" not in word:
        return [word]
    pieces, start = [], 0
    for index, char in enumerate(word):
        if char == "/" and index > start:
            pieces.append(word[start : index + 1])
            start = index + 1
    pieces.append(word[start:])
    return [p for p in pieces if p]
