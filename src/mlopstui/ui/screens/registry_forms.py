"""Small modals that collect what a registry action needs: an alias, a tag key, a tag value.

They only ask; the action itself (and its confirmation) goes through the pipeline afterwards.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from mlopstui import text
from mlopstui.ui.inert import inert

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 64; max-width: 95%; height: auto; max-height: 90%;
    border: round $primary; background: $surface; padding: 0 1;
}}
{name} OptionList {{ height: auto; max-height: 12; }}
{name} Input {{ margin-top: 1; }}
{name} .form-hint {{ color: $text-muted; margin-top: 1; }}
"""


class ChoicePicker(ModalScreen[str | None]):
    """Pick one of `choices` ((value, note) pairs) or, with `allow_new`, type a new value.

    Enter picks, Tab moves between the list and the box, Esc cancels.
    """

    DEFAULT_CSS = _CSS.format(name="ChoicePicker")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(
        self,
        prompt: str,
        choices: list[tuple[str, str]],
        *,
        allow_new: bool = False,
        new_placeholder: str = "or type a new one, Enter",
    ) -> None:
        super().__init__()
        self.prompt = prompt
        self.choices = choices
        self.allow_new = allow_new
        self.new_placeholder = new_placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(inert(self.prompt, "bold", limit=200))
            options = []
            pad = max((len(text.clean(v, limit=40)) for v, _ in self.choices), default=0)
            for value, note in self.choices:
                label = inert(value, limit=40)
                if note:
                    label.pad_right(pad - label.cell_len)
                    label.append_text(inert(f"  {note}", "dim", limit=60))
                options.append(Option(label))
            if options:
                yield OptionList(*options)
            if self.allow_new:
                yield Input(placeholder=self.new_placeholder, compact=True)
            hint = (
                "Enter picks · Tab moves · Esc cancels"
                if self.allow_new
                else "Enter picks · Esc cancels"
            )
            yield Static(Text(hint), classes="form-hint")

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = False
        if self.choices:
            self.query_one(OptionList).focus()
        elif self.allow_new:
            self.query_one(Input).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.choices[event.option_index][0])

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if value:
            self.dismiss(value)


class TagForm(ModalScreen[tuple[str, str] | None]):
    """A tag key and value: Enter in the key moves to the value, Enter in the value submits."""

    DEFAULT_CSS = _CSS.format(name="TagForm")
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        # priority: handled as the key arrives, so what is typed right after Enter lands in
        # the value (an Input's own Enter is answered a turn later, after those keys).
        Binding("enter", "enter", "Next / submit", priority=True, show=False),
    ]

    def __init__(self, prompt: str, key: str = "", value: str = "") -> None:
        super().__init__()
        self.prompt = prompt
        self.key = key
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(inert(self.prompt, "bold", limit=200))
            yield Input(self.key, placeholder="key", id="tag-key", compact=True)
            yield Input(self.value, placeholder="value", id="tag-value", compact=True)
            yield Static(
                Text("Enter moves on, then submits · Tab moves · Esc cancels"),
                classes="form-hint",
            )

    def on_mount(self) -> None:
        for box in self.query(Input):
            box.cursor_blink = False
        self.query_one("#tag-key", Input).focus()

    def action_enter(self) -> None:
        key_box = self.query_one("#tag-key", Input)
        key = key_box.value.strip()
        if not key:
            self.notify("A tag needs a key.", severity="warning")
            self.set_focus(key_box)
            return
        if self.focused is key_box:
            self.set_focus(self.query_one("#tag-value", Input))
            return
        value = self.query_one("#tag-value", Input).value
        # Typed or pasted text: control characters never go to the registry.
        self.dismiss((text.clean(key), text.clean(value)))
