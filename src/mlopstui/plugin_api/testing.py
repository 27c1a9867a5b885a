"""A test harness for panes: mount one pane over a cache, without the workbench.

    from mlopstui.plugin_api.testing import PaneHarness

    async def test_my_pane(tmp_path):
        cache = make_cache(tmp_path)             # build it with mlopstui.cache.* writers
        async with PaneHarness(MyPane, cache).run_test() as pilot:
            ...

The harness gives the pane the same PaneContext contract the workbench does: read-only cache
access, notifications (kept in `notifications`), and `fetch`, which calls `fetcher` (a
function you pass) off the loop the way the workbench does (`mlopstui.ui.background`), so no
network is involved; `await harness.settled()` returns once no fetch is in flight.
Actions a pane requests are kept in `requested_actions` and never run; `allows()` is True
unless `read_only`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult

from mlopstui.cache import db, syncs
from mlopstui.domain import Freshness
from mlopstui.ui import background


class HarnessContext:
    """PaneContext for tests."""

    def __init__(self, app: PaneHarness, cache: Path, read_only: bool) -> None:
        self._app = app
        self._conn = db.open_reader(cache)
        self.read_only = read_only

    def reader(self) -> sqlite3.Connection:
        return self._conn

    def freshness(self, source: str) -> Freshness:
        return syncs.freshness(self._conn, source)

    def fetch(self, what: str, on_done: Callable[[Any], None], /, **kwargs: Any) -> None:
        background.run_fetch(self._app, self._app.fetcher, what, on_done, **kwargs)

    def notify(self, message: str, *, severity: str = "information") -> None:
        self._app.notifications.append((severity, message))

    def config(self) -> dict[str, Any]:
        return dict(self._app.pane_config)

    def request_sync(self, source: str | None = None) -> None:
        self._app.sync_requests.append(source)

    def allows(self, source: str, kind: str) -> bool:
        return not self.read_only

    def request_action(self, action: Any, on_done: Callable[[Any], None] | None = None) -> None:
        self._app.requested_actions.append(action)

    def source_label(self, source: str) -> str:
        return source

    def source_info(self, source: str) -> dict[str, Any]:
        return {}  # no sources configured in the harness


class PaneHarness(App):
    """An App holding exactly one pane."""

    def __init__(
        self,
        pane_cls: type,
        cache: Path,
        *,
        read_only: bool = False,
        fetcher: Callable[..., Any] | None = None,
        pane_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        # The cache must exist with the current schema, as the workbench would leave it.
        db.open_writer(Path(cache)).conn.close()
        self.fetcher = fetcher or (lambda what, **kw: None)
        self.pane_config = pane_config or {}
        self.notifications: list[tuple[str, str]] = []
        self.sync_requests: list[str | None] = []
        self.requested_actions: list[Any] = []
        self.ctx = HarnessContext(self, Path(cache), read_only)
        self.pane = pane_cls(self.ctx)

    def compose(self) -> ComposeResult:
        yield self.pane

    async def settled(self, timeout: float = 10.0) -> None:
        """Return once no fetch is in flight and its on_done has run (TimeoutError after
        `timeout` seconds, naming what is still running)."""
        await background.settled(self, timeout)

    def topics_changed(self, topics: set[str]) -> None:
        """Tell the pane its topics changed, as a sync would."""
        self.pane.on_topics_changed(topics)
