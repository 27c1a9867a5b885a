"""The Registry pane: registered models, their versions and aliases, and the registry actions
(promote, roll back, delete an alias, set or delete a version tag).

Everything shown comes from the cache (topic "registry", plus "runs" for the source runs'
names). Every write goes through the action pipeline with `ctx.request_action`; the write keys
exist only where the pipeline offers them (`ctx.allows`), so in read-only mode they are gone
from the footer, the help screen and the palette, and pressing them does nothing.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Resize
from textual.widgets import DataTable, Static

from mlopstui import text, timefmt
from mlopstui.actions import mlflow_registry as reg_actions
from mlopstui.cache import registry as reg_store
from mlopstui.cache import runs as run_store
from mlopstui.domain import ModelVersion, RegisteredModel
from mlopstui.plugin_api import API_VERSION
from mlopstui.plugin_api.pane import Pane, PaneCommand
from mlopstui.ui.panes.registry_writes import RegistryWrites
from mlopstui.ui.status import freshness_text
from mlopstui.ui.widgets import registry_cells as cells
from mlopstui.ui.widgets.keyed_table import cursor_key, fill

SOURCE = reg_actions.SOURCE
FEED = "mlflow-registry"
"""The feed this pane reads (the registry job's own freshness, not the runs')."""
NARROW_BELOW = 100  # columns; the same breakpoint as the app's `-narrow`
_FRESH_STYLES = {"ok": "dim", "error": "bold red", "warning": "yellow", "muted": "dim"}


class RegistryPane(RegistryWrites, Pane):
    """Registered models and versions from the MLflow model registry."""

    pane_id = "registry"
    title = "Registry"
    topics = frozenset({"registry", "runs"})
    api_version = API_VERSION

    BINDINGS = [
        # Short labels: at 80 columns the footer holds these and the app's q and ?.
        # The help screen shows the tooltips.
        Binding("p", "promote", "Promote", tooltip="promote the version to an alias"),
        Binding("b", "rollback", "Rollback", tooltip="roll an alias back where it was"),
        Binding("d", "delete_alias", "Delete", tooltip="delete an alias (type it to confirm)"),
        Binding("t", "set_tag", "Tag", tooltip="set a tag on the version"),
        Binding("T", "delete_tag", "Untag", tooltip="delete a tag of the version"),
        Binding("h", "history", "History", tooltip="alias history of the model"),
        Binding("escape", "models", "Models", show=False, tooltip="back to the models"),
    ]
    HELP_EXTRA = [
        ("Tab, shift+Tab", "between the models and the versions"),
        ("↑ ↓ PgUp PgDn Home End", "move"),
        ("Enter", "on a model: its versions; on a version: lineage and metrics vs an alias"),
        ("A", "audit log of every action attempted"),
    ]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.model_name: str | None = None
        self._models: list[RegisteredModel] = []
        self._versions: list[ModelVersion] = []
        self._narrow: bool | None = None
        self._fitted_to = 0

    def compose(self) -> ComposeResult:
        yield Static("", id="registry-empty")
        yield Static("", id="models-title", classes="registry-title")
        yield DataTable(id="models", cursor_type="row", zebra_stripes=True)
        yield Static("", id="versions-title", classes="registry-title")
        yield DataTable(id="versions", cursor_type="row", zebra_stripes=True)
        yield Static("", id="registry-info")

    def on_mount(self) -> None:
        self.load()

    def focus_default(self) -> None:
        if self._models:
            self.query_one("#models", DataTable).focus()
        else:
            self.focus()

    # ------------------------------------------------------------------ reading the cache

    def _is_narrow(self) -> bool:
        return self.app.size.width < NARROW_BELOW

    def on_resize(self, event: Resize) -> None:
        # Column widths are fitted to the pane: a new width re-fits them (and under 100
        # columns fewer columns are shown).
        if self._narrow is not None and event.size.width != self._fitted_to:
            self.load()

    def _room(self) -> int:
        """Columns a table can use without a horizontal scrollbar (its own vertical one
        included)."""
        self._fitted_to = self.size.width
        return max(40, (self.size.width or self.app.size.width) - 2)

    def load(self) -> None:
        """(Re)read models and versions, keeping the selected model and version."""
        conn = self.ctx.reader()
        self._models = reg_store.models(conn)
        names = [m.name for m in self._models]
        if self.model_name not in names:
            self.model_name = names[0] if names else None
        narrow = self._is_narrow()
        self._narrow = narrow
        empty = not self._models
        for widget_id in ("#models-title", "#models", "#versions-title", "#versions"):
            self.query_one(widget_id).display = not empty
        self.query_one("#registry-empty").display = empty
        if empty:
            self.query_one("#registry-empty", Static).update(self._empty_text())
        models = self.query_one("#models", DataTable)
        rows = [(m.name, cells.model_cells(m, narrow)) for m in self._models]
        columns = cells.model_columns(narrow)
        shrink = ("description", "tags", "aliases", "name")
        fill(models, columns, rows, keep=self.model_name, room=self._room(), shrink=shrink)
        self.query_one("#models-title", Static).update(
            Text(f"Models ({len(self._models)})", style="bold")
        )
        self.load_versions()

    def load_versions(self, *, keep_cursor: bool = True) -> None:
        """(Re)read the selected model's versions (the cursor stays on the same version, or
        goes to the newest for another model)."""
        conn = self.ctx.reader()
        name = self.model_name
        self._versions = reg_store.versions(conn, name) if name is not None else []
        table = self.query_one("#versions", DataTable)
        keep = cursor_key(table) if keep_cursor else None
        narrow = bool(self._narrow)
        runs: dict[str, Any] = {}
        for v in self._versions:
            if v.run_id and v.run_id not in runs:
                runs[v.run_id] = run_store.get_run(conn, v.run_id)
        rows = [
            (v.version, cells.version_cells(v, runs.get(v.run_id), narrow)) for v in self._versions
        ]
        if not keep_cursor:
            table.clear()  # another model: its rows, the cursor on the newest version
        columns = cells.version_columns(narrow)
        shrink = ("tags", "run", "aliases")
        fill(table, columns, rows, keep=keep, room=self._room(), shrink=shrink)
        title = Text("Versions of ", style="bold")
        title.append_text(Text(text.clean(name or "", limit=40), style="bold"))
        title.append(f" ({len(self._versions)})", style="bold")
        title.append("  Enter: detail", style="dim")
        self.query_one("#versions-title", Static).update(title)
        self.update_info()

    def _empty_text(self) -> Text:
        server = text.clean(self.ctx.source_label(SOURCE), limit=60)
        f = self.ctx.freshness(FEED)
        msg, _kind = freshness_text(f, timefmt.now())
        out = Text()
        if f.state == "never":
            out.append("No registry cached yet; syncing…", style="bold")
        elif f.state == "failing":
            out.append("No registered models cached", style="bold")
            out.append(f", and syncing from {server} is {msg}.")
        else:
            out.append(f"No registered models in {server}.", style="bold")
            out.append("\nRegister one with mlflow.register_model(...)")
        return out

    def update_info(self) -> None:
        """The line under the tables: the model, its aliases, freshness."""
        info = Text(no_wrap=True, overflow="ellipsis")
        model = self.selected_model()
        if model is not None:
            info.append(text.clean(model.name, limit=30), style="bold")
            n = len(self._versions)
            info.append(f" · {n} version{'' if n == 1 else 's'} · ")
            info.append_text(cells.alias_summary(model.aliases, 50))
            info.append(" · ")
        msg, kind = freshness_text(self.ctx.freshness(FEED), timefmt.now())
        info.append(msg, style=_FRESH_STYLES[kind])
        self.query_one("#registry-info", Static).update(info, layout=False)

    def on_topics_changed(self, topics: set[str]) -> None:
        self.load()

    # ------------------------------------------------------------------ selection

    def selected_model(self) -> RegisteredModel | None:
        """The model under the models cursor."""
        return next((m for m in self._models if m.name == self.model_name), None)

    def _catch_up(self) -> None:
        """Follow the models cursor now: its highlight message may still be queued behind
        keys typed quickly (Down, Tab, p), and an action must act on what the cursor is on."""
        name = cursor_key(self.query_one("#models", DataTable))
        if name is not None and name != self.model_name:
            self.model_name = name
            self.load_versions(keep_cursor=False)

    def selected_version(self) -> ModelVersion | None:
        """The version under the versions cursor."""
        key = cursor_key(self.query_one("#versions", DataTable))
        return next((v for v in self._versions if v.version == key), None)

    @on(DataTable.RowHighlighted, "#models")
    def _model_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = event.row_key.value
        # A refresh moves the cursor more than once; only where it ended up counts.
        if name != cursor_key(event.data_table):
            return
        if name != self.model_name:
            self.model_name = name
            self.load_versions(keep_cursor=False)

    @on(DataTable.RowSelected, "#models")
    def _model_selected(self) -> None:
        self.query_one("#versions", DataTable).focus()

    @on(DataTable.RowSelected, "#versions")
    def _version_selected(self) -> None:
        self.action_detail()

    def action_models(self) -> None:
        self.query_one("#models", DataTable).focus()

    # ------------------------------------------------------------------ read actions

    def action_detail(self) -> None:
        """Open the selected version: lineage and metrics against an alias."""
        self._catch_up()
        version = self.selected_version()
        if version is None:
            self.ctx.notify("Pick a version first.", severity="warning")
            return
        from mlopstui.ui.screens.version_detail import VersionDetailScreen

        self.app.push_screen(VersionDetailScreen(self.ctx, version.name, version.version))

    def action_history(self) -> None:
        """Every recorded move of the selected model's aliases."""
        self._catch_up()
        if self.model_name is None:
            self.ctx.notify("No model selected.", severity="warning")
            return
        from mlopstui.ui.screens.alias_history import AliasHistoryScreen

        self.app.push_screen(AliasHistoryScreen(self.ctx, self.model_name))

    def commands(self) -> list[PaneCommand]:
        return [
            PaneCommand(
                "Version detail", "Lineage and metrics vs an alias (Enter)", self.action_detail
            ),
            PaneCommand(
                "Alias history", "Every recorded move of this model's aliases (h)",
                self.action_history,
            ),
            PaneCommand(
                "Audit log", "Every action attempted from here (A)",
                lambda: self.app.run_action("audit"),
            ),
            *self.write_commands(),
        ]  # fmt: skip
