"""Sync of the MLflow model registry into the cache.

A registry is small (models, versions and aliases, no histories), so each pass reads it whole
and replaces the cached copy in one transaction. MLflow keeps no history of where an alias
pointed: comparing each snapshot with the cached one is how moves made by other clients are
noticed and recorded (see `cache.registry.replace_registry`).
"""

from __future__ import annotations

from collections.abc import Callable

from mlopstui import timefmt
from mlopstui.adapters import PartialSync
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
        # Entries the server sent in a shape we cannot read keep their cached rows, and the
        # pass fails naming them (after writing the rest), so the feed says what is wrong.
        skipped_models = {name for name, _why in self.registry.skipped_models}
        skipped_versions = {
            (name, version) for name, version, _why in self.registry.skipped_versions
        }
        with self.writer.transaction() as conn:
            diff = registry_store.replace_registry(
                conn,
                models,
                versions,
                now=timefmt.now(),
                keep_models=skipped_models,
                keep_versions=skipped_versions,
            )
        if diff.changed:
            self.on_batch({TOPIC})
        problems = self.registry.skipped
        if problems:
            named = "; ".join(why for _name, why in problems[:3])
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise PartialSync(
                f"{len(problems)} registry entries could not be read and were left as cached: "
                f"{named}{more}"
            )
        return len(models) + len(versions)
