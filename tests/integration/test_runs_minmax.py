"""`m` in the runs table against a real MLflow server: the min/max of every row of the page,
on screen or not, come from the histories MLflow holds (fetched over HTTP, a few at a time)."""

from __future__ import annotations

import uuid

import pytest
from services import MlflowServer  # noqa: E402

from mlopstui.cache import runs as run_store

pytestmark = pytest.mark.mlflow_server
pytest_plugins = ["helpers"]

RUNS = 45  # more than a 80x24 screen shows


def seed(server: MlflowServer) -> tuple[str, dict[str, tuple[float, float]]]:
    """An experiment of our own on the shared server, each run with a 5-step loss history
    whose extremes are not its last value. Returns its id and (min, max) per run id."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    client = MlflowClient(server.url)
    exp = client.create_experiment(f"minmax-{uuid.uuid4().hex[:8]}")
    ranges = {}
    for i in range(RUNS):
        run = client.create_run(exp, run_name=f"r-{i:02d}", start_time=1_700_000_000_000 + i)
        values = [2.0 + i, 0.5 + i / 100, 9.0 + i, 1.0, 1.5]
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("loss", v, 1_700_000_000_000 + s, s) for s, v in enumerate(values)],
        )
        client.set_terminated(run.info.run_id)
        ranges[run.info.run_id] = (min(values), max(values))
    return exp, ranges


async def test_m_fills_min_max_of_rows_off_screen_from_the_server(
    mlflow_server: MlflowServer, make_workbench, tmp_path
) -> None:
    from mlopstui.actions.wiring import build_pipeline
    from mlopstui.ui.app import MlopsApp, OnDemand

    exp, ranges = seed(mlflow_server)
    workbench = make_workbench(mlflow_server.url, ui__theme="mlopstui-dark")
    for job in workbench.jobs(heartbeat=False):
        if job.name == "runs":
            assert workbench.scheduler.run_job(job).ok
    pipeline = build_pipeline(workbench, audit_path=tmp_path / "audit.sqlite")
    app = MlopsApp(workbench, start_sync=False, fetcher=OnDemand(workbench), pipeline=pipeline)
    try:
        await drive(app, exp, ranges)
    finally:
        pipeline.close()


async def drive(app, exp: str, ranges: dict[str, tuple[float, float]]) -> None:
    from ui.builders import jobs_settled

    from mlopstui.ui.widgets.runs_table import RunsTable

    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        pane = app.active_pane()
        pane.select_experiment(exp, from_list=False)
        await pilot.pause()
        table = app.query_one(RunsTable)
        assert table.total == RUNS
        assert "metrics.loss" in pane.columns
        assert table.row(RUNS - 1).values["metrics.loss.min"] is None  # only the latest yet
        await pilot.press("m")
        await jobs_settled(pilot, timeout=60)
        assert not table.pending
        assert table.size.height < RUNS  # most rows were never on screen
        for i in range(RUNS):
            row = table.row(i)
            got = (row.values["metrics.loss.min"], row.values["metrics.loss.max"])
            assert got == ranges[row.run_id], row.name
        # And the cache keeps them for the next start.
        run = run_store.get_run(app.reader, table.row(RUNS - 1).run_id)
        assert run is not None
        assert (run.metrics["loss"].min, run.metrics["loss"].max) == ranges[run.run_id]
