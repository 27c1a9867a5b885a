"""Kubernetes sync: one watcher per kind (nodes, pods, node events), each a scheduler Job.

A watcher lists once, then watches from the list's resourceVersion; each `step()` is one watch
that the server ends after `watch_timeout` seconds, and the next step resumes from the last
resourceVersion seen (bookmarks included), so a healthy session issues no LIST after the first.
Only 410 Gone (the version is older than the server keeps) causes a relist. A broken watch (a
reset, a read timeout, the VPN gone) raises SourceUnreachable: the scheduler records it, backs
off, and the next step resumes from the same version without a LIST.

Events are read by a small pump thread while this one applies whatever has arrived in one
transaction, so a burst (a Job's hundred pods starting) is a few small transactions, and a
single change is written and announced at once rather than when the next one comes.

RBAC: a 403 on one kind (nodes, for a user bound to the `view` role) is partial data, not a
failure: it is recorded as the kind's watch status, the other kinds carry on, and the kind is
asked again every FORBIDDEN_RECHECK seconds in case the rights were granted.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from mlopstui import timefmt
from mlopstui.adapters import SourceError
from mlopstui.adapters.kubernetes import (
    KINDS,
    KubeForbidden,
    KubeSource,
    ResourceExpired,
    WatchStream,
    kubeconfig_paths,
)
from mlopstui.cache import gpu_nodes
from mlopstui.cache import kube as store
from mlopstui.cache.db import Writer
from mlopstui.domain.kubernetes import WatchEvent
from mlopstui.sync.scheduler import Job

log = logging.getLogger(__name__)
SOURCE = "kubernetes"
RENEW_INTERVAL = 0.5
"""Seconds between a watch ending and the next; also the first step of the failure backoff."""
FORBIDDEN_RECHECK = 300.0
"""Seconds between attempts at a kind RBAC forbids."""
BATCH = 500
"""Most watch events applied in one transaction."""
TOPICS = {"nodes": {"kube", "gpus"}, "pods": {"kube", "gpus"}, "events": {"kube"}}


class KubeWatcher:
    """Keeps one kind of one context current in the cache."""

    def __init__(
        self,
        source: KubeSource,
        writer: Writer,
        kind: str,
        on_batch: Callable[[set[str]], None] | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        self.source = source
        self.writer = writer
        self.kind = kind
        self.on_batch = on_batch or (lambda topics: None)
        self.resource_version: str | None = None
        """Where the next watch starts; None: list first."""
        self.relists = 0
        """LISTs made (the first one included)."""
        self.job: Job | None = None
        """The scheduler job running this watcher (its interval is lengthened while RBAC
        forbids the kind)."""
        self._state: tuple[str, str] | None = None
        self._stream: WatchStream | None = None
        self._generation = getattr(writer, "generation", 0)

    @property
    def context(self) -> str:
        """The pinned context this watcher writes under."""
        return self.source.context

    def step(self) -> int:
        """List (at start, after a 410), else watch until the server ends the watch. Returns
        the rows changed. Raises SourceError for failures the scheduler should back off on."""
        generation = getattr(self.writer, "generation", 0)
        if generation != self._generation:
            # The cache was rebuilt (it was damaged): what the watch had written is gone, so
            # list again rather than resume the watch where the old file left off.
            self._generation = generation
            self.resource_version = None
            self._state = None
        try:
            if self.resource_version is None:
                return self._relist()
            try:
                return self._watch()
            except ResourceExpired as exc:
                log.info("%s %s: %s; listing again", self.context, self.kind, exc)
                self.resource_version = None
                return self._relist()
        except KubeForbidden as exc:
            self._set_status("forbidden", str(exc), exc.user)
            self._set_interval(FORBIDDEN_RECHECK)
            return 0
        except SourceError as exc:
            self._set_status("failed", str(exc))
            raise

    # -- list and watch

    def _relist(self) -> int:
        listing = self.source.list(self.kind)
        now = timefmt.now()
        with self.writer.transaction() as conn:
            changed, touched = store.replace(conn, self.context, self.kind, listing.items)
            if self.kind != "events":
                gpu_nodes.snapshot_allocations(conn, self.context, None, now)
            self._set_status("watching", conn=conn)
        self.resource_version = listing.resource_version
        self.relists += 1
        self._set_interval(RENEW_INTERVAL)
        self.on_batch(set(TOPICS[self.kind]))
        return changed

    def _watch(self) -> int:
        stream = self._stream = self.source.watch(self.kind, self.resource_version or "")
        self._set_status("watching")
        self._set_interval(RENEW_INTERVAL)
        applied = 0
        try:
            for batch in _batches(stream, BATCH):
                now = timefmt.now()
                with self.writer.transaction() as conn:
                    changed, touched = store.apply(conn, self.context, self.kind, batch)
                    if touched:
                        gpu_nodes.snapshot_allocations(conn, self.context, touched, now)
                # Only once the batch is committed: a failure in between re-reads it, never
                # skips it.
                self.resource_version = batch[-1].resource_version or self.resource_version
                applied += changed
                if changed:
                    self.on_batch(set(TOPICS[self.kind]))
        finally:
            self._stream = None
        return applied

    # -- bookkeeping

    def cancel(self) -> None:
        """End the open watch now (at shutdown): the step returns what it applied."""
        stream = self._stream
        if stream is not None:
            stream.close()

    def _set_status(self, state: str, reason: str = "", user: str = "", conn: Any = None) -> None:
        if (state, reason) == self._state:
            return  # keep the first `since` of a state that persists
        status = store.WatchStatus(self.kind, state, timefmt.now(), reason, user)
        try:
            if conn is not None:
                store.set_watch_status(conn, self.context, status)
            else:
                with self.writer.transaction() as c:
                    store.set_watch_status(c, self.context, status)
        except Exception:  # the status is a nicety; never let it stop the watch
            log.exception("could not record the watch status of %s", self.kind)
            return
        self._state = (state, reason)
        if conn is None:
            self.on_batch({"kube"})

    def _set_interval(self, seconds: float) -> None:
        if self.job is not None:
            self.job.interval = seconds


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def _batches(stream: WatchStream, size: int) -> Iterator[list[WatchEvent]]:
    """The stream's events in lists: whatever has arrived when the last list was applied."""
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def pump() -> None:
        try:
            for event in stream:
                inbox.put(event)
        except BaseException as exc:  # handed over to the applying thread
            inbox.put(_Failed(exc))
        else:
            inbox.put(_END)

    threading.Thread(target=pump, name=f"kube-watch-{stream.kind}", daemon=True).start()
    try:
        item = inbox.get()
        while True:
            batch: list[WatchEvent] = []
            while item is not _END and not isinstance(item, _Failed) and len(batch) < size:
                batch.append(item)
                try:
                    item = inbox.get_nowait()
                except queue.Empty:
                    item = None
                    break
            if batch:
                yield batch
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.exc
            if item is None:
                item = inbox.get()
    finally:
        stream.close()


