"""Sync scheduler on a real cache: records, backoff, heartbeats, freshness, stop, no overlap."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time

import pytest

from mlopstui import timefmt
from mlopstui.cache import db, syncs
from mlopstui.sync.scheduler import MAX_BACKOFF, Job, Scheduler


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> itertools.count:
    """timefmt.now() returns 1, 2, 3, ... so records have distinct, known times."""
    ticks = itertools.count(1)
    monkeypatch.setattr(timefmt, "now", lambda: float(next(ticks)))
    return ticks


def failing(message: str = "connection refused"):
    def run() -> int:
        raise RuntimeError(message)

    return run


def test_run_job_records_ok_and_failed(writer: db.Writer, clock: itertools.count) -> None:
    """Every attempt is a SyncRecord in the cache; listeners hear about freshness."""
    heard: list[tuple[str, set[str]]] = []
    sched = Scheduler(writer)
    sched.listeners.append(lambda source, topics: heard.append((source, topics)))
    ok = sched.run_job(Job("mlflow", "runs", 10, lambda: 7))
    bad = sched.run_job(Job("mlflow", "runs", 10, failing("server said 503")))
    assert (ok.ok, ok.rows, ok.error, ok.started, ok.finished) == (True, 7, None, 1.0, 2.0)
    assert (bad.ok, bad.rows, bad.error) == (False, 0, "server said 503")
    assert syncs.recent_syncs(writer.conn, "mlflow") == [bad, ok]
    assert heard == [("mlflow", {"freshness"})] * 2


def test_failures_count_up_and_reset(writer: db.Writer) -> None:
    """job.failures counts consecutive failures and a success resets it."""
    outcomes = iter([False, False, True, False])

    def run() -> int:
        if not next(outcomes):
            raise OSError("down")
        return 0

    sched = Scheduler(writer)
    job = Job("mlflow", "runs", 1, run)
    assert [(sched.run_job(job).ok, job.failures) for _ in range(4)] == [
        (False, 1),
        (False, 2),
        (True, 0),
        (False, 1),
    ]


class _CountedWake(threading.Event):
    """Records the delays the loop sleeps for, and stops the scheduler after a few."""

    def __init__(self, sched: Scheduler, rounds: int) -> None:
        super().__init__()
        self.sched, self.rounds, self.delays = sched, rounds, []

    def wait(self, timeout: float | None = None) -> bool:
        self.delays.append(timeout)
        if len(self.delays) >= self.rounds:
            self.sched._stop.set()
        return True


def test_failures_back_off_exponentially_up_to_a_cap(writer: db.Writer) -> None:
    """The loop waits interval, 2x, 4x ... after failures, never more than MAX_BACKOFF."""
    sched = Scheduler(writer)
    job = Job("mlflow", "runs", 10.0, failing())
    job.wake = _CountedWake(sched, rounds=6)
    sched._loop(job)
    assert job.wake.delays == [10.0, 20.0, 40.0, 80.0, MAX_BACKOFF, MAX_BACKOFF]


def test_success_waits_the_plain_interval(writer: db.Writer) -> None:
    """A healthy job polls at its interval."""
    sched = Scheduler(writer)
    job = Job("mlflow", "runs", 3.0, lambda: 1)
    job.wake = _CountedWake(sched, rounds=3)
    sched._loop(job)
    assert job.wake.delays == [3.0, 3.0, 3.0]


def test_quiet_heartbeat_records_failures_and_recovery_only(writer: db.Writer) -> None:
    """quiet_ok: ok-after-ok is not recorded; the first ok after a failure is, and wakes
    the same source's data jobs (not other heartbeats, not other sources)."""
    outcomes = iter([True, False, False, True, True])

    def ping() -> int:
        if not next(outcomes):
            raise TimeoutError("timed out")
        return 0

    sched = Scheduler(writer)
    heartbeat = Job("mlflow", "health", 1, ping, quiet_ok=True)
    data = Job("mlflow", "runs", 60, lambda: 0)
    other_heartbeat = Job("mlflow", "health2", 1, lambda: 0, quiet_ok=True)
    other_source = Job("k8s", "pods", 60, lambda: 0)
    for job in (heartbeat, data, other_heartbeat, other_source):
        sched.add(job)
    recorded = []
    for _ in range(5):
        sched.run_job(heartbeat)
        recorded.append(len(syncs.recent_syncs(writer.conn, "mlflow")))
        if len(recorded) == 3:
            assert not data.wake.is_set()
    assert recorded == [0, 1, 2, 3, 3]
    assert [r.ok for r in syncs.recent_syncs(writer.conn, "mlflow")] == [True, False, False]
    assert data.wake.is_set()
    assert not other_heartbeat.wake.is_set()
    assert not other_source.wake.is_set()


