"""The PaneContext the app hands each pane: cache reads, on-demand fetches, toasts."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlopstui import text
from mlopstui.cache import syncs
from mlopstui.domain import Freshness

if TYPE_CHECKING:
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
        return syncs.freshness(self._app.reader, source)

    def fetch(self, what: str, on_done: Callable[[Any], None], /, **kwargs: Any) -> None:
        app = self._app

        def work() -> None:
            try:
                result: Any = app.fetcher(what, **kwargs)
            except Exception as exc:  # handed to the pane, which shows it
                result = exc
            app.call_from_thread(on_done, result)

        threading.Thread(target=work, name=f"fetch-{what}", daemon=True).start()

    def notify(self, message: str, *, severity: str = "information") -> None:
        self._app.notify(text.clean(message), severity=severity, markup=False)  # type: ignore[arg-type]

    def config(self) -> dict[str, Any]:
        return {}

    def request_sync(self, source: str | None = None) -> None:
        self._app.sync_now(source)
