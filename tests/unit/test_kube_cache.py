"""Kubernetes objects in the cache: replace after a list, watch events, allocation sums, GPUs
in use, the idle-but-allocated flag, allocation history and the view as of a past time.

Rows go in through the same functions the watchers use; GPU samples are inserted directly
(hosts are node names, times whole seconds)."""

from __future__ import annotations

import json
import sqlite3

import pytest

from mlopstui.cache import db, gpu_nodes
from mlopstui.cache import kube as store
from mlopstui.domain.kubernetes import KubeEvent, KubeNode, KubePod, WatchEvent

CTX = "dev"
T0 = 1_800_000_000
MIN = 60


@pytest.fixture
def conn(writer: db.Writer) -> sqlite3.Connection:
    return writer.conn


def gpu_node(name: str, gpus: int = 8, **kw) -> KubeNode:
    kw.setdefault("gpu_product", "NVIDIA-A100-SXM4-80GB")
    kw.setdefault("ready", "True")
    return KubeNode(name, gpu_capacity=gpus, gpu_allocatable=gpus, created=T0 - 86400, **kw)


def pod(name: str, node: str, gpus: int, phase: str = "Running", created: float = T0 - 7200, **kw):
    return KubePod("ml", name, node, phase, gpus, created=created, **kw)


def load(writer: db.Writer, nodes=(), pods=(), at: float = T0) -> None:
    with writer.transaction() as c:
        store.replace(c, CTX, "nodes", list(nodes))
        store.replace(c, CTX, "pods", list(pods))
        gpu_nodes.snapshot_allocations(c, CTX, None, at)


def samples(conn: sqlite3.Connection, host: str, util: float, since: int, until: int, gpus=2):
    """One sample per minute per GPU of `host` in [since, until]."""
    rows = [
        (host, f"GPU-{host}-{i}", at, util, 1000.0 * (i + 1), 81920.0, 40.0 + i, 100.0)
        for at in range(since, until + 1, MIN)
        for i in range(gpus)
    ]
    conn.executemany("INSERT OR REPLACE INTO gpu_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def row(rows, name):
    return next(r for r in rows if r.name == name)


def test_allocation_sums_running_and_bound_pending_pods(writer, conn):
    load(
        writer,
        [gpu_node("a"), gpu_node("b", 4), KubeNode("cpu-only")],
        [
            pod("train", "a", 4),
            pod("eval", "a", 2, phase="Pending"),
            pod("done", "a", 8, phase="Succeeded"),
            pod("failed", "a", 8, phase="Failed"),
            pod("unbound", "", 8, phase="Pending"),
            pod("cpu", "a", 0),
            pod("infer", "b", 1),
        ],
    )
    rows = gpu_nodes.node_rows(conn, CTX, now=T0)
    assert [r.name for r in rows] == ["a", "b"]  # GPU nodes only
    a, b = rows
    assert (a.allocatable, a.allocated, b.allocated) == (8, 6, 1)
    assert [(h.name, h.gpus) for h in a.holders] == [("train", 4), ("eval", 2)]
    assert a.in_use is None and a.util is None  # no samples: unknown, not zero
    assert a.status == "Ready" and a.age == 86400


def test_gpus_in_use_and_latest_metrics(writer, conn):
    load(writer, [gpu_node("a")], [pod("train", "a", 2)])
    samples(conn, "a", 3.0, T0 - 600, T0 - 120)  # old idle samples...
    conn.executemany(
        "INSERT INTO gpu_samples VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [  # ...then the newest: one GPU busy, one idle
            ("a", "GPU-a-0", T0 - 30, 97.0, 70000.0, 81920.0, 71.0, 390.0),
            ("a", "GPU-a-1", T0 - 30, 2.0, 500.0, 81920.0, 35.0, 60.0),
            ("elsewhere", "GPU-x", T0 - 30, 99.0, 1.0, 1.0, 1.0, 1.0),
        ],
    )
    a = row(gpu_nodes.node_rows(conn, CTX, now=T0, busy_threshold=5), "a")
    assert (a.in_use, a.gpus_reporting) == (1, 2)
    assert a.util == pytest.approx(49.5)
    assert (a.mem_used, a.mem_total, a.temp, a.power) == (70500.0, 163840.0, 71.0, 450.0)
    # Samples older than RECENT say nothing about now.
    later = row(gpu_nodes.node_rows(conn, CTX, now=T0 + gpu_nodes.RECENT + 60), "a")
    assert later.in_use is None and later.util is None


