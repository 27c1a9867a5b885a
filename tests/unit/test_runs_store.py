"""cache.runs: batch writes from the sync side and windowed, sorted reads for the panes."""

from __future__ import annotations

import random
import sqlite3

import pytest

from mlopstui.cache import db
from mlopstui.cache import runs as store
from mlopstui.cache.search import FilterError
from mlopstui.domain import Experiment

from .factories import make_run


def upsert(writer: db.Writer, *runs_: object) -> None:
    with writer.transaction() as conn:
        store.upsert_runs(conn, list(runs_), synced_at=1.0)  # type: ignore[arg-type]


def ids(rows: list[store.RunRow]) -> list[str]:
    return [r.run_id for r in rows]


def test_upsert_same_run_twice_updates_one_row(writer: db.Writer, reader: sqlite3.Connection):
    """Dedup by run_id: status/end_time updated, tags replaced (not merged), one row."""
    upsert(writer, make_run("a", status="RUNNING", start_time=1000, tags={"old": "1", "k": "v"}))
    upsert(
        writer,
        make_run("a", status="FINISHED", start_time=1000, end_time=4000, tags={"k": "w"}),
    )
    assert reader.execute("SELECT count(*) FROM runs").fetchone()[0] == 1
    run = store.get_run(reader, "a")
    assert run is not None
    assert (run.status, run.end_time) == ("FINISHED", 4000)
    assert run.tags == {"k": "w"}
    (row,) = store.RunsWindow(reader).page(0, 10)
    assert row.duration == 3000
    assert store.RunsWindow(reader, filter_text="old").count() == 0  # FTS text replaced


def test_metric_min_max_widen_after_history(writer: db.Writer, reader: sqlite3.Connection):
    """min/max are unknown until history is fetched; afterwards a re-sync widens them."""
    upsert(writer, make_run("a", status="RUNNING", metrics={"loss": 0.5}))
    upsert(writer, make_run("a", status="RUNNING", metrics={"loss": 0.4}))
    m = store.get_run(reader, "a").metrics["loss"]  # type: ignore[union-attr]
    assert (m.value, m.min, m.max) == (0.4, None, None)
    with writer.transaction() as conn:
        store.store_metric_history(conn, "a", "loss", [(0, 10, 0.9), (1, 20, 0.3), (2, 30, 0.4)])
    m = store.get_run(reader, "a").metrics["loss"]  # type: ignore[union-attr]
    assert (m.min, m.max) == (0.3, 0.9)
    upsert(writer, make_run("a", status="RUNNING", metrics={"loss": 0.1}))
    m = store.get_run(reader, "a").metrics["loss"]  # type: ignore[union-attr]
    assert (m.value, m.min, m.max) == (0.1, 0.1, 0.9)
    upsert(writer, make_run("a", status="RUNNING", metrics={"loss": 1.5}))
    m = store.get_run(reader, "a").metrics["loss"]  # type: ignore[union-attr]
    assert (m.value, m.min, m.max) == (1.5, 0.1, 1.5)
    assert store.metric_history(reader, "a", "loss") == [(0, 0.9), (1, 0.3), (2, 0.4)]
    assert store.metric_history(reader, "a", "other") == []


def test_delete_runs(writer: db.Writer, reader: sqlite3.Connection) -> None:
    """Deleted runs vanish with their params/metrics/tags and text index; unknown ids count 0."""
    upsert(writer, make_run("a", params={"lr": "1"}, tags={"t": "x"}), make_run("b"))
    with writer.transaction() as conn:
        assert store.delete_runs(conn, ["a", "missing"]) == 1
    assert ids(store.RunsWindow(reader).page(0, 10)) == ["b"]
    for table in ("params", "tags", "metrics"):
        assert reader.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    assert reader.execute("SELECT count(*) FROM runs_fts").fetchone()[0] == 1  # b's only


