"""The model registry in the cache: snapshots replace it whole, and the alias moves they show are
recorded once each (MLflow keeps no alias history)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlopstui.cache import db
from mlopstui.cache import registry as reg
from mlopstui.domain import AliasMove, ModelVersion, RegisteredModel

HOSTILE = 'it\'s "q" [red]markup[/red] \x1b[31mred\x1b[0m \u202eevil'


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    opened = db.open_writer(tmp_path / "c.sqlite")
    yield opened.conn
    opened.conn.close()


def model(name: str, aliases: dict[str, str] | None = None, **kw) -> RegisteredModel:
    return RegisteredModel(name=name, aliases=aliases or {}, **kw)


def versions(name: str, numbers: range | list[int]) -> list[ModelVersion]:
    return [ModelVersion(name=name, version=str(n), run_id=f"run{n}") for n in numbers]


def snapshot(
    conn: sqlite3.Connection,
    models: list[RegisteredModel],
    vs: list[ModelVersion],
    now: float = 1000.0,
) -> reg.RegistryDiff:
    conn.execute("BEGIN IMMEDIATE")
    try:
        diff = reg.replace_registry(conn, models, vs, now=now)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return diff


def test_first_snapshot_records_aliases_as_seen(conn: sqlite3.Connection) -> None:
    diff = snapshot(
        conn, [model("m", {"champion": "2", "challenger": "3"})], versions("m", range(1, 4)), 10.0
    )
    assert diff.changed
    assert sorted(diff.moves, key=lambda m: m.alias) == [
        AliasMove("m", "challenger", None, "3", 10.0, "", "seen"),
        AliasMove("m", "champion", None, "2", 10.0, "", "seen"),
    ]
    assert reg.alias_history(conn, "m", "champion") == [
        AliasMove("m", "champion", None, "2", 10.0, "", "seen")
    ]
    cached = reg.model(conn, "m")
    assert cached is not None
    assert cached.aliases == {"champion": "2", "challenger": "3"}
    assert cached.version_count == 3


def test_alias_moved_by_another_client_is_observed(conn: sqlite3.Connection) -> None:
    vs = versions("m", range(1, 4))
    snapshot(conn, [model("m", {"champion": "1"})], vs, 10.0)
    diff = snapshot(conn, [model("m", {"champion": "3"})], vs, 20.0)
    assert diff.changed
    assert diff.moves == [AliasMove("m", "champion", "1", "3", 20.0, "", "observed")]
    history = reg.alias_history(conn, "m", "champion")
    assert [(h.from_version, h.to_version, h.how) for h in history] == [
        ("1", "3", "observed"),
        (None, "1", "seen"),
    ]
    assert reg.last_move(conn, "m", "champion") == history[0]


def test_deleted_alias_records_no_target(conn: sqlite3.Connection) -> None:
    vs = versions("m", [1, 2])
    snapshot(conn, [model("m", {"champion": "2"})], vs, 10.0)
    diff = snapshot(conn, [model("m")], vs, 20.0)
    assert diff.moves == [AliasMove("m", "champion", "2", None, 20.0, "", "observed")]
    cached = reg.model(conn, "m")
    assert cached is not None and cached.aliases == {}
    assert [v.aliases for v in reg.versions(conn, "m")] == [(), ()]


def test_move_recorded_by_the_pipeline_is_not_recorded_again(conn: sqlite3.Connection) -> None:
    vs = versions("m", [1, 2])
    snapshot(conn, [model("m", {"champion": "1"})], vs, 10.0)
    # The action pipeline moves the alias, records who did it and updates the cache ...
    conn.execute("BEGIN IMMEDIATE")
    reg.record_alias_move(conn, AliasMove("m", "champion", "1", "2", 15.0, "alice", "promote"))
    reg.set_alias(conn, "m", "champion", "2")
    conn.execute("COMMIT")
    # ... and the next snapshot shows the same move: nothing new is recorded.
    diff = snapshot(conn, [model("m", {"champion": "2"})], vs, 20.0)
    assert diff.moves == []
    # Even when the pipeline did not update the cached alias (the sync got there first).
    snapshot(conn, [model("m", {"champion": "1"})], vs, 30.0)  # someone moved it back
    conn.execute("BEGIN IMMEDIATE")
    reg.record_alias_move(conn, AliasMove("m", "champion", "1", "2", 35.0, "alice", "promote"))
    conn.execute("COMMIT")
    diff = snapshot(conn, [model("m", {"champion": "2"})], vs, 40.0)
    assert diff.moves == []
    history = reg.alias_history(conn, "m", "champion")
    assert [(h.to_version, h.how, h.who) for h in history] == [
        ("2", "promote", "alice"),
        ("1", "observed", ""),
        ("2", "promote", "alice"),
        ("1", "seen", ""),
    ]


def test_unchanged_snapshot_changes_nothing_and_writes_nothing(conn: sqlite3.Connection) -> None:
    models = [model("a", {"prod": "2"}, tags={"team": "x"}, latest_version="2"), model("b")]
    vs = [*versions("a", [1, 2]), *versions("b", [1])]
    assert snapshot(conn, models, vs, 10.0).changed
    before = conn.total_changes
    diff = snapshot(conn, list(reversed(models)), list(reversed(vs)), 20.0)
    assert diff == reg.RegistryDiff(False, [])
    assert conn.total_changes == before
    assert len(reg.alias_history(conn)) == 1


def test_a_tag_or_status_change_is_a_change_without_moves(conn: sqlite3.Connection) -> None:
    vs = versions("m", [1])
    snapshot(conn, [model("m")], vs, 10.0)
    changed = [ModelVersion("m", "1", status="PENDING_REGISTRATION", run_id="run1")]
    diff = snapshot(conn, [model("m")], changed, 20.0)
    assert diff.changed and diff.moves == []
    assert [v.status for v in reg.versions(conn, "m")] == ["PENDING_REGISTRATION"]
    diff = snapshot(conn, [model("m", tags={"k": "v"})], changed, 30.0)
    assert diff.changed and diff.moves == []
    cached = reg.model(conn, "m")
    assert cached is not None and cached.tags == {"k": "v"}


def test_removed_model_and_versions_leave_the_cache(conn: sqlite3.Connection) -> None:
    snapshot(conn, [model("a"), model("b")], [*versions("a", [1]), *versions("b", [1, 2])])
    snapshot(conn, [model("a")], versions("a", [1]), 20.0)
    assert [m.name for m in reg.models(conn)] == ["a"]
    assert reg.versions(conn, "b") == []
    assert reg.model(conn, "b") is None


def test_versions_are_newest_first_in_numeric_order_with_aliases(
    conn: sqlite3.Connection,
) -> None:
    snapshot(
        conn,
        [model("m", {"champion": "9", "challenger": "10", "stable": "9"})],
        versions("m", [2, 10, 1, 9, 11]),
    )
    found = reg.versions(conn, "m")
    assert [v.version for v in found] == ["11", "10", "9", "2", "1"]
    by_version = {v.version: v.aliases for v in found}
    assert by_version == {
        "11": (),
        "10": ("challenger",),
        "9": ("champion", "stable"),
        "2": (),
        "1": (),
    }
    assert reg.version(conn, "m", "10") == found[1]
    assert reg.version(conn, "m", "12") is None


def test_hostile_strings_are_stored_verbatim(conn: sqlite3.Connection) -> None:
    tags = {HOSTILE: HOSTILE}
    snapshot(
        conn,
        [model(HOSTILE, {"champion": "1"}, description=HOSTILE, tags=tags)],
        [ModelVersion(HOSTILE, "1", source=HOSTILE, description=HOSTILE, tags=tags)],
    )
    (cached,) = reg.models(conn)
    assert cached.name == cached.description == HOSTILE
    assert cached.tags == tags
    (version,) = reg.versions(conn, HOSTILE)
    assert (version.name, version.source, version.description) == (HOSTILE, HOSTILE, HOSTILE)
    assert version.tags == tags and version.aliases == ("champion",)
    (move,) = reg.alias_history(conn, HOSTILE)
    assert move.model == HOSTILE
    assert reg.model(conn, HOSTILE + "x") is None
