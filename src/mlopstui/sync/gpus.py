"""GPU metrics sync: DCGM series from Prometheus, this host's GPUs through NVML, and pruning.

- DCGM (every `gpu.dcgm_interval`): the first run, and any run after a gap (Prometheus down,
  the app closed), backfills up to the last hour with one range query; otherwise one instant
  query stores each GPU's current values.
- NVML (every `gpu.nvml_interval`, >= 1 s): this host's devices and GPU processes. Without
  NVML the job succeeds quietly once, stores the reason as a note the pane reads
  (`cache.gpus.note(conn, "nvml")`) and only looks again every two minutes, so the status bar
  never shows a failure for a laptop without a GPU. Successes are recorded at most once a
  minute (the job is quiet_ok; see `NvmlSync._record`).
- Prune (hourly): retention of samples and allocations, thinning of 1 Hz local samples.

Topic "gpus" is announced only when something a pane shows changed: an idle GPU polled every
second costs the terminal nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from mlopstui import timefmt
from mlopstui.adapters import SourceError
from mlopstui.cache import gpus as store
from mlopstui.cache import syncs
from mlopstui.cache.db import Writer
from mlopstui.domain import SyncRecord
from mlopstui.sync.scheduler import Job

log = logging.getLogger(__name__)

TOPIC = "gpus"
DCGM = "dcgm"
NVML = "nvml"
HISTORY = "gpu-history"
BACKFILL = 3600.0
"""Seconds of DCGM history fetched on the first run or after a gap."""
DCGM_STEP_MIN = 30.0
"""Backfill resolution floor: the DCGM exporter collects every 30 s by default."""
NVML_RECHECK = 120.0
"""Seconds between looks for NVML while it is absent."""
FRESHNESS_EVERY = 60.0
"""NVML records a successful sync at most this often (the status bar shows minutes)."""
PRUNE_INTERVAL = 3600.0

Announce = Callable[[str, set[str]], None]


class DcgmSync:
    """DCGM metrics from one Prometheus into the cache; `sync_once()` is the job."""

    def __init__(
        self,
        source: Any,
        writer: Writer,
        announce: Announce | None = None,
        *,
        interval: float = 30.0,
        backfill: float = BACKFILL,
    ) -> None:
        self.source = source
        self.writer = writer
        self.announce = announce or (lambda source, topics: None)
        self.interval = interval
        self.backfill = backfill
        self.step = max(DCGM_STEP_MIN, interval)
        self._last_at: int | None = None
        self._resumed = False
        self._generation = getattr(writer, "generation", 0)
        self._seen: dict[tuple[str, str], tuple] = {}

    def sync_once(self) -> int:
        """One poll; returns samples stored. Raises SourceError (SourceUnreachable when down)."""
        now = timefmt.now()
        generation = getattr(self.writer, "generation", 0)
        if generation != self._generation:  # a rebuilt cache: resume from what it holds
            self._generation, self._resumed = generation, False
        if not self._resumed:
            with self.writer.transaction() as conn:
                self._last_at = store.last_sample_at(conn, DCGM)
            self._resumed = True
        last = self._last_at
        if last is None or now - last > 2 * self.step + self.interval:
            start = now - self.backfill if last is None else max(now - self.backfill, last + 1)
            start = -(-start // self.step) * self.step  # on the exporter's 30 s grid
            samples = self.source.dcgm_range(start, now, self.step) if start <= now else []
        else:
            samples = self.source.dcgm_latest()
        if not samples:
            return 0
        with self.writer.transaction() as conn:
            rows = store.store_samples(conn, DCGM, samples)
        self._last_at = max(s.at for s in samples)
        newest = {(s.host, s.uuid): s.values() for s in samples}  # samples are oldest first
        backfilled = len(samples) > len(newest)
        if backfilled or any(self._seen.get(k) != v for k, v in newest.items()):
            self.announce(DCGM, {TOPIC})
        self._seen.update(newest)
        return rows


class NvmlSync:
    """This host's GPUs through NVML into the cache; `sync_once()` is the job.

    `note` is why NVML is not used (None while it is); the same text is in the cache for the
    pane. `job` is set by `jobs()`: while NVML is absent its interval is stretched."""

    def __init__(
        self,
        writer: Writer,
        announce: Announce | None = None,
        *,
        source: Any = None,
        interval: float = 1.0,
    ) -> None:
        if source is None:
            from mlopstui.adapters.nvml import NvmlSource

            source = NvmlSource()
        self.source = source
        self.writer = writer
        self.announce = announce or (lambda source, topics: None)
        self.interval = max(1.0, interval)
        self.note: str | None = None
        self.job: Job | None = None
        self._noted = False
        self._seen: tuple | None = None
        self._generation = getattr(writer, "generation", 0)
        self._recorded = float("-inf")

    @property
    def host(self) -> str:
        """The name this host's GPUs are stored under."""
        return self.source.host

    def sync_once(self) -> int:
        """One sample of every device and the process list; returns rows stored."""
        started = timefmt.now()
        ok, reason = self.source.available(recheck=True)
        topics = self._set_note(None if ok else reason)
        if not ok:
            with self.writer.transaction() as conn:
                topics |= self._record(conn, started, 0)
            if topics:
                self.announce(NVML, topics)
            return 0
        at = int(started)
        try:
            samples = self.source.devices(at)
            procs = self.source.processes(at)
        except SourceError:
            self.source.close()  # the next run initialises NVML again
            raise
        seen = (tuple(s.values() for s in samples), tuple(_procs_key(procs)))
        with self.writer.transaction() as conn:
            rows = store.store_samples(conn, NVML, samples)
            rows += store.store_processes(conn, self.host, procs)
            topics |= self._record(conn, started, rows)
        if seen != self._seen:
            self._seen = seen
            topics.add(TOPIC)
        if topics:
            self.announce(NVML, topics)
        return rows

    def _record(self, conn: Any, started: float, rows: int) -> set[str]:
        """Record a success at most every FRESHNESS_EVERY seconds. The job is quiet_ok, so the
        scheduler records only failures and recoveries: a row and a freshness message per
        second would cost writes and redraws for a status bar that shows minutes."""
        if started - self._recorded < FRESHNESS_EVERY:
            return set()
        rec = SyncRecord(NVML, TOPIC, started, timefmt.now(), True, None, rows)
        syncs.record_sync(conn, rec)
        self._recorded = started
        return {"freshness"}

    def _set_note(self, reason: str | None) -> set[str]:
        """Store the note when it changes (the first run clears a stale one), not every
        second; pace the job to match. Returns the topics to announce."""
        if self.job is not None:
            self.job.interval = self.interval if reason is None else NVML_RECHECK
        generation = getattr(self.writer, "generation", 0)
        if generation != self._generation:  # a rebuilt cache lost the stored note
            self._generation, self._noted, self._seen = generation, False, None
        if reason == self.note and self._noted:
            return set()
        self.note = reason
        with self.writer.transaction() as conn:
            changed = store.note(conn, NVML) != reason
            store.set_note(conn, NVML, reason)
        self._noted = True
        return {TOPIC} if changed else set()

    def close(self) -> None:
        """Shut NVML down."""
        self.source.close()


