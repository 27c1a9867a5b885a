"""Run detail: attributes, metrics (last/min/max + history sparkline), params, tags, datasets,
artifacts, parent and children. Histories and artifacts are fetched on demand.

The metrics, artifacts and family sections are lists with a cursor (Tab moves between them):
Enter on a metric charts its history (`c` too, from anywhere), on an artifact opens it (a
directory to walk, a file to read), on a parent or child run opens that run's detail.
"""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from mlopstui import text, timefmt
from mlopstui.cache import runs as run_store
from mlopstui.domain import Run
from mlopstui.ui.background import readable
from mlopstui.ui.inert import inert
from mlopstui.ui.widgets.sparkline import sparkline

MAX_HISTORIES = 30  # metrics whose history is fetched when the detail opens


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


CURSOR = "reverse"
"""How the item under the cursor of the focused section is drawn."""


class PickSection(Static, can_focus=True):
    """A section whose lines are items: up/down move a cursor, Enter picks the item.

    The screen draws the section (the cursor line highlighted while it has focus); the
    section says which line the first item is on, so the page scrolls to keep the cursor in
    view.
    """

    BINDINGS = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("enter", "pick", "Open"),
    ]

    class Changed(Message):
        """The cursor moved, or the section gained or lost focus: draw it again."""

        def __init__(self, section: PickSection) -> None:
            super().__init__()
            self.section = section

    class Picked(Message):
        """Enter on item `index`."""

        def __init__(self, section: PickSection, index: int) -> None:
            super().__init__()
            self.section = section
            self.index = index

    def __init__(self, *, id: str, first_line: int = 1) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id, classes="section")
        self.cursor = 0
        self.count = 0
        self.first_line = first_line

    def set_count(self, count: int) -> None:
        """How many items the section lists now (the cursor stays in range)."""
        self.count = count
        self.cursor = max(0, min(self.cursor, count - 1))

    def highlighted(self, index: int) -> bool:
        """Whether item `index` is drawn under the cursor."""
        return self.has_focus and index == self.cursor

    def action_move(self, delta: int) -> None:
        if not self.count:
            return
        self.cursor = max(0, min(self.cursor + delta, self.count - 1))
        self.post_message(self.Changed(self))
        line = self.virtual_region.y + self.first_line + self.cursor
        for ancestor in self.ancestors:
            if isinstance(ancestor, VerticalScroll):
                ancestor.scroll_to_region(Region(0, line, 1, 1), animate=False, immediate=True)
                break

    def action_pick(self) -> None:
        if self.count:
            self.post_message(self.Picked(self, self.cursor))

    def on_focus(self) -> None:
        self.post_message(self.Changed(self))

    def on_blur(self) -> None:
        self.post_message(self.Changed(self))


