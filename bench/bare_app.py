"""The baseline for first-frame time: a bare Textual app with one Static.

run_bench.py starts this exactly as it starts mlopstui (same interpreter, same pty, same
size) and reports mlopstui's first frame as a ratio of this one's.
"""

from textual.app import App, ComposeResult
from textual.widgets import Static

MARKER = "bare textual app ready"


class BareApp(App):
    """One Static; ctrl+q quits (Textual's default binding)."""

    def compose(self) -> ComposeResult:
        yield Static(MARKER)


if __name__ == "__main__":
    BareApp().run()