def test_experiment_stats_and_deletion(writer: db.Writer, reader: sqlite3.Connection) -> None:
    """run_count/last_activity follow the runs; dropping an experiment drops its runs."""
    with writer.transaction() as conn:
        store.upsert_experiments(conn, [Experiment("1", "one"), Experiment("2", "two")])
    upsert(
        writer,
        make_run("a", "1", start_time=100, end_time=500),
        make_run("b", "1", start_time=300),
        make_run("c", "2", start_time=50, params={"p": "v"}),
    )
    with writer.transaction() as conn:
        store.refresh_experiment_stats(conn, ["1", "2", "1"])
    stats = {e.experiment_id: (e.run_count, e.last_activity) for e in store.experiments(reader)}
    assert stats == {"1": (2, 500), "2": (1, 50)}
    assert [e.name for e in store.experiments(reader)] == ["one", "two"]  # most active first
    with writer.transaction() as conn:
        assert store.delete_experiments_except(conn, {"1"}) == 1
    assert [e.experiment_id for e in store.experiments(reader)] == ["1"]
    assert sorted(ids(store.RunsWindow(reader).page(0, 10))) == ["a", "b"]
    assert store.experiment_keys(reader, "2") == {"metrics": [], "params": [], "tags": []}


@pytest.fixture
def sortable(writer: db.Writer, reader: sqlite3.Connection) -> sqlite3.Connection:
    upsert(
        writer,
        make_run("r1", name="bravo", start_time=100, metrics={"acc": 0.5}, params={"lr": "b"}),
        make_run("r2", name="alpha", start_time=300, metrics={"acc": 0.9}),
        make_run("r3", name="charlie", start_time=200, params={"lr": "a"}),
        make_run("r4", name="delta", start_time=400, metrics={"acc": 0.1}, params={"lr": "c"}),
    )
    return reader


def test_sort_orders(sortable: sqlite3.Connection) -> None:
    """Default start_time desc; asc; by name; an unknown column is an error, not a fallback."""
    assert ids(store.RunsWindow(sortable).page(0, 10)) == ["r4", "r2", "r3", "r1"]
    window = store.RunsWindow(sortable, descending=False)
    assert ids(window.page(0, 10)) == ["r1", "r3", "r2", "r4"]
    assert ids(store.RunsWindow(sortable, sort="name", descending=False).page(0, 10)) == [
        "r2",
        "r1",
        "r3",
        "r4",
    ]
    with pytest.raises(FilterError, match="unknown sort column 'bogus'"):
        store.RunsWindow(sortable, sort="bogus")


def test_sort_by_metric_and_param_puts_missing_last(sortable: sqlite3.Connection) -> None:
    """Runs without the metric/param come last in both directions."""
    by = store.RunsWindow
    assert ids(by(sortable, sort="metrics.acc").page(0, 9)) == ["r2", "r1", "r4", "r3"]
    asc = by(sortable, sort="metrics.acc", descending=False)
    assert ids(asc.page(0, 9)) == ["r4", "r1", "r2", "r3"]
    assert ids(by(sortable, sort="params.lr").page(0, 9)) == ["r4", "r1", "r3", "r2"]
    asc = by(sortable, sort="params.lr", descending=False)
    assert ids(asc.page(0, 9)) == ["r3", "r1", "r4", "r2"]


@pytest.mark.parametrize(
    ("sort", "descending"),
    [
        ("start_time", True),
        ("start_time", False),
        ("name", True),
        ("duration", False),
        ("metrics.acc", True),
        ("metrics.acc", False),
        ("params.lr", True),
        ("params.lr", False),
    ],
)
def test_reverse_page_read_matches_forward_read(
    writer: db.Writer, reader: sqlite3.Connection, sort: str, descending: bool
) -> None:
    """page(offset, limit, total) past the middle returns exactly the forward rows."""
    rng = random.Random(7)
    batch = [
        make_run(
            f"r{i:03d}",
            name=f"n{rng.randrange(40)}",
            start_time=1000 + rng.randrange(60),
            end_time=5000 + rng.randrange(100) if i % 5 else None,
            metrics={"acc": rng.choice([0.1, 0.5, rng.random()])} if i % 3 else {},
            params={"lr": str(rng.randrange(4))} if i % 4 else {},
        )
        for i in range(500)
    ]
    upsert(writer, *batch)
    window = store.RunsWindow(reader, sort=sort, descending=descending)
    total = window.count()
    assert total == 500
    forward = ids(window.page(0, total))
    assert len(set(forward)) == 500
    for offset in [*range(0, total, 13), 249, 250, 251, 480, 490, 495, 499, 500, 510]:
        for limit in (1, 20, 37):
            expected = forward[offset : offset + limit]
            assert ids(window.page(offset, limit, total)) == expected, (offset, limit)


