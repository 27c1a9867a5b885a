"""Metric charts as a person sees them: one run's history, and marked runs overlaid, at 80x24
and 160x45.

The histories are written into the seeded cache (the chart reads the cache first and fetches
only what it lacks), each run's curve its own, so the lines and the legend are told apart.
"""

from __future__ import annotations

import math
from pathlib import Path

from ui.builders import (
    BASE_MS,
    CHILD_RUN_IDS,
    PARENT_RUN_ID,
    build_cache,
    jobs_settled,
    make_app,
    run_index,
    wait_for,
)

from mlopstui.cache import db
from mlopstui.cache import runs as run_store
from mlopstui.ui.screens.chart import ChartScreen
from mlopstui.ui.screens.run_detail import RunDetailScreen
from mlopstui.ui.widgets.runs_table import RunsTable

STEPS = 60


def curve(run_index_: int, key: str) -> list[tuple[int, int, float]]:
    """A deterministic training curve per run: loss decays, val_acc rises, at its own pace."""
    rate = 0.04 + 0.03 * run_index_
    out = []
    for step in range(STEPS):
        decay = math.exp(-rate * step)
        value = 0.2 + 1.6 * decay if key == "loss" else 0.95 - 0.6 * decay
        out.append((step, BASE_MS + step * 1000, round(value, 4)))
    return out


def chart_cache(tmp_path: Path) -> Path:
    """The seeded cache, with loss and val_acc histories for the sweep's three runs."""
    cache = build_cache(tmp_path / "chart.sqlite")
    writer = db.Writer(db.open_writer(cache))
    try:
        with writer.transaction() as conn:
            for n, rid in enumerate((PARENT_RUN_ID, *CHILD_RUN_IDS)):
                for key in ("loss", "val_acc"):
                    run_store.store_metric_history(conn, rid, key, curve(n, key))
    finally:
        writer.close()
    return cache


def app_over(tmp_path: Path):
    app = make_app(chart_cache(tmp_path))
    return app


def chart_from_detail(run_id: str):
    async def run_before(pilot) -> None:
        app = pilot.app
        await pilot.pause()
        app.query_one(RunsTable).move_to(run_index(run_id))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        await jobs_settled(pilot)
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen))
        await jobs_settled(pilot)

    return run_before


def chart_of_marked(run_ids: list[str]):
    async def run_before(pilot) -> None:
        app = pilot.app
        await pilot.pause()
        table = app.query_one(RunsTable)
        for rid in run_ids:
            table.move_to(run_index(rid))
            await pilot.press("space")
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ChartScreen))
        await jobs_settled(pilot)

    return run_before


class TestChart:
    def test_one_run_80x24(self, snap_compare, tmp_path):
        app = app_over(tmp_path)
        try:
            run_before = chart_from_detail(PARENT_RUN_ID)
            assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
        finally:
            app.workbench.close()
            app.pipeline.close()

    def test_marked_runs_80x24(self, snap_compare, tmp_path):
        app = app_over(tmp_path)
        try:
            run_before = chart_of_marked([PARENT_RUN_ID, *CHILD_RUN_IDS])
            assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)
        finally:
            app.workbench.close()
            app.pipeline.close()

    def test_marked_runs_160x45(self, snap_compare, tmp_path):
        app = app_over(tmp_path)
        try:
            run_before = chart_of_marked([PARENT_RUN_ID, *CHILD_RUN_IDS])
            assert snap_compare(app, terminal_size=(160, 45), run_before=run_before)
        finally:
            app.workbench.close()
            app.pipeline.close()
