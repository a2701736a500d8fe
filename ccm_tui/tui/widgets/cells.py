"""One table cell drawn as segments: the fast path for one-line text, Rich for the rest."""

from __future__ import annotations

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.padding import Padding
from rich.segment import Segment
from rich.text import Span, Text


def same(a: Text, b: Text) -> bool:
    # Text equality ignores the base style, and a status turning from live to done
    # changes only its colour.
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans


def fast_cell_segments(
    console: Console,
    cell: Text,
    width: int,
    padding: int,
    cut: str = "end",
    overflow: str = "fold",
) -> list[Segment] | None:
    """A one-line cell drawn as Rich draws `Padding(cell)` one line high (cut to fit,
    justified, padded) without the general machinery, which made a busy table's redraw
    cost most of a key press. `cut="start"` drops the start of what does not fit
    instead of the end (`…` first); `overflow` is for a cell without one of its own.
    None for what only the machinery handles: several lines, tabs, centred or full
    justification, trailing spaces."""
    plain = cell.plain
    inner = width - 2 * padding
    justify = cell.justify or "default"
    overflow = cell.overflow or overflow
    if (
        inner < 1
        or "\n" in plain
        or "\t" in plain
        or justify not in ("default", "left", "right")
        or overflow == "ignore"
        or plain != plain.rstrip()
    ):
        return None
    spans = list(cell.spans)
    length = cell_len(plain)
    if length > inner and cut == "start":
        kept = _cell_tail(plain, inner - 1)
        offset = len(plain) - len(kept)
        plain = "…" + kept
        spans = [
            Span(max(s.start - offset, 0) + 1, s.end - offset + 1, s.style)
            for s in spans
            if s.end > offset
        ]
        length = cell_len(plain)
    elif length > inner:  # Text.truncate
        if overflow == "ellipsis":
            plain = set_cell_size(plain, inner - 1) + "…"
        else:
            plain = set_cell_size(plain, inner)
        end = len(plain)
        spans = [Span(s.start, min(s.end, end), s.style) for s in spans if s.start < end]
        length = cell_len(plain)
    fill = inner - length
    shift = 0
    if justify == "right":
        plain, shift = " " * fill + plain, fill
    elif justify == "left":
        plain = plain + " " * fill
    text_spans = [Span(0, len(plain), cell.style)]
    text_spans.extend(Span(s.start + shift, s.end + shift, s.style) for s in spans)
    line = [Segment(" " * padding)] if padding else []
    line.extend(Text(plain, spans=text_spans, end="").render(console))
    if justify == "default" and fill:
        line.append(Segment(" " * fill))
    if padding:
        line.append(Segment(" " * padding))
    return line


def _cell_tail(plain: str, cells: int) -> str:
    """The end of `plain` that fits in `cells` (a wide character that would not is left out)."""
    total = 0
    start = len(plain)
    while start > 0:
        width = cell_len(plain[start - 1])
        if total + width > cells:
            break
        total += width
        start -= 1
    return plain[start:] + " " * (cells - total)


def cell_segments(
    console: Console,
    cell: Text,
    width: int,
    padding: int,
    cut: str = "end",
    overflow: str = "fold",
) -> list[Segment]:
    """A cell `width` wide (its padding included), unstyled by the table: the fast path
    where it can, Rich's own rendering of the padded cell otherwise."""
    fast = fast_cell_segments(console, cell, width, padding, cut, overflow)
    if fast is not None:
        return fast
    options = console.options.update_dimensions(width, 1).update(no_wrap=True)
    return console.render_lines(Padding(cell, (0, padding)), options)[0]
