"""One line of text that changes often (the status line, captions)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widget import Widget

from ccm_tui.tui.widgets.cells import same


class TextLine(Widget):
    """Like a one-line Static, but an update repaints only this line: Static.update asks for
    a new layout of the whole screen each time, and these change several times a second.
    What does not fit is cut with an ellipsis."""

    DEFAULT_CSS = """
    TextLine {
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = Text()
        self._tail = Text()

    def show(self, text: Text, tail: Text | None = None) -> None:
        """`tail` ends the line whole where the line is too short: `text` is cut instead."""
        tail = tail or Text()
        if not (same(text, self._text) and same(tail, self._tail)):
            self._text, self._tail = text, tail
            self.refresh()

    @property
    def text(self) -> Text:
        return self._text + self._tail

    def render(self) -> Text:
        if not self._tail:
            return self._text
        room = self.size.width - cell_len(self._tail.plain)
        head = self._text
        if cell_len(head.plain) > room:
            head = head.copy()
            head.truncate(max(room, 0), overflow="ellipsis")
        return head + self._tail
