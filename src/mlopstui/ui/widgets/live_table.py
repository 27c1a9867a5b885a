"""LiveTable: a DataTable for values that change every second, repainting only what changed.

`DataTable.update_cell` repaints the whole table: at 1 Hz with eight GPUs that is the whole
table rewritten every second. `LiveTable.show` compares each new cell with the one on screen
and, when the rows and columns are the same, replaces only the cells that differ and refreshes
the span from the first to the last changed cell of each row (one cursor move, not one per
cell). Nothing changed: nothing is refreshed, so nothing reaches the terminal. When the rows
or their order differ, it rebuilds, with the cursor back on the same key.

Rows are drawn with neighbouring cells of the same colours joined (`merge_cells`), so a
repainted row costs one colour escape per colour run, not one per cell.

It touches private parts of DataTable (`_data`, `_update_count`, `_get_cell_region`,
`_refresh_region`),
which is why Textual is pinned; tests/ui/test_gpus_pane.py counts the bytes a refresh writes,
so an upgrade that breaks this shows there.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from mlopstui.ui.widgets.keyed_table import cursor_key, fit_widths

Column = tuple[str, str, int | None]


def _signature(cell: object) -> tuple:
    """What a cell looks like (rich's Text equality ignores the base style)."""
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple(cell.spans))
    return (str(cell),)


def merge_cells(strip: Strip) -> Strip:
    """Join neighbouring segments that look the same. DataTable gives each cell its own
    segment (the style carries the cell's coordinates for the mouse), and every segment
    costs a full colour escape on the wire (~40 bytes in truecolor); one per run of equal
    colours is what a repainted row needs. The merged segment keeps the first cell's mouse
    data: the row is still right, which is all a row-cursor table uses."""
    out: list[Segment] = []
    last_look: Style | None = None
    for segment in strip:
        text, style, control = segment
        look = style.clear_meta_and_links() if style is not None else None
        if out and not control and look is not None and look == last_look:
            prev = out[-1]
            out[-1] = Segment(prev.text + text, prev.style, None)
            continue
        out.append(segment)
        last_look = look if not control else None
    return Strip(out, strip.cell_length)


class LiveTable(DataTable):
    """A keyed DataTable whose refreshes repaint only the changed cells."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("cursor_type", "row")
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.repainted = 0
        """Cells replaced in place by the last `show` (-1 after a rebuild), for tests."""

    def render_line(self, y: int) -> Strip:
        return merge_cells(super().render_line(y))

    def row_keys(self) -> list[str]:
        """The row keys, top to bottom."""
        return [k.value for k in self.rows if k.value is not None]

    def show(
        self,
        columns: list[Column],
        rows: list[tuple[str, list[Text]]],
        *,
        room: int,
        shrink: tuple[str, ...] = (),
        keep: str | None = None,
    ) -> None:
        """Show `rows` ((key, cells)) under `columns` fitted to `room` cells; the cursor stays
        on the row it was on (or `keep`)."""
        keys_of = [key for key, _label, _w in columns]
        natural = [
            width if width is not None else max([len(label), *(r[i].cell_len for _, r in rows)])
            for i, (_key, label, width) in enumerate(columns)
        ]
        order = [keys_of.index(k) for k in shrink if k in keys_of]
        widths = fit_widths(natural, room, order=order)
        keys = [k for k, _ in rows]
        same_shape = (
            [c.key.value for c in self.ordered_columns] == keys_of
            and [c.width for c in self.ordered_columns] == widths
            and self.row_keys() == keys
        )
        if same_shape:
            self.repainted = self._update_in_place(keys_of, rows)
            return
        keep = keep if keep is not None else cursor_key(self)
        self.clear(columns=True)
        for (key, label, _w), width in zip(columns, widths, strict=True):
            self.add_column(Text(label), key=key, width=width)
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if keep in keys:
            self.move_cursor(row=keys.index(keep), animate=False)
        self.repainted = -1

    def _update_in_place(self, columns: list[str], rows: list[tuple[str, list[Text]]]) -> int:
        changed = 0
        data = self._data  # noqa: SLF001 - see the module docstring
        for y, (key, cells) in enumerate(rows):
            current = data[RowKey(key)]
            first = last = None
            for x, (column, cell) in enumerate(zip(columns, cells, strict=True)):
                column_key = ColumnKey(column)
                if _signature(current.get(column_key)) == _signature(cell):
                    continue
                current[column_key] = cell
                first = x if first is None else first
                last = x
                changed += 1
            if first is None or last is None:
                continue
            # The row caches are keyed on this count: bump it, or the old cell is redrawn.
            self._update_count += 1  # noqa: SLF001
            region = self._get_cell_region(Coordinate(y, first)).union(  # noqa: SLF001
                self._get_cell_region(Coordinate(y, last))  # noqa: SLF001
            )
            self._refresh_region(region)  # noqa: SLF001
        return changed
