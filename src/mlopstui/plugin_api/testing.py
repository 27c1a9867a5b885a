"""A test harness for panes: mount one pane over a cache, without the workbench.

    from mlopstui.plugin_api.testing import PaneHarness

    async def test_my_pane(tmp_path):
        cache = seed_runs(tmp_path / "cache.sqlite", [Experiment("1", "vision")],
                          [Run("r1", "1", "train", "FAILED", start_ms, end_ms, "ana")])
        async with PaneHarness(MyPane, cache).run_test() as pilot:
            ...

(`Experiment`, `Run`, `RegisteredModel`, `ModelVersion`: `mlopstui.plugin_api.data`.)
`seed_runs` and `seed_models` write a cache the way the sync does, and `SourceHarness` opens a
cache and the `SourceEnv` a plugin source gets, so a plugin's tests need nothing of `mlopstui`
beyond the plugin API:

    with SourceHarness(tmp_path / "cache.sqlite") as harness:
        source = MySource(harness.env({"url": ...}))
        ...                                       # harness.announced, harness.reader()

The harness gives the pane the same PaneContext contract the workbench does: read-only cache
access, notifications (kept in `notifications`), and `fetch`, which calls `fetcher` (a
function you pass) off the loop the way the workbench does (`mlopstui.ui.background`), so no
network is involved; `await harness.settled()` returns once no fetch is in flight.
Actions a pane requests are kept in `requested_actions` and never run; `allows()` is True
unless `read_only`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult

from mlopstui.cache import db, syncs
from mlopstui.cache import registry as registry_store
from mlopstui.cache import runs as run_store
from mlopstui.config import Settings
from mlopstui.domain import Experiment, Freshness, ModelVersion, RegisteredModel, Run
from mlopstui.sources import SourceEnv
from mlopstui.ui import background


def seed_runs(
    cache: Path,
    experiments: Iterable[Experiment] = (),
    runs: Iterable[Run] = (),
    *,
    synced_at: float | None = None,
) -> Path:
    """Write experiments and runs into the cache at `cache` (created with the current schema
    when missing) as an MLflow sync would, refreshing the experiments' run counts and last
    activity; returns `cache`. Call it again to add or update runs."""
    experiments, runs = list(experiments), list(runs)
    writer = db.Writer(db.open_writer(Path(cache)))
    try:
        with writer.transaction() as conn:
            run_store.upsert_experiments(conn, experiments)
            run_store.upsert_runs(conn, runs, time.time() if synced_at is None else synced_at)
            run_store.refresh_experiment_stats(
                conn, {e.experiment_id for e in experiments} | {r.experiment_id for r in runs}
            )
    finally:
        writer.close()
    return Path(cache)


def seed_models(
    cache: Path, models: Iterable[RegisteredModel], versions: Iterable[ModelVersion] = ()
) -> Path:
    """Make `models` and `versions` the cached model registry (a whole snapshot, as a registry
    sync writes it); returns `cache`."""
    writer = db.Writer(db.open_writer(Path(cache)))
    try:
        with writer.transaction() as conn:
            registry_store.replace_registry(conn, list(models), list(versions), now=time.time())
    finally:
        writer.close()
    return Path(cache)


class SourceHarness:
    """A cache with its one writer, and the `SourceEnv` a plugin source is opened with, as the
    workbench gives it (default settings; no UI). `announced` keeps every `announce(feed,
    topics)`; `close()` (or leaving the `with` block) closes the writer."""

    def __init__(self, cache: Path) -> None:
        self.path = Path(cache)
        self.writer = db.Writer(db.open_writer(self.path))
        self.announced: list[tuple[str, set[str]]] = []

    def env(self, config: Mapping[str, Any] | None = None, *, user: str = "tester") -> SourceEnv:
        """The environment for a source whose `[sources.<name>]` section is `config`."""
        return SourceEnv(
            settings=Settings(),
            config=dict(config or {}),
            writer=self.writer,
            reader=self.reader,
            announce=self.announce,
            user=user,
        )

    def reader(self) -> sqlite3.Connection:
        """A new read-only connection to the cache (close it when done)."""
        return db.open_reader(self.path)

    def announce(self, feed: str, topics: set[str]) -> None:
        self.announced.append((feed, set(topics)))

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> SourceHarness:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
