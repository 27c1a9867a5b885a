"""The headless workbench: settings -> cache -> sources -> sync jobs, shared by CLI and UI.

It names no source: it opens every source of the catalogue (`mlopstui.sources.catalog`) and
loops over them. Building it imports no backend client; clients are built by the first sync
in a worker thread.
"""

from __future__ import annotations

import getpass
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mlopstui.adapters import SourceError
from mlopstui.cache import db
from mlopstui.config import Settings
from mlopstui.domain import Freshness
from mlopstui.sources import Source, SourceEnv
from mlopstui.sources.catalog import SourceSet
from mlopstui.sync.scheduler import Job, Scheduler

if TYPE_CHECKING:
    from mlopstui.actions.pipeline import Pipeline


class Workbench:
    """One session: the cache writer, the sources and their sync jobs."""

    def __init__(self, settings: Settings, *, sources: SourceSet | None = None) -> None:
        self.settings = settings
        self.writer = db.Writer(db.open_writer(settings.cache_path))
        self.scheduler = Scheduler(self.writer)
        self.user = getpass.getuser()
        self.sources = sources if sources is not None else SourceSet(self._env_for)
        self._pipeline: Pipeline | None = None
        self._started_sources: list[Source] = []
        # A cache rebuilt after damage is empty: every feed syncs into it now, not at its next
        # interval (the MLflow runs sync starts over: its watermarks were in the old file).
        self.writer.on_rebuilt.append(lambda note: self.scheduler.trigger())

    def _env_for(self, name: str) -> SourceEnv:
        return SourceEnv(
            settings=self.settings,
            config=dict(self.settings.sources.get(name, {})),
            writer=self.writer,
            reader=self.reader,
            announce=self.scheduler.announce,
            user=self.user,
        )

    @property
    def cache_path(self) -> Path:
        """The cache file in use."""
        return self.writer.path

    @property
    def note(self) -> str | None:
        """A note from opening the cache, or from rebuilding it after damage, for the UI and
        CLI."""
        return self.writer.note

    @property
    def generation(self) -> int:
        """How many times the cache was rebuilt in this session: a reader opened at an older
        generation reads the damaged file that was moved aside."""
        return self.writer.generation

    def recover(self, exc: BaseException, generation: int | None = None) -> bool:
        """A reader (opened at `generation`) hit `exc`: when it is damage to the file, move
        the cache aside and rebuild it (see `cache.db.Writer.recover`); the caller then opens
        a new reader. Returns whether `exc` was damage (rebuilt now or already); raises
        CacheError when the cache could not be rebuilt."""
        if not db.is_damage(exc):
            return False
        self.writer.recover(exc, generation)
        return True

    def reader(self) -> sqlite3.Connection:
        """A new read-only connection to the cache."""
        return db.open_reader(self.cache_path)

    def source(self, name: str) -> Source | None:
        """The opened source of that name (None when there is none)."""
        return self.sources.get(name)

    def sync_now(self, source: str | None = None) -> None:
        """Run the jobs of every feed of a source (of every source when None) now instead of
        at their next time. A name that is no source is taken as a feed."""
        found = self.sources.get(source) if source else None
        feeds = found.feed_names() if found is not None else (source,)
        for feed in feeds:
            self.scheduler.trigger(feed)

    def freshness(self, feed: str, conn: sqlite3.Connection) -> Freshness:
        """How fresh a feed is: from its running jobs while sync runs in this session (so a
        failure shows even when it could not be recorded), else from the cache's records."""
        live = self.scheduler.freshness(feed)
        if live is not None:
            return live
        from mlopstui.cache import syncs

        return syncs.freshness(conn, feed)

    def jobs(self, *, heartbeat: bool = True) -> list[Job]:
        """The sync jobs of every source (plugins are loaded first). A source whose `jobs()`
        raises gives one failing job instead, so the reason shows where sync status does."""
        self.sources.load_plugins()
        out: list[Job] = []
        for source in self.sources:
            try:
                out += source.jobs(heartbeat=heartbeat)
            except Exception as exc:
                out.append(_broken_job(source, exc))
        return out

    def start(self, listener: Callable[[str, set[str]], None] | None = None) -> None:
        """Start background sync."""
        if listener:
            self.scheduler.listeners.append(listener)
        for job in self.jobs():
            self.scheduler.add(job)
        self.scheduler.start()

    @property
    def pipeline(self) -> Pipeline:
        """The action pipeline every write of this session goes through (built on first use)."""
        if self._pipeline is None:
            from mlopstui.actions.wiring import build_pipeline

            self._pipeline = build_pipeline(self)
        return self._pipeline

    def close(self) -> None:
        """Stop sync, release the sources and close the cache and the audit log."""
        self.scheduler.stop()
        self.sources.close()
        if self._pipeline is not None:
            self._pipeline.close()
        self.writer.close()


def _broken_job(source: Source, exc: Exception) -> Job:
    """A job that reports why a source could not give its jobs, once a minute."""
    reason = f"{source.name} could not start syncing: {exc}"

    def broken() -> int:
        raise SourceError(reason)

    return Job(source.feed_names()[0], "setup", 60.0, broken)


__all__ = ["Workbench", "SourceError"]
