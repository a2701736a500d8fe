"""Live tables whose rows are keyed: a redraw patches only the cells that changed."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable


def same(a: Text, b: Text) -> bool:
    # Text equality ignores the base style, and a status turning from live to done
    # changes only its colour.
    return a.plain == b.plain and a.style == b.style and a.spans == b.spans


class KeyedTable(DataTable[Text]):
    """Rows keyed by id, each remembered as shown, so updates touch only changed cells."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", **kwargs)  # type: ignore[arg-type]
        self._shown: dict[str, dict[str, Text]] = {}

    def patch_row(self, key: str, cells: dict[str, Text], columns: Iterable[str]) -> bool:
        """Adds the row or updates its changed cells; returns whether it was added."""
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

    def remove_key(self, key: str) -> None:
        if self._shown.pop(key, None) is not None:
            self.remove_row(key)

    def keep_only(self, keys: Iterable[str]) -> None:
        wanted = set(keys)
        for key in [k for k in self._shown if k not in wanted]:
            self.remove_key(key)

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
