"""How wide a table's columns are: the widths of their cells, and a fair cut when the
table cannot give every column what its content needs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from rich.cells import cell_len
from rich.text import Text


class CellWidths:
    """The widths of each column's cells, kept as cells come and go, so the widest is
    known without measuring every row again."""

    def __init__(self) -> None:
        self._columns: dict[str, Counter[int]] = {}

    def add(self, column: str, cell: Text) -> None:
        self._columns.setdefault(column, Counter())[cell_len(cell.plain)] += 1

    def remove(self, column: str, cell: Text) -> None:
        widths = self._columns[column]
        width = cell_len(cell.plain)
        widths[width] -= 1
        if widths[width] <= 0:
            del widths[width]

    def widest(self, column: str) -> int:
        """0 when the column has no cells."""
        widths = self._columns.get(column)
        return max(widths) if widths else 0


def fit_widths(
    naturals: Mapping[str, int], budget: int, floors: Mapping[str, int] | None = None
) -> dict[str, int]:
    """Each column its natural width when they all fit in `budget`; else the widest are
    cut down first, to a common width, and none below its floor (the label's width, say)."""
    if sum(naturals.values()) <= budget:
        return dict(naturals)
    floors = floors or {}

    def capped(cap: int) -> dict[str, int]:
        return {k: max(floors.get(k, 0), min(n, cap)) for k, n in naturals.items()}

    low, high = 0, max(naturals.values(), default=0)
    while low < high:  # the widest cap that fits
        middle = (low + high + 1) // 2
        if sum(capped(middle).values()) <= budget:
            low = middle
        else:
            high = middle - 1
    widths = capped(low)
    spare = budget - sum(widths.values())
    for key in reversed(widths):  # a cell more for some of those cut, the last ones first
        if spare > 0 and widths[key] < naturals[key]:
            widths[key] += 1
            spare -= 1
    return widths
