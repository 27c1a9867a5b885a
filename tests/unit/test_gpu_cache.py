"""GPU devices, samples and processes in the cache: latest as of a time, history, retention,
and the thinning that keeps 1 Hz local samples from growing the cache without bound."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlopstui.cache import db, gpus
from mlopstui.domain.gpus import GpuDevice, GpuProcess, GpuSample

T0 = 1_800_000_000  # a whole minute (T0 % 60 == 0)
H = "gpu-node-a"
U0, U1 = "GPU-aaaa-0", "GPU-aaaa-1"


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    opened = db.open_writer(tmp_path / "c.sqlite")
    yield opened.conn
    opened.conn.close()


def tx(conn: sqlite3.Connection, fn, *args, **kwargs):
    conn.execute("BEGIN IMMEDIATE")
    try:
        out = fn(conn, *args, **kwargs)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return out


def sample(at: int, uuid: str = U0, host: str = H, util: float | None = 50.0, **kw) -> GpuSample:
    index = kw.pop("index", int(uuid[-1]))
    kw.setdefault("product", "NVIDIA A100-SXM4-80GB")
    return GpuSample(host, uuid, at, index, util=util, mem_used=1000.0, mem_total=81920.0, **kw)


def insert_raw(conn: sqlite3.Connection, host: str, uuid: str, source: str, ats: range) -> None:
    """Rows inserted directly (a long history is quicker to make this way)."""
    conn.execute(
        "INSERT OR REPLACE INTO gpu_devices (host, uuid, gpu_index, product, source, last_seen) "
        "VALUES (?, ?, 0, 'x', ?, ?)",
        (host, uuid, source, float(ats[-1])),
    )
    conn.executemany(
        "INSERT INTO gpu_samples (host, uuid, at, util) VALUES (?, ?, ?, ?)",
        [(host, uuid, at, float(at % 100)) for at in ats],
    )


def test_store_upserts_devices_and_latest_reads_the_newest_sample(
    conn: sqlite3.Connection,
) -> None:
    stored = tx(
        conn,
        gpus.store_samples,
        "dcgm",
        [sample(T0, util=10), sample(T0 + 30, util=20), sample(T0, U1, util=90)],
    )
    assert stored == 3
    assert gpus.devices(conn) == [
        GpuDevice(H, U0, 0, "NVIDIA A100-SXM4-80GB", "dcgm", float(T0 + 30)),
        GpuDevice(H, U1, 1, "NVIDIA A100-SXM4-80GB", "dcgm", float(T0)),
    ]
    latest = gpus.latest(conn)
    assert [(s.uuid, s.at, s.util, s.index) for s in latest] == [
        (U0, T0 + 30, 20.0, 0),
        (U1, T0, 90.0, 1),
    ]
    assert latest[0].product == "NVIDIA A100-SXM4-80GB"
    assert latest[0].mem_total == 81920.0


def test_latest_as_of_steps_back_in_time(conn: sqlite3.Connection) -> None:
    tx(conn, gpus.store_samples, "dcgm", [sample(T0 + i * 30, util=i) for i in range(10)])
    tx(conn, gpus.store_samples, "dcgm", [sample(T0 + 200, U1, util=7)])
    as_of = gpus.latest(conn, as_of=T0 + 100)
    # U1 had no sample by then: it is left out, not shown with later values.
    assert [(s.uuid, s.at, s.util) for s in as_of] == [(U0, T0 + 90, 3.0)]
    assert [s.util for s in gpus.latest(conn, as_of=T0 + 90)] == [3.0]
    assert gpus.latest(conn, as_of=T0 - 1) == []
    assert [s.uuid for s in gpus.latest(conn, host=H, as_of=T0 + 1000)] == [U0, U1]
    assert gpus.latest(conn, host="elsewhere") == []


def test_a_lost_gpu_keeps_its_product_and_its_error_shows_only_now(
    conn: sqlite3.Connection,
) -> None:
    tx(conn, gpus.store_samples, "nvml", [sample(T0)])
    lost = GpuSample(H, U0, T0 + 1, index=None, product="", error="GPU is lost")
    tx(conn, gpus.store_samples, "nvml", [lost])
    (device,) = gpus.devices(conn, H)
    assert (device.index, device.product, device.error) == (0, "NVIDIA A100-SXM4-80GB", lost.error)
    (now,) = gpus.latest(conn)
    assert (now.at, now.util, now.mem_used, now.error) == (T0 + 1, None, None, "GPU is lost")
    (before,) = gpus.latest(conn, as_of=T0)
    assert (before.util, before.error) == (50.0, None)
    tx(conn, gpus.store_samples, "nvml", [sample(T0 + 2)])  # it came back
    assert gpus.devices(conn)[0].error is None


def test_history_is_a_bounded_range_oldest_first(conn: sqlite3.Connection) -> None:
    tx(conn, gpus.store_samples, "nvml", [sample(T0 + i, util=i) for i in range(100)])
    tx(conn, gpus.store_samples, "nvml", [sample(T0 + i, U1) for i in range(100)])
    got = gpus.history(conn, H, U0, T0 + 10, T0 + 19)
    assert [s.util for s in got] == [float(i) for i in range(10, 20)]
    assert {s.uuid for s in got} == {U0}
    assert len(gpus.history(conn, H, U0, T0 + 90)) == 10
    assert gpus.history(conn, H, "nope", T0) == []


def test_peak_util_over_a_window_flags_idle_gpus(conn: sqlite3.Connection) -> None:
    tx(conn, gpus.store_samples, "dcgm", [sample(T0 + i * 30, util=1) for i in range(60)])
    busy = [sample(T0 + i * 30, U1, util=1 if i < 50 else 80) for i in range(60)]
    tx(conn, gpus.store_samples, "dcgm", busy)
    peaks = gpus.peak_util(conn, T0, T0 + 1200)
    assert peaks == {(H, U0): 1.0, (H, U1): 1.0}
    assert gpus.peak_util(conn, T0 + 1200)[(H, U1)] == 80.0
    assert gpus.peak_util(conn, T0 + 10_000) == {}


def test_processes_replace_the_host_snapshot(conn: sqlite3.Connection) -> None:
    first = [
        GpuProcess(H, U0, 0, 10, "C", "alice", "python train.py", 2048.0, T0),
        GpuProcess(H, U0, 0, 11, "C+G", "bob", "x", None, T0),
        GpuProcess(H, U1, 1, 10, "C", "alice", "python train.py", 512.0, T0),
    ]
    assert tx(conn, gpus.store_processes, H, first) == 3
    tx(conn, gpus.store_processes, "other", [GpuProcess("other", "G", 0, 1, at=T0)])
    assert gpus.processes(conn, H) == first
    tx(conn, gpus.store_processes, H, first[2:])
    assert gpus.processes(conn, H) == first[2:]
    assert [p.host for p in gpus.processes(conn)] == [H, "other"]


def test_prune_applies_retention_to_samples_allocations_and_devices(
    conn: sqlite3.Connection,
) -> None:
    insert_raw(conn, H, U0, "dcgm", range(T0, T0 + 3000, 30))
    insert_raw(conn, "gone-node", U1, "dcgm", range(T0, T0 + 600, 30))
    conn.executemany(
        "INSERT INTO gpu_allocations (context, node, at, allocated, present) "
        "VALUES ('c', ?, ?, ?, ?)",
        [
            ("n1", T0, 8, 1),
            ("n1", T0 + 100, 4, 1),
            ("n1", T0 + 2000, 2, 1),
            ("n2", T0, 1, 1),
            ("deleted", T0, 0, 1),
            ("deleted", T0 + 10, 0, 0),
        ],
    )
    gone = tx(conn, gpus.prune, T0 + 1000)
    assert gone == 34 + 20 + 4 + 1  # U0's samples, gone-node's samples, allocations, device
    assert conn.execute("SELECT min(at) FROM gpu_samples").fetchone()[0] == T0 + 1020
    # n2's only (old) allocation row is still its state: kept. n1 keeps its newer row. A node
    # deleted longer ago than the retention leaves nothing behind.
    assert conn.execute(
        "SELECT node, at, allocated FROM gpu_allocations ORDER BY node"
    ).fetchall() == [("n1", T0 + 2000, 2), ("n2", T0, 1)]
    assert [d.host for d in gpus.devices(conn)] == [H]


def test_prune_thins_old_local_samples_to_one_per_minute(conn: sqlite3.Connection) -> None:
    now = T0 + 3 * 3600
    insert_raw(conn, "laptop", U0, "nvml", range(T0 + 7, now))  # 1 Hz for 3 h, off the minute
    insert_raw(conn, H, U1, "dcgm", range(T0, now, 5))  # Prometheus: left at its resolution
    dcgm_rows = conn.execute("SELECT count(*) FROM gpu_samples WHERE host = ?", (H,)).fetchone()
    tx(conn, gpus.prune, now - 7 * 86400, thin_before=now - 3600)

    def ats(host: str) -> list[int]:
        rows = conn.execute("SELECT at FROM gpu_samples WHERE host = ? ORDER BY at", (host,))
        return [r[0] for r in rows]

    local = ats("laptop")
    old = [a for a in local if a < now - 3600]
    recent = [a for a in local if a >= now - 3600]
    assert recent == list(range(now - 3600, now))  # the last hour stays at 1 Hz
    assert old[:3] == [T0 + 7, T0 + 60, T0 + 120]  # the first sample of each minute
    assert len(old) == 120
    assert (
        conn.execute("SELECT count(*) FROM gpu_samples WHERE host = ?", (H,)).fetchone()
        == dcgm_rows
    )

    # An hour later only the newly old hour is thinned; what was thinned stays as it was.
    insert_raw(conn, "laptop", U0, "nvml", range(now, now + 3600))
    tx(conn, gpus.prune, now - 7 * 86400, thin_before=now)
    again = ats("laptop")
    assert [a for a in again if a < now - 3600] == old
    assert len([a for a in again if now - 3600 <= a < now]) == 60
    assert len([a for a in again if a >= now]) == 3600


def test_reads_walk_indexes_not_the_whole_history(conn: sqlite3.Connection) -> None:
    def plan(sql: str, *args) -> str:
        return " | ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args))

    # The pane's per-GPU lookups seek the (host, uuid, at) key.
    latest_sql = """SELECT s.at FROM gpu_devices AS d
        JOIN gpu_samples AS s ON s.host = d.host AND s.uuid = d.uuid AND s.at = (
            SELECT max(at) FROM gpu_samples WHERE host = d.host AND uuid = d.uuid AND at <= ?)"""
    text = plan(latest_sql, T0)
    assert "SCAN s" not in text and "SCAN gpu_samples" not in text, text
    history_sql = "SELECT at FROM gpu_samples WHERE host = ? AND uuid = ? AND at >= ?"
    assert "SEARCH gpu_samples USING PRIMARY KEY" in plan(history_sql, H, U0, T0)
    assert "gpu_samples_at" in plan("DELETE FROM gpu_samples WHERE at < ?", T0)


def test_last_sample_at_and_notes(conn: sqlite3.Connection) -> None:
    assert gpus.last_sample_at(conn, "dcgm") is None
    tx(conn, gpus.store_samples, "dcgm", [sample(T0), sample(T0 + 60, U1)])
    tx(conn, gpus.store_samples, "nvml", [sample(T0 + 999, host="laptop")])
    assert gpus.last_sample_at(conn, "dcgm") == T0 + 60
    assert gpus.note(conn, "nvml") is None
    tx(conn, gpus.set_note, "nvml", "NVML not found (no NVIDIA driver on this host)")
    assert gpus.note(conn, "nvml") == "NVML not found (no NVIDIA driver on this host)"
    tx(conn, gpus.set_note, "nvml", None)
    assert gpus.note(conn, "nvml") is None
