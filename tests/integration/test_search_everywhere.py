"""A filter pasted from MLflow's docs gives the same runs, in the same order, in the MLflow
client, in `mlopstui runs` and in the TUI's filter box, all over one real server's data."""

from __future__ import annotations

import json
import uuid

import pytest
from helpers import run_cli  # noqa: E402
from services import MlflowServer  # noqa: E402

pytestmark = pytest.mark.mlflow_server
pytest_plugins = ["helpers"]

# From MLflow's search-runs documentation (keys as the docs write them).
DOC_FILTERS = [
    "metrics.rmse < 1 and params.model = 'tree'",
    "params.model = 'tree' and metrics.rmse > 0.5",
    "attributes.status = 'FAILED'",
    "tags.\"mlflow.source.type\" = 'LOCAL'",
    "attributes.run_name LIKE 'tree%'",
    "params.model ILIKE 'TREE'",
    "tags.team IS NULL",
    "dataset.name = 'train-set' and dataset.context = 'training'",
    "metrics.rmse != 0.7",
]
ORDERS = [[], ["metrics.rmse ASC"], ["params.model DESC", "start_time ASC"]]


def seed(server: MlflowServer) -> str:
    from mlflow import MlflowClient
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

    client = MlflowClient(server.url)
    exp = client.create_experiment(f"docs-{uuid.uuid4().hex[:8]}")
    for i in range(12):
        model = ["tree", "linear", "Tree"][i % 3]
        run = client.create_run(exp, run_name=f"{model}-{i}", start_time=1_700_000_000_000 + i)
        rid = run.info.run_id
        tags = [RunTag("mlflow.source.type", ["LOCAL", "NOTEBOOK"][i % 2])]
        if i % 4:
            tags.append(RunTag("team", "nlp"))
        rmse = [0.3, 0.7, 1.2, float("nan")][i % 4]
        client.log_batch(
            rid,
            metrics=[Metric("rmse", rmse, 1_700_000_000_000, 0)],
            params=[Param("model", model)],
            tags=tags,
        )
        if i % 3 == 0:
            context = [InputTag("mlflow.data.context", "training")]
            client.log_inputs(
                rid, datasets=[DatasetInput(Dataset("train-set", "d1", "local", "x"), context)]
            )
        client.set_terminated(rid, status=["FINISHED", "FAILED"][i % 2])
    return exp


@pytest.fixture(scope="module")
def world(mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory):
    exp = seed(mlflow_server)
    cache = tmp_path_factory.mktemp("everywhere") / "cache.sqlite"
    synced = run_cli("--cache", str(cache), "--tracking-uri", mlflow_server.url, "sync", "--once")
    assert synced.returncode == 0, synced.output
    return mlflow_server, exp, cache


def client_ids(server: MlflowServer, exp: str, expr: str, order: list[str]) -> list[str]:
    from mlflow import MlflowClient

    runs = MlflowClient(server.url).search_runs([exp], expr, order_by=order, max_results=500)
    return [r.info.run_id for r in runs]


@pytest.mark.parametrize("order", ORDERS, ids=["default", "rmse", "model-start"])
def test_cli_answers_as_the_client(world, order: list[str]) -> None:
    server, exp, cache = world
    for expr in DOC_FILTERS:
        extra = [a for o in order for a in ("--order-by", o)]
        result = run_cli(
            "--cache", str(cache), "runs", "--experiment", exp, "--filter", expr,
            "--format", "json", "--limit", "0", *extra,
        )  # fmt: skip
        assert result.returncode == 0, result.output
        ids = [r["run_id"] for r in json.loads(result.stdout)]
        want = client_ids(server, exp, expr, order)
        assert want, expr  # every docs filter selects something here
        assert ids == want, expr


def test_a_refused_filter_is_refused_by_the_cli_too(world) -> None:
    _server, exp, cache = world
    result = run_cli("--cache", str(cache), "runs", "--filter", "tags.team IN ('nlp')")
    assert result.returncode == 2
    assert "tags compare with a quoted string" in result.stderr
    assert "position 14" in result.stderr  # the list


async def test_the_filter_box_answers_as_the_client(world, make_workbench) -> None:
    from textual.widgets import Input

    from mlopstui.ui.app import MlopsApp, OnDemand
    from mlopstui.ui.widgets.runs_table import RunsTable

    server, exp, cache = world
    workbench = make_workbench(server.url, cache=str(cache))
    app = MlopsApp(workbench, start_sync=False, fetcher=OnDemand(workbench))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.active_pane().select_experiment(exp, from_list=False)
        await pilot.pause()
        for expr in DOC_FILTERS:
            box = app.query_one("#filter", Input)
            await pilot.press("slash")
            box.value = ""
            box.insert_text_at_cursor(expr)  # pasted, as a terminal paste arrives
            await pilot.pause(0.3)
            table = app.query_one(RunsTable)
            shown = [table.row(i).run_id for i in range(table.total)]
            assert shown == client_ids(server, exp, expr, []), expr
            await pilot.press("escape")
