"""Sync bookkeeping: every sync attempt is a row; freshness and watermarks derive from them."""

from __future__ import annotations

import sqlite3

from mlopstui.domain import Freshness, JobFreshness, SyncRecord

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


HEARTBEAT_JOBS = frozenset({"health"})
"""Jobs that only check liveness: their successes are not data."""
_STALE_JOB = 24 * 3600.0
"""A job whose last attempt is this much older than its feed's newest is no longer run (a
renamed job, a plugin since fixed): its old failure streak no longer counts."""


def job_freshness(conn: sqlite3.Connection, feed: str) -> list[JobFreshness]:
    """Each job of a feed: its last success and its current failure streak (from the records;
    a streak ends only with a success of the same job)."""
    rows = conn.execute(
        """WITH per AS (
               SELECT topic, max(id) AS last_id, max(CASE WHEN ok = 1 THEN id END) AS ok_id,
                      max(CASE WHEN ok = 1 THEN finished END) AS last_ok
               FROM sync_runs WHERE source = ?1 GROUP BY topic)
           SELECT per.topic, per.last_ok, last.ok, last.error,
                  coalesce(last.finished, last.started),
                  (SELECT min(f.started) FROM sync_runs f
                   WHERE f.source = ?1 AND f.topic = per.topic AND f.ok = 0
                     AND f.id > coalesce(per.ok_id, 0))
           FROM per JOIN sync_runs last ON last.id = per.last_id""",
        (feed,),
    ).fetchall()
    return [
        JobFreshness(
            job,
            last_ok,
            None if ok else since,
            None if ok else error,
            attempt,
            heartbeat=job in HEARTBEAT_JOBS,
        )
        for job, last_ok, ok, error, attempt, since in rows
    ]


def freshness(conn: sqlite3.Connection, feed: str) -> Freshness:
    """When the feed last synced fine, and since when it has been failing (if it is): the worst
    of its jobs. A heartbeat's success ends only the heartbeat's own failure streak."""
    jobs = job_freshness(conn, feed)
    newest = max((j.last_attempt or 0.0 for j in jobs), default=0.0)
    current = [j for j in jobs if (j.last_attempt or 0.0) >= newest - _STALE_JOB]
    return Freshness.of(feed, current)


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
