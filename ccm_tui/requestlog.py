"""One line per finished request, for `ccm-tui serve` on stderr and the TUI's log file."""

from __future__ import annotations

import logging
from datetime import datetime

from ccm_tui.events import Event, Failure, RequestFinished
from ccm_tui.monitor import MonitorState, RequestView

log = logging.getLogger("ccm_tui.requests")


def provider_chain(request: RequestView) -> str:
    """`claude-max ✗529 → zai`: every provider tried, failures marked with status or class."""
    parts = (f"{a.provider} {a.mark}".rstrip() for a in request.attempts)
    return " → ".join(parts) or "-"


def format_line(request: RequestView) -> str:
    when = datetime.fromtimestamp(request.at).strftime("%H:%M:%S")
    model = request.requested_model
    if request.actual_model and request.actual_model != model:
        model = f"{model} → {request.actual_model}"
    ttfb = f"{request.ttfb_ms:.0f}ms" if request.ttfb_ms is not None else "-"
    duration = f"{request.duration_ms:.0f}ms" if request.duration_ms is not None else "-"
    line = (
        f"{when} {request.method} {request.path} {model} [{provider_chain(request)}] "
        f"{request.status} ttfb={ttfb} total={duration} "
        f"in={request.input_tokens} out={request.output_tokens}"
    )
    if request.stop_reason:
        line += f" stop={request.stop_reason}"
    if request.outcome not in (None, Failure.OK):
        line += f" {request.outcome.value}: {request.error_message}"
    return line


class RequestLogger:
    """A bus listener; add it after the monitor's so the request view is complete."""

    def __init__(self, state: MonitorState) -> None:
        self.state = state

    def __call__(self, event: Event) -> None:
        if isinstance(event, RequestFinished):
            request = self.state.requests.get(event.request_id)
            if request is not None:
                level = logging.INFO if event.outcome is Failure.OK else logging.WARNING
                log.log(level, "%s", format_line(request))
