"""Filling a Textual DataTable by row key, with column widths fitted to the room it has.

The registry tables and the audit log are small (tens to hundreds of rows), so a DataTable
serves; what it lacks is done here. Refreshes update cells in place when the rows are the same
(the cursor and scroll stay put) and otherwise rebuild with the cursor back on the same key.
Widths are measured here rather than left to DataTable's auto widths, which only ever grow and
are measured when idle, after the rows may already have been drawn (and cached) at the old
widths. Columns wider than the room are narrowed, widest first, so no horizontal scrollbar
appears at 80 columns.
"""

from __future__ import annotations

import contextlib

from rich.text import Text
from textual.widgets import DataTable

Column = tuple[str, str, int | None]
"""(key, label, fixed width or None to fit the content)."""


def fit_widths(
    widths: list[int],
    room: int,
    *,
    order: list[int] | None = None,
    padding: int = 2,
    least: int = 8,
) -> list[int]:
    """Narrow columns until the table fits `room` cells (each column also takes `padding`):
    first those in `order` (the least important first), then the widest; none goes under
    `least` (or its own width if smaller)."""
    out = list(widths)
    over = sum(out) + padding * len(out) - room
    rest = sorted(range(len(out)), key=lambda i: (-out[i], -i))
    for i in [*(order or []), *rest]:
        if over <= 0:
            break
        cut = min(over, max(0, out[i] - least))
        out[i] -= cut
        over -= cut
    return out


def cursor_key(table: DataTable) -> str | None:
    """The key of the row under the cursor, or None."""
    if not table.row_count:
        return None
    with contextlib.suppress(Exception):
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    return None


def fill(
    table: DataTable,
    columns: list[Column],
    rows: list[tuple[str, list[Text]]],
    *,
    keep: str | None,
    room: int,
    shrink: tuple[str, ...] = (),
) -> None:
    """Show `rows` ((key, cells)) under `columns`; the cursor stays on, or returns to, `keep`.
    When they do not fit `room`, the columns named in `shrink` give way first, in order."""
    keys_of = [key for key, _label, _w in columns]
    widths = fit_widths(
        [
            width if width is not None else max([len(label), *(row[i].cell_len for _, row in rows)])
            for i, (_key, label, width) in enumerate(columns)
        ],
        room,
        order=[keys_of.index(k) for k in shrink if k in keys_of],
    )
    keys = [k for k, _ in rows]
    same_shape = (
        [c.key.value for c in table.ordered_columns] == [c for c, _, _ in columns]
        and [c.width for c in table.ordered_columns] == widths
        and [k.value for k in table.rows] == keys
    )
    if same_shape:
        for key, row in rows:
            for (col, _label, _w), cell in zip(columns, row, strict=True):
                table.update_cell(key, col, cell)
        return
    table.clear(columns=True)
    for (key, label, _w), width in zip(columns, widths, strict=True):
        table.add_column(Text(label), key=key, width=width)
    for key, row in rows:
        table.add_row(*row, key=key)
    if keep in keys:
        table.move_cursor(row=keys.index(keep), animate=False)
