"""The audit log: one durable record per write this tool attempts, in its own database.

An intent is committed with `synchronous=FULL` before the request is sent, and its outcome is
written when the pipeline knows it. An intent without an outcome whose process is gone (killed,
crashed, power cut) is shown as "outcome unknown - verify" until someone verifies it. It lives
with the user's data, not the cache: a rebuilt cache never takes the audit log with it.
Nothing secret goes in: sources are recorded without credentials.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from mlopstui import paths
from mlopstui.cache.db import is_damage
from mlopstui.text import redact

log = logging.getLogger(__name__)

APPLICATION_ID = 0x6D6C6161  # 'mlaa': marks a SQLite file as our audit log.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id       INTEGER PRIMARY KEY,
    started  REAL NOT NULL,
    finished REAL,
    user     TEXT NOT NULL,
    host     TEXT NOT NULL,
    pid      INTEGER NOT NULL,
    source   TEXT NOT NULL,
    action   TEXT NOT NULL,
    target   TEXT NOT NULL,
    before   TEXT NOT NULL,
    after    TEXT NOT NULL,
    params   TEXT NOT NULL DEFAULT '{}',
    outcome  TEXT,
    message  TEXT,
    error    TEXT
);
CREATE INDEX IF NOT EXISTS audit_started ON audit(started);
"""
_COLUMNS = (
    "id, started, finished, user, host, pid, source, action, target, before, after, params,"
    " outcome, message, error"
)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


@dataclass(frozen=True)
class AuditRecord:
    """One attempted write and, once known, how it ended."""

    id: int
    started: float
    finished: float | None
    user: str
    host: str
    pid: int
    source: str
    action: str
    target: str
    before: str
    after: str
    params: dict[str, Any]
    outcome: str | None
    message: str | None
    """How it ended, in words (success or not)."""
    error: str | None
    """The same words when it did not succeed (failed, refused, unknown); else None."""
    log_path: str = ""

    @property
    def state(self) -> str:
        """The outcome, 'in progress' while its process still runs it, else 'unknown'."""
        if self.outcome is not None:
            return self.outcome
        return "in progress" if _running(self) else "unknown"

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready record (`mlopstui audit --format json`)."""
        return {
            "id": self.id,
            "time": self.started,
            "finished": self.finished,
            "user": self.user,
            "host": self.host,
            "source": self.source,
            "action": self.action,
            "target": self.target,
            "before": self.before,
            "after": self.after,
            "params": self.params,
            "outcome": self.state,
            "message": self.message,
            "error": self.error,
        }


# An intent older than this is not in progress, whatever process has its pid now.
_MAX_IN_FLIGHT_S = 600.0
# (audit file, id) of the intents this process is executing right now.
_IN_FLIGHT: set[tuple[str, int]] = set()


def _running(rec: AuditRecord) -> bool:
    """Whether the process that wrote an intent may still be executing it."""
    if rec.host != socket.gethostname() or time.time() - rec.started > _MAX_IN_FLIGHT_S:
        return False
    if rec.pid == os.getpid():
        return (rec.log_path, rec.id) in _IN_FLIGHT
    try:
        os.kill(rec.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AuditError(Exception):
    """The audit log cannot be written: no action may run (the message says why)."""


class _Damaged(sqlite3.DatabaseError):
    """What this module found wrong with the file: SQLite's check failed, or it is a SQLite
    file that is not an mlopstui audit log."""


_SIDE_FILES = ("-wal", "-shm")


def _damaged(exc: BaseException) -> bool:
    """Only real damage (SQLite's own verdict on the file's content, `db.is_damage`, or our
    check) moves the log aside: a read-only file, a full disk or an I/O error leave it be."""
    return isinstance(exc, _Damaged) or is_damage(exc)


# Less free space than this beside the log makes a write's I/O error a full disk: SQLite
# reports a failed write of its -wal or -shm as SQLITE_IOERR, not SQLITE_FULL.
_NEARLY_FULL = 256 * 1024


def _disk_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < _NEARLY_FULL
    except OSError:
        return False


def _locked(exc: BaseException) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in str(exc)


def _why(exc: BaseException, folder: Path | None = None) -> str:
    """A SQLite or OS failure of the audit log (kept in `folder`), as words a person can act
    on."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    full = name.startswith("SQLITE_FULL") or getattr(exc, "errno", None) == errno.ENOSPC
    if full or (name.startswith("SQLITE_IOERR") and folder is not None and _disk_full(folder)):
        return "the disk is full (free some space)"
    if name.startswith(("SQLITE_READONLY", "SQLITE_PERM", "SQLITE_CANTOPEN", "SQLITE_AUTH")) or (
        isinstance(exc, PermissionError)
    ):
        return "it is read-only here (check the permissions of the file and its folder)"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "another process holds it locked (try again)"
    if name.startswith("SQLITE_IOERR") or isinstance(exc, OSError):
        return f"an I/O error ({str(exc) or name})"
    if _damaged(exc):
        return f"it is damaged ({exc})"
    return str(exc) or type(exc).__name__


