"""The Pane base class every pane (built-in or plugin) derives from, and PaneCommand.

The only Textual module of the plugin API besides the test harness: `mlopstui.plugin_api`
loads it on first access to `Pane`/`PaneCommand`, so importing the plugin API stays headless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from textual.widget import Widget

from mlopstui.plugin_api.context import PaneContext


@dataclass(frozen=True)
class PaneCommand:
    """A command a pane offers in the command palette."""

    title: str
    help: str
    callback: Callable[[], object]


class Pane(Widget):
    """A full-height view in the workbench's pane switcher.

    Subclasses set `pane_id`, `title`, `topics` (cache topics they read) and `api_version`
    (`= mlopstui.plugin_api.API_VERSION`; there is no inherited default, so a pane that does
    not declare the version it was written for is refused when the panes load), implement
    `compose()`, and react to `on_topics_changed()`.
    """

    DEFAULT_CSS = """
    Pane { height: 1fr; width: 1fr; }
    """

    pane_id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    topics: ClassVar[frozenset[str]] = frozenset()
    api_version: ClassVar[int]  # declared by every subclass; no default

    def __init__(self, ctx: PaneContext) -> None:
        super().__init__(id=f"pane-{self.pane_id}")
        self.ctx = ctx

    def on_topics_changed(self, topics: set[str]) -> None:
        """The cache changed for some of this pane's topics: re-read what is shown."""

    def commands(self) -> list[PaneCommand]:
        """Commands for the palette while this pane is shown."""
        return []

    def sync_hints(self) -> dict[str, str]:
        """What this pane shows, per source name, so sync fetches that first when it starts
        (the experiments pane maps the MLflow source to the experiment on screen; see
        `Source.focus`)."""
        return {}

    def focus_default(self) -> None:
        """Focus the pane's main widget (called when the pane is shown)."""
        self.focus()
