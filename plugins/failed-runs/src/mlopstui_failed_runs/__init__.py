"""Failures: recent failed runs per experiment, from the mlopstui cache.

Uses only the plugin API: the `Pane` base, typed cache reads (`mlopstui.plugin_api.data`), the
sanitiser and the time formats.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from mlopstui.plugin_api import API_VERSION, Pane, PaneContext, clock, inert, now_ms
from mlopstui.plugin_api.data import RunRow, experiments, runs

WINDOWS = {"24 h": 24 * 3600 * 1000, "7 days": 7 * 24 * 3600 * 1000}


def failures_by_experiment(
    failed: list[RunRow], names: dict[str, str]
) -> list[tuple[str, int, RunRow]]:
    """(experiment name, failed runs, newest failed run) per experiment, most failures first.
    `failed` is newest first, so the first run seen per experiment is its last failure."""
    counts: dict[str, int] = {}
    last: dict[str, RunRow] = {}
    for run in failed:
        counts[run.experiment_id] = counts.get(run.experiment_id, 0) + 1
        last.setdefault(run.experiment_id, run)
    rows = [(names.get(eid, eid), n, last[eid]) for eid, n in counts.items()]
    return sorted(rows, key=lambda r: (-r[1], r[0]))


class FailuresPane(Pane):
    """Failed runs in the last 24 hours or 7 days, per experiment."""

    pane_id = "failures"
    title = "Failures"
    topics = frozenset({"runs"})
    api_version = API_VERSION

    BINDINGS = [Binding("w", "window", "24h/7d")]

    def __init__(self, ctx: PaneContext) -> None:
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
        since = now_ms() - WINDOWS[self.window]
        conn = self.ctx.reader()
        failed = runs(
            conn,
            filter_text=f"attributes.status = 'FAILED' and attributes.start_time >= {since}",
            sort="start_time",
            limit=None,
        )
        names = {e.experiment_id: e.name for e in experiments(conn)}
        rows = failures_by_experiment(failed, names)
        table = self.query_one(DataTable)
        table.clear()
        for name, count, last in rows:
            table.add_row(
                inert(name),
                Text(str(count), style="bold red"),
                Text(clock(last.start_time)),
                inert(f"{last.name} ({last.user})"),
            )
        total = sum(count for _, count, _ in rows)
        title = (
            f"{total} failed runs in the last {self.window}"
            if rows
            else f"No failed runs in the last {self.window}."
        )
        self.query_one("#failures-title", Static).update(Text(title, style="bold"))

    def on_topics_changed(self, topics: set[str]) -> None:
        self.reload()

    def action_window(self) -> None:
        self.window = "7 days" if self.window == "24 h" else "24 h"
        self.reload()
