"""Incremental sync of MLflow experiments and runs into the cache.

MLflow has no "modified since" for runs, and its experiments' `last_update_time` does not move
when runs change (tests/integration/test_trust_sweep.py checks that against the real server),
so one pass reads a few windows:

- new runs by start time (from the newest start seen, less `OVERLAP_MS` for slow clocks);
- runs that finished recently, newest finish first: every run finished within `OVERLAP_MS` of
  the newest finish seen, then up to `RECENT_CAP` more finished within `RECENT_MS` of it, so a
  metric logged on, or a rename of, a run that finished earlier today shows with the next poll;
- every run the server has RUNNING (an imported run, or one from a client whose clock is
  behind, shows with the next poll even though it started long before the watermark), and by
  id the cached RUNNING runs the server no longer lists as running (they finished);
- the newest page of deleted runs.

What shows when, with the default settings: a new run, a run still running, a run that finished
within the last 24 h (its metrics, name and tags too, for the `RECENT_CAP` most recently
finished): within one poll interval. Anything else (a change to a run that finished days ago, a
run imported finished with an old end time, a deletion beyond the newest page): within the
sweep interval. Watermarks never run ahead of this machine's clock by more than `OVERLAP_MS`,
so a client whose clock is ahead cannot hide the runs that follow it.

The periodic full sweep lists every run. MLflow pages by offset, so runs deleted while it pages
shift the later pages and the listing skips runs that still exist; a server (or a proxy) can
also cut a listing short or answer empty. So a run the listing did not return is only a
candidate: the sweep asks about exactly those ids (active, then deleted), keeps the ones found,
removes the ones listed as deleted, and removes the rest (gone for good) only after reading a
few of them one by one (runs/get answers "does not exist"). A listing that ended after a full
page though more runs existed, or a removal the server's own answers contradict, fails the pass
with a sentence saying what was kept; nothing is removed on an answer that says nothing.

Everything is an upsert keyed by run id, so overlapping windows never duplicate a run. Each page
is its own transaction and is announced as it lands, so the first page is on screen while the
rest still streams in.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from mlopstui import timefmt
from mlopstui.adapters import PartialSync
from mlopstui.adapters.mlflow import MlflowSource
from mlopstui.cache import runs as run_store
from mlopstui.cache import syncs
from mlopstui.cache.db import Writer
from mlopstui.domain import Run
from mlopstui.text import clean, redact

log = logging.getLogger(__name__)

SOURCE = "mlflow"
# Client clocks differ; re-read this much before a watermark so a late-stamped run is not missed.
OVERLAP_MS = 5 * 60 * 1000
RECENT_MS = 24 * 3600 * 1000
"""Runs that finished this long before the newest finish are re-read every pass..."""
RECENT_CAP = 200
"""...up to this many of them (newest finish first): one request of at most 200 runs a poll."""
_CHUNK = 100  # run ids per `attributes.run_id IN (...)` query
FIRST_PAGE = 100  # runs in the first request on a cold cache (a screenful and then some)
PROBE = 3
"""Runs the server no longer lists anywhere that are read one by one before any is removed."""
LARGE_SHARE = 0.5
"""A sweep that removes more than this share of the cached runs says so in the log."""


class Fetched(NamedTuple):
    """What one query brought."""

    written: int
    seen: set[str]
    """Run ids the server returned (those the adapter could not read too)."""
    cut_short: bool
    """The server ended the listing after a full page: it may have had more."""
    unnamed: int
    """Runs in the answer the adapter could not read and that had no id."""


class MlflowRunSync:
    """One source's experiments and runs; `sync_once()` is called by the scheduler."""

    def __init__(
        self,
        source: MlflowSource,
        writer: Writer,
        *,
        page_size: int = 1000,
        sweep_interval: float = 600.0,
        on_batch: Callable[[set[str]], None] | None = None,
    ) -> None:
        self.source = source
        self.writer = writer
        self.page_size = page_size
        self.sweep_interval = sweep_interval
        self.on_batch = on_batch or (lambda topics: None)
        self.focus_experiment: str | None = None
        """The experiment on screen: fetched first on a cold cache."""
        self._skipped: list[tuple[str, str]] = []
        """(run id or "", why) of runs the adapter could not read in this pass."""

    def _write(self, runs: list[Run]) -> int:
        if not runs:
            return 0
        with self.writer.transaction() as conn:
            run_store.upsert_runs(conn, runs, timefmt.now())
            run_store.refresh_experiment_stats(conn, {r.experiment_id for r in runs})
        self.on_batch({"runs", "experiments"})
        return len(runs)

    def _advance(self, runs_seen: dict[str, int], *, reset: bool = False) -> None:
        """Move the watermarks forward, once a whole query has been read.

        Pages come newest first, so moving them page by page would skip the older runs of an
        interrupted query on the next pass (until the next full sweep). A watermark never goes
        past this machine's clock plus `OVERLAP_MS`: a run stamped days ahead by a client with
        a wrong clock would otherwise hide every run after it until the sweep. A sweep (which
        read everything) sets them outright, which heals a watermark set too far before.
        """
        ceiling = int(timefmt.now() * 1000) + OVERLAP_MS
        with self.writer.transaction() as conn:
            for key, seen in runs_seen.items():
                value = min(seen, ceiling)
                old = syncs.get_state(conn, SOURCE, key)
                if reset or old is None or value > int(old):
                    syncs.set_state(conn, SOURCE, key, str(value))

    def _fetch(
        self,
        exp_ids: list[str],
        filter_string: str = "",
        *,
        advance: Iterable[str] = ("max_start", "max_end"),
        reset: bool = False,
        page_size: int | None = None,
        order_by: list[str] | None = None,
        enough: Callable[[list[Run], int], bool] | None = None,
        **kw: Any,
    ) -> Fetched:
        """Read a query to its end (or until `enough(page, written)`), writing page by page."""
        count = unnamed = 0
        seen: set[str] = set()
        highest: dict[str, int] = {}
        size = page_size or self.page_size
        cut_short = stopped = False
        pages = self.source.search_runs(
            exp_ids,
            filter_string=filter_string,
            order_by=order_by or ["attributes.start_time DESC"],
            page_size=size,
            **kw,
        )
        # A query that may stop early is read one page at a time: prefetching would send a
        # request whose answer nobody reads, on the session the next query uses.
        for page in pages if enough is not None else _prefetched(pages):
            skipped = list(getattr(page, "skipped", []))
            self._skipped.extend(skipped)
            seen.update(r.run_id for r in page)
            seen.update(run_id for run_id, _ in skipped if run_id)
            unnamed += sum(1 for run_id, _ in skipped if not run_id)
            cut_short = len(page) + len(skipped) >= size
            count += self._write(page)
            for key, pick in (("max_start", "start_time"), ("max_end", "end_time")):
                values = [getattr(r, pick) for r in page if getattr(r, pick)]
                if values:
                    highest[key] = max(highest.get(key, 0), *values)
            if enough is not None and enough(page, count):
                stopped = True
                break
        wanted = {k: v for k, v in highest.items() if k in set(advance)}
        if wanted:
            self._advance(wanted, reset=reset)
        limited = stopped or kw.get("max_pages") is not None
        return Fetched(count, seen, cut_short and not limited, unnamed)

    def sync_once(self) -> int:
        """One incremental pass; returns how many rows were written. Raises SourceError,
        after writing every run it could, when something was refused or left unread."""
        self._skipped = []
        problems: list[str] = []
        experiments = self.source.experiments()
        listed = {e.experiment_id for e in experiments}
        unread = list(getattr(experiments, "skipped", []))
        listed |= {exp_id for exp_id, _ in unread if exp_id}  # unreadable is not gone
        with self.writer.transaction() as conn:
            missing = {e.experiment_id for e in run_store.experiments(conn)} - listed
        if unread:
            keep = listed | missing  # an entry without an id could be any of them
            problems.append(
                f"{len(unread)} experiments could not be read: {clean(unread[0][1], limit=160)}; "
                "they stay as last cached"
            )
        else:
            keep = listed | self._experiments_still_there(missing, problems)
        with self.writer.transaction() as conn:
            run_store.upsert_experiments(conn, experiments)
            run_store.delete_experiments_except(conn, keep)
            run_store.refresh_experiment_stats(conn, [e.experiment_id for e in experiments])
            max_start = syncs.get_state(conn, SOURCE, "max_start")
            max_end = syncs.get_state(conn, SOURCE, "max_end")
            last_sweep = float(syncs.get_state(conn, SOURCE, "last_sweep") or 0)
            running = run_store.running_run_ids(conn)
        self.on_batch({"experiments"})
        active = [e.experiment_id for e in experiments if e.lifecycle == "active"]
        retired = [e.experiment_id for e in experiments if e.lifecycle != "active"]
        if retired:
            # A deleted experiment's runs are gone from MLflow's views too; left cached they
            # would show RUNNING forever.
            with self.writer.transaction() as conn:
                removed = run_store.delete_runs(conn, run_store.run_ids(conn, retired))
                if removed:
                    run_store.refresh_experiment_stats(conn, retired)
            if removed:
                self.on_batch({"runs", "experiments"})
        written = len(experiments)
        if active:
            now = timefmt.now()
            if max_start is None or now - last_sweep >= self.sweep_interval:
                written += self._sweep(active, cold=max_start is None, now=now, problems=problems)
            else:
                written += self._incremental(active, int(max_start), max_end, running)
            self._drop_deleted(active)
        if self._skipped:
            named = [clean(run_id, limit=40) for run_id, _ in self._skipped if run_id][:3]
            why = clean(self._skipped[0][1], limit=160)
            which = f" (e.g. {', '.join(named)})" if named else ""
            problems.append(
                f"{len(self._skipped)} runs could not be read{which}: {why}; they stay as "
                "last cached"
            )
        if problems:
            raise PartialSync(f"{redact(self.source.uri)}: " + "; ".join(problems))
        return written

    # ------------------------------------------------------------------ incremental

    def _incremental(
        self, active: list[str], max_start: int, max_end: str | None, running: list[str]
    ) -> int:
        written = self._fetch(active, f"attributes.start_time >= {max_start - OVERLAP_MS}").written
        if max_end is not None:
            must = int(max_end) - OVERLAP_MS

            def enough(page: list[Run], count: int) -> bool:
                # Newest finish first: everything since `must` is read, then RECENT_CAP runs.
                ends = [r.end_time for r in page if r.end_time]
                return count >= RECENT_CAP and (not ends or min(ends) < must)

            written += self._fetch(
                active,
                f"attributes.end_time >= {int(max_end) - RECENT_MS}",
                advance=("max_end",),
                order_by=["attributes.end_time DESC"],
                page_size=min(self.page_size, RECENT_CAP),
                enough=enough,
            ).written
        now_running = self._fetch(active, "attributes.status = 'RUNNING'", advance=("max_end",))
        written += now_running.written
        left = [r for r in running if r not in now_running.seen and r.isalnum()]
        for chunk in _chunks(left):
            written += self._fetch(active, _ids_filter(chunk), advance=("max_end",)).written
        return written

    def _drop_deleted(self, active: list[str]) -> None:
        """Remove the newest page of deleted runs.

        MLflow cannot filter by deletion time: recent deletions show within a poll; the sweep
        catches older ones.
        """
        deleted: set[str] = set()
        for page in self.source.search_runs(
            active,
            page_size=self.page_size,
            order_by=["attributes.start_time DESC"],
            max_pages=1,
            view="DELETED_ONLY",
        ):
            deleted.update(r.run_id for r in page)
        if deleted:
            with self.writer.transaction() as conn:
                removed = run_store.delete_runs(conn, deleted)
                if removed:
                    run_store.refresh_experiment_stats(conn, active)
            if removed:
                self.on_batch({"runs", "experiments"})

    # ------------------------------------------------------------------ the sweep

    def _sweep(self, active: list[str], *, cold: bool, now: float, problems: list[str]) -> int:
        """List every run; remove only what the server confirms is deleted or gone."""
        written = 0
        if cold:
            # Cold cache: a small first page of the experiment on screen (or of all) before
            # anything else, so a screenful shows in a fraction of a full page's time.
            first = [self.focus_experiment] if self.focus_experiment in active else active
            written += self._fetch(
                first, advance=(), page_size=min(FIRST_PAGE, self.page_size), max_pages=1
            ).written
        listing = self._fetch(active, reset=True)
        written += listing.written
        with self.writer.transaction() as conn:
            cached = run_store.run_ids(conn, active)
        candidates = cached - listing.seen
        if len(candidates) > max(LARGE_SHARE * len(cached), _CHUNK):
            # Most of the cache unlisted: a mass removal, or a listing cut short or emptied.
            # A few read one by one tell which before thousands of reads by id.
            refusal = self._refuse_removal(candidates, len(cached), "the run listing left out")
            if refusal:
                problems.append(refusal)
                return written
        confirmed, found, deleted, vanished = self._confirm(active, candidates)
        written += confirmed
        trusted = True
        missed = candidates & found
        if missed and listing.cut_short:
            trusted = False
            problems.append(
                f"the server ended the run listing after a full page, but it left out "
                f"{len(missed)} runs that exist; they were read by id and kept"
            )
        elif missed:
            # Offset paging: runs deleted or added while the sweep paged shift later pages.
            log.info("sweep: %d runs moved between pages; read by id and kept", len(missed))
        gone = set(deleted)
        if vanished:
            refusal = self._refuse_removal(
                vanished, len(cached), "the server's searches no longer list"
            )
            if refusal:
                trusted = False
                problems.append(refusal)
            else:
                gone |= vanished
        if len(gone) > LARGE_SHARE * max(len(cached), 1) and len(gone) > 1:
            log.warning(
                "sweep: removing %d of %d cached runs (%d listed as deleted, %d gone for good, "
                "confirmed by reading them one by one)",
                len(gone),
                len(cached),
                len(deleted),
                len(gone) - len(deleted),
            )
        with self.writer.transaction() as conn:
            removed = run_store.delete_runs(conn, gone)
            if removed:
                run_store.refresh_experiment_stats(conn, active)
            if trusted:
                syncs.set_state(conn, SOURCE, "last_sweep", str(now))
        if removed:
            self.on_batch({"runs", "experiments"})
        return written

    def _confirm(
        self, active: list[str], candidates: set[str]
    ) -> tuple[int, set[str], set[str], set[str]]:
        """Ask the server about runs the listing did not return: (rows written, found active
        and written to the cache, listed as deleted, listed nowhere)."""
        written = 0
        ids = sorted(candidates)
        queryable = [i for i in ids if i.isalnum()]
        # An id no filter can name cannot be confirmed gone: it stays.
        found = set(ids) - set(queryable)
        for chunk in _chunks(queryable):
            got = self._fetch(active, _ids_filter(chunk), advance=(), page_size=len(chunk) + 1)
            written += got.written
            found |= got.seen & set(chunk)
            if got.unnamed or got.cut_short:
                found |= set(chunk)  # an answer with unreadable runs proves no absence
        rest = [i for i in queryable if i not in found]
        deleted: set[str] = set()
        for chunk in _chunks(rest):
            for page in self.source.search_runs(
                active,
                filter_string=_ids_filter(chunk),
                page_size=len(chunk) + 1,
                view="DELETED_ONLY",
            ):
                deleted.update(r.run_id for r in page)
        deleted &= set(rest)
        return written, found, deleted, set(rest) - deleted

    def _refuse_removal(self, vanished: set[str], cached: int, what: str) -> str | None:
        """Why unlisted runs must stay, or None when the server confirms they are gone.

        Search answers can be empty for reasons other than absence (a proxy, a truncated
        reply): a few of the runs are read one by one, where only an explicit "does not exist"
        (or a deleted run) counts. The embedded store reads a local database: its answers by id
        are proof enough.
        """
        if not self.source.is_http:
            return None
        for run_id in random.sample(sorted(vanished), min(PROBE, len(vanished))):
            state = self.source.run_state(run_id)
            if state not in ("gone", "deleted"):
                found = "still exists" if state == "active" else "was not answered for"
                return (
                    f"{what} {len(vanished)} of {cached} cached runs, but run "
                    f"{clean(run_id, limit=40)} {found} when read on its own; nothing was "
                    "removed (the server's search answers look incomplete)"
                )
        return None

    def _experiments_still_there(self, missing: set[str], problems: list[str]) -> set[str]:
        """Of cached experiments the server's list left out, those to keep.

        The list includes deleted experiments, so one that is missing was removed for good,
        or the answer is incomplete: a few are read one by one before any is dropped.
        """
        if not missing or not self.source.is_http:
            return set()
        for exp_id in random.sample(sorted(missing), min(PROBE, len(missing))):
            if not self.source.experiment_exists(exp_id):
                continue
            problems.append(
                f"the experiment list left out {len(missing)} cached experiments, but "
                f"experiment {clean(exp_id, limit=40)} still exists when read on its own; "
                "they were kept (the list looks incomplete)"
            )
            return missing
        return set()


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def _ids_filter(ids: list[str]) -> str:
    """`attributes.run_id IN (...)` for run ids (MLflow's are hex; anything else is left out)."""
    return "attributes.run_id IN ({})".format(", ".join(f"'{r}'" for r in ids if r.isalnum()))


def _prefetched(pages: Iterator[list[Run]]) -> Iterator[list[Run]]:
    """Yield the pages of `pages` while the next one is already being fetched.

    The server needs ~0.8 ms of CPU per run and we need ~0.2 ms to write it: fetching page
    n+1 while page n is written keeps the server busy (bench: 73 % -> 95 % of the raw REST
    rate). Errors surface in the caller's thread, at the page where they happened.
    """
    box: queue.Queue = queue.Queue(maxsize=1)
    done = object()
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for page in pages:
                if not put(page):
                    return
            put(done)
        except BaseException as exc:  # handed over to the consumer
            put(exc)

    threading.Thread(target=produce, name="mlflow-prefetch", daemon=True).start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
