"""Run detail: attributes, params, metrics (last/min/max + history sparkline), tags,
artifacts, parent and children. Histories and artifacts are fetched on demand."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
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
        with VerticalScroll():
            yield Static(id="run-header")
            yield Static(id="run-metrics", classes="section")
            yield Static(id="run-params", classes="section")
            yield Static(id="run-tags", classes="section")
            yield Static(id="run-artifacts", classes="section")
            yield Static(id="run-family", classes="section")
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

        metrics = Table(title="Metrics", title_justify="left", expand=True, show_edge=False)
        for col in ("key", "last", "min", "max", "step", "history"):
            metrics.add_column(col, no_wrap=True, ratio=2 if col == "history" else None)
        for key, m in run.metrics.items():
            points = self.histories.get(key) or []
            values = [v for _, v in points]
            lo = min(values) if values else m.min
            hi = max(values) if values else m.max
            if key in self.history_errors:
                hist = Text(self.history_errors[key], style="red")
            elif points:
                hist = Text(sparkline(values), style="cyan")
            else:
                hist = Text("fetching…", style="dim")
            metrics.add_row(inert(key), _num(m.value), _num(lo), _num(hi), str(m.step), hist)
        if not run.metrics:
            metrics.add_row("(none)", "", "", "", "", "")
        self.query_one("#run-metrics", Static).update(metrics)

        self.query_one("#run-params", Static).update(self._kv("Params", run.params))
        user_tags = {k: v for k, v in run.tags.items() if not k.startswith("mlflow.")}
        system = {k: v for k, v in run.tags.items() if k.startswith("mlflow.")}
        self.query_one("#run-tags", Static).update(self._kv("Tags", user_tags, system))
        self._render_artifacts()
        self._render_family()

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
        widget = self.query_one("#run-artifacts", Static)
        out = Text("Artifacts\n", style="bold")
        if self.artifacts is None:
            out.append("fetching…", style="dim")
        elif isinstance(self.artifacts, str):
            out.append(self.artifacts, style="red")
        elif not self.artifacts:
            out.append("(none)", style="dim")
        else:
            for a in self.artifacts:
                size = "" if a.size is None else f"  {a.size} B"
                out.append(
                    f"{'▸ ' if a.is_dir else '  '}{text.clean(a.path)}{'/' if a.is_dir else ''}{size}\n"
                )
        widget.update(out)

    def _render_family(self) -> None:
        run = self.run
        assert run is not None
        out = Text("Parent and children\n", style="bold")
        parent = run.parent_run_id
        if parent:
            parent_run = run_store.get_run(self.ctx.reader(), parent)
            name = text.clean(parent_run.name) if parent_run else "(not cached)"
            out.append(f"parent: {name} {parent}  (p opens it)\n")
        kids = run_store.children(self.ctx.reader(), run.run_id)
        for run_id, name, status in kids:
            out.append(f"child:  {text.clean(name)} {run_id} {status}\n")
        if not parent and not kids:
            out.append("(no parent or child runs)", style="dim")
        self.query_one("#run-family", Static).update(out)

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

    def action_parent(self) -> None:
        if self.run and self.run.parent_run_id:
            self.app.push_screen(RunDetailScreen(self.ctx, self.run.parent_run_id))
        else:
            self.notify("This run has no parent.", severity="warning")
