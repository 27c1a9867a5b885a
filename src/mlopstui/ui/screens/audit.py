"""The audit screen: every write this tool attempted, newest first, and how it ended.

An intent whose outcome nobody knows (the process died mid-action, or the source did not
answer in time) is drawn as "outcome unknown - verify"; `v` re-reads the source for it (off
the loop) and records what the source shows.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from mlopstui import text, timefmt
from mlopstui.actions import Outcome
from mlopstui.cache.audit import AuditRecord
from mlopstui.ui import background
from mlopstui.ui.inert import inert
from mlopstui.ui.widgets.keyed_table import fill

UNKNOWN = "outcome unknown - verify"
OUTCOME_STYLES = {
    "ok": ("ok", "green"),
    "noop": ("no-op", "dim"),
    "refused": ("refused", "yellow"),
    "failed": ("failed", "bold red"),
    "unknown": (UNKNOWN, "bold black on yellow"),
    "in progress": ("in progress", "cyan"),
}
NARROW_BELOW = 100
COLUMNS = [
    ("time", "Time"),
    ("user", "User"),
    ("action", "Action"),
    ("target", "Target"),
    ("change", "Before → after"),
    ("outcome", "Outcome"),
    ("message", "Message"),
]
COLUMNS_NARROW = ["time", "outcome", "action", "target"]
COLUMNS_MEDIUM = ["time", "user", "action", "target", "change", "outcome"]
WIDE_FROM = 150  # the message column only where it has room; the detail below always has it


def outcome_text(record: AuditRecord, narrow: bool = False) -> Text:
    """The outcome cell: unknown outcomes stand out."""
    label, style = OUTCOME_STYLES.get(record.state, (text.clean(record.state), ""))
    if narrow:
        label = label.removeprefix("outcome ")
    return Text(label, style=style)


def record_cells(record: AuditRecord, width: int) -> list[Text]:
    """One row: time, user, action, target, before -> after, outcome, message."""
    change = inert(record.before, "red", limit=30)
    change.append(" → ", style="dim")
    change.append_text(inert(record.after, "green", limit=30))
    row = {
        "time": Text(timefmt.clock(int(record.started * 1000))[5:]),
        "user": inert(record.user, limit=12),
        "action": inert(record.action, "bold", limit=20),
        "target": inert(record.target, limit=40),
        "change": change,
        "outcome": outcome_text(record, narrow=width < NARROW_BELOW),
        "message": inert(record.message or "", "dim", limit=60),
    }
    keys = columns_for(width)
    out = []
    for k in keys:
        cell = row[k]
        cell.no_wrap, cell.overflow = True, "ellipsis"
        out.append(cell)
    return out


def columns_for(width: int) -> list[str]:
    """The columns shown at a terminal width."""
    if width < NARROW_BELOW:
        return COLUMNS_NARROW
    return COLUMNS_MEDIUM if width < WIDE_FROM else [k for k, _ in COLUMNS]


class AuditScreen(Screen[None]):
    """The audit log, with the highlighted record in full below the table."""

    DEFAULT_CSS = """
    AuditScreen #audit-title { height: 1; padding: 0 1; }
    AuditScreen DataTable { height: 1fr; }
    AuditScreen #audit-detail { height: auto; max-height: 12; padding: 0 1; background: $boost; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("v", "verify", "Verify"),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self, pipeline: Any) -> None:
        super().__init__()
        self.pipeline = pipeline
        self.records: list[AuditRecord] = []
        self._verifying: set[int] = set()
        self.error: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="audit-title")
        yield DataTable(id="audit", cursor_type="row", zebra_stripes=True)
        yield Static(id="audit-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        self.reload()  # the columns depend on the width

    def reload(self) -> None:
        """Re-read the audit log (a local file), keeping the cursor on the same record."""
        table = self.query_one(DataTable)
        keep = self.current()
        try:
            self.records = self.pipeline.audit.records(limit=1000)
            self.error = None
        except Exception as exc:  # the audit log cannot be opened: say so on the screen
            self.records, self.error = [], str(exc)
        width = self.app.size.width
        labels = dict(COLUMNS)
        fill(
            table,
            [(key, labels[key], None) for key in columns_for(width)],
            [(str(r.id), record_cells(r, width)) for r in self.records],
            keep=str(keep.id) if keep is not None else None,
            room=width - 2,
            shrink=("message", "target", "user", "change"),
        )
        unknown = sum(1 for r in self.records if r.state == "unknown")
        title = Text("Audit log", style="bold")
        title.append(f" · {len(self.records)} records, newest first", style="dim")
        if unknown:
            title.append(f" · {unknown} {UNKNOWN} (v)", style="bold yellow")
        self.query_one("#audit-title", Static).update(title)
        self.show_detail()

    def current(self) -> AuditRecord | None:
        """The record under the cursor."""
        table = self.query_one(DataTable)
        if not table.row_count or not self.records:
            return None
        row = min(table.cursor_row, len(self.records) - 1)
        return self.records[row]

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        """Everything about the highlighted record."""
        widget = self.query_one("#audit-detail", Static)
        record = self.current()
        if record is None:
            message = (
                f"The audit log cannot be read: {text.clean(self.error)}"
                if self.error
                else "No actions recorded yet. Every write made from here is recorded."
            )
            widget.update(Text(message, style="red" if self.error else "dim"))
            return
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        grid.add_row("record", Text(f"#{record.id}"))
        when = timefmt.clock(int(record.started * 1000))
        grid.add_row("when", inert(f"{when} by {record.user}@{record.host}, pid {record.pid}"))
        grid.add_row("action", inert(f"{record.action} {record.target}"))
        grid.add_row("source", inert(record.source))
        change = inert(record.before, "red")
        change.append(" → ", style="dim")
        change.append_text(inert(record.after, "green"))
        grid.add_row("change", change)
        outcome = outcome_text(record)
        if record.message:
            outcome.append("  ")
            outcome.append_text(inert(record.message, limit=300))
        grid.add_row("outcome", outcome)
        if record.state == "unknown":
            grid.add_row("", Text("v re-reads the source and records what it shows", style="bold"))
        widget.update(grid)

    def action_reload(self) -> None:
        self.reload()

    def action_verify(self) -> None:
        record = self.current()
        if record is None:
            return
        if record.state != "unknown":
            self.notify(
                f"#{record.id} is {record.state}: only an unknown outcome needs verifying.",
                severity="warning",
                markup=False,
            )
            return
        if record.id in self._verifying:
            self.notify(f"#{record.id}: already verifying", severity="warning", markup=False)
            return
        self._verifying.add(record.id)
        self.notify(f"Verifying #{record.id} against the source…", timeout=3, markup=False)
        pipeline = self.pipeline
        background.run_off_loop(
            self.app,
            lambda: pipeline.verify_record(record),
            lambda outcome: self._verified(record, outcome),
            name=f"verify-{record.id}",
            # The audit log or the source failed: say so (and free the record for another v).
            on_error=lambda exc: self._verified(record, exc),
        )

    def _verified(self, record: AuditRecord, outcome: Outcome | BaseException) -> None:
        self._verifying.discard(record.id)
        if isinstance(outcome, BaseException):
            message = f"#{record.id}: cannot verify: {background.readable(outcome)}"
            severity = "error"
        else:
            message = f"#{record.id}: {outcome.status}: {outcome.message}"
            severity = {"ok": "information", "failed": "error"}.get(outcome.status, "warning")
        self.notify(text.clean(message), severity=severity, timeout=10, markup=False)  # type: ignore[arg-type]
        if self.is_mounted:
            self.reload()
