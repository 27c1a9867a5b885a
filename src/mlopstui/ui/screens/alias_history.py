"""Alias history: every recorded move of one model's aliases, newest first.

MLflow keeps no alias history; this is what the cache recorded: moves made here (promote,
rollback, delete, with who made them) and moves the sync noticed (observed; `seen` when the
alias was first cached).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from mlopstui import text, timefmt
from mlopstui.cache import registry as reg_store
from mlopstui.domain import AliasMove
from mlopstui.ui.inert import inert

HOW = {
    "promote": ("promote (here)", "bold green"),
    "rollback": ("rollback (here)", "bold yellow"),
    "delete": ("delete (here)", "bold red"),
    "observed": ("observed by sync", "cyan"),
    "seen": ("seen at first sync", "dim"),
}


def move_cells(move: AliasMove) -> list[Text]:
    """One row: when, alias, from -> to, who, how."""
    change = Text(f"v{move.from_version}" if move.from_version else "(not set)")
    change.append(" → ", style="dim")
    change.append(f"v{move.to_version}" if move.to_version else "(not set)", style="bold")
    label, style = HOW.get(move.how, (text.clean(move.how), ""))
    return [
        Text(timefmt.clock(int(move.at * 1000)) or "—"),
        inert(move.alias, "bold", limit=30),
        change,
        inert(move.who or "—", "" if move.who else "dim", limit=20),
        Text(label, style=style),
    ]


class AliasHistoryScreen(Screen[None]):
    """The alias moves of one model."""

    DEFAULT_CSS = """
    AliasHistoryScreen #history-title { height: auto; padding: 0 1; }
    AliasHistoryScreen DataTable { height: 1fr; }
    """
    BINDINGS = [Binding("escape,q", "app.pop_screen", "Back")]

    def __init__(self, ctx: Any, model: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.model_name = model

    def compose(self) -> ComposeResult:
        yield Static(id="history-title")
        yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        moves = reg_store.alias_history(self.ctx.reader(), self.model_name, limit=1000)
        title = Text("Alias history of ", style="bold")
        title.append_text(inert(self.model_name, "bold", limit=60))
        title.append(f" · {len(moves)} moves, newest first", style="dim")
        if not moves:
            title.append(
                "\nNo alias moves recorded yet: moves made here and changes the sync notices "
                "are recorded from the first sync on (MLflow itself keeps no alias history).",
                style="dim",
            )
        self.query_one("#history-title", Static).update(title)
        table = self.query_one(DataTable)
        for label in ("When", "Alias", "From → to", "Who", "How"):
            table.add_column(Text(label))
        for i, move in enumerate(moves):
            table.add_row(*move_cells(move), key=str(i))
        table.focus()
