"""Opening the cache: WAL, busy timeout, migrations, permissions, and recovery.

There is one writer connection (the sync side) and any number of read-only readers (the UI).
A cache that is corrupt, belongs to another program, or was written by a newer mlopstui is
moved aside (never deleted) and rebuilt from the sources; `CacheOpen.note` says so, and the UI
shows that note.

Damage found later, by a query in the middle of a sync or of a pane's read, is handled the same
way while the session runs (`Writer.recover`): the writer closes its connection, moves the file
aside with its -wal and -shm, opens a fresh cache in its place, bumps `Writer.generation` and
tells its `on_rebuilt` listeners (the scheduler wakes every feed, the UI reopens its reader).
Without this a damaged page stays damaged: every sync fails with "malformed" for ever.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from mlopstui import paths
from mlopstui.cache.migrations import MIGRATIONS

log = logging.getLogger(__name__)

APPLICATION_ID = 0x6D6C6F70  # 'mlop': marks a SQLite file as ours.
SCHEMA_VERSION = len(MIGRATIONS)


class CacheError(Exception):
    """The cache cannot be used; the message says why and what to do."""


class CacheRebuilt(CacheError):
    """The cache was found damaged in use and was replaced by an empty one (the message says
    where the damaged file went). The write that found it is lost; the next sync redoes it, so
    the scheduler records this as one failed attempt of the feed, with this message."""


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
    """Rename the cache and its -wal and -shm to one unused `.broken-<time>` name, all or
    none; returns the note for the person. Raises OSError when they cannot be moved (then
    what moved is put back and nothing is rebuilt over it)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.broken-{stamp}")
    n = 1
    while any(Path(str(aside) + s).exists() for s in ("", "-wal", "-shm")):
        n += 1  # a second rebuild within the second must not overwrite the first
        aside = path.with_name(f"{path.name}.broken-{stamp}-{n}")
    moved: list[tuple[Path, Path]] = []
    try:
        # The -wal and -shm go first, and go too: left behind, the next connection would read
        # the damaged file's log as the new cache's.
        for suffix in ("-wal", "-shm", ""):
            part = Path(str(path) + suffix)
            if part.exists():
                target = Path(str(aside) + suffix)
                part.rename(target)
                moved.append((target, part))
    except OSError:
        for target, part in reversed(moved):
            with suppress(OSError):
                target.rename(part)
        raise
    return f"Cache {path.name} was moved aside ({reason}) to {aside.name}; rebuilding from sources."


_DAMAGE = ("not a database", "malformed", "disk image", "encrypted")


def is_damage(exc: BaseException | None) -> bool:
    """True for errors that mean the file itself is broken; False for a busy, full or
    read-only cache, or one without permission (the file is fine: moving it aside would lose
    it for nothing)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return True
    text = str(exc).lower()  # errors raised without a code (or by older Pythons)
    return any(m in text for m in _DAMAGE)


def check(path: Path) -> str | None:
    """Why the cache at `path` is damaged, or None when SQLite finds it sound.

    `PRAGMA quick_check` reads every page over a read-only connection (it changes nothing, so
    `doctor` may run it beside a running workbench); opening alone reads only the first page,
    so it says nothing about damage in the middle. Raises sqlite3.Error for other failures
    (no permission, locked)."""
    try:
        conn = open_reader(path)
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            return str(exc)
        raise
    try:
        rows = conn.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            return str(exc)
        raise
    finally:
        conn.close()
    problems = [str(r[0]) for r in rows if r[0] != "ok"]
    return "; ".join(problems) or None


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
            if not is_damage(exc):
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
    """The one writer connection, shared by sync threads; one transaction at a time.

    A transaction that finds the file damaged rebuilds the cache in place (see the module's
    docstring) and raises `CacheRebuilt`; `generation` counts those rebuilds, so a reader can
    tell whether its connection still points at the file in use."""

    def __init__(self, opened: CacheOpen) -> None:
        self.conn = opened.conn
        self.path = opened.path
        self.note = opened.note
        self.generation = 0
        self.on_rebuilt: list[Callable[[str], None]] = []
        """Called with the note after each rebuild, from the thread that found the damage."""
        self._lock = threading.Lock()
        self._unusable: str | None = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """`with writer.transaction() as conn:` commits on success, rolls back on error.

        Raises CacheRebuilt when the cache turned out damaged (it was rebuilt: retry later),
        CacheError when it was damaged and could not be rebuilt."""
        note = healed = None
        try:
            with self._lock:
                if self._unusable is not None:
                    healed = self._rebuild(self._unusable)
                conn = self.conn
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield conn
                        conn.execute("COMMIT")
                    except BaseException:
                        _rollback(conn)
                        raise
                except sqlite3.DatabaseError as exc:
                    if not is_damage(exc):
                        raise  # busy, full, read-only: the file is fine; the caller reports it
                    note = self._rebuild(f"it was damaged: {exc}")
        finally:
            if healed is not None:  # rebuilt before this transaction, which then went on
                self._announce(healed)
        if note is not None:
            self._announce(note)
            raise CacheRebuilt(note)

    def recover(self, exc: BaseException, generation: int | None = None) -> bool:
        """A reader found `exc`: if it is damage, rebuild the cache as a transaction would.

        `generation` is the one the reader's connection was opened at: when the cache was
        rebuilt since, that connection still reads the old file, and the new one is left
        alone. Returns True when this call rebuilt the cache; raises CacheError when it could
        not."""
        if not is_damage(exc):
            return False
        with self._lock:
            if generation is not None and generation != self.generation:
                return False
            # The words alone do not say which file: a plugin's own SQLite file or an
            # embedded MLflow store may be the damaged one. Ours must fail SQLite's check.
            try:
                found = check(self.path)
            except sqlite3.Error:
                found = None
            if found is None:
                log.warning("a reader reported damage (%s) but the cache checks sound", exc)
                return False
            note = self._rebuild(f"it was damaged: {exc}")
        self._announce(note)
        return True

    def _rebuild(self, reason: str) -> str:
        """Under the lock: close, move aside, open a fresh cache. Returns the note."""
        with suppress(sqlite3.Error):
            self.conn.close()
        log.warning("cache %s: %s; moving it aside", self.path, reason)
        try:
            note = _move_aside(self.path, reason)
            opened = open_writer(self.path)
        except (OSError, CacheError) as exc:
            # Tried again by the next transaction; until then every write says why.
            self._unusable = reason
            raise CacheError(
                f"the cache {self.path} is unusable ({reason}) and could not be rebuilt: {exc}; "
                "quit, move it away and start again"
            ) from None
        self._unusable = None
        self.conn = opened.conn
        self.generation += 1
        self.note = note if opened.note is None else f"{note} {opened.note}"
        return self.note

    def _announce(self, note: str) -> None:
        for listener in list(self.on_rebuilt):
            try:
                listener(note)
            except Exception:  # a listener must never stop the sync that found the damage
                log.exception("cache rebuild listener failed")

    def close(self) -> None:
        """Close the connection (waits for a transaction in progress)."""
        with self._lock:
            self.conn.close()


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is open; a failing rollback (the file is damaged, or SQLite
    already rolled back) must not hide the error that caused it."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        log.warning("rollback failed: %s", exc)
