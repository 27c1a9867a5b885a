"""The GPU nodes pane: which GPUs are allocated, which are busy, which node is sick.

Everything shown comes from the cache: the GPU nodes of the pinned Kubernetes context
(`cache.gpu_nodes.node_rows`: allocation from the pods, use from DCGM or NVML samples, the
idle-but-allocated flag), this host's GPUs and processes (NVML), and each source's freshness.
With `[`/`]` (or `t`) the same views show the cluster as of a past time, from the cached
history. Cordon and uncordon go through the action pipeline and exist only where it offers
them (not in read-only mode, not on a production context).

Refreshes at 1 Hz cost the terminal only the cells that changed (`LiveTable`), and nothing
when nothing changed. The kubeconfig is read after the first frame, never before it.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Resize, Show
from textual.widgets import DataTable, Input, Static

from mlopstui import timefmt
from mlopstui.actions import Outcome
from mlopstui.actions import kubernetes as kube_actions
from mlopstui.cache import gpu_nodes
from mlopstui.cache import gpus as gpu_store
from mlopstui.cache import kube as kube_store
from mlopstui.cache.gpu_nodes import NodeRow
from mlopstui.domain import Freshness
from mlopstui.plugin_api import API_VERSION
from mlopstui.plugin_api.pane import Pane, PaneCommand
from mlopstui.ui.screens import time_travel
from mlopstui.ui.widgets import gpu_cells as cells
from mlopstui.ui.widgets import gpu_lines as lines
from mlopstui.ui.widgets.keyed_table import cursor_key
from mlopstui.ui.widgets.live_table import LiveTable

NARROW_BELOW = 100  # columns; the app's `-narrow` breakpoint
SOURCE = kube_actions.SOURCE
_ONE_LINERS = (
    "#gpus-header",
    "#gpus-filter",
    "#gpus-detail",
    "#local-title",
    "#gpus-info",
    "#gpus-sources",
)


class GpuNodesPane(Pane):
    """GPU nodes of the pinned Kubernetes context, DCGM and NVML metrics, and their history."""

    pane_id = "gpus"
    title = "GPU nodes"
    topics = frozenset({"kube", "gpus", "freshness"})
    api_version = API_VERSION
    # Focusable itself: without a nodes table (no Kubernetes) the pane's keys must still
    # be the ones in force, not those of a hidden pane's widget.
    can_focus = True

    DEFAULT_CSS = """
    GpuNodesPane Static { text-wrap: nowrap; text-overflow: ellipsis; }
    GpuNodesPane #gpus-header { height: 1; padding: 0 1; background: $boost; }
    GpuNodesPane #gpus-header.-production { background: $error 35%; }
    GpuNodesPane #gpus-header.-history { background: $warning 25%; }
    GpuNodesPane #gpus-filter { height: 1; margin: 0 0 0 1; }
    GpuNodesPane #gpus-notes { height: auto; padding: 0 1; }
    GpuNodesPane #gpu-nodes { height: auto; }
    GpuNodesPane #gpus-detail { height: 1; padding: 0 1; }
    GpuNodesPane #local-title { height: 1; padding: 0 1; background: $boost; }
    GpuNodesPane #local-gpus { height: auto; max-height: 10; }
    GpuNodesPane #local-procs { height: auto; max-height: 8; }
    GpuNodesPane #gpus-bottom { dock: bottom; height: auto; }
    GpuNodesPane #gpus-info { height: 1; padding: 0 1; background: $boost; }
    GpuNodesPane #gpus-sources { height: 1; padding: 0 1; background: $boost; }
    """

    BINDINGS = [
        # Short labels: at 80 columns the footer holds these and the app's q and ?.
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort"),
        Binding("r", "reverse", "Reverse", show=False),
        Binding("c", "cordon", "Cordon"),
        Binding("u", "uncordon", "Uncordon"),
        Binding("left_square_bracket", "earlier", "Earlier", key_display="["),
        Binding("right_square_bracket", "later", "Later", key_display="]"),
        Binding("t", "as_of", "As of", show=False),
        Binding("0,backspace", "live", "Live", show=False),
        Binding("escape", "escape", "Back", show=False),
    ]

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.sort = "node"
        self.descending = False
        self.filter_text = ""
        self.as_of: float | None = None
        """None: live; else the time shown (epoch seconds)."""
        self.kube: dict[str, Any] = {}
        self.gpu: dict[str, Any] = {}
        self.rows: list[NodeRow] = []
        """The rows shown (filtered and sorted)."""
        self.total = 0
        self.ready = False
        self._stale = False
        self._fitted_to = 0
        self._shown: dict[str, object] = {}
        self.detail: Any = None
        """The node detail screen opened from here (refreshed with the pane)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="gpus-header")
        # The filter box is mounted by `/` and removed when emptied (see action_filter).
        yield Static("", id="gpus-notes")
        yield LiveTable(id="gpu-nodes", zebra_stripes=True)
        yield Static("", id="gpus-detail")
        yield Static("", id="local-title")
        yield LiveTable(id="local-gpus", cursor_type="none")
        yield LiveTable(id="local-procs", cursor_type="none")
        with Vertical(id="gpus-bottom"):
            yield Static("", id="gpus-info")
            yield Static("", id="gpus-sources")

    def on_mount(self) -> None:
        for table_id in ("#local-gpus", "#local-procs"):
            self.query_one(table_id, LiveTable).can_focus = False
        # The pinned context comes from the kubeconfig: read it after the first frame.
        self.call_after_refresh(self._first_load)

    def _first_load(self) -> None:
        self.kube = self.ctx.source_info("kubernetes")
        self.gpu = self.ctx.source_info("gpu")
        self.ready = True
        self.load()
        if (
            self.display
            and self.screen.focused is not None
            and self not in (self.screen.focused.ancestors_with_self)
        ):
            self.focus_default()  # focus went to a hidden pane's widget meanwhile
        self.refresh_bindings()

    def focus_default(self) -> None:
        table = self.query_one("#gpu-nodes", LiveTable)
        if table.display and (not self.ready or table.row_count):
            table.focus()
        else:
            self.focus()

    # ------------------------------------------------------------------ reading the cache

    @property
    def context(self) -> str | None:
        """The pinned Kubernetes context (None without Kubernetes)."""
        return self.kube.get("context")

    @property
    def busy(self) -> float:
        return float(self.gpu.get("busy_threshold", 5.0))

    def _room(self) -> int:
        self._fitted_to = self.size.width
        return max(40, (self.size.width or self.app.size.width) - 2)

    def on_resize(self, event: Resize) -> None:
        if not self.ready:
            return
        if event.size.width != self._fitted_to:
            self.load()
        else:
            # Taller or shorter (a pane mounted on first show is laid out in steps): the
            # nodes table gets the rows the rest leaves.
            self._fit_table()

    def on_show(self, event: Show) -> None:
        if self._stale:
            self.load()

    def on_topics_changed(self, topics: set[str]) -> None:
        if not self.ready:
            return  # the first load reads everything
        if not self.display:
            self._stale = True  # hidden: catch up when shown (nothing to draw meanwhile)
        else:
            self.load()
        if self.detail is not None and self.detail.is_attached:
            self.detail.reload()

    def load(self) -> None:
        """(Re)read everything shown; only what changed is repainted."""
        self._stale = False
        conn = self.ctx.reader()
        now = timefmt.now()
        context = self.context
        every: list[NodeRow] = []
        if context:
            every = gpu_nodes.node_rows(
                conn,
                context,
                now,
                self.busy,
                float(self.gpu.get("idle_minutes", 30.0)),
                as_of=self.as_of,
            )
        self.total = len(every)
        shown = [r for r in every if cells.matches(r, self.filter_text)]
        self.rows = cells.sort_rows(shown, self.sort, self.descending)
        narrow = self.app.size.width < NARROW_BELOW
        # History keeps allocation and readiness, not taints: the past shows none.
        history = self.as_of is not None
        table = self.query_one("#gpu-nodes", LiveTable)
        if table.has_focus and not every:
            self.focus()
        table.display = bool(every)
        table.show(
            cells.node_columns(narrow, history=history),
            [(r.name, cells.node_cells(r, narrow, self.busy, history=history)) for r in self.rows],
            room=self._room(),
            shrink=("taints", "gpu", "node", "status"),
        )
        header = self.query_one("#gpus-header")
        header.set_class(bool(self.kube.get("production")), "-production")
        header.set_class(self.as_of is not None, "-history")
        self._set("#gpus-header", lines.header_line(self.kube, self.as_of, now))
        kube_fresh = self.ctx.freshness(SOURCE) if context else None
        notes = lines.notes(
            kube=self.kube,
            prometheus=bool(self.gpu.get("prometheus")),
            kube_fresh=kube_fresh,
            dcgm_fresh=self.ctx.freshness("dcgm") if self.gpu.get("prometheus") else None,
            watch=kube_store.watch_status(conn, context).values() if context else (),
            total=self.total,
            shown=len(self.rows),
            filter_text=self.filter_text,
            as_of=self.as_of,
            now=now,
        )
        self._set("#gpus-notes", notes, layout=True)
        self.update_detail()
        self._load_local(conn)
        info = lines.info_line(
            self.rows, self.total, self.filter_text, self.sort, self.descending, cluster=context
        )
        self._set("#gpus-info", info)
        self._set("#gpus-sources", lines.sources_line(self._freshness(conn, kube_fresh), now))
        self._fit_table()

    def _fit_table(self) -> None:
        """Give the nodes table the rows the other parts leave (it scrolls beyond that), so
        the local GPUs stay in view right under it."""
        used = sum(1 for line in self.query(", ".join(_ONE_LINERS)) if line.display)
        notes = self._shown.get("#gpus-notes")
        used += len(notes[0].splitlines()) if notes else 0  # type: ignore[index]
        for table_id, most in (("#local-gpus", 10), ("#local-procs", 8)):
            table = self.query_one(table_id, LiveTable)
            if table.display:
                used += min(most, table.row_count + 1)
        height = self.size.height or self.app.size.height - 4
        self.query_one("#gpu-nodes").styles.max_height = max(3, height - used)

    def _set(self, widget_id: str, content: Text, *, layout: bool = False) -> None:
        """Update a line only when its text changed (an idle pane writes nothing)."""
        key = (content.plain, tuple(content.spans), str(content.style))
        if self._shown.get(widget_id) == key:
            return
        self._shown[widget_id] = key
        widget = self.query_one(widget_id, Static)
        widget.update(content, layout=layout)
        if layout:
            widget.display = bool(content.plain)

    def _freshness(self, conn: Any, kube: Freshness | None) -> list[tuple[str, Freshness]]:
        """Each configured source's freshness, for the sources line."""
        out = []
        if kube is not None:
            out.append(("Kubernetes", kube))
        if self.gpu.get("prometheus"):
            out.append(("DCGM", self.ctx.freshness("dcgm")))
        nvml = self.ctx.freshness("nvml")
        if nvml.state != "never" and not gpu_store.note(conn, "nvml"):
            out.append(("NVML", nvml))
        return out

    def _load_local(self, conn: Any) -> None:
        """This host's GPUs (NVML) and their processes, or one quiet line why not."""
        hosts = sorted({d.host for d in gpu_store.devices(conn) if d.source == "nvml"})
        samples = [s for host in hosts for s in gpu_store.latest(conn, host, as_of=self.as_of)]
        # Processes are kept as a snapshot, not as history.
        procs = [] if self.as_of is not None else [
            p for host in hosts for p in gpu_store.processes(conn, host)
        ]  # fmt: skip
        note = gpu_store.note(conn, "nvml")
        title = lines.local_title(
            hosts,
            note=note,
            nvml_on=bool(self.gpu.get("nvml", True)),
            as_of=self.as_of,
            samples=bool(samples),
            processes=bool(procs),
        )
        self._set("#local-title", title)
        devices_table = self.query_one("#local-gpus", LiveTable)
        procs_table = self.query_one("#local-procs", LiveTable)
        devices_table.display = bool(samples) and not (note and self.as_of is None)
        procs_table.display = bool(procs) and devices_table.display
        if devices_table.display:
            devices_table.show(
                cells.LOCAL_COLUMNS,
                [(f"{s.host}/{s.uuid}", cells.local_cells(s, self.busy)) for s in samples],
                room=self._room(),
                shrink=("state", "name"),
            )
        if procs_table.display:
            procs_table.show(
                cells.PROCESS_COLUMNS,
                [(f"{p.host}/{p.uuid}/{p.pid}", cells.process_cells(p)) for p in procs],
                room=self._room(),
                shrink=("command", "user"),
            )

    # ------------------------------------------------------------------ selection

    def selected(self) -> NodeRow | None:
        """The node under the cursor."""
        key = cursor_key(self.query_one("#gpu-nodes", LiveTable))
        return next((r for r in self.rows if r.name == key), None)

    def update_detail(self) -> None:
        """The line under the table: who holds the selected node's GPUs, the idle flag."""
        idle_minutes = float(self.gpu.get("idle_minutes", 30.0))
        self._set("#gpus-detail", lines.detail_line(self.selected(), self.busy, idle_minutes))

    @on(DataTable.RowHighlighted, "#gpu-nodes")
    def _row_highlighted(self) -> None:
        self.update_detail()

    @on(DataTable.RowSelected, "#gpu-nodes")
    def _row_selected(self) -> None:
        self.action_detail()

    def action_detail(self) -> None:
        """Open the selected node: GPUs with sparklines, pods, conditions, events."""
        row = self.selected()
        if row is None or not self.context:
            return
        from mlopstui.ui.screens.node_detail import NodeDetailScreen

        self.detail = NodeDetailScreen(self, row.name)
        self.app.push_screen(self.detail)

    # ------------------------------------------------------------------ filter and sort

    def _filter_box(self) -> Input | None:
        found = self.query("#gpus-filter")
        return found.first(Input) if found else None

    @on(Input.Changed, "#gpus-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.load()

    @on(Input.Submitted, "#gpus-filter")
    def _filter_submitted(self) -> None:
        self.query_one("#gpu-nodes", LiveTable).focus()

    @on(Input.Blurred, "#gpus-filter")
    def _filter_blurred(self) -> None:
        if not self.filter_text:
            self._drop_filter_box()

    def _drop_filter_box(self) -> None:
        box = self._filter_box()
        if box is not None:
            box.remove()
            self.call_after_refresh(self._fit_table)

    async def action_filter(self) -> None:
        """Show (mount) the filter box and focus it. Mounted only while in use: the pane
        adds no second filter Input to the app while it is not filtering."""
        box = self._filter_box()
        if box is None:
            box = Input(
                placeholder="filter: node, GPU, pod, taint, status, 'idle' · Enter keeps · "
                "Esc clears",
                id="gpus-filter",
                compact=True,
                select_on_focus=False,
            )
            box.cursor_blink = False  # nothing blinks: idle writes 0 bytes
            await self.mount(box, after="#gpus-header")
            self._fit_table()
        # At once, not with focus()'s call_later: keys typed right after `/` (a paste, a
        # fast typist over SSH) are already queued and must land in the box.
        self.screen.set_focus(box)

    def action_escape(self) -> None:
        box = self._filter_box()
        if box is not None and (box.has_focus or self.filter_text):
            refocus = box.has_focus
            if box.value:
                box.value = ""  # Changed reloads with no filter
            self.filter_text = ""
            self._drop_filter_box()
            if refocus:
                self.query_one("#gpu-nodes", LiveTable).focus()
        elif self.as_of is not None:
            self.action_live()

    def set_sort(self, key: str) -> None:
        """Sort by a key; the same key again flips the direction."""
        if key == self.sort:
            self.descending = not self.descending
        else:
            self.sort, self.descending = key, key in cells.DESCENDING_FIRST
        self.load()

    def action_sort(self) -> None:
        from mlopstui.ui.screens.registry_forms import ChoicePicker

        labels = {label: key for key, (label, _get) in cells.SORTS.items()}
        choices = [
            (label, ("now, " + ("↓" if self.descending else "↑")) if key == self.sort else "")
            for label, key in labels.items()
        ]

        def chosen(label: str | None) -> None:
            if label in labels:
                self.set_sort(labels[label])

        picker = ChoicePicker("Sort GPU nodes by (the same again reverses)", choices)
        self.app.push_screen(picker, chosen)

    def action_reverse(self) -> None:
        self.set_sort(self.sort)

    # ------------------------------------------------------------------ time travel

    def oldest(self, now: float) -> float:
        """The oldest time history is kept for."""
        return now - float(self.gpu.get("retention_days", 7.0)) * 86400

    def travel(self, as_of: float | None) -> None:
        """Show the pane (and an open node detail) as of a time; None: live."""
        now = timefmt.now()
        if as_of is not None and as_of >= now - 59:
            as_of = None
        self.as_of = as_of
        self.load()
        self.refresh_bindings()

    def action_earlier(self) -> None:
        now = timefmt.now()
        self.travel(time_travel.step(self.as_of, now, -time_travel.STEP, self.oldest(now)))

    def action_later(self) -> None:
        if self.as_of is not None:
            now = timefmt.now()
            self.travel(time_travel.step(self.as_of, now, time_travel.STEP, self.oldest(now)))

    def action_live(self) -> None:
        if self.as_of is not None:
            self.travel(None)

    def action_as_of(self) -> None:
        now = timefmt.now()

        def chosen(when: float | None) -> None:
            if when is not None:
                self.travel(when)

        self.app.push_screen(time_travel.AsOfPrompt(now, self.oldest(now)), chosen)

    # ------------------------------------------------------------------ actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("cordon", "uncordon"):
            return self.allows(action)
        if action == "later":
            return self.as_of is not None
        return True

    def allows(self, kind: str) -> bool:
        """Whether the pipeline offers cordon/uncordon now (never before the kubeconfig is
        read, in read-only mode or on a read-only context)."""
        if not self.ready or not self.context or self.ctx.read_only:
            return False
        return self.ctx.allows(SOURCE, kind)

    def request(self, kind: str, node: str) -> None:
        """Cordon or uncordon `node` through the action pipeline (confirm names context and
        node and asks for the node's name)."""
        if not self.allows(kind) or not self.context:
            return
        make = kube_actions.cordon if kind == "cordon" else kube_actions.uncordon
        self.ctx.request_action(make(self.context, node), self._action_done)

    def _action_done(self, outcome: Outcome | None) -> None:
        if outcome is not None and self.is_mounted:
            self.load()

    def action_cordon(self) -> None:
        row = self.selected()
        if row is not None:
            self.request("cordon", row.name)

    def action_uncordon(self) -> None:
        row = self.selected()
        if row is not None:
            self.request("uncordon", row.name)

    def action_switch_context(self) -> None:
        """Kubernetes: switch context… (the session stays pinned; see kube_context)."""
        from mlopstui.ui.screens.kube_context import pick_context

        pick_context(self.app, self.ctx, self.context)

    def commands(self) -> list[PaneCommand]:
        out = [
            PaneCommand("Filter nodes", "Filter by node, GPU, pod, taint or 'idle' (/)",
                        self.action_filter),
            PaneCommand("Sort nodes", "Choose the sort column (s)", self.action_sort),
            PaneCommand("Reverse sort", "Flip the sort direction (r)", self.action_reverse),
            PaneCommand("Node detail", "GPUs, pods, conditions, events (Enter)",
                        self.action_detail),
            PaneCommand("Step back 5 minutes", "Show the cluster as it was ([)",
                        self.action_earlier),
            PaneCommand("Show as of a time…", "Type a time to look back to (t)",
                        self.action_as_of),
            PaneCommand("Kubernetes: switch context…", "List the kubeconfig's contexts",
                        self.action_switch_context),
        ]  # fmt: skip
        if self.as_of is not None:
            out.append(PaneCommand("Back to live", "Leave the history view (0)", self.action_live))
        if self.allows("cordon"):
            out.append(
                PaneCommand("Cordon node", "No new pods on the selected node (c)",
                            self.action_cordon)
            )  # fmt: skip
        if self.allows("uncordon"):
            out.append(
                PaneCommand("Uncordon node", "Schedule on the selected node again (u)",
                            self.action_uncordon)
            )  # fmt: skip
        return out
