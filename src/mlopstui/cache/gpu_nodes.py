"""The GPU nodes pane's read model: one row per GPU node, and the allocation history behind it.

Allocation comes from the cached pods (`cache.kube`), use from the GPU samples of hosts named
like the nodes (`cache.gpus`). Allocation history: whenever a GPU node's allocation or state
(allocatable, Ready, cordoned, present) changes, the Kubernetes watcher writes a row into
gpu_allocations (`snapshot_allocations`); the newest row at or before a time is the node's state
then (retention in `cache.gpus.prune` keeps each node's newest row). `node_rows(..., as_of=t)`
reads those rows and the GPU samples up to t, so the pane can step back in time.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

ACTIVE_PHASES = ("Running", "Pending")
"""Pods in these phases with a node hold their GPUs (Succeeded/Failed ones released them)."""
RECENT = 300
"""Seconds: a GPU sample older than this says nothing about now."""


# -- writes (the Kubernetes watcher and the cordon action, inside a writer transaction)


def snapshot_allocations(
    conn: sqlite3.Connection, context: str, nodes: Iterable[str] | None, at: float
) -> int:
    """Record the allocation and state of GPU nodes (all when `nodes` is None) where it
    differs from their newest history row. Returns rows written."""
    if nodes is None:
        nodes = {
            r[0]
            for r in conn.execute(
                """SELECT name FROM kube_nodes WHERE context = ?1 UNION
                   SELECT node FROM kube_pods WHERE context = ?1 AND node != ''""",
                (context,),
            )
        }
    written = 0
    for node in sorted(nodes):
        state = conn.execute(
            """SELECT gpu_allocatable, ready, unschedulable,
                      gpu_capacity > 0 OR gpu_allocatable > 0 OR gpu_product != ''
               FROM kube_nodes WHERE context = ? AND name = ?""",
            (context, node),
        ).fetchone()
        holds = _holders(conn, context, node)
        last = conn.execute(
            """SELECT allocated, pods, allocatable, ready, unschedulable, present
               FROM gpu_allocations WHERE context = ? AND node = ? ORDER BY at DESC LIMIT 1""",
            (context, node),
        ).fetchone()
        if last is None and not holds and not (state and state[3]):
            continue  # not a GPU node, and never was one here
        pods = json.dumps([[h.namespace, h.name, h.gpus, h.created] for h in holds])
        allocated = sum(h.gpus for h in holds)
        if state is not None:
            row = (allocated, pods, state[0], state[1], state[2], 1)
        else:  # deleted, or not visible (RBAC) while pods on it are
            row = (allocated, pods, None, "Unknown", 0, 1 if holds else 0)
        if last is not None and tuple(last) == row:
            continue
        if last is None and not row[5]:
            continue
        conn.execute(
            """INSERT OR REPLACE INTO gpu_allocations (context, node, at, allocated, pods,
               allocatable, ready, unschedulable, present) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (context, node, int(at), *row),
        )
        written += 1
    return written


# -- reads (the pane, the CLI; any connection)


@dataclass(frozen=True, slots=True)
class PodHold:
    """A pod holding GPUs of a node."""

    namespace: str
    name: str
    gpus: int
    created: float | None = None


@dataclass(frozen=True, slots=True)
class NodeRow:
    """One line of the GPU nodes table. Metrics are None when no GPU of the node reported a
    sample in the last RECENT seconds (before `as_of`); `allocatable` is None when the node
    object itself is not visible (RBAC) and the row comes from the pods on it."""

    name: str
    gpu_product: str
    allocatable: int | None
    allocated: int
    in_use: int | None
    util: float | None
    mem_used: float | None
    mem_total: float | None
    temp: float | None
    power: float | None
    ready: str
    cordoned: bool
    taints: tuple[str, ...]
    created: float | None
    age: float | None
    idle_but_allocated: bool
    holders: tuple[PodHold, ...]
    gpus_reporting: int = 0

    @property
    def status(self) -> str:
        """'Ready', 'NotReady' or 'Unknown', with ',cordoned' as kubectl's SchedulingDisabled."""
        text = {"True": "Ready", "False": "NotReady"}.get(self.ready, "Unknown")
        return f"{text},cordoned" if self.cordoned else text


def _holders(conn: sqlite3.Connection, context: str, node: str) -> list[PodHold]:
    marks = ",".join("?" * len(ACTIVE_PHASES))
    rows = conn.execute(
        f"""SELECT namespace, name, gpu_request, created FROM kube_pods
            WHERE context = ? AND node = ? AND gpu_request > 0 AND phase IN ({marks})
            ORDER BY gpu_request DESC, namespace, name""",
        (context, node, *ACTIVE_PHASES),
    )
    return [PodHold(*r) for r in rows]


def _taint_text(taints: list) -> tuple[str, ...]:
    return tuple(f"{k}={v}:{e}" if v else f"{k}:{e}" for k, v, e in taints)


