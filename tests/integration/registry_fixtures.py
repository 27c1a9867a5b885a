"""Helpers for model registry tests: registered models made with the official `MlflowClient`, and
a version put in a state MLflow's API cannot put it in (by editing the server's database).

Import as `from registry_fixtures import make_model, set_version_status` (tests/integration is on
sys.path for its test modules, like helpers.py).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

# MLflow's version statuses (ModelVersionStatus).
READY = "READY"
PENDING = "PENDING_REGISTRATION"
FAILED = "FAILED_REGISTRATION"


def make_model(client: Any, name: str, n_versions: int, *, experiment_id: str = "0") -> list[str]:
    """Register `name` with `n_versions` versions, each from a run of its own; returns the
    versions as str ("1", "2", ...). A version's source must be `runs:/<run_id>/...`.
    """
    client.create_registered_model(name)
    made = []
    for _ in range(n_versions):
        run = client.create_run(experiment_id)
        run_id = run.info.run_id
        client.set_terminated(run_id)
        version = client.create_model_version(name, f"runs:/{run_id}/model", run_id)
        made.append(str(version.version))
    return made


def _db_path(server: Any) -> Path:
    """The SQLite file behind an MlflowServer, a `sqlite:///` URI, or a path."""
    if hasattr(server, "db_path"):
        return Path(server.db_path)
    text = str(server)
    return Path(text.removeprefix("sqlite:///")) if text.startswith("sqlite:///") else Path(text)


def set_version_status(server: Any, name: str, version: str, status: str) -> None:
    """Set a version's status in the backend database directly (MLflow's API has no call for
    it): e.g. PENDING_REGISTRATION, as a registration still uploading would show."""
    conn = sqlite3.connect(_db_path(server), timeout=10)
    try:
        with conn:
            cur = conn.execute(
                "UPDATE model_versions SET status = ? WHERE name = ? AND version = ?",
                (status, name, int(version)),
            )
        assert cur.rowcount == 1, f"no version {version} of {name!r} in {_db_path(server)}"
    finally:
        conn.close()
