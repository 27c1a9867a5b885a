"""The Failures plugin pane, mounted through the plugin API's test harness."""

from __future__ import annotations

from mlopstui_failed_runs import FailuresPane
from textual.widgets import DataTable, Static

from mlopstui.plugin_api.data import Experiment, Run
from mlopstui.plugin_api.testing import PaneHarness, seed_runs

HOUR = 3600 * 1000
NOW_S = 1_800_000_000


def _cache(tmp_path, now_ms: int):
    runs = [
        Run("a1", "1", "recent-fail", "FAILED", now_ms - 2 * HOUR, now_ms - HOUR, "ana"),
        Run("a2", "1", "old-fail", "FAILED", now_ms - 72 * HOUR, now_ms - 71 * HOUR, "bo"),
        Run("a3", "1", "fine", "FINISHED", now_ms - HOUR, now_ms, "ana"),
        Run("a4", "1", "ancient-fail", "FAILED", now_ms - 30 * 24 * HOUR, None, "bo"),
        Run("b1", "2", "[b]x[/b]\x1b[31m", "FAILED", now_ms - 3 * HOUR, None, "cy"),
    ]
    experiments = [Experiment("1", "vision"), Experiment("2", "nlp")]
    return seed_runs(tmp_path / "cache.sqlite", experiments, runs)


async def test_counts_failures_in_the_window_and_switches_to_7_days(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPSTUI_FROZEN_TIME", str(NOW_S))
    app = PaneHarness(FailuresPane, _cache(tmp_path, NOW_S * 1000))
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        assert table.row_count == 2
        assert "2 failed runs in the last 24 h" in str(
            app.query_one("#failures-title", Static).render()
        )
        table.focus()
        await pilot.press("w")
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        # Most failures first; the last failure is the newest one in the window.
        assert [(r[0], r[1], r[3]) for r in rows] == [
            ("vision", "2", "recent-fail (ana)"),
            ("nlp", "1", "[b]x[/b] (cy)"),
        ]
        assert "3 failed runs in the last 7 days" in str(
            app.query_one("#failures-title", Static).render()
        )


async def test_hostile_run_names_are_inert(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPSTUI_FROZEN_TIME", str(NOW_S))
    app = PaneHarness(FailuresPane, _cache(tmp_path, NOW_S * 1000))
    async with app.run_test():
        cells = [str(c) for i in range(2) for c in app.query_one(DataTable).get_row_at(i)]
        assert "[b]x[/b] (cy)" in cells
        assert not any("\x1b" in c for c in cells)


async def test_a_new_failure_shows_when_the_runs_topic_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPSTUI_FROZEN_TIME", str(NOW_S))
    now_ms = NOW_S * 1000
    cache = _cache(tmp_path, now_ms)
    app = PaneHarness(FailuresPane, cache)
    async with app.run_test() as pilot:
        seed_runs(cache, runs=[Run("b2", "2", "again", "FAILED", now_ms - HOUR, None, "cy")])
        app.topics_changed({"runs"})
        await pilot.pause()
        assert "3 failed runs in the last 24 h" in str(
            app.query_one("#failures-title", Static).render()
        )
