"""A live table we own: keyed one-line rows drawn through Textual's line API.

DataTable forgets every rendered cell whenever any cell changes, and bending it to do
otherwise meant overriding its private methods (a rewrite risk at each Textual upgrade).
This table is a `ScrollView` whose `render_line` returns `Strip`s: each row remembers
its cells and the segments each was drawn as, so a patch redraws only the cells that
changed and a line is put together again only when something on it changed. It draws
exactly as DataTable with a row cursor does (tests/tui/test_live_table.py holds it to
that), but for a cell cut to fit: that one always shows it, with an ellipsis. It styles
itself with component classes, so its colours come from the theme.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal, NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ccm_tui.tui.widgets.cells import cell_segments, same
from ccm_tui.tui.widgets.widths import CellWidths

PADDING = 1  # blank cells on each side of a cell


@dataclass(frozen=True, slots=True)
class TableColumn:
    key: str
    label: str
    width: int  # cells for the content, padding not included
    cut: Literal["end", "start"] = "end"  # which end of a cell too long to fit is dropped


class _Look(NamedTuple):
    """The table's styles at the last render: lines drawn with others are stale."""

    base: Style
    header: Style
    cursor: Style
    hover: Style
    header_hover: Style


class LiveTable(ScrollView, can_focus=True):
    """Rows keyed by id, in the order added, with a row cursor. A patch redraws the
    cells that changed; rows leave in bulk in one pass; the cursor stays on its row
    when rows above it leave."""

    ALLOW_SELECT = False

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "live-table--header",
        "live-table--header-hover",
        "live-table--cursor",
        "live-table--hover",
    }

    # DataTable's look, in the theme's variables.
    DEFAULT_CSS = """
    LiveTable {
        background: $surface;
        color: $foreground;
        height: auto;
        max-height: 100%;
        &:focus {
            background-tint: $foreground 5%;
            & > .live-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
            & > .live-table--header {
                background-tint: $foreground 5%;
            }
        }
        & > .live-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        &:ansi > .live-table--header {
            background: ansi_bright_blue;
            color: ansi_default;
        }
        & > .live-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .live-table--header-hover {
            background: $accent 30%;
        }
        & > .live-table--hover {
            background: $block-hover-background;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "step(-1)", "Cursor up", show=False, id="table.up"),
        Binding("down", "step(1)", "Cursor down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("ctrl+home", "go(0)", "First row", show=False, id="table.first"),
        Binding("ctrl+end", "go(-1)", "Last row", show=False, id="table.last"),
        Binding("left", "scroll_left", "Scroll left", show=False, id="table.left"),
        Binding("right", "scroll_right", "Scroll right", show=False, id="table.right"),
        Binding("home", "scroll_home", "Scroll home", show=False, id="table.home"),
        Binding("end", "scroll_end", "Scroll end", show=False, id="table.end"),
        Binding("enter", "select", "Select", show=False, id="table.select"),
    ]

    class RowMessage(Message):
        def __init__(self, table: LiveTable, key: str | None) -> None:
            super().__init__()
            self.table = table
            self.key = key

        @property
        def control(self) -> LiveTable:
            return self.table

    class Highlighted(RowMessage):
        """The cursor is on another row (`key` None: the table is empty)."""

    class Selected(RowMessage):
        """Enter, or a click on the cursor's row (`key` is never None)."""

    def __init__(
        self,
        columns: Sequence[TableColumn] = (),
        *,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self._columns: tuple[TableColumn, ...] = tuple(columns)
        self._keys: list[str] = []
        self._index: dict[str, int] = {}
        self._cells: dict[str, dict[str, Text]] = {}
        # Per row: what each cell was drawn as, (cell, width, segments) by column.
        self._drawn: dict[str, dict[str, tuple[Text, int, list[Segment]]]] = {}
        self._versions: dict[str, int] = {}  # per row, moves when one of its cells changes
        self._lines: dict[str, tuple[tuple[object, ...], Strip]] = {}
        self._header: tuple[tuple[object, ...], Strip] | None = None
        self._widths = CellWidths()
        self._layout = 0  # moves when the columns change
        self._cursor = 0
        self._announced: str | None = None
        self._hover: int | None = None  # row under the mouse; -1 the header
        self._look: _Look | None = None
        self._size_stale = False

    # -- columns ---------------------------------------------------------------------------

    @property
    def columns(self) -> tuple[TableColumn, ...]:
        return self._columns

    def column(self, key: str) -> TableColumn:
        return next(c for c in self._columns if c.key == key)

    def set_columns(self, columns: Sequence[TableColumn]) -> None:
        """Which columns are shown, in order, and how wide; rows keep all their cells."""
        columns = tuple(columns)
        if columns != self._columns:
            self._columns = columns
            self._layout += 1
            self._size_changed()
            self.refresh()

    def natural_width(self, key: str, label: str) -> int:
        """What a column needs to show its label and each of its cells now in the table."""
        return max(cell_len(label), self._widths.widest(key))

    def fit_columns(self) -> None:
        """Sets the columns for the table's width and content: on resize, and where a
        subclass's cells change."""

    def on_resize(self, _: events.Resize) -> None:
        self.fit_columns()

    # -- rows ------------------------------------------------------------------------------

    @property
    def row_keys(self) -> Sequence[str]:
        return self._keys

    @property
    def row_count(self) -> int:
        return len(self._keys)

    def has_row(self, key: str) -> bool:
        return key in self._index

    def cells(self, key: str) -> Mapping[str, Text]:
        return self._cells[key]

    def add_row(self, key: str, cells: Mapping[str, Text]) -> None:
        """A new row at the bottom; `cells` may hold cells of columns not shown."""
        if key in self._index:
            raise KeyError(f"row {key!r} is already in the table")
        self._index[key] = len(self._keys)
        self._keys.append(key)
        self._cells[key] = dict(cells)
        self._drawn[key] = {}
        self._versions[key] = 0
        for column, cell in cells.items():
            self._widths.add(column, cell)
        self._size_changed()
        self._refresh_rows(len(self._keys) - 1)
        self._announce()

    def update_cell(self, key: str, column: str, cell: Text) -> None:
        self._set_cell(key, column, cell)
        self._refresh_rows(self._index[key])

    def patch_row(self, key: str, cells: Mapping[str, Text]) -> bool:
        """Adds the row, or updates the cells that changed; returns whether it was added."""
        shown = self._cells.get(key)
        if shown is None:
            self.add_row(key, cells)
            return True
        changed = False
        for column, cell in cells.items():
            old = shown.get(column)
            if old is None or not same(cell, old):
                self._set_cell(key, column, cell)
                changed = True
        if changed:
            self._refresh_rows(self._index[key])  # once, however many of its cells changed
        return False

    def _set_cell(self, key: str, column: str, cell: Text) -> None:
        row = self._cells[key]
        old = row.get(column)
        row[column] = cell
        if old is not None:
            self._widths.remove(column, old)
        self._widths.add(column, cell)
        self._versions[key] += 1

    def remove_rows(self, keys: Iterable[str]) -> None:
        """Removes many rows in one pass. The cursor stays on its row if that stays (else
        on the next one), and rows above the view leaving do not move what is shown."""
        doomed = {k for k in keys if k in self._index}
        if not doomed:
            return
        cursor_key = self.cursor_key
        top = int(self.scroll_y)
        above = sum(1 for k in doomed if self._index[k] < top)
        before_cursor = sum(1 for k in doomed if self._index[k] < self._cursor)
        for key in doomed:
            for column, cell in self._cells.pop(key).items():
                self._widths.remove(column, cell)
            del self._drawn[key], self._versions[key], self._index[key]
            self._lines.pop(key, None)
        self._keys = [k for k in self._keys if k not in doomed]
        self._index = {k: i for i, k in enumerate(self._keys)}
        if cursor_key is not None and cursor_key not in doomed:
            self._cursor = self._index[cursor_key]
        else:  # its row left: the next one that stayed
            self._cursor = max(0, min(self._cursor - before_cursor, len(self._keys) - 1))
        self._size_changed()
        if above:
            self._sync_size()
            self.scroll_to(y=top - above, animate=False, force=True, immediate=True)
        self.refresh()
        self._announce()

    def keep_only(self, keys: Iterable[str]) -> None:
        wanted = set(keys)
        self.remove_rows([k for k in self._keys if k not in wanted])

    def clear_rows(self) -> None:
        self._keys, self._index, self._cells, self._drawn = [], {}, {}, {}
        self._versions, self._lines, self._widths = {}, {}, CellWidths()
        self._cursor = 0
        self._size_changed()
        self.refresh()
        self._announce()

    # -- the cursor ------------------------------------------------------------------------

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def cursor_key(self) -> str | None:
        return self._keys[self._cursor] if self._keys else None

    def move_cursor(self, row: int) -> None:
        """Puts the cursor on a row (clamped to the table) and scrolls it into view."""
        row = max(0, min(row, len(self._keys) - 1))
        if row != self._cursor:
            self._refresh_rows(self._cursor, row)
            self._cursor = row
        self.scroll_to_cursor()
        self._announce()

    def scroll_to_cursor(self) -> None:
        self._sync_size()
        visible = self.scrollable_content_region.height - 1  # the header stays
        top = int(self.scroll_y)
        if self._cursor < top:
            top = self._cursor
        elif visible > 0 and self._cursor >= top + visible:
            top = self._cursor - visible + 1
        if top != int(self.scroll_y):
            self.scroll_to(y=top, animate=False, force=True, immediate=True)

    def user_moved_cursor(self) -> None:
        """A key or a click moved the cursor (not the program): a subclass may care."""

    def _user_move(self, row: int) -> None:
        self._hide_hover()
        self.move_cursor(row)
        self.user_moved_cursor()

    def _announce(self) -> None:
        key = self.cursor_key
        if key != self._announced:
            self._announced = key
            self.post_message(self.Highlighted(self, key))

    def action_step(self, rows: int) -> None:
        self._user_move(self._cursor + rows)

    def action_page(self, pages: int) -> None:
        self._user_move(self._cursor + pages * max(1, self.scrollable_content_region.height - 1))

    def action_go(self, row: int) -> None:
        """To a row by its index; -1 the last."""
        self._user_move(row if row >= 0 else len(self._keys) + row)

    def action_scroll_home(self) -> None:
        self.scroll_to(x=0, animate=False, force=True)

    def action_scroll_end(self) -> None:
        self.scroll_to(x=self.max_scroll_x, animate=False, force=True)

    def action_select(self) -> None:
        key = self.cursor_key
        if key is not None:
            self.post_message(self.Selected(self, key))

    # -- the mouse -------------------------------------------------------------------------

    def _row_at(self, event: events.MouseEvent) -> int | None:
        """The row under the mouse: -1 the header, None nothing (a scrollbar, below)."""
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        if offset.y == 0:
            return -1
        row = offset.y - 1 + int(self.scroll_y)
        return row if row < len(self._keys) else None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        row = self._row_at(event)
        if row != self._hover:
            self._refresh_rows(*(r for r in (self._hover, row) if r is not None))
            self._hover = row

    def on_leave(self, _: events.Leave) -> None:
        self._hide_hover()

    def _hide_hover(self) -> None:
        if self._hover is not None:
            self._refresh_rows(self._hover)
            self._hover = None

    async def on_click(self, event: events.Click) -> None:
        row = self._row_at(event)
        if row is None or row < 0:
            return
        event.stop()
        if row == self._cursor:
            self.action_select()
            return
        self.move_cursor(row)
        self.user_moved_cursor()

    # -- drawing ---------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._look = self._current_look()
        return super().render_lines(crop)

    def _current_look(self) -> _Look:
        style = self.get_component_rich_style
        return _Look(
            self.rich_style,
            style("live-table--header"),
            style("live-table--cursor"),
            style("live-table--hover"),
            style("live-table--header-hover"),
        )

    def render_line(self, y: int) -> Strip:
        look = self._look or self._current_look()
        width = self.size.width
        scroll_x = int(self.scroll_x)
        if y == 0:
            return self._header_line(look, width, scroll_x)
        row = y - 1 + int(self.scroll_y)
        if row >= len(self._keys):
            return Strip.blank(width, look.base)
        key = self._keys[row]
        cursor = row == self._cursor
        hover = row == self._hover
        stamp = (self._versions[key], self._layout, look, cursor, hover, scroll_x, width)
        cached = self._lines.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        component = Style()
        if hover:
            component += look.hover
        if cursor:
            component += look.cursor
        strip = self._line(self._row_segments(key, look.base + component, component), look,
                           look.base + component, width, scroll_x)  # fmt: skip
        self._lines[key] = (stamp, strip)
        return strip

    def _header_line(self, look: _Look, width: int, scroll_x: int) -> Strip:
        hover = self._hover == -1
        stamp = (self._layout, look, hover, scroll_x, width)
        if self._header is not None and self._header[0] == stamp:
            return self._header[1]
        component = look.hover + look.header_hover if hover else Style()
        pre = look.header + component
        post = Style.from_color(component.color) if component.color else None
        console = self.app.console
        segments: list[Segment] = []
        for index, column in enumerate(self._columns):
            drawn = cell_segments(console, Text(column.label), column.width + 2 * PADDING,
                                  PADDING)  # fmt: skip
            segments.extend(Segment.apply_style(drawn, pre + _column_meta(index), post))
        strip = self._line(segments, look, pre, width, scroll_x)
        self._header = (stamp, strip)
        return strip

    def _row_segments(self, key: str, pre: Style, component: Style) -> list[Segment]:
        console = self.app.console
        cells = self._cells[key]
        drawn = self._drawn[key]
        post = Style.from_color(component.color) if component.color else None
        segments: list[Segment] = []
        for index, column in enumerate(self._columns):
            cell = cells.get(column.key) or _EMPTY
            width = column.width + 2 * PADDING
            hit = drawn.get(column.key)
            if hit is not None and hit[0] is cell and hit[1] == width:
                plain = hit[2]
            else:
                plain = cell_segments(console, cell, width, PADDING, column.cut, "ellipsis")
                drawn[column.key] = (cell, width, plain)
            segments.extend(Segment.apply_style(plain, pre + _column_meta(index), post))
        return segments

    def _line(
        self, segments: list[Segment], look: _Look, extend: Style, width: int, scroll_x: int
    ) -> Strip:
        """A row's cells, the row's style carried to the table's edge, cut to the view."""
        table_width = sum(c.width + 2 * PADDING for c in self._columns)
        # Appended even when empty, as DataTable does (its exported pictures show it).
        segments.append(Segment(" " * max(0, width - table_width), extend + _OUT_OF_BOUNDS))
        strip = Strip(segments)
        if scroll_x or table_width > width:
            strip = strip.crop(scroll_x, scroll_x + width)
        return strip.adjust_cell_length(width, look.base).simplify()

    def _refresh_rows(self, *rows: int) -> None:
        """Repaints the rows in view; a scroll repaints the whole view, so rows out of it
        need nothing (under heavy traffic most changed rows are out of view, and asking
        Textual to refresh each cost the screen a third of its time)."""
        top, height = int(self.scroll_offset.y), self.size.height
        for row in rows:
            line = row + 1  # the header is line 0
            if 0 <= line - top < height:
                self.refresh_line(line)

    # -- size ------------------------------------------------------------------------------

    def _size_changed(self) -> None:
        """The scrollable size follows once the current batch of changes is done."""
        if not self._size_stale:
            self._size_stale = True
            self.call_next(self._sync_size)

    def _sync_size(self) -> None:
        if self._size_stale:
            self._size_stale = False
            width = sum(c.width + 2 * PADDING for c in self._columns)
            self.virtual_size = Size(width, len(self._keys) + 1)


_EMPTY = Text()
_OUT_OF_BOUNDS = Style.from_meta({"out_of_bounds": True})


@functools.cache
def _column_meta(index: int) -> Style:
    """Each cell's segments carry their column, as DataTable's do: a line is then drawn
    (and exported) cell by cell, never merged across cells of the same colour."""
    return Style.from_meta({"column": index})
