"""KeyedTable draws one-line cells itself; they must come out as DataTable draws them."""

from __future__ import annotations

import io
import random
from pathlib import Path

from rich.console import Console
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from scenes import scene_app
from textual.renderables.styled import Styled
from textual.widgets import DataTable

from ccm_tui.tui.widgets.keyed import KeyedTable, render_text_cell

WORDS = ("claude-max", "✗529", "→", "zai", "日本語", "x", "sonnet→claude-sonnet-4-5", "200", "…")
STYLES: tuple[str | Style, ...] = ("", "bold", "red", Style(color="#ff0000"), "italic blue")


def as_datatable_draws(
    console: Console, cell: Text, width: int, pre: Style, post: Style
) -> list[Segment]:
    """DataTable._render_cell of the pinned Textual, for a cell of a one-line row."""
    options = console.options.update_dimensions(width, 1).update(no_wrap=True)
    lines = console.render_lines(Styled(Padding(cell, (0, 1)), pre, post), options)
    return lines[0]


def random_cell(rnd: random.Random) -> Text:
    text = Text(
        " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(0, 4))),
        style=rnd.choice(STYLES),
        justify=rnd.choice([None, "left", "right"]),
        overflow=rnd.choice([None, "ellipsis", "crop", "fold"]),
    )
    for _ in range(rnd.randint(0, 3)):
        start = rnd.randint(0, len(text.plain))
        text.stylize(rnd.choice(STYLES[1:]), start, rnd.randint(start, len(text.plain)))
    return text


def test_cells_of_every_justification_overflow_and_width_match_datatables():
    console = Console(file=io.StringIO(), width=120, color_system="truecolor")
    rnd = random.Random(7)
    pre = Style(color="#c0caf5", bgcolor="#272b3e", meta={"row": 1, "column": 2})
    for _ in range(3000):
        cell, width = random_cell(rnd), rnd.randint(3, 30)
        post = Style(bold=rnd.random() < 0.5)
        ours = render_text_cell(console, cell, width, 1, pre, post)
        assert ours is not None, (cell, width)
        theirs = as_datatable_draws(console, cell, width, pre, post)
        assert list(Segment.simplify(ours)) == list(Segment.simplify(theirs)), (cell, width)


def test_what_only_rich_draws_is_left_to_it():
    console = Console(file=io.StringIO(), width=120)
    for cell in (
        Text("two\nlines"),
        Text("a\ttab"),
        Text("centred", justify="center"),
        Text("trailing  ", justify="right"),
        Text("ignored overflow", overflow="ignore"),
    ):
        assert render_text_cell(console, cell, 12, 1, Style(), Style()) is None, cell


async def test_every_cell_of_the_scene_matches_datatable_at_every_width(tmp_path: Path):
    """Real tables of a real screen: cursor and plain rows, each table's own styles."""
    app = scene_app(tmp_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        compared = 0
        table: KeyedTable
        for table in (app.requests, app.providers, app.tokens):
            for row in range(table.row_count):
                row_key = table._row_locations.get_key(row)
                for column in range(len(table.columns)):
                    cell = table._data[row_key][table._column_locations.get_key(column)]
                    for cursor in (False, True):
                        for width in (3, 6, 10, 14, 30):
                            args = (row, column, table.rich_style, width, cursor, False)
                            table._cell_render_cache.clear()  # keyed without the width
                            ours = table._render_body_cell(cell, *args)
                            table._cell_render_cache.clear()
                            theirs = DataTable._render_cell(table, *args)
                            assert [list(Segment.simplify(line)) for line in ours] == [
                                list(Segment.simplify(line)) for line in theirs
                            ], (table.id, row, column, width, cursor)
                            compared += 1
        assert compared > 500
