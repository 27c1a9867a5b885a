"""Really damage a cache file in the middle, the way a bad sector or a torn write does.

`damage_table(path, "runs")` overwrites the cell content of one leaf page of a table's b-tree
in the middle of the file with garbage, leaving the file header, the schema and the page's own
header intact: opening the cache (and `SELECT count(*)`, which reads only page headers) still
works, and the first query that reads those rows fails with "database disk image is malformed".

Connections that stay open keep clean copies of the page in their caches; `invalidate(path)`
commits an unrelated write through a connection of its own, which makes every other connection
drop its cache (WAL) and read the damaged page from the file at its next query.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

GARBAGE = bytes(range(256))


def leaf_pages(path: Path, table: str) -> list[int]:
    """The page numbers of the table's b-tree leaves (SQLite's dbstat), in file order."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY pageno",
            (table,),
        ).fetchall()
    finally:
        conn.close()
    return [r[0] for r in rows]


def damage_table(path: Path, table: str = "runs") -> int:
    """Checkpoint the WAL into the file, then overwrite the second half of a middle leaf page
    of `table` (its cell content) with garbage. Returns the page number damaged."""
    conn = sqlite3.connect(path)
    try:
        busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        assert busy == 0, "the checkpoint was blocked by an open read transaction"
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    pages = leaf_pages(path, table)
    assert pages, f"{table} has no leaf pages to damage"
    page = pages[len(pages) // 2]
    half = page_size // 2
    with open(path, "r+b") as f:
        f.seek((page - 1) * page_size + half)
        f.write((GARBAGE * (half // len(GARBAGE) + 1))[:half])
    assert (page - 1) * page_size > 100, "the damage must not touch the file header"
    return page


def invalidate(path: Path) -> None:
    """Commit an unrelated write so every open connection re-reads pages from the file."""
    conn = sqlite3.connect(path, timeout=5)
    try:
        with conn:
            conn.execute(
                "INSERT OR REPLACE INTO view_state (scope, state) VALUES ('damage-test', '{}')"
            )
    finally:
        conn.close()


def is_damaged(path: Path, table: str = "runs") -> bool:
    """Whether reading every row of `table` fails as damage."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - a test's own name
    except sqlite3.DatabaseError as exc:
        return "malformed" in str(exc)
    finally:
        conn.close()
    return False
