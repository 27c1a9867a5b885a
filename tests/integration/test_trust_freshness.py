"""Issue 11, class 1: freshness is per feed and never says "synced" while a feed fails.

Against the real MLflow server behind the fault-injecting proxy (tests/fault_proxy.py), with
the scheduler's real threads: a runs pass failing (HTTP 500 on runs/search, a full cache disk)
shows as failing within two poll intervals and stays failing however well the heartbeat and
the registry answer, with the failing job and its reason; the registry feed says what the
registry does. Before the fix, any success of another job of the server (the heartbeat, every
3 s) ended the failure streak and the bar stayed a green "synced".
"""

from __future__ import annotations

import sqlite3
import time

from fault_proxy import EXPERIMENTS_SEARCH, MODELS_SEARCH, RUNS_SEARCH, FaultProxy, Status
from helpers import cached_run_ids, wait_until  # noqa: E402

from mlopstui.cache import syncs  # noqa: E402

pytest_plugins = ["helpers"]
POLL = 1.0  # seconds between runs passes in these tests


def _state(bench, conn, feed: str = "mlflow"):
    return bench.freshness(feed, conn)


def test_a_failing_runs_pass_shows_however_healthy_its_siblings(
    seeded_mlflow_server, make_workbench
) -> None:
    server, _dataset = seeded_mlflow_server
    with FaultProxy(server.url) as proxy:
        bench = make_workbench(proxy.url, mlflow__poll_interval=POLL)
        conn = bench.reader()
        bench.start()
        assert wait_until(lambda: _state(bench, conn).state == "ok", 30)
        assert wait_until(lambda: _state(bench, conn, "mlflow-registry").state == "ok", 30)

        proxy.on("POST", RUNS_SEARCH, Status(500))
        broke = time.monotonic()
        assert wait_until(lambda: _state(bench, conn).state == "failing", 2 * POLL + 5)
        shown_after = time.monotonic() - broke
        assert shown_after <= 2 * POLL + 2, shown_after  # a pass in flight may end first

        # Heartbeats (every 3 s) and registry passes keep succeeding meanwhile...
        heartbeats = proxy.count("POST", EXPERIMENTS_SEARCH)
        registry = proxy.count("GET", MODELS_SEARCH) + proxy.count("POST", MODELS_SEARCH)
        time.sleep(7)
        assert proxy.count("POST", EXPERIMENTS_SEARCH) > heartbeats
        assert proxy.count("GET", MODELS_SEARCH) + proxy.count("POST", MODELS_SEARCH) > registry
        # ...and the runs feed still says it fails, which job, and why, in the session and in
        # the records the CLI reads.
        for fresh in (_state(bench, conn), syncs.freshness(conn, "mlflow")):
            assert fresh.state == "failing", fresh
            assert fresh.failing_job == "runs"
            assert "HTTP 500" in (fresh.last_error or "")
        assert _state(bench, conn, "mlflow-registry").state == "ok"

        proxy.clear()
        bench.sync_now("mlflow")
        assert wait_until(lambda: _state(bench, conn).state == "ok", 2 * POLL + 10)


def test_a_failing_registry_pass_shows_on_its_own_feed(
    seeded_mlflow_server, make_workbench
) -> None:
    server, _dataset = seeded_mlflow_server
    with FaultProxy(server.url) as proxy:
        bench = make_workbench(proxy.url, mlflow__poll_interval=POLL)
        conn = bench.reader()
        bench.start()
        assert wait_until(lambda: _state(bench, conn, "mlflow-registry").state == "ok", 30)
        proxy.on("*", MODELS_SEARCH, Status(503, {"message": "registry store down"}))
        assert wait_until(
            lambda: _state(bench, conn, "mlflow-registry").state == "failing", 2 * POLL + 5
        )
        fresh = _state(bench, conn, "mlflow-registry")
        assert fresh.failing_job == "registry" and "503" in (fresh.last_error or "")
        assert _state(bench, conn).state == "ok"  # the runs feed is fine


def test_a_full_cache_disk_shows_as_failing_and_loses_nothing(
    mlflow_server, make_workbench
) -> None:
    """SQLite's own SQLITE_FULL (a page limit on the writer): the runs pass fails, its record
    cannot be written either, and the bar still says so; with room again every run arrives."""
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_server.url)
    exp = client.create_experiment(f"full-disk-{time.time_ns()}")
    bench = make_workbench(mlflow_server.url, mlflow__poll_interval=POLL)
    conn = bench.reader()
    bench.start()
    assert wait_until(lambda: _state(bench, conn).state == "ok", 30)

    with bench.writer.transaction() as w:
        pages = w.execute("PRAGMA page_count").fetchone()[0]
        w.execute(f"PRAGMA max_page_count = {pages}")
    filled = 0
    while True:  # fill the last pages, as a full disk would (each row its own commit)
        try:
            with bench.writer.transaction() as w:
                w.execute(
                    "INSERT INTO sync_state (source, key, value) VALUES ('filler', ?, ?)",
                    (str(time.monotonic_ns()), "x" * 500),
                )
        except sqlite3.OperationalError as exc:
            assert "full" in str(exc)
            break
        filled += 1
    assert filled  # the pages had room; now they have none
    made = {
        client.create_run(exp, run_name=f"r{i}", tags={"pad": "y" * 2000}).info.run_id
        for i in range(40)
    }
    fresh = wait_until(lambda: (f := _state(bench, conn)).state == "failing" and f, 2 * POLL + 10)
    assert fresh, _state(bench, conn)
    assert "full" in (fresh.last_error or "")

    with bench.writer.transaction() as w:
        w.execute("PRAGMA max_page_count = 1073741823")
    bench.sync_now("mlflow")
    assert wait_until(lambda: made <= cached_run_ids(conn, exp), 2 * POLL + 20)
    assert wait_until(lambda: _state(bench, conn).state == "ok", 2 * POLL + 10)
