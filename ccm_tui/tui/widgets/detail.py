"""The selected request in full: attempts, what was asked, masked headers, the live answer."""

from __future__ import annotations

from rich.console import Group, RenderableType
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


def render_detail(request: RequestView | None, palette: Palette) -> RenderableType:
    if request is None:
        return Text("Select a request (↑/↓, enter) to see it here.", palette.style("ccm-muted"))
    muted = palette.style("ccm-muted")
    heading = Text(no_wrap=False)
    heading.append(f"{request.method} {request.path}  ", "bold")
    heading.append(request.requested_model)
    if request.routed_model and request.routed_model != request.requested_model:
        heading.append(f" → {request.routed_model}")
    heading.append(f" ({request.route_reason})", muted)
    summary = Text(
        f"{request.message_count} messages · {request.tool_count} tools · "
        f"{'stream' if request.stream else 'json'} · {fmt.clock_time(request.at)} · "
        f"ttfb {fmt.millis(request.ttfb_ms)} · total {fmt.millis(request.duration_ms)} · "
        f"in {request.input_tokens} out {request.output_tokens}",
        muted,
    )
    if request.cache_read_tokens or request.cache_creation_tokens:
        summary.append(
            f" · cache read {request.cache_read_tokens} write {request.cache_creation_tokens}"
        )
    parts: list[RenderableType] = [heading, summary]
    outcome = Text()
    outcome.append(
        "in flight" if request.outcome is None else request.outcome.value,
        palette.style(status_style(request)),
    )
    if request.status is not None:
        outcome.append(f" {request.status}")
    if request.stop_reason:
        outcome.append(f" · stop {request.stop_reason}", muted)
    if request.error_message:
        outcome.append(f"\n{request.error_message}", palette.style("ccm-status-failed"))
    parts.append(outcome)

    attempt_lines: list[Text] = []
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
        attempt_lines.append(
            Text.assemble(
                (f"#{attempt.attempt} ", muted),
                attempt.provider,
                " ",
                (attempt.actual_model, muted),
                " ",
                (failure.value if failure else "…", style),
                " ",
                details,
            )
        )
    parts += [Text("Attempts", "bold"), *attempt_lines]

    if request.blocks:
        parts.append(Text("Response", "bold"))
        for block in request.blocks:
            label = block.kind if not block.name else f"{block.kind} {block.name}"
            body_style = {
                "thinking": palette.style("ccm-text-thinking"),
                "tool_use": palette.style("ccm-text-tool"),
            }.get(block.kind, "")
            parts.append(Text(f"[{label}]", muted))
            text = block.text[-TEXT_TAIL:]
            parts.append(Text(("…" if len(block.text) > TEXT_TAIL else "") + text, body_style))

    headers = Table.grid(padding=(0, 1))
    headers.add_column(style=muted, no_wrap=True)
    headers.add_column()
    for name, value in request.headers:
        headers.add_row(Text(name), Text(value))
    parts += [Text("Request headers (secrets masked)", "bold"), headers]
    return Group(*parts)


class DetailView(VerticalScroll):
    """Scrolls; follows the end of the answer while it streams unless scrolled up."""

    def __init__(self, palette: Palette, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.palette = palette
        self.request_id: str | None = None
        self._body = Static(render_detail(None, palette), id="detail-body")

    def compose(self) -> ComposeResult:
        yield self._body

    def show(self, request: RequestView | None) -> None:
        self.request_id = request.request_id if request else None
        self._body.update(render_detail(request, self.palette))
