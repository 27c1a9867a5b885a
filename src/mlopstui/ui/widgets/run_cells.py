"""Pure rendering of run cells: column labels, widths and cell text. Tested without a UI.

Columns are fitted to what they show: each gets the width of its widest value on the loaded
pages (or of its header), within a floor and a cap per kind, so a short `User` is never cut
while `Name` hoards the spare width. When the screen is too narrow the widest columns shrink
first (down to their floor), then columns are dropped from the end; the `Name` column and the
sorted column are never the ones dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mlopstui import text, timefmt
from mlopstui.cache.runs import RunRow, split_column

LABELS = {
    "name": "Name",
    "experiment": "Experiment",
    "status": "Status",
    "start_time": "Start",
    "end_time": "End",
    "duration": "Duration",
    "user": "User",
    "source": "Source",
}
# (floor, cap) per attribute column: the floor is what a column keeps when space is short,
# the cap what it may take when its values are long (a 200-character run name).
LIMITS = {
    "name": (12, 48),
    "experiment": (10, 28),
    "status": (8, 8),
    "start_time": (11, 11),
    "end_time": (11, 11),
    "duration": (6, 9),
    "user": (5, 20),
    "source": (8, 28),
}
KIND_LIMITS = {"metrics": (6, 12), "params": (5, 20), "tags": (5, 24)}
COMFORT = 24  # the first column shrinks below this only after the others reached their floors
HINT = 8  # room kept for " +N col" when columns are dropped
PENDING = "…"  # a min/max whose history is being fetched
SORT_MARKS = ("↑", "↓")


def label(column: str) -> str:
    """Header text of a column: 'Start', 'val_acc', 'lr'; 'min'/'max' right after a metric."""
    kind, key, agg = split_column(column)
    if not kind:
        return LABELS.get(key, key)
    return agg or text.clean(key)


def limits(column: str) -> tuple[int, int]:
    """(floor, cap) of a column's width."""
    kind, key, _agg = split_column(column)
    if not kind:
        return LIMITS.get(key, (6, 20))
    return KIND_LIMITS[kind]


def numeric(column: str) -> bool:
    """Whether a column holds numbers (right-aligned, so digits line up)."""
    kind, key, _agg = split_column(column)
    return kind == "metrics" or (not kind and key == "duration")


def width(column: str) -> int:
    """The floor width of a column (what it keeps when space is short): an attribute column
    keeps its whole header."""
    floor = limits(column)[0]
    return max(floor, len(LABELS[column])) if column in LABELS else floor


def natural_widths(
    columns: Iterable[str], rows: Iterable[RunRow], now_ms: int, extra: Mapping[str, str] = {}
) -> dict[str, int]:
    """The widest cell of each column over `rows` (header not included)."""
    cols = list(columns)
    out = dict.fromkeys(cols, 0)
    for row in rows:
        for col in cols:
            n = len(cell(row, col, now_ms, extra))
            if n > out[col]:
                out[col] = n
    return out


def fit(
    columns: list[str],
    total: int,
    natural: Mapping[str, int] | None = None,
    *,
    keep: str = "",
) -> tuple[list[tuple[str, int]], int]:
    """Choose the columns that fit `total` cells (one space between) and their widths.

    Each column wants the larger of its header (plus a sort arrow) and its widest value in
    `natural`, within its (floor, cap). Returns the shown columns in their order and how many
    were left out. The first column and `keep` (the sorted column) are dropped last; when
    columns are dropped, `HINT` cells are kept free for the "+N col" hint.
    """
    natural = natural or {}
    want = {}
    for col in columns:
        cap = max(width(col), limits(col)[1])
        need = max(len(label(col)) + 1, natural.get(col, 0))
        want[col] = max(width(col), min(cap, need))

    first = columns[0] if columns else ""

    def floors(cols: list[str]) -> int:
        # The first column (the run's name) counts at its comfortable width: a column is
        # dropped before the name is squeezed below it.
        need = [min(want[c], COMFORT) if c == first else width(c) for c in cols]
        return sum(need) + max(0, len(cols) - 1)

    # Which columns stay: the first one, the sorted one, then the rest in order.
    priority = list(dict.fromkeys([c for c in [*columns[:1], keep] if c in columns] + columns))
    kept: list[str] = []
    for col in priority:
        room = total if len(kept) + 1 == len(columns) else total - HINT
        if floors(kept + [col]) > room:
            break  # the rest go too: the "+N col" hint means "the ones after these"
        kept.append(col)
    shown = [c for c in columns if c in kept]
    room = total if len(shown) == len(columns) else total - HINT
    widths = {c: want[c] for c in shown}
    budget = room - max(0, len(shown) - 1)
    # Too wide: shave the column furthest above its floor, one cell at a time; the first
    # column (the run's name) keeps COMFORT cells until the others are at their floors.
    excess = sum(widths.values()) - budget
    first = shown[0] if shown else ""
    for comfort in (COMFORT, 0):
        bottom = {c: max(width(c), comfort if c == first else 0) for c in shown}
        while excess > 0:
            shrinkable = [c for c in shown if widths[c] > bottom[c]]
            if not shrinkable:
                break
            widest = max(shrinkable, key=lambda c: (widths[c] - bottom[c], widths[c]))
            widths[widest] -= 1
            excess -= 1
    if excess > 0 and shown:  # even the floors do not fit: the first column gives way
        widths[first] = max(1, widths[first] - excess)
    return [(c, widths[c]) for c in shown], len(columns) - len(shown)


def cell(
    row: RunRow,
    column: str,
    now_ms: int,
    experiments: Mapping[str, str] = {},
    *,
    pending: bool = False,
) -> str:
    """The text of one cell (sanitised). `experiments` names experiment ids; `pending` marks
    a min/max whose history is on its way."""
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
        if key == "experiment":
            return text.clean(experiments.get(row.experiment_id, row.experiment_id))
        return text.clean(getattr(row, key, ""))
    value = row.values.get(column if not agg else f"metrics.{key}.{agg}")
    if value is None:
        return PENDING if pending and agg else ""
    if kind == "metrics":
        return f"{value:.4g}" if isinstance(value, float) else str(value)
    return text.clean(value)


def clip(value: str, w: int, *, right: bool = False) -> str:
    """Cut or pad to exactly `w` cells (ellipsis when cut); `right` pads on the left."""
    if len(value) > w:
        return value[: max(w - 1, 0)] + "…" if w > 0 else ""
    return value.rjust(w) if right else value.ljust(w)
