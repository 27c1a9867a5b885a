"""Opening the cache: modes, WAL, migrations, recovery of bad files, read-only readers."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from mlopstui import paths
from mlopstui.cache import db, migrations

TABLES = {
    "experiments",
    "runs",
    "params",
    "metrics",
    "tags",
    "runs_fts",
    "metric_history",
    "sync_runs",
    "sync_state",
    "run_keys",
    "view_state",
}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def aside_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.broken-*"))


def test_new_cache_is_private_wal_and_migrated(cache_path: Path) -> None:
    """A fresh cache: 0600 file in a 0700 dir, WAL, all migrations, our application id."""
    opened = db.open_writer(cache_path)
    try:
        assert opened.note is None
        assert mode(cache_path) == 0o600
        assert mode(cache_path.parent) == 0o700
        conn = opened.conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS)
        assert conn.execute("PRAGMA application_id").fetchone()[0] == db.APPLICATION_ID
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert tables(conn) >= TABLES
    finally:
        opened.conn.close()


def test_reopening_is_idempotent(cache_path: Path) -> None:
    """A second open keeps the data, the version and gives no note."""
    first = db.open_writer(cache_path)
    first.conn.execute("INSERT INTO experiments (experiment_id, name) VALUES ('1', 'kept')")
    first.conn.close()
    second = db.open_writer(cache_path)
    try:
        assert second.note is None
        assert second.conn.execute("SELECT name FROM experiments").fetchall() == [("kept",)]
        version = second.conn.execute("PRAGMA user_version").fetchone()[0]
        assert version == db.SCHEMA_VERSION
        assert aside_files(cache_path) == []
    finally:
        second.conn.close()


def _assert_rebuilt(cache_path: Path, original: bytes, opened: db.CacheOpen) -> None:
    try:
        assert opened.note is not None
        (aside,) = aside_files(cache_path)
        assert aside.name in opened.note
        assert "moved aside" in opened.note
        assert aside.read_bytes()[: len(original)] == original  # never deleted
        assert opened.conn.execute("PRAGMA application_id").fetchone()[0] == db.APPLICATION_ID
        assert opened.conn.execute("SELECT count(*) FROM runs").fetchone()[0] == 0
    finally:
        opened.conn.close()


def test_corrupt_file_is_moved_aside_and_rebuilt(cache_path: Path) -> None:
    """Random bytes: the file is kept as <name>.broken-<stamp>, a fresh cache is built."""
    cache_path.parent.mkdir(mode=0o700)
    junk = os.urandom(8192)
    cache_path.write_bytes(junk)
    os.chmod(cache_path, 0o600)
    opened = db.open_writer(cache_path)
    assert "damaged" in (opened.note or "")
    _assert_rebuilt(cache_path, junk, opened)


def test_foreign_sqlite_database_is_moved_aside(cache_path: Path) -> None:
    """A valid SQLite file of another program is not ours: moved aside, not migrated over."""
    cache_path.parent.mkdir(mode=0o700)
    other = sqlite3.connect(cache_path)
    other.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
    other.execute("INSERT INTO invoices (amount) VALUES (9.5)")
    other.commit()
    other.close()
    os.chmod(cache_path, 0o600)
    original = cache_path.read_bytes()[:100]
    opened = db.open_writer(cache_path)
    assert "not an mlopstui cache" in (opened.note or "")
    assert "invoices" not in tables(opened.conn)
    _assert_rebuilt(cache_path, original, opened)
    (aside,) = aside_files(cache_path)
    kept = sqlite3.connect(aside)
    assert kept.execute("SELECT amount FROM invoices").fetchall() == [(9.5,)]
    kept.close()


def test_cache_from_a_newer_schema_is_moved_aside(cache_path: Path) -> None:
    """user_version past ours means a newer mlopstui wrote it: moved aside."""
    db.open_writer(cache_path).conn.close()
    conn = sqlite3.connect(cache_path)
    conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 5}")
    conn.close()
    original = cache_path.read_bytes()[:16]
    opened = db.open_writer(cache_path)
    assert "newer" in (opened.note or "")
    _assert_rebuilt(cache_path, original, opened)
    assert opened.conn is not None


@pytest.mark.parametrize("bits", [0o020, 0o002], ids=["group", "world"])
def test_shared_cache_file_is_refused(cache_path: Path, bits: int) -> None:
    """A group- or world-writable cache file raises UnsafePathError (never opened)."""
    db.open_writer(cache_path).conn.close()
    os.chmod(cache_path, 0o600 | bits)
    with pytest.raises(paths.UnsafePathError, match="writable by other users"):
        db.open_writer(cache_path)
    with pytest.raises(paths.UnsafePathError):
        db.open_reader(cache_path)


@pytest.mark.parametrize("bits", [0o070, 0o777], ids=["group", "world"])
def test_shared_cache_directory_is_refused(cache_path: Path, bits: int) -> None:
    """A group- or world-writable cache directory raises UnsafePathError."""
    cache_path.parent.mkdir()
    os.chmod(cache_path.parent, bits)
    with pytest.raises(paths.UnsafePathError, match="chmod go-w"):
        db.open_writer(cache_path)
    assert not cache_path.exists()


def test_reader_is_read_only(writer: db.Writer, reader: sqlite3.Connection) -> None:
    """open_reader sees the data but any write raises OperationalError."""
    with writer.transaction() as conn:
        conn.execute("INSERT INTO experiments (experiment_id, name) VALUES ('1', 'e')")
    assert reader.execute("SELECT name FROM experiments").fetchall() == [("e",)]
    with pytest.raises(sqlite3.OperationalError):
        reader.execute("INSERT INTO experiments (experiment_id, name) VALUES ('2', 'x')")
    with pytest.raises(sqlite3.OperationalError):
        reader.execute("DELETE FROM experiments")


@pytest.mark.parametrize("odd", ["with#hash", "with?question", "with%25percent", "with space"])
def test_reader_opens_the_right_file_whatever_its_path(tmp_path: Path, odd: str) -> None:
    """URI-special characters in the path neither redirect nor un-read-only the reader."""
    path = tmp_path / odd / "cache.sqlite"
    opened = db.open_writer(path)
    opened.conn.execute("INSERT INTO experiments (experiment_id, name) VALUES ('1', 'here')")
    opened.conn.close()
    before = sorted(p.name for p in tmp_path.iterdir())
    reader = db.open_reader(path)
    try:
        assert reader.execute("SELECT name FROM experiments").fetchall() == [("here",)]
        with pytest.raises(sqlite3.OperationalError):
            reader.execute("DELETE FROM experiments")
    finally:
        reader.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no stray file beside it


def test_writer_transaction_rolls_back_on_error(writer: db.Writer) -> None:
    """An exception inside `transaction()` leaves nothing behind."""
    with pytest.raises(RuntimeError), writer.transaction() as conn:
        conn.execute("INSERT INTO experiments (experiment_id, name) VALUES ('1', 'e')")
        raise RuntimeError("boom")
    assert writer.conn.execute("SELECT count(*) FROM experiments").fetchone()[0] == 0


def test_migrate_on_an_empty_database_creates_every_table() -> None:
    """All migrations on :memory: create the schema and stamp version and application id."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    db.migrate(conn)
    assert tables(conn) >= TABLES
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == db.APPLICATION_ID
    db.migrate(conn)  # nothing left to apply: a no-op
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(migrations.MIGRATIONS)


