"""The workbench App: pane switcher, status bar, palette, help. Handlers live in the panes."""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import ContentSwitcher, Footer, Static, Tab, Tabs

from mlopstui import text, timefmt
from mlopstui.cache import db
from mlopstui.config import Settings
from mlopstui.domain import Freshness
from mlopstui.plugin_api import API_VERSION
from mlopstui.plugin_api import catalog as pane_catalog
from mlopstui.plugin_api.pane import Pane
from mlopstui.sources import StatusItem
from mlopstui.ui.actions import ActionFlow
from mlopstui.ui.context import AppPaneContext
from mlopstui.ui.resources import styles_dir, themes
from mlopstui.ui.status import StatusBar
from mlopstui.workbench import Workbench

if TYPE_CHECKING:
    from mlopstui.actions.pipeline import Pipeline


class SyncChanged(Message):
    """Posted from sync threads: topics of a source changed in the cache.

    Bursts coalesce into one message (topics merged) while the UI is busy.
    """

    def __init__(self, source: str, topics: set[str]) -> None:
        super().__init__()
        self.source = source
        self.topics = set(topics)

    def can_replace(self, message: Message) -> bool:
        if isinstance(message, SyncChanged) and message.source == self.source:
            message.topics |= self.topics
            return True
        return False


class CacheReplaced(Message):
    """Posted from the thread that found the cache damaged: it was moved aside and rebuilt."""


