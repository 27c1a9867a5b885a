"""GPU devices, samples and processes in the cache: writes for the sync, reads for the pane.

Times are whole seconds since the epoch; memory is in MiB, power in W, temperature in C,
utilisation in %. A value a source could not give (NVML's NotSupported, a missing DCGM series)
is NULL, shown as n/a. Every read walks a primary key (host, uuid, at) range or the small
devices table, so "the latest sample per GPU as of 03:12" costs one index seek per GPU however
long the history is.

History is bounded in `prune`: samples and allocations older than the retention go, and local
(NVML, 1 Hz) samples older than an hour are thinned to one per minute.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from mlopstui.cache import syncs
from mlopstui.domain.gpus import GpuDevice, GpuProcess, GpuSample

FINE_WINDOW = 3600
"""Seconds of full-resolution history kept for thinned sources (the sparklines' hour)."""
COARSE_STEP = 60
"""Older samples of thinned sources keep one per this many seconds."""
THINNED_SOURCES = ("nvml",)
_THIN_STATE = ("gpu-history", "thinned_until")
_NOTE_KEY = "note"


# -- writes (the sync side, inside a writer transaction)


def store_samples(conn: sqlite3.Connection, source: str, samples: Iterable[GpuSample]) -> int:
    """Upsert the samples' devices and insert the samples; returns how many were stored.

    A sample with `error` marks its device (the error is cleared by the next good sample); a
    device's product and index survive a sample that does not know them (a lost GPU)."""
    devices: dict[tuple[str, str], GpuSample] = {}
    rows = []
    for s in samples:
        key = (s.host, s.uuid)
        prev = devices.get(key)
        if prev is None or s.at >= prev.at:
            devices[key] = s
        rows.append((s.host, s.uuid, s.at, s.util, s.mem_used, s.mem_total, s.temp, s.power))
    conn.executemany(
        """INSERT INTO gpu_devices (host, uuid, gpu_index, product, source, last_seen, error)
           VALUES (?, ?, coalesce(?, 0), ?, ?, ?, ?)
           ON CONFLICT (host, uuid) DO UPDATE SET
               gpu_index = CASE WHEN ?3 IS NULL THEN gpu_index ELSE excluded.gpu_index END,
               product = CASE WHEN excluded.product = '' THEN product ELSE excluded.product END,
               source = excluded.source,
               last_seen = max(coalesce(last_seen, 0), excluded.last_seen),
               error = excluded.error""",
        [
            (s.host, s.uuid, s.index, s.product, source, float(s.at), s.error)
            for s in devices.values()
        ],
    )
    conn.executemany(
        """INSERT OR REPLACE INTO gpu_samples (host, uuid, at, util, mem_used, mem_total, temp,
           power) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        rows,
    )
    return len(rows)


def store_processes(conn: sqlite3.Connection, host: str, processes: Iterable[GpuProcess]) -> int:
    """Replace the host's GPU processes with this snapshot; returns how many."""
    conn.execute("DELETE FROM gpu_processes WHERE host = ?", (host,))
    rows = [
        (host, p.uuid, p.pid, p.index, p.kind, p.user, p.command, p.used_mem, p.at)
        for p in processes
    ]
    conn.executemany(
        """INSERT OR REPLACE INTO gpu_processes (host, uuid, pid, gpu_index, kind, user, command,
           used_mem, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        rows,
    )
    return len(rows)


def set_note(conn: sqlite3.Connection, source: str, note: str | None) -> None:
    """Remember (or clear) a quiet note about a source, e.g. "NVML not found ..."."""
    syncs.set_state(conn, source, _NOTE_KEY, note)


def prune(
    conn: sqlite3.Connection,
    older_than: float,
    *,
    thin_before: float | None = None,
    thin_sources: tuple[str, ...] = THINNED_SOURCES,
    step: int = COARSE_STEP,
) -> int:
    """Apply retention and thinning; returns how many rows went.

    - gpu_samples and gpu_allocations older than `older_than` go, except each node's newest
      allocation row (allocations are written when they change: that row is still the node's
      state) unless it says the node was deleted; devices not seen since then go too.
    - Samples of `thin_sources` devices older than `thin_before` (default: no thinning) keep
      the first sample of each `step`-second bucket. A watermark in sync_state makes each
      call thin only what is new since the last one.
    """
    cutoff = int(older_than)
    gone = conn.execute("DELETE FROM gpu_samples WHERE at < ?", (cutoff,)).rowcount
    gone += conn.execute(
        """DELETE FROM gpu_allocations WHERE at < ?1 AND (present = 0 OR at < (
               SELECT max(a.at) FROM gpu_allocations AS a
               WHERE a.context = gpu_allocations.context AND a.node = gpu_allocations.node))""",
        (cutoff,),
    ).rowcount
    gone += conn.execute("DELETE FROM gpu_devices WHERE last_seen < ?", (cutoff,)).rowcount
    if thin_before is None or not thin_sources:
        return gone
    until = int(thin_before) - int(thin_before) % step  # whole buckets only
    mark = syncs.get_state(conn, *_THIN_STATE)
    since = max(cutoff, int(mark) if mark else 0)
    since -= since % step
    if until <= since:
        return gone
    marks = ",".join("?" * len(thin_sources))
    devices = conn.execute(
        f"SELECT host, uuid FROM gpu_devices WHERE source IN ({marks})", thin_sources
    ).fetchall()
    for host, uuid in devices:
        gone += conn.execute(
            """DELETE FROM gpu_samples
               WHERE host = ?1 AND uuid = ?2 AND at >= ?3 AND at < ?4 AND at > (
                   SELECT min(s.at) FROM gpu_samples AS s
                   WHERE s.host = ?1 AND s.uuid = ?2
                     AND s.at >= gpu_samples.at - gpu_samples.at % ?5
                     AND s.at < gpu_samples.at - gpu_samples.at % ?5 + ?5)""",
            (host, uuid, since, until, step),
        ).rowcount
    syncs.set_state(conn, *_THIN_STATE, str(until))
    return gone


# -- reads (the pane, the CLI; any connection)

_SAMPLE_COLS = "s.host, s.uuid, s.at, d.gpu_index, d.product, s.util, s.mem_used, s.mem_total, "
_SAMPLE_COLS += "s.temp, s.power"


def devices(conn: sqlite3.Connection, host: str | None = None) -> list[GpuDevice]:
    """Known GPUs (of one host, or all), by host and index."""
    sql = "SELECT host, uuid, gpu_index, product, source, last_seen, error FROM gpu_devices"
    args: tuple = ()
    if host is not None:
        sql += " WHERE host = ?"
        args = (host,)
    rows = conn.execute(sql + " ORDER BY host, gpu_index, uuid", args)
    return [GpuDevice(*r) for r in rows]


def latest(
    conn: sqlite3.Connection, host: str | None = None, as_of: float | None = None
) -> list[GpuSample]:
    """Each GPU's newest sample at or before `as_of` (default: the newest of all), by host and
    index. A GPU with no sample by then is left out. `error` is the device's current error,
    given only for the present (as_of None): the cache keeps no history of errors."""
    where = ""
    args: list[object] = []
    if host is not None:
        where = "WHERE d.host = ?"
        args.append(host)
    bound = "AND at <= ?" if as_of is not None else ""
    if as_of is not None:
        args.insert(0, int(as_of))
    rows = conn.execute(
        f"""SELECT {_SAMPLE_COLS}, d.error FROM gpu_devices AS d
            JOIN gpu_samples AS s ON s.host = d.host AND s.uuid = d.uuid AND s.at = (
                SELECT max(at) FROM gpu_samples
                WHERE host = d.host AND uuid = d.uuid {bound})
            {where} ORDER BY d.host, d.gpu_index, d.uuid""",
        args,
    )
    out = []
    for r in rows:
        error = r[10] if as_of is None else None
        host, uuid, at, index, product, util, mem_used, mem_total, temp, power = r[:10]
        out.append(
            GpuSample(host, uuid, at, index, product, util, mem_used, mem_total, temp, power, error)
        )
    return out


def history(
    conn: sqlite3.Connection, host: str, uuid: str, since: float, until: float | None = None
) -> list[GpuSample]:
    """One GPU's samples in [since, until], oldest first (for a sparkline of the last hour)."""
    args: list = [host, uuid, int(since)]
    bound = ""
    if until is not None:
        bound = "AND s.at <= ?"
        args.append(int(until))
    rows = conn.execute(
        f"""SELECT {_SAMPLE_COLS} FROM gpu_samples AS s
            LEFT JOIN gpu_devices AS d ON d.host = s.host AND d.uuid = s.uuid
            WHERE s.host = ? AND s.uuid = ? AND s.at >= ? {bound} ORDER BY s.at""",
        args,
    )
    return [GpuSample(*r) for r in rows]


def peak_util(
    conn: sqlite3.Connection, since: float, until: float | None = None, host: str | None = None
) -> dict[tuple[str, str], float | None]:
    """Each GPU's highest utilisation in [since, until], keyed by (host, uuid): below the busy
    threshold for the whole idle window means idle. GPUs without samples then are left out."""
    args: list = [int(since)]
    bound = ""
    if until is not None:
        bound = "AND s.at <= ?"
        args.append(int(until))
    where = ""
    if host is not None:
        where = "WHERE d.host = ?"
        args.append(host)
    rows = conn.execute(
        f"""SELECT d.host, d.uuid, max(s.util), count(s.at) FROM gpu_devices AS d
            JOIN gpu_samples AS s ON s.host = d.host AND s.uuid = d.uuid
                AND s.at >= ? {bound}
            {where} GROUP BY d.host, d.uuid""",
        args,
    )
    return {(r[0], r[1]): r[2] for r in rows if r[3]}


def processes(conn: sqlite3.Connection, host: str | None = None) -> list[GpuProcess]:
    """GPU processes as last seen, by host, GPU index and most memory first."""
    sql = """SELECT host, uuid, gpu_index, pid, kind, user, command, used_mem, at
             FROM gpu_processes"""
    args: tuple = ()
    if host is not None:
        sql += " WHERE host = ?"
        args = (host,)
    sql += " ORDER BY host, gpu_index, coalesce(used_mem, -1) DESC, pid"
    return [GpuProcess(*r) for r in conn.execute(sql, args)]


def last_sample_at(conn: sqlite3.Connection, source: str) -> int | None:
    """The newest sample time of any GPU of a source (where a backfill resumes)."""
    row = conn.execute(
        """SELECT max((SELECT max(at) FROM gpu_samples AS s
                       WHERE s.host = d.host AND s.uuid = d.uuid))
           FROM gpu_devices AS d WHERE d.source = ?""",
        (source,),
    ).fetchone()
    return row[0] if row else None


def note(conn: sqlite3.Connection, source: str) -> str | None:
    """A quiet note about a source (e.g. "NVML not found (no NVIDIA driver on this host)")."""
    return syncs.get_state(conn, source, _NOTE_KEY)
