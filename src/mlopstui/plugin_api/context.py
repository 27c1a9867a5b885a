"""PaneContext: what a pane may do, and nothing more."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, Protocol

from mlopstui.domain import Freshness


class PaneContext(Protocol):
    """The facade every pane (built-in or plugin) receives as `self.ctx`."""

    read_only: bool
    """True when write actions are removed (global or for this pane's sources)."""

    def reader(self) -> sqlite3.Connection:
        """A read-only connection to the cache (shared on the UI thread; do not close it)."""
        ...

    def freshness(self, source: str) -> Freshness:
        """How fresh a source's cached data is."""
        ...

    def fetch(self, what: str, on_done: Callable[[Any], None], /, **kwargs: Any) -> None:
        """Ask the workbench for on-demand data ('metric_history', 'artifacts') off the UI
        loop; `on_done(result_or_exception)` is called on the UI thread."""
        ...

    def notify(self, message: str, *, severity: str = "information") -> None:
        """Show a toast (the message is sanitised)."""
        ...

    def config(self) -> dict[str, Any]:
        """This pane's own section of the config file ([panes.<pane_id>])."""
        ...

    def request_sync(self, source: str | None = None) -> None:
        """Sync a source now instead of at its next interval."""
        ...
