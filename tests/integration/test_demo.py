"""The demo seeder against a real embedded MLflow store (`sqlite:///` in a temporary directory).

`mlopstui demo` is the first thing a new user sees, and screenshots and manual tests rely on it,
so the data must be what the UI expects: the right counts, RUNNING runs without an end time,
nested runs whose parents exist, aliases that resolve to versions of existing runs, real metric
histories, and the same names every time for the same seed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from mlopstui.demo import DEMO_EXPERIMENTS, DEMO_MODELS, DemoSummary, seed_demo, store_is_empty

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

mlflow = pytest.importorskip("mlflow")
ViewType = pytest.importorskip("mlflow.entities").ViewType

EXPECTED_RUNS = {
    "fraud-detection-xgb": 60,
    "churn-prediction": 40,
    "llm-summarizer-finetune": 25,
    "recsys-two-tower": 30,
}


@dataclass
class Seeded:
    """A store seeded once for the module (seeding takes several seconds)."""

    uri: str
    artifact_root: Path
    summary: DemoSummary
    progress: list[str]
    seconds: float
    client: MlflowClient
    runs: dict[str, list[Run]]  # experiment name -> runs


def _uri(directory: Path) -> str:
    return f"sqlite:///{directory / 'mlflow.db'}"


def _runs_by_experiment(client: MlflowClient) -> dict[str, list[Run]]:
    out = {}
    for exp in client.search_experiments(view_type=ViewType.ALL):
        if exp.experiment_id == "0":
            continue
        out[exp.name] = client.search_runs(
            [exp.experiment_id], run_view_type=ViewType.ALL, max_results=1000
        )
    return out


def _seed(directory: Path, seed: int = 7) -> Seeded:
    lines: list[str] = []
    uri = _uri(directory)
    started = time.perf_counter()
    summary = seed_demo(uri, directory / "artifacts", seed=seed, progress=lines.append)
    seconds = time.perf_counter() - started
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    return Seeded(
        uri, directory / "artifacts", summary, lines, seconds, client, _runs_by_experiment(client)
    )


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return _seed(tmp_path_factory.mktemp("demo-store"))


def _all_runs(seeded: Seeded) -> list[Run]:
    return [run for runs in seeded.runs.values() for run in runs]


# ---------------------------------------------------------------------------------------------
# store_is_empty
# ---------------------------------------------------------------------------------------------


def test_missing_database_is_empty_and_not_created(tmp_path: Path) -> None:
    assert store_is_empty(_uri(tmp_path))
    assert not (tmp_path / "mlflow.db").exists()


def test_initialised_store_with_only_default_experiment_is_empty(tmp_path: Path) -> None:
    uri = _uri(tmp_path)
    mlflow.MlflowClient(uri).search_experiments()  # creates the schema and the Default experiment
    assert (tmp_path / "mlflow.db").exists()
    assert store_is_empty(uri)


def test_run_in_default_experiment_makes_store_non_empty(tmp_path: Path) -> None:
    uri = _uri(tmp_path)
    mlflow.MlflowClient(uri).create_run("0")
    assert not store_is_empty(uri)


def test_other_experiment_makes_store_non_empty(tmp_path: Path) -> None:
    uri = _uri(tmp_path)
    client = mlflow.MlflowClient(uri)
    client.delete_experiment(client.create_experiment("mine"))  # deleted still counts
    assert not store_is_empty(uri)


def test_importing_demo_does_not_import_mlflow() -> None:
    code = "import sys, mlopstui.demo; sys.exit('mlflow' in sys.modules)"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    assert subprocess.run([sys.executable, "-c", code], env=env, timeout=60).returncode == 0


# ---------------------------------------------------------------------------------------------
# What seeding produces
# ---------------------------------------------------------------------------------------------


def test_seeding_is_fast_and_reports_each_experiment(seeded: Seeded) -> None:
    assert seeded.seconds < 60  # ~9 s on a 2-core machine; generous for slow CI disks
    for name in DEMO_EXPERIMENTS:
        assert sum(line.startswith(f"{name}:") for line in seeded.progress) == 1


def test_summary_counts(seeded: Seeded) -> None:
    summary = seeded.summary
    assert summary.experiments == 4
    assert summary.runs == sum(EXPECTED_RUNS.values())
    assert summary.models == 3
    assert summary.aliases == 6
    assert 9 <= summary.model_versions <= 15


def test_store_not_empty_after_seeding(seeded: Seeded) -> None:
    assert not store_is_empty(seeded.uri)


def test_experiments_runs_and_tags(seeded: Seeded) -> None:
    assert {name: len(runs) for name, runs in seeded.runs.items()} == EXPECTED_RUNS
    for name in DEMO_EXPERIMENTS:
        exp = seeded.client.get_experiment_by_name(name)
        assert exp is not None
        assert {"team", "owner", "mlflow.note.content"} <= exp.tags.keys()
        assert exp.artifact_location.startswith((seeded.artifact_root / name).as_uri())
    for run in _all_runs(seeded):
        tags = run.data.tags
        assert run.info.run_name
        assert run.info.user_id == tags["mlflow.user"]
        assert tags["mlflow.source.name"] and tags["mlflow.source.type"]
        assert len(tags["mlflow.source.git.commit"]) == 40
        assert run.data.params


def test_statuses_and_times(seeded: Seeded) -> None:
    now_ms = time.time() * 1000
    runs = _all_runs(seeded)
    statuses = [run.info.status for run in runs]
    assert statuses.count("FINISHED") > len(runs) * 0.7
    assert "FAILED" in statuses and "KILLED" in statuses
    assert 2 <= statuses.count("RUNNING") <= 3
    for run in runs:
        info = run.info
        assert now_ms - 32 * 86_400_000 < info.start_time < now_ms
        if info.status == "RUNNING":
            assert info.end_time is None
        else:
            assert info.end_time is not None
            assert info.start_time < info.end_time < now_ms


def test_nested_runs_point_at_existing_parents(seeded: Seeded) -> None:
    by_id = {run.info.run_id: run for run in _all_runs(seeded)}
    children = [r for r in by_id.values() if "mlflow.parentRunId" in r.data.tags]
    assert len(children) >= 10
    for child in children:
        parent = by_id.get(child.data.tags["mlflow.parentRunId"])
        assert parent is not None
        assert parent.info.experiment_id == child.info.experiment_id
        assert parent.info.start_time <= child.info.start_time
        assert child.info.end_time is not None and parent.info.end_time is not None
        assert child.info.end_time <= parent.info.end_time


def test_metric_histories_have_at_least_20_points(seeded: Seeded) -> None:
    client = seeded.client
    longest = 0
    for run in _all_runs(seeded):
        assert run.data.metrics, run.info.run_name
        for key in run.data.metrics:
            history = client.get_metric_history(run.info.run_id, key)
            assert len(history) >= 20, (run.info.run_name, key)
            steps = [m.step for m in history]
            assert steps == sorted(steps)
            stamps = [m.timestamp for m in history]
            assert run.info.start_time <= min(stamps)
            if run.info.end_time is not None:
                assert max(stamps) <= run.info.end_time
            longest = max(longest, len(history))
    assert longest <= 150


def test_losses_fall_and_scores_rise(seeded: Seeded) -> None:
    client = seeded.client
    for run in seeded.runs["fraud-detection-xgb"]:
        if run.info.status != "FINISHED":
            continue
        auc = [m.value for m in client.get_metric_history(run.info.run_id, "val_auc")]
        loss = [m.value for m in client.get_metric_history(run.info.run_id, "train_logloss")]
        assert auc[-1] > auc[0] and 0.5 < auc[-1] < 1.0
        assert loss[-1] < loss[0]


def test_aliases_resolve_to_versions_of_existing_runs(seeded: Seeded) -> None:
    client = seeded.client
    assert {m.name for m in client.search_registered_models()} == set(DEMO_MODELS)
    for name in DEMO_MODELS:
        model = client.get_registered_model(name)
        assert model.description
        versions = client.search_model_versions(f"name='{name}'")
        assert 3 <= len(versions) <= 5
        assert all(v.tags.get("validation_status") for v in versions)
        resolved = {}
        for alias in ("champion", "challenger"):
            mv = client.get_model_version_by_alias(name, alias)
            assert mv.source == f"runs:/{mv.run_id}/model"
            run = client.get_run(mv.run_id)
            assert run.info.status == "FINISHED"
            artifacts = [a.path for a in client.list_artifacts(mv.run_id, "model")]
            assert "model/MLmodel" in artifacts
            resolved[alias] = int(mv.version)
        assert resolved["champion"] != resolved["challenger"]
        champion = client.get_model_version(name, str(resolved["champion"]))
        assert champion.tags["validation_status"] == "passed"


def test_some_runs_have_small_artifacts(seeded: Seeded) -> None:
    client = seeded.client
    paths = set()
    for run in _all_runs(seeded):
        paths.update(a.path for a in client.list_artifacts(run.info.run_id))
    assert {"config.yaml", "model", "eval"} <= paths


def test_seeding_twice_is_refused(seeded: Seeded) -> None:
    with pytest.raises(ValueError, match="already exists"):
        seed_demo(seeded.uri, seeded.artifact_root)
    assert {name: len(runs) for name, runs in _runs_by_experiment(seeded.client).items()} == (
        EXPECTED_RUNS
    )


def test_same_seed_gives_same_run_names(seeded: Seeded, tmp_path: Path) -> None:
    again = _seed(tmp_path)
    assert again.summary == seeded.summary
    for name in DEMO_EXPERIMENTS:
        first = sorted(run.info.run_name for run in seeded.runs[name])
        second = sorted(run.info.run_name for run in again.runs[name])
        assert first == second
