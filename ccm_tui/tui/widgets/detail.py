"""The selected request in full: attempts, what was asked, masked headers, the live answer.

Three parts, each redrawn only when what it shows changed: while a request streams, only
the answer moves, and laying out the whole pane each frame would cost more than the rest
of the screen together.
"""

from __future__ import annotations

from collections.abc import Hashable

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ccm_tui import humanize as fmt
from ccm_tui.events import Failure
from ccm_tui.monitor import RequestView
from ccm_tui.tui.theming import Palette
from ccm_tui.tui.widgets.requests import status_style

TEXT_TAIL = 3000  # characters of each block shown; the pane is for watching, not reading logs
EMPTY = "Select a request (↑/↓, enter) to see it here."


def render_summary(request: RequestView, palette: Palette) -> Text:
    """What was asked, how it ended, and every attempt."""
    muted = palette.style("ccm-muted")
    text = Text()
    text.append(f"{request.method} {request.path}  ", "bold")
    text.append(request.requested_model)
    if request.routed_model and request.routed_model != request.requested_model:
        text.append(f" → {request.routed_model}")
    text.append(f" ({request.route_reason})\n", muted)
    text.append(
        f"{request.message_count} messages · {request.tool_count} tools · "
        f"{'stream' if request.stream else 'json'} · {fmt.clock_time(request.at)} · "
        f"ttfb {fmt.millis(request.ttfb_ms)} · total {fmt.millis(request.duration_ms)} · "
        f"in {request.input_tokens} out {request.output_tokens}",
        muted,
    )
    if request.cache_read_tokens or request.cache_creation_tokens:
        text.append(
            f" · cache read {request.cache_read_tokens} write {request.cache_creation_tokens}",
            muted,
        )
    text.append("\n")
    text.append(
        "in flight" if request.outcome is None else request.outcome.value,
        palette.style(status_style(request)),
    )
    if request.status is not None:
        text.append(f" {request.status}")
    if request.stop_reason:
        text.append(f" · stop {request.stop_reason}", muted)
    if request.error_message:
        text.append(f"\n{request.error_message}", palette.style("ccm-status-failed"))
    text.append("\nAttempts", "bold")
    for attempt in request.attempts:
        failure = attempt.failure
        style = (
            palette.style("ccm-status-streaming")
            if failure is None
            else palette.style("ccm-status-ok" if failure is Failure.OK else "ccm-failover")
        )
        details = " ".join(
            x for x in (str(attempt.status or ""), attempt.message, attempt.auth.value) if x
        )
        text.append(f"\n#{attempt.attempt} ", muted)
        text.append(f"{attempt.provider} ")
        text.append(f"{attempt.actual_model} ", muted)
        text.append(failure.value if failure else "…", style)
        text.append(f" {details}")
    return text


def render_response(request: RequestView, palette: Palette) -> Text:
    """The answer as far as it has come: text, thinking, tool calls with their input."""
    text = Text()
    if not request.blocks:
        return text
    muted = palette.style("ccm-muted")
    styles = {
        "thinking": palette.style("ccm-text-thinking"),
        "tool_use": palette.style("ccm-text-tool"),
    }
    text.append("Response", "bold")
    for block in request.blocks:
        label = block.kind if not block.name else f"{block.kind} {block.name}"
        text.append(f"\n[{label}]\n", muted)
        tail = block.text[-TEXT_TAIL:]
        text.append(("…" if len(block.text) > TEXT_TAIL else "") + tail, styles.get(block.kind, ""))
    return text


def render_headers(request: RequestView, palette: Palette) -> Group:
    """Names in a column of their own: a long value wraps under the values."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style=palette.style("ccm-muted"), no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in request.headers:
        table.add_row(Text(name), Text(value))
    return Group(Text("Request headers (secrets masked)", "bold"), table)


def _summary_key(r: RequestView) -> Hashable:
    attempts = tuple(
        (a.attempt, a.provider, a.failure, a.status, a.message, a.auth) for a in r.attempts
    )
    return (
        r.request_id, r.outcome, r.status, r.ttfb_ms, r.duration_ms, r.input_tokens,
        r.output_tokens, r.cache_read_tokens, r.stop_reason, r.error_message, attempts,
    )  # fmt: skip


class DetailView(VerticalScroll):
    """Scrolls; the summary, the answer and the headers are separate, so a streaming answer
    redraws only itself."""

    def __init__(self, palette: Palette, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.palette = palette
        self.request_id: str | None = None
        self._summary = Static(Text(EMPTY, palette.style("ccm-muted")), id="detail-summary")
        self._response = Static(id="detail-response")
        self._headers = Static(id="detail-headers")
        self._shown: dict[str, Hashable] = {}

    def compose(self) -> ComposeResult:
        yield self._summary
        yield self._response
        yield self._headers

    def show(self, request: RequestView | None, force: bool = False) -> None:
        """Redraws the parts whose content changed (all of them with `force`: a new theme)."""
        self.request_id = request.request_id if request else None
        if force:
            self._shown.clear()
        if request is None:
            self._set(
                "summary", None, self._summary, lambda: Text(EMPTY, self.palette.style("ccm-muted"))
            )
            self._set("response", None, self._response, Text)
            self._set("headers", None, self._headers, Text)
            return
        self._set("summary", _summary_key(request), self._summary,
                  lambda: render_summary(request, self.palette))  # fmt: skip
        self._set("response", (request.request_id, request.blocks), self._response,
                  lambda: render_response(request, self.palette))  # fmt: skip
        self._set("headers", request.request_id, self._headers,
                  lambda: render_headers(request, self.palette))  # fmt: skip

    def _set(self, part: str, key: Hashable, widget: Static, render: object) -> None:
        if part in self._shown and self._shown[part] == key:
            return
        self._shown[part] = key
        # Static.update lays out the whole screen; a part whose height stays (most redraws
        # of a streaming request, or of a followed one) only needs repainting.
        width = widget.size.width
        widget.update(render(), layout=False)  # type: ignore[operator]
        if (
            not width
            or widget.get_content_height(self.size, self.size, width) != widget.size.height
        ):
            widget.refresh(layout=True)
