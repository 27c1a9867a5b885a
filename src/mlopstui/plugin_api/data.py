"""Cache access for plugins that does not depend on the SQL schema.

Typed reads of the built-in topics, over the read-only connection a pane gets from
`ctx.reader()` (call them on the UI thread, or off it with a connection of your own): each
returns frozen values (`mlopstui.domain` dataclasses, re-exported here for annotations and for
building test data), so a plugin keeps working when the cache's tables change.

    experiments(conn)                       every Experiment, most recently active first
    runs(conn, experiment_id=..., filter_text=..., sort=..., limit=...)
                                            one page of RunRows, filtered with MLflow syntax
    models(conn), model_versions(conn, name)    the model registry
    gpu_nodes(conn, context, now)           the GPU nodes of a Kubernetes context (NodeRows)
    node(conn, context, name)               one Kubernetes node with labels and conditions

A plugin source stores its own data as JSON records by kind and key (`replace_records`, `put_record`) inside
`env.writer.transaction()`; its pane reads them back with `records(ctx.reader(), ...)`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from mlopstui.cache import gpu_nodes as _gpu_nodes
from mlopstui.cache import kube as _kube
from mlopstui.cache import registry as _registry
from mlopstui.cache import runs as _runs
from mlopstui.cache.gpu_nodes import NodeRow, PodHold
from mlopstui.cache.records import put_record, records, replace_records
from mlopstui.cache.runs import RunRow
from mlopstui.cache.search import FilterError
from mlopstui.domain import Experiment, Metric, ModelVersion, RegisteredModel, Run
from mlopstui.domain.kubernetes import KubeNode

__all__ = [
    "Experiment",
    "FilterError",
    "KubeNode",
    "Metric",
    "ModelVersion",
    "NodeRow",
    "PodHold",
    "RegisteredModel",
    "Run",
    "RunRow",
    "experiments",
    "gpu_nodes",
    "model_versions",
    "models",
    "node",
    "put_record",
    "records",
    "replace_records",
    "runs",
]

_ALL = 2**62  # "no limit" as a number (the value-sorted read counts rows against it)


def experiments(conn: sqlite3.Connection) -> list[Experiment]:
    """Every cached MLflow experiment (`Experiment`: id, name, lifecycle, tags, run_count,
    last_activity in ms ...), most recently active first."""
    return _runs.experiments(conn)


def runs(
    conn: sqlite3.Connection,
    *,
    experiment_id: str | None = None,
    filter_text: str = "",
    sort: str = "start_time",
    descending: bool = True,
    limit: int | None = 100,
    offset: int = 0,
    columns: Sequence[str] = (),
) -> list[RunRow]:
    """Cached runs as `RunRow`s (run_id, experiment_id, name, status, start_time, end_time,
    duration in ms, user, source), `limit` of them (None: all) from `offset`.

    `experiment_id` None reads every experiment. `filter_text` is MLflow search syntax
    (`attributes.status = 'FAILED' and metrics.acc > 0.9`) or plain text matched against run
    names and tags; a malformed filter raises `FilterError` (its message is meant to be shown).
    `sort` is an attribute (`start_time`, `name`, `status`, `duration`, `user` ...) or a value
    column (`metrics.acc`, `metrics.acc.max`, `params.lr`, `tags.team`); runs without that
    value come last; ties are broken as MLflow breaks them (start_time newest first, then
    run_id); an unknown sort raises `FilterError`. `columns` (value columns, as for `sort`)
    are loaded into each row's `values` dict, keyed by column (metrics also give `<column>.min`/`.max`).
    """
    window = _runs.RunsWindow(
        conn,
        experiment_id=experiment_id,
        filter_text=filter_text,
        sort=sort,
        descending=descending,
    )
    rows = window.page(offset, _ALL if limit is None else limit)
    if columns:
        _runs.fill_values(conn, rows, columns)
    return rows


def models(conn: sqlite3.Connection) -> list[RegisteredModel]:
    """Every cached registered model (`RegisteredModel`: name, description, tags, aliases as
    alias -> version, latest_version, version_count, times in ms), by name."""
    return _registry.models(conn)


def model_versions(conn: sqlite3.Connection, name: str) -> list[ModelVersion]:
    """The cached versions of model `name` (`ModelVersion`: version as a str, status, run_id,
    source, times in ms, description, tags, the aliases pointing at it), newest first; [] for
    an unknown model."""
    return _registry.versions(conn, name)


def gpu_nodes(
    conn: sqlite3.Connection,
    context: str,
    now: float,
    busy_threshold: float = 5.0,
    idle_minutes: float = 30.0,
    *,
    as_of: float | None = None,
) -> list[NodeRow]:
    """The GPU nodes of Kubernetes context `context` (the "context" of the Kubernetes source's
    `ctx.source_info`), by name, as the GPU nodes pane shows them (`NodeRow`: GPU product,
    allocatable / allocated / in-use GPUs, utilisation, memory, temperature, power, status,
    taints, the pods holding GPUs, `idle_but_allocated`).

    `now` is in seconds (`plugin_api.now()`). A GPU is in use when its newest sample is above
    `busy_threshold` (%); a node is idle-but-allocated when it held GPUs for `idle_minutes` with
    every sample at or below it (the GPU metrics source's settings are in its `ctx.source_info`).
    `as_of` (seconds) reads the allocation history at that past time instead.
    """
    return _gpu_nodes.node_rows(conn, context, now, busy_threshold, idle_minutes, as_of=as_of)


def node(conn: sqlite3.Connection, context: str, name: str) -> KubeNode | None:
    """One cached Kubernetes node of `context` (`KubeNode`: GPU product, capacity and
    allocatable GPUs, ready, unschedulable, taints, labels, conditions), or None."""
    return _kube.node(conn, context, name)
