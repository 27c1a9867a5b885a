"""The headless workbench: settings -> cache -> sources -> sync jobs, shared by CLI and UI.

Building it imports no backend client; MLflow is imported by the first sync in a worker.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

from mlopstui.adapters import SourceError
from mlopstui.cache import db
from mlopstui.config import Settings
from mlopstui.sync.scheduler import Job, Scheduler

HEARTBEAT_INTERVAL = 3.0
HEARTBEAT_TIMEOUT = 2.0


class Workbench:
    """One session: the cache writer, the sources and their sync jobs."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.writer = db.Writer(db.open_writer(settings.cache_path))
        self.scheduler = Scheduler(self.writer)
        self._mlflow = None
        self._run_sync = None
        self._registry = None
        self._registry_sync = None
        self._heartbeat_source = None
        self._pipeline = None
        self._kube = None
        self._kube_loaded = False
        self.kube_error: str | None = None
        self._closers: list[Callable[[], None]] = []

    @property
    def cache_path(self) -> Path:
        """The cache file in use."""
        return self.writer.path

    @property
    def note(self) -> str | None:
        """A note from opening the cache (e.g. it was rebuilt), for the UI and CLI."""
        return self.writer.note

    def reader(self):  # noqa: ANN201 - sqlite3.Connection
        """A new read-only connection to the cache."""
        return db.open_reader(self.cache_path)

    @property
    def mlflow(self):  # noqa: ANN201 - MlflowSource
        """The MLflow source (constructed lazily; imports nothing until used)."""
        if self._mlflow is None:
            from mlopstui.adapters.mlflow import MlflowSource

            s = self.settings.mlflow
            self._mlflow = MlflowSource(
                self.settings.tracking_uri, timeout=s.request_timeout, max_retries=s.max_retries
            )
        return self._mlflow

    @property
    def run_sync(self):  # noqa: ANN201 - MlflowRunSync
        """The incremental MLflow run sync."""
        if self._run_sync is None:
            from mlopstui.sync.mlflow_runs import MlflowRunSync

            s = self.settings.mlflow
            self._run_sync = MlflowRunSync(
                self.mlflow,
                self.writer,
                page_size=s.page_size,
                sweep_interval=s.sweep_interval,
                on_batch=lambda topics: self.scheduler.announce("mlflow", topics),
            )
        return self._run_sync

    @property
    def registry(self):  # noqa: ANN201 - MlflowRegistry
        """The MLflow model registry (over the same source; imports nothing until used)."""
        if self._registry is None:
            from mlopstui.adapters.mlflow_registry import MlflowRegistry

            self._registry = MlflowRegistry(self.mlflow)
        return self._registry

    @property
    def registry_sync(self):  # noqa: ANN201 - MlflowRegistrySync
        """The MLflow model registry sync (a full snapshot each pass)."""
        if self._registry_sync is None:
            from mlopstui.sync.mlflow_registry import MlflowRegistrySync

            self._registry_sync = MlflowRegistrySync(
                self.registry,
                self.writer,
                on_batch=lambda topics: self.scheduler.announce("mlflow", topics),
            )
        return self._registry_sync

    def _heartbeat(self) -> int:
        """A cheap request between polls, so a dead server shows within seconds.

        It has a source of its own: lowering the shared source's timeout would also cut short
        a page the runs job is fetching at that moment on its own thread.
        """
        if self._heartbeat_source is None:
            from mlopstui.adapters.mlflow import MlflowSource

            timeout = min(self.settings.mlflow.request_timeout, HEARTBEAT_TIMEOUT)
            self._heartbeat_source = MlflowSource(
                self.settings.tracking_uri, timeout=timeout, max_retries=0
            )
        self._heartbeat_source.ping()
        return 0

    def jobs(self, *, heartbeat: bool = True) -> list[Job]:
        """The sync jobs of every configured source."""
        interval = self.settings.mlflow.poll_interval
        jobs = [
            Job("mlflow", "runs", interval, lambda: self.run_sync.sync_once()),
            Job("mlflow", "registry", interval, lambda: self.registry_sync.sync_once()),
        ]
        if heartbeat and self.settings.tracking_uri.startswith(("http://", "https://")):
            jobs.append(Job("mlflow", "health", HEARTBEAT_INTERVAL, self._heartbeat, quiet_ok=True))
        from mlopstui.sync import gpus as gpu_sync
        from mlopstui.sync import kubernetes as kube_sync

        jobs += kube_sync.jobs(
            self.settings, self.writer, self.scheduler.announce, source=self.kube
        )
        gpu_jobs = gpu_sync.jobs(self.settings, self.writer, self.scheduler.announce)
        self._closers.append(lambda: gpu_sync.close(gpu_jobs))
        return jobs + gpu_jobs

    def start(self, listener: Callable[[str, set[str]], None] | None = None) -> None:
        """Start background sync."""
        if listener:
            self.scheduler.listeners.append(listener)
        for job in self.jobs():
            self.scheduler.add(job)
        self.scheduler.start()

    @property
    def kube_loaded(self) -> bool:
        """Whether the kubeconfig has been read (and the context pinned) yet."""
        return self._kube_loaded

    @property
    def kube(self):  # noqa: ANN201 - KubeSource | None
        """The session's Kubernetes source, its context pinned when first asked for (None when
        Kubernetes is off, no kubeconfig exists, or it is unusable: see `kube_error`)."""
        if not self._kube_loaded:
            self._kube_loaded = True
            from mlopstui.sync import kubernetes as kube_sync

            try:
                self._kube = kube_sync.source_for(self.settings)
            except SourceError as exc:
                self.kube_error = str(exc)
            else:
                if self._kube is not None:
                    self._closers.append(self._kube.close)
        return self._kube

    @property
    def pipeline(self):  # noqa: ANN201 - Pipeline
        """The action pipeline every write of this session goes through (built on first use)."""
        if self._pipeline is None:
            from mlopstui.actions.wiring import build_pipeline

            self._pipeline = build_pipeline(self)
        return self._pipeline

    def close(self) -> None:
        """Stop sync, release the sources and close the cache and the audit log."""
        self.scheduler.stop()
        for closer in self._closers:
            # Releasing one source must never stop the rest from closing.
            with contextlib.suppress(Exception):
                closer()
        if self._pipeline is not None:
            self._pipeline.close()
        self.writer.close()


__all__ = ["Workbench", "SourceError"]
