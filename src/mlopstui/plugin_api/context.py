"""PaneContext: what a pane may do, and nothing more."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from mlopstui.domain import Freshness

if TYPE_CHECKING:
    from mlopstui.actions import Action, Outcome


class PaneContext(Protocol):
    """The facade every pane (built-in or plugin) receives as `self.ctx`."""

    read_only: bool
    """True when write actions are removed (global or for this pane's sources)."""

    def reader(self) -> sqlite3.Connection:
        """A read-only connection to the cache (shared on the UI thread; do not close it)."""
        ...

    def freshness(self, source: str) -> Freshness:
        """How fresh a feed's cached data is: the worst of its jobs, each failure streak ended
        only by a success of the same job (a heartbeat never hides a failing data pass)."""
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

    def allows(self, source: str, kind: str) -> bool:
        """Whether the action pipeline offers this action kind against this source now (False
        in read-only mode or where the source cannot do it). Offer a key or a palette command
        for an action only when this is True; hide it otherwise (`check_action` -> False)."""
        ...

    def request_action(
        self, action: Action, on_done: Callable[[Outcome | None], None] | None = None
    ) -> None:
        """Ask for a write. It goes through the action pipeline: the read-only gate, a read of
        the live state, a confirmation showing the exact change, a durable audit record, the
        change off the UI loop, a verifying re-read and a toast saying how it ended. A second
        request for the same target while one is under way is turned away.
        `on_done(outcome)` is called on the UI thread at the end; with None when nothing was
        run (refused, cancelled, could not be prepared)."""
        ...

    def source_label(self, source: str) -> str:
        """How a source is named on screen and in confirmations (e.g. the tracking server,
        without credentials); the name itself for an unknown source."""
        ...

    def source_info(self, source: str) -> dict[str, Any]:
        """What the session knows about a source, for display, as plain values ({} for an
        unknown one): `mlopstui.sources.SourceInfo.as_dict()` of that source: name, label,
        audit_label, configured, read_only, context, production, error, and the source's
        own details (Kubernetes: server; GPU metrics: prometheus, nvml, busy_threshold, idle_minutes, retention_days). The first
        call for the Kubernetes source reads the kubeconfig: never before the first frame."""
        ...
