"""Prove the MLflow server fixtures: real server up, seeded data visible, kill and restart work.

If these fail, every other integration test would fail for a reason unrelated to mlopstui.
"""

from __future__ import annotations

import pytest
import requests
from services import NLP, VISION, MlflowServer, SeededDataset

pytestmark = pytest.mark.mlflow_server


def test_health_answers(mlflow_server: MlflowServer) -> None:
    resp = requests.get(f"{mlflow_server.url}/health", timeout=5)
    assert resp.status_code == 200


def test_seeded_experiments_visible_over_http(
    seeded_mlflow_server: tuple[MlflowServer, SeededDataset],
) -> None:
    from mlflow import MlflowClient

    server, dataset = seeded_mlflow_server
    names = {e.name for e in MlflowClient(server.url).search_experiments()}
    assert {VISION, NLP} <= names
    assert dataset.experiment_names == [VISION, NLP]


def test_seeded_run_counts_over_http(
    seeded_mlflow_server: tuple[MlflowServer, SeededDataset],
) -> None:
    from mlflow import MlflowClient

    server, dataset = seeded_mlflow_server
    client = MlflowClient(server.url)
    assert dataset.expected_counts == {
        VISION: {"FINISHED": 30, "FAILED": 2, "RUNNING": 1},
        NLP: {"FINISHED": 20},
    }
    for name, exp_id in dataset.experiment_ids.items():
        runs = client.search_runs([exp_id], max_results=1000, order_by=["attributes.start_time"])
        assert [r.info.run_id for r in runs] == dataset.run_ids(name)
        for status, expected in dataset.expected_counts[name].items():
            found = client.search_runs([exp_id], f"attributes.status = '{status}'")
            assert len(found) == expected, (name, status)


def test_seeded_values_round_trip(
    seeded_mlflow_server: tuple[MlflowServer, SeededDataset],
) -> None:
    """Latest metrics, params, times and the hostile strings come back byte for byte."""
    from mlflow import MlflowClient

    server, dataset = seeded_mlflow_server
    client = MlflowClient(server.url)
    for seeded in (dataset.runs_in(VISION)[0], dataset.by_id(dataset.hostile_run_id)):
        run = client.get_run(seeded.run_id)
        assert run.info.run_name == seeded.name
        assert run.info.status == seeded.status
        assert (run.info.start_time, run.info.end_time) == (seeded.start_time, seeded.end_time)
        assert run.data.params == seeded.params
        assert run.data.metrics == seeded.metrics
        assert seeded.tags.items() <= run.data.tags.items()
    hostile = client.get_run(dataset.hostile_run_id)
    assert hostile.info.run_name == dataset.hostile_run_name
    assert hostile.data.tags[dataset.hostile_tag_key] == dataset.hostile_tag_value


def test_kill_and_restart(fresh_mlflow_server: MlflowServer) -> None:
    server = fresh_mlflow_server
    port = server.port
    server.kill()
    assert not server.is_running()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/health", timeout=2)
    server.restart()
    assert server.is_running()
    assert server.port == port
    assert requests.get(f"{server.url}/health", timeout=2).status_code == 200
