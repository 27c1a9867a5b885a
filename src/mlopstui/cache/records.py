"""Records of plugin sources: JSON objects by (source, kind, key), without a schema of their own.

A team's source writes one kind of record (e.g. "teams") as a whole snapshot (`replace_records`) or row by row
(`put_record`); its pane reads them back in key order (`records`). Values are plain JSON
objects; the cache never interprets them.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Mapping
from typing import Any


def replace_records(
    conn: sqlite3.Connection,
    source: str,
    kind: str,
    rows: Iterable[tuple[str, Mapping[str, Any]]],
) -> int:
    """Make `rows` ((key, value) pairs) the whole of a source's kind of record; returns rows written."""
    now = time.time()
    conn.execute("DELETE FROM source_records WHERE source = ? AND kind = ?", (source, kind))
    data = [(source, kind, str(k), json.dumps(dict(v), sort_keys=True), now) for k, v in rows]
    conn.executemany(
        "INSERT OR REPLACE INTO source_records (source, kind, key, value, updated)"
        " VALUES (?, ?, ?, ?, ?)",
        data,
    )
    return len(data)


def put_record(
    conn: sqlite3.Connection, source: str, kind: str, key: str, value: Mapping[str, Any]
) -> None:
    """Insert or replace one record."""
    conn.execute(
        "INSERT OR REPLACE INTO source_records (source, kind, key, value, updated)"
        " VALUES (?, ?, ?, ?, ?)",
        (source, kind, str(key), json.dumps(dict(value), sort_keys=True), time.time()),
    )


def records(conn: sqlite3.Connection, source: str, kind: str) -> list[tuple[str, dict[str, Any]]]:
    """A source's kind as (key, value) pairs in key order ([] when nothing was stored)."""
    rows = conn.execute(
        "SELECT key, value FROM source_records WHERE source = ? AND kind = ? ORDER BY key",
        (source, kind),
    )
    out = []
    for key, value in rows:
        try:
            parsed = json.loads(value)
        except ValueError:  # a damaged row loses itself only
            continue
        if isinstance(parsed, dict):
            out.append((key, parsed))
    return out
