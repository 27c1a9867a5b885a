"""Regressions from the review of the MLflow-search port: inputs that crashed a query, a
stale segment after a sync, NaN kept through the v5 migration, a bad dataset entry, huge
values in charts. Every one of them must be a FilterError (shown inline) or an answer."""

from __future__ import annotations

import math
import random
import sqlite3
from pathlib import Path

import pytest

from mlopstui.adapters.mlflow import _runs_page
from mlopstui.cache import db
from mlopstui.cache import runs as store
from mlopstui.cache.migrations import MIGRATIONS
from mlopstui.cache.search import FilterError, compile_filter
from mlopstui.domain import Metric
from mlopstui.ui.screens.chart import series

from .factories import make_run


@pytest.fixture
def writer(tmp_path: Path):
    w = db.Writer(db.open_writer(tmp_path / "c.sqlite"))
    yield w
    w.close()


def answer(conn: sqlite3.Connection, expr: str) -> list[str] | FilterError:
    try:
        window = store.RunsWindow(conn, filter_text=expr)
        return [r.run_id for r in window.page(0, 100)]
    except FilterError as exc:
        return exc


@pytest.mark.parametrize(
    "expr",
    [
        "run_id = ('a', 'b')",
        "dataset.name = ('a')",
        "dataset.context != ('a', 'b')",
        "dataset.name LIKE ('a', 'b')",
        "start_time > 99999999999999999999",
        "run_id IN ({[]: 1})",
        "params.a RLIKE 'x'",
        "metrics.a BETWEEN 0 AND 1",
    ],
)
def test_refused_inline_not_at_query_time(writer: db.Writer, expr: str) -> None:
    """MLflow refuses each; the cache refuses at compile time instead of failing the query."""
    with pytest.raises(FilterError):
        compile_filter(expr)


def test_hostile_input_is_an_answer_or_a_filter_error(writer: db.Writer) -> None:
    """NUL, lone surrogates, unbalanced quotes and brackets, comments, huge numbers: the
    runs table gets rows or an inline error, never another exception."""
    with writer.transaction() as c:
        store.upsert_runs(c, [make_run("r1", tags={"mlflow.runName": "r1"})], synced_at=0)
    conn = db.open_reader(writer.path)
    pieces = [
        "metrics.a", "params.`x", "tags.'y'", "run_id", "dataset.name", " = ", " != ", " IN ",
        " LIKE ", " IS NULL", "(", ")", "'", '"', "`", "\x00", "\ud800", "--", "/*", ";", " and ",
        " or ", "1e999", "99999999999999999999", "-", "'a'", "('a', 'b')", "{[]:1}", "é", "🚀",
    ]  # fmt: skip
    rng = random.Random(12)
    for _ in range(1500):
        expr = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        answer(conn, expr)  # raises anything but FilterError -> the test fails
    conn.close()


def test_a_sync_between_pages_does_not_skip_rows(writer: db.Writer) -> None:
    """Segment sizes learned on one page are forgotten when the table reloads after a sync."""
    with writer.transaction() as c:
        runs = [make_run(f"r{i:03d}", start_time=i, metrics={"m": float(i)}) for i in range(5)]
        runs += [make_run(f"r{i:03d}", start_time=i) for i in range(5, 10)]
        store.upsert_runs(c, runs, synced_at=0)
    conn = db.open_reader(writer.path)
    window = store.RunsWindow(conn, sort="metrics.m")
    window.page(4, 4)
    with writer.transaction() as c:
        new = [make_run(f"r{i:03d}", start_time=i, metrics={"m": -1.0}) for i in (10, 11)]
        store.upsert_runs(c, new, synced_at=0)
    window.invalidate()
    fresh = store.RunsWindow(conn, sort="metrics.m")
    assert [r.run_id for r in window.page(6, 4)] == [r.run_id for r in fresh.page(6, 4)]
    assert len(window.page(8, 10)) == 4
    conn.close()


def test_v5_keeps_a_nan_metric_of_a_v4_cache(tmp_path: Path) -> None:
    """Before v5 a NaN was a NULL value; the migration marks it is_nan, so it still sorts
    after the numbers and matches `!=`."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
    conn.execute("INSERT INTO runs (id, run_id, experiment_id, start_time) VALUES (1, 'n', '1', 1)")
    conn.execute("INSERT INTO runs (id, run_id, experiment_id, start_time) VALUES (2, 'v', '1', 2)")
    conn.execute("INSERT INTO metrics (run, key, value) VALUES (1, 'm', NULL), (2, 'm', 1.0)")
    conn.commit()
    db.migrate(conn)
    assert [r.run_id for r in store.RunsWindow(conn, sort="metrics.m").page(0, 10)] == ["v", "n"]
    assert [r.run_id for r in store.RunsWindow(conn, filter_text="metrics.m != 1").page(0, 9)] == [
        "n"
    ]
    conn.close()


def test_a_dataset_input_that_is_not_an_object_skips_its_run_by_name() -> None:
    page = _runs_page([{"info": {"run_id": "r1"}, "inputs": {"dataset_inputs": ["x"]}}])
    assert list(page) == []
    assert page.skipped and page.skipped[0][0] == "r1"
    assert "dataset_inputs[0]" in page.skipped[0][1]


def test_nan_history_points_come_back_as_nan(writer: db.Writer) -> None:
    with writer.transaction() as c:
        store.upsert_runs(c, [make_run("r1", metrics={"m": 1.0})], synced_at=0)
        store.store_metric_history(c, "r1", "m", [(0, 0, math.nan), (1, 1, 2.0), (2, 2, 1.0)])
    conn = db.open_reader(writer.path)
    points = store.metric_history(conn, "r1", "m")
    assert math.isnan(points[0][1]) and points[1:] == [(1, 2.0), (2, 1.0)]
    run = store.get_run(conn, "r1")
    assert run is not None and run.metrics["m"] == Metric("m", 1.0, 0, 0, 1.0, 2.0)
    conn.close()


def test_mlflows_stand_in_for_infinity_is_left_out_of_a_chart() -> None:
    drawn, dropped, _by_index = series([(0, 1.7976931348623157e308), (1, 0.5), (2, -1e308)])
    assert drawn == [(1.0, 0.5)] and dropped == 2


def test_the_attribute_sets_are_mlflows() -> None:
    """Which attributes a filter and an order_by may name, aliases included, are MLflow's."""
    from mlflow.utils.search_utils import SearchUtils

    from mlopstui.cache import search

    assert search.SEARCH_ATTRIBUTES == SearchUtils.VALID_SEARCH_ATTRIBUTE_KEYS
    assert search.ORDER_ATTRIBUTES == SearchUtils.VALID_ORDER_BY_ATTRIBUTE_KEYS