def _procs_key(procs: list[Any]) -> list[tuple]:
    """What the pane shows of a process list (not the time): compared to tell a change."""
    return [(p.uuid, p.pid, p.kind, p.user, p.command, p.used_mem) for p in procs]


class GpuPrune:
    """Retention and thinning of GPU history; `prune_once()` is the job."""

    def __init__(
        self, writer: Writer, retention_days: float, announce: Announce | None = None
    ) -> None:
        self.writer = writer
        self.retention = retention_days * 86400.0
        self.announce = announce or (lambda source, topics: None)

    def prune_once(self) -> int:
        """Drop what is past retention, thin old local samples; returns rows removed."""
        now = timefmt.now()
        with self.writer.transaction() as conn:
            gone = store.prune(conn, now - self.retention, thin_before=now - store.FINE_WINDOW)
        if gone:
            log.debug("pruned %d GPU history rows", gone)
        return gone


class GpuFeeds:
    """The GPU jobs that apply, and what they hold: DCGM when `gpu.prometheus_url` is set,
    NVML when `gpu.nvml`, and the hourly prune always (it also keeps the Kubernetes
    allocation history bounded). Feeds "dcgm", "nvml" and "gpu-history" each keep their own
    freshness and backoff.

    `announce(feed, topics)` is the scheduler's. Builds clients lazily: nothing is imported
    or connected here beyond the cheap modules."""

    def __init__(self, gpu: Any, writer: Writer, announce: Announce) -> None:
        self.dcgm: DcgmSync | None = None
        self.nvml: NvmlSync | None = None
        if gpu.prometheus_url:
            from mlopstui.adapters.prometheus import PrometheusSource

            self.dcgm = DcgmSync(
                PrometheusSource(gpu.prometheus_url),
                writer,
                announce,
                interval=gpu.dcgm_interval,
            )
        if gpu.nvml:
            self.nvml = NvmlSync(writer, announce, interval=gpu.nvml_interval)
        self.prune = GpuPrune(writer, gpu.retention_days, announce)

    def jobs(self) -> list[Job]:
        """The scheduler jobs of the feeds configured."""
        out: list[Job] = []
        if self.dcgm is not None:
            out.append(Job(DCGM, TOPIC, self.dcgm.interval, self.dcgm.sync_once))
        if self.nvml is not None:
            # quiet_ok: at 1 Hz a record per poll would rewrite the status bar every second;
            # the first success, every failure and the recovery are still recorded.
            nvml = self.nvml
            job = Job(
                NVML, TOPIC, nvml.interval, nvml.sync_once, quiet_ok=True, note=lambda: nvml.note
            )
            nvml.job = job
            out.append(job)
        prune = self.prune.prune_once
        out.append(Job(HISTORY, "prune", PRUNE_INTERVAL, prune, quiet_ok=True, housekeeping=True))
        return out

    def close(self) -> None:
        """Release NVML's init and Prometheus's connection; call it after sync stopped."""
        if self.nvml is not None:
            self.nvml.close()
        if self.dcgm is not None:
            self.dcgm.source.close()
