"""The runs table: order, cursor keys, detail, marks, compare, copy."""

from __future__ import annotations

from textual.widgets import DataTable

from mlopstui.text import clean
from mlopstui.ui.screens.compare import CompareScreen
from mlopstui.ui.screens.run_detail import RunDetailScreen
from mlopstui.ui.widgets.runs_table import RunsTable

from .builders import HOSTILE_CLEAN, notifications, screen_text, seeded

SIZE = (120, 36)


def table_of(app) -> RunsTable:
    return app.query_one(RunsTable)


def row_ids(table: RunsTable) -> list[str]:
    return [table.row(i).run_id for i in range(table.total)]


def on_screen(app, index: int) -> bool:
    """Whether the row at `index` (in the default order) is drawn."""
    return f"  {clean(seeded()[index].name)[:20]}" in screen_text(app)


async def test_starts_on_all_runs_sorted_by_start_newest_first(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = table_of(app)
        assert app.active_pane().experiment_id is None  # "All experiments"
        assert table.total == len(seeded())
        assert row_ids(table) == [r.run_id for r in seeded()]
        starts = [table.row(i).start_time for i in range(table.total)]
        assert starts == sorted(starts, reverse=True)
        assert table.cursor == 0
        assert app.focused is table
        assert "60 runs · sort start_time ↓" in str(app.query_one("#runs-info").render())


async def test_cursor_keys(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = table_of(app)
        last = table.total - 1
        await pilot.press("down", "down", "j")
        assert table.cursor == 3
        await pilot.press("up", "k")
        assert table.cursor == 1
        await pilot.press("up", "up", "up")  # stops at the first row
        assert table.cursor == 0

        await pilot.press("pagedown")
        step = table.cursor
        assert 10 < step < last
        await pilot.press("pagedown")
        assert table.cursor == min(2 * step, last)
        await pilot.press("pageup", "pageup")
        assert table.cursor == 0

        await pilot.press("end")
        await pilot.pause()
        assert table.cursor == last
        assert table.current_run_id() == seeded()[-1].run_id
        await pilot.press("down")  # stops at the last row
        assert table.cursor == last
        await pilot.press("home")
        await pilot.pause()
        assert table.cursor == 0
        assert table.scroll_offset.y == 0
        assert on_screen(app, 0)
        await pilot.press("G")
        assert table.cursor == last
        await pilot.press("g")
        assert table.cursor == 0


async def test_the_cursor_row_stays_on_screen(app):
    async with app.run_test(size=(120, 24)) as pilot:
        await pilot.pause()
        table = table_of(app)
        for expected in range(1, 30):
            await pilot.press("down")
            await pilot.pause()
            assert table.cursor == expected
            assert on_screen(app, expected), f"row {expected} is under the scrollbar"
        await pilot.press("end")
        await pilot.pause()
        assert on_screen(app, table.total - 1)


async def test_no_horizontal_scrollbar(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = table_of(app)
        assert table.show_vertical_scrollbar  # 60 runs do not fit
        assert not table.show_horizontal_scrollbar
        visible_rows = table.scrollable_content_region.height - 1  # minus the header
        await pilot.press("pagedown")
        assert table.cursor == visible_rows - 1


async def test_the_header_names_every_drawn_column(app):
    from mlopstui.ui.widgets import run_cells

    async with app.run_test(size=(100, 24)) as pilot:
        await pilot.pause()
        table = table_of(app)
        assert table.hidden_columns  # 100 columns cannot show all six
        header = table.render_line(0).text
        for column, _width in table.layout_columns():
            assert run_cells.label(column) in header
        assert f"+{table.hidden_columns} col" in header


async def test_enter_opens_the_run_under_the_cursor(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, RunDetailScreen)
        assert app.screen.run_id == seeded()[2].run_id
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RunDetailScreen)
        assert table_of(app).cursor == 2


async def test_space_marks_and_moves_down(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = table_of(app)
        await pilot.press("space")
        await pilot.pause()
        assert list(table.marked) == [seeded()[0].run_id]
        assert table.cursor == 1
        assert "1 marked" in str(app.query_one("#runs-info").render())
        assert "● " + HOSTILE_CLEAN[:10] in screen_text(app)  # the newest run
        await pilot.press("up", "space")  # space again unmarks
        await pilot.pause()
        assert table.marked == {}
        await pilot.press("space", "space", "u")  # u unmarks all
        await pilot.pause()
        assert table.marked == {}
        assert "marked" not in str(app.query_one("#runs-info").render())


async def test_compare_with_fewer_than_two_marks_warns(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("x")
        await pilot.press("space", "x")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        warning = ("Mark 2 or more runs with space, then press x.", "warning")
        assert notifications(app) == [warning, warning]


async def test_compare_two_marked_runs_and_toggle_only_differences(app):
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        # Two finished runs of the same sweep: same params, different metrics and times.
        children = [seeded().index(r) for r in seeded() if r.name.startswith("sweep-child")]
        table = table_of(app)
        table.move_to(children[0])
        await pilot.press("space", "space", "x")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert [r.run_id for r in screen.runs] == [seeded()[i].run_id for i in children]
        grid = screen.query_one(DataTable)
        everything = grid.row_count
        assert "all fields" in screen_text(app)
        await pilot.press("d")
        await pilot.pause()
        shown = grid.row_count
        assert 0 < shown < everything
        assert f"only differences ({shown} rows)" in screen_text(app)
        fields = {str(grid.get_row_at(i)[0]) for i in range(shown)}
        assert {"start", "metrics.val_acc", "metrics.loss"} <= fields
        assert not fields & {"params.lr", "params.batch_size", "status", "user"}
        await pilot.press("d")
        await pilot.pause()
        assert grid.row_count == everything
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CompareScreen)
        assert len(table.marked) == 2  # marks survive the trip


async def test_y_copies_the_run_id_and_shift_y_the_uri(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("down", "y")
        await pilot.pause()
        run_id = seeded()[1].run_id
        assert app.clipboard == run_id
        await pilot.press("Y")
        await pilot.pause()
        assert app.clipboard == f"runs:/{run_id}"
        assert (f"Copied run URI: runs:/{run_id}", "information") in notifications(app)
