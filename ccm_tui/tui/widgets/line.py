"""One line of text that changes often (the status line, captions)."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from ccm_tui.tui.widgets.cells import same


class TextLine(Widget):
    """Like a one-line Static, but an update repaints only this line: Static.update asks for
    a new layout of the whole screen each time, and these change several times a second."""

    DEFAULT_CSS = """
    TextLine {
        height: 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = Text()

    def show(self, text: Text) -> None:
        if not same(text, self._text):
            self._text = text
            self.refresh()

    @property
    def text(self) -> Text:
        return self._text

    def render(self) -> Text:
        return self._text
