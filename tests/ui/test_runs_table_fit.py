"""The runs table as a person sees it at 80x24 and larger: what is drawn on the terminal after
resizes, the experiment list coming and going, a new column set; columns fitted to their
values; the sorted column kept; min/max for rows off screen."""

from __future__ import annotations

import threading

from mlopstui import timefmt
from mlopstui.cache import runs as run_store
from mlopstui.text import clean
from mlopstui.ui import background
from mlopstui.ui.panes.experiments import RANGE_JOBS
from mlopstui.ui.widgets import run_cells
from mlopstui.ui.widgets.runs_table import RunsTable

from .builders import (
    CANNED_HISTORY,
    CannedFetcher,
    bulk_runs,
    jobs_settled,
    notifications,
    screen_text,
    seeded,
    wait_for,
    write_runs,
)
from .test_sort_columns import choose_experiment

VISION = "1"


class GatedFetcher(CannedFetcher):
    """The canned fetcher, held at a gate until the test has looked at the waiting cells."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.gate = threading.Event()
        self.asked: list[tuple[str, dict[str, object]]] = []  # as asked, before the gate

    def __call__(self, what: str, **kwargs: object) -> object:
        self.asked.append((what, kwargs))
        self.gate.wait(10)
        return super().__call__(what, **kwargs)


def drawn(app) -> list[str]:
    """The table's lines as the terminal shows them (from the compositor, not the widget)."""
    table = app.query_one(RunsTable)
    region = table.scrollable_content_region
    lines = screen_text(app).split("\n")
    return [line[region.x : region.right] for line in lines[region.y : region.bottom]]


def assert_consistent(app) -> None:
    """Header and rows on screen are drawn with the table's current layout: every header label
    sits where its column starts, every cell shows the row's value in that column, and no row
    line is blank while there are rows to show."""
    table = app.query_one(RunsTable)
    lines = drawn(app)
    cols = table.layout_columns()
    assert cols, "no column fits"
    header, rows = lines[0], lines[1:]
    x = 2
    now = timefmt.now_ms()
    starts = []
    for col, w in cols:
        starts.append((col, x, w))
        title = header[x : x + w]
        assert run_cells.label(col)[: w - 1] in title, (col, header)
        x += w + 1
    if table.hidden_columns:
        assert header.rstrip().endswith(f"+{table.hidden_columns} col"), header
    top = int(table.scroll_offset.y)
    shown = min(len(rows), table.total - top)
    for y in range(shown):
        line = rows[y]
        assert line.strip(), f"row {y} is blank while {table.total} rows exist"
        row = table.row(top + y)
        for col, x, w in starts:
            want = run_cells.clip(
                run_cells.cell(row, col, now, table.experiment_names),
                w,
                right=run_cells.numeric(col),
            )
            assert line[x : x + w] == want, (col, y, line)


async def test_resize_and_the_experiment_list_repaint_header_and_rows_together(app):
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        assert_consistent(app)
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert_consistent(app)
        await pilot.press("e")  # the list over a narrow terminal
        await pilot.pause()
        assert app.active_pane().has_class("show-experiments")
        assert_consistent(app)
        await pilot.press("e")  # and away again
        await pilot.pause()
        assert not app.active_pane().has_class("show-experiments")
        assert_consistent(app)
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        assert_consistent(app)
        await pilot.press("slash", *"status >>")  # the error line takes a row, then goes
        await pilot.pause()
        assert app.query_one("#filter-error").display
        await pilot.press("escape")
        await pilot.pause()
        assert not app.query_one("#filter-error").display
        assert_consistent(app)
        await pilot.press("end")  # scrolled to the bottom, then the terminal grows
        await pilot.pause()
        await pilot.resize_terminal(160, 45)
        await pilot.pause()
        assert_consistent(app)


