"""Kubernetes objects in the cache: writes for the watchers, reads for the node detail.

Every row is scoped by the context it came from, so switching contexts never mixes clusters.
Writes skip rows whose cached columns did not change (a kubelet's status heartbeat or a pod's
condition flip is a MODIFIED event that changes nothing shown here), and return how many rows
really changed and which nodes they touch, so the watcher records allocation history
(`cache.gpu_nodes.snapshot_allocations`) and tells the pane only about real changes. The GPU
nodes pane's rows are built in `cache.gpu_nodes`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from mlopstui.cache import syncs
from mlopstui.domain.kubernetes import KubeEvent, KubeNode, KubeObject, KubePod, WatchEvent

SOURCE = "kubernetes"

_COLUMNS = {
    "nodes": (
        "kube_nodes",
        ("name",),
        (
            "gpu_product",
            "gpu_capacity",
            "gpu_allocatable",
            "ready",
            "unschedulable",
            "taints",
            "labels",
            "conditions",
            "created",
        ),
    ),
    "pods": (
        "kube_pods",
        ("namespace", "name"),
        ("node", "phase", "gpu_request", "owner_kind", "owner_name", "run_id", "created"),
    ),
    "events": (
        "kube_events",
        ("namespace", "name"),
        ("object_kind", "object_name", "type", "reason", "message", "count", "last_seen"),
    ),
}
_KIND_OF = {KubeNode: "nodes", KubePod: "pods", KubeEvent: "events"}


def _values(obj: KubeObject) -> tuple:
    """(key, values) as stored."""
    if isinstance(obj, KubeNode):
        return (obj.name,), (
            obj.gpu_product,
            obj.gpu_capacity,
            obj.gpu_allocatable,
            obj.ready,
            int(obj.unschedulable),
            json.dumps([list(t) for t in obj.taints]),
            json.dumps(obj.labels, sort_keys=True),
            json.dumps(list(obj.conditions)),
            obj.created,
        )
    if isinstance(obj, KubePod):
        return (obj.namespace, obj.name), (
            obj.node,
            obj.phase,
            obj.gpu_request,
            obj.owner_kind,
            obj.owner_name,
            obj.run_id,
            obj.created,
        )
    return (obj.namespace, obj.name), (
        obj.object_kind,
        obj.object_name,
        obj.type,
        obj.reason,
        obj.message,
        obj.count,
        obj.last_seen,
    )


def _nodes_of(kind: str, key: tuple, old: tuple | None, new: tuple | None) -> set[str]:
    """The nodes whose allocation or state a change of this row may alter."""
    if kind == "nodes":
        return {key[0]}
    if kind == "pods":
        return {v[0] for v in (old, new) if v is not None and v[0]}
    return set()


# -- writes (the sync side, inside a writer transaction)


def replace(
    conn: sqlite3.Connection, context: str, kind: str, items: Iterable[KubeObject]
) -> tuple[int, set[str]]:
    """Make the cached `kind` of `context` exactly `items` (after a LIST). Returns (rows
    changed, nodes whose allocation may have changed)."""
    table, keys, cols = _COLUMNS[kind]
    existing = {
        tuple(r[: len(keys)]): tuple(r[len(keys) :])
        for r in conn.execute(
            f"SELECT {', '.join(keys + cols)} FROM {table} WHERE context = ?", (context,)
        )
    }
    changed, touched = 0, set()
    seen = set()
    for obj in items:
        key, values = _values(obj)
        seen.add(key)
        old = existing.get(key)
        if old != values:
            _write(conn, table, keys, cols, context, key, values)
            changed += 1
            touched |= _nodes_of(kind, key, old, values)
    for key in existing.keys() - seen:
        _delete(conn, table, keys, context, key)
        changed += 1
        touched |= _nodes_of(kind, key, existing[key], None)
    return changed, touched


def apply(
    conn: sqlite3.Connection, context: str, kind: str, events: Iterable[WatchEvent]
) -> tuple[int, set[str]]:
    """Apply watch events (bookmarks are skipped). Returns (rows changed, nodes touched)."""
    table, keys, cols = _COLUMNS[kind]
    where = " AND ".join(f"{k} = ?" for k in keys)
    changed, touched = 0, set()
    for event in events:
        if event.obj is None:
            continue
        key, values = _values(event.obj)
        row = conn.execute(
            f"SELECT {', '.join(cols)} FROM {table} WHERE context = ? AND {where}",
            (context, *key),
        ).fetchone()
        old = tuple(row) if row else None
        if event.type == "DELETED":
            if old is None:
                continue
            _delete(conn, table, keys, context, key)
            new = None
        elif old == values:
            continue
        else:
            _write(conn, table, keys, cols, context, key, values)
            new = values
        changed += 1
        touched |= _nodes_of(kind, key, old, new)
    return changed, touched


def upsert(conn: sqlite3.Connection, context: str, obj: KubeObject) -> None:
    """Store one object as it is now (e.g. a node just cordoned by an action)."""
    kind = _KIND_OF[type(obj)]
    table, keys, cols = _COLUMNS[kind]
    key, values = _values(obj)
    _write(conn, table, keys, cols, context, key, values)


def _write(
    conn: sqlite3.Connection,
    table: str,
    keys: tuple[str, ...],
    cols: tuple[str, ...],
    context: str,
    key: tuple,
    values: tuple,
) -> None:
    names = ("context", *keys, *cols)
    conn.execute(
        f"INSERT OR REPLACE INTO {table} ({', '.join(names)}) "
        f"VALUES ({', '.join('?' * len(names))})",
        (context, *key, *values),
    )


def _delete(
    conn: sqlite3.Connection, table: str, keys: tuple[str, ...], context: str, key: tuple
) -> None:
    where = " AND ".join(f"{k} = ?" for k in keys)
    conn.execute(f"DELETE FROM {table} WHERE context = ? AND {where}", (context, *key))


# -- watch state (why a kind shows no data: forbidden, failing)


@dataclass(frozen=True, slots=True)
class WatchStatus:
    """How the watch of one kind stands: 'watching', 'forbidden' or 'failed', since when."""

    kind: str
    state: str
    since: float
    reason: str = ""
    user: str = ""

    def describe(self) -> str:
        """One line for the pane: "nodes: forbidden for user viewer (RBAC)"."""
        if self.state == "forbidden":
            return f"{self.kind}: forbidden for user {self.user or '(unknown)'} (RBAC)"
        if self.state == "failed":
            return f"{self.kind}: {self.reason}"
        return f"{self.kind}: {self.state}"


def set_watch_status(conn: sqlite3.Connection, context: str, status: WatchStatus) -> None:
    """Remember how the watch of one kind stands."""
    value = json.dumps(
        {"state": status.state, "since": status.since, "reason": status.reason, "user": status.user}
    )
    syncs.set_state(conn, SOURCE, f"watch:{context}:{status.kind}", value)


def watch_status(conn: sqlite3.Connection, context: str) -> dict[str, WatchStatus]:
    """The kinds' watch states for a context (kinds never started are absent)."""
    out = {}
    prefix = f"watch:{context}:"
    for key, value in conn.execute(
        "SELECT key, value FROM sync_state WHERE source = ? AND substr(key, 1, ?) = ?",
        (SOURCE, len(prefix), prefix),
    ):
        kind = key[len(prefix) :]
        try:
            d = json.loads(value)
            out[kind] = WatchStatus(
                kind, d["state"], d["since"], d.get("reason", ""), d.get("user", "")
            )
        except (TypeError, ValueError, KeyError):
            continue
    return out


