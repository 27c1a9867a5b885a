"""Marked runs side by side; `d` shows only the rows whose values differ.

The field column stays put while the runs scroll sideways (left/right), so at 80 columns a
value is never read without its field name.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from mlopstui import text, timefmt
from mlopstui.cache import runs as run_store
from mlopstui.domain import Run

VALUE_LIMIT = 40  # a long param or tag is cut here: two runs still fit beside the fields
NAME_LIMIT = 24


def compare_rows(runs: list[Run], now_ms: int) -> list[tuple[str, list[str]]]:
    """(field, value per run) for attributes, params, metrics and user tags."""
    rows: list[tuple[str, list[str]]] = [
        ("status", [r.status for r in runs]),
        ("start", [timefmt.clock(r.start_time) for r in runs]),
        ("duration", [timefmt.duration(r.duration_ms(now_ms)) for r in runs]),
        ("user", [text.clean(r.user) for r in runs]),
        ("source", [text.clean(r.source) for r in runs]),
    ]
    for kind in ("params", "metrics", "tags"):
        keys = sorted({k for r in runs for k in getattr(r, kind)})
        for key in keys:
            if kind == "tags" and key.startswith("mlflow."):
                continue
            values = []
            for r in runs:
                v = getattr(r, kind).get(key)
                if kind == "metrics":
                    values.append("" if v is None else f"{v.value:.6g}")
                else:
                    values.append("" if v is None else text.clean(v, limit=VALUE_LIMIT))
            rows.append((f"{kind}.{text.clean(key)}", values))
    return rows


class CompareScreen(Screen[None]):
    """Runs as columns, fields as rows."""

    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("d", "differences", "Only differences"),
    ]

    def __init__(self, ctx: Any, run_ids: list[str]) -> None:
        super().__init__()
        self.ctx = ctx
        self.runs = [r for i in run_ids if (r := run_store.get_run(ctx.reader(), i))]
        self.only_differences = False

    def compose(self) -> ComposeResult:
        yield Static(id="compare-title")
        yield DataTable(zebra_stripes=True, cursor_type="row", fixed_columns=1)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("field", key="field")
        for r in self.runs:
            table.add_column(
                Text(text.clean(r.name, limit=NAME_LIMIT) or r.run_id[:8]), key=r.run_id
            )
        self.fill()
        table.focus()

    def fill(self) -> None:
        """(Re)fill the table for the current toggle."""
        table = self.query_one(DataTable)
        table.clear()
        shown = 0
        for field, values in compare_rows(self.runs, timefmt.now_ms()):
            differs = len(set(values)) > 1
            if self.only_differences and not differs:
                continue
            style = "bold yellow" if differs else ""
            table.add_row(
                Text(field, style="bold" if differs else "dim"),
                *[Text(v, style=style) for v in values],
                key=field,
            )
            shown += 1
        mode = "only differences" if self.only_differences else "all fields"
        self.query_one("#compare-title", Static).update(
            Text(
                f"Comparing {len(self.runs)} runs · {mode} ({shown} rows) · d toggles · ←→ scroll",
                style="bold",
            )
        )

    def action_differences(self) -> None:
        self.only_differences = not self.only_differences
        self.fill()
