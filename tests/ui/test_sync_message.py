"""SyncChanged: the pane re-reads the cache in place, keeping the cursor and the view."""

from __future__ import annotations

from textual.widgets import Input, OptionList

from mlopstui.ui.app import SyncChanged
from mlopstui.ui.widgets.runs_table import RunsTable

from .builders import (
    FROZEN_NOW,
    MINUTE_MS,
    jobs_settled,
    new_run,
    screen_text,
    seeded,
    status_text,
    wait_for,
    write_runs,
)

SIZE = (120, 36)
NEWEST = FROZEN_NOW * 1000 - 10 * MINUTE_MS  # 11:50, newer than every seeded run


def ids(table: RunsTable) -> list[str]:
    return [table.row(i).run_id for i in range(table.total)]


async def test_a_new_run_appears_and_the_cursor_index_is_kept(app, cache):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(RunsTable)
        await pilot.press("down", "down", "down")
        assert table.cursor == 3
        run = new_run("fresh-run", "1", start=NEWEST)
        write_runs(cache, [run])
        app.post_message(SyncChanged("mlflow", {"runs"}))
        await wait_for(pilot, lambda: table.row(0).run_id == run.run_id)
        assert table.cursor == 3
        assert table.current_run_id() == seeded()[2].run_id  # rows moved down under it
        assert "fresh-run" in screen_text(app)


async def test_a_runs_only_change_keeps_every_run_reachable(app, cache):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(RunsTable)
        write_runs(cache, [new_run("fresh-run", "1", start=NEWEST)])
        app.post_message(SyncChanged("mlflow", {"runs"}))
        await pilot.pause()
        assert table.total == len(seeded()) + 1
        assert seeded()[-1].run_id in ids(table)


async def test_runs_and_experiments_change_as_the_sync_announces_it(app, cache):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(RunsTable)
        await pilot.press("down", "down")
        run = new_run("fresh-run", "1", start=NEWEST)
        write_runs(cache, [run])
        app.post_message(SyncChanged("mlflow", {"runs", "experiments"}))
        await wait_for(pilot, lambda: table.total == len(seeded()) + 1)
        assert ids(table) == [run.run_id] + [r.run_id for r in seeded()]
        assert table.cursor == 2
        assert app.active_pane().experiment_id is None
        assert app.query_one("#experiment-list", OptionList).highlighted == 0
        shown = screen_text(app)
        assert "61 runs" in shown
        assert "20 runs · 03-02 11:55" in shown  # vision-resnet: one more run, newest activity


async def test_a_filtered_view_is_recounted(app, cache):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash", *"sweep", "enter")
        await pilot.pause()
        table = app.query_one(RunsTable)
        assert table.total == 3
        write_runs(cache, [new_run("sweep-child-3", "3", start=NEWEST)])
        app.post_message(SyncChanged("mlflow", {"runs", "experiments"}))
        await jobs_settled(pilot)  # the recount runs off the loop
        assert table.total == 4
        assert table.row(0).name == "sweep-child-3"
        assert app.query_one(Input).value == "sweep"


async def test_an_unchanged_cache_keeps_the_view(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one(RunsTable)
        await pilot.press("pagedown", "down", "space")
        before = (table.cursor, table.scroll_offset.y, dict(table.marked), ids(table))
        app.post_message(SyncChanged("mlflow", {"runs", "experiments"}))
        await pilot.pause()
        assert (table.cursor, table.scroll_offset.y, dict(table.marked), ids(table)) == before


async def test_freshness_topic_refreshes_the_status_bar(app, cache):
    from mlopstui.cache import db, syncs
    from mlopstui.domain import SyncRecord

    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "synced 11:59" in status_text(app)
        writer = db.Writer(db.open_writer(cache))
        try:
            with writer.transaction() as conn:
                error = "http://127.0.0.1:9 did not answer: connection refused"
                syncs.record_sync(
                    conn,
                    SyncRecord("mlflow", "health", FROZEN_NOW - 30, FROZEN_NOW, False, error, 0),
                )
        finally:
            writer.close()
        app.post_message(SyncChanged("mlflow", {"freshness"}))
        await wait_for(pilot, lambda: "failing since 11:59" in status_text(app))
