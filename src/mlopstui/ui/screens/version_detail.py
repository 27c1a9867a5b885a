"""Version detail: a model version's lineage (version -> source run -> experiment), and its
run's params and metrics side by side with those of the version an alias points at (`champion`
first; `a` cycles through the model's aliases). Everything comes from the cache."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from mlopstui import text, timefmt
from mlopstui.cache import registry as reg_store
from mlopstui.cache import runs as run_store
from mlopstui.domain import ModelVersion, Run
from mlopstui.ui.inert import inert
from mlopstui.ui.widgets import registry_cells as cells


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def compare_rows(mine: Run | None, theirs: Run | None) -> list[tuple[str, str, str]]:
    """(field, this version's value, the alias version's value) for metrics then params."""
    rows: list[tuple[str, str, str]] = []
    for kind in ("metrics", "params"):
        keys = sorted(set(getattr(mine, kind, {}) or {}) | set(getattr(theirs, kind, {}) or {}))
        for key in keys:
            values = []
            for run in (mine, theirs):
                found = (getattr(run, kind, None) or {}).get(key) if run is not None else None
                if kind == "metrics":
                    values.append(_num(found.value) if found is not None else "—")
                else:
                    values.append(text.clean(found, limit=40) if found is not None else "—")
            label = f"{kind[:-1] if kind == 'params' else 'metric'} {text.clean(key)}"
            rows.append((label, values[0], values[1]))
    return rows


class VersionDetailScreen(Screen[None]):
    """One model version: where it came from and how it compares."""

    DEFAULT_CSS = """
    VersionDetailScreen VerticalScroll { padding: 0 1; }
    VersionDetailScreen .section { margin-top: 1; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("a", "cycle_alias", "Compare alias"),
    ]

    def __init__(self, ctx: Any, model: str, version: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.model_name = model
        self.version_number = version
        conn = ctx.reader()
        self.model = reg_store.model(conn, model)
        self.version: ModelVersion | None = reg_store.version(conn, model, version)
        self.aliases = cells.ordered_aliases(self.model.aliases if self.model else {})
        # Champion first, unless this version is the champion: then the next alias that
        # points elsewhere (comparing a version with itself says nothing).
        mine = self.version.version if self.version else None
        targets = self.model.aliases if self.model else {}
        elsewhere = [a for a in self.aliases if targets.get(a) != mine]
        self.alias: str | None = next(iter(elsewhere or self.aliases), None)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(id="version-header")
            yield Static(id="version-lineage", classes="section")
            yield Static(id="version-compare", classes="section")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.render_all()

    def _run(self, run_id: str) -> Run | None:
        return run_store.get_run(self.ctx.reader(), run_id) if run_id else None

    def render_all(self) -> None:
        """Render every section from the cache."""
        header = self.query_one("#version-header", Static)
        v = self.version
        if v is None:
            header.update(
                inert(
                    f"{self.model_name} v{self.version_number} is no longer in the cache "
                    "(deleted?). Esc goes back."
                )
            )
            return
        head = Table.grid(padding=(0, 2))
        head.add_column(style="dim", no_wrap=True)
        head.add_column()
        title = inert(v.name, "bold")
        title.append(f" v{v.version}", style="bold")
        head.add_row("Model version", title)
        head.add_row("Status", inert(v.status, cells.STATUS_STYLES.get(v.status, "yellow")))
        aliases = " ".join(f"@{a}" for a in cells.ordered_aliases(v.aliases)) or "—"
        head.add_row("Aliases", inert(aliases, "bold green" if v.aliases else "dim"))
        head.add_row("Created", timefmt.clock(v.creation_time) or "—")
        head.add_row("Source", inert(v.source or "—"))
        head.add_row("Tags", cells.tags_summary(v.tags, 80))
        if v.description:
            head.add_row("Description", inert(v.description, limit=300, multiline=True))
        header.update(head)
        self._render_lineage(v)
        self._render_compare(v)

    def _render_lineage(self, v: ModelVersion) -> None:
        out = Text("Lineage\n", style="bold")
        out.append_text(inert(v.name, "bold"))
        out.append(f" v{v.version}")
        run = self._run(v.run_id)
        if not v.run_id:
            out.append("  →  no source run recorded", style="dim")
        elif run is None:
            out.append(f"  →  run {v.run_id}", style="")
            out.append(" (not in the runs cache yet)", style="dim")
        else:
            out.append("  →  run ")
            out.append_text(inert(run.name or "(unnamed)", "bold"))
            out.append(f" {run.run_id[:8]} ", style="dim")
            out.append_text(inert(run.status, "dim"))
            exp = next(
                (e for e in run_store.experiments(self.ctx.reader())
                 if e.experiment_id == run.experiment_id),
                None,
            )  # fmt: skip
            out.append("  →  experiment ")
            out.append_text(inert(exp.name if exp else run.experiment_id, "bold"))
        self.query_one("#version-lineage", Static).update(out)

    def _render_compare(self, v: ModelVersion) -> None:
        widget = self.query_one("#version-compare", Static)
        mine = self._run(v.run_id)
        if self.alias is None or self.model is None:
            title = Text("Params and metrics", style="bold")
            title.append("  (the model has no alias to compare with)", style="dim")
            other_version, theirs = None, None
        else:
            other_version = self.model.aliases.get(self.alias)
            other = reg_store.version(self.ctx.reader(), v.name, other_version or "")
            theirs = self._run(other.run_id) if other is not None else None
            title = Text(f"v{v.version} vs ", style="bold")
            title.append_text(inert(f"@{self.alias}", "bold green"))
            title.append(f" (v{other_version})", style="bold")
            if len(self.aliases) > 1:
                title.append("   a: next alias", style="dim")
            if other_version == v.version:
                title.append(f"   @{self.alias} points at this version", style="dim")
            elif other is not None and theirs is None:
                title.append(f"   v{other_version}'s run is not in the runs cache", style="dim")
        table = Table(show_edge=False)
        table.add_column("field", no_wrap=True, min_width=24)
        table.add_column(inert(f"v{v.version}"), no_wrap=True, min_width=14)
        if other_version is not None:
            label = inert(f"@{self.alias} v{other_version}")
            table.add_column(label, no_wrap=True, min_width=14)
        rows = compare_rows(mine, theirs)
        for field, a, b in rows:
            differs = other_version is not None and a != b
            style = "bold yellow" if differs else ""
            cells_ = [Text(field, style="bold" if differs else "dim"), Text(a, style=style)]
            if other_version is not None:
                cells_.append(Text(b, style=style))
            table.add_row(*cells_)
        if not rows:
            note = "(no params or metrics cached for these runs)"
            table.add_row(Text(note, style="dim"), *([""] * (len(table.columns) - 1)))
        widget.update(Group(title, table))

    def action_cycle_alias(self) -> None:
        if not self.aliases:
            self.notify(
                f"{text.clean(self.model_name)} has no aliases.", severity="warning", markup=False
            )
            return
        i = self.aliases.index(self.alias) if self.alias in self.aliases else -1
        self.alias = self.aliases[(i + 1) % len(self.aliases)]
        if self.version is not None:
            self._render_compare(self.version)
