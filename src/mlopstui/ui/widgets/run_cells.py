"""Pure rendering of run cells: column labels, widths and cell text. Tested without a UI."""

from __future__ import annotations

from mlopstui import text, timefmt
from mlopstui.cache.runs import RunRow, split_column

LABELS = {
    "name": "Name",
    "status": "Status",
    "start_time": "Start",
    "end_time": "End",
    "duration": "Duration",
    "user": "User",
    "source": "Source",
}
WIDTHS = {
    "name": 0,  # flexible
    "status": 8,
    "start_time": 11,
    "end_time": 11,
    "duration": 8,
    "user": 10,
    "source": 14,
}


def label(column: str) -> str:
    """Header text of a column: 'Start', 'val_acc', 'lr'; 'min'/'max' right after a metric."""
    kind, key, agg = split_column(column)
    if not kind:
        return LABELS.get(key, key)
    return agg or text.clean(key)


def width(column: str) -> int:
    """Fixed width of a column (0: takes what is left)."""
    kind, _key, _agg = split_column(column)
    if not kind:
        return WIDTHS.get(column, 10)
    return 10 if kind == "metrics" else 12


def fit(columns: list[str], total: int, min_name: int = 18) -> tuple[list[tuple[str, int]], int]:
    """Choose the columns that fit `total` cells (one space between) and their widths.

    Returns them and how many were left out. The flexible `name` column takes the spare width
    (or the last column does when `name` is not shown).
    """
    out: list[list] = []
    used = 0
    for col in columns:
        need = (width(col) or min_name) + (1 if out else 0)
        if used + need > total:
            break
        out.append([col, width(col)])
        used += need
    spare = total - used
    flex = next((i for i, (_c, w) in enumerate(out) if w == 0), None)
    if flex is not None:
        out[flex][1] = min_name + spare
    elif out:
        out[-1][1] += spare
    return [(c, w) for c, w in out], len(columns) - len(out)


def cell(row: RunRow, column: str, now_ms: int) -> str:
    """The text of one cell (sanitised)."""
    kind, key, agg = split_column(column)
    if not kind:
        if key == "start_time":
            return timefmt.clock(row.start_time)[5:]
        if key == "end_time":
            return timefmt.clock(row.end_time)[5:]
        if key == "duration":
            if row.duration is not None:
                return timefmt.duration(row.duration)
            if row.status == "RUNNING" and row.start_time:
                return timefmt.duration(now_ms - row.start_time)
            return ""
        if key == "source":
            return text.clean(row.source.rsplit("/", 1)[-1])
        return text.clean(getattr(row, key, ""))
    value = row.values.get(column if not agg else f"metrics.{key}.{agg}")
    if value is None:
        return ""
    if kind == "metrics":
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    return text.clean(value)


def clip(value: str, w: int) -> str:
    """Cut or pad to exactly `w` cells (ellipsis when cut)."""
    if len(value) > w:
        return value[: max(w - 1, 0)] + "…" if w > 0 else ""
    return value.ljust(w)