def test_idle_but_allocated_needs_allocation_idleness_and_coverage(writer, conn):
    load(
        writer,
        [gpu_node("idle"), gpu_node("busy"), gpu_node("free"), gpu_node("new"), gpu_node("fresh")],
        [
            pod("sleeper", "idle", 4),
            pod("worker", "busy", 4),
            pod("just-started", "new", 2, created=T0 - 5 * MIN),
            pod("holder", "fresh", 2),
        ],
    )
    samples(conn, "idle", 1.0, T0 - 40 * MIN, T0)
    samples(conn, "busy", 1.0, T0 - 40 * MIN, T0)
    samples(conn, "busy", 80.0, T0 - 10 * MIN, T0 - 10 * MIN)  # one busy minute in the window
    samples(conn, "free", 0.0, T0 - 40 * MIN, T0)
    samples(conn, "new", 0.0, T0 - 40 * MIN, T0)
    samples(conn, "fresh", 0.0, T0 - 10 * MIN, T0)  # reporting for 10 min only
    rows = gpu_nodes.node_rows(conn, CTX, now=T0, busy_threshold=5, idle_minutes=30)
    flags = {r.name: r.idle_but_allocated for r in rows}
    assert flags == {"idle": True, "busy": False, "free": False, "new": False, "fresh": False}
    assert [h.name for h in row(rows, "idle").holders] == ["sleeper"]
    assert row(rows, "free").allocated == 0
    # A shorter idle window: the node that started reporting 10 min ago is idle long enough.
    short = gpu_nodes.node_rows(conn, CTX, now=T0, busy_threshold=5, idle_minutes=5)
    assert row(short, "fresh").idle_but_allocated and row(short, "busy").idle_but_allocated


def test_watch_events_update_rows_and_write_allocation_history(writer, conn):
    load(writer, [gpu_node("a")], [pod("train", "a", 4)], at=T0)
    events = [
        WatchEvent("ADDED", pod("eval", "a", 2), "10"),
        WatchEvent("BOOKMARK", None, "11"),
        WatchEvent("MODIFIED", pod("train", "a", 4), "12"),  # unchanged: not a change
    ]
    with writer.transaction() as c:
        changed, touched = store.apply(c, CTX, "pods", events)
        gpu_nodes.snapshot_allocations(c, CTX, touched, T0 + 60)
    assert (changed, touched) == (1, {"a"})
    with writer.transaction() as c:
        store.apply(c, CTX, "pods", [WatchEvent("DELETED", pod("train", "a", 4), "13")])
        store.apply(
            c, CTX, "nodes", [WatchEvent("MODIFIED", gpu_node("a", unschedulable=True), "14")]
        )
        gpu_nodes.snapshot_allocations(c, CTX, {"a"}, T0 + 120)
        gpu_nodes.snapshot_allocations(c, CTX, {"a"}, T0 + 180)  # nothing changed: no row
    history = conn.execute(
        "SELECT at, allocated, unschedulable, pods FROM gpu_allocations ORDER BY at"
    ).fetchall()
    assert [(r[0] - T0, r[1], r[2]) for r in history] == [(0, 4, 0), (60, 6, 0), (120, 2, 1)]
    assert json.loads(history[-1][3]) == [["ml", "eval", 2, T0 - 7200]]
    now = row(gpu_nodes.node_rows(conn, CTX, now=T0 + 200), "a")
    assert (now.allocated, now.cordoned, now.status) == (2, True, "Ready,cordoned")


