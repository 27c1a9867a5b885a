"""Failures: recent failed runs per experiment, from the mlopstui cache."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from mlopstui import text, timefmt
from mlopstui.plugin_api import Pane

WINDOWS = {"24 h": 24 * 3600 * 1000, "7 days": 7 * 24 * 3600 * 1000}

QUERY = """
SELECT e.name, count(*), max(r.start_time),
       (SELECT r2.name || ' (' || r2.user || ')' FROM runs r2
        WHERE r2.experiment_id = r.experiment_id AND r2.status = 'FAILED'
        ORDER BY r2.start_time DESC LIMIT 1)
FROM runs r JOIN experiments e ON e.experiment_id = r.experiment_id
WHERE r.status = 'FAILED' AND r.start_time >= ?
GROUP BY r.experiment_id ORDER BY count(*) DESC, e.name
"""


class FailuresPane(Pane):
    """Failed runs in the last 24 hours or 7 days, per experiment."""

    pane_id = "failures"
    title = "Failures"
    topics = frozenset({"runs"})
    api_version = 1

    BINDINGS = [Binding("w", "window", "24h/7d")]

    def __init__(self, ctx) -> None:  # noqa: ANN001 - PaneContext
        super().__init__(ctx)
        self.window = "24 h"

    def compose(self) -> ComposeResult:
        yield Static(id="failures-title")
        yield DataTable(id="failures", cursor_type="row")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("Experiment", "Failed", "Last failure", "Last failed run"):
            table.add_column(label, key=label)
        self.reload()

    def focus_default(self) -> None:
        self.query_one(DataTable).focus()

    def reload(self) -> None:
        """Re-read the failures from the cache."""
        since = timefmt.now_ms() - WINDOWS[self.window]
        rows = self.ctx.reader().execute(QUERY, (since,)).fetchall()
        table = self.query_one(DataTable)
        table.clear()
        for name, count, last, run in rows:
            table.add_row(
                Text(text.clean(name)),
                Text(str(count), style="bold red"),
                Text(timefmt.clock(last)),
                Text(text.clean(run)),
            )
        total = sum(r[1] for r in rows)
        title = (
            f"{total} failed runs in the last {self.window}"
            if rows
            else (f"No failed runs in the last {self.window}.")
        )
        self.query_one("#failures-title", Static).update(Text(title, style="bold"))

    def on_topics_changed(self, topics: set[str]) -> None:
        self.reload()

    def action_window(self) -> None:
        self.window = "7 days" if self.window == "24 h" else "24 h"
        self.reload()
