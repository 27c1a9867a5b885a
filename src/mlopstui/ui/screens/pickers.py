"""Small modal pickers: the sort column and the column chooser."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, SelectionList
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from mlopstui import text
from mlopstui.cache.runs import KINDS
from mlopstui.ui.inert import inert
from mlopstui.ui.widgets import run_cells

BASE_CHOICES = ["name", "status", "start_time", "end_time", "duration", "user", "source"]

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 60; max-width: 95%; height: auto; max-height: 90%;
    border: round $primary; background: $surface; padding: 0 1;
}}
{name} OptionList, {name} SelectionList {{ height: auto; max-height: 20; }}
"""


def _describe(column: str) -> str:
    for kind in KINDS:
        if column.startswith(kind + "."):
            return f"{kind[:-1] if kind != 'metrics' else 'metric'}: {text.clean(column[len(kind) + 1 :])}"
    return run_cells.label(column)


class SortPicker(ModalScreen[str | None]):
    """Choose the column to sort by."""

    DEFAULT_CSS = _CSS.format(name="SortPicker")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, columns: list[str], current: str) -> None:
        super().__init__()
        self.columns = columns
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Sort by (Enter chooses; the same column again reverses)")
            yield OptionList(*[Option(inert(_describe(c)), id=c) for c in self.columns])

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        if self.current in self.columns:
            ol.highlighted = self.columns.index(self.current)
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class ColumnPicker(ModalScreen[list[str] | None]):
    """Choose the shown columns: attributes, params, metrics and tags of the experiment."""

    DEFAULT_CSS = _CSS.format(name="ColumnPicker")
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        # priority: the SelectionList would otherwise take Enter to toggle the highlighted row.
        Binding("enter", "apply", "Apply", priority=True),
    ]

    def __init__(self, keys: dict[str, list[str]], current: list[str]) -> None:
        super().__init__()
        self.current = current
        choices = list(BASE_CHOICES)
        for kind in ("metrics", "params", "tags"):
            choices += [f"{kind}.{k}" for k in keys.get(kind, []) if not k.startswith("mlflow.")]
        # Shown columns first, in their order, then the rest.
        self.choices = [c for c in current if c in choices] + [
            c for c in choices if c not in current
        ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Columns: space toggles, Enter applies, Esc cancels")
            yield SelectionList[str](
                *[Selection(inert(_describe(c)), c, c in self.current) for c in self.choices]
            )

    def on_mount(self) -> None:
        self.query_one(SelectionList).focus()

    def action_apply(self) -> None:
        selected = set(self.query_one(SelectionList).selected)
        self.dismiss([c for c in self.choices if c in selected] or None)