class RunDetailScreen(Screen[None]):
    """One run, everything known about it."""

    DEFAULT_CSS = """
    RunDetailScreen VerticalScroll { padding: 0 1; }
    RunDetailScreen .section { margin-top: 1; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("y", "copy_id", "Copy id"),
        Binding("Y", "copy_uri", "Copy URI", show=False),
        Binding("c", "chart", "Chart"),
        Binding("p", "parent", "Parent"),
        Binding("h", "histories", "Refetch history"),
    ]

    def __init__(self, ctx: Any, run_id: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.run_id = run_id
        self.run: Run | None = run_store.get_run(ctx.reader(), run_id)
        self.histories: dict[str, list[tuple[int, float]]] = {}
        self.history_errors: dict[str, str] = {}
        self.artifacts: list[Any] | str | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(can_focus=False):
            yield Static(id="run-header")
            # The metrics table: its title, header and rule come before the first row.
            yield PickSection(id="run-metrics", first_line=3)
            yield Static(id="run-params", classes="section")
            yield Static(id="run-tags", classes="section")
            yield Static(id="run-datasets", classes="section")
            yield PickSection(id="run-artifacts")
            yield PickSection(id="run-family")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        if self.run is None:
            self.query_one("#run-header", Static).update(
                Text(f"Run {self.run_id} is no longer in the cache (deleted?). Esc goes back.")
            )
            return
        for key in list(self.run.metrics)[:MAX_HISTORIES]:
            self.histories[key] = run_store.metric_history(self.ctx.reader(), self.run_id, key)
        self.render_all()
        self.query_one("#run-metrics", PickSection).focus()
        self.action_histories()
        self.ctx.fetch("artifacts", self._artifacts_done, run_id=self.run_id)

    def render_all(self) -> None:
        """Render every section from what is known now."""
        run = self.run
        assert run is not None
        head = Table.grid(padding=(0, 2))
        head.add_column(style="dim", no_wrap=True)
        head.add_column()
        head.add_row("Run", inert(run.name or "(unnamed)", "bold"))
        head.add_row("Id", inert(run.run_id))
        head.add_row(
            "Status",
            inert(run.status, {"FAILED": "red", "RUNNING": "cyan"}.get(run.status, "green")),
        )
        exp_name = next(
            (
                e.name
                for e in run_store.experiments(self.ctx.reader())
                if e.experiment_id == run.experiment_id
            ),
            run.experiment_id,
        )
        head.add_row("Experiment", inert(exp_name))
        head.add_row("User", inert(run.user))
        head.add_row("Source", inert(run.source))
        head.add_row("Started", timefmt.clock(run.start_time))
        head.add_row("Duration", timefmt.duration(run.duration_ms(timefmt.now_ms())))
        head.add_row("Artifacts", inert(run.artifact_uri))
        self.query_one("#run-header", Static).update(head)

        self._render_metrics()
        self.query_one("#run-params", Static).update(self._kv("Params", run.params))
        user_tags = {k: v for k, v in run.tags.items() if not k.startswith("mlflow.")}
        system = {k: v for k, v in run.tags.items() if k.startswith("mlflow.")}
        self.query_one("#run-tags", Static).update(self._kv("Tags", user_tags, system))
        self._render_datasets()
        self._render_artifacts()
        self._render_family()

    def _render_metrics(self) -> None:
        run = self.run
        assert run is not None
        section = self.query_one("#run-metrics", PickSection)
        section.set_count(len(run.metrics))
        metrics = Table(title="Metrics", title_justify="left", expand=True, show_edge=False)
        for col in ("key", "last", "min", "max", "step", "history"):
            metrics.add_column(col, no_wrap=True, ratio=2 if col == "history" else None)
        for index, (key, m) in enumerate(run.metrics.items()):
            points = self.histories.get(key) or []
            values = [v for _, v in points if math.isfinite(v)]  # NaN has no min/max
            lo = min(values) if values else m.min
            hi = max(values) if values else m.max
            if key in self.history_errors:
                hist = Text(self.history_errors[key], style="red")
            elif values:
                hist = Text(sparkline(values), style="cyan")
            else:
                hist = Text("fetching…", style="dim")
            metrics.add_row(
                inert(key),
                _num(m.value),
                _num(lo),
                _num(hi),
                str(m.step),
                hist,
                style=CURSOR if section.highlighted(index) else None,
            )
        if not run.metrics:
            metrics.add_row("(none)", "", "", "", "", "")
        section.update(metrics)

    def _render_datasets(self) -> None:
        """The run's dataset inputs (`mlflow.log_input`); the section is hidden without any."""
        run = self.run
        assert run is not None
        widget = self.query_one("#run-datasets", Static)
        widget.display = bool(run.datasets)
        if not run.datasets:
            return
        table = Table(title="Datasets", title_justify="left", expand=True, show_edge=False)
        table.add_column("name", no_wrap=True, ratio=2)
        table.add_column("digest", no_wrap=True, ratio=1)
        table.add_column("context", no_wrap=True, ratio=1)
        for d in run.datasets:
            table.add_row(
                inert(d.name, limit=200), inert(d.digest, limit=64), inert(d.context or "", "dim")
            )
        widget.update(table)

    def _kv(self, title: str, values: dict[str, str], dim: dict[str, str] | None = None) -> Table:
        table = Table(title=title, title_justify="left", expand=True, show_edge=False)
        table.add_column("key", no_wrap=True, ratio=1)
        table.add_column("value", ratio=2)
        for k, v in values.items():
            table.add_row(inert(k), inert(v, limit=500))
        for k, v in (dim or {}).items():
            table.add_row(inert(k, "dim"), inert(v, "dim", limit=200))
        if not values and not dim:
            table.add_row("(none)", "")
        return table

    def _render_artifacts(self) -> None:
        widget = self.query_one("#run-artifacts", PickSection)
        listed = self.artifacts if isinstance(self.artifacts, list) else []
        widget.set_count(len(listed))
        out = Text("Artifacts", style="bold")
        if listed:
            out.append("  (Enter opens)", style="dim")
        out.append("\n")
        if self.artifacts is None:
            out.append("fetching…", style="dim")
        elif isinstance(self.artifacts, str):
            out.append(self.artifacts, style="red")
        elif not self.artifacts:
            out.append("(none)", style="dim")
        else:
            for index, a in enumerate(self.artifacts):
                size = "" if a.size is None else f"  {a.size} B"
                out.append(
                    f"{'▸ ' if a.is_dir else '  '}{text.clean(a.path)}{'/' if a.is_dir else ''}{size}",
                    style=CURSOR if widget.highlighted(index) else "",
                )
                out.append("\n")
        widget.update(out)

    def family(self) -> list[str]:
        """The run ids the family section lists: the parent first, then the children."""
        run = self.run
        assert run is not None
        kids = [
            run_id for run_id, _name, _status in run_store.children(self.ctx.reader(), run.run_id)
        ]
        return ([run.parent_run_id] if run.parent_run_id else []) + kids

    def _render_family(self) -> None:
        run = self.run
        assert run is not None
        widget = self.query_one("#run-family", PickSection)
        lines: list[str] = []
        parent = run.parent_run_id
        if parent:
            parent_run = run_store.get_run(self.ctx.reader(), parent)
            name = text.clean(parent_run.name) if parent_run else "(not cached)"
            lines.append(f"parent: {name} {parent}  (p opens it)")
        kids = run_store.children(self.ctx.reader(), run.run_id)
        for run_id, name, status in kids:
            lines.append(f"child:  {text.clean(name)} {run_id} {text.clean(status)}")
        widget.set_count(len(lines))
        out = Text("Parent and children", style="bold")
        if lines:
            out.append("  (Enter opens)", style="dim")
        out.append("\n")
        for index, line in enumerate(lines):
            out.append(line, style=CURSOR if widget.highlighted(index) else "")
            out.append("\n")
        if not lines:
            out.append("(no parent or child runs)", style="dim")
        widget.update(out)

    # ------------------------------------------------------------------ sections

    def on_pick_section_changed(self, event: PickSection.Changed) -> None:
        if self.run is None:
            return
        {
            "run-metrics": self._render_metrics,
            "run-artifacts": self._render_artifacts,
            "run-family": self._render_family,
        }[event.section.id or ""]()

    def on_pick_section_picked(self, event: PickSection.Picked) -> None:
        if self.run is None:
            return
        if event.section.id == "run-metrics":
            self.open_chart(list(self.run.metrics)[event.index])
        elif event.section.id == "run-artifacts" and isinstance(self.artifacts, list):
            self.open_artifact(self.artifacts[event.index])
        elif event.section.id == "run-family":
            self.app.push_screen(RunDetailScreen(self.ctx, self.family()[event.index]))

    def open_chart(self, key: str) -> None:
        """The metric's history as a line chart."""
        from mlopstui.ui.screens.chart import ChartScreen

        self.app.push_screen(ChartScreen(self.ctx, [self.run_id], key))

    def open_artifact(self, entry: Any) -> None:
        """A directory to walk, or a file to read."""
        from mlopstui.ui.screens.artifact import ArtifactScreen

        self.app.push_screen(
            ArtifactScreen(self.ctx, self.run_id, entry.path, is_dir=entry.is_dir, size=entry.size)
        )

    # ------------------------------------------------------------------ fetches

    def action_histories(self) -> None:
        """Fetch every metric's history from the server (on demand, off the UI loop)."""
        if self.run is None:
            return
        for key in list(self.run.metrics)[:MAX_HISTORIES]:
            self.ctx.fetch(
                "metric_history",
                lambda result, k=key: self._history_done(k, result),
                run_id=self.run_id,
                key=key,
            )

    def _history_done(self, key: str, result: Any) -> None:
        if isinstance(result, Exception):
            self.history_errors[key] = f"history unavailable: {readable(result, limit=60)}"
        else:
            self.history_errors.pop(key, None)
            self.histories[key] = [(s, v) for s, _t, v in result]
        if self.is_mounted and self.run is not None:
            self.render_all()

    def _artifacts_done(self, result: Any) -> None:
        self.artifacts = (
            f"unavailable: {readable(result, limit=120)}"
            if isinstance(result, Exception)
            else result
        )
        if self.is_mounted:
            self._render_artifacts()

    # ------------------------------------------------------------------ actions

    def action_copy_id(self) -> None:
        self.app.copy_to_clipboard(self.run_id)
        self.notify(f"Copied run id: {self.run_id}", markup=False)

    def action_copy_uri(self) -> None:
        self.app.copy_to_clipboard(f"runs:/{self.run_id}")
        self.notify(f"Copied run URI: runs:/{self.run_id}", markup=False)

    def action_chart(self) -> None:
        """Chart the metric under the metrics cursor (the first one until it moves)."""
        if self.run is None or not self.run.metrics:
            self.notify("This run has logged no metrics.", severity="warning")
            return
        section = self.query_one("#run-metrics", PickSection)
        self.open_chart(list(self.run.metrics)[section.cursor])

    def action_parent(self) -> None:
        if self.run and self.run.parent_run_id:
            self.app.push_screen(RunDetailScreen(self.ctx, self.run.parent_run_id))
        else:
            self.notify("This run has no parent.", severity="warning")
