"""The status bar: tracking server, freshness per source, read-only badge, cache notes.

Only minute-resolution times are shown, and the bar is rewritten only when its text changes,
so an idle workbench writes nothing to the terminal.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mlopstui import text, timefmt
from mlopstui.domain import Freshness


def freshness_text(f: Freshness, now: float) -> tuple[str, str]:
    """('synced 10:42', 'ok') / ('unreachable since 10:42, showing cached data from 10:40',
    'error') / ('not synced yet', 'muted')."""
    if f.state == "failing":
        since = timefmt.clock(int(f.failing_since * 1000), with_date=False)
        cached = (
            f", showing cached data from {timefmt.clock(int(f.last_ok * 1000), with_date=False)}"
            if f.last_ok
            else ", nothing cached yet"
        )
        return f"unreachable since {since}{cached}", "error"
    if f.state == "never":
        return "syncing…", "muted"
    age = now - (f.last_ok or now)
    stamp = timefmt.clock(int((f.last_ok or now) * 1000), with_date=False)
    if age > 300:
        return f"synced {stamp} ({int(age // 60)} min ago)", "warning"
    return f"synced {stamp}", "ok"


class StatusBar(Static):
    """One line at the bottom of the screen."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1; background: $panel; color: $text; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="status-bar")
        self._last: Text | None = None

    def show(
        self,
        *,
        server: str,
        freshness: list[Freshness],
        read_only: bool,
        note: str | None,
        now: float,
        kube_context: str | None = None,
        kube_production: bool = False,
    ) -> None:
        """Rewrite the bar if (and only if) its content changed."""
        styles = {
            "ok": "green",
            "error": "bold red",
            "warning": "yellow",
            "muted": "dim",
        }
        line = Text(no_wrap=True, overflow="ellipsis")
        if read_only:
            line.append(" READ-ONLY ", style="bold black on yellow")
            line.append(" ")
        for f in freshness:
            msg, kind = freshness_text(f, now)
            line.append("● " if kind != "error" else "✗ ", style=styles[kind])
            line.append(f"{f.source} ", style="bold")
            line.append(text.clean(server, limit=40), style="dim")
            line.append(f" {msg}", style=styles[kind])
            if kind == "error" and f.last_error:
                line.append(f" — {text.clean(f.last_error, limit=80)}", style="dim")
        if kube_context:
            # The pinned Kubernetes context, on every pane: production in the danger colour.
            line.append("  ⎈ ", style="bold red" if kube_production else "dim")
            line.append(
                text.clean(kube_context, limit=32),
                style="bold white on red" if kube_production else "bold",
            )
        if note:
            line.append(f"  {text.clean(note)}", style="yellow")
        if line != self._last:
            self._last = line
            self.update(line, layout=False)
