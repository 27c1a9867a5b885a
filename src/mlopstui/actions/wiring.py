"""Builds the session's Pipeline from a Workbench: every source's executors, its read-only
rule and its label, and the audit log. Names no source."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from mlopstui.actions.pipeline import Executor, Pipeline
from mlopstui.cache.audit import AuditLog

if TYPE_CHECKING:
    from mlopstui.sources import Source
    from mlopstui.workbench import Workbench

log = logging.getLogger(__name__)
ACTION_TIMEOUT = 30.0


def build_pipeline(workbench: Workbench, *, audit_path: Path | None = None) -> Pipeline:
    """The pipeline every write of this session goes through (UI and CLI alike)."""
    settings = workbench.settings
    sources = workbench.sources
    sources.load_plugins()
    executors: list[Executor] = []
    for source in sources:
        try:
            offered = source.executors()
        except Exception:  # a source that cannot offer actions still syncs and shows
            log.exception("source %s could not build its executors", source.name)
            continue
        executors += [e for e in offered if e.source == source.name]

    def read_only(name: str) -> bool:
        source = sources.get(name)
        return settings.read_only if source is None else source.read_only()

    def label(name: str) -> str:
        source = sources.get(name)
        return name if source is None else (source.info().audit_label or name)

    def resync(name: str, topics: set[str]) -> None:
        source = sources.get(name)
        workbench.scheduler.announce(source.feed_names()[0] if source else name, topics)
        if not workbench.scheduler.stopped:
            workbench.sync_now(name)

    return Pipeline(
        executors,
        read_only=read_only,
        source_label=label,
        audit=lambda: AuditLog(audit_path),
        resync=resync,
        timeout=max([ACTION_TIMEOUT, *(_timeout(s) for s in sources)]),
        user=workbench.user,
    )


def _timeout(source: Source) -> float:
    try:
        return float(source.action_timeout())
    except Exception:  # a plugin's broken timeout never blocks the pipeline
        return 0.0