def test_count_and_experiment_scope(writer: db.Writer, reader: sqlite3.Connection) -> None:
    """count() follows the experiment and the filter."""
    upsert(writer, make_run("a", "1"), make_run("b", "1", status="FAILED"), make_run("c", "2"))
    assert store.RunsWindow(reader).count() == 3
    assert store.RunsWindow(reader, experiment_id="1").count() == 2
    window = store.RunsWindow(reader, experiment_id="1", filter_text="attributes.status='FAILED'")
    assert ids(window.page(0, 10)) == ["b"]
    assert window.count() == 1


def test_fill_values_and_keys(writer: db.Writer, reader: sqlite3.Connection) -> None:
    """fill_values loads only the chosen columns (with metric min/max); keys per experiment."""
    upsert(
        writer,
        make_run(
            "a", "1", metrics={"acc": 0.5, "loss": 2.0}, params={"lr": "0.1"}, tags={"t": "x"}
        ),
        make_run("b", "2", metrics={"f1": 0.7}, params={"depth": "3"}),
    )
    rows = store.RunsWindow(reader, experiment_id="1").page(0, 10)
    store.fill_values(reader, rows, ["name", "metrics.acc", "params.lr", "tags.t", "params.zz"])
    assert rows[0].values == {
        "metrics.acc": 0.5,
        "metrics.acc.min": None,
        "metrics.acc.max": None,
        "params.lr": "0.1",
        "tags.t": "x",
    }
    store.fill_values(reader, [], ["metrics.acc"])  # nothing to do, no error
    assert store.experiment_keys(reader, "1") == {
        "metrics": ["acc", "loss"],
        "params": ["lr"],
        "tags": ["t"],
    }
    assert store.experiment_keys(reader, None)["params"] == ["depth", "lr"]


def test_get_run_children_and_running(writer: db.Writer, reader: sqlite3.Connection) -> None:
    """get_run round-trips a run; children lists nested runs; unknown id gives None."""
    parent = make_run("p", start_time=1, user="ana", params={"lr": "1"}, tags={"t": "v"})
    kids = [
        make_run(f"k{i}", start_time=10 - i, status="RUNNING", tags={"mlflow.parentRunId": "p"})
        for i in range(2)
    ]
    upsert(writer, parent, *kids)
    run = store.get_run(reader, "p")
    assert run is not None
    assert (run.user, run.params, run.tags, run.start_time) == ("ana", {"lr": "1"}, {"t": "v"}, 1)
    assert store.get_run(reader, "nope") is None
    assert store.children(reader, "p") == [("k1", "k1", "RUNNING"), ("k0", "k0", "RUNNING")]
    assert sorted(store.running_run_ids(reader)) == ["k0", "k1"]
    assert store.run_ids(reader, ["1"]) == {"p", "k0", "k1"}


def test_split_column() -> None:
    """Column names split into kind, key and aggregate."""
    assert store.split_column("metrics.val.acc.max") == ("metrics", "val.acc", "max")
    assert store.split_column("params.a.b") == ("params", "a.b", "")
    assert store.split_column("name") == ("", "name", "")


def test_sorting_by_metric_max_uses_the_history_maximum(writer: db.Writer) -> None:
    """`metrics.acc.max` sorts by the fetched maximum, not by the latest value."""
    with writer.transaction() as conn:
        store.upsert_experiments(conn, [Experiment("1", "e")])
        store.upsert_runs(
            conn, [make_run("a", metrics={"acc": 0.9}), make_run("b", metrics={"acc": 0.5})], 0.0
        )
        store.store_metric_history(conn, "a", "acc", [(0, 1, 0.1), (1, 2, 0.9)])
        store.store_metric_history(conn, "b", "acc", [(0, 1, 0.99), (1, 2, 0.5)])
    conn = db.open_reader(writer.path)
    by_latest = store.RunsWindow(conn, sort="metrics.acc").page(0, 2)
    by_max = store.RunsWindow(conn, sort="metrics.acc.max").page(0, 2)
    assert [r.run_id for r in by_latest] == ["a", "b"]
    assert [r.run_id for r in by_max] == ["b", "a"]
