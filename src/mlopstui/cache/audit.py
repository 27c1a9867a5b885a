"""The audit log: one durable record per write this tool attempts, in its own database.

An intent is committed with `synchronous=FULL` before the request is sent, and its outcome is
written when the pipeline knows it. An intent without an outcome whose process is gone (killed,
crashed, power cut) is shown as "outcome unknown - verify" until someone verifies it. It lives
with the user's data, not the cache: a rebuilt cache never takes the audit log with it.
Nothing secret goes in: sources are recorded without credentials.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlopstui import paths
from mlopstui.text import redact

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


class AuditLog:
    """The audit database; safe to use from several threads (one connection, one lock)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or paths.audit_file()
        self.note: str | None = None
        self._lock = threading.Lock()
        try:
            paths.ensure_private_dir(self.path.parent)
            self._conn = self._open()
        except sqlite3.DatabaseError as exc:
            if not self.path.exists() or "locked" in str(exc):
                raise AuditError(f"cannot open the audit log {self.path}: {exc}") from None
            aside = self.path.with_name(f"{self.path.name}.broken-{int(time.time())}")
            self.path.rename(aside)
            self.note = f"The audit log was unreadable ({exc}); kept it as {aside.name}"
            self._conn = self._open()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 5000")
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id != APPLICATION_ID and (app_id or tables):
            conn.close()
            raise sqlite3.DatabaseError("it is not an mlopstui audit log")
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a committed intent survives a power cut, before the request goes out.
        conn.execute("PRAGMA synchronous = FULL")
        conn.executescript(f"PRAGMA application_id = {APPLICATION_ID};" + _SCHEMA)
        paths.make_private_file(self.path)
        return conn

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
        with self._lock:
            try:
                cur = self._conn.execute(
                    "INSERT INTO audit (started, user, host, pid, source, action, target,"
                    " before, after, params) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
            except sqlite3.Error as exc:
                raise AuditError(f"cannot write the audit log {self.path}: {exc}") from None
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
            self._conn.execute(
                "UPDATE audit SET outcome = ?, message = ?, error = ?, finished = ? WHERE id = ?",
                (status, text, error, time.time(), audit_id),
            )
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
