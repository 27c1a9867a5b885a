"""Experiments and runs in the cache: batch writes for the sync side, windowed reads for panes.

Panes never load a whole table: `RunsWindow.page(offset, limit)` reads one screenful through an
index, so 1M cached runs scroll like 1k. Counting a filtered set can take longer than a frame,
so it is a separate call the UI makes off its loop.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mlopstui.cache.search import (
    ATTRIBUTE,
    COLUMN,
    METRIC,
    PARAM,
    TAG,
    Compiled,
    FilterError,
    OrderTerm,
    compile_filter,
    parse_order_by,
)
from mlopstui.domain import Dataset, Experiment, Metric, Run

BASE_COLUMNS = ("name", "status", "start_time", "duration", "user", "source", "end_time")
KINDS = ("metrics", "params", "tags")

# ---------------------------------------------------------------- writes (sync side only)


def upsert_experiments(conn: sqlite3.Connection, experiments: Iterable[Experiment]) -> int:
    """Insert or update experiments; returns how many were written."""
    rows = [
        (
            e.experiment_id,
            e.name,
            e.lifecycle,
            e.artifact_location,
            e.creation_time,
            e.last_update_time,
            json.dumps(e.tags),
        )
        for e in experiments
    ]
    conn.executemany(
        """INSERT INTO experiments (experiment_id, name, lifecycle, artifact_location,
               creation_time, last_update_time, tags)
           VALUES (?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT(experiment_id) DO UPDATE SET name = excluded.name,
               lifecycle = excluded.lifecycle, artifact_location = excluded.artifact_location,
               creation_time = excluded.creation_time,
               last_update_time = excluded.last_update_time, tags = excluded.tags""",
        rows,
    )
    return len(rows)


def delete_experiments_except(conn: sqlite3.Connection, keep: set[str]) -> int:
    """Drop experiments (and their runs) the server no longer lists."""
    gone = [r[0] for r in conn.execute("SELECT experiment_id FROM experiments") if r[0] not in keep]
    for exp_id in gone:
        ids = [
            r[0] for r in conn.execute("SELECT run_id FROM runs WHERE experiment_id=?", (exp_id,))
        ]
        delete_runs(conn, ids)
        conn.execute("DELETE FROM experiments WHERE experiment_id = ?", (exp_id,))
        conn.execute("DELETE FROM run_keys WHERE experiment_id = ?", (exp_id,))
    return len(gone)


def upsert_runs(conn: sqlite3.Connection, runs: Sequence[Run], synced_at: float) -> int:
    """Insert or replace runs with their params, latest metrics and tags, deduplicated by id.

    The caller wraps a batch in one transaction. Metric min/max learned from fetched history
    survive a re-sync and widen to include the new latest value; unknown (NULL) min/max stay
    unknown until the history is fetched (SQLite's min(NULL, x) is NULL).
    """
    keys: set[tuple[str, str, str]] = set()
    for run in runs:
        duration = run.end_time - run.start_time if run.end_time and run.start_time else None
        (rid,) = conn.execute(
            """INSERT INTO runs (run_id, experiment_id, name, status, start_time, end_time,
                   duration, user, source, lifecycle, artifact_uri, parent_run_id, synced_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(run_id) DO UPDATE SET experiment_id = excluded.experiment_id,
                   name = excluded.name, status = excluded.status,
                   start_time = excluded.start_time, end_time = excluded.end_time,
                   duration = excluded.duration, user = excluded.user, source = excluded.source,
                   lifecycle = excluded.lifecycle, artifact_uri = excluded.artifact_uri,
                   parent_run_id = excluded.parent_run_id, synced_at = excluded.synced_at
               RETURNING id""",
            (
                run.run_id,
                run.experiment_id,
                run.name,
                run.status,
                run.start_time,
                run.end_time,
                duration,
                run.user,
                run.source,
                run.lifecycle,
                run.artifact_uri,
                run.parent_run_id,
                synced_at,
            ),
        ).fetchone()
        conn.executemany(
            "INSERT OR REPLACE INTO params (run, key, value) VALUES (?, ?, ?)",
            [(rid, k, v) for k, v in run.params.items()],
        )
        conn.executemany(
            """INSERT INTO metrics (run, key, value, step, timestamp, is_nan)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT(run, key) DO UPDATE SET value = excluded.value,
                   step = excluded.step, timestamp = excluded.timestamp,
                   is_nan = excluded.is_nan,
                   min = CASE WHEN excluded.value IS NULL THEN min
                             ELSE min(min, excluded.value) END,
                   max = CASE WHEN excluded.value IS NULL THEN max
                             ELSE max(max, excluded.value) END""",
            [
                (rid, m.key, None if nan else m.value, m.step, m.timestamp, nan)
                for m in run.metrics.values()
                for nan in [int(m.value != m.value)]
            ],
        )
        conn.execute("DELETE FROM run_datasets WHERE run = ?", (rid,))
        conn.executemany(
            "INSERT INTO run_datasets (run, name, digest, context) VALUES (?, ?, ?, ?)",
            [(rid, d.name, d.digest, d.context) for d in run.datasets],
        )
        conn.execute("DELETE FROM tags WHERE run = ?", (rid,))
        conn.executemany(
            "INSERT INTO tags (run, key, value) VALUES (?, ?, ?)",
            [(rid, k, v) for k, v in run.tags.items()],
        )
        conn.execute("DELETE FROM runs_fts WHERE rowid = ?", (rid,))
        text = " ".join([run.name, *(f"{k}={v}" for k, v in run.tags.items())])
        conn.execute("INSERT INTO runs_fts (rowid, text) VALUES (?, ?)", (rid, text))
        for kind, mapping in (("params", run.params), ("metrics", run.metrics), ("tags", run.tags)):
            keys.update((run.experiment_id, kind, k) for k in mapping)
    conn.executemany("INSERT OR IGNORE INTO run_keys VALUES (?, ?, ?)", keys)
    return len(runs)


def delete_runs(conn: sqlite3.Connection, run_ids: Iterable[str]) -> int:
    """Remove runs the server no longer has (the sweep found them gone)."""
    count = 0
    for run_id in run_ids:
        row = conn.execute("SELECT id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row:
            conn.execute("DELETE FROM runs_fts WHERE rowid = ?", row)
            conn.execute("DELETE FROM runs WHERE id = ?", row)
            count += 1
    return count


def refresh_experiment_stats(conn: sqlite3.Connection, experiment_ids: Iterable[str]) -> None:
    """Recompute run counts and last activity for the experiments a batch touched."""
    conn.executemany(
        """UPDATE experiments SET
               run_count = (SELECT count(*) FROM runs WHERE experiment_id = ?1),
               last_activity = max(coalesce(last_update_time, 0),
                   coalesce((SELECT max(start_time) FROM runs WHERE experiment_id = ?1), 0),
                   coalesce((SELECT max(end_time) FROM runs WHERE experiment_id = ?1), 0))
           WHERE experiment_id = ?1""",
        [(e,) for e in set(experiment_ids)],
    )


def store_metric_history(
    conn: sqlite3.Connection, run_id: str, key: str, points: Sequence[tuple[int, int, float]]
) -> None:
    """Keep a fetched metric history (step, timestamp, value) and its min/max."""
    row = conn.execute("SELECT id FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None or not points:
        return
    rid = row[0]
    conn.execute("DELETE FROM metric_history WHERE run = ? AND key = ?", (rid, key))
    conn.executemany(
        "INSERT OR REPLACE INTO metric_history VALUES (?, ?, ?, ?, ?)",
        [(rid, key, s, t, v) for s, t, v in points],
    )
    values = [v for _, _, v in points if v is not None and not math.isnan(v)]
    if values:
        conn.execute(
            "UPDATE metrics SET min = ?, max = ? WHERE run = ? AND key = ?",
            (min(values), max(values), rid, key),
        )


def running_run_ids(conn: sqlite3.Connection) -> list[str]:
    """Runs last seen RUNNING: re-polled every sync, since MLflow has no 'modified since'."""
    return [r[0] for r in conn.execute("SELECT run_id FROM runs WHERE status = 'RUNNING'")]


def run_ids(conn: sqlite3.Connection, experiment_ids: Iterable[str]) -> set[str]:
    """All cached run ids of some experiments (for the deletion sweep)."""
    ids = list(experiment_ids)
    marks = ",".join("?" * len(ids))
    return {
        r[0] for r in conn.execute(f"SELECT run_id FROM runs WHERE experiment_id IN ({marks})", ids)
    }


# ---------------------------------------------------------------- reads (panes and CLI)


def experiments(conn: sqlite3.Connection) -> list[Experiment]:
    """Experiments, most recently active first."""
    rows = conn.execute(
        """SELECT experiment_id, name, lifecycle, artifact_location, creation_time,
                  last_update_time, tags, run_count, last_activity
           FROM experiments ORDER BY coalesce(last_activity, 0) DESC, name"""
    )
    return [
        Experiment(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6] or "{}"), r[7], r[8])
        for r in rows
    ]


def experiment_keys(conn: sqlite3.Connection, experiment_id: str | None) -> dict[str, list[str]]:
    """Param, metric and tag keys seen in an experiment (all experiments when None)."""
    sql = "SELECT DISTINCT kind, key FROM run_keys"
    args: tuple[object, ...] = ()
    if experiment_id is not None:
        sql += " WHERE experiment_id = ?"
        args = (experiment_id,)
    out: dict[str, list[str]] = {k: [] for k in KINDS}
    for kind, key in conn.execute(sql + " ORDER BY kind, key", args):
        out[kind].append(key)
    return out


@dataclass(frozen=True, slots=True)
class RunRow:
    """One visible row of the runs table: attributes plus the chosen columns' values."""

    id: int
    run_id: str
    experiment_id: str
    name: str
    status: str
    start_time: int | None
    end_time: int | None
    duration: int | None
    user: str
    source: str
    values: dict[str, object] = field(default_factory=dict)


_ROW_SQL = (
    "r.id, r.run_id, r.experiment_id, r.name, r.status, r.start_time, r.end_time, "
    "r.duration, r.user, r.source"
)


def split_column(column: str) -> tuple[str, str, str]:
    """'metrics.acc.max' -> ('metrics', 'acc', 'max'); 'name' -> ('', 'name', '')."""
    for kind in KINDS:
        if column.startswith(kind + "."):
            rest = column[len(kind) + 1 :]
            if kind == "metrics" and rest.endswith((".min", ".max")):
                return kind, rest[:-4], rest[-3:]
            return kind, rest, ""
    return "", column, ""


def ui_sort_terms(sort: str, descending: bool) -> list[OrderTerm]:
    """The runs table's sort column as an MLflow order term (`name` is `run_name`, `user` is
    `user_id`); `duration`, `source` and metric `.min`/`.max` are this tool's own sorts."""
    kind, key, agg = split_column(sort)
    entity = {"metrics": METRIC, "params": PARAM, "tags": TAG}.get(kind)
    if entity is not None:
        return [OrderTerm(entity, key, not descending, agg)]
    attribute = {"name": "run_name", "user": "user_id"}.get(key, key)
    if attribute in COLUMN:
        return [OrderTerm(ATTRIBUTE, attribute, not descending)]
    if key in ("duration", "source"):
        return [OrderTerm("column", key, not descending)]
    raise FilterError(
        f"unknown sort column {sort!r}: name, status, start_time, end_time, duration, user, "
        "source, or metrics./params./tags. with a key"
    )


def order_terms_sql(
    terms: Sequence[OrderTerm],
) -> tuple[str, tuple[str, ...], list[tuple[str, bool]]]:
    """(joins, join args, [(expression, ascending)]) for ORDER BY, as MLflow's SQL store
    orders: a metric's NaN after its numbers and runs without it last, any other missing
    value (a param, a tag, a RUNNING run's end_time) last in either direction, then
    `start_time DESC` unless sorted by start_time, then `run_id`."""
    joins, args, order = [], [], []
    for i, t in enumerate(terms):
        a = f"s{i}"
        if t.type == ATTRIBUTE or t.type == "column":
            col = f"r.{COLUMN.get(t.key, t.key)}"
            # MLflow puts a missing value last either way. A NOT NULL column needs no term
            # for it, and SQLite's DESC puts NULL last already: both keep the index order.
            nullable = col in _NULLABLE and t.ascending
            order += [(f"{col} IS NULL", True)] if nullable else []
            order.append((col, t.ascending))
        else:
            table = {METRIC: "metrics", PARAM: "params", TAG: "tags"}[t.type]
            joins.append(f" LEFT JOIN {table} {a} ON {a}.run = r.id AND {a}.key = ?")
            args.append(t.key)
            col = f"{a}.{t.agg or 'value'}"
            if t.type == METRIC and not t.agg:
                rank = f"CASE WHEN {a}.is_nan THEN 1 WHEN {a}.value IS NULL THEN 2 ELSE 0 END"
                order += [(rank, True), (col, t.ascending)]
            else:
                order += [(f"{col} IS NULL", True), (col, t.ascending)]
    if not any(t.type == ATTRIBUTE and t.key == "start_time" for t in terms):
        order.append(("r.start_time", False))
    order.append(("r.run_id", True))
    return "".join(joins), tuple(args), order


_NULLABLE = {"r.start_time", "r.end_time", "r.duration"}


def _render_order(order: list[tuple[str, bool]], *, reverse: bool = False) -> str:
    return ", ".join(f"{expr} {'ASC' if asc != reverse else 'DESC'}" for expr, asc in order)


class RunsWindow:
    """A sorted, filtered view of runs, read one page at a time.

    The filter and the order are MLflow's (cache/search.py): the same runs in the same order
    as `MlflowClient.search_runs` on the same data. `order_by` takes MLflow clauses
    (`["metrics.acc DESC"]`); the runs table passes `sort`/`descending` instead.
    Raises FilterError (from construction) when the filter or the order is not valid.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        experiment_id: str | None = None,
        filter_text: str = "",
        sort: str = "start_time",
        descending: bool = True,
        order_by: Sequence[str] | None = None,
        experiment_ids: Sequence[str] | None = None,
    ) -> None:
        self.conn = conn
        self.experiment_id = experiment_id
        self.sort = sort
        self.descending = descending
        self.compiled: Compiled | None = compile_filter(filter_text)
        where: list[str] = []
        args: list[object] = []
        if experiment_id is not None:
            where.append("r.experiment_id = ?")
            args.append(experiment_id)
        elif experiment_ids is not None:
            where.append(f"r.experiment_id IN ({','.join('?' * len(experiment_ids))})")
            args.extend(experiment_ids)
        if self.compiled is not None:
            where.append(f"({self.compiled.sql})")
            args.extend(self.compiled.params)
        self._where = " AND ".join(where) or "1"
        self._args = tuple(args)
        terms = (
            parse_order_by(order_by) if order_by is not None else ui_sort_terms(sort, descending)
        )
        self.terms = terms
        self._join, self._join_args, self._order = order_terms_sql(terms)
        # One metric/param/tag sort is read in segments, each through an index: the runs
        # with a value (by (key, value)), then NaN metrics, then the runs without the key
        # (by start_time): the order `order_terms_sql` gives, ~1000x faster at 1M runs than
        # sorting a LEFT JOIN of all of them.
        one = terms[0] if len(terms) == 1 else None
        self._segments: list[tuple[str, tuple[object, ...], str]] | None = None
        self._segment_sizes: dict[int, int] = {}
        if one is not None and one.type in (METRIC, PARAM, TAG) and not one.agg:
            self._segments = self._kv_segments(one)

    def count(self) -> int:
        """How many runs match (may take longer than a frame at 1M runs: call off the UI loop)."""
        sql = f"SELECT count(*) FROM runs r WHERE {self._where}"
        return self.conn.execute(sql, self._args).fetchone()[0]

    def invalidate(self) -> None:
        """Forget what was learned about the data (segment sizes): call after a sync."""
        self._segment_sizes.clear()

    def _kv_segments(self, term: OrderTerm) -> list[tuple[str, tuple[object, ...], str]]:
        table = {METRIC: "metrics", PARAM: "params", TAG: "tags"}[term.type]
        d = "ASC" if term.ascending else "DESC"
        tie = "r.start_time DESC, r.run_id ASC"
        has = f"FROM {table} s JOIN runs r ON r.id = s.run WHERE s.key = ? AND {self._where}"
        segments = [
            (f"{has} AND s.value IS NOT NULL", (term.key, *self._args), f"s.value {d}, {tie}")
        ]
        if term.type == METRIC:
            segments.append((f"{has} AND s.is_nan", (term.key, *self._args), tie))
        without = (
            f"FROM runs r WHERE {self._where} AND NOT EXISTS (SELECT 1 FROM {table} s "
            f"WHERE s.run = r.id AND s.key = ?)"
        )
        segments.append((without, (*self._args, term.key), tie))
        return segments

    def _segmented_page(self, offset: int, limit: int) -> list[RunRow]:
        """Rows offset..offset+limit, segment by segment. A segment's size is learned when
        a read ends inside it, and counted only when a page starts past its known end."""
        assert self._segments is not None
        rows: list[tuple] = []
        start = 0  # where segment i begins in the whole order
        for i, (source, args, order) in enumerate(self._segments):
            want = limit - len(rows)
            if want <= 0:
                break
            skip = offset + len(rows) - start
            size = self._segment_sizes.get(i)
            if size is not None and skip >= size:
                start += size
                continue
            got = self.conn.execute(
                f"SELECT {_ROW_SQL} {source} ORDER BY {order} LIMIT ? OFFSET ?",
                (*args, want, skip),
            ).fetchall()
            rows += got
            if len(got) == want:
                break
            if got or skip == 0:
                self._segment_sizes[i] = skip + len(got)
            else:  # the page starts past this segment's end: how far past?
                self._segment_sizes[i] = self.conn.execute(
                    f"SELECT count(*) {source}", args
                ).fetchone()[0]
            start += self._segment_sizes[i]
        return [RunRow(*r) for r in rows]

    def page(self, offset: int, limit: int, total: int | None = None) -> list[RunRow]:
        """Rows offset..offset+limit in the current order.

        Past the middle of a known total the page is read in the reverse order from the
        other end, so End at 1M rows costs what Home does.
        """
        if self._segments is not None:
            return self._segmented_page(offset, limit)
        reverse = total is not None and offset > total // 2
        if reverse:
            start = max(0, total - offset - limit)  # type: ignore[operator]
            limit = min(limit, total - offset)  # type: ignore[operator]
            if limit <= 0:
                return []
            off = start
        else:
            off = offset
        sql = (
            f"SELECT {_ROW_SQL} FROM runs r{self._join} WHERE {self._where} "
            f"ORDER BY {_render_order(self._order, reverse=reverse)} LIMIT ? OFFSET ?"
        )
        rows = self.conn.execute(sql, (*self._join_args, *self._args, limit, off)).fetchall()
        if reverse:
            rows.reverse()
        return [RunRow(*r) for r in rows]


def fill_values(conn: sqlite3.Connection, rows: list[RunRow], columns: Sequence[str]) -> None:
    """Load the chosen param/metric/tag columns for a page of rows, in three small queries."""
    if not rows:
        return
    by_id = {r.id: r for r in rows}
    marks = ",".join("?" * len(by_id))
    wanted: dict[str, set[str]] = {k: set() for k in KINDS}
    for col in columns:
        kind, key, _ = split_column(col)
        if kind:
            wanted[kind].add(key)
    for kind, keys in wanted.items():
        if not keys:
            continue
        kmarks = ",".join("?" * len(keys))
        extra = ", min, max, is_nan" if kind == "metrics" else ""
        sql = f"SELECT run, key, value{extra} FROM {kind} WHERE run IN ({marks}) AND key IN ({kmarks})"
        for rec in conn.execute(sql, (*by_id, *keys)):
            values = by_id[rec[0]].values
            values[f"{kind}.{rec[1]}"] = math.nan if kind == "metrics" and rec[5] else rec[2]
            if kind == "metrics":
                values[f"metrics.{rec[1]}.min"] = rec[3]
                values[f"metrics.{rec[1]}.max"] = rec[4]


def get_run(conn: sqlite3.Connection, run_id: str) -> Run | None:
    """One run with everything cached about it."""
    r = conn.execute(
        """SELECT id, run_id, experiment_id, name, status, start_time, end_time, user,
                  lifecycle, artifact_uri FROM runs WHERE run_id = ?""",
        (run_id,),
    ).fetchone()
    if r is None:
        return None
    rid = r[0]
    params = dict(conn.execute("SELECT key, value FROM params WHERE run = ? ORDER BY key", (rid,)))
    tags = dict(conn.execute("SELECT key, value FROM tags WHERE run = ? ORDER BY key", (rid,)))
    metrics = {
        k: Metric(k, math.nan if nan else v, s, t, mn, mx)
        for k, v, s, t, mn, mx, nan in conn.execute(
            """SELECT key, value, step, timestamp, min, max, is_nan FROM metrics
               WHERE run = ? ORDER BY key""",
            (rid,),
        )
    }
    datasets = tuple(
        Dataset(*d)
        for d in conn.execute(
            "SELECT name, digest, context FROM run_datasets WHERE run = ? ORDER BY rowid", (rid,)
        )
    )
    return Run(
        r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], params, metrics, tags, datasets
    )


def children(conn: sqlite3.Connection, run_id: str) -> list[tuple[str, str, str]]:
    """(run_id, name, status) of nested runs."""
    return conn.execute(
        "SELECT run_id, name, status FROM runs WHERE parent_run_id = ? ORDER BY start_time",
        (run_id,),
    ).fetchall()


def metric_history(conn: sqlite3.Connection, run_id: str, key: str) -> list[tuple[int, float]]:
    """Cached (step, value) points of a metric, oldest first (a NaN point is NaN: SQLite
    keeps it as NULL)."""
    return [
        (step, math.nan if value is None else value)
        for step, value in conn.execute(
            """SELECT h.step, h.value FROM metric_history h JOIN runs r ON r.id = h.run
               WHERE r.run_id = ? AND h.key = ? ORDER BY h.step, h.timestamp""",
            (run_id, key),
        )
    ]
