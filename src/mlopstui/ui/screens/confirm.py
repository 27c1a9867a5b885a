"""ConfirmActionScreen: the exact change an action will make, where, and a yes or no.

What the person sees is the Plan the pipeline read from the live source: the title, the
target, the source (tracking server), `before -> after` and the plan's details. For the most
dangerous actions (`plan.confirm_phrase`) the phrase must be typed exactly before anything can
be confirmed. Every string comes from outside, so all of it is drawn as inert text.

PreparingActionScreen is pushed the moment an action key is pressed, while the live state is
read off the loop: a person who expects a typed confirmation starts typing the target's name at
once, and without a modal those letters would reach the pane behind as commands (`u` is
Uncordon). It takes every key until it is replaced by the confirmation, or, when there is
nothing to confirm (the preparation failed, nothing to do), until the person closes the one
line that says why with Esc or Enter.
"""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from mlopstui.actions import Action, Plan
from mlopstui.ui.inert import inert


class ConfirmActionScreen(ModalScreen[bool]):
    """y / Enter confirms, n / Esc cancels; with a phrase, Enter confirms once it matches."""

    DEFAULT_CSS = """
    ConfirmActionScreen { align: center middle; }
    ConfirmActionScreen > Vertical {
        width: 76; max-width: 96%; height: auto; max-height: 96%;
        border: round $warning; background: $surface; padding: 0 1;
    }
    ConfirmActionScreen.-dangerous > Vertical { border: round $error; }
    ConfirmActionScreen #confirm-title { text-style: bold; margin-bottom: 1; }
    ConfirmActionScreen #confirm-change { margin: 1 0; }
    ConfirmActionScreen #confirm-phrase { margin-top: 1; }
    ConfirmActionScreen #confirm-keys { margin-top: 1; }
    """
    BINDINGS = [
        Binding("y,enter", "confirm", "Confirm"),
        Binding("n,escape", "cancel", "Cancel"),
    ]
    ARM_AFTER = 0.4
    """Seconds after it opens before a key can confirm: an Enter pressed twice in the picker
    before it, or a key held down, must not confirm a change nobody has read."""

    def __init__(self, plan: Plan) -> None:
        super().__init__(classes="-dangerous" if plan.confirm_phrase else "")
        self.plan = plan
        self.typed = ""
        self._opened = time.monotonic()

    def compose(self) -> ComposeResult:
        plan = self.plan
        with Vertical():
            yield Static(inert(plan.title, limit=200), id="confirm-title")
            where = Table.grid(padding=(0, 2))
            where.add_column(style="dim", no_wrap=True)
            where.add_column()
            where.add_row("target", inert(plan.action.target, limit=200))
            source = inert(plan.source_label, "bold", limit=300)
            source.append_text(inert(f" ({plan.action.source})", "dim"))
            source.overflow = "fold"  # a long URI wraps whole, never cut
            where.add_row("source", source)
            yield Static(where, id="confirm-where")
            change = Table.grid(padding=(0, 1))
            change.add_column(no_wrap=True)
            change.add_column()
            change.add_row(Text("before", style="dim"), inert(plan.before, "bold red", limit=200))
            change.add_row(Text("after", style="dim"), inert(plan.after, "bold green", limit=200))
            yield Static(change, id="confirm-change")
            if plan.details:
                details = Text()
                for line in plan.details:
                    details.append("• ", style="dim")
                    details.append_text(inert(line, limit=300))
                    details.append("\n")
                details.rstrip()
                yield Static(details, id="confirm-details")
            if plan.confirm_phrase:
                prompt = Text("Type ", style="bold")
                prompt.append_text(inert(plan.confirm_phrase, "bold reverse"))
                prompt.append(" to confirm:", style="bold")
                yield Static(prompt, id="confirm-phrase")
                yield Input(id="confirm-input", compact=True, select_on_focus=False)
            yield Static(self._keys_text(), id="confirm-keys")

    def on_mount(self) -> None:
        if self.plan.confirm_phrase:
            box = self.query_one(Input)
            box.cursor_blink = False  # nothing blinks: snapshots and idle output stay still
            box.focus()

    def phrase_ok(self) -> bool:
        """Whether the typed phrase (if one is asked for) matches exactly."""
        if not self.plan.confirm_phrase:
            return True
        return self.typed == self.plan.confirm_phrase

    def _keys_text(self) -> Text:
        keys = Text()
        if self.plan.confirm_phrase:
            # The box takes y and n as text: only Enter and Esc work here.
            if self.phrase_ok():
                keys.append("Enter", style="bold cyan")
                keys.append(" confirm   ")
            else:
                keys.append("Enter confirms once the text matches   ", style="dim")
        else:
            keys.append("y", style="bold cyan")
            keys.append("/", style="dim")
            keys.append("Enter", style="bold cyan")
            keys.append(" confirm   ")
            keys.append("n", style="bold cyan")
            keys.append("/", style="dim")
        keys.append("Esc", style="bold cyan")
        keys.append(" cancel")
        return keys

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.typed = event.value
        self.query_one("#confirm-keys", Static).update(self._keys_text())

    def armed(self) -> bool:
        """Whether confirming is possible yet (see ARM_AFTER)."""
        return time.monotonic() - self._opened >= self.ARM_AFTER

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.typed = event.value
        if not self.armed():
            return
        if self.phrase_ok():
            self.dismiss(True)
        else:
            self.notify("The text does not match; nothing was changed yet.", severity="warning")

    def action_confirm(self) -> None:
        if self.armed() and self.phrase_ok():
            self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class PreparingActionScreen(ModalScreen[str]):
    """A modal that takes every key while an action is being prepared (see the module doc).

    Dismissed with CANCELLED (Esc while preparing), CLOSED (Esc or Enter once it shows why
    there is nothing to confirm) or HANDED_OVER (the flow replaced it with the confirmation).
    """

    CANCELLED = "cancelled"
    CLOSED = "closed"
    HANDED_OVER = "handed over"

    DEFAULT_CSS = """
    PreparingActionScreen { align: center middle; }
    PreparingActionScreen > Vertical {
        width: 76; max-width: 96%; height: auto; max-height: 96%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    PreparingActionScreen.-error > Vertical { border: round $error; }
    PreparingActionScreen #preparing-title { text-style: bold; }
    PreparingActionScreen #preparing-message { margin-top: 1; }
    PreparingActionScreen #preparing-keys { margin-top: 1; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("enter", "close_result", "Close", show=False),
    ]

    def __init__(self, action: Action) -> None:
        super().__init__()
        self.wanted = action
        self.reason: str | None = None
        """The line shown once preparing ended without a confirmation; None while preparing."""
        self.handed_over = False

    def compose(self) -> ComposeResult:
        with Vertical():
            title = Text("Checking ", style="bold")
            title.append_text(inert(self.wanted.target, "bold", limit=200))
            title.append("…", style="bold")
            yield Static(title, id="preparing-title")
            yield Static(Text("Reading the live state; keys wait here.", style="dim"),
                         id="preparing-message")  # fmt: skip
            yield Static(self._keys_text(), id="preparing-keys")

    def _keys_text(self) -> Text:
        keys = Text()
        if self.reason is not None:
            keys.append("Esc", style="bold cyan")
            keys.append("/", style="dim")
            keys.append("Enter", style="bold cyan")
            keys.append(" close")
        else:
            keys.append("Esc", style="bold cyan")
            keys.append(" cancel")
        return keys

    @property
    def waiting(self) -> bool:
        """Whether it still waits for the plan (not cancelled, closed or handed over)."""
        return self.reason is None and not self.handed_over and self.is_attached

    def show_result(self, message: str, severity: str = "error") -> None:
        """Preparing ended with nothing to confirm: say why in one line; keys still wait here
        until Esc or Enter."""
        self.reason = message
        self.set_class(severity == "error", "-error")
        if self.is_mounted:
            self.query_one("#preparing-message", Static).update(inert(message, limit=300))
            self.query_one("#preparing-keys", Static).update(self._keys_text())

    def on_mount(self) -> None:
        if self.reason is not None:  # the answer came before the first frame
            self.show_result(self.reason, "error" if self.has_class("-error") else "information")

    def on_screen_resume(self) -> None:
        # Replaced while another screen was on top of it: it goes once it is on top again.
        if self.handed_over:
            self.dismiss(self.HANDED_OVER)

    def hand_over(self) -> None:
        """The confirmation replaces it (now, or as soon as it is on top again)."""
        self.handed_over = True
        if self.app.screen is self:
            self.dismiss(self.HANDED_OVER)

    def action_close(self) -> None:
        self.dismiss(self.CANCELLED if self.reason is None else self.CLOSED)

    def action_close_result(self) -> None:
        # Enter typed ahead for a confirmation that is not there yet confirms nothing.
        if self.reason is not None:
            self.dismiss(self.CLOSED)
