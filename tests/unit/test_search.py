"""MLflow search syntax (and plain text) answered from the cache."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from mlopstui.cache import db
from mlopstui.cache import runs as store
from mlopstui.cache.search import FilterError, compile_filter

from .factories import make_run


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[db.Writer]:
    """One small cache shared by the module (the tests only read it)."""
    writer = db.Writer(db.open_writer(tmp_path_factory.mktemp("search") / "c.sqlite"))
    runs = [
        make_run(
            "r1",
            name="bert-base",
            status="FINISHED",
            start_time=1000,
            end_time=5000,
            metrics={"val_acc": 0.95, "val acc": 0.5, "loss": 1e-3},
            params={"lr": "0.01", "opt": "adam"},
            tags={"team": "nlp", "note": "it's fine", "mlflow.runName": "bert-base"},
        ),
        make_run(
            "r2",
            name="BERT-large",
            status="FAILED",
            start_time=2000,
            metrics={"val_acc": 0.97, "loss": 2e-2},
            params={"lr": "0.1"},
            tags={"team": "vision", "mlflow.runName": "BERT-large"},
        ),
        make_run(
            "r3",
            name="resnet50",
            status="FINISHED",
            start_time=3000,
            end_time=3500,
            metrics={"val_acc": 0.80},
            params={"lr": "0.01"},
            tags={"team": "vision", "owner": 'say "hi"', "mlflow.runName": "resnet50"},
        ),
        make_run(
            "r4",
            name="xy",
            status="KILLED",
            start_time=4000,
            user="ana",
            tags={"mlflow.runName": "xy"},
        ),
    ]
    with writer.transaction() as c:
        store.upsert_runs(c, runs, synced_at=0)
    yield writer
    writer.close()


@pytest.fixture(scope="module")
def conn(cache: db.Writer) -> Iterator[sqlite3.Connection]:
    reader = db.open_reader(cache.path)
    yield reader
    reader.close()


def matches(conn: sqlite3.Connection, expr: str) -> set[str]:
    window = store.RunsWindow(conn, filter_text=expr)
    rows = window.page(0, 100)
    assert window.count() == len(rows)
    return {r.run_id for r in rows}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("metrics.val_acc > 0.9 and params.lr = '0.01'", {"r1"}),
        ("metrics.val_acc > 0.9 AND params.lr = '0.1'", {"r2"}),
        ("metrics.val_acc >= 0.95", {"r1", "r2"}),
        ("metrics.val_acc<0.9", {"r3"}),
        ("tags.team = 'nlp'", {"r1"}),
        ("tag.team = 'vision'", {"r2", "r3"}),
        ("attributes.status = 'FAILED'", {"r2"}),
        ("attributes.status != 'FINISHED'", {"r2", "r4"}),
        ("attributes.user_id = 'ana'", {"r4"}),
        ("attributes.start_time >= 3000", {"r3", "r4"}),
        ("attributes.run_name LIKE 'bert%'", {"r1"}),
        ("attributes.run_name LIKE '%ert-%'", {"r1"}),
        ("attributes.run_name LIKE '%ERT-%'", {"r2"}),
        ("attributes.run_name LIKE 'x_'", {"r4"}),
        ("attributes.run_name ILIKE 'bert%'", {"r1", "r2"}),
        ("attributes.run_id IN ('r2', 'r4')", {"r2", "r4"}),
        ("run_id NOT IN ('r2', 'r4')", {"r1", "r3"}),
        ("status = 'FAILED'", {"r2"}),
        ("created >= 3000", {"r3", "r4"}),
        ("attributes.`Run name` = 'xy'", {"r4"}),
        ("params.lr != '0.01'", {"r2"}),
        ("tags.owner IS NOT NULL", {"r3"}),
        ("params.opt IS NULL", {"r2", "r3", "r4"}),
        ("metrics.`val acc` = 0.5", {"r1"}),
        ('params.opt = "adam"', {"r1"}),
        # MLflow keeps the text between the quotes verbatim: '' stays two quotes.
        ("tags.note = 'it''s fine'", set()),
        ("tags.note LIKE 'it%'", {"r1"}),
        ("metrics.loss < 5e-3", {"r1"}),
        ("metrics.loss > 1.5E-2", {"r2"}),
        ("metrics.loss = 1e-3", {"r1"}),
    ],
)
def test_mlflow_syntax(conn: sqlite3.Connection, expr: str, expected: set[str]) -> None:
    """Each expression selects exactly the runs MLflow would."""
    assert matches(conn, expr) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bert", {"r1", "r2"}),  # trigram FTS is case-insensitive
        ("ert-ba", {"r1"}),  # substring, not word prefix
        ("vision", {"r2", "r3"}),  # tag values
        ("team nlp", set()),
        ("resnet", {"r3"}),
        ("nothing-like-it", set()),
        ("xy", {"r4"}),  # under 3 characters: LIKE on the name
        ("50", {"r3"}),
        ("it's", {"r1"}),
        ('"hi"', {"r3"}),
        ("%", set()),  # LIKE wildcards are literal
        ("_", set()),
    ],
)
def test_plain_text(conn: sqlite3.Connection, text: str, expected: set[str]) -> None:
    """Text that is not MLflow syntax is a substring search over names and tags."""
    compiled = compile_filter(text)
    assert compiled is not None and compiled.plain_text
    assert matches(conn, text) == expected


def test_empty_filter_is_none() -> None:
    """An empty or blank box means no filter."""
    assert compile_filter("") is None
    assert compile_filter("   ") is None


def test_values_are_bound_not_spliced() -> None:
    """Keys and values travel as SQL parameters, never inside the SQL text."""
    compiled = compile_filter("params.`x'; --` = 'y\"; DROP'")
    assert compiled is not None
    assert "DROP" not in compiled.sql and "--" not in compiled.sql
    assert compiled.params == ("x'; --", 'y"; DROP')


@pytest.mark.parametrize(
    ("expr", "needle", "position"),
    [
        ("metrics.val_acc >", "unexpected", 1),
        ("metrics.a > 1 or metrics.b < 2", "OR", 15),
        ("metrics.a > 1 OR metrics.b < 2", "OR", 15),
        ("attributes.colour = 'red'", "unknown attribute", 1),
        ("attributes.duration < 1000", "unknown attribute", 1),
        ("metrics.a = 'high'", "metrics compare with a number", 13),
        ("metrics.a LIKE '1%'", "metrics compare with a number", 16),
        ("params.lr = 0.01", "quoted string", 13),
        ("params.lr > '0.01'", "does not compare parameters", 11),
        ("params.lr IN ('a', 'b')", "quoted string", 14),
        ("attributes.status IN ('FAILED')", "only attributes.run_id", 22),
        ("attributes.status <> 'FINISHED'", "does not compare attributes", 19),
        ("metrics.a IS NULL", "tags and params only", 1),
        ("params.lr = 0.01 params.x = 1", "quoted string", 13),
        ("attributes.start_time > 'yesterday'", "compares with a number", 25),
        ("tags.t = team", "not quoted", 10),
        ("Metrics.a > 1", "unknown entity", 1),
        ("metrics.a > 1; metrics.b > 2", "one expression only", 14),
    ],
)
def test_errors_say_where_and_why(expr: str, needle: str, position: int) -> None:
    """Syntax MLflow refuses raises FilterError naming the problem and its position."""
    with pytest.raises(FilterError) as info:
        compile_filter(expr)
    assert needle in info.value.reason, info.value.reason
    assert info.value.position == position
    assert f"position {position}" in str(info.value)


def test_window_raises_filter_error(conn: sqlite3.Connection) -> None:
    """RunsWindow reports a bad filter from its constructor."""
    with pytest.raises(FilterError):
        store.RunsWindow(conn, filter_text="metrics.a = ")


@pytest.mark.parametrize(
    "attack",
    [
        "params.lr = '1' ; DROP TABLE runs; --'",
        "params.lr = '1'; DROP TABLE runs; --",
        "params.lr = '1' AND 1=1; DROP TABLE runs",
        "'); DROP TABLE runs; --",
        'x"); DROP TABLE runs; --',
    ],
)
def test_injection_is_an_error_or_harmless(
    conn: sqlite3.Connection, cache: db.Writer, attack: str
) -> None:
    """A hostile filter either fails to compile or matches data; the runs table survives."""
    try:
        found = matches(conn, attack)
    except FilterError:
        found = set()
    assert found == set()
    # Even a writable connection running the compiled condition cannot drop anything.
    try:
        compiled = compile_filter(attack)
    except FilterError:
        compiled = None
    if compiled is not None:
        cache.conn.execute(f"SELECT count(*) FROM runs r WHERE {compiled.sql}", compiled.params)
    assert cache.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 4


@pytest.mark.parametrize(
    "text", ["run.2024", "tag.v2", "param.sweep", "metrics.acc", "nothing-like-it", "in prod"]
)
def test_input_without_an_operator_is_plain_text(text: str) -> None:
    """Only input with a comparison operator is a filter; `metrics.acc` alone is text."""
    compiled = compile_filter(text)
    assert compiled is not None and compiled.plain_text


@pytest.mark.parametrize(
    "text", ["a=b", "loss<1", "x LIKE 'y'", "run_id IN ('a')", "tags.t IS NULL", "a != 'b'"]
)
def test_input_with_an_operator_is_a_filter(text: str) -> None:
    """Anything with an operator is parsed: valid, or an inline error; never silent text."""
    try:
        compiled = compile_filter(text)
    except FilterError:
        return
    assert compiled is not None and not compiled.plain_text
