"""The model registry sync against a real MLflow server: the workbench's registry job fills the
cache, alias moves made by other clients between syncs are recorded, and `sync --once` reports it.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli  # noqa: E402
from registry_fixtures import PENDING, make_model, set_version_status  # noqa: E402
from services import MlflowServer  # noqa: E402

from mlopstui.cache import registry as registry_store  # noqa: E402

pytestmark = pytest.mark.mlflow_server
# Fixtures from helpers.py: make_workbench.
pytest_plugins = ["helpers"]

REGISTRY_LINE = re.compile(r"^mlflow-registry: registry: ok, (\d+) rows in [\d.]+ s$", re.MULTILINE)


def _client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(uri)


def _registry_job(bench: Any) -> Any:
    (job,) = [j for j in bench.jobs(heartbeat=False) if j.name == "registry"]
    assert job.source == "mlflow-registry"
    assert job.interval == bench.settings.mlflow.poll_interval
    return job


def test_registry_job_syncs_models_and_versions(mlflow_server: MlflowServer, make_workbench):
    name = f"sync-{uuid.uuid4().hex[:8]}"
    client = _client(mlflow_server.url)
    make_model(client, name, 3)
    client.set_registered_model_alias(name, "champion", "2")
    client.set_model_version_tag(name, "3", "stage", "canary")
    set_version_status(mlflow_server, name, "3", PENDING)

    bench = make_workbench(mlflow_server.url)
    topics: list[set[str]] = []
    bench.scheduler.listeners.append(lambda source, t: topics.append(set(t)))
    record = bench.scheduler.run_job(_registry_job(bench))
    assert record.ok, record.error
    assert record.rows >= 4  # this model and its 3 versions, plus other tests' models
    assert {"registry"} in topics

    with bench.reader() as conn:
        model = registry_store.model(conn, name)
        assert model is not None
        assert (model.aliases, model.latest_version, model.version_count) == (
            {"champion": "2"},
            "3",
            3,
        )
        versions = registry_store.versions(conn, name)
        assert [(v.version, v.status, v.aliases) for v in versions] == [
            ("3", PENDING, ()),
            ("2", "READY", ("champion",)),
            ("1", "READY", ()),
        ]
        assert versions[0].tags == {"stage": "canary"}
        (seen,) = registry_store.alias_history(conn, name)
        assert (seen.alias, seen.from_version, seen.to_version, seen.how) == (
            "champion",
            None,
            "2",
            "seen",
        )

    # Nothing changed: no registry announcement (the scheduler still announces freshness) and
    # no new history.
    topics.clear()
    assert bench.scheduler.run_job(_registry_job(bench)).ok
    assert not any("registry" in t for t in topics), topics
    with bench.reader() as conn:
        assert len(registry_store.alias_history(conn, name)) == 1


def test_alias_moved_by_another_client_is_observed(mlflow_server: MlflowServer, make_workbench):
    name = f"moved-{uuid.uuid4().hex[:8]}"
    client = _client(mlflow_server.url)
    make_model(client, name, 3)
    client.set_registered_model_alias(name, "champion", "1")
    bench = make_workbench(mlflow_server.url)
    bench.source("mlflow").registry_sync.sync_once()

    client.set_registered_model_alias(name, "champion", "3")  # someone else promotes
    client.set_registered_model_alias(name, "challenger", "2")
    bench.source("mlflow").registry_sync.sync_once()
    client.delete_registered_model_alias(name, "challenger")
    bench.source("mlflow").registry_sync.sync_once()

    with bench.reader() as conn:
        history = registry_store.alias_history(conn, name, "champion")
        assert [(h.from_version, h.to_version, h.how, h.who) for h in history] == [
            ("1", "3", "observed", ""),
            (None, "1", "seen", ""),
        ]
        challenger = registry_store.alias_history(conn, name, "challenger")
        assert [(h.from_version, h.to_version, h.how) for h in challenger] == [
            ("2", None, "observed"),
            (None, "2", "observed"),
        ]
        assert registry_store.model(conn, name).aliases == {"champion": "3"}


def test_sync_once_prints_a_registry_line(mlflow_server: MlflowServer, tmp_path: Path) -> None:
    name = f"cli-{uuid.uuid4().hex[:8]}"
    make_model(_client(mlflow_server.url), name, 2)
    cache = tmp_path / "c.sqlite"
    result = run_cli("--cache", str(cache), "--tracking-uri", mlflow_server.url, "sync", "--once")
    assert result.returncode == 0, result.output
    assert "Traceback" not in result.output
    match = REGISTRY_LINE.search(result.stdout)
    assert match, result.stdout
    assert int(match.group(1)) >= 3

    from mlopstui.cache import db

    conn = db.open_reader(cache)
    try:
        assert [v.version for v in registry_store.versions(conn, name)] == ["2", "1"]
    finally:
        conn.close()
