"""Run detail: header, metrics with fetched history, artifacts, parent/children, fetch errors."""

from __future__ import annotations

from mlopstui.ui.screens.run_detail import RunDetailScreen
from mlopstui.ui.widgets.runs_table import RunsTable
from mlopstui.ui.widgets.sparkline import sparkline

from .builders import (
    CANNED_HISTORY,
    CHILD_RUN_IDS,
    HOSTILE_CLEAN,
    HOSTILE_RUN_ID,
    PARENT_RUN_ID,
    RUNS_BY_ID,
    CannedFetcher,
    jobs_settled,
    notifications,
    run_index,
    screen_text,
)
from .builders import detail_section as section

SIZE = (140, 60)


def settled(app) -> bool:
    """Every fetch the detail screen started has answered."""
    screen = app.screen
    return (
        isinstance(screen, RunDetailScreen)
        and screen.artifacts is not None
        and all(k in screen.histories or k in screen.history_errors for k in screen.run.metrics)
        and "fetching…" not in screen_text(app)
    )


async def open_run(pilot, run_id: str) -> RunDetailScreen:
    """Put the cursor on a run and press Enter; wait for its fetches."""
    app = pilot.app
    app.query_one(RunsTable).move_to(run_index(run_id))
    await pilot.press("enter")
    await jobs_settled(pilot)
    assert settled(app)
    assert app.screen.run_id == run_id
    return app.screen


async def test_header_shows_the_run(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        child = RUNS_BY_ID[CHILD_RUN_IDS[0]]
        await open_run(pilot, child.run_id)
        header = section(app, "header")
        assert "sweep-child-1" in header
        assert child.run_id in header
        assert "FINISHED" in header
        assert "tabular-xgb" in header
        assert "erin" in header
        assert "sweep.py" in header
        assert "2026-03-01 20:11" in header
        assert "15m00s" in header
        assert child.artifact_uri in header


async def test_header_shows_the_cleaned_name_of_the_hostile_run(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_run(pilot, HOSTILE_RUN_ID)
        assert f"Run         {HOSTILE_CLEAN}" in section(app, "header")


async def test_metrics_show_min_max_and_a_sparkline_from_the_history(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        run = RUNS_BY_ID[PARENT_RUN_ID]
        await open_run(pilot, run.run_id)
        metrics = section(app, "metrics")
        for key, points in CANNED_HISTORY.items():
            values = [v for _s, _t, v in points]
            line = next(line for line in metrics.splitlines() if f" {key} " in line)
            cells = [c.strip() for c in line.split("│")]
            assert cells[0] == key
            assert cells[1] == f"{run.metrics[key].value:.6g}"  # last
            assert cells[2] == f"{min(values):.6g}"  # min from the history
            assert cells[3] == f"{max(values):.6g}"  # max from the history
            assert cells[4] == "10"  # step
            assert cells[5] == sparkline(values)


async def test_histories_and_artifacts_are_fetched_on_demand(app):
    fetcher = app.fetcher
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert fetcher.calls == []  # nothing is fetched for the table
        await open_run(pilot, PARENT_RUN_ID)
        asked = sorted((what, tuple(sorted(kw.items()))) for what, kw in fetcher.calls)
        assert asked == [
            ("artifacts", (("run_id", PARENT_RUN_ID),)),
            ("metric_history", (("key", "loss"), ("run_id", PARENT_RUN_ID))),
            ("metric_history", (("key", "val_acc"), ("run_id", PARENT_RUN_ID))),
        ]
        await pilot.press("h")  # refetch
        await jobs_settled(pilot)
        assert len(fetcher.calls) == 5


async def test_artifacts_are_listed(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_run(pilot, PARENT_RUN_ID)
        artifacts = section(app, "artifacts")
        assert "▸ model/" in artifacts
        assert "metrics.json  512 B" in artifacts
        assert "confusion_matrix.png  20480 B" in artifacts


async def test_params_and_tags(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_run(pilot, CHILD_RUN_IDS[1])
        params = section(app, "params")
        assert "batch_size" in params and "64" in params
        assert "lr" in params and "0.01" in params
        tags = section(app, "tags")
        assert "team" in tags and "tabular" in tags
        assert "mlflow.parentRunId" in tags and PARENT_RUN_ID in tags


async def test_p_on_a_child_opens_its_parent(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_run(pilot, CHILD_RUN_IDS[0])
        assert f"parent: sweep-parent {PARENT_RUN_ID}  (p opens it)" in section(app, "family")
        await pilot.press("p")
        await jobs_settled(pilot)
        assert settled(app) and app.screen.run_id == PARENT_RUN_ID
        family = section(app, "family")
        assert f"child:  sweep-child-1 {CHILD_RUN_IDS[0]} FINISHED" in family
        assert f"child:  sweep-child-2 {CHILD_RUN_IDS[1]} FINISHED" in family
        # Esc walks back: parent -> child -> table.
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen.run_id == CHILD_RUN_IDS[0]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.focused, RunsTable)


async def test_p_without_a_parent_warns(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_run(pilot, PARENT_RUN_ID)
        await pilot.press("p")
        await pilot.pause()
        assert app.screen.run_id == PARENT_RUN_ID
        assert ("This run has no parent.", "warning") in notifications(app)


async def test_y_copies_and_q_goes_back(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_run(pilot, PARENT_RUN_ID)
        await pilot.press("y")
        await pilot.pause()
        assert app.clipboard == PARENT_RUN_ID
        await pilot.press("Y")
        await pilot.pause()
        assert app.clipboard == f"runs:/{PARENT_RUN_ID}"
        await pilot.press("q")  # back, not quit
        await pilot.pause()
        assert app.is_running
        assert not isinstance(app.screen, RunDetailScreen)


async def test_a_failing_fetcher_shows_history_unavailable(app_for, cache):
    app = app_for(cache, fetcher=CannedFetcher(fail=ConnectionError("server went away")))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        run = RUNS_BY_ID[PARENT_RUN_ID]
        await open_run(pilot, run.run_id)
        metrics = section(app, "metrics")
        assert metrics.count("history unavailable: server went away") == 2
        # The last value is still shown; min/max fall back to what the cache knows (nothing).
        assert f"{run.metrics['val_acc'].value:.6g}" in metrics
        assert "unavailable: server went away" in section(app, "artifacts")
        assert app.is_running
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.focused, RunsTable)
