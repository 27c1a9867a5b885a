"""Per-scope view state (sort, columns, filter) remembered across restarts.

View state is the one thing the UI writes to the cache. It goes through a short-lived writer
connection of its own: WAL lets it commit beside the sync writer without blocking readers.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any


def load(conn: sqlite3.Connection, scope: str) -> dict[str, Any]:
    """The saved state for a scope (e.g. 'runs:<experiment_id>'), or {}."""
    row = conn.execute("SELECT state FROM view_state WHERE scope = ?", (scope,)).fetchone()
    if not row:
        return {}
    try:
        state = json.loads(row[0])
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def save(path: Path, scope: str, state: dict[str, Any]) -> None:
    """Persist the state for a scope."""
    conn = sqlite3.connect(path, timeout=5)
    try:
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO view_state (scope, state) VALUES (?, ?)",
                (scope, json.dumps(state)),
            )
    finally:
        conn.close()
