"""LiveTable draws as DataTable draws, and redraws only what changed.

The spec of its drawing is DataTable itself: cells against Rich's rendering of a padded
cell (what DataTable does for every cell), and whole lines of the scene's real tables
against a DataTable holding the same rows, in each theme, focused or not, hovered,
scrolled both ways.
"""

from __future__ import annotations

import io
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.padding import Padding
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from scenes import builtin_themes, scene_app
from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable

from ccm_tui.tui import widgets
from ccm_tui.tui.theming import BUILTIN_ORDER, register_themes
from ccm_tui.tui.widgets.cells import cell_segments, fast_cell_segments
from ccm_tui.tui.widgets.table import LiveTable, TableColumn

WORDS = ("claude-max", "✗529", "→", "zai", "日本語", "x", "sonnet→claude-sonnet-4-5", "200", "…")
STYLES: tuple[str | Style, ...] = ("", "bold", "red", Style(color="#ff0000"), "italic blue")


def as_datatable_draws(
    console: Console, cell: Text, width: int, pre: Style, post: Style
) -> list[Segment]:
    """How DataTable draws a cell of a one-line row: Rich renders the padded cell one line
    high, between the row's style and the cursor's colour."""
    options = console.options.update_dimensions(width, 1).update(no_wrap=True)
    lines = console.render_lines(Padding(cell, (0, 1)), options)
    return list(Segment.apply_style(lines[0], pre, post))


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


def styled(segments: list[Segment], pre: Style, post: Style) -> list[Segment]:
    return list(Segment.simplify(Segment.apply_style(segments, pre, post)))


def test_cells_of_every_justification_overflow_and_width_match_datatables():
    console = Console(file=io.StringIO(), width=120, color_system="truecolor")
    rnd = random.Random(7)
    pre = Style(color="#c0caf5", bgcolor="#272b3e", meta={"row": 1, "column": 2})
    for _ in range(3000):
        cell, width = random_cell(rnd), rnd.randint(3, 30)
        post = Style(bold=rnd.random() < 0.5)
        ours = fast_cell_segments(console, cell, width, 1)
        assert ours is not None, (cell, width)
        theirs = as_datatable_draws(console, cell, width, pre, post)
        assert styled(ours, pre, post) == list(Segment.simplify(theirs)), (cell, width)


def test_what_only_rich_draws_is_left_to_it_and_still_drawn_as_datatable_draws_it():
    console = Console(file=io.StringIO(), width=120)
    pre, post = Style(bgcolor="blue"), Style(color="red")
    for cell in (
        Text("two\nlines"),
        Text("a\ttab"),
        Text("centred", justify="center"),
        Text("trailing  ", justify="right"),
        Text("ignored overflow", overflow="ignore"),
    ):
        assert fast_cell_segments(console, cell, 12, 1) is None, cell
        ours = styled(cell_segments(console, cell, 12, 1), pre, post)
        assert ours == list(Segment.simplify(as_datatable_draws(console, cell, 12, pre, post)))


def test_a_cell_cut_at_its_start_keeps_its_end_and_its_styles():
    console = Console(file=io.StringIO(), width=120, color_system="truecolor")
    chain = Text("claude-max ✗400 → flaky ✗529 → zai")
    chain.stylize("red", 11, 15)  # ✗400
    chain.stylize("bold", 31)  # zai
    drawn = cell_segments(console, chain, 2 + 17, 1, cut="start")
    assert "".join(s.text for s in drawn) == " …flaky ✗529 → zai "
    bold = [s.text for s in drawn if s.style and s.style.bold]
    assert bold == ["zai"]
    assert not any(s.style and s.style.color for s in drawn)  # ✗400 was cut away
    wide = cell_segments(console, Text("日本語の名前"), 2 + 6, 1, cut="start")
    assert "".join(s.text for s in wide) == " …名前  "  # a wide character is never half shown


# -- whole lines against DataTable --------------------------------------------------------