class MlopsApp(App):
    """The full-screen workbench."""

    CSS_PATH = str(styles_dir() / "app.tcss")
    TITLE = "mlopstui"
    ENABLE_COMMAND_PALETTE = True
    # Under 100 columns the screen gets `-narrow`: the context label and the experiment list
    # make room for the runs table (styles/app.tcss).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("ctrl+r", "sync_now", "Sync", key_display="^r", show=False),
        Binding("A", "audit", "Audit log", show=False),
        *[Binding(str(n), f"goto({n})", "", show=False) for n in range(1, 10)],
    ]

    def __init__(
        self,
        workbench: Workbench,
        *,
        start_sync: bool = True,
        fetcher: Any = None,
        pipeline: Pipeline | None = None,
    ) -> None:
        super().__init__()
        self.workbench = workbench
        self._pipeline = pipeline
        self._pipeline_lock = threading.Lock()
        self.actions = ActionFlow(self)
        self.settings: Settings = workbench.settings
        self.start_sync = start_sync
        self.reader = workbench.reader()
        self._reader_generation = workbench.generation
        self._reopening = False
        self.fetcher = fetcher or OnDemand(workbench)
        self.panes: list[Pane] = []
        self._pane_ids: set[str] = set()
        self.failures: list[pane_catalog.PaneFailure] = []
        self._theme_error: str | None = None
        # Themes before the first frame: setting one in on_mount re-styles and redraws it all.
        for theme in themes():
            self.register_theme(theme)
        try:
            self.theme = self.settings.ui.theme
        except Exception:
            self._theme_error = f"Unknown theme {self.settings.ui.theme!r}; using textual-dark"
            self.theme = "textual-dark"
        else:
            self._theme_error = None

    # ------------------------------------------------------------------ layout

    def _add_panes(self, entries: list[Any]) -> list[Pane]:
        """Import and construct the panes of `entries` (not mounted); failures are kept."""
        classes, failures = pane_catalog.load(API_VERSION, entries, self._pane_ids)
        self.failures += failures
        added = []
        for cls in classes:
            # The global switch; per-source switches and production contexts are the
            # pipeline's (`ctx.allows(source, kind)`), so [mlflow] read_only never hides cordon.
            read_only = self.settings.read_only
            added.append(cls(AppPaneContext(self, cls.pane_id, read_only)))
        self.panes += added
        return added

    def compose(self) -> ComposeResult:
        # Built-in panes only: plugin panes are imported after the first frame. Only the
        # start pane mounts now; the others mount when first shown.
        self._add_panes(pane_catalog.builtin_entry_points())
        start = self._start_pane()
        with Horizontal(id="top-bar"):
            yield Tabs(
                *[
                    Tab(f"{i}·{p.title}", id=f"tab-{p.pane_id}")
                    for i, p in enumerate(self.panes, 1)
                ],
                id="pane-tabs",
            )
            yield Static(self._context_text(), id="context")
        with ContentSwitcher(id="panes", initial=start):
            yield from [p for p in self.panes if p.id == start]
        yield StatusBar()
        yield Footer(compact=True)

    def _start_pane(self) -> str | None:
        wanted = f"pane-{self.settings.ui.start_pane}"
        ids = [p.id for p in self.panes]
        return wanted if wanted in ids else (ids[0] if ids else None)

    def _context_text(self) -> Text:
        label = Text(no_wrap=True, overflow="ellipsis", justify="right")
        for source in self.workbench.sources:
            headline = source.headline()
            if headline:
                label.append(f"{source.name} ", style="dim")
                label.append(text.clean(headline, limit=48))
                break
        if self.settings.read_only:
            label.append(" READ-ONLY", style="bold yellow")
        return label

    def on_mount(self) -> None:
        if self._theme_error:
            self.notify(self._theme_error, severity="warning", markup=False)
        self._report_failures("pane", self.failures)
        start = self._start_pane()
        if start:
            self.query_one(Tabs).active = start.replace("pane-", "tab-")
        self._refresh_status_safely()
        # Sync and the action pipeline's resync both announce changed topics here (even with
        # sync off, an action's own change reaches the panes).
        self.workbench.scheduler.listeners.append(self._announced)
        self.workbench.writer.on_rebuilt.append(self._cache_replaced)
        if self.workbench.note:
            self.notify(
                text.clean(self.workbench.note), severity="warning", timeout=15, markup=False
            )
        # After the first frame: sync (and the MLflow import it may do) never delays it.
        self.call_after_refresh(self._after_first_frame)
        # Minute-resolution freshness ("synced 10:42 (12 min ago)") changes at most once a
        # minute; the bar writes nothing when its text is unchanged.
        self.set_interval(30, self._refresh_status_safely)

    @property
    def pipeline(self) -> Pipeline:
        """The action pipeline every write of this session goes through (built on first use;
        the workbench's own when it has one)."""
        with self._pipeline_lock:
            if self._pipeline is None:
                self._pipeline = self.workbench.pipeline
            return self._pipeline

    def _after_first_frame(self) -> None:
        import gc

        # Everything allocated so far lives as long as the app: move it out of the collector's
        # reach, or full collections of it cost 30-50 ms pauses on keypresses (bench p99).
        # Sync first: the first page of runs is on its way while the collector runs.
        if self.start_sync:
            self._start_sync()
        self._load_plugin_panes()
        gc.collect()
        gc.freeze()
        self.actions.check_unresolved()

    def _fatal_error(self) -> None:
        """An unhandled exception ends the app with status 1 (Textual's rule). Textual would
        print a traceback with local values (a token among them, perhaps); it goes to the
        private log instead, and the terminal gets one sentence that says where."""
        import logging

        from mlopstui import paths

        error = sys.exc_info()[1] or self._exception
        logging.getLogger("mlopstui").error("the workbench crashed", exc_info=error)
        reason = text.redact(text.clean(f"{type(error).__name__}: {error}", limit=200))
        self.bell()
        self._exit_renderables.append(
            Text(
                f"mlopstui: the workbench stopped on an unexpected error ({reason}); "
                f"the details are in {paths.log_file()}; please report it"
            )
        )
        self._close_messages_no_wait()

    def _load_plugin_panes(self) -> None:
        """Import the plugin panes (after the first frame) and give each a tab."""
        reported = len(self.failures)
        tabs = self.query_one(Tabs)
        added = self._add_panes(pane_catalog.plugin_entry_points())
        for pane in added:
            number = self.panes.index(pane) + 1
            tabs.add_tab(Tab(f"{number}·{pane.title}", id=f"tab-{pane.pane_id}"))
        self._report_failures("pane", self.failures[reported:])
        wanted = self.settings.ui.start_pane
        if any(p.pane_id == wanted for p in added):
            tabs.active = f"tab-{wanted}"  # a plugin pane as [ui] start_pane

    def _report_failures(self, kind: str, failures: list[pane_catalog.PaneFailure]) -> None:
        """Plugin panes or sources that failed to load: stderr and one toast each."""
        for failure in failures:
            message = f"Plugin {kind} {failure.name} ({failure.target}) skipped: {failure.reason}"
            print(f"mlopstui: {text.clean(message)}", file=sys.stderr)
            self.notify(text.clean(message), severity="warning", timeout=10, markup=False)

    def _start_sync(self) -> None:
        pane = self.active_pane()
        if pane is not None:
            # What the person looks at is synced first (e.g. the focused experiment's runs).
            for name, hint in pane.sync_hints().items():
                source = self.workbench.sources.get(name)
                if source is not None and hint:
                    source.focus(hint)
        self.workbench.start()
        self._report_failures("source", self.workbench.sources.failures)

    def _announced(self, source: str, topics: set[str]) -> None:
        """From sync and action threads: topics changed in the cache."""
        self.post_message(SyncChanged(source, topics))

    def on_unmount(self) -> None:
        self.workbench.scheduler.stop(timeout=0.5)
        if self._announced in self.workbench.scheduler.listeners:
            self.workbench.scheduler.listeners.remove(self._announced)
        if self._cache_replaced in self.workbench.writer.on_rebuilt:
            self.workbench.writer.on_rebuilt.remove(self._cache_replaced)

    # ------------------------------------------------------------------ cache damage

    def _cache_replaced(self, note: str) -> None:
        """From the thread whose write found the cache damaged (it is rebuilt now)."""
        self.post_message(CacheReplaced())

    async def on_cache_replaced(self, message: CacheReplaced) -> None:
        await self._reopen_cache()

    async def cache_failed(self, exc: BaseException) -> bool:
        """A read of the cache raised `exc`. When it is damage to the file, the cache is moved
        aside and rebuilt (once, however many reads hit it), the reader reopened and the panes
        rebuilt over it; returns True. Any other error is the caller's (False)."""
        if not db.is_damage(exc):
            return False
        # On the loop, on purpose: until the panes are remade over the new reader, no other
        # handler may read (it would find the old file's damage again). Recovery checks the
        # whole file first: a pause of seconds on a very large cache, once, when it is damaged.
        try:
            self.workbench.recover(exc, self._reader_generation)
        except db.CacheError as err:
            self.notify(text.clean(str(err)), severity="error", timeout=30, markup=False)
            return True
        await self._reopen_cache()
        return True

    async def _reopen_cache(self) -> None:
        """After a rebuild: a new reader, every mounted pane made again (their tables hold
        the old reader and, if a read failed in one of its handlers, its message loop has
        ended), and the note on screen."""
        generation = self.workbench.generation
        if self._reopening or generation == self._reader_generation:
            return
        self._reopening = True
        try:
            old, self.reader = self.reader, self.workbench.reader()
            switcher = self.query_one(ContentSwitcher)
            current = switcher.current
            for i, pane in enumerate(self.panes):
                if pane.parent is None:
                    continue  # never shown: it reads the cache when it mounts
                fresh = type(pane)(AppPaneContext(self, pane.pane_id, self.settings.read_only))
                self.panes[i] = fresh
                await pane.remove()
                await switcher.mount(fresh)
            if current is not None:
                switcher.current = current
            # Only now: until the old panes are gone, damage they still read is the old
            # file's, and must not move the new cache aside.
            self._reader_generation = generation
            old.close()
        finally:
            self._reopening = False
        if self.workbench.note:
            self.notify(
                text.clean(self.workbench.note), severity="warning", timeout=30, markup=False
            )
        self._refresh_status_safely()
        if self.workbench.generation != self._reader_generation:
            await self._reopen_cache()  # rebuilt again while the panes were remade

    def _refresh_status_safely(self) -> None:
        """`refresh_status` from a timer or a message: a damaged cache is rebuilt, not a crash."""
        try:
            self.refresh_status()
        except sqlite3.DatabaseError as exc:
            self.run_worker(self.cache_failed(exc), exclusive=False)

    def _handle_exception(self, error: Exception) -> None:
        # Textual's last handler, for whatever a handler, a timer or a render let through: it
        # ends the app with a traceback. A pane's read that found the cache damaged gets the
        # cache rebuilt instead, and the app keeps running.
        damage = next(
            (e for e in (error, error.__cause__, error.__context__) if db.is_damage(e)), None
        )
        if damage is not None:
            self.run_worker(self.cache_failed(damage), exclusive=False)
            return
        super()._handle_exception(error)

    # ------------------------------------------------------------------ panes

    def active_pane(self) -> Pane | None:
        """The pane on screen."""
        current = self.query_one(ContentSwitcher).current
        return next((p for p in self.panes if p.id == current), None)

    async def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        if event.tab is None or event.tab.id is None:
            return
        pane_id = event.tab.id.replace("tab-", "pane-")
        switcher = self.query_one(ContentSwitcher)
        pane = next((p for p in self.panes if p.id == pane_id), None)
        if pane is not None and not pane.is_mounted and pane.parent is None:
            await switcher.mount(pane)  # first shown: mounted now, not at start
        if switcher.current != pane_id:
            # Else Textual moves focus to a widget of the now hidden pane (e.g. the filter
            # box), which would swallow `?`, `q` and the digit keys.
            self.screen.set_focus(None)
            switcher.current = pane_id
        pane = self.active_pane()
        if pane is not None:
            self.call_after_refresh(pane.focus_default)

    def action_goto(self, number: int) -> None:
        """Show the n-th pane."""
        if 1 <= number <= len(self.panes):
            self.query_one(Tabs).active = f"tab-{self.panes[number - 1].pane_id}"

    async def on_sync_changed(self, message: SyncChanged) -> None:
        self._refresh_status_safely()
        for pane in self.panes:
            if not pane.is_mounted:  # reads the cache when it mounts
                continue
            touched = message.topics & set(pane.topics)
            if touched:
                try:
                    pane.on_topics_changed(touched)
                except Exception as exc:  # a plugin's bug must not take the workbench down
                    if await self.cache_failed(exc):
                        return
                    self.notify(
                        f"Pane {pane.title} failed to refresh: {text.clean(repr(exc), limit=200)}",
                        severity="error",
                        markup=False,
                    )

    def refresh_status(self) -> None:
        """Recompute the status bar (it repaints only if the text changed)."""
        items: list[tuple[StatusItem, Freshness | None]] = []
        for source in self.workbench.sources:
            try:
                entries = source.status()
            except Exception:  # a plugin's broken status() only loses its own entries
                continue
            for item in entries:
                fresh = None
                if item.feed:
                    feeds = (item.feed, *item.feeds)
                    fresh = Freshness.worst(self.workbench.freshness(f, self.reader) for f in feeds)
                    if fresh is not None and fresh.state == "ok" and fresh.source != item.feed:
                        # All well: named after the entry (the oldest sync's time), so the
                        # name changes only when a feed fails.
                        fresh = replace(fresh, source=item.feed)
                items.append((item, fresh))
        self.query_one(StatusBar).show(
            items=items,
            read_only=self.settings.read_only,
            note=self.actions.busy_note(),
            now=timefmt.now(),
        )

    def sync_now(self, source: str | None = None) -> None:
        """Sync now instead of at the next interval."""
        if self.start_sync:
            self.workbench.sync_now(source)
            self.notify("Syncing now…", timeout=2)
        else:
            self.notify("Sync is off in this session", severity="warning")

    def action_sync_now(self) -> None:
        self.sync_now()

    def action_audit(self) -> None:
        """The audit log of every action attempted (A)."""
        from mlopstui.ui.screens.audit import AuditScreen

        if not isinstance(self.screen, AuditScreen):
            self.push_screen(AuditScreen(self.pipeline))

    def action_help(self) -> None:
        from mlopstui.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen(self.active_pane()))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for i, pane in enumerate(self.panes, 1):
            yield SystemCommand(
                f"Go to {pane.title}",
                f"Show the {pane.title} pane (key {i})",
                lambda n=i: self.action_goto(n),
            )
        active = self.active_pane()
        try:
            commands = active.commands() if active is not None else []
        except Exception:  # a plugin's broken commands() only loses its own commands
            commands = []
        if active is not None:
            for cmd in commands:
                yield SystemCommand(f"{active.title}: {cmd.title}", cmd.help, cmd.callback)
        yield SystemCommand("Sync now", "Sync every source now (ctrl+r)", self.action_sync_now)
        yield SystemCommand(
            "Audit log", "Every action attempted, and how it ended (A)", self.action_audit
        )
        yield SystemCommand("Help", "Every key binding (?)", self.action_help)
        yield from super().get_system_commands(screen)