class AuditLog:
    """The audit database; safe to use from several threads (one connection, one lock).

    Opening never loses history: a log that cannot be written (read-only, disk full, locked,
    an I/O error) is kept and opened for reading, and every intent is refused with the reason
    (`read_only`), so `mlopstui audit` still lists it and no action runs unaudited. Only a file
    SQLite finds damaged (or that is not an audit log) is moved aside, together with its -wal
    and -shm (which belong to it: left behind, they would be replayed into the new log), and
    `note` says where it went.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.audit_file()
        self.note: str | None = None
        """Said once to the person (a toast, `doctor`): e.g. where a damaged log was kept."""
        self.read_only: str | None = None
        """Why intents are refused (opened for reading only), or None when it is writable."""
        self._lock = threading.Lock()
        try:
            paths.ensure_private_dir(self.path.parent)
        except OSError as exc:  # a read-only parent: an existing log can still be read
            if not self.path.exists():
                raise AuditError(
                    f"cannot create the audit log {self.path}: {_why(exc, self.path.parent)}"
                ) from None
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as exc:
            if not self.path.exists():
                raise AuditError(
                    f"cannot open the audit log {self.path}: {_why(exc, self.path.parent)}"
                ) from None
            if _locked(exc):  # passing: the next action opens it again
                raise AuditError(
                    f"cannot open the audit log {self.path}: {_why(exc, self.path.parent)}"
                ) from None
            if _damaged(exc):
                self._move_aside(exc)
                try:
                    self._conn = self._open()
                except sqlite3.DatabaseError as again:
                    raise AuditError(
                        f"cannot open a new audit log {self.path}: {_why(again, self.path.parent)}"
                    ) from None
            else:
                self._conn = self._open_for_reading(exc)

    def _open(self) -> sqlite3.Connection:
        """Open for writing; write only what a new log needs (an existing one is read, so a
        full disk or a read-only file does not fail here)."""
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            self._check(conn)
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            # FULL: a committed intent survives a power cut, before the request goes out.
            conn.execute("PRAGMA synchronous = FULL")
            if not self._has_table(conn):
                conn.executescript(f"PRAGMA application_id = {APPLICATION_ID};" + _SCHEMA)
        except BaseException:
            conn.close()
            raise
        self._tighten_mode()
        return conn

    def _check(self, conn: sqlite3.Connection) -> None:
        """Raise sqlite3.DatabaseError when the file is not ours or SQLite finds it damaged."""
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id != APPLICATION_ID and (app_id or tables):
            raise _Damaged("it is not an mlopstui audit log")
        if tables:
            found = [r[0] for r in conn.execute("PRAGMA quick_check(3)")]
            if found != ["ok"]:
                raise _Damaged("; ".join(map(str, found)))

    @staticmethod
    def _has_table(conn: sqlite3.Connection) -> bool:
        found = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'audit'").fetchone()
        return found is not None

    def _tighten_mode(self) -> None:
        """Keep the log private (0600 when this created it); never loosen a mode the person
        set (a log made read-only on purpose stays read-only)."""
        try:
            mode = self.path.stat().st_mode & 0o777
            if mode & 0o077:
                os.chmod(self.path, mode & 0o700)
        except OSError:
            pass

    def _open_for_reading(self, cause: BaseException) -> sqlite3.Connection:
        """The log cannot be written: open it for reading only, history intact."""
        reason = _why(cause, self.path.parent)
        uri = "file:" + quote(str(self.path), safe="/")
        last: BaseException = cause
        # mode=ro needs its -shm (or a writable folder to make one); immutable=1 reads the
        # file alone, which holds everything once the last writer closed it.
        for query in ("?mode=ro", "?immutable=1"):
            try:
                conn = sqlite3.connect(
                    uri + query, uri=True, check_same_thread=False, isolation_level=None
                )
            except sqlite3.Error as exc:
                last = exc
                continue
            try:
                conn.execute("PRAGMA busy_timeout = 5000")
                self._check(conn)
            except sqlite3.DatabaseError as exc:
                conn.close()
                last = exc
                if _damaged(exc):
                    break
                continue
            self.read_only = reason
            return conn
        raise AuditError(
            f"cannot open the audit log {self.path}: {_why(last, self.path.parent)}"
        ) from None

    def _move_aside(self, cause: BaseException) -> None:
        """Keep a damaged log (and its -wal and -shm) under a new name, all or nothing."""
        stamp = int(time.time())
        aside = self.path.with_name(f"{self.path.name}.broken-{stamp}")
        n = 0
        while any(Path(f"{aside}{end}").exists() for end in ("", *_SIDE_FILES)):
            n += 1
            aside = self.path.with_name(f"{self.path.name}.broken-{stamp}-{n}")
        moved: list[tuple[Path, Path]] = []
        try:
            # The side files first: a -wal left beside a new log would be replayed into it.
            for end in (*_SIDE_FILES, ""):
                src, dst = Path(f"{self.path}{end}"), Path(f"{aside}{end}")
                if src.exists():
                    src.rename(dst)
                    moved.append((src, dst))
        except OSError as exc:
            for src, dst in reversed(moved):
                try:
                    dst.rename(src)
                except OSError:
                    log.error("could not put %s back as %s", dst, src)
            raise AuditError(
                f"the audit log {self.path} is damaged ({cause}) and cannot be moved aside: "
                f"{_why(exc, self.path.parent)}"
            ) from None
        log.warning("audit log %s damaged (%s); kept it as %s", self.path, cause, aside)
        self.note = f"The audit log was damaged ({cause}); kept it as {aside.name}"

    def intent(
        self,
        *,
        source: str,
        action: str,
        target: str,
        before: str,
        after: str,
        params: dict[str, Any] | None = None,
        user: str | None = None,
    ) -> int:
        """Record that a write is about to be sent; durable when this returns."""
        import getpass

        row = (
            time.time(),
            user or getpass.getuser(),
            socket.gethostname(),
            os.getpid(),
            redact(source),
            action,
            redact(target),
            redact(before),
            redact(after),
            json.dumps(_redacted(params or {}), sort_keys=True),
        )
        if self.read_only:
            raise AuditError(f"cannot write the audit log {self.path}: {self.read_only}")
        with self._lock:
            try:
                cur = self._conn.execute(
                    "INSERT INTO audit (started, user, host, pid, source, action, target,"
                    " before, after, params) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.Error as exc:
                raise AuditError(
                    f"cannot write the audit log {self.path}: {_why(exc, self.path.parent)}"
                ) from None
            audit_id = int(cur.lastrowid or 0)
        _IN_FLIGHT.add((str(self.path), audit_id))
        return audit_id

    def outcome(self, audit_id: int, status: str, message: str | None = None) -> None:
        """Record how an intent ended. A later outcome replaces 'unknown' and keeps its note."""
        with self._lock:
            prev = self._conn.execute(
                "SELECT outcome, message FROM audit WHERE id = ?", (audit_id,)
            ).fetchone()
            if prev is not None and prev[0] == "unknown" and status != "unknown":
                message = f"{message or status} (earlier: unknown - {prev[1] or ''})"
            text = redact(message) if message else None
            error = None if status in ("ok", "noop") else text
            try:
                self._conn.execute(
                    "UPDATE audit SET outcome = ?, message = ?, error = ?, finished = ?"
                    " WHERE id = ?",
                    (status, text, error, time.time(), audit_id),
                )
            except sqlite3.Error as exc:
                raise AuditError(
                    f"cannot write the audit log {self.path}: {_why(exc, self.path.parent)}"
                ) from None
            finally:
                _IN_FLIGHT.discard((str(self.path), audit_id))

    def records(self, *, since: float | None = None, limit: int = 1000) -> list[AuditRecord]:
        """Records newest first, optionally only those started at or after `since`."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM audit WHERE started >= ? ORDER BY id DESC LIMIT ?",
                (since or 0, limit),
            ).fetchall()
        return [self._record(r) for r in rows]

    def get(self, audit_id: int) -> AuditRecord | None:
        """One record, or None."""
        with self._lock:
            r = self._conn.execute(
                f"SELECT {_COLUMNS} FROM audit WHERE id = ?",
                (audit_id,),
            ).fetchone()
        return self._record(r) if r else None

    def _record(self, r: tuple) -> AuditRecord:
        fields = (*r[:11], json.loads(r[11]), *r[12:15], str(self.path))
        return AuditRecord(*fields)

    def unresolved(self) -> list[AuditRecord]:
        """Intents whose outcome nobody knows: no outcome and no live process, or 'unknown'."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM audit WHERE outcome IS NULL OR outcome = 'unknown'"
                " ORDER BY id"
            ).fetchall()
        found = [self._record(r) for r in rows]
        return [r for r in found if r.state == "unknown"]

    def count(self) -> int:
        """How many records the log holds."""
        with self._lock:
            return self._conn.execute("SELECT count(*) FROM audit").fetchone()[0]

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._conn.close()