# -- reads (the node detail, the CLI; any connection)


def node(conn: sqlite3.Connection, context: str, name: str) -> KubeNode | None:
    """One cached node with its labels, taints and conditions (the node detail)."""
    r = conn.execute(
        """SELECT name, gpu_product, gpu_capacity, gpu_allocatable, ready, unschedulable,
                  taints, labels, conditions, created, resource_version
           FROM kube_nodes WHERE context = ? AND name = ?""",
        (context, name),
    ).fetchone()
    if r is None:
        return None
    return KubeNode(
        name=r[0],
        gpu_product=r[1],
        gpu_capacity=r[2],
        gpu_allocatable=r[3],
        ready=r[4],
        unschedulable=bool(r[5]),
        taints=tuple(tuple(t) for t in json.loads(r[6])),
        labels=json.loads(r[7]),
        conditions=tuple(json.loads(r[8])),
        created=r[9],
        resource_version=r[10],
    )


def pods_on(conn: sqlite3.Connection, context: str, node: str) -> list[KubePod]:
    """The pods on a node (every phase), those holding most GPUs first."""
    rows = conn.execute(
        """SELECT namespace, name, node, phase, gpu_request, owner_kind, owner_name, run_id,
                  created FROM kube_pods WHERE context = ? AND node = ?
           ORDER BY gpu_request DESC, namespace, name""",
        (context, node),
    )
    return [KubePod(*r) for r in rows]


def events_for(
    conn: sqlite3.Connection, context: str, node: str, limit: int = 20
) -> list[KubeEvent]:
    """A node's recent events, newest first."""
    rows = conn.execute(
        """SELECT namespace, name, object_kind, object_name, type, reason, message, count,
                  last_seen FROM kube_events
           WHERE context = ? AND object_kind = 'Node' AND object_name = ?
           ORDER BY last_seen DESC, name LIMIT ?""",
        (context, node, limit),
    )
    return [KubeEvent(*r) for r in rows]
