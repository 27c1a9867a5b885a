"""The model registry in the cache: the sync replaces it whole; panes read models, versions
and the history of alias moves.

MLflow keeps no history of where an alias pointed, so the sync compares each snapshot with
the cached one and records every move it notices; the action pipeline records the moves this
tool makes (with who made them) before the next sync would notice them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from mlopstui.domain import AliasMove, ModelVersion, RegisteredModel

_HISTORY_KEEP = 5000  # alias moves kept in the cache (the audit log keeps this tool's forever)


@dataclass(frozen=True)
class RegistryDiff:
    """What a snapshot changed: whether anything did, and the alias moves it recorded."""

    changed: bool
    moves: list[AliasMove]


def version_number(version: str) -> int:
    """A version's numeric order (MLflow versions are integers; anything else sorts first)."""
    try:
        return int(version)
    except (TypeError, ValueError):
        return -1


# ---------------------------------------------------------------- writes (sync/actions only)


def replace_registry(
    conn: sqlite3.Connection,
    models: Sequence[RegisteredModel],
    versions: Sequence[ModelVersion],
    *,
    now: float,
    keep_models: Collection[str] = (),
    keep_versions: Collection[tuple[str, str]] = (),
) -> RegistryDiff:
    """Replace the cached registry with a full snapshot and record the alias moves it shows.

    `keep_models` and `keep_versions` ((name, version)) are entries the snapshot could not
    read (the server sent them, but not in a shape we parse): their cached rows stay as they
    were rather than vanish, until the server sends them readably or without them. A name or
    version of "" (the entry had none) keeps every cached one the snapshot lacks.

    A move is recorded only when the newest recorded move of that alias does not already end
    where the alias now points (the pipeline records its own moves first, with who made
    them). Aliases of a model cached for the first time are recorded as 'seen'.
    """
    before = {
        name: json.loads(aliases)
        for name, aliases in conn.execute("SELECT name, aliases FROM registered_models")
    }
    old_rows = conn.execute(
        "SELECT name, description, tags, aliases, latest_version, version_count, creation_time,"
        " last_updated FROM registered_models ORDER BY name"
    ).fetchall()
    old_versions = conn.execute(
        "SELECT name, version, status, run_id, source, creation_time, last_updated,"
        " description, tags FROM model_versions ORDER BY name, version_num, version"
    ).fetchall()
    parsed_models = {m.name for m in models}
    parsed_versions = {(v.name, v.version) for v in versions}
    # An entry skipped without a name (or a version without its number) could be any of
    # them: then every cached one not in the snapshot stays (of that model, for a version).
    any_model = "" in keep_models
    keep_v = set(keep_versions)
    whole = {name for name, version in keep_v if not version}

    def kept_version(name: str, version: str) -> bool:
        return (name, version) in keep_v or name in whole or "" in whole

    kept_models = [
        tuple(r)
        for r in old_rows
        if (any_model or r[0] in keep_models) and r[0] not in parsed_models
    ]
    kept_versions = [
        tuple(r)
        for r in old_versions
        if kept_version(r[0], r[1]) and (r[0], r[1]) not in parsed_versions
    ]
    counts: dict[str, int] = {}
    for v in versions:
        counts[v.name] = counts.get(v.name, 0) + 1
    model_rows = sorted(
        (
            m.name,
            m.description or "",
            json.dumps(m.tags, sort_keys=True),
            json.dumps(m.aliases, sort_keys=True),
            m.latest_version,
            counts.get(m.name, m.version_count),
            m.creation_time,
            m.last_updated,
        )
        for m in models
    )
    model_rows = sorted([*model_rows, *kept_models])
    version_rows = sorted(
        (
            (
                v.name,
                v.version,
                v.status,
                v.run_id,
                v.source,
                v.creation_time,
                v.last_updated,
                v.description or "",
                json.dumps(v.tags, sort_keys=True),
            )
            for v in versions
        ),
        key=lambda r: (r[0], version_number(r[1]), r[1]),
    )
    version_rows = sorted(
        [*version_rows, *kept_versions], key=lambda r: (r[0], version_number(r[1]), r[1])
    )
    changed = [tuple(r) for r in old_rows] != model_rows or [
        tuple(r) for r in old_versions
    ] != version_rows
    moves: list[AliasMove] = []
    for m in models:
        old = before.get(m.name)
        how = "seen" if old is None else "observed"
        old = old or {}
        for alias in sorted(set(old) | set(m.aliases)):
            src, dst = old.get(alias), m.aliases.get(alias)
            if src == dst:
                continue
            last = last_move(conn, m.name, alias)
            if last is not None and last.to_version == dst:
                continue
            moves.append(AliasMove(m.name, alias, src, dst, now, "", how))
    if not changed and not moves:
        return RegistryDiff(False, [])
    conn.execute("DELETE FROM registered_models")
    conn.execute("DELETE FROM model_versions")
    conn.executemany("INSERT INTO registered_models VALUES (?, ?, ?, ?, ?, ?, ?, ?)", model_rows)
    conn.executemany(
        "INSERT INTO model_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(r[0], r[1], version_number(r[1]), *r[2:]) for r in version_rows],
    )
    for move in moves:
        record_alias_move(conn, move)
    return RegistryDiff(True, moves)


