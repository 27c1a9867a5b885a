"""Node detail: one GPU node's GPUs (with the last hour as a sparkline), the pods on it with
their GPU requests and owners (Enter opens a pod's MLflow run), its conditions and events.

Opened from the GPU nodes pane, which refreshes it when the cache changes; `[`, `]` and `0`
move it in time like the pane. Everything shown is from the cache and drawn as inert text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from mlopstui import timefmt
from mlopstui.adapters.kubernetes import parse_time
from mlopstui.cache import gpu_nodes
from mlopstui.cache import gpus as gpu_store
from mlopstui.cache import kube as kube_store
from mlopstui.cache import runs as run_store
from mlopstui.ui.inert import inert
from mlopstui.ui.screens import time_travel
from mlopstui.ui.widgets import gpu_cells as cells
from mlopstui.ui.widgets.keyed_table import cursor_key
from mlopstui.ui.widgets.live_table import LiveTable

if TYPE_CHECKING:
    from mlopstui.ui.panes.gpus import GpuNodesPane

HOUR = 3600
SPARK_WIDTH = 24
NARROW_BELOW = 100
POD_COLUMNS = [
    ("namespace", "Namespace", None),
    ("pod", "Pod", None),
    ("phase", "Phase", None),
    ("gpus", "GPUs", 4),
    ("owner", "Owner", None),
    ("run", "MLflow run", None),
]


def _when(seconds: float | None) -> Text:
    if seconds is None:
        return Text("—", style="dim")
    return Text(timefmt.clock(int(seconds * 1000))[5:])


class NodeDetailScreen(Screen[None]):
    """One node, everything cached about it; Esc goes back."""

    DEFAULT_CSS = """
    NodeDetailScreen #node-header { height: auto; padding: 0 1; background: $boost; }
    NodeDetailScreen #node-header.-production { background: $error 35%; }
    NodeDetailScreen #node-header.-history { background: $warning 25%; }
    NodeDetailScreen VerticalScroll { padding: 0 1; }
    NodeDetailScreen .section-title { margin-top: 1; text-style: bold; }
    NodeDetailScreen #node-pods { height: auto; max-height: 14; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("enter", "open_run", "Open run", show=False),
        Binding("c", "cordon", "Cordon"),
        Binding("u", "uncordon", "Uncordon"),
        Binding("left_square_bracket", "earlier", "Earlier", key_display="["),
        Binding("right_square_bracket", "later", "Later", key_display="]"),
        Binding("0,backspace", "live", "Live", show=False),
    ]

    def __init__(self, pane: GpuNodesPane, node: str) -> None:
        super().__init__()
        self.pane = pane
        self.ctx = pane.ctx
        self.node = node
        self.context = pane.context or ""
        self.as_of: float | None = pane.as_of
        self._shown: dict[str, tuple] = {}
        self.run_ids: dict[str, str] = {}
        """Pod key -> the MLflow run id it carries."""

    def compose(self) -> ComposeResult:
        yield Static("", id="node-header")
        with VerticalScroll():
            yield Static("", id="node-gpus")
            yield Static("", id="node-pods-title", classes="section-title")
            yield LiveTable(id="node-pods", zebra_stripes=True)
            yield Static("", id="node-conditions")
            yield Static("", id="node-events")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.reload()
        self.query_one("#node-pods", LiveTable).focus()

    # ------------------------------------------------------------------ rendering

    def reload(self) -> None:
        """Re-read the node from the cache (the pane calls this when the cache changes)."""
        conn = self.ctx.reader()
        now = timefmt.now()
        t = now if self.as_of is None else self.as_of
        pane = self.pane
        rows = gpu_nodes.node_rows(
            conn,
            self.context,
            now,
            pane.busy,
            float(pane.gpu.get("idle_minutes", 30.0)),
            as_of=self.as_of,
        )
        row = next((r for r in rows if r.name == self.node), None)
        node = kube_store.node(conn, self.context, self.node)
        self._set("#node-header", self._header(row, node, now))
        self._set("#node-gpus", self._gpus(conn, t))
        self._pods(conn, row)
        self._set("#node-conditions", self._conditions(node))
        self._set("#node-events", self._events(conn, t))

    def _set(self, widget_id: str, content: Any) -> None:
        """Update a section only when what it shows changed."""
        key = _signature(content)
        if self._shown.get(widget_id) == key:
            return
        self._shown[widget_id] = key
        self.query_one(widget_id, Static).update(content)

    def _header(self, row: gpu_nodes.NodeRow | None, node: Any, now: float) -> Text:
        header = self.query_one("#node-header")
        production = bool(self.pane.kube.get("production"))
        header.set_class(production, "-production")
        header.set_class(self.as_of is not None, "-history")
        line = Text()
        line.append("Node ", style="bold")
        line.append_text(inert(self.node, "bold", limit=80))
        line.append("  ⎈ ", style="bold red" if production else "bold cyan")
        line.append_text(inert(self.context, "bold red" if production else "", limit=48))
        if production:
            line.append(" PRODUCTION", style="bold red")
        line.append("  ·  ", style="dim")
        if self.as_of is None:
            line.append("● live", style="green")
        else:
            line.append(f"as of {time_travel.label(self.as_of, now)} (history)", style="bold")
            line.append("  ] later · 0 live", style="dim")
        line.append("\n")
        if row is None:
            line.append(
                "Not a GPU node in the cache at this time."
                if self.as_of is not None
                else "Not in the cache any more (deleted, or no longer a GPU node).",
                style="yellow",
            )
            return line
        line.append_text(cells.status(row))
        product = cells.short_product(row.gpu_product) or "unknown GPU"
        allocatable = "?" if row.allocatable is None else str(row.allocatable)
        line.append(f" · {allocatable}× {product}")
        line.append(f" · {row.allocated}/{allocatable} allocated")
        if row.in_use is not None:
            line.append(f" · {row.in_use} in use")
        if row.idle_but_allocated:
            line.append(f" · {cells.IDLE_MARK} idle but allocated", style="bold yellow")
        line.append(" · age ")
        line.append_text(cells.age(row.age))
        if row.taints:
            line.append(" · taints ", style="dim")
            line.append_text(inert(", ".join(row.taints), limit=120))
        if node is not None and node.labels.get("kubernetes.io/hostname", self.node) != self.node:
            line.append(" · host ", style="dim")
            line.append_text(inert(node.labels["kubernetes.io/hostname"], limit=60))
        return line

    def _gpus(self, conn: Any, t: float) -> Any:
        samples = gpu_store.latest(conn, self.node, as_of=self.as_of)
        if not samples:
            note = Text("GPUs", style="bold")
            if self.pane.gpu.get("prometheus"):
                note.append("\n  No GPU samples for this node", style="dim")
            else:
                note.append(
                    "\n  No GPU metrics: set [gpu] prometheus_url to see utilisation", style="dim"
                )
            return note
        narrow = self.app.size.width < NARROW_BELOW
        spark = SPARK_WIDTH // 2 if narrow else SPARK_WIDTH
        table = Table(
            title=Text("GPUs (sparkline: utilisation over the last hour)", style="bold"),
            title_justify="left",
            box=None,
            padding=(0, 1),
            show_edge=False,
        )
        columns = [("#", "right"), ("UUID", "left")]
        if not narrow:  # under 100 columns the product is in the header line only
            columns.append(("Product", "left"))
        columns += [
            ("Util", "right"),
            ("Memory GiB", "right"),
            ("Temp", "right"),
            ("Power", "right"),
            ("Last hour", "left"),
        ]
        for name, justify in columns:
            table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        stale_before = t - gpu_nodes.RECENT
        for s in samples:
            history = gpu_store.history(conn, s.host, s.uuid, t - HOUR, t)
            line = cells.util_sparkline([h.util for h in history if h.util is not None], spark)
            stale = s.at <= stale_before
            values = [
                cells.percent(s.util, busy=self.pane.busy, na="n/a"),
                cells.gib(s.mem_used, s.mem_total, na="n/a", digits=1),
                cells.celsius(s.temp, na="n/a"),
                cells.watts(s.power, na="n/a"),
            ]
            if stale:
                for v in values:
                    v.stylize("dim")
            first = [
                Text("?" if s.index is None else str(s.index)),
                inert(_middle(s.uuid, 16 if narrow else 24), "dim"),
            ]
            if not narrow:
                first.append(inert(cells.short_product(s.product) or "?", limit=30))
            table.add_row(
                *first, *values, Text(line or "no samples", style="cyan" if line else "dim")
            )
            if s.error:
                table.add_row("", "", inert(s.error, "bold red", limit=60))
            elif stale:
                table.add_row("", "", Text(f"last sample {_when(s.at)}", style="dim"))
        return table

    def _pods(self, conn: Any, row: gpu_nodes.NodeRow | None) -> None:
        title = Text("Pods on this node", style="bold")
        table = self.query_one("#node-pods", LiveTable)
        self.run_ids = {}
        rows: list[tuple[str, list[Text]]] = []
        if self.as_of is not None:
            # History keeps who held GPUs, not every pod.
            title.append(" holding GPUs then", style="bold")
            for hold in row.holders if row is not None else ():
                rows.append(
                    (
                        f"{hold.namespace}/{hold.name}",
                        [
                            inert(hold.namespace, limit=40),
                            inert(hold.name, limit=80),
                            Text("—", style="dim"),
                            Text(str(hold.gpus)),
                            Text("—", style="dim"),
                            Text("—", style="dim"),
                        ],
                    )
                )
        else:
            for pod in kube_store.pods_on(conn, self.context, self.node):
                key = f"{pod.namespace}/{pod.name}"
                owner = Text("—", style="dim")
                if pod.owner_kind:
                    owner = inert(f"{pod.owner_kind}/{pod.owner_name}", limit=60)
                rows.append(
                    (
                        key,
                        [
                            inert(pod.namespace, limit=40),
                            inert(pod.name, limit=80),
                            inert(pod.phase or "?", _PHASE_STYLES.get(pod.phase, "")),
                            Text(str(pod.gpu_request) if pod.gpu_request else "—",
                                 style="" if pod.gpu_request else "dim"),
                            owner,
                            self._run_cell(conn, pod.run_id),
                        ],
                    )
                )  # fmt: skip
                if pod.run_id:
                    self.run_ids[key] = pod.run_id
            if self.run_ids:
                title.append("  Enter opens the pod's MLflow run", style="dim")
        if not rows:
            title.append("\n  none", style="dim")
        self._set("#node-pods-title", title)
        table.display = bool(rows)
        table.show(
            POD_COLUMNS,
            rows,
            # The scroll's padding and scrollbar, and the table's own scrollbar.
            room=max(40, self.app.size.width - 8),
            shrink=("run", "owner", "namespace", "pod"),
        )

    def _run_cell(self, conn: Any, run_id: str) -> Text:
        if not run_id:
            return Text("—", style="dim")
        run = run_store.get_run(conn, run_id)
        if run is None:
            return inert(f"{run_id[:8]} (not cached)", "dim", limit=40)
        out = Text("→ ", style="cyan")
        out.append_text(inert(run.name or run_id[:8], "cyan", limit=40))
        return out

    def _conditions(self, node: Any) -> Any:
        out = Table(
            title=Text("Conditions (now)", style="bold"),
            title_justify="left",
            box=None,
            padding=(0, 1),
            show_edge=False,
        )
        if node is None or not node.conditions:
            return Text("Conditions\n", style="bold") + Text(
                "  not visible (the node object is not cached)", style="dim"
            )
        _columns(out, ("Type", 14), ("Status", 7), ("Reason", 12), ("Since", 11), ("Message", 0))
        for c in node.conditions:
            kind, status = str(c.get("type", "")), str(c.get("status", ""))
            # Ready is good when True; the pressure conditions are good when False.
            bad = (status != "True") if kind == "Ready" else (status == "True")
            out.add_row(
                inert(kind, limit=40),
                inert(status, "bold red" if bad else "green", limit=10),
                inert(c.get("reason", ""), limit=40),
                _when(parse_time(c.get("since"))),
                inert(c.get("message", ""), "dim", limit=200),
            )
        return out

    def _events(self, conn: Any, t: float) -> Any:
        events = [
            e
            for e in kube_store.events_for(conn, self.context, self.node)
            if e.last_seen is None or e.last_seen <= t
        ]
        if not events:
            return Text("Recent events\n", style="bold") + Text("  none cached", style="dim")
        out = Table(
            title=Text("Recent events", style="bold"),
            title_justify="left",
            box=None,
            padding=(0, 1),
            show_edge=False,
        )
        _columns(out, ("Last seen", 11), ("Type", 7), ("Reason", 12), ("Count", 5), ("Message", 0))
        for e in events[:12]:
            out.add_row(
                _when(e.last_seen),
                inert(e.type, "yellow" if e.type == "Warning" else "", limit=20),
                inert(e.reason, limit=40),
                Text(f"×{e.count}", style="dim"),
                inert(e.message, limit=300),
            )
        return out

    # ------------------------------------------------------------------ keys

    @on(DataTable.RowSelected, "#node-pods")
    def _pod_selected(self) -> None:
        self.action_open_run()

    def action_open_run(self) -> None:
        """Open the MLflow run of the pod under the cursor (when it carries one)."""
        key = cursor_key(self.query_one("#node-pods", LiveTable))
        run_id = self.run_ids.get(key or "")
        if not run_id:
            self.ctx.notify("This pod carries no MLflow run id.", severity="warning")
            return
        if run_store.get_run(self.ctx.reader(), run_id) is None:
            self.ctx.notify(
                f"Run {run_id} is not in the cache (its experiment is not synced yet).",
                severity="warning",
            )
            return
        from mlopstui.ui.screens.run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(self.ctx, run_id))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("cordon", "uncordon"):
            return self.pane.allows(action)
        if action == "later":
            return self.as_of is not None
        return True

    def action_cordon(self) -> None:
        self.pane.request("cordon", self.node)

    def action_uncordon(self) -> None:
        self.pane.request("uncordon", self.node)

    def _travel(self, as_of: float | None) -> None:
        self.as_of = as_of
        self.reload()
        self.refresh_bindings()

    def action_earlier(self) -> None:
        now = timefmt.now()
        self._travel(time_travel.step(self.as_of, now, -time_travel.STEP, self.pane.oldest(now)))

    def action_later(self) -> None:
        if self.as_of is not None:
            now = timefmt.now()
            self._travel(time_travel.step(self.as_of, now, time_travel.STEP, self.pane.oldest(now)))

    def action_live(self) -> None:
        if self.as_of is not None:
            self._travel(None)


_PHASE_STYLES = {"Running": "green", "Pending": "yellow", "Failed": "bold red"}


def _columns(table: Table, *columns: tuple[str, int]) -> None:
    """One-line columns; those with a minimum width keep it when the screen is narrow (the
    message, minimum 0, gives way and ends in an ellipsis)."""
    for name, least in columns:
        table.add_column(
            name,
            no_wrap=True,
            overflow="ellipsis",
            min_width=least or None,
            ratio=None if least else 1,
        )


def _signature(content: Any) -> tuple:
    """Enough of a renderable to tell whether it changed (Text or a rich Table of Text)."""
    if isinstance(content, Text):
        return (content.plain, tuple(content.spans), str(content.style))
    if isinstance(content, Table):
        cells = tuple(
            _signature(cell) if isinstance(cell, Text) else (str(cell),)
            for column in content.columns
            for cell in column._cells  # noqa: SLF001 - rich keeps no public cell list
        )
        return (str(content.title), len(content.columns), cells)
    return (repr(content),)


def _middle(text: str, limit: int) -> str:
    """Cut a long id in the middle: GPU UUIDs share their start and differ at the end."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return f"{text[:head]}…{text[-(limit - 1 - head) :]}"
