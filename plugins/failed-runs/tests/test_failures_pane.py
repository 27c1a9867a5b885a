"""The Failures plugin pane, mounted through the plugin API's test harness."""

from __future__ import annotations

import time

from mlopstui_failed_runs import FailuresPane
from textual.widgets import DataTable, Static

from mlopstui.cache import db
from mlopstui.cache import runs as run_store
from mlopstui.domain import Experiment, Run
from mlopstui.plugin_api.testing import PaneHarness

HOUR = 3600 * 1000


def _cache(tmp_path, now_ms: int):
    path = tmp_path / "cache.sqlite"
    writer = db.Writer(db.open_writer(path))
    runs = [
        Run("a1", "1", "recent-fail", "FAILED", now_ms - 2 * HOUR, now_ms - HOUR, "ana"),
        Run("a2", "1", "old-fail", "FAILED", now_ms - 72 * HOUR, now_ms - 71 * HOUR, "bo"),
        Run("a3", "1", "fine", "FINISHED", now_ms - HOUR, now_ms, "ana"),
        Run("b1", "2", "[b]x[/b]\x1b[31m", "FAILED", now_ms - 3 * HOUR, None, "cy"),
    ]
    with writer.transaction() as conn:
        run_store.upsert_experiments(conn, [Experiment("1", "vision"), Experiment("2", "nlp")])
        run_store.upsert_runs(conn, runs, time.time())
        run_store.refresh_experiment_stats(conn, ["1", "2"])
    writer.close()
    return path


async def test_counts_failures_in_the_window_and_switches_to_7_days(tmp_path, monkeypatch):
    now_s = 1_800_000_000
    monkeypatch.setenv("MLOPSTUI_FROZEN_TIME", str(now_s))
    app = PaneHarness(FailuresPane, _cache(tmp_path, now_s * 1000))
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        assert table.row_count == 2
        assert "2 failed runs in the last 24 h" in str(
            app.query_one("#failures-title", Static).render()
        )
        table.focus()
        await pilot.press("w")
        counts = sorted(int(str(table.get_row_at(i)[1])) for i in range(table.row_count))
        assert counts == [1, 2]


async def test_hostile_run_names_are_inert(tmp_path, monkeypatch):
    now_s = 1_800_000_000
    monkeypatch.setenv("MLOPSTUI_FROZEN_TIME", str(now_s))
    app = PaneHarness(FailuresPane, _cache(tmp_path, now_s * 1000))
    async with app.run_test():
        cells = [str(c) for i in range(2) for c in app.query_one(DataTable).get_row_at(i)]
        assert "[b]x[/b] (cy)" in cells
        assert not any("\x1b" in c for c in cells)
