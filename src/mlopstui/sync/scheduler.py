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
from dataclasses import dataclass, field, replace

from mlopstui import timefmt
from mlopstui.cache import syncs
from mlopstui.cache.db import Writer
from mlopstui.domain import Freshness, JobFreshness, SyncRecord

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
    state: JobFreshness | None = None
    """How the job stands now, kept in memory (seeded from the cache's records at start): the
    status bar reads this, so a failure shows even when it cannot be recorded (a full disk, a
    damaged cache)."""


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

    def freshness(self, feed: str) -> Freshness | None:
        """The feed's freshness from its running jobs (None when no job of it runs here)."""
        states = [j.state for j in self.jobs if j.source == feed and j.state is not None]
        return Freshness.of(feed, states) if states else None

    def _seed(self) -> None:
        """Each job's standing from the records of earlier sessions (best effort)."""
        known: dict[str, dict[str, JobFreshness]] = {}
        try:
            with self.writer.transaction() as conn:
                for feed in {j.source for j in self.jobs}:
                    known[feed] = {s.job: s for s in syncs.job_freshness(conn, feed)}
        except Exception as exc:  # an unreadable cache: every job starts unknown
            log.warning("could not read earlier sync records: %s", exc)
        for job in self.jobs:
            seed = known.get(job.source, {}).get(job.name)
            job.state = JobFreshness(
                job.name,
                seed.last_ok if seed else None,
                seed.failing_since if seed else None,
                seed.error if seed else None,
                seed.last_attempt if seed else None,
                heartbeat=_heartbeat(job),
            )

    def start(self) -> None:
        """Start one daemon thread per job."""
        self._seed()
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
            record = SyncRecord(
                job.source, job.name, started, timefmt.now(), False, _reason(exc), 0
            )
            if getattr(exc, "backoff", True):  # a partial pass (PartialSync) keeps its pace
                job.failures += 1
        else:
            record = SyncRecord(job.source, job.name, started, timefmt.now(), True, None, rows)
            job.failures = 0
        self._remember(job, record)
        if record.ok:
            if job.quiet_ok and not was_failing:
                return record
            if job.quiet_ok:
                # The source is back: refresh its data now rather than at the next interval
                # (its feeds: this one and those named after it, "mlflow-registry").
                for other in self.jobs:
                    same = other.source == job.source or other.source.startswith(job.source + "-")
                    if same and not other.quiet_ok:
                        other.wake.set()
        try:
            with self.writer.transaction() as conn:
                syncs.record_sync(conn, record)
        except Exception as exc:  # the state in memory still shows it
            log.warning("could not record a sync attempt: %s", exc)
            if record.ok:
                # Data written, its record not: say so rather than show "synced".
                self._remember(job, replace(record, ok=False, error=f"cannot record: {exc}"))
        self.announce(job.source, {"freshness"})
        return record

    @staticmethod
    def _remember(job: Job, record: SyncRecord) -> None:
        old = job.state
        end = record.finished or record.started
        if record.ok:
            job.state = JobFreshness(job.name, end, None, None, end, heartbeat=_heartbeat(job))
            return
        since = old.failing_since if old is not None and old.failing_since is not None else None
        job.state = JobFreshness(
            job.name,
            old.last_ok if old is not None else None,
            since if since is not None else record.started,
            record.error,
            end,
            heartbeat=_heartbeat(job),
        )

    def _loop(self, job: Job) -> None:
        while not self._stop.is_set():
            job.wake.clear()
            self.run_job(job)
            delay = job.interval
            if job.failures:
                cap = HEARTBEAT_MAX_BACKOFF if job.quiet_ok else MAX_BACKOFF
                delay = min(job.interval * 2 ** (job.failures - 1), max(cap, job.interval))
            job.wake.wait(delay)


def _reason(exc: BaseException) -> str:
    """A failure as one line: the message, or the exception's name when it has none."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def _heartbeat(job: Job) -> bool:
    """Whether a job only checks liveness (its successes are not data): the same rule as the
    records' (`syncs.HEARTBEAT_JOBS`). `quiet_ok` is not it: NVML's 1 Hz job is quiet and
    brings data."""
    return job.name in syncs.HEARTBEAT_JOBS
