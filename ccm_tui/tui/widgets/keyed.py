"""Live tables whose rows are keyed: a redraw patches only the cells that changed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Span, Text
from textual._two_way_dict import TwoWayDict
from textual.cache import LRUCache
from textual.widgets import DataTable
from textual.widgets.data_table import CellKey, ColumnKey, RowKey


def same(a: Text, b: Text) -> bool:
    # Text equality ignores the base style, and a status turning from live to done
    # changes only its colour.
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans


def render_text_cell(
    console: Console, cell: Text, width: int, padding: int, pre: Style, post: Style
) -> list[Segment] | None:
    """A one-line cell as DataTable draws it (the Text cut to fit, justified, padded and
    styled between `pre` and `post`) without the general Rich machinery, which made a
    busy table's redraw cost most of a key press. None for what only that machinery
    handles: several lines, tabs, centred or full justification, trailing spaces."""
    plain = cell.plain
    inner = width - 2 * padding
    justify = cell.justify or "default"
    overflow = cell.overflow or "fold"
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
    if length > inner:  # Text.truncate
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
    return list(Segment.apply_style(line, pre, post))


class KeyedTable(DataTable[Text]):
    """Rows keyed by id, each remembered as shown, so updates touch only changed cells."""

    # (key, label, width) of tables whose columns never change; added on mount.
    FIXED_COLUMNS: ClassVar[tuple[tuple[str, str, int], ...]] = ()

    def on_mount(self) -> None:
        for key, label, width in self.FIXED_COLUMNS:
            self.add_column(label, key=key, width=width)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._shown: dict[str, dict[str, Text]] = {}
        self._stable_cells: LRUCache[tuple[object, ...], tuple[Text, list[list[Segment]]]] = (
            LRUCache(1024)
        )

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        """DataTable forgets every rendered cell whenever any cell changes (its caches are
        keyed by an update counter), so a live table redraws all its visible cells each
        frame. Here a cell is rendered again only when that cell (the very Text object),
        its place or its style changed. Relies on DataTable internals of the pinned Textual."""
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        cell = self._data[row_key][column_key]
        key = (
            row_key,
            column_key,
            row_index,
            width,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        hit = self._stable_cells.get(key)
        if hit is not None and hit[0] is cell:
            return hit[1]
        lines = self._render_body_cell(
            cell, row_index, column_index, base_style, width, cursor, hover
        )
        self._stable_cells[key] = (cell, lines)
        return lines

    def _render_body_cell(
        self,
        cell: Text,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool,
        hover: bool,
    ) -> list[list[Segment]]:
        """DataTable._render_cell of the pinned Textual for a body cell of a one-line row,
        with the cell drawn by `render_text_cell` when it can be."""
        if self.rows[self._row_locations.get_key(row_index)].height == 1 and isinstance(cell, Text):
            component_style, post_style = self._get_styles_to_render_cell(
                False,
                False,
                row_index < self.fixed_rows or column_index < self.fixed_columns,
                hover,
                cursor,
                self.show_cursor,
                self._show_hover_cursor,
                self.cursor_foreground_priority == "css",
                self.cursor_background_priority == "css",
            )
            pre = base_style + Style.from_meta({"row": row_index, "column": column_index})
            line = render_text_cell(
                self.app.console, cell, width, self.cell_padding, pre + component_style, post_style
            )
            if line is not None:
                return [line]
        return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """Our columns have fixed widths and our rows one line, so DataTable's measuring of
        every new cell (for auto-width columns) is wasted; only the virtual size is needed."""
        if any(column.auto_width for column in self.columns.values()):
            super()._update_dimensions(new_rows)
        else:
            super()._update_dimensions(())

    def patch_row(
        self, key: str, cells: dict[str, Text], columns: Iterable[str] | None = None
    ) -> bool:
        """Adds the row or updates its changed cells; returns whether it was added."""
        if columns is None:
            columns = [column for column, _, _ in self.FIXED_COLUMNS]
        shown = self._shown.get(key)
        if shown is None:
            self.add_row(*(cells[c] for c in columns), key=key)
            self._shown[key] = cells
            return True
        for column in columns:
            if not same(cells[column], shown[column]):
                self.update_cell(key, column, cells[column])
        self._shown[key] = cells
        return False

    def set_column_width(self, key: str, width: int) -> None:
        """A new width for a column; the table's scrollable width follows on idle."""
        column = self.columns[ColumnKey(key)]
        if column.width != width:
            column.width = width
            self._require_update_dimensions = True
            self.refresh()

    def remove_keys(self, keys: Iterable[str]) -> None:
        """Removes many rows in one pass: DataTable.remove_row re-indexes every row for each
        row removed, and a busy proxy evicts dozens of rows per redraw. Mirrors remove_row
        of the pinned Textual."""
        doomed = {RowKey(k) for k in keys if self._shown.pop(k, None) is not None}
        if not doomed:
            return
        locations = self._row_locations
        survivors = sorted((locations.get(key), key) for key in locations if key not in doomed)
        self._row_locations = TwoWayDict({key: i for i, (_, key) in enumerate(survivors)})
        for row_key in doomed:
            for column_key in self._data.get(row_key, ()):
                self._updated_cells.discard(CellKey(row_key, column_key))
            del self.rows[row_key]
            del self._data[row_key]
        self._require_update_dimensions = True
        self.check_idle()
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        # remove_row asks for a layout; the new virtual size (set on idle, from
        # _require_update_dimensions) asks for one itself when the height changed.
        self.refresh()

    def keep_only(self, keys: Iterable[str]) -> None:
        wanted = set(keys)
        self.remove_keys([k for k in self._shown if k not in wanted])

    def forget_rows(self) -> None:
        """Clears the rows (not the columns) and what was shown."""
        self.clear()
        self._shown.clear()

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value
