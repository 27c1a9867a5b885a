"""Run detail extras: datasets, jumping to parent and child runs, artifacts opened (text,
images, binary files, directories) and metric charts, for one run and for several marked runs.

Artifacts are read from a real embedded MLflow store (sqlite, artifacts on disk) through the
workbench's own fetcher, so the viewer meets MLflow's listing and download as they are.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from mlopstui.domain import Dataset
from mlopstui.ui.app import OnDemand
from mlopstui.ui.screens.artifact import ArtifactScreen
from mlopstui.ui.screens.chart import ChartScreen
from mlopstui.ui.screens.run_detail import RunDetailScreen
from mlopstui.ui.widgets.runs_table import RunsTable

from .builders import (
    CANNED_HISTORY,
    CHILD_RUN_IDS,
    FORBIDDEN,
    HOSTILE_NAME,
    PARENT_RUN_ID,
    RUNS_BY_ID,
    jobs_settled,
    run_index,
    screen_text,
    terminal_output,
    tiny_png,
    wait_for,
    write_runs,
)
from .builders import detail_section as section
from .mlflow_store import DB, Store, store_app

SIZE = (140, 60)


async def open_run(pilot, run_id: str) -> RunDetailScreen:
    pilot.app.query_one(RunsTable).move_to(run_index(run_id))
    await pilot.press("enter")
    await jobs_settled(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, RunDetailScreen) and screen.run_id == run_id
    return screen


async def focus_section(pilot, name: str) -> None:
    """Tab until the section has focus (metrics, artifacts, family in that order)."""
    for _ in range(4):
        if pilot.app.focused is not None and pilot.app.focused.id == f"run-{name}":
            return
        await pilot.press("tab")
    raise AssertionError(f"section {name} never got focus; focused: {pilot.app.focused}")


# ---------------------------------------------------------------- datasets


async def test_datasets_are_listed_with_digest_and_context(app_for, cache):
    child = RUNS_BY_ID[CHILD_RUN_IDS[0]]
    datasets = (
        Dataset("train-2026-03", "a1b2c3d4", "training"),
        Dataset(HOSTILE_NAME, "ffff0000", None),
    )
    write_runs(cache, [replace(child, datasets=datasets)])
    app = app_for(cache)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_run(pilot, child.run_id)
        shown = section(app, "datasets")
        line = next(line for line in shown.splitlines() if "train-2026-03" in line)
        assert "a1b2c3d4" in line and "training" in line
        assert "evil" in shown and "ffff0000" in shown
        assert not any(c in terminal_output(app) for c in FORBIDDEN[1:])
        # A run without inputs shows no datasets section at all.
        await pilot.press("escape")
        await pilot.pause()
        await open_run(pilot, CHILD_RUN_IDS[1])
        assert not app.screen.query_one("#run-datasets").display
        assert "Datasets" not in screen_text(app)


# ---------------------------------------------------------------- parent and children


async def test_enter_on_a_child_opens_it_and_enter_on_its_parent_goes_back_up(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await open_run(pilot, PARENT_RUN_ID)
        assert app.screen.family() == list(CHILD_RUN_IDS)
        await focus_section(pilot, "family")
        await pilot.press("down", "enter")
        await jobs_settled(pilot)
        assert isinstance(app.screen, RunDetailScreen)
        assert app.screen.run_id == CHILD_RUN_IDS[1]
        # On the child, the family lists its parent first: Enter opens it.
        assert app.screen.family() == [PARENT_RUN_ID]
        await focus_section(pilot, "family")
        await pilot.press("enter")
        await jobs_settled(pilot)
        assert app.screen.run_id == PARENT_RUN_ID
        await pilot.press("escape", "escape", "escape")
        await pilot.pause()
        assert isinstance(app.focused, RunsTable)


# ---------------------------------------------------------------- charts


def chart_of(app) -> ChartScreen:
    assert isinstance(app.screen, ChartScreen), app.screen
    return app.screen


async def test_c_charts_the_metric_under_the_cursor(app):
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        screen = await open_run(pilot, PARENT_RUN_ID)
        keys = list(screen.run.metrics)
        await pilot.press("c")
        await jobs_settled(pilot)
        chart = chart_of(app)
        assert chart.key == keys[0]
        drawn = screen_text(app)
        assert f"{keys[0]}  (1 of 2 metrics)" in drawn
        assert "1 of 1 runs drawn" in drawn
        values = [v for _s, _t, v in CANNED_HISTORY[keys[0]]]
        assert chart.points(chart.runs[0]) == [(s, v) for s, _t, v in CANNED_HISTORY[keys[0]]]
        assert f"{max(values):.2f}" in drawn and "step" in drawn  # plotext's axes
        await pilot.press("n")
        await jobs_settled(pilot)
        assert chart.key == keys[1]
        # Back in the detail, Enter on the second metric row charts that one.
        await pilot.press("escape")
        await pilot.pause()
        await focus_section(pilot, "metrics")
        await pilot.press("down", "enter")
        await jobs_settled(pilot)
        assert chart_of(app).key == keys[1]


async def test_v_overlays_the_marked_runs_one_line_each(app):
    fetcher = app.fetcher
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        table = app.query_one(RunsTable)
        table.move_to(run_index(CHILD_RUN_IDS[1]))
        await pilot.press("space", "space", "v")  # mark both children, chart them
        await jobs_settled(pilot)
        chart = chart_of(app)
        assert {r.run_id for r in chart.runs} == set(CHILD_RUN_IDS)
        fetched = {kw["run_id"] for what, kw in fetcher.calls if what == "metric_history"}
        assert fetched == set(CHILD_RUN_IDS)  # nothing cached: both fetched in the background
        drawn = screen_text(app)
        assert "sweep-child-1" in drawn and "sweep-child-2" in drawn  # the legend
        assert "2 of 2 runs drawn" in drawn
        await pilot.press("h")  # refetch
        await jobs_settled(pilot)
        assert sum(1 for what, _ in fetcher.calls if what == "metric_history") == 4


# ---------------------------------------------------------------- artifacts

NOTES = "epoch 1 loss 0.9\nepoch 2 loss 0.4\n\x1b]52;c;cHduZWQ=\x07[red]not markup[/red]\u202e\n"


@pytest.fixture(scope="module")
def artifact_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real embedded MLflow store with one run and its artifacts: a text file whose content
    is hostile, a PNG, a pickle and a directory with a CSV."""
    from mlflow import MlflowClient

    directory = tmp_path_factory.mktemp("artifact-store")
    files = directory / "files"
    (files / "data").mkdir(parents=True)
    (files / "notes.txt").write_text(NOTES, encoding="utf-8")
    (files / "plot.png").write_bytes(tiny_png(40, 30))
    (files / "model.pkl").write_bytes(bytes(range(256)) * 8)
    (files / "data" / "table.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    client = MlflowClient(f"sqlite:///{directory / DB}")
    exp = client.create_experiment("artifacts", artifact_location=str(directory / "art"))
    run = client.create_run(exp, run_name="with-artifacts")
    client.log_artifacts(run.info.run_id, str(files))
    client.log_metric(run.info.run_id, "loss", 0.4)
    client.set_terminated(run.info.run_id)
    return directory, run.info.run_id


@pytest.fixture
def artifact_app(artifact_store, tmp_path):
    """The workbench over a copy of the store, its cache synced, fetching from the store."""
    template, run_id = artifact_store
    (tmp_path / "store").mkdir()
    shutil.copy(template / DB, tmp_path / "store" / DB)
    app = store_app(Store(f"sqlite:///{tmp_path / 'store' / DB}", run_id), tmp_path / "app")
    app.fetcher = OnDemand(app.workbench)
    yield app, run_id
    app.workbench.close()
    app.pipeline.close()


async def open_artifact(pilot, name: str) -> ArtifactScreen:
    """In the detail's artifact section, put the cursor on `name` and press Enter."""
    screen = pilot.app.screen
    names = [a.path for a in screen.artifacts]
    await focus_section(pilot, "artifacts")
    for _ in names:  # to the top (the cursor stays where it was left)
        await pilot.press("up")
    for _ in range(names.index(name)):
        await pilot.press("down")
    await pilot.press("enter")
    await jobs_settled(pilot)
    assert isinstance(pilot.app.screen, ArtifactScreen)
    return pilot.app.screen


async def test_artifacts_open_text_image_binary_and_directories(artifact_app):
    app, run_id = artifact_app
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await wait_for(pilot, lambda: app.query_one(RunsTable).current_run_id() == run_id)
        await pilot.press("enter")
        await jobs_settled(pilot)
        listing = section(app, "artifacts")
        assert "▸ data/" in listing and "notes.txt" in listing and "model.pkl  2048 B" in listing

        viewer = await open_artifact(pilot, "notes.txt")
        assert viewer.file is not None and viewer.file.kind == "text"
        drawn = screen_text(app)
        assert "epoch 1 loss 0.9" in drawn and "epoch 2 loss 0.4" in drawn
        assert "[red]not markup[/red]" in drawn  # literal, not a style
        assert not any(c in terminal_output(app) for c in FORBIDDEN[1:])
        await pilot.press("escape")
        await pilot.pause()

        await open_artifact(pilot, "plot.png")
        assert "PNG image, 40 × 30 pixels" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()

        viewer = await open_artifact(pilot, "model.pkl")
        assert "Binary file, 2.0 KiB (binary file: not shown)." in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()

        await open_artifact(pilot, "data")
        assert "table.csv  8 B" in screen_text(app)
        await pilot.press("enter")
        await jobs_settled(pilot)
        assert app.screen.path == "data/table.csv"
        assert "a,b" in screen_text(app) and "1,2" in screen_text(app)
        await pilot.press("escape", "escape", "escape")
        await pilot.pause()
        assert isinstance(app.focused, RunsTable)


async def test_an_artifact_that_cannot_be_read_says_why(app):
    # The seeded workbench points at a dead server: the read fails, in a sentence.
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await open_run(pilot, PARENT_RUN_ID)
        await open_artifact(pilot, "metrics.json")
        drawn = screen_text(app)
        assert "Could not read this artifact: http://127.0.0.1:9 did not answer" in drawn
        assert "Traceback" not in drawn
        assert app.is_running