async def test_applying_columns_repaints_the_whole_table(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        pane = app.active_pane()
        await pilot.press("down", "down")  # a cursor move repaints two lines only
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("space", "enter")  # drop the first column (name)
        await pilot.pause()
        assert "name" not in pane.columns
        assert_consistent(app)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("space", "enter")  # back
        await pilot.pause()
        assert_consistent(app)


async def test_columns_fit_their_values_and_numbers_align_right(app):
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        table = app.query_one(RunsTable)
        widths = dict(table.layout_columns())
        # "mallory" and "finetune.py" are whole; the name is as wide as the longest one.
        assert widths["user"] >= len("mallory")
        assert widths["source"] >= len("finetune.py")
        longest = max(len(run_cells.cell(table.row(i), "name", 0)) for i in range(table.total))
        assert widths["name"] == longest
        text = "\n".join(drawn(app))
        assert "mallory " in text and "finetune.py " in text and "…" not in text
        # Durations end at the column's right edge.
        at = [c for c, _ in table.layout_columns()].index("duration")
        x = 2 + sum(w + 1 for c, w in table.layout_columns()[:at])
        line = drawn(app)[1]
        assert line[x : x + widths["duration"]].endswith("3m00s")
        assert line[x] == " "


async def test_all_experiments_shows_each_runs_experiment(app):
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        table = app.query_one(RunsTable)
        assert [c for c, _ in table.layout_columns()][:2] == ["name", "experiment"]
        assert "Experiment" in drawn(app)[0]
        names = {e.experiment_id: e.name for e in run_store.experiments(app.reader)}
        first = seeded()[0]
        assert names[first.experiment_id] in drawn(app)[1]
        await choose_experiment(pilot, VISION)
        assert "experiment" not in [c for c, _ in table.layout_columns()]


async def test_the_sorted_column_stays_at_80_columns(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        pane = app.active_pane()
        pane.set_sort("source")
        await pilot.press("e")  # the list takes 28 columns: something must go
        await pilot.pause()
        table = app.query_one(RunsTable)
        shown = [c for c, _ in table.layout_columns()]
        assert table.hidden_columns > 0
        assert "source" in shown and shown[0] == "name"
        assert "Source↑" in drawn(app)[0]
        assert f"+{table.hidden_columns} col" in drawn(app)[0]
        assert_consistent(app)


async def test_m_fills_min_max_for_rows_off_screen(app_for, cache):
    # 19 seeded runs plus 130 more in vision-resnet: two pages, most rows off screen.
    write_runs(cache, bulk_runs(130, VISION))
    fetcher = GatedFetcher(cache=cache)
    app = app_for(cache, fetcher=fetcher)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await choose_experiment(pilot, VISION)
        table = app.query_one(RunsTable)
        assert table.total == 149
        await pilot.press("m")
        await wait_for(pilot, lambda: len(fetcher.asked) == RANGE_JOBS)
        # At most RANGE_JOBS fetches at once; the rows on screen go in one of their own.
        visible = [table.row(i).run_id for i in range(table.size.height - 1)]
        chunks = [kw["run_ids"] for _what, kw in fetcher.asked]
        assert any(c[: len(visible)] == visible and len(c) <= len(visible) + 1 for c in chunks)
        assert sum(background.in_flight(app).values()) == RANGE_JOBS
        assert table.pending  # the fetches wait at the gate: their cells say so
        ranges = [c for c, _ in table.layout_columns() if c.endswith((".min", ".max"))]
        assert ranges
        assert drawn(app)[1].count(run_cells.PENDING) == len(ranges)  # each one waiting
        fetcher.gate.set()
        await jobs_settled(pilot, timeout=30)
        assert not table.pending
        low = min(v for _s, _t, v in CANNED_HISTORY["val_acc"])
        for index in (0, 60, 99):  # on screen, off screen, the end of the first page
            assert table.row(index).values["metrics.val_acc.min"] == low
        asked = [
            rid for what, kw in fetcher.calls if what == "metric_ranges" for rid in kw["run_ids"]
        ]
        assert len(asked) == len(set(asked))  # no run is asked for twice
        # The second page is read when scrolled to, and its rows are fetched then.
        await pilot.press("end")
        await jobs_settled(pilot, timeout=30)
        assert table.row(table.total - 1).values["metrics.val_acc.min"] == low
        assert_consistent(app)


async def test_compare_at_80_columns_keeps_the_field_column_while_scrolling(app):
    from textual.widgets import DataTable

    from mlopstui.ui.screens.compare import CompareScreen

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press(*["space"] * 6, "x")  # six runs: wider than 80 columns
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        grid = app.screen.query_one(DataTable)
        assert grid.virtual_size.width > grid.size.width  # there is something to scroll to
        fields = ["status", "start", "duration", "user", "source"]

        def field_column() -> list[str]:
            lines = screen_text(app).split("\n")
            return [line[1:20].strip() for line in lines[2 : 2 + len(fields)]]

        assert field_column() == fields
        first_run = clean(app.screen.runs[0].name)[:10]
        assert first_run in screen_text(app).split("\n")[1]
        grid.scroll_to(x=grid.max_scroll_x, animate=False)
        await pilot.pause()
        assert grid.scroll_x > 0
        assert field_column() == fields  # still there, beside the last runs
        header = screen_text(app).split("\n")[1]
        assert first_run not in header
        assert clean(app.screen.runs[-1].name)[:10] in header


async def test_min_max_from_a_dead_server_says_so_once_and_stops_waiting(app_for, cache):
    write_runs(cache, bulk_runs(130, VISION))
    fetcher = CannedFetcher(cache=cache, fail=ConnectionError("connection refused"))
    app = app_for(cache, fetcher=fetcher)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await choose_experiment(pilot, VISION)
        table = app.query_one(RunsTable)
        await pilot.press("m")
        await jobs_settled(pilot, timeout=30)
        assert not table.pending
        assert run_cells.PENDING not in "\n".join(drawn(app)[1:])
        errors = [m for m, severity in notifications(app) if severity == "error"]
        assert errors == ["Min/max unavailable: connection refused (m twice retries)"]
        asked = len(fetcher.calls)
        assert asked <= RANGE_JOBS  # stopped asking after the first failures
        await pilot.press("end")  # a new page read does not start it again
        await jobs_settled(pilot, timeout=30)
        assert len(fetcher.calls) == asked
        assert_consistent(app)
