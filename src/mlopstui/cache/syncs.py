"""Sync bookkeeping: every sync attempt is a row; freshness and watermarks derive from them."""

from __future__ import annotations

import sqlite3

from mlopstui.domain import Freshness, SyncRecord

_KEEP_RECORDS = 2000  # per source: enough for an incident timeline, small enough to not grow.


def record_sync(conn: sqlite3.Connection, rec: SyncRecord) -> None:
    """Append one sync attempt (and trim old ones)."""
    conn.execute(
        """INSERT INTO sync_runs (source, topic, started, finished, ok, error, rows)
           VALUES (?, ?, ?, ?, ?, ?, ?)""",
        (rec.source, rec.job, rec.started, rec.finished, int(rec.ok), rec.error, rec.rows),
    )
    conn.execute(
        """DELETE FROM sync_runs WHERE source = ? AND id <= (
               SELECT id FROM sync_runs WHERE source = ? ORDER BY id DESC LIMIT 1 OFFSET ?)""",
        (rec.source, rec.source, _KEEP_RECORDS),
    )


def freshness(conn: sqlite3.Connection, source: str) -> Freshness:
    """When the source last synced fine, and since when it has been failing (if it is)."""
    # Data age counts data syncs only; any success (a heartbeat too) ends a failure streak.
    last_data, last_any = conn.execute(
        """SELECT max(CASE WHEN topic != 'health' THEN finished END), max(finished)
           FROM sync_runs WHERE source = ? AND ok = 1""",
        (source,),
    ).fetchone()
    fail = conn.execute(
        """SELECT min(started), (SELECT error FROM sync_runs WHERE source = ?1 AND ok = 0
                                 ORDER BY id DESC LIMIT 1)
           FROM sync_runs WHERE source = ?1 AND ok = 0 AND started > coalesce(?2, 0)""",
        (source, last_any),
    ).fetchone()
    return Freshness(source, last_data, fail[0], fail[1] if fail[0] is not None else None)


def recent_syncs(conn: sqlite3.Connection, source: str, limit: int = 20) -> list[SyncRecord]:
    """The latest sync attempts of a source, newest first."""
    rows = conn.execute(
        """SELECT source, topic, started, finished, ok, error, rows FROM sync_runs
           WHERE source = ? ORDER BY id DESC LIMIT ?""",
        (source, limit),
    )
    return [SyncRecord(r[0], r[1], r[2], r[3], bool(r[4]), r[5], r[6]) for r in rows]


def get_state(conn: sqlite3.Connection, source: str, key: str) -> str | None:
    """A sync watermark or other per-source state."""
    row = conn.execute(
        "SELECT value FROM sync_state WHERE source = ? AND key = ?", (source, key)
    ).fetchone()
    return row[0] if row else None


def set_state(conn: sqlite3.Connection, source: str, key: str, value: str | None) -> None:
    """Store a sync watermark or other per-source state."""
    conn.execute(
        "INSERT OR REPLACE INTO sync_state (source, key, value) VALUES (?, ?, ?)",
        (source, key, value),
    )
