"""The request stream: one keyed row per request, patched in place as it progresses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message

from ccm_tui import humanize as fmt
from ccm_tui.events import Failure
from ccm_tui.monitor import MonitorState, RequestView
from ccm_tui.tui.filtering import RequestFilter
from ccm_tui.tui.theming import Palette
from ccm_tui.tui.widgets.table import LiveTable, TableColumn


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    label: str
    width: int  # 0: shares what is left, by weight
    min_screen: int  # shown only when the table is at least this wide
    weight: int = 0


COLUMNS = (
    Column("time", "Time", 8, 0),
    Column("model", "Model", 0, 0, weight=2),
    Column("provider", "Provider", 0, 0, weight=3),
    Column("status", "St", 3, 0),
    Column("ttfb", "TTFB", 6, 0),
    Column("duration", "Dur", 6, 0),
    Column("input", "In", 5, 96),
    Column("output", "Out", 5, 0),
    Column("stop", "Stop", 8, 100),
)


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
    if request.actual_model and request.actual_model != model:
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

    def on_resize(self) -> None:
        self.fit_columns(self.size.width)

    def fit_columns(self, width: int) -> None:
        columns = tuple(c for c in COLUMNS if width >= c.min_screen)
        fixed = sum(c.width for c in columns) + 2 * len(columns) + 2
        flexible = [c for c in columns if not c.width]
        free = max(0, width - fixed)
        weights = sum(c.weight for c in flexible) or 1
        self.set_columns(
            [
                TableColumn(c.key, c.label, c.width or max(8, free * c.weight // weights))
                for c in columns
            ]
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

    def action_open_detail(self) -> None:
        selected = self.cursor_key
        if selected is not None:
            self.post_message(self.OpenDetail(selected))

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        """A click on the selected row opens it, as enter does."""
        event.stop()
        if event.key is not None:
            self.post_message(self.OpenDetail(event.key))
