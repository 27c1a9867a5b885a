"""Sync of the MLflow model registry into the cache.

A registry is small (models, versions and aliases, no histories), so each pass reads it whole
and replaces the cached copy in one transaction. MLflow keeps no history of where an alias
pointed: comparing each snapshot with the cached one is how moves made by other clients are
noticed and recorded (see `cache.registry.replace_registry`).
"""

from __future__ import annotations

from collections.abc import Callable

from mlopstui import timefmt
from mlopstui.adapters.mlflow_registry import MlflowRegistry
from mlopstui.cache import registry as registry_store
from mlopstui.cache.db import Writer

TOPIC = "registry"


class MlflowRegistrySync:
    """One source's model registry; `sync_once()` is called by the scheduler."""

    def __init__(
        self,
        registry: MlflowRegistry,
        writer: Writer,
        on_batch: Callable[[set[str]], None] | None = None,
    ) -> None:
        self.registry = registry
        self.writer = writer
        self.on_batch = on_batch or (lambda topics: None)

    def sync_once(self) -> int:
        """One full pass; returns how many models and versions were read. Raises SourceError."""
        models = self.registry.models()
        versions = self.registry.versions()
        with self.writer.transaction() as conn:
            diff = registry_store.replace_registry(conn, models, versions, now=timefmt.now())
        if diff.changed:
            self.on_batch({TOPIC})
        return len(models) + len(versions)
