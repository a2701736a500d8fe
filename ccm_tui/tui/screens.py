"""Modal screens: help, the request filter, and the quit confirmation."""

from __future__ import annotations

import enum
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from ccm_tui.tui.filtering import HELP as FILTER_HELP
from ccm_tui.tui.filtering import RequestFilter

DERIVED_KEY_HELP = (
    "k — a Claude Pro/Max login (OAuth) is accepted by Anthropic only for Claude Code's "
    'own requests; anything else gets "This credential is only authorized for use with '
    "Claude Code\". k creates an API key from the provider's OAuth token "
    "(create_api_key), stores it beside the token, and sends it instead (billed as API "
    "usage). o switches back to OAuth. The choice is saved in config.toml."
)


class HelpBox(VerticalScroll):
    """Says on its border while more is below: at 80x24 the list is longer than the box."""

    def on_mount(self) -> None:
        self.call_after_refresh(self._hint)

    def on_resize(self) -> None:
        self._hint()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self._hint()

    def _hint(self) -> None:
        self.border_subtitle = "↓ more" if self.scroll_y < self.max_scroll_y else ""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", id="help.close"),
    ]

    def __init__(self, bindings: list[tuple[str, str, str, str]]) -> None:
        super().__init__()
        self._rows = bindings

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        table.add_column(no_wrap=True)
        for where, key, description, binding_id in self._rows:
            table.add_row(Text(key), Text(description), Text(f"{where} · {binding_id}", "dim"))
        with HelpBox(id="help-box"):
            yield Static(
                Text("Keys  (esc closes; every action is also in the palette, ctrl+p)", "bold")
            )
            yield Static(table)
            yield Static(Text(DERIVED_KEY_HELP), id="help-derived")


class FilterScreen(ModalScreen[RequestFilter | None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="filter.cancel")
    ]

    def __init__(self, current: RequestFilter) -> None:
        super().__init__()
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-box"):
            yield Static(Text("Filter requests (empty shows all)", "bold"))
            yield Input(
                value=self._current.describe(),
                placeholder="provider:zai status:5xx",
                id="filter-input",
            )
            yield Static(Text(FILTER_HELP, "dim"), id="filter-help")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(RequestFilter.parse(event.value))
        except ValueError as err:
            self.query_one("#filter-help", Static).update(Text(str(err)))
            self.query_one("#filter-help").add_class("-error")

    def action_cancel(self) -> None:
        self.dismiss(None)


class QuitChoice(enum.Enum):
    QUIT = "quit"
    DETACH = "detach"  # quit the screen, keep the proxy serving
    STAY = "stay"


class ConfirmQuitScreen(ModalScreen[QuitChoice]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer('quit')", "Quit", id="quit.yes"),
        Binding("d", "answer('detach')", "Quit, keep serving", id="quit.detach"),
        Binding("n,escape", "answer('stay')", "Stay", id="quit.no"),
    ]

    def __init__(self, in_flight: int) -> None:
        super().__init__()
        self._in_flight = in_flight

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box"):
            yield Static(
                Text(
                    f"{self._in_flight} request(s) still in flight; quitting stops the proxy "
                    "and cuts them off. Quit anyway?\n\n"
                    "y quit · d quit, keep the proxy serving · n stay"
                )
            )

    def action_answer(self, answer: str) -> None:
        self.dismiss(QuitChoice(answer))