def test_freshness_states(writer: db.Writer, clock: itertools.count) -> None:
    """never -> ok -> failing since the first failure after the last success -> ok again."""
    sched = Scheduler(writer)
    data_ok = Job("mlflow", "runs", 1, lambda: 1)
    data_bad = Job("mlflow", "runs", 1, failing("first"))
    assert syncs.freshness(writer.conn, "mlflow").state == "never"

    sched.run_job(Job("mlflow", "runs", 1, failing("early")))  # started 1
    fresh = syncs.freshness(writer.conn, "mlflow")
    assert (fresh.state, fresh.failing_since, fresh.last_error) == ("failing", 1.0, "early")

    ok = sched.run_job(data_ok)  # 3..4
    fresh = syncs.freshness(writer.conn, "mlflow")
    assert (fresh.state, fresh.last_ok, fresh.failing_since) == ("ok", ok.finished, None)

    first = sched.run_job(data_bad)  # started 5
    sched.run_job(Job("mlflow", "runs", 1, failing("latest")))  # started 7
    fresh = syncs.freshness(writer.conn, "mlflow")
    assert fresh.state == "failing"
    assert fresh.failing_since == first.started == 5.0
    assert fresh.last_error == "latest"
    assert fresh.last_ok == ok.finished  # the last good data is still reported

    # A heartbeat that answers says nothing about a runs pass that keeps failing (issue 11:
    # the bar stayed a green "synced" while every runs pass failed).
    sched.run_job(Job("mlflow", "health", 1, lambda: 0, quiet_ok=True, failures=1))
    fresh = syncs.freshness(writer.conn, "mlflow")
    assert (fresh.state, fresh.failing_job, fresh.last_error) == ("failing", "runs", "latest")
    assert fresh.failing_since == 5.0 and fresh.last_ok == ok.finished
    # Only a success of the runs job itself ends its streak.
    again = sched.run_job(data_ok)
    fresh = syncs.freshness(writer.conn, "mlflow")
    assert (fresh.state, fresh.last_ok, fresh.last_error) == ("ok", again.finished, None)
    assert syncs.freshness(writer.conn, "other").state == "never"


def test_a_failing_heartbeat_fails_the_feed_until_it_answers(
    writer: db.Writer, clock: itertools.count
) -> None:
    """The server down (heartbeat failing) shows on the feed though its last runs pass was
    fine; the heartbeat answering again ends that, not a success of another feed."""
    sched = Scheduler(writer)
    sched.run_job(Job("mlflow", "runs", 1, lambda: 1))
    sched.run_job(Job("mlflow", "health", 1, failing("refused"), quiet_ok=True))
    sched.run_job(Job("mlflow-registry", "registry", 1, lambda: 1))
    fresh = syncs.freshness(writer.conn, "mlflow")
    assert (fresh.state, fresh.failing_job, fresh.last_error) == ("failing", "health", "refused")
    assert syncs.freshness(writer.conn, "mlflow-registry").state == "ok"
    sched.run_job(Job("mlflow", "health", 1, lambda: 0, quiet_ok=True, failures=1))
    assert syncs.freshness(writer.conn, "mlflow").state == "ok"


def test_live_freshness_shows_failures_the_cache_cannot_record(
    writer: db.Writer, clock: itertools.count
) -> None:
    """A full disk or a damaged cache also fails the writing of the sync record: the state kept
    in memory still shows the feed failing with its reason, and a pass whose data was written
    but whose record was not is not shown as synced."""
    sched = Scheduler(writer)
    runs = Job("mlflow", "runs", 1, lambda: 1)
    registry = Job("mlflow-registry", "registry", 1, lambda: 1)
    sched.add(runs)
    sched.add(registry)
    sched._seed()
    assert sched.freshness("mlflow").state == "never"  # type: ignore[union-attr]
    assert sched.freshness("elsewhere") is None  # no job of that feed here: ask the cache
    sched.run_job(runs)
    sched.run_job(registry)
    assert sched.freshness("mlflow").state == "ok"  # type: ignore[union-attr]

    pages = writer.conn.execute("PRAGMA page_count").fetchone()[0]
    writer.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(sqlite3.OperationalError, match="full"):  # SQLite's own SQLITE_FULL
        while True:  # fill the records' last page: the next record needs a page there is not
            writer.conn.execute(
                "INSERT INTO sync_runs (source, topic, started, ok, error, rows)"
                " VALUES ('filler', 'x', 0, 1, ?, 0)",
                ("x" * 200,),
            )
    runs.run = failing("database or disk is full")
    sched.run_job(runs)
    fresh = sched.freshness("mlflow")
    assert fresh is not None and fresh.state == "failing"
    assert fresh.last_error == "database or disk is full"
    # The registry job "succeeds" (nothing to write) but its record cannot be written either.
    sched.run_job(registry)
    fresh = sched.freshness("mlflow-registry")
    assert fresh is not None and fresh.state == "failing"
    assert "cannot record" in (fresh.last_error or "")


