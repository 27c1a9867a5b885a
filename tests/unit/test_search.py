"""MLflow search syntax (and plain text) answered from the cache."""

from __future__ import annotations

import re
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
            tags={"team": "nlp", "note": "it's fine"},
        ),
        make_run(
            "r2",
            name="BERT-large",
            status="FAILED",
            start_time=2000,
            metrics={"val_acc": 0.97, "loss": 2e-2},
            params={"lr": "0.1"},
            tags={"team": "vision"},
        ),
        make_run(
            "r3",
            name="resnet50",
            status="FINISHED",
            start_time=3000,
            end_time=3500,
            metrics={"val_acc": 0.80},
            params={"lr": "0.01"},
            tags={"team": "vision", "owner": 'say "hi"'},
        ),
        make_run("r4", name="xy", status="KILLED", start_time=4000, user="ana"),
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
        ("attributes.status <> 'FINISHED'", {"r2", "r4"}),
        ("attributes.user_id = 'ana'", {"r4"}),
        ("attributes.start_time >= 3000", {"r3", "r4"}),
        ("attributes.duration < 1000", {"r3"}),
        ("attributes.run_name LIKE 'bert%'", {"r1"}),
        ("attributes.run_name LIKE '%ert-%'", {"r1"}),
        ("attributes.run_name LIKE '%ERT-%'", {"r2"}),
        ("attributes.run_name LIKE 'x_'", {"r4"}),
        ("attributes.run_name ILIKE 'bert%'", {"r1", "r2"}),
        ("attributes.status IN ('FAILED', 'KILLED')", {"r2", "r4"}),
        ("attributes.status NOT IN ('FAILED', 'KILLED')", {"r1", "r3"}),
        ("params.lr IN ('0.1')", {"r2"}),
        ("params.lr != '0.01'", {"r2"}),
        ("params.lr = 0.01", {"r1", "r3"}),
        ("metrics.`val acc` = 0.5", {"r1"}),
        ('params.opt = "adam"', {"r1"}),
        ("tags.note = 'it''s fine'", {"r1"}),
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
        ("team=nlp", {"r1"}),
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
    ("expr", "needle"),
    [
        ("metrics.val_acc >", "ends early"),
        ("metrics.val_acc", "ends early"),
        ("metrics.a > 1 or metrics.b < 2", "OR"),
        ("metrics.a > 1 OR metrics.b < 2", "OR"),
        ("attributes.colour = 'red'", "unknown attribute"),
        ("metrics.a ~ 1", "cannot read"),
        ("metrics.a CONTAINS 1", "expected an operator"),
        ("metrics.a = 'high'", "metrics compare with numbers"),
        ("metrics.a LIKE '1%'", "metrics compare with numbers"),
        ("params.lr = '0.01", "cannot read"),
        ("params.lr = 0.01 params.x = 1", "expected AND"),
        ("params.lr IN ('a', 'b'", "ends early"),
        ("params.lr IN 'a'", "expected '('"),
        ("attributes.start_time > 'yesterday'", "compares with a number"),
        ("tags.t = team", "expected a number or a quoted string"),
    ],
)
def test_errors_say_where_and_why(expr: str, needle: str) -> None:
    """Malformed MLflow syntax raises FilterError naming the problem and a position."""
    with pytest.raises(FilterError) as info:
        compile_filter(expr)
    msg = str(info.value)
    assert needle in msg
    if "compares with a number" not in msg:
        match = re.search(r"position (\d+)", msg)
        assert match, msg
        assert 1 <= int(match.group(1)) <= len(expr) + 1


def test_error_position_points_at_the_problem() -> None:
    """The reported position is the 1-based column of the offending token."""
    with pytest.raises(FilterError, match="position 15"):
        compile_filter("metrics.a > 1 or metrics.b < 2")
    with pytest.raises(FilterError, match="position 12"):
        compile_filter("metrics.a >")


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


@pytest.mark.parametrize("text", ["run.2024", "tag.v2", "param.sweep"])
def test_ambiguous_words_without_an_operator_are_plain_text(text: str) -> None:
    """`run.2024` is a search for text, not a broken filter."""
    compiled = compile_filter(text)
    assert compiled is not None and compiled.plain_text


def test_a_full_entity_prefix_without_an_operator_is_still_an_error() -> None:
    """`metrics.acc` alone is a filter being typed: its error is shown."""
    with pytest.raises(FilterError):
        compile_filter("metrics.acc")
