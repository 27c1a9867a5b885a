"""Runs sync jobs in background threads: one thread per job, so a job's polls never overlap.

The next poll is scheduled when the last one finished (never on a fixed tick), failures back
off exponentially, every attempt is recorded in the cache, and `stop()` wakes every sleeping
thread so quitting never waits for an interval. Nothing here touches the UI: listeners get
`(source, topics)` calls from these threads and must hand them to their own loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from mlopstui import timefmt
from mlopstui.cache import syncs
from mlopstui.cache.db import Writer
from mlopstui.domain import SyncRecord

log = logging.getLogger(__name__)
MAX_BACKOFF = 120.0
# A heartbeat is also what notices a source coming back (and wakes its data jobs): backing it
# off to MAX_BACKOFF would leave a recovered server shown as failing for up to two minutes.
HEARTBEAT_MAX_BACKOFF = 15.0

Listener = Callable[[str, set[str]], None]


@dataclass
class Job:
    """A recurring sync: `run()` returns rows written or raises."""

    source: str
    name: str
    """The job within its feed ('runs', 'registry', 'health', 'nodes', 'prune').
    Recorded in the `topic` column of `sync_runs` (an old name: it is not a cache topic)."""
    interval: float
    run: Callable[[], int]
    quiet_ok: bool = False
    """A heartbeat: a success after a success is not recorded (idle costs nothing)."""
    note: Callable[[], str | None] | None = None
    """Why a successful run brought nothing (e.g. no NVML on this host), for `sync --once`."""
    housekeeping: bool = False
    """Tidies the cache (retention) rather than syncing a source: `sync --once` runs it
    without printing a line for it."""
    failures: int = 0
    wake: threading.Event = field(default_factory=threading.Event)


class Scheduler:
    """Owns the sync threads of one workbench."""

    def __init__(self, writer: Writer) -> None:
        self.writer = writer
        self.jobs: list[Job] = []
        self.listeners: list[Listener] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def add(self, job: Job) -> None:
        """Register a job (before `start`)."""
        self.jobs.append(job)

    def announce(self, source: str, topics: set[str]) -> None:
        """Tell listeners that topics of a source changed in the cache."""
        for listener in list(self.listeners):
            try:
                listener(source, topics)
            except Exception:  # a listener must never stop sync
                log.exception("sync listener failed")

    def start(self) -> None:
        """Start one daemon thread per job."""
        for job in self.jobs:
            t = threading.Thread(
                target=self._loop, args=(job,), name=f"sync-{job.source}-{job.name}"
            )
            t.daemon = True
            t.start()
            self._threads.append(t)

    def trigger(self, source: str | None = None) -> None:
        """Run the jobs of a source (all when None) now instead of at their next time."""
        for job in self.jobs:
            if source in (None, job.source):
                job.wake.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask every thread to finish and wait at most `timeout` in all (they are daemons:
        a poll stuck in a request cannot delay quitting beyond that)."""
        import time

        self._stop.set()
        for job in self.jobs:
            job.wake.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    @property
    def stopped(self) -> bool:
        """True once stop() was called."""
        return self._stop.is_set()

    def run_job(self, job: Job) -> SyncRecord:
        """Run a job once and record the attempt (also used by `mlopstui sync --once`)."""
        started = timefmt.now()
        was_failing = job.failures > 0
        try:
            rows = job.run()
        except Exception as exc:  # recorded and shown; the loop carries on
            record = SyncRecord(job.source, job.name, started, timefmt.now(), False, str(exc), 0)
            job.failures += 1
        else:
            record = SyncRecord(job.source, job.name, started, timefmt.now(), True, None, rows)
            job.failures = 0
            if job.quiet_ok and not was_failing:
                return record
            if job.quiet_ok:
                # The source is back: refresh its data now rather than at the next interval.
                for other in self.jobs:
                    if other.source == job.source and not other.quiet_ok:
                        other.wake.set()
        try:
            with self.writer.transaction() as conn:
                syncs.record_sync(conn, record)
        except Exception:
            log.exception("could not record a sync attempt")
        self.announce(job.source, {"freshness"})
        return record

    def _loop(self, job: Job) -> None:
        while not self._stop.is_set():
            job.wake.clear()
            self.run_job(job)
            delay = job.interval
            if job.failures:
                cap = HEARTBEAT_MAX_BACKOFF if job.quiet_ok else MAX_BACKOFF
                delay = min(job.interval * 2 ** (job.failures - 1), max(cap, job.interval))
            job.wake.wait(delay)
