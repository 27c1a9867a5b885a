"""Issue 11, class 7, in the workbench: the cache is damaged while the app runs.

The file is really damaged (tests/cache_damage.py: garbage over the cell content of a leaf
page of the runs table, then an unrelated commit so every open connection re-reads it). Before
the fix, the pane's next read raised "database disk image is malformed" through Textual: a
traceback, and the app gone. Now the cache is moved aside and rebuilt, a note says so, the
app keeps running and the panes read the new cache.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from cache_damage import damage_table, invalidate, is_damaged
from textual.widgets import Input

from mlopstui.cache import db, syncs
from mlopstui.cache import runs as run_store
from mlopstui.sync.scheduler import Job
from mlopstui.ui.app import SyncChanged
from mlopstui.ui.widgets.runs_table import RunsTable

from .builders import (
    FROZEN_NOW,
    MINUTE_MS,
    SEED_EXPERIMENTS,
    new_run,
    notifications,
    seeded,
    wait_for,
    write_runs,
)

SIZE = (120, 36)
NEWEST = FROZEN_NOW * 1000 - 10 * MINUTE_MS


def _asides(cache: Path) -> list[Path]:
    return [
        p
        for p in cache.parent.glob(f"{cache.name}.broken-*")
        if not p.name.endswith(("-wal", "-shm"))
    ]


def _rebuilt_note(app) -> list[str]:
    return [m for m, severity in notifications(app) if "moved aside" in m and severity == "warning"]


async def _damage(cache: Path, pilot) -> None:
    await pilot.pause()
    damage_table(cache, "runs")
    invalidate(cache)
    assert is_damaged(cache, "runs")


async def _panes_read_the_new_cache(app, cache: Path, pilot) -> None:
    """A run written to the rebuilt cache (as the next sync would) shows in the new pane."""
    writer = db.Writer(db.open_writer(cache))
    try:
        with writer.transaction() as conn:
            run_store.upsert_experiments(conn, SEED_EXPERIMENTS)
    finally:
        writer.close()
    run = new_run("after-rebuild", "1", start=NEWEST)
    write_runs(cache, [run])
    app.post_message(SyncChanged("mlflow", {"runs", "experiments"}))
    await wait_for(pilot, lambda: app.query_one(RunsTable).total == 1)
    table = app.query_one(RunsTable)
    assert table.row(0).run_id == run.run_id


async def test_damage_found_by_a_pane_refresh_is_rebuilt_and_the_app_keeps_running(app, cache):
    async with app.run_test(size=SIZE) as pilot:
        assert app.query_one(RunsTable).total == len(seeded())
        await _damage(cache, pilot)

        app.post_message(SyncChanged("mlflow", {"runs"}))  # the pane re-reads its rows
        await wait_for(pilot, lambda: app.workbench.generation == 1)
        await wait_for(pilot, lambda: bool(_rebuilt_note(app)))

        assert app.is_running and app.return_code is None
        (aside,) = _asides(cache)
        assert is_damaged(aside, "runs") and not is_damaged(cache, "runs")
        (note,) = _rebuilt_note(app)
        assert "malformed" in note and aside.name in note
        await _panes_read_the_new_cache(app, cache, pilot)
    assert app.return_code in (0, None)


async def test_damage_found_by_a_key_handler_is_not_a_traceback(app, cache):
    async with app.run_test(size=SIZE) as pilot:
        await _damage(cache, pilot)
        app.query_one("#filter", Input).focus()
        # Each keystroke re-queries the runs in the pane's own handler: the last one reads
        # every row's status, the damaged page among them.
        await pilot.press(*"status = 'FINISHED'")
        await wait_for(pilot, lambda: app.workbench.generation == 1)
        await wait_for(pilot, lambda: bool(_rebuilt_note(app)))
        assert app.is_running and app.return_code is None
        await pilot.press("escape", "down", "up")  # still answering keys
        await _panes_read_the_new_cache(app, cache, pilot)
    assert app.return_code in (0, None)


async def test_damage_found_by_a_sync_write_reopens_the_app_on_the_new_cache(app, cache):
    async with app.run_test(size=SIZE) as pilot:
        await _damage(cache, pilot)
        bench = app.workbench

        def sweep() -> int:
            # What the MLflow sync's sweep does: rewrite every cached run in one transaction.
            runs = seeded()
            with bench.writer.transaction() as conn:
                run_store.upsert_runs(conn, runs, FROZEN_NOW)
            return len(runs)

        record = await asyncio.to_thread(bench.scheduler.run_job, Job("mlflow", "runs", 60, sweep))
        assert not record.ok and "moved aside" in (record.error or ""), record
        await wait_for(pilot, lambda: bool(_rebuilt_note(app)))
        assert app.is_running and app.return_code is None
        # The failed attempt is what the new cache knows of the feed (the status bar's source).
        assert syncs.freshness(app.reader, "mlflow").state == "failing"
        assert len(_asides(cache)) == 1
        await _panes_read_the_new_cache(app, cache, pilot)
    assert app.return_code in (0, None)
