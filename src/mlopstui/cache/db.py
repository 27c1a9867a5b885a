"""Opening the cache: WAL, busy timeout, migrations, permissions, and recovery.

There is one writer connection (the sync side) and any number of read-only readers (the UI).
A cache that is corrupt, belongs to another program, or was written by a newer mlopstui is
moved aside (never deleted) and rebuilt from the sources; `CacheOpen.note` says so, and the UI
shows that note.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from mlopstui import paths
from mlopstui.cache.migrations import MIGRATIONS

APPLICATION_ID = 0x6D6C6F70  # 'mlop': marks a SQLite file as ours.
SCHEMA_VERSION = len(MIGRATIONS)


class CacheError(Exception):
    """The cache cannot be used; the message says why and what to do."""


@dataclass
class CacheOpen:
    """A writer connection and what happened while opening it."""

    conn: sqlite3.Connection
    path: Path
    note: str | None = None


def _configure(conn: sqlite3.Connection, *, writer: bool) -> None:
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA foreign_keys = ON")
    # Keep the page cache small: the 1M-run budget is 80 MB RSS for the whole app.
    conn.execute("PRAGMA cache_size = -8000")
    if writer:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")


def _check_ours(conn: sqlite3.Connection) -> str | None:
    """Return why this database is not a usable cache, or None."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app_id == 0 and version == 0 and has_tables == 0:
        return None  # brand new
    if app_id != APPLICATION_ID:
        return "it is not an mlopstui cache"
    if version > SCHEMA_VERSION:
        return f"it was written by a newer mlopstui (schema {version} > {SCHEMA_VERSION})"
    return None


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the numbered migrations past `PRAGMA user_version`, each in one transaction."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        try:
            conn.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _move_aside(path: Path, reason: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.broken-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(path) + suffix)
        if part.exists():
            part.rename(Path(str(aside) + suffix))
    return f"Cache {path.name} was moved aside ({reason}) to {aside.name}; rebuilding from sources."


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """True for errors that mean the file itself is broken (not busy, full or read-only)."""
    text = str(exc).lower()
    return any(m in text for m in ("not a database", "malformed", "disk image", "encrypted"))


def open_writer(path: Path) -> CacheOpen:
    """Open (creating or rebuilding as needed) the cache for writing."""
    paths.ensure_private_dir(path.parent)
    paths.check_not_shared(path)
    note = None
    for _attempt in range(2):
        conn = None
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            paths.make_private_file(path)
            conn.execute("PRAGMA busy_timeout = 5000")
            # Check before switching to WAL: a file that is not ours is moved aside unchanged.
            problem = _check_ours(conn)
            if problem is None:
                _configure(conn, writer=True)
                migrate(conn)
                conn.execute("SELECT count(*) FROM runs LIMIT 1").fetchone()
                return CacheOpen(conn, path, note)
        except sqlite3.DatabaseError as exc:
            if conn is not None:
                conn.close()
            if not _is_damage(exc):
                # Locked by another process, disk full, read-only media: the cache is fine,
                # so it is not moved aside; the person gets the reason instead.
                raise CacheError(f"cannot open the cache {path}: {exc}") from None
            problem = f"it is damaged: {exc}"
            conn = None
        else:
            conn.close()
        if note is not None:
            break
        note = _move_aside(path, problem)
    raise CacheError(f"cannot create a cache at {path}; choose another with --cache")


def open_reader(path: Path) -> sqlite3.Connection:
    """A read-only connection for panes and the CLI. The file must exist (open_writer first)."""
    paths.check_not_shared(path)
    # Percent-encode the path: a '?', '#' or '%' in it would otherwise end the file name early,
    # and SQLite would open (and create) another file, read-write.
    conn = sqlite3.connect(
        f"file:{quote(str(path))}?mode=ro", uri=True, check_same_thread=False, isolation_level=None
    )
    _configure(conn, writer=False)
    conn.execute("PRAGMA query_only = ON")
    return conn


class Writer:
    """The one writer connection, shared by sync threads; one transaction at a time."""

    def __init__(self, opened: CacheOpen) -> None:
        import threading

        self.conn = opened.conn
        self.path = opened.path
        self.note = opened.note
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """`with writer.transaction() as conn:` commits on success, rolls back on error."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (waits for a transaction in progress)."""
        with self._lock:
            self.conn.close()