class Pair(App[None]):
    """A LiveTable and a DataTable side by side, the same size, with the same rows."""

    CSS = """
    Horizontal { height: auto; }
    LiveTable, DataTable { width: 1fr; height: 5; scrollbar-size-vertical: 1; }
    """

    def __init__(self, tmp: Path, theme: str, columns: tuple[TableColumn, ...],
                 rows: list[tuple[str, dict[str, Text]]]) -> None:  # fmt: skip
        super().__init__()
        self.themes = builtin_themes(tmp)
        self.initial_theme = theme
        self.live = LiveTable(columns)
        self.data: DataTable[Text] = DataTable(cursor_type="row")
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield self.live
            yield self.data

    def on_mount(self) -> None:
        register_themes(self, self.themes)
        self.theme = self.initial_theme
        for column in self.live.columns:
            self.data.add_column(column.label, key=column.key, width=column.width)
        for key, cells in self.rows:
            self.live.add_row(key, cells)
            self.data.add_row(*(cells[c.key] for c in self.live.columns), key=key)


def drawn(widget: Any) -> list[list[tuple[str, Style | None]]]:
    """The widget's lines as Textual composes them: segment by segment (so cell by cell),
    styles without their meta (each table says where a cell is in its own way)."""
    strips: list[Strip] = widget.render_lines(Region(0, 0, *widget.size))
    return [
        [(s.text, s.style.clear_meta_and_links() if s.style else None) for s in strip]
        for strip in strips
    ]


async def scene_tables(tmp: Path) -> list[tuple[tuple[TableColumn, ...], list[Any]]]:
    """The columns and rows of the scene's three tables, as the monitor fills them."""
    app = scene_app(tmp)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        return [
            (table.columns, [(k, dict(table.cells(k))) for k in table.row_keys])
            for table in (app.requests, app.providers, app.tokens)
        ]


@pytest.mark.parametrize("theme", BUILTIN_ORDER)
async def test_every_line_of_the_scenes_tables_is_drawn_as_datatable_draws_it(
    tmp_path: Path, theme: str
):
    compared = 0
    for columns, rows in await scene_tables(tmp_path):
        columns = tuple(replace(c, cut="end") for c in columns)  # DataTable cuts only there
        rows = rows * 3 if len(rows) < 4 else rows  # more rows than the view: it scrolls
        rows = [(f"{key}-{n}", cells) for n, (key, cells) in enumerate(rows)]
        app = Pair(tmp_path, theme, columns, rows)
        async with app.run_test(size=(120, 12)) as pilot:
            await pilot.pause()
            live, data = app.live, app.data
            assert live.size == data.size
            for row in (0, len(rows) - 1, 1):  # the last one scrolls the view down
                live.move_cursor(row)
                data.move_cursor(row=row)
                focused = []
                for table in (live, data):  # each with the focus
                    table.focus()
                    await pilot.pause()
                    focused.append(drawn(table))
                assert focused[0] == focused[1], (theme, columns[0].key, row, "focused")
                app.set_focus(None)
                await pilot.pause()
                assert drawn(live) == drawn(data), (theme, columns[0].key, row)
                compared += 2
            for line in (2, 0):  # the mouse over the second row, then over the header
                hovered = []
                for table in (live, data):  # each in turn (the other one is left)
                    await pilot.hover(table, offset=(3, line))
                    await pilot.pause()
                    hovered.append(drawn(table))
                assert hovered[0] == hovered[1], (theme, columns[0].key, "hover", line)
            await pilot.hover(None, offset=(0, 10))  # away from both
            live.scroll_to(x=7, animate=False, force=True, immediate=True)
            data.scroll_to(x=7, animate=False, force=True, immediate=True)
            await pilot.pause()
            assert drawn(live) == drawn(data), (theme, columns[0].key, "scrolled sideways")
            compared += 3
    assert compared == 3 * 9


# -- what DataTable did not do -------------------------------------------------------------


class One(App[None]):
    CSS = "LiveTable { height: 6; }"

    def __init__(self) -> None:
        super().__init__()
        self.table = LiveTable([TableColumn("a", "A", 6), TableColumn("b", "B", 6)])
        self.highlighted: list[str | None] = []
        self.selected: list[str] = []

    def compose(self) -> ComposeResult:
        yield self.table

    def on_live_table_highlighted(self, event: LiveTable.Highlighted) -> None:
        self.highlighted.append(event.key)

    def on_live_table_selected(self, event: LiveTable.Selected) -> None:
        self.selected.append(event.key)


def row(n: int) -> dict[str, Text]:
    return {"a": Text(f"a{n}"), "b": Text(f"b{n}")}


def add_rows(table: LiveTable, count: int) -> None:
    """Rows r0, r1, ... holding a0/b0, a1/b1, ..."""
    for n in range(count):
        table.add_row(f"r{n}", row(n))