def _live_states(conn: sqlite3.Connection, context: str) -> dict[str, dict]:
    states: dict[str, dict] = {}
    for name, product, alloc, ready, unsched, taints, created in conn.execute(
        """SELECT name, gpu_product, gpu_allocatable, ready, unschedulable, taints, created
           FROM kube_nodes WHERE context = ?
             AND (gpu_capacity > 0 OR gpu_allocatable > 0 OR gpu_product != '')""",
        (context,),
    ):
        states[name] = dict(
            product=product,
            allocatable=alloc,
            ready=ready,
            cordoned=bool(unsched),
            taints=_taint_text(json.loads(taints)),
            created=created,
            holders=[],
        )
    marks = ",".join("?" * len(ACTIVE_PHASES))
    for ns, name, node, gpus, created in conn.execute(
        f"""SELECT namespace, name, node, gpu_request, created FROM kube_pods
            WHERE context = ? AND node != '' AND gpu_request > 0 AND phase IN ({marks})
            ORDER BY node, gpu_request DESC, namespace, name""",
        (context, *ACTIVE_PHASES),
    ):
        if node not in states:  # the node is not visible (RBAC) but its pods are
            states[node] = dict(
                product="",
                allocatable=None,
                ready="Unknown",
                cordoned=False,
                taints=(),
                created=None,
                holders=[],
            )
        states[node]["holders"].append(PodHold(ns, name, gpus, created))
    return states


def _past_states(conn: sqlite3.Connection, context: str, as_of: float) -> dict[str, dict]:
    meta = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT name, gpu_product, taints, created FROM kube_nodes WHERE context = ?",
            (context,),
        )
    }
    states: dict[str, dict] = {}
    # SQLite returns the other columns of the row holding max(at) (a documented extension).
    for node, _at, _alloc, pods, allocatable, ready, unsched, present in conn.execute(
        """SELECT node, max(at), allocated, pods, allocatable, ready, unschedulable, present
           FROM gpu_allocations WHERE context = ? AND at <= ? GROUP BY node""",
        (context, int(as_of)),
    ):
        if not present:
            continue
        product, taints, created = meta.get(node, ("", "[]", None))
        states[node] = dict(
            product=product,
            allocatable=allocatable,
            ready=ready,
            cordoned=bool(unsched),
            taints=_taint_text(json.loads(taints)),
            created=created,
            holders=[PodHold(*p) for p in json.loads(pods)],
        )
    return states


def node_rows(
    conn: sqlite3.Connection,
    context: str,
    now: float,
    busy_threshold: float = 5.0,
    idle_minutes: float = 30.0,
    *,
    as_of: float | None = None,
    recent: float = RECENT,
) -> list[NodeRow]:
    """The GPU nodes of a context, by name: allocation from the pods (or, `as_of` a past time,
    from the allocation history), use from the GPU samples of hosts named like the nodes.

    In use: GPUs whose newest recent sample is above `busy_threshold` (%). Idle but
    allocated: GPUs are allocated, a pod has held them for `idle_minutes`, and every sample of
    every GPU of the node over that time is at or below the threshold (the samples must cover
    the window, so a node that just started reporting is not flagged)."""
    t = now if as_of is None else as_of
    states = _live_states(conn, context) if as_of is None else _past_states(conn, context, as_of)
    latest: dict[str, list[tuple]] = defaultdict(list)
    for host, util, mem_used, mem_total, temp, power in conn.execute(
        """SELECT s.host, s.util, s.mem_used, s.mem_total, s.temp, s.power
           FROM gpu_samples AS s JOIN (
               SELECT host, uuid, max(at) AS at FROM gpu_samples
               WHERE at > ? AND at <= ? GROUP BY host, uuid) AS m
           ON s.host = m.host AND s.uuid = m.uuid AND s.at = m.at""",
        (int(t - recent), int(t)),
    ):
        if host in states:
            latest[host].append((util, mem_used, mem_total, temp, power))
    start = t - idle_minutes * 60
    # At least the last `recent` seconds of samples decide, even when idle_minutes is shorter
    # than the exporters' sampling interval.
    sample_start = min(start, t - recent)
    window = {
        r[0]: r[1:]
        for r in conn.execute(
            """SELECT host, max(util), min(at), max(at), count(util) FROM gpu_samples
               WHERE at >= ? AND at <= ? GROUP BY host""",
            (int(sample_start), int(t)),
        )
    }
    rows = []
    for name in sorted(states):
        s = states[name]
        holders = tuple(s["holders"])
        allocated = sum(h.gpus for h in holders)
        samples = latest.get(name, [])

        def col(i: int, samples: list[tuple] = samples) -> list[float]:
            return [v[i] for v in samples if v[i] is not None]

        utils = col(0)
        idle = False
        peak = window.get(name)
        if allocated and peak and peak[3]:
            top, first, last, _n = peak
            held_long = any(h.created is None or h.created <= start for h in holders)
            covered = first <= sample_start + recent and last > t - recent
            idle = held_long and covered and top <= busy_threshold
        rows.append(
            NodeRow(
                name=name,
                gpu_product=s["product"],
                allocatable=s["allocatable"],
                allocated=allocated,
                in_use=sum(u > busy_threshold for u in utils) if utils else None,
                util=sum(utils) / len(utils) if utils else None,
                mem_used=sum(col(1)) if col(1) else None,
                mem_total=sum(col(2)) if col(2) else None,
                temp=max(col(3)) if col(3) else None,
                power=sum(col(4)) if col(4) else None,
                ready=s["ready"],
                cordoned=s["cordoned"],
                taints=s["taints"],
                created=s["created"],
                age=(t - s["created"]) if s["created"] is not None else None,
                idle_but_allocated=idle,
                holders=holders,
                gpus_reporting=len(samples),
            )
        )
    return rows
