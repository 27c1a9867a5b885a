"""The status bar: each source's feeds and their freshness, badges (the pinned context),
the read-only badge and notes.

Only minute-resolution times are shown, and the bar is rewritten only when its text changes,
so an idle workbench writes nothing to the terminal.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from mlopstui import text, timefmt
from mlopstui.domain import Freshness
from mlopstui.sources import StatusItem


def freshness_text(f: Freshness, now: float) -> tuple[str, str]:
    """('synced 10:42', 'ok') / ('failing since 10:42, showing cached data from 10:40',
    'error') / ('not synced yet', 'muted'). A failing feed never reads "synced": whatever
    else of its source answers, the bar says which feed fails (and the caller adds why)."""
    if f.state == "failing" and f.failing_since is not None:
        since = timefmt.clock(int(f.failing_since * 1000), with_date=False)
        cached = (
            f", showing cached data from {timefmt.clock(int(f.last_ok * 1000), with_date=False)}"
            if f.last_ok
            else ", nothing cached yet"
        )
        return f"failing since {since}{cached}", "error"
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
        items: list[tuple[StatusItem, Freshness | None]],
        read_only: bool,
        note: str | None,
        now: float,
    ) -> None:
        """Rewrite the bar if (and only if) its content changed. `items` are the sources'
        status entries, each with its feed's freshness (None for a badge)."""
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
        for item, f in items:
            if f is None:
                continue
            msg, kind = freshness_text(f, now)
            if line.plain.strip() and not line.plain.endswith(" "):
                line.append("  ")
            line.append("● " if kind != "error" else "✗ ", style=styles[kind])
            line.append(f"{text.clean(f.source, limit=32)} ", style="bold")
            if kind == "error" and f.failing_since is not None:
                # What fails and why first: at 80 columns the rest is cut, never the reason.
                since = timefmt.clock(int(f.failing_since * 1000), with_date=False)
                line.append(f"failing since {since}", style=styles[kind])
                job = f"{text.clean(f.failing_job, limit=24)}: " if f.failing_job else ""
                reason = text.clean(f.last_error or "no reason given", limit=100)
                label = text.clean(item.label, limit=40)
                if label and reason.startswith(label + " "):  # the server is named after it
                    reason = reason[len(label) + 1 :]
                line.append(f" — {job}{reason}", style="bold")
                cached = (
                    timefmt.clock(int(f.last_ok * 1000), with_date=False) if f.last_ok else None
                )
                line.append(
                    f" · {text.clean(item.label, limit=40)}"
                    + (f" · showing cached data from {cached}" if cached else " · nothing cached"),
                    style="dim",
                )
                continue
            line.append(text.clean(item.label, limit=40), style="dim")
            line.append(f" {msg}", style=styles[kind])
        for item, f in items:
            if f is not None:
                continue
            # A badge on every pane (the pinned Kubernetes context): danger in its colour.
            line.append(
                f"  {item.icon} " if item.icon else "  ", style="bold red" if item.danger else "dim"
            )
            line.append(
                text.clean(item.label, limit=32),
                style="bold white on red" if item.danger else "bold",
            )
        if note:
            line.append(f"  {text.clean(note)}", style="yellow")
        if line != self._last:
            self._last = line
            self.update(line, layout=False)
