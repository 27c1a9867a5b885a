"""The runs table and compare at the sizes people use: 80x24 (tmux split, laptop) and 160x45.

Same seeded cache and frozen clock as test_snapshots.py. Regenerate after a deliberate change
with `pytest tests/snapshots/test_runs_table_snapshots.py --snapshot-update` and look at the
SVGs.
"""

from __future__ import annotations

from ui.builders import CHILD_RUN_IDS, run_index

from mlopstui.ui.widgets.runs_table import RunsTable

VISION_FROM_ALL = ["e", "down", "down", "enter"]  # the list: All, llm, vision-resnet


class TestRunsTable:
    def test_all_experiments_80x24(self, snap_compare, app_for):
        assert snap_compare(app_for("loaded"), terminal_size=(80, 24))

    def test_all_experiments_160x45(self, snap_compare, app_for):
        assert snap_compare(app_for("loaded"), terminal_size=(160, 45))

    def test_one_experiment_80x24(self, snap_compare, app_for):
        press = [*VISION_FROM_ALL, "e"]  # choose it, then hide the list again
        assert snap_compare(app_for("loaded"), terminal_size=(80, 24), press=press)

    def test_one_experiment_160x45(self, snap_compare, app_for):
        assert snap_compare(app_for("loaded"), terminal_size=(160, 45), press=VISION_FROM_ALL)

    def test_after_resizing_from_160x45_to_80x24(self, snap_compare, app_for):
        async def run_before(pilot) -> None:
            await pilot.resize_terminal(160, 45)
            await pilot.pause()
            await pilot.resize_terminal(80, 24)
            await pilot.pause()

        assert snap_compare(app_for("loaded"), terminal_size=(80, 24), run_before=run_before)


class TestCompareNarrow:
    def test_compare_80x24(self, snap_compare, app_for):
        async def run_before(pilot) -> None:
            await pilot.pause()
            pilot.app.query_one(RunsTable).move_to(run_index(CHILD_RUN_IDS[1]))

        press = ["space", "space", "x"]
        app = app_for("loaded")
        assert snap_compare(app, terminal_size=(80, 24), press=press, run_before=run_before)
