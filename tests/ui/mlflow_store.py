"""A real embedded MLflow store (sqlite) for the Pilot tests that carry out registry actions.

Building one takes a few seconds (MLflow creates its schema), so one template is made per test
session and each test gets a copy of its file: every test starts from the same registry and
changes only its own. The app is given what the workbench would build: a cache synced from the
store through the real registry and run syncs, and the real action pipeline with an audit log
of its own.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlopstui import config
from mlopstui.actions.wiring import build_pipeline
from mlopstui.ui.app import MlopsApp
from mlopstui.workbench import Workbench

from .builders import THEME, CannedFetcher

MODEL = "fraud"
DB = "mlflow.db"


@dataclass
class Store:
    """A copy of the template store: its tracking URI and the run behind every version."""

    uri: str
    run_id: str

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(self.uri)

    def aliases(self, model: str = MODEL) -> dict[str, str]:
        """The model's aliases as MLflow has them now (version as str)."""
        found = self.client().get_registered_model(model)
        return {alias: str(version) for alias, version in found.aliases.items()}


def build_template(directory: Path) -> str:
    """Create the template store; returns its source run id."""
    from mlflow import MlflowClient

    directory.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(f"sqlite:///{directory / DB}")
    exp = client.create_experiment("fraud-training", artifact_location=str(directory / "art"))
    run = client.create_run(exp, run_name="trainer-1")
    rid = run.info.run_id
    client.log_param(rid, "max_depth", "8")
    client.log_metric(rid, "auc", 0.93)
    client.set_terminated(rid)
    client.create_registered_model(MODEL, description="Card fraud")
    for _ in range(3):
        client.create_model_version(MODEL, f"runs:/{rid}/model", run_id=rid)
    client.set_registered_model_alias(MODEL, "champion", "2")
    return rid


def copy_store(template: Path, run_id: str, directory: Path) -> Store:
    """A private copy of the template store under `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(template / DB, directory / DB)
    return Store(f"sqlite:///{directory / DB}", run_id)


def store_app(store: Store, directory: Path, *, read_only: bool = False) -> MlopsApp:
    """The workbench over the store: cache synced once (registry and runs), sync off, and the
    real pipeline with its audit log in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    settings = config.load(
        flags={
            "cache": str(directory / "cache.sqlite"),
            "mlflow.tracking_uri": store.uri,
            "read_only": True if read_only else None,
            "ui.theme": THEME,
        },
        environ={},
    )
    workbench = Workbench(settings)
    for job in workbench.jobs(heartbeat=False):  # one pass of each sync, recorded
        record = workbench.scheduler.run_job(job)
        assert record.ok, record.error
    pipeline = build_pipeline(workbench, audit_path=directory / "audit.sqlite")
    return MlopsApp(workbench, start_sync=False, fetcher=CannedFetcher(), pipeline=pipeline)