def screen_lines(app: App[Any]) -> list[str]:
    table = app.query_one(LiveTable)
    return ["".join(s.text for s in strip) for strip in table.render_lines(table.size.region)]


async def test_a_patch_draws_again_only_the_cell_that_changed(monkeypatch):
    app = One()
    async with app.run_test(size=(40, 10)) as pilot:
        add_rows(app.table, 4)
        await pilot.pause()
        drawn_cells: list[str] = []
        original = widgets.table.cell_segments

        def counting(console: Console, cell: Text, *args: Any) -> list[Segment]:
            drawn_cells.append(cell.plain)
            return original(console, cell, *args)

        monkeypatch.setattr(widgets.table, "cell_segments", counting)
        assert not app.table.patch_row("r2", {**row(2), "b": Text("B2")})
        assert not app.table.patch_row("r3", row(3))  # unchanged: nothing to do
        await pilot.pause()
        assert drawn_cells == ["B2"]
        assert screen_lines(app)[3].startswith(" a2      B2 ")


async def test_a_row_out_of_view_is_repainted_when_scrolled_to_not_when_it_changes(monkeypatch):
    app = One()
    async with app.run_test(size=(40, 10)) as pilot:
        add_rows(app.table, 30)
        await pilot.pause()
        refreshed: list[int] = []
        monkeypatch.setattr(app.table, "refresh_line", refreshed.append)
        app.table.patch_row("r25", {"a": Text("A25"), "b": Text("B25")})  # below the view
        app.table.patch_row("r2", {"a": Text("A2"), "b": Text("B2")})  # in it: once for both
        assert refreshed == [3]
        app.table.move_cursor(25)
        await pilot.pause()
        assert any(line.startswith(" A25     B25 ") for line in screen_lines(app))


async def test_rows_leaving_keep_the_cursor_on_its_row_and_the_view_where_it_was():
    app = One()
    async with app.run_test(size=(40, 10)) as pilot:
        add_rows(app.table, 20)
        app.table.move_cursor(12)
        await pilot.pause()
        before = screen_lines(app)
        app.table.remove_rows(["r0", "r1", "r2", "r15"])  # three above the view, one below
        await pilot.pause()
        assert app.table.cursor_key == "r12" and app.table.cursor_row == 9
        assert screen_lines(app)[1:] == before[1:]
        app.table.remove_rows(["r12", "r13"])  # the cursor's own row: the next one stays
        await pilot.pause()
        assert app.table.cursor_key == "r14"
        app.table.keep_only(["r3", "r4"])
        await pilot.pause()
        assert app.table.cursor_key == "r4"
        app.table.clear_rows()
        await pilot.pause()
        assert app.highlighted == ["r0", "r12", "r14", "r4", None]  # r0 when it was added


async def test_keys_and_clicks_move_the_cursor_and_a_click_on_it_selects():
    app = One()
    async with app.run_test(size=(40, 10)) as pilot:
        moved: list[int] = []
        app.table.user_moved_cursor = lambda: moved.append(app.table.cursor_row)  # type: ignore[method-assign]
        add_rows(app.table, 12)
        app.table.focus()
        await pilot.press("down", "down", "up", "ctrl+end", "pageup", "ctrl+home")
        assert moved == [1, 2, 1, 11, 6, 0]
        await pilot.click(LiveTable, offset=(2, 3))  # the header is line 0
        assert app.table.cursor_key == "r2" and moved[-1] == 2
        assert app.selected == []
        await pilot.click(LiveTable, offset=(2, 3))
        assert app.selected == ["r2"]
        await pilot.press("enter")
        assert app.selected == ["r2", "r2"]


async def test_a_cell_cut_to_fit_always_shows_it_with_an_ellipsis():
    app = One()
    async with app.run_test(size=(40, 10)) as pilot:
        app.table.add_row("r1", {"a": Text("read-only (Claude Code)"), "b": Text("b")})
        await pilot.pause()
        assert screen_lines(app)[1].startswith(" read-…  b ")


async def test_the_scrollable_size_follows_rows_and_columns():
    app = One()
    async with app.run_test(size=(40, 10)) as pilot:
        add_rows(app.table, 7)
        await pilot.pause()
        assert app.table.virtual_size == (16, 8)
        app.table.set_columns([TableColumn("a", "A", 30), TableColumn("b", "B", 6)])
        app.table.remove_rows(["r0", "r1"])
        await pilot.pause()
        assert app.table.virtual_size == (40, 6)
        assert app.table.natural_width("a", "A") == 2
