"""The Experiments pane: experiments, their runs, filter, sort, columns, detail and compare.

Everything shown comes from the cache; a sync only tells the pane which topics changed. The
view (sort, columns, filter, min/max) is remembered per experiment in the cache.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from mlopstui import text, timefmt
from mlopstui.cache import db, viewstate
from mlopstui.cache import runs as run_store
from mlopstui.cache.search import FilterError
from mlopstui.domain import Experiment
from mlopstui.plugin_api import API_VERSION
from mlopstui.plugin_api.pane import Pane, PaneCommand
from mlopstui.ui import background
from mlopstui.ui.status import freshness_text
from mlopstui.ui.widgets.runs_table import RunsTable

ALL = "*"
BASE = ["name", "status", "start_time", "duration"]
TAIL = ["user", "source"]
EXPERIMENT = "experiment"  # shown in "All experiments" only; not a sort key
RANGE_CHUNK = 20  # runs per background min/max fetch (after the rows on screen)
RANGE_JOBS = 3  # min/max fetches in flight at once


def default_columns(keys: dict[str, list[str]], experiment_id: str | None) -> list[str]:
    """Name, status, start, duration, the first metrics and params, user, source.

    Across all experiments the keys rarely line up, so only attributes are shown there.
    """
    if experiment_id is None:
        return BASE + TAIL
    metrics = [f"metrics.{k}" for k in keys["metrics"][:3]]
    params = [f"params.{k}" for k in keys["params"][:2]]
    return BASE + metrics + params + TAIL


class ExperimentsPane(Pane):
    """Experiments and runs from MLflow."""

    pane_id = "experiments"
    title = "Experiments"
    topics = frozenset({"experiments", "runs"})
    api_version = API_VERSION

    BINDINGS = [
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("e", "experiments", "Experiments", show=False),
        Binding("s", "sort", "Sort"),
        Binding("r", "reverse", "Reverse", show=False),
        Binding("c", "columns", "Columns"),
        Binding("m", "minmax", "Min/max", show=False),
        Binding("x", "compare", "Compare"),
        Binding("v", "chart", "Chart"),
        Binding("u", "unmark", "Unmark all", show=False),
        Binding("y", "copy_id", "Copy id", show=False),
        Binding("Y", "copy_uri", "Copy URI", show=False),
        Binding("escape", "leave_filter", "Back", show=False),
    ]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.experiment_id: str | None = None  # None: all experiments
        self.sort = "start_time"
        self.descending = True
        self.columns: list[str] = list(BASE)
        self.filter_text = ""
        self.minmax = False
        self._experiments: list[Experiment] = []
        self._count_generation = 0
        # Min/max histories still to fetch: (run id, metric keys) in order, rows on screen
        # first; `_ranges_asked` holds every (run id, key) asked for in this view.
        self._range_queue: deque[tuple[str, tuple[str, ...]]] = deque()
        self._ranges_asked: set[tuple[str, str]] = set()
        self._range_jobs = 0
        self._range_generation = 0
        self._range_failed = -1  # the generation whose fetches failed (no more asking)
        self._saver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="save-view")

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield OptionList(id="experiment-list")
            with Vertical(id="runs-side"):
                yield Input(
                    placeholder="/ filter: metrics.acc > 0.9 and params.lr = '0.01' · or text",
                    id="filter",
                    compact=True,
                    select_on_focus=False,
                )
                yield Static("", id="filter-error")
                yield RunsTable(id="runs")
                yield Static("", id="runs-info")

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = False  # nothing blinks: idle writes 0 bytes
        if self.app.screen.focused is None:
            # Focus while mounting: focusing after the first frame redraws it all again.
            self.query_one(RunsTable).focus()
        self.query_one("#filter-error").display = False
        remembered = viewstate.load(self.ctx.reader(), "experiments").get("selected")
        known = {e.experiment_id for e in run_store.experiments(self.ctx.reader())}
        self.experiment_id = remembered if remembered in known else None
        self.load_experiments()
        self.select_experiment(self.experiment_id, from_list=False)

    def on_unmount(self) -> None:
        self._saver.shutdown(wait=True)  # a view chosen just before quitting is remembered

    def focus_default(self) -> None:
        self.query_one(RunsTable).focus()

    def sync_hints(self) -> dict[str, str]:
        """The experiment on screen is synced first on a cold cache."""
        return {"mlflow": self.experiment_id} if self.experiment_id else {}

    # ------------------------------------------------------------------ experiments

    def load_experiments(self) -> None:
        """(Re)fill the experiment list, keeping the highlight on the same experiment."""
        exps = run_store.experiments(self.ctx.reader())
        exps.sort(key=lambda e: e.lifecycle != "active")
        if exps == self._experiments and self.query_one(OptionList).option_count:
            return
        self._experiments = exps
        self.query_one(RunsTable).experiment_names = {e.experiment_id: e.name for e in exps}
        options = [Option(self._all_label(exps), id=ALL)]
        for e in exps:
            options.append(Option(self._experiment_label(e), id=f"exp-{e.experiment_id}"))
        ol = self.query_one(OptionList)
        with self.app.batch_update():
            ol.clear_options()
            ol.add_options(options)
            wanted = ALL if self.experiment_id is None else f"exp-{self.experiment_id}"
            try:
                ol.highlighted = ol.get_option_index(wanted)
            except Exception:
                ol.highlighted = 0

    def _all_label(self, exps: list[Experiment]) -> Text:
        label = Text("All experiments", style="bold")
        label.append(f"\n  {sum(e.run_count for e in exps)} runs", style="dim")
        return label

    def _experiment_label(self, e: Experiment) -> Text:
        deleted = e.lifecycle != "active"
        label = Text(text.clean(e.name, limit=40), style="dim strike" if deleted else "")
        info = f"\n  {e.run_count} runs"
        if e.last_activity:
            info += f" · {timefmt.clock(e.last_activity)[5:]}"
        if deleted:
            info += " · deleted"
        label.append(info, style="dim")
        return label

    @on(OptionList.OptionHighlighted, "#experiment-list")
    def _experiment_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        option_id = event.option.id or ALL
        exp_id = None if option_id == ALL else option_id.removeprefix("exp-")
        if exp_id != self.experiment_id:
            self.select_experiment(exp_id, from_list=True)
            self._save(self.ctx_cache_path(), "experiments", {"selected": exp_id})

    @on(OptionList.OptionSelected, "#experiment-list")
    def _experiment_selected(self) -> None:
        self.query_one(RunsTable).focus()

    def select_experiment(self, experiment_id: str | None, *, from_list: bool) -> None:
        """Show an experiment's runs with its remembered view."""
        self.experiment_id = experiment_id
        state = viewstate.load(self.ctx.reader(), self._scope())
        keys = run_store.experiment_keys(self.ctx.reader(), experiment_id)
        self.sort = state.get("sort", "start_time")
        self.descending = state.get("descending", True)
        try:  # a view saved by an older version may name a sort this one does not have
            run_store.ui_sort_terms(self.sort, self.descending)
        except FilterError:
            self.sort, self.descending = "start_time", True
        self.columns = state.get("columns") or default_columns(keys, experiment_id)
        self.minmax = state.get("minmax", False)
        self.filter_text = state.get("filter", "")
        filter_input = self.query_one(Input)
        with filter_input.prevent(Input.Changed):
            filter_input.value = self.filter_text
        self.rebuild()

    def _scope(self) -> str:
        return f"runs:{self.experiment_id or ALL}"

    def _save_view(self) -> None:
        """Remember the view in the background: the write may wait behind a sync batch."""
        state = {
            "sort": self.sort,
            "descending": self.descending,
            "columns": self.columns,
            "filter": self.filter_text,
            "minmax": self.minmax,
        }
        path, scope = self.ctx_cache_path(), self._scope()
        self._save(path, scope, state)

    def _save(self, path: Path, scope: str, state: dict[str, Any]) -> None:
        """Write view state on one background worker, in order (a save may wait behind a
        sync batch; two saves never overtake each other)."""
        background.run_off_loop(
            self.app,
            lambda: viewstate.save(path, scope, state),
            name="save-view",
            # Losing a view preference must not break the pane.
            on_error=lambda exc: self.ctx.notify(
                f"Could not save the view: {background.readable(exc)}", severity="warning"
            ),
            executor=self._saver,
        )

    def ctx_cache_path(self) -> Path:
        """The cache file (view state is written beside the sync writer)."""
        return Path(self.ctx.reader().execute("PRAGMA database_list").fetchone()[2])

    # ------------------------------------------------------------------ runs

    def shown_columns(self) -> list[str]:
        """Columns with min/max expanded for metrics when asked, and the experiment's name
        after the run's in "All experiments"."""
        columns = [c for c in self.columns if c != EXPERIMENT]
        if self.experiment_id is None:
            at = 1 if columns[:1] == ["name"] else 0
            columns.insert(at, EXPERIMENT)
        if not self.minmax:
            return columns
        out = []
        for col in columns:
            out.append(col)
            if col.startswith("metrics.") and not col.endswith((".min", ".max")):
                out += [f"{col}.min", f"{col}.max"]
        return out

    def rebuild(self) -> None:
        """Re-query with the current experiment, filter and sort."""
        table = self.query_one(RunsTable)
        self._reset_ranges()
        error = self.query_one("#filter-error", Static)
        try:
            window = run_store.RunsWindow(
                self.ctx.reader(),
                experiment_id=self.experiment_id,
                filter_text=self.filter_text,
                sort=self.sort,
                descending=self.descending,
            )
        except FilterError as exc:
            error.update(Text(f"✗ {exc}", style="bold red"))
            error.display = True
            # Not the previous keystroke's results: they would read as this filter's.
            table.empty_text = "Fix the filter above (Esc clears it) to see runs."
            table.set_view(None, 0, self.shown_columns())
            self.update_info()
            return
        error.display = False
        total = None
        if not self.filter_text:
            total = self._unfiltered_count()
        table.empty_text = self._empty_text()
        table.set_view(window, total, self.shown_columns())
        if table.counting:
            self._count_in_background(window)
        self.update_info()

    def _unfiltered_count(self) -> int:
        if self.experiment_id is None:
            return sum(e.run_count for e in self._experiments)
        return next(
            (e.run_count for e in self._experiments if e.experiment_id == self.experiment_id), 0
        )

    def _empty_text(self) -> str:
        if self.filter_text:
            return "No runs match this filter. Esc clears it."
        f = self.ctx.freshness("mlflow")
        if f.state == "never":
            return "No runs cached yet; syncing…"
        if f.state == "failing":
            return "No runs cached, and the tracking server is unreachable (see the status bar)."
        return "This experiment has no runs."

    def _count_in_background(self, window: run_store.RunsWindow) -> None:
        """Counting a filtered 1M-run view takes longer than a frame: do it off the loop."""
        self._count_generation += 1
        generation = self._count_generation
        path = self.ctx_cache_path()
        filter_text = self.filter_text

        def count() -> int:
            conn = db.open_reader(path)
            try:
                copy = run_store.RunsWindow(
                    conn,
                    experiment_id=window.experiment_id,
                    filter_text=filter_text,
                    sort=window.sort,
                    descending=window.descending,
                )
                return copy.count()
            finally:
                conn.close()

        background.run_off_loop(
            self.app,
            count,
            lambda total: self._counted(generation, total),
            name="count-runs",
            failure="Could not count the runs (the first ones are shown)",
        )

    def _counted(self, generation: int, total: int) -> None:
        if generation == self._count_generation:
            self.query_one(RunsTable).set_total(total)
            self.update_info()

    def update_info(self) -> None:
        """The line under the table: counts, sort, marks, freshness."""
        table = self.query_one(RunsTable)
        info = Text(no_wrap=True, overflow="ellipsis")
        if self.experiment_id is not None:
            name = next(
                (e.name for e in self._experiments if e.experiment_id == self.experiment_id), ""
            )
            info.append(text.clean(name, limit=30), style="bold")
            info.append(" · ")
        count = f"{table.total}+" if table.counting else str(table.total)
        info.append(f"{count} runs")
        if self.filter_text:
            info.append(" (filtered)", style="yellow")
        arrow = "↓" if self.descending else "↑"
        info.append(f" · sort {self.sort} {arrow}", style="dim")
        if table.marked:
            info.append(f" · {len(table.marked)} marked (x compares)", style="bold")
        msg, kind = freshness_text(self.ctx.freshness("mlflow"), timefmt.now())
        style = {"ok": "dim", "error": "bold red", "warning": "yellow", "muted": "dim"}[kind]
        info.append(f" · {msg}", style=style)
        # One fixed line: no relayout of the screen for a new count or sort.
        self.query_one("#runs-info", Static).update(info, layout=False)

    def on_topics_changed(self, topics: set[str]) -> None:
        # Run counts live on the experiments: new runs change them too.
        if topics & {"experiments", "runs"}:
            self.load_experiments()
            self.query_one(OptionList).refresh()
        table = self.query_one(RunsTable)
        if table.window is None or not table.total:
            self.rebuild()
        elif "runs" in topics:
            total = None if self.filter_text else self._unfiltered_count()
            if total is not None and total != table.total:
                table.set_total(total)
            table.reload()
            if self.filter_text:
                self._count_in_background(table.window)
        self.update_info()

    # ------------------------------------------------------------------ events and actions

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.rebuild()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self) -> None:
        self._save_view()
        self.query_one(RunsTable).focus()

    @on(RunsTable.Opened)
    def _open_run(self, event: RunsTable.Opened) -> None:
        from mlopstui.ui.screens.run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(self.ctx, event.run_id))

    @on(RunsTable.SortClicked)
    def _sort_clicked(self, event: RunsTable.SortClicked) -> None:
        if event.column != EXPERIMENT:
            self.set_sort(event.column)

    @on(RunsTable.RowsLoaded)
    def _rows_loaded(self, event: RunsTable.RowsLoaded) -> None:
        if self.minmax:
            self._want_ranges(event.rows)

    @on(RunsTable.MarksChanged)
    def _marks_changed(self) -> None:
        self.update_info()

    def set_sort(self, column: str) -> None:
        """Sort by a column; the same column again flips the direction."""
        if column == self.sort:
            self.descending = not self.descending
        else:
            self.sort, self.descending = column, column not in ("name", "user", "source")
        self._save_view()
        self.rebuild()

    def action_filter(self) -> None:
        self.query_one(Input).focus()

    def action_leave_filter(self) -> None:
        filter_input = self.query_one(Input)
        if filter_input.has_focus and filter_input.value:
            filter_input.value = ""
            self.filter_text = ""
            self._save_view()
        self.query_one(RunsTable).focus()

    def action_experiments(self) -> None:
        ol = self.query_one(OptionList)
        if self.screen.has_class("-narrow"):
            self.toggle_class("show-experiments")
            if not self.has_class("show-experiments"):
                self.query_one(RunsTable).focus()
                return
        ol.focus()

    def action_sort(self) -> None:
        from mlopstui.ui.screens.pickers import SortPicker

        def chosen(column: str | None) -> None:
            if column:
                self.set_sort(column)

        sortable = [c for c in self.shown_columns() if c != EXPERIMENT]
        self.app.push_screen(SortPicker(sortable, self.sort), chosen)

    def action_reverse(self) -> None:
        self.set_sort(self.sort)

    def action_columns(self) -> None:
        from mlopstui.ui.screens.pickers import ColumnPicker

        keys = run_store.experiment_keys(self.ctx.reader(), self.experiment_id)

        def chosen(columns: list[str] | None) -> None:
            if columns:
                self.columns = columns
                self._save_view()
                self.rebuild()

        self.app.push_screen(ColumnPicker(keys, self.columns), chosen)

    def action_minmax(self) -> None:
        self.minmax = not self.minmax
        self._save_view()
        self.rebuild()
        if self.minmax:
            self.fetch_ranges()

    def fetch_ranges(self) -> None:
        """Fetch the metric histories behind min/max: the rows on screen first, then every
        other row of the pages read, a few fetches at a time; each new page read while
        min/max is on queues its rows too (`_rows_loaded`). Cells wait as `…`."""
        table = self.query_one(RunsTable)
        if not self._range_keys():
            self.ctx.notify("Choose a metric column first (c).", severity="warning")
            return
        top = int(table.scroll_offset.y)
        on_screen = [table.row(i) for i in range(top, top + max(1, table.size.height))]
        rows = [r for r in on_screen if r is not None]
        queued = self._want_ranges(rows, first=True)
        loaded = [r for block in table.loaded_rows() for r in block]
        queued += self._want_ranges(loaded)
        if queued:
            self.ctx.notify(f"Fetching metric histories for {queued} runs…")

    def _range_keys(self) -> list[str]:
        return [
            c.removeprefix("metrics.")
            for c in self.columns
            if c.startswith("metrics.") and not c.endswith((".min", ".max"))
        ]

    def _reset_ranges(self) -> None:
        """A new view: forget what was queued (answers for the old one are dropped)."""
        self._range_generation += 1
        self._range_queue.clear()
        self._ranges_asked.clear()
        self.query_one(RunsTable).pending.clear()

    def _want_ranges(self, rows: list[run_store.RunRow], *, first: bool = False) -> int:
        """Queue the rows whose min/max is unknown (a metric they have, not asked for yet);
        returns how many runs were queued."""
        if self._range_failed == self._range_generation:
            return 0  # the server did not answer: `m` twice asks again
        keys = self._range_keys()
        table = self.query_one(RunsTable)
        wanted: list[tuple[str, tuple[str, ...]]] = []
        for row in rows:
            missing = tuple(
                k
                for k in keys
                if row.values.get(f"metrics.{k}") is not None
                and row.values.get(f"metrics.{k}.min") is None
                and (row.run_id, k) not in self._ranges_asked
            )
            if missing:
                self._ranges_asked.update((row.run_id, k) for k in missing)
                table.pending.update((row.run_id, k) for k in missing)
                wanted.append((row.run_id, missing))
        if first:
            self._range_queue.extendleft(reversed(wanted))
            if wanted and self._range_jobs < RANGE_JOBS:
                self._start_range_fetch(len(wanted))  # the rows on screen: one fetch of their own
        else:
            self._range_queue.extend(wanted)
        self._pump_ranges()
        return len(wanted)

    def _pump_ranges(self) -> None:
        while self._range_jobs < RANGE_JOBS and self._range_queue:
            self._start_range_fetch(RANGE_CHUNK)

    def _start_range_fetch(self, size: int) -> None:
        chunk = [self._range_queue.popleft() for _ in range(min(size, len(self._range_queue)))]
        if not chunk:
            return
        run_ids = [run_id for run_id, _keys in chunk]
        keys = sorted({k for _run, ks in chunk for k in ks})
        pairs = {(run_id, k) for run_id, ks in chunk for k in ks}
        generation = self._range_generation
        self._range_jobs += 1

        def done(result: object) -> None:
            self._range_jobs -= 1  # counted across views: the bound holds while they change
            if generation != self._range_generation:
                self._pump_ranges()  # another view by now: this answer is not for it
                return
            table = self.query_one(RunsTable)
            table.pending.difference_update(pairs)
            if isinstance(result, Exception):
                # The server is likely down: stop asking, say so once.
                for run_id, ks in self._range_queue:
                    table.pending.difference_update((run_id, k) for k in ks)
                self._range_queue.clear()
                if self._range_failed != generation:
                    self._range_failed = generation
                    self.ctx.notify(
                        f"Min/max unavailable: {background.readable(result)} (m twice retries)",
                        severity="error",
                    )
            table.reload(force=True)
            self._pump_ranges()

        self.ctx.fetch("metric_ranges", done, run_ids=run_ids, keys=keys)

    def action_compare(self) -> None:
        table = self.query_one(RunsTable)
        if len(table.marked) < 2:
            self.ctx.notify("Mark 2 or more runs with space, then press x.", severity="warning")
            return
        from mlopstui.ui.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(self.ctx, list(table.marked)))

    def action_chart(self) -> None:
        """Chart a metric's history for the marked runs (the run under the cursor if none)."""
        table = self.query_one(RunsTable)
        run_ids = list(table.marked) or [r for r in [table.current_run_id()] if r]
        if not run_ids:
            return
        from mlopstui.ui.screens.chart import ChartScreen

        metrics = [c for c in [self.sort, *self.columns] if c.startswith("metrics.")]
        key = metrics[0].removeprefix("metrics.") if metrics else None
        self.app.push_screen(ChartScreen(self.ctx, run_ids, key))

    def action_unmark(self) -> None:
        self.query_one(RunsTable).clear_marks()

    def _copy(self, value: str, what: str) -> None:
        self.app.copy_to_clipboard(value)
        self.ctx.notify(f"Copied {what}: {value}")

    def action_copy_id(self) -> None:
        run_id = self.query_one(RunsTable).current_run_id()
        if run_id:
            self._copy(run_id, "run id")

    def action_copy_uri(self) -> None:
        run_id = self.query_one(RunsTable).current_run_id()
        if run_id:
            self._copy(f"runs:/{run_id}", "run URI")

    def commands(self) -> list[PaneCommand]:
        return [
            PaneCommand("Filter runs", "Focus the filter box (/)", self.action_filter),
            PaneCommand("Sort runs", "Choose the sort column (s)", self.action_sort),
            PaneCommand("Reverse sort", "Flip the sort direction (r)", self.action_reverse),
            PaneCommand(
                "Choose columns", "Show or hide params, metrics, tags (c)", self.action_columns
            ),
            PaneCommand(
                "Toggle min/max", "Fetch histories and show metric min/max (m)", self.action_minmax
            ),
            PaneCommand("Compare marked runs", "Side by side (x)", self.action_compare),
            PaneCommand("Copy run id", "Copy the run id under the cursor (y)", self.action_copy_id),
            PaneCommand("Copy run URI", "Copy runs:/<id> (Y)", self.action_copy_uri),
            PaneCommand("Unmark all", "Clear the marked runs (u)", self.action_unmark),
        ]