def test_seeded_from_the_records_of_an_earlier_session(
    writer: db.Writer, clock: itertools.count
) -> None:
    """A feed failing when the last session ended shows failing from the first frame."""
    Scheduler(writer).run_job(Job("mlflow", "runs", 1, failing("HTTP 500")))
    sched = Scheduler(writer)
    sched.add(Job("mlflow", "runs", 1, lambda: 1))
    sched._seed()
    fresh = sched.freshness("mlflow")
    assert fresh is not None and (fresh.state, fresh.last_error) == ("failing", "HTTP 500")


def test_stop_wakes_sleeping_jobs_promptly(writer: db.Writer) -> None:
    """A job sleeping a long interval does not delay stop(): it returns well under 1 s."""
    ran = threading.Event()
    sched = Scheduler(writer)
    sched.add(Job("mlflow", "runs", 3600, lambda: ran.set() or 0))
    sched.add(Job("mlflow", "health", 3600, lambda: 0, quiet_ok=True))
    sched.start()
    assert ran.wait(2)
    started = time.monotonic()
    sched.stop(timeout=2)
    assert time.monotonic() - started < 1.0
    assert sched.stopped
    assert not any(t.is_alive() for t in sched._threads)


def test_stop_with_a_blocked_job_does_not_hang(writer: db.Writer) -> None:
    """stop() returns after its timeout even if a poll is stuck; the poll then ends the
    thread instead of polling again."""
    entered, release = threading.Event(), threading.Event()
    calls = []

    def blocking() -> int:
        calls.append(1)
        entered.set()
        release.wait(5)
        return 0

    sched = Scheduler(writer)
    sched.add(Job("mlflow", "runs", 0.01, blocking))
    sched.start()
    assert entered.wait(2)
    started = time.monotonic()
    sched.stop(timeout=0.2)
    assert time.monotonic() - started < 1.0
    release.set()
    sched._threads[0].join(1)
    assert not sched._threads[0].is_alive()
    assert calls == [1]


def test_trigger_runs_a_sleeping_job_now(writer: db.Writer) -> None:
    """trigger(source) wakes that source's jobs, not others'."""
    runs = {"mlflow": threading.Semaphore(0), "k8s": threading.Semaphore(0)}
    sched = Scheduler(writer)
    for source in runs:
        sched.add(Job(source, "t", 3600, lambda s=source: runs[s].release() or 0))
    sched.start()
    try:
        assert runs["mlflow"].acquire(timeout=2) and runs["k8s"].acquire(timeout=2)
        sched.trigger("mlflow")
        assert runs["mlflow"].acquire(timeout=2)
        assert not runs["k8s"].acquire(timeout=0.1)
    finally:
        sched.stop()


def test_polls_of_one_job_never_overlap(writer: db.Writer) -> None:
    """Hammering trigger() while a poll runs never starts a second concurrent poll."""
    lock = threading.Lock()
    state = {"inside": 0, "most": 0, "polls": 0}
    done = threading.Event()

    def poll() -> int:
        with lock:
            state["inside"] += 1
            state["most"] = max(state["most"], state["inside"])
        time.sleep(0.002)
        with lock:
            state["inside"] -= 1
            state["polls"] += 1
            if state["polls"] >= 30:
                done.set()
        return 0

    sched = Scheduler(writer)
    sched.add(Job("mlflow", "runs", 0.001, poll))
    sched.start()
    try:
        while not done.is_set():
            sched.trigger()
            sched.trigger("mlflow")
            done.wait(0.0005)
    finally:
        sched.stop()
    assert state["polls"] >= 30
    assert state["most"] == 1


def test_a_failing_listener_does_not_stop_sync(writer: db.Writer) -> None:
    """announce() swallows a listener's exception and still calls the others."""
    heard = []
    sched = Scheduler(writer)
    sched.listeners.append(lambda s, t: 1 / 0)
    sched.listeners.append(lambda s, t: heard.append(s))
    assert sched.run_job(Job("mlflow", "runs", 1, lambda: 2)).ok
    assert heard == ["mlflow"]
