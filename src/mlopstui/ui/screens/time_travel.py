"""Time travel for the GPU views: stepping "as of" back and forth, and typing a time.

`as_of` is None for live, else epoch seconds (whole minutes). The cache keeps GPU samples and
allocation history for `gpu.retention_days`, so stepping stops there.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from mlopstui import timefmt

STEP = 300
"""Seconds one `[` or `]` moves."""

_RELATIVE = re.compile(r"^-?\s*(\d+(?:\.\d+)?)\s*(m|min|h|d)?\s*(ago)?$")


def step(as_of: float | None, now: float, delta: float, oldest: float) -> float | None:
    """Move `as_of` by `delta` seconds, on whole minutes; None (live) once it reaches now."""
    base = now if as_of is None else as_of
    moved = base + delta
    moved -= moved % 60
    if moved >= now - 59:
        return None
    return max(moved, oldest - oldest % 60 + 60)


def label(as_of: float, now: float) -> str:
    """'11:15' today, '03-01 23:40' another day."""
    stamp = timefmt.clock(int(as_of * 1000))
    same_day = stamp[:10] == timefmt.clock(int(now * 1000))[:10]
    return stamp[11:] if same_day else stamp[5:]


def parse(value: str, now: float) -> float:
    """A time a person types: '03:12' (today, or yesterday when that is still to come),
    '2026-03-01 23:40', '90m', '-2h', '1d ago'. Raises ValueError with what is expected."""
    value = value.strip()
    found = _RELATIVE.match(value)
    if found:
        amount, unit = float(found.group(1)), found.group(2) or "m"
        seconds = amount * {"m": 60, "min": 60, "h": 3600, "d": 86400}[unit]
        return now - seconds
    current = datetime.fromtimestamp(now)
    for fmt in ("%H:%M", "%Y-%m-%d %H:%M", "%m-%d %H:%M"):
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if fmt == "%H:%M":
            parsed = current.replace(hour=parsed.hour, minute=parsed.minute, second=0)
            if parsed > current:
                parsed -= timedelta(days=1)
        elif fmt == "%m-%d %H:%M":
            parsed = parsed.replace(year=current.year)
        return parsed.timestamp()
    raise ValueError("type a time like 03:12, 2026-03-01 23:40, 90m or 2h")


class AsOfPrompt(ModalScreen[float | None]):
    """Ask for a time to show the GPU views as of; Enter goes there, Esc cancels."""

    DEFAULT_CSS = """
    AsOfPrompt { align: center middle; }
    AsOfPrompt > Vertical {
        width: 64; max-width: 95%; height: auto;
        border: round $primary; background: $surface; padding: 0 1;
    }
    AsOfPrompt Input { margin-top: 1; }
    AsOfPrompt #as-of-error { color: $error; }
    AsOfPrompt .form-hint { color: $text-muted; margin-top: 1; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, now: float, oldest: float) -> None:
        super().__init__()
        self.now = now
        self.oldest = oldest

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Show the GPU nodes as of…", style="bold"))
            yield Input(placeholder="03:12 · 2026-03-01 23:40 · 90m · 2h", compact=True)
            yield Static("", id="as-of-error")
            kept = label(self.oldest, self.now)
            yield Static(
                Text(f"History goes back to {kept} · Enter goes there · Esc cancels"),
                classes="form-hint",
            )

    def on_mount(self) -> None:
        box = self.query_one(Input)
        box.cursor_blink = False
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            when = parse(event.value, self.now)
        except ValueError as exc:
            self.query_one("#as-of-error", Static).update(Text(str(exc)))
            return
        if when > self.now:
            self.query_one("#as-of-error", Static).update(Text("That is still to come."))
            return
        if when < self.oldest:
            self.query_one("#as-of-error", Static).update(
                Text(f"No history before {label(self.oldest, self.now)} (retention).")
            )
            return
        self.dismiss(when - when % 60)
