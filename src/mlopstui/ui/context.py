"""The PaneContext the app hands each pane: cache reads, on-demand fetches, toasts, actions."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlopstui import text
from mlopstui.domain import Freshness
from mlopstui.ui import background

if TYPE_CHECKING:
    from mlopstui.actions import Action, Outcome
    from mlopstui.ui.app import MlopsApp


class AppPaneContext:
    """One per pane; holds no reference a pane could use to reach the App directly."""

    def __init__(self, app: MlopsApp, pane_id: str, read_only: bool) -> None:
        self._app = app
        self._pane_id = pane_id
        self.read_only = read_only

    def reader(self) -> sqlite3.Connection:
        return self._app.reader

    def freshness(self, source: str) -> Freshness:
        return self._app.workbench.freshness(source, self._app.reader)

    def fetch(self, what: str, on_done: Callable[[Any], None], /, **kwargs: Any) -> None:
        background.run_fetch(self._app, self._app.fetcher, what, on_done, **kwargs)

    def notify(self, message: str, *, severity: str = "information") -> None:
        self._app.notify(text.clean(message), severity=severity, markup=False)  # type: ignore[arg-type]

    def config(self) -> dict[str, Any]:
        return dict(self._app.settings.panes.get(self._pane_id, {}))

    def request_sync(self, source: str | None = None) -> None:
        self._app.sync_now(source)

    def allows(self, source: str, kind: str) -> bool:
        if self.read_only:
            return False
        return self._app.pipeline.allows(source, kind)

    def request_action(
        self, action: Action, on_done: Callable[[Outcome | None], None] | None = None
    ) -> None:
        self._app.actions.request(action, on_done)

    def source_label(self, source: str) -> str:
        found = self._app.workbench.sources.get(source)
        return source if found is None else (found.info().audit_label or source)

    def source_info(self, source: str) -> dict[str, Any]:
        found = self._app.workbench.sources.get(source)
        return {} if found is None else found.info().as_dict()
