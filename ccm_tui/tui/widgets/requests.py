"""The request stream: one keyed row per request, patched in place as it progresses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.cells import cell_len
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from ccm_tui import humanize as fmt
from ccm_tui.events import Failure
from ccm_tui.monitor import MonitorState, RequestView
from ccm_tui.tui.filtering import RequestFilter
from ccm_tui.tui.theming import Palette
from ccm_tui.tui.widgets.table import PADDING, LiveTable, TableColumn
from ccm_tui.tui.widgets.widths import fit_widths


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int = 0  # 0: as wide as its content, cut when the table cannot give that
    extra: int = 0  # shown only where the others fit whole (when not, the highest goes first)
    cut: Literal["end", "start"] = "end"


COLUMNS = (
    Column("time", "Time", 8),
    Column("model", "Model"),
    Column("provider", "Provider", cut="start"),  # a chain ends where the request went
    Column("status", "St", 3),
    Column("ttfb", "TTFB", 6),
    Column("duration", "Dur", 6),
    Column("input", "In", 5, extra=1),
    Column("output", "Out", 5),
    Column("stop", "Stop", extra=2),
)
FILL = "provider"  # takes what the others leave


def status_style(request: RequestView) -> str:
    if request.outcome is None:
        return "ccm-status-streaming" if request.ttfb_ms is not None else "ccm-status-pending"
    if request.outcome is Failure.OK:
        return "ccm-status-ok"
    if request.outcome is Failure.CLIENT_ERROR:
        return "ccm-status-client-error"
    if request.outcome is Failure.CANCELLED:
        return "ccm-status-cancelled"
    return "ccm-status-failed"


def request_cells(request: RequestView, palette: Palette) -> dict[str, Text]:
    model = request.requested_model
    if request.actual_model.startswith(model):  # the same model, its version pinned
        model = request.actual_model
    elif request.actual_model:
        model = f"{model}→{request.actual_model}"
    if request.path.endswith("/count_tokens"):
        model = f"count · {model}"
    chain = Text(no_wrap=True, overflow="ellipsis")
    for index, attempt in enumerate(request.attempts):
        if index:
            chain.append(" → ", palette.style("ccm-muted"))
        mark = attempt.mark
        chain.append(attempt.provider, palette.style("ccm-failover") if mark else "")
        if mark:
            chain.append(f" {mark}", palette.style("ccm-failover"))
    if not request.attempts:
        chain.append("-", palette.style("ccm-muted"))
    style = palette.style(status_style(request))
    if request.status is not None:
        status = str(request.status)
    else:
        status = "…" if request.outcome is None else "-"
    return {
        "time": Text(fmt.clock_time(request.at), palette.style("ccm-muted")),
        "model": Text(model, no_wrap=True, overflow="ellipsis"),
        "provider": chain,
        "status": Text(status, style),
        "ttfb": Text(fmt.millis(request.ttfb_ms), justify="right"),
        "duration": Text(fmt.millis(request.duration_ms), justify="right"),
        "input": Text(fmt.tokens(request.input_tokens), justify="right"),
        "output": Text(
            fmt.tokens(request.output_tokens), style if request.streaming else "", justify="right"
        ),
        "stop": Text(request.stop_reason or "", palette.style("ccm-muted"), no_wrap=True),
    }


class RequestsTable(LiveTable):
    """Rows are keyed by request id; a redraw patches only the cells that changed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_detail", "Detail", id="requests.detail"),
        Binding("slash", "app.filter", "Filter", id="requests.filter", key_display="/"),
        Binding("space", "app.toggle_pause", "Pause", id="requests.pause", key_display="␣"),
        Binding("f", "app.toggle_follow", "Follow", id="requests.follow"),
        Binding("c", "app.clear", "Clear", id="requests.clear"),
    ]

    class OpenDetail(Message):
        def __init__(self, request_id: str) -> None:
            super().__init__()
            self.request_id = request_id

    def __init__(self, state: MonitorState, palette: Palette, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.palette = palette
        self.filter = RequestFilter()
        self.follow = True
        self.paused = False
        self.cleared_before = 0.0
        self.held: dict[str, None] = {}  # new requests that arrived while paused (ordered)

    # -- layout --------------------------------------------------------------------------

    def fit_columns(self) -> None:
        """Model and Provider as wide as their content where the table has room (the
        extra columns give theirs first), else both cut to a common width; Provider
        takes what is left, so the columns after it stay put as rows come and go."""
        if not self.size.width:
            return
        shown = list(COLUMNS)
        while True:
            fitted = {c.key: self.natural_width(c.key, c.label) for c in shown if not c.width}
            fixed = sum(c.width for c in shown)
            budget = self.size.width - 1 - fixed - 2 * PADDING * len(shown)  # 1: scrollbar
            extras = [c for c in shown if c.extra]
            if sum(fitted.values()) <= budget or not extras:
                break
            shown.remove(max(extras, key=lambda c: c.extra))
        floors = {c.key: cell_len(c.label) for c in shown}
        widths = fit_widths(fitted, budget, floors)
        widths[FILL] += max(0, budget - sum(widths.values()))
        self.set_columns(
            [TableColumn(c.key, c.label, c.width or widths[c.key], c.cut) for c in shown]
        )

    # -- content -------------------------------------------------------------------------

    def shows(self, request: RequestView) -> bool:
        """Whether the request has a row: not cleared away, and matching the filter."""
        return request.at > self.cleared_before and self.filter.matches(request)

    def rebuild(self) -> None:
        """Re-adds every shown request (after a filter change, a clear, a new snapshot);
        while paused, the requests held back stay held and the rest are shown."""
        held = self.held
        self.clear_rows()
        self.held = {}
        self.update_requests([r for r in self.state.requests if r not in held], hold=False)
        self.held = {r: None for r in held if r in self.state.requests}

    def update_requests(self, ids: Iterable[str], hold: bool = True) -> None:
        """Adds new rows, patches changed cells, removes rows that left; call in batch_update.
        While paused, new rows are held back (unless `hold` is False)."""
        added = False
        gone = []
        for request_id in ids:
            request = self.state.requests.get(request_id)
            if request is None or not self.shows(request):
                gone.append(request_id)
                continue
            if not self.has_row(request_id) and self.paused and hold:
                self.held[request_id] = None
                continue
            added |= self.patch_row(request_id, request_cells(request, self.palette))
        evicted = self.state.take_evicted()
        for request_id in evicted:  # a held request the history no longer has
            self.held.pop(request_id, None)
        gone.extend(evicted)
        if gone:
            self.remove_rows(gone)
        self.fit_columns()
        if added and self.follow:
            self.move_cursor(self.row_count - 1)

    def restyle(self, palette: Palette) -> None:
        self.palette = palette
        self.rebuild()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            held, self.held = self.held, {}
            self.update_requests(list(held))

    def clear_requests(self, now: float) -> None:
        self.cleared_before = now
        self.rebuild()

    def user_moved_cursor(self) -> None:
        """Moving off the newest row stops following, as in `less +F`; `f` follows again."""
        if self.cursor_row != self.row_count - 1:
            self.follow = False

    def action_open_detail(self) -> None:
        selected = self.cursor_key
        if selected is not None:
            self.post_message(self.OpenDetail(selected))

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        """A click on the selected row opens it, as enter does."""
        event.stop()
        if event.key is not None:
            self.post_message(self.OpenDetail(event.key))