class OnDemand:
    """On-demand fetches panes may ask for (run in a thread by the pane context), answered by
    the source that declares them (`Source.fetches`)."""

    def __init__(self, workbench: Workbench) -> None:
        self.workbench = workbench

    def __call__(self, what: str, **kwargs: Any) -> Any:
        source = self.workbench.sources.fetcher_of(what)
        if source is None:
            raise ValueError(f"no source offers the fetch {what!r}")
        return source.fetch(what, **kwargs)


def _log_to_file() -> None:
    """Send logging and warnings to a private file while the screen is ours.

    MLflow attaches a stderr handler on import and its embedded store logs INFO lines and
    SQLAlchemy deprecation warnings; on a full-screen app those would scribble over the frame.
    """
    import logging
    import os

    from mlopstui import paths

    os.environ.setdefault("MLFLOW_CONFIGURE_LOGGING", "false")
    path = paths.log_file()
    handler = logging.FileHandler(path, encoding="utf-8")
    paths.make_private_file(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)


def run_app(settings: Settings) -> int:
    """Open the workbench; returns the exit status."""
    workbench = Workbench(settings)
    _log_to_file()
    app = MlopsApp(workbench)
    try:
        app.run()
    finally:
        workbench.close()
    # Textual sets 1 when an unhandled exception ended the app: a crash must not exit 0.
    return app.return_code or 0
