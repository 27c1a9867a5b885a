"""Builds the session's Pipeline from a Workbench: its executors, gates and audit log."""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

from mlopstui.actions.pipeline import Pipeline
from mlopstui.cache.audit import AuditLog, redact

if TYPE_CHECKING:
    from mlopstui.workbench import Workbench

ACTION_TIMEOUT = 30.0


def build_pipeline(workbench: Workbench, *, audit_path=None) -> Pipeline:  # noqa: ANN001
    """The pipeline every write of this session goes through (UI and CLI alike)."""
    from mlopstui.actions import registry as registry_actions
    from mlopstui.adapters.mlflow import MlflowSource
    from mlopstui.adapters.mlflow_registry import MlflowRegistry

    settings = workbench.settings
    user = getpass.getuser()
    # Its own source (own HTTP session and timeout): an action never waits behind a sync page.
    source = MlflowSource(
        settings.tracking_uri, timeout=settings.mlflow.request_timeout, max_retries=0
    )
    label = redact(settings.tracking_source)
    executors = registry_actions.executors(
        MlflowRegistry(source), workbench.writer, workbench.reader, lambda: label, user
    )
    kube = workbench.kube
    if kube is not None:
        from mlopstui.actions import kube as kube_actions

        # The same pinned source as the watches: a changed kubeconfig never redirects an action.
        executors += kube_actions.executors(kube, workbench.writer)

    def read_only(source_name: str) -> bool:
        if source_name == "kubernetes":
            return settings.context_read_only(kube.context if kube is not None else None)
        return settings.source_read_only(source_name)

    def resync(source_name: str, topics: set[str]) -> None:
        workbench.scheduler.announce(source_name, topics)
        if not workbench.scheduler.stopped:
            workbench.scheduler.trigger(source_name)

    return Pipeline(
        executors,
        read_only=read_only,
        source_label=lambda name: label,
        audit=lambda: AuditLog(audit_path),
        resync=resync,
        timeout=max(ACTION_TIMEOUT, settings.mlflow.request_timeout * 2),
        user=user,
    )
