"""RunsTable: a virtual table over the cache that reads only what is on screen.

Textual's DataTable loads every row (seconds at 100k rows). This widget keeps blocks of 100
rows read through `RunsWindow.page()`, renders lines with the Line API, keeps its header fixed,
and repaints only the lines that change when the cursor moves.

The column layout (which columns, how wide) is a function of the content width, the columns,
the sort and the widths measured on the loaded pages; it is recomputed whenever one of them
changes and the whole table is repainted then, so the header and the rows are always drawn
with the same layout (a resize, the experiment list hiding, a new column set).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mlopstui import timefmt
from mlopstui.cache.runs import RunRow, RunsWindow, fill_values, split_column
from mlopstui.ui.widgets import run_cells

BLOCK = 100
MAX_BLOCKS = 16


class RunsTable(ScrollView, can_focus=True):
    """The runs of the current view, one screenful at a time."""

    DEFAULT_CSS = """
    RunsTable { height: 1fr; }
    RunsTable > .runs-table--header { text-style: bold; background: $panel; }
    RunsTable > .runs-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    RunsTable:blur > .runs-table--cursor { background: $block-cursor-blurred-background; }
    RunsTable > .runs-table--marked { color: $accent; text-style: bold; }
    RunsTable > .runs-table--running { color: $primary; }
    RunsTable > .runs-table--failed { color: $error; }
    RunsTable > .runs-table--killed { color: $warning; }
    RunsTable > .runs-table--finished { color: $success; }
    RunsTable > .runs-table--empty { color: $text-muted; }
    """
    COMPONENT_CLASSES = {
        "runs-table--header",
        "runs-table--cursor",
        "runs-table--marked",
        "runs-table--running",
        "runs-table--failed",
        "runs-table--killed",
        "runs-table--finished",
        "runs-table--empty",
    }
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "First", show=False),
        Binding("end,G", "jump(-1)", "Last", show=False),
        Binding("enter", "open", "Detail"),
        Binding("space", "mark", "Mark", show=False),
    ]

    class Opened(Message):
        """Enter on a run."""

        def __init__(self, run_id: str) -> None:
            super().__init__()
            self.run_id = run_id

    class SortClicked(Message):
        """A click on a column header."""

        def __init__(self, column: str) -> None:
            super().__init__()
            self.column = column

    class MarksChanged(Message):
        """The set of marked runs changed."""

    class RowsLoaded(Message):
        """A page of rows was read from the cache (the pane fetches what they lack)."""

        def __init__(self, rows: list[RunRow]) -> None:
            super().__init__()
            self.rows = rows

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.window: RunsWindow | None = None
        self.total = 0
        self.counting = False
        self.columns: list[str] = ["name", "status", "start_time", "duration"]
        self.cursor = 0
        self.marked: dict[str, str] = {}
        self.empty_text = "No runs."
        self.experiment_names: dict[str, str] = {}
        """Experiment id -> name, for the `experiment` column of "All experiments"."""
        self.pending: set[tuple[str, str]] = set()
        """(run id, metric key) whose min/max history is being fetched: drawn as `…`."""
        self._blocks: OrderedDict[int, list[RunRow]] = OrderedDict()
        self._natural: dict[str, int] = {}  # widest value per column on the pages read
        self._layout: list[tuple[str, int]] = []
        self._layout_key: tuple[object, ...] = ()
        self._drawn: list[tuple[str, int]] = []  # the layout of the last full repaint
        self.hidden_columns = 0
        self._styles: dict[str, Style] = {}

    # ------------------------------------------------------------------ data

    def set_view(self, window: RunsWindow | None, total: int | None, columns: list[str]) -> None:
        """Show a new view. `total=None`: not counted yet (the first block tells, or
        `set_total` will)."""
        keep = self.current_run_id() if window is self.window else None
        self.window = window
        self.columns = list(columns)
        self._blocks.clear()
        self._natural = {}
        if total is None and window is not None:
            first = self._block(0)
            self.counting = len(first) == BLOCK
            total = len(first) if not self.counting else BLOCK
        else:
            self.counting = False
        self.total = total or 0
        self.cursor = min(self.cursor, max(0, self.total - 1)) if keep else 0
        self._resize()
        if not keep:
            self.scroll_to(y=0, animate=False)
        self.refresh()

    def set_total(self, total: int) -> None:
        """The count arrived from the worker."""
        self.total = total
        self.counting = False
        self.cursor = min(self.cursor, max(0, total - 1))
        self._resize()
        self.refresh()

    def reload(self, *, force: bool = False) -> bool:
        """Re-read the visible rows after a sync; repaint only if something changed."""
        if self.window is None:
            return False
        top = int(self.scroll_offset.y)
        first, last = top // BLOCK, (top + self.size.height) // BLOCK
        old = {b: self._blocks.get(b) for b in range(first, last + 1)}
        self._blocks.clear()
        self.window.invalidate()  # the data changed: what the window learned of it is stale
        changed = any(self._block(b) != rows for b, rows in old.items())
        if changed or force:
            self.refresh()
        return changed

    def _block(self, number: int) -> list[RunRow]:
        rows = self._blocks.get(number)
        if rows is None:
            assert self.window is not None
            total = None if self.counting else self.total
            rows = self.window.page(number * BLOCK, BLOCK, total)
            fill_values(self.window.conn, rows, self.columns)
            self._blocks[number] = rows
            while len(self._blocks) > MAX_BLOCKS:
                self._blocks.popitem(last=False)
            self._measure(rows)
            if rows:
                self.post_message(self.RowsLoaded(rows))
        return rows

    def _measure(self, rows: Iterable[RunRow]) -> None:
        """Widen the measured column widths to this page's values (they never shrink while a
        view is shown: columns do not jump back and forth while scrolling)."""
        found = run_cells.natural_widths(
            self.columns, rows, timefmt.now_ms(), self.experiment_names
        )
        for col, n in found.items():
            if n > self._natural.get(col, 0):
                self._natural[col] = n

    def loaded_rows(self) -> list[list[RunRow]]:
        """The pages read so far (at most MAX_BLOCKS of them), oldest first."""
        return list(self._blocks.values())

    def row(self, index: int) -> RunRow | None:
        """The row at an index of the current order (read from the cache if needed)."""
        if self.window is None or not 0 <= index < self.total:
            return None
        rows = self._block(index // BLOCK)
        i = index % BLOCK
        return rows[i] if i < len(rows) else None

    def current(self) -> RunRow | None:
        """The row under the cursor."""
        return self.row(self.cursor)

    def current_run_id(self) -> str | None:
        """The run id under the cursor."""
        row = self.current()
        return row.run_id if row else None

    # ------------------------------------------------------------------ layout

    def _resize(self) -> None:
        # Width 0: rows are cut to the visible width, so there is never a horizontal scrollbar
        # (one would hide the last row under it).
        size = Size(0, self.total + 1)
        if size == self.virtual_size:
            return
        visible = self.size.height
        if (size.height > visible) == (self.virtual_size.height > visible) and visible:
            # The scrollbar neither appears nor goes: skip the relayout of the whole screen
            # that assigning the `virtual_size` reactive triggers (it costs a frame per key).
            self.set_reactive(RunsTable.virtual_size, size)
            self._scroll_update(size)
            self.refresh()
        else:
            self.virtual_size = size

    def on_resize(self) -> None:
        self._resize()
        self.refresh()  # the layout follows the width: every line, the header included

    def layout_columns(self) -> list[tuple[str, int]]:
        """Columns that fit the width, with their widths (recomputed when the width, the
        columns, the sort or the measured widths change)."""
        width = max(10, self.scrollable_content_region.width - 2)
        sort = self.window.sort if self.window else ""
        key = (width, tuple(self.columns), sort, tuple(sorted(self._natural.items())))
        if key != self._layout_key:
            self._layout_key = key
            self._layout, self.hidden_columns = run_cells.fit(
                self.columns, width, self._natural, keep=sort
            )
        return self._layout

    def _visible_rows(self) -> None:
        """Read the pages of the rows on screen before drawing any line, so their measured
        widths are known to the header too."""
        if self.window is None or not self.total:
            return
        top = int(self.scroll_offset.y)
        last = min(self.total - 1, top + max(1, self.size.height))
        for number in range(top // BLOCK, last // BLOCK + 1):
            self._block(number)

    # ------------------------------------------------------------------ rendering

    def render_lines(self, crop: Region) -> list[Strip]:
        self._visible_rows()
        cols = self.layout_columns()
        if cols != self._drawn:
            self._drawn = cols
            if crop.height < self.scrollable_content_region.height:
                # Lines outside this crop were drawn with the old layout: repaint them all.
                self.refresh()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        cols = self.layout_columns()
        if y == 0:
            return self._header_strip(cols, width)
        index = int(self.scroll_offset.y) + y - 1
        if self.window is None or self.total == 0:
            if y == 2:
                style = self.get_component_rich_style("runs-table--empty")
                return Strip([Segment(run_cells.clip("  " + self.empty_text, width), style)], width)
            return Strip.blank(width, self.rich_style)
        row = self.row(index)
        if row is None:
            return Strip.blank(width, self.rich_style)
        return self._row_strip(row, index, cols, width)

    def _header_strip(self, cols: list[tuple[str, int]], width: int) -> Strip:
        style = self.get_component_rich_style("runs-table--header")
        sort = self.window.sort if self.window else ""
        arrow = run_cells.SORT_MARKS[1 if self.window and self.window.descending else 0]
        parts = []
        for col, w in cols:
            name = run_cells.label(col) + (arrow if col == sort else "")
            parts.append(run_cells.clip(name, w, right=run_cells.numeric(col)))
        line = "  " + " ".join(parts)
        if self.hidden_columns:
            hint = f"+{self.hidden_columns} col"
            line = line.ljust(max(0, width - len(hint) - 1))[: max(0, width - len(hint) - 1)]
            line += " " + hint
        return Strip([Segment(run_cells.clip(line, width), style)], width)

    def _row_strip(self, row: RunRow, index: int, cols: list[tuple[str, int]], width: int) -> Strip:
        base = self._style("base")
        if index == self.cursor:
            base = base + self._style("runs-table--cursor")
        marked = row.run_id in self.marked
        segments = [
            Segment("● " if marked else "  ", base + self._marked_style() if marked else base)
        ]
        now_ms = timefmt.now_ms()
        used = 2
        for i, (col, w) in enumerate(cols):
            _kind, key, agg = split_column(col)
            pending = bool(agg) and (row.run_id, key) in self.pending
            text = run_cells.cell(row, col, now_ms, self.experiment_names, pending=pending)
            value = run_cells.clip(text, w, right=run_cells.numeric(col))
            style = base
            if col == "status":
                style = base + self._status_style(row.status)
            segments.append(Segment(value if i == 0 else " " + value, style))
            used += w + (0 if i == 0 else 1)
        if used < width:
            segments.append(Segment(" " * (width - used), base))
        return Strip(segments, width).crop(0, width)

    def notify_style_update(self) -> None:
        self._styles.clear()  # theme or CSS changed
        super().notify_style_update()

    def _style(self, name: str) -> Style:
        """A component style, looked up once per theme (not once per cell)."""
        style = self._styles.get(name)
        if style is None:
            style = self._styles[name] = (
                self.rich_style if name == "base" else self.get_component_rich_style(name)
            )
        return style

    def _marked_style(self) -> Style:
        return self._style("runs-table--marked")

    def _status_style(self, status: str) -> Style:
        name = {"RUNNING": "running", "FAILED": "failed", "KILLED": "killed"}.get(
            status, "finished" if status == "FINISHED" else ""
        )
        return self._style(f"runs-table--{name}") if name else Style()

    def _refresh_row(self, index: int) -> None:
        y = index - int(self.scroll_offset.y) + 1
        if 1 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    # ------------------------------------------------------------------ actions

    def move_to(self, index: int) -> None:
        """Put the cursor on a row and scroll it into view."""
        if self.total == 0:
            return
        index = max(0, min(index, self.total - 1))
        old, self.cursor = self.cursor, index
        visible = max(1, self.size.height - 1)
        top = int(self.scroll_offset.y)
        if index < top:
            self.scroll_to(y=index, animate=False)
            self.refresh()
        elif index >= top + visible:
            self.scroll_to(y=index - visible + 1, animate=False)
            self.refresh()
        else:
            self._refresh_row(old)
            self._refresh_row(index)

    def action_cursor(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        step = max(1, self.size.height - 2)
        self.move_to(self.cursor + direction * step)

    def action_jump(self, where: int) -> None:
        self.move_to(0 if where == 0 else self.total - 1)

    def action_open(self) -> None:
        run_id = self.current_run_id()
        if run_id:
            self.post_message(self.Opened(run_id))

    def action_mark(self) -> None:
        row = self.current()
        if row is None:
            return
        if row.run_id in self.marked:
            del self.marked[row.run_id]
        else:
            self.marked[row.run_id] = row.name
        self._refresh_row(self.cursor)
        self.post_message(self.MarksChanged())
        self.move_to(self.cursor + 1)

    def clear_marks(self) -> None:
        """Unmark every run."""
        self.marked.clear()
        self.refresh()
        self.post_message(self.MarksChanged())

    def on_click(self, event: Click) -> None:
        if event.y == 0:
            x = 2
            for col, w in self.layout_columns():
                if x <= event.x < x + w + 1:
                    self.post_message(self.SortClicked(col))
                    return
                x += w + 1
            return
        self.move_to(int(self.scroll_offset.y) + event.y - 1)
