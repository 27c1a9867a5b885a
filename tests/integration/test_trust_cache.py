"""Issue 11, class 7: damage in the middle of the cache is found in use and repaired.

The cache is really damaged (tests/cache_damage.py overwrites the cell content of a leaf page
of the runs table after a real sync filled it): opening it still works, the first query that
reads those rows fails with "database disk image is malformed". The sync runs against the real
MLflow server. Errors that are not damage (a full disk, a read-only cache) must not cost the
cache: nothing is moved aside and the failure is reported as it is.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from cache_damage import damage_table, is_damaged  # noqa: E402
from helpers import cached_run_ids, run_cli  # noqa: E402
from services import MlflowServer, SeededDataset  # noqa: E402

from mlopstui.cache import db, syncs  # noqa: E402

pytestmark = pytest.mark.mlflow_server
pytest_plugins = ["helpers"]

Seeded = tuple[MlflowServer, SeededDataset]


def _job(bench: Any, name: str) -> Any:
    return next(j for j in bench.jobs(heartbeat=False) if (j.source, j.name) == ("mlflow", name))


def _synced_then_damaged(make_workbench: Any, url: str, tmp_path: Path) -> Path:
    """A cache filled by a real sync, closed, then damaged in the middle of the runs table."""
    bench = make_workbench(url)
    assert bench.scheduler.run_job(_job(bench, "runs")).ok
    path = bench.cache_path
    bench.close()
    damage_table(path, "runs")
    assert is_damaged(path, "runs")
    return path


def _asides(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.broken-*"))


def test_damage_found_by_a_sync_is_moved_aside_and_rebuilt(
    make_workbench: Any, seeded_mlflow_server: Seeded, tmp_path: Path
) -> None:
    server, dataset = seeded_mlflow_server
    path = _synced_then_damaged(make_workbench, server.url, tmp_path)

    # Opening reads only the first pages: it succeeds and notices nothing.
    bench = make_workbench(server.url, mlflow__sweep_interval=0.001)
    assert bench.note is None

    first = bench.scheduler.run_job(_job(bench, "runs"))
    assert not first.ok
    assert "malformed" in (first.error or "") and "moved aside" in (first.error or ""), first
    assert bench.generation == 1 and first.error == bench.note

    # The damaged file went aside whole, with its -wal and -shm; nothing of it is left under
    # the cache's name, which is a sound, new cache.
    (aside,) = [p for p in _asides(path) if not p.name.endswith(("-wal", "-shm"))]
    assert aside.name in (bench.note or "")
    assert is_damaged(aside, "runs")
    assert db.check(path) is None
    conn = bench.reader()
    try:
        assert cached_run_ids(conn) == set()
        # The failed attempt is on record in the new cache, for the status bar.
        fresh = syncs.freshness(conn, "mlflow")
        assert fresh.state == "failing" and "moved aside" in (fresh.last_error or ""), fresh
    finally:
        conn.close()

    # The next pass syncs every run of the server into the rebuilt cache.
    second = bench.scheduler.run_job(_job(bench, "runs"))
    assert second.ok, second.error
    conn = bench.reader()
    try:
        assert cached_run_ids(conn) == {r.run_id for r in dataset.runs}
    finally:
        conn.close()
    assert bench.generation == 1, "a sound cache is not moved aside again"


def test_doctor_reports_damage_in_the_middle(
    make_workbench: Any, seeded_mlflow_server: Seeded, tmp_path: Path
) -> None:
    server, _ = seeded_mlflow_server
    path = _synced_then_damaged(make_workbench, server.url, tmp_path)

    result = run_cli("--cache", str(path), "--tracking-uri", server.url, "doctor")
    assert "Traceback" not in result.output
    assert result.returncode == 1, result.output
    (line,) = [x for x in result.stdout.splitlines() if x[5:].startswith("cache:")]
    assert line.startswith("FAIL cache: "), line
    assert "damaged" in line and "sync --once" in line, line
    # doctor only looks: the damaged file is where it was.
    assert is_damaged(path, "runs")
    assert not _asides(path)


@pytest.mark.parametrize(
    ("name", "pragma", "message"),
    [
        ("full", "PRAGMA max_page_count = {pages}", "database or disk is full"),
        ("read-only", "PRAGMA query_only = ON", "attempt to write a readonly database"),
    ],
)
def test_errors_that_are_not_damage_leave_the_cache_alone(
    make_workbench: Any,
    seeded_mlflow_server: Seeded,
    tmp_path: Path,
    name: str,
    pragma: str,
    message: str,
) -> None:
    server, dataset = seeded_mlflow_server
    bench = make_workbench(server.url, cache=f"{name}.sqlite")
    conn = bench.writer.conn
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(pragma.format(pages=pages))  # SQLite itself refuses the writes now

    rec = bench.scheduler.run_job(_job(bench, "runs"))
    assert not rec.ok and message in (rec.error or ""), rec
    assert "moved aside" not in (rec.error or "")
    assert bench.generation == 0 and bench.note is None
    assert not _asides(bench.cache_path)
    assert db.check(bench.cache_path) is None

    # Once SQLite takes writes again, the same cache syncs every run.
    conn.execute("PRAGMA query_only = OFF")
    conn.execute("PRAGMA max_page_count = 1073741823")
    assert bench.scheduler.run_job(_job(bench, "runs")).ok
    reader = bench.reader()
    try:
        assert cached_run_ids(reader) == {r.run_id for r in dataset.runs}
    finally:
        reader.close()


def test_reader_damage_rebuilds_once_and_a_stale_report_is_ignored(
    make_workbench: Any, seeded_mlflow_server: Seeded, tmp_path: Path
) -> None:
    server, _ = seeded_mlflow_server
    path = _synced_then_damaged(make_workbench, server.url, tmp_path)
    bench = make_workbench(server.url)
    reader = bench.reader()
    seen = bench.generation
    with pytest.raises(sqlite3.DatabaseError) as caught:
        reader.execute("SELECT * FROM runs").fetchall()
    reader.close()

    assert bench.recover(caught.value, seen)
    assert bench.generation == 1 and len(_asides(path)) >= 1
    # A second reader opened before the rebuild reports the same damage: it read the old
    # file, so the new cache stays.
    assert bench.recover(caught.value, seen)
    assert bench.generation == 1
    assert not bench.recover(sqlite3.OperationalError("database is locked"), 1)
    assert bench.generation == 1
