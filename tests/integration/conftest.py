"""Fixtures that start a real MLflow tracking server (see tests/services.py for why)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# helpers.py is imported by several test modules: rewrite its asserts once, before any does.
pytest.register_assert_rewrite("helpers")

from services import MlflowServer, SeededDataset, seed_mlflow_store  # noqa: E402


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """One empty server shared by the session: tests must not depend on each other's data."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-shared"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def fresh_mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A private server (own port, own db) for tests that kill or restart it."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-fresh"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def seeded_mlflow_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[MlflowServer, SeededDataset]]:
    """A server over the known dataset, seeded through the embedded store before it starts.

    Treat it as read-only: tests that write should use `mlflow_server` or `fresh_mlflow_server`.
    """
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-seeded"))
    try:
        dataset = seed_mlflow_store(server.backend_uri, server.artifact_root)
        yield server.start(), dataset
    finally:
        server.stop()