def test_as_of_reads_allocation_history_and_past_samples(writer, conn):
    load(writer, [gpu_node("a"), gpu_node("b")], [pod("train", "a", 8)], at=T0)
    samples(conn, "a", 90.0, T0 - 40 * MIN, T0 + 40 * MIN)
    with writer.transaction() as c:  # at T0+30min the job ends; b is deleted at T0+35min
        store.apply(c, CTX, "pods", [WatchEvent("DELETED", pod("train", "a", 8), "20")])
        gpu_nodes.snapshot_allocations(c, CTX, {"a"}, T0 + 30 * MIN)
        store.apply(c, CTX, "nodes", [WatchEvent("DELETED", gpu_node("b"), "21")])
        gpu_nodes.snapshot_allocations(c, CTX, {"b"}, T0 + 35 * MIN)
    conn.execute("UPDATE gpu_samples SET util = 0 WHERE at > ?", (T0 + 30 * MIN,))

    now = gpu_nodes.node_rows(conn, CTX, now=T0 + 40 * MIN)
    assert [(r.name, r.allocated, r.in_use) for r in now] == [("a", 0, 0)]
    past = gpu_nodes.node_rows(conn, CTX, now=T0 + 40 * MIN, as_of=T0 + 10 * MIN)
    assert [(r.name, r.allocated, r.in_use, r.allocatable) for r in past] == [
        ("a", 8, 2, 8),
        ("b", 0, None, 8),
    ]
    assert past[0].holders[0].name == "train" and past[0].util == 90.0
    assert past[0].age == 86400 + 10 * MIN
    assert gpu_nodes.node_rows(conn, CTX, now=T0, as_of=T0 - 1) == []  # before any history


def test_nodes_forbidden_still_show_the_nodes_pods_hold(writer, conn):
    """RBAC: without nodes (the `view` role), pods still say which nodes hold GPUs."""
    load(writer, [], [pod("train", "hidden", 4)])
    (r,) = gpu_nodes.node_rows(conn, CTX, now=T0)
    assert (r.name, r.allocatable, r.allocated, r.status) == ("hidden", None, 4, "Unknown")
    with writer.transaction() as c:
        store.set_watch_status(
            c,
            CTX,
            store.WatchStatus(
                "nodes", "forbidden", T0, 'nodes is forbidden: User "viewer"', "viewer"
            ),
        )
    status = store.watch_status(conn, CTX)
    assert status["nodes"].describe() == "nodes: forbidden for user viewer (RBAC)"
    assert store.watch_status(conn, "other") == {}


def test_contexts_are_kept_apart_and_relists_replace(writer, conn):
    load(writer, [gpu_node("a"), gpu_node("b")], [pod("p", "a", 1)])
    with writer.transaction() as c:
        store.replace(c, "prod", "nodes", [gpu_node("z")])
        changed, touched = store.replace(c, CTX, "nodes", [gpu_node("a")])
    assert (changed, touched) == (1, {"b"})
    assert [r.name for r in gpu_nodes.node_rows(conn, CTX, now=T0)] == ["a"]
    assert [r.name for r in gpu_nodes.node_rows(conn, "prod", now=T0)] == ["z"]


def test_pods_on_and_events_keep_untrusted_text_verbatim(writer, conn):
    hostile = "[red]x[/red] \x1b[2J\u202e"
    with writer.transaction() as c:
        store.replace(c, CTX, "nodes", [gpu_node("a", taints=(("gpu", "", "NoSchedule"),))])
        store.replace(
            c,
            CTX,
            "pods",
            [
                pod("p1", "a", 1, run_id=hostile, owner_kind="Job", owner_name="j"),
                pod("p2", "a", 4),
            ],
        )
        store.replace(
            c,
            CTX,
            "events",
            [
                KubeEvent("default", "e1", "Node", "a", "Warning", "Rebooted", hostile, 2, T0),
                KubeEvent("default", "e2", "Node", "a", "Normal", "Ready", "ok", 1, T0 + 5),
                KubeEvent("default", "e3", "Node", "b", "Normal", "Ready", "other", 1, T0),
            ],
        )
    assert [p.name for p in store.pods_on(conn, CTX, "a")] == ["p2", "p1"]
    assert store.pods_on(conn, CTX, "a")[1].run_id == hostile
    assert [e.name for e in store.events_for(conn, CTX, "a")] == ["e2", "e1"]
    assert store.events_for(conn, CTX, "a")[1].message == hostile
    detail = store.node(conn, CTX, "a")
    assert detail is not None and detail.taints == (("gpu", "", "NoSchedule"),)
    assert row(gpu_nodes.node_rows(conn, CTX, now=T0), "a").taints == ("gpu:NoSchedule",)