def source_for(settings: Any) -> KubeSource | None:
    """The session's pinned KubeSource, or None when Kubernetes is off or no kubeconfig
    exists. Reads the kubeconfig (imports no client). Raises SourceError when it is unusable
    (unreadable, no such context)."""
    k = settings.kubernetes
    if k.enabled is False or not kubeconfig_paths(k.kubeconfig):
        return None
    return KubeSource(
        k.kubeconfig,
        k.context,
        request_timeout=k.request_timeout,
        watch_timeout=k.watch_timeout,
    )


def watchers(
    source: KubeSource, writer: Writer, on_batch: Callable[[set[str]], None] | None = None
) -> list[KubeWatcher]:
    """A watcher for each kind (nodes, pods, events) over one source."""
    return [KubeWatcher(source, writer, kind, on_batch) for kind in KINDS]


def jobs(
    settings: Any,
    writer: Writer,
    announce: Callable[[str, set[str]], None],
    *,
    source: KubeSource | None = None,
) -> list[Job]:
    """The scheduler jobs keeping the pinned context's nodes, pods and node events current
    (source "kubernetes", topics "nodes", "pods", "events"); [] when Kubernetes is disabled
    or there is no kubeconfig. A kubeconfig that cannot be used gives one failing job, so the
    reason shows where the sync status does."""
    try:
        source = source or source_for(settings)
    except SourceError as exc:
        error = exc

        def broken() -> int:
            raise error

        return [Job(SOURCE, "kubeconfig", 60.0, broken)]
    if source is None:
        return []
    out = []
    for watcher in watchers(source, writer, lambda topics: announce(SOURCE, topics)):
        job = Job(SOURCE, watcher.kind, RENEW_INTERVAL, watcher.step)
        watcher.job = job
        out.append(job)
    return out