def record_alias_move(conn: sqlite3.Connection, move: AliasMove) -> None:
    """Append one alias move (and trim the oldest beyond what the cache keeps)."""
    conn.execute(
        "INSERT INTO alias_history (model, alias, from_version, to_version, at, who, how)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (move.model, move.alias, move.from_version, move.to_version, move.at, move.who, move.how),
    )
    conn.execute(
        "DELETE FROM alias_history WHERE id <= (SELECT id FROM alias_history"
        " ORDER BY id DESC LIMIT 1 OFFSET ?)",
        (_HISTORY_KEEP,),
    )


def set_alias(conn: sqlite3.Connection, model: str, alias: str, version: str | None) -> None:
    """Point (or, with None, remove) a cached alias after an action verified the change."""
    row = conn.execute("SELECT aliases FROM registered_models WHERE name = ?", (model,)).fetchone()
    if row is None:
        return
    aliases = json.loads(row[0])
    if version is None:
        aliases.pop(alias, None)
    else:
        aliases[alias] = version
    conn.execute(
        "UPDATE registered_models SET aliases = ? WHERE name = ?",
        (json.dumps(aliases, sort_keys=True), model),
    )


def set_version_tags(
    conn: sqlite3.Connection, model: str, version: str, tags: dict[str, str]
) -> None:
    """Replace a cached version's tags after an action verified the change."""
    conn.execute(
        "UPDATE model_versions SET tags = ? WHERE name = ? AND version = ?",
        (json.dumps(tags, sort_keys=True), model, version),
    )


# ---------------------------------------------------------------- reads


def _model(row: sqlite3.Row | tuple) -> RegisteredModel:
    return RegisteredModel(
        name=row[0],
        description=row[1],
        tags=json.loads(row[2]),
        aliases=json.loads(row[3]),
        latest_version=row[4],
        version_count=row[5],
        creation_time=row[6],
        last_updated=row[7],
    )


_MODEL_COLS = (
    "name, description, tags, aliases, latest_version, version_count, creation_time, last_updated"
)


def models(conn: sqlite3.Connection) -> list[RegisteredModel]:
    """Every cached registered model, by name."""
    return [
        _model(r)
        for r in conn.execute(f"SELECT {_MODEL_COLS} FROM registered_models ORDER BY name")
    ]


def model(conn: sqlite3.Connection, name: str) -> RegisteredModel | None:
    """One cached model, or None."""
    row = conn.execute(
        f"SELECT {_MODEL_COLS} FROM registered_models WHERE name = ?", (name,)
    ).fetchone()
    return _model(row) if row else None


def versions(conn: sqlite3.Connection, name: str) -> list[ModelVersion]:
    """A model's versions, newest first, each with the aliases pointing at it."""
    found = model(conn, name)
    by_version: dict[str, list[str]] = {}
    for alias, version in sorted((found.aliases if found else {}).items()):
        by_version.setdefault(version, []).append(alias)
    rows = conn.execute(
        "SELECT name, version, status, run_id, source, creation_time, last_updated,"
        " description, tags FROM model_versions WHERE name = ?"
        " ORDER BY version_num DESC, version DESC",
        (name,),
    )
    return [
        ModelVersion(
            name=r[0],
            version=r[1],
            status=r[2],
            run_id=r[3],
            source=r[4],
            creation_time=r[5],
            last_updated=r[6],
            description=r[7],
            tags=json.loads(r[8]),
            aliases=tuple(by_version.get(r[1], ())),
        )
        for r in rows
    ]


def version(conn: sqlite3.Connection, name: str, number: str) -> ModelVersion | None:
    """One cached version, or None."""
    return next((v for v in versions(conn, name) if v.version == number), None)


def alias_history(
    conn: sqlite3.Connection,
    model: str | None = None,
    alias: str | None = None,
    *,
    limit: int = 500,
) -> list[AliasMove]:
    """Recorded alias moves, newest first, optionally for one model and alias."""
    where, args = [], []
    if model is not None:
        where.append("model = ?")
        args.append(model)
    if alias is not None:
        where.append("alias = ?")
        args.append(alias)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    rows = conn.execute(
        "SELECT model, alias, from_version, to_version, at, who, how FROM alias_history"
        f" {clause} ORDER BY id DESC LIMIT ?",
        (*args, limit),
    )
    return [AliasMove(*r) for r in rows]


def last_move(conn: sqlite3.Connection, model: str, alias: str) -> AliasMove | None:
    """The newest recorded move of one alias, or None."""
    found = alias_history(conn, model, alias, limit=1)
    return found[0] if found else None
