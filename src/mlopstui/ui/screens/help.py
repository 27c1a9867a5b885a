"""`?`: every key binding of the app, the pane on screen and its widgets."""

from __future__ import annotations

from collections.abc import Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from mlopstui.plugin_api.pane import Pane
from mlopstui.ui.widgets.runs_table import RunsTable

FILTER_HELP = """Filter syntax (MLflow search, answered from the cache):
  metrics.val_acc > 0.9 and params.lr = '0.01'
  tags.team = 'nlp'    attributes.status = 'FAILED'
  attributes.run_name LIKE 'bert%'    tags.env IN ('prod', 'staging')
Anything else is plain text, searched in run names and tags."""


def _bindings(items: Iterable[BindingType]) -> list[Binding]:
    """Bindings as Binding objects (BINDINGS may also hold (key, action[, description]))."""
    return [b if isinstance(b, Binding) else Binding(*b) for b in items]


def _rows(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    out = []
    for b in _bindings(bindings):
        if not b.description:
            continue
        keys = b.key_display or ", ".join(k.replace("_", " ") for k in b.key.split(","))
        out.append((keys, b.tooltip or b.description))
    return out


class HelpScreen(ModalScreen[None]):
    """A scrollable list of bindings; Esc, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 90; height: 90%; border: round $primary; padding: 0 1;
        background: $surface;
    }
    """
    BINDINGS = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def __init__(self, pane: Pane | None) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        from mlopstui.ui.app import MlopsApp

        sections: list[tuple[str, list[tuple[str, str]]]] = [
            ("Everywhere", _rows(MlopsApp.BINDINGS))
        ]
        sections.append(
            ("Switch panes", [("1 … 9", "go to pane n"), ("ctrl+p", "command palette")])
        )
        if self.pane is not None:
            # Only what works now: a write key removed in read-only mode is not listed, and
            # the pane's shortcuts to app actions are already under "Everywhere".
            pane = self.pane
            offered = [
                b
                for b in _bindings(type(pane).BINDINGS)
                if not b.action.startswith("app.")
                and pane.check_action(b.action.split("(")[0], ()) is not False
            ]
            sections.append((pane.title, _rows(offered)))
            extra = list(getattr(pane, "HELP_EXTRA", ()))
            if extra:
                sections.append(("", extra))
            if self.pane.query(RunsTable):
                sections.append(("Runs table", _rows(RunsTable.BINDINGS)))
                sections.append(
                    ("", [("↑ ↓ PgUp PgDn Home End, j k g G", "move"), ("click a header", "sort")])
                )
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for title, rows in sections:
            if title:
                table.add_row(Text(title, style="bold underline"), "")
            for key, desc in rows:
                table.add_row(key, desc)
            table.add_row("", "")
        with VerticalScroll():
            yield Static(Text("Keys", style="bold"))
            yield Static(table)
            if self.pane is not None and self.pane.pane_id == "experiments":
                yield Static(Text(FILTER_HELP))
            yield Static(Text("\nEsc closes this help.", style="dim"))