def test_a_failing_migration_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken script rolls back whole: its tables are absent and user_version unchanged."""
    good = migrations.MIGRATIONS[0]
    broken = "CREATE TABLE half_done (x INTEGER); INSERT INTO no_such_table VALUES (1)"
    monkeypatch.setattr(db, "MIGRATIONS", [good, broken])
    conn = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        db.migrate(conn)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert "half_done" not in tables(conn)
    assert "runs" in tables(conn)
    assert not conn.in_transaction


def test_a_locked_cache_is_reported_not_moved_aside(cache_path: Path) -> None:
    """'database is locked' is not damage: the cache stays where it is and the error says why."""
    db.open_writer(cache_path).conn.close()
    holder = sqlite3.connect(cache_path)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(db.CacheError, match="locked"):
            db.open_writer(cache_path)
    finally:
        holder.rollback()
        holder.close()
    assert aside_files(cache_path) == []


def test_plugin_source_records_round_trip_and_replace(writer: db.Writer) -> None:
    """A plugin source's topic is replaced whole, kept per source, and read in key order."""
    from mlopstui.cache import records

    with writer.transaction() as conn:
        assert (
            records.replace_records(conn, "quota", "teams", [("b", {"n": 2}), ("a", {"n": 1})]) == 2
        )
        records.put_record(conn, "other", "teams", "a", {"n": 9})
    conn = db.open_reader(writer.path)
    assert records.records(conn, "quota", "teams") == [("a", {"n": 1}), ("b", {"n": 2})]
    with writer.transaction() as wconn:
        records.replace_records(wconn, "quota", "teams", [("c", {"n": 3})])
    assert records.records(conn, "quota", "teams") == [("c", {"n": 3})]
    assert records.records(conn, "other", "teams") == [("a", {"n": 9})]
    assert records.records(conn, "quota", "nothing") == []
