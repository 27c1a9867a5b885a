"""The GPU nodes pane: the nodes table with the idle-but-allocated flag, filter and sort, node
detail (GPUs with sparklines, pods, jump to the MLflow run, events), time travel, cordon and
uncordon through the action pipeline (against the real test control plane when it runs),
read-only and production contexts, the partial-data, no-NVML and empty states, hostile text,
and the bytes a 1 Hz refresh writes to the terminal.

The cache is seeded by gpu_builders.py at the frozen clock (2026-03-02 12:00 UTC); sync is off.
"""

from __future__ import annotations

import io
import re
import uuid
from pathlib import Path

import pytest
from rich.console import Console
from textual._compositor import CompositorUpdate
from textual.widgets import Input

from mlopstui.actions import Plan
from mlopstui.actions import kubernetes as kube_actions
from mlopstui.cache.gpu_nodes import NodeRow
from mlopstui.ui.panes.gpus import GpuNodesPane
from mlopstui.ui.screens.confirm import ConfirmActionScreen
from mlopstui.ui.screens.help import HelpScreen
from mlopstui.ui.screens.node_detail import NodeDetailScreen
from mlopstui.ui.screens.run_detail import RunDetailScreen
from mlopstui.ui.screens.time_travel import AsOfPrompt, label, parse, step
from mlopstui.ui.widgets import gpu_cells as cells
from mlopstui.ui.widgets import gpu_lines as lines
from mlopstui.ui.widgets.live_table import LiveTable

from .builders import FORBIDDEN, FROZEN_NOW, notifications, screen_text, terminal_output, wait_for
from .gpu_builders import (
    BUSY_NODE,
    CACHED_RUN_ID,
    CORDONED_NODE,
    CTX,
    HOSTILE_COMMAND,
    HOSTILE_COMMAND_CLEAN,
    HOSTILE_EVENT,
    HOSTILE_EVENT_CLEAN,
    HOSTILE_OWNER_CLEAN,
    HOSTILE_POD,
    HOSTILE_POD_CLEAN,
    IDLE_NODE,
    NODES,
    NVML_MISSING,
    PROD,
    TOKEN,
    T,
    eight_local_samples,
    gpu_app,
    write_local,
)
from .registry_helpers import pick, settle, wait_confirm, wait_toast

SIZE = (160, 45)


@pytest.fixture
def make(tmp_path: Path):
    """`make(**gpu_app kwargs)`: the workbench on the GPU pane; closes what it made."""
    made = []

    def build(**kwargs):
        app = gpu_app(tmp_path / f"app{len(made)}", **kwargs)
        made.append(app)
        return app

    yield build
    for app in made:
        app.workbench.close()
        app.pipeline.close()


def pane(app) -> GpuNodesPane:
    return app.query_one(GpuNodesPane)


def nodes_table(app) -> LiveTable:
    return app.query_one("#gpu-nodes", LiveTable)


async def loaded(pilot) -> GpuNodesPane:
    """Wait for the first load (after the first frame)."""
    await wait_for(pilot, lambda: pane(pilot.app).ready)
    await pilot.pause()
    return pane(pilot.app)


async def cursor_to(pilot, node: str) -> None:
    table = nodes_table(pilot.app)
    table.focus()
    keys = table.row_keys()
    while keys[table.cursor_row] != node:
        await pilot.press("down" if keys.index(node) > table.cursor_row else "up")
    await wait_for(pilot, lambda: pane(pilot.app).selected().name == node)


def cell(app, node: str, column: str) -> str:
    return nodes_table(app).get_cell(node, column).plain


# ---------------------------------------------------------------- the table


async def test_loaded_table_shows_allocation_use_and_the_idle_flag(make):
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        p = await loaded(pilot)
        assert nodes_table(app).row_keys() == list(NODES)
        shown = screen_text(app)
        assert f"⎈ {CTX}" in shown and "https://10.20.0.1:6443" in shown and "● live" in shown
        assert TOKEN not in shown
        assert cell(app, BUSY_NODE, "alloc") == "8/8"
        assert cell(app, BUSY_NODE, "use") == "8"
        assert cell(app, IDLE_NODE, "alloc") == "4/8"
        assert cell(app, IDLE_NODE, "node").startswith(cells.IDLE_MARK)
        assert not cell(app, BUSY_NODE, "node").startswith(cells.IDLE_MARK)
        assert cell(app, CORDONED_NODE, "status") == "Ready,cordoned"
        assert "unschedulable:NoSchedule" in cell(app, CORDONED_NODE, "taints")
        assert cell(app, "l4-node-4", "util") == "—"  # no samples: unknown, not 0
        assert cell(app, "l4-node-4", "status") == "Unknown"
        assert cell(app, BUSY_NODE, "age") == "40d"
        assert "4 nodes · 28 GPUs · 13 allocated · 8 in use · ⚑ 1 idle" in shown
        assert "● Kubernetes live" in shown and "● DCGM live" in shown
        # The flagged node's detail line names the pods holding its GPUs.
        await cursor_to(pilot, IDLE_NODE)
        shown = screen_text(app)
        assert f"{IDLE_NODE} ⚑ 4 GPUs allocated, idle (≤5% for 30 min): ml-team/eval-sweep-3" in (
            shown
        )
        assert p.selected().idle_but_allocated


async def test_pane_mounts_when_first_shown_and_while_hidden_is_only_marked_stale(make):
    app = make(settings_flags={"ui.start_pane": "experiments"})
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        (p,) = [x for x in app.panes if isinstance(x, GpuNodesPane)]
        assert not p.is_mounted and not p.ready  # not shown yet: nothing mounted, nothing read
        cache = app.workbench.cache_path
        write_local(cache, eight_local_samples(T + 1, 1))
        await pilot.press("3")
        p = await loaded(pilot)
        local = app.query_one("#local-gpus", LiveTable)
        await wait_for(pilot, lambda: any("GPU-bench" in k for k in local.row_keys()))
        assert "A100-SXM4-80GB" in screen_text(app)
        await pilot.press("1")
        await pilot.pause()
        assert not p.display
        p.on_topics_changed({"gpus"})
        assert p._stale  # noqa: SLF001 - hidden: nothing read, nothing drawn
        await pilot.press("3")
        await wait_for(pilot, lambda: not p._stale)  # noqa: SLF001


async def test_filter_by_text_and_idle_then_escape_clears(make):
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"h100")
        await wait_for(pilot, lambda: nodes_table(app).row_keys() == [CORDONED_NODE])
        assert "1 node of 4 (filtered)" in screen_text(app)
        await pilot.press("enter")
        assert app.focused is nodes_table(app)
        await pilot.press("slash", *["backspace"] * 4, *"idle")
        await wait_for(pilot, lambda: nodes_table(app).row_keys() == [IDLE_NODE])
        await pilot.press(*["backspace"] * 4, *"eval-sweep")  # a pod holding GPUs
        await wait_for(pilot, lambda: nodes_table(app).row_keys() == [IDLE_NODE])
        await pilot.press(*"zzz")
        await wait_for(pilot, lambda: "No node matches the filter" in screen_text(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: nodes_table(app).row_keys() == list(NODES))
        await wait_for(pilot, lambda: not app.query("#gpus-filter"))  # the box is gone


async def test_sort_by_utilisation_then_reverse(make):
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("s")
        await pick(pilot, "Mean utilisation")
        # Highest first; a node without samples is last either way.
        await wait_for(pilot, lambda: nodes_table(app).row_keys()[0] == BUSY_NODE)
        assert nodes_table(app).row_keys()[-1] == "l4-node-4"
        assert "sort util ↓" in screen_text(app)
        await pilot.press("r")
        await wait_for(pilot, lambda: "sort util ↑" in screen_text(app))
        keys = nodes_table(app).row_keys()
        assert keys[-2:] == [BUSY_NODE, "l4-node-4"]


# ---------------------------------------------------------------- node detail


async def open_detail(pilot, node: str) -> NodeDetailScreen:
    await cursor_to(pilot, node)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, NodeDetailScreen))
    await pilot.pause()
    return pilot.app.screen


async def test_node_detail_shows_gpus_with_sparklines_pods_conditions_and_events(make):
    app = make()
    async with app.run_test(size=(160, 60)) as pilot:
        await loaded(pilot)
        detail = await open_detail(pilot, IDLE_NODE)
        shown = screen_text(app)
        assert f"Node {IDLE_NODE}" in shown and f"⎈ {CTX}" in shown
        assert "⚑ idle but allocated" in shown
        for i in range(8):
            assert f"GPU-{IDLE_NODE}-{i}" in shown
        # Busy until 09:10, idle since: the last hour is a flat low line.
        assert "▁" * 24 in shown
        pods = detail.query_one("#node-pods", LiveTable)
        assert pods.row_keys()[:2] == ["ml-team/bert-finetune-0", "ml-team/eval-sweep-3"]
        assert "Job/eval-sweep" in shown and "ffffffff (not cached)" in shown
        assert "DaemonSet/nvidia-device-plugin" in shown
        assert "KubeletReady" in shown and "Conditions (now)" in shown
        assert "GPUHealth" in shown and HOSTILE_EVENT_CLEAN in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, NodeDetailScreen))


async def test_busy_node_sparkline_and_jump_to_the_pods_mlflow_run(make):
    app = make()
    async with app.run_test(size=(160, 60)) as pilot:
        await loaded(pilot)
        detail = await open_detail(pilot, BUSY_NODE)
        shown = screen_text(app)
        assert "→ happy-lynx-53" in shown  # the run is cached: its name
        assert HOSTILE_POD_CLEAN in shown and HOSTILE_OWNER_CLEAN in shown
        assert any(ch in shown for ch in "▆▇█")  # 85-98 % on a 0-100 scale
        pods = detail.query_one("#node-pods", LiveTable)
        assert pods.row_keys()[0] == "ml-team/train-llama-7b-0"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        assert app.screen.run_id == CACHED_RUN_ID


async def test_a_pod_whose_run_is_not_cached_says_so(make):
    app = make()
    async with app.run_test(size=(160, 60), notifications=True) as pilot:
        await loaded(pilot)
        detail = await open_detail(pilot, IDLE_NODE)
        pods = detail.query_one("#node-pods", LiveTable)
        pods.move_cursor(row=pods.row_keys().index("ml-team/eval-sweep-3"))
        await pilot.press("enter")
        message, _ = await wait_toast(pilot, "is not in the cache")
        assert "f" * 32 in message
        assert isinstance(app.screen, NodeDetailScreen)


# ---------------------------------------------------------------- time travel


async def test_time_travel_steps_back_types_a_time_and_returns_to_live(make):
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        p = await loaded(pilot)
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: "as of 11:55 (history)" in screen_text(app))
        assert p.as_of == FROZEN_NOW - 300
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: "as of 11:50 (history)" in screen_text(app))
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "as of 11:55 (history)" in screen_text(app))
        # Before 09:00: bert-finetune held all of node 2 and was busy; node 3 not cordoned.
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, AsOfPrompt))
        await pilot.press(*"08:30", "enter")
        await wait_for(pilot, lambda: "as of 08:30 (history)" in screen_text(app))
        assert cell(app, IDLE_NODE, "alloc") == "8/8"
        assert not cell(app, IDLE_NODE, "node").startswith(cells.IDLE_MARK)
        assert cell(app, CORDONED_NODE, "status") == "Ready"
        assert cell(app, CORDONED_NODE, "alloc") == "1/8"
        assert cell(app, "l4-node-4", "status") == "Ready"
        # History keeps no taints: the column is gone rather than showing today's.
        assert "taints" not in [c.key.value for c in nodes_table(app).ordered_columns]
        assert "processes: live only" in screen_text(app) or "no samples cached" in (
            screen_text(app)
        )
        # The node detail opens at the same time.
        detail = await open_detail(pilot, CORDONED_NODE)
        assert detail.as_of == p.as_of
        shown = screen_text(app)
        assert "as of 08:30 (history)" in shown and "jupyter-alice" in shown
        await pilot.press("escape")
        await pilot.press("0")
        await wait_for(pilot, lambda: "● live" in screen_text(app))
        assert p.as_of is None
        assert cell(app, CORDONED_NODE, "status") == "Ready,cordoned"


async def test_a_time_still_to_come_is_refused_in_the_prompt(make):
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, AsOfPrompt))
        await pilot.press(*"nonsense", "enter")
        await wait_for(pilot, lambda: "type a time like" in screen_text(app))
        assert isinstance(app.screen, AsOfPrompt)
        await pilot.press("escape")
        assert pane(app).as_of is None


def test_time_parsing_and_stepping():
    now = float(FROZEN_NOW)  # 12:00
    assert parse("11:15", now) == now - 45 * 60
    assert parse("13:00", now) == now - 23 * 3600  # still to come today: yesterday
    assert parse("90m", now) == now - 5400
    assert parse("-2h", now) == now - 7200
    assert parse("2026-03-01 23:40", now) == now - 12 * 3600 - 20 * 60
    with pytest.raises(ValueError):
        parse("soon", now)
    oldest = now - 7 * 86400
    assert step(None, now, -300, oldest) == now - 300
    assert step(now - 300, now, 300, oldest) is None  # back to live
    assert step(oldest + 100, now, -3600, oldest) >= oldest
    assert label(now - 300, now) == "11:55"
    assert label(now - 86400, now) == "03-01 12:00"


# ---------------------------------------------------------------- actions


async def test_cordon_key_opens_the_flow_for_the_selected_node_in_the_pinned_context(make):
    """Against a kubeconfig whose server nothing answers: the flow is asked for exactly this
    node in this context, and says it could not read the node (no modal, nothing sent)."""
    app = make()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        p = await loaded(pilot)
        requested = []
        original = p.ctx.request_action
        p.ctx.request_action = lambda action, done=None: (
            requested.append(action),
            original(action, done),
        )
        await cursor_to(pilot, BUSY_NODE)
        await pilot.press("c")
        message, severity = await wait_toast(pilot, "Could not prepare", timeout=30)
        assert severity == "error"
        assert [(a.kind, a.params) for a in requested] == [
            ("cordon", {"context": CTX, "node": BUSY_NODE})
        ]
        assert requested[0].dangerous
        assert not isinstance(app.screen, ConfirmActionScreen)


async def test_confirm_for_a_cordon_names_context_and_node_and_wants_the_name_typed(make):
    app = make()
    async with app.run_test(size=(100, 30)) as pilot:
        await loaded(pilot)
        action = kube_actions.cordon(CTX, BUSY_NODE)
        plan = Plan(
            action,
            f"Cordon node {BUSY_NODE}",
            f"kubernetes {CTX} (https://10.20.0.1:6443)",
            "schedulable",
            "cordoned",
            details=(f"context: {CTX}", "API server: https://10.20.0.1:6443"),
            confirm_phrase=BUSY_NODE,
        )
        results = []
        app.push_screen(ConfirmActionScreen(plan), results.append)
        await pilot.pause()
        shown = screen_text(app)
        assert f"node {BUSY_NODE} in {CTX}" in shown
        assert f"context: {CTX}" in shown and f"Type {BUSY_NODE} to confirm" in shown
        await pilot.press("enter")  # the name is not typed yet: nothing happens
        await pilot.pause()
        assert isinstance(app.screen, ConfirmActionScreen) and not results
        await pilot.press(*BUSY_NODE, "enter")
        await wait_for(pilot, lambda: results == [True])


def _footer_keys(app) -> str:
    return screen_text(app).splitlines()[-1]


async def test_cordon_keys_are_offered_on_a_writable_context(make):
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        p = await loaded(pilot)
        assert "c Cordon" in _footer_keys(app) and "u Uncordon" in _footer_keys(app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "GPU nodes: Cordon node" in titles and "GPU nodes: Uncordon node" in titles
        assert p.allows("cordon")


@pytest.mark.parametrize(
    ("kwargs", "badge"),
    [
        ({"context": PROD}, "PRODUCTION READ-ONLY"),
        ({"read_only": True}, "READ-ONLY"),
        ({"settings_flags": {"kubernetes.read_only": True}}, "READ-ONLY"),
    ],
)
async def test_read_only_contexts_have_no_cordon_keys_anywhere(make, kwargs, badge):
    app = make(**kwargs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        p = await loaded(pilot)
        shown = screen_text(app)
        assert badge in shown.splitlines()[2]
        assert "Cordon" not in _footer_keys(app) and "Uncordon" not in _footer_keys(app)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert not [t for t in titles if "ordon" in t]
        await pilot.press("c", "u")  # pressing them anyway does nothing
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmActionScreen)
        assert app.actions.busy_note() is None
        app.action_help()
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_text = screen_text(app)
        assert "GPU nodes" in help_text and "Filter" in help_text
        assert "Cordon" not in help_text
        assert not p.allows("cordon")


async def test_production_context_header_is_drawn_in_the_danger_colour(make):
    app = make(context=PROD)
    async with app.run_test(size=SIZE) as pilot:
        p = await loaded(pilot)
        assert app.query_one("#gpus-header").has_class("-production")
        assert f"⎈ {PROD} PRODUCTION READ-ONLY" in screen_text(app)
        header = lines.header_line(p.kube, None, FROZEN_NOW)
        start = header.plain.index(PROD)
        assert any(s.start <= start < s.end and str(s.style) == "bold red" for s in header.spans)


# A real control plane: cordon and uncordon from the keyboard, through confirm and audit.


@pytest.fixture
def real_cluster(tmp_path: Path):
    """(kubeconfig, node name): a GPU node on the test control plane, deleted afterwards.
    Skips (fails under MLOPSTUI_REQUIRE_SERVICES=1) without `bash scripts/services up`."""
    from cluster_helpers import create_gpu_node
    from kubernetes import client, config
    from services import require_service, service_env

    env = service_env("kube")
    kubeconfig = Path(env.get("KUBECONFIG_ADMIN", ""))
    if not kubeconfig.is_file():
        require_service("kube", "no admin kubeconfig: run `bash scripts/services up`")
    api = config.new_client_from_config(config_file=str(kubeconfig), persist_config=False)
    try:
        client.VersionApi(api).get_code(_request_timeout=5)
    except Exception as exc:
        api.close()
        require_service("kube", f"API server not answering: {exc}")
    name = f"gpu-ui-cordon-{uuid.uuid4().hex[:6]}"
    create_gpu_node(api, name)
    try:
        yield kubeconfig, name, client.CoreV1Api(api)
    finally:
        try:
            client.CoreV1Api(api).delete_node(name)
        finally:
            api.close()


@pytest.mark.kubernetes
async def test_cordon_and_uncordon_from_the_keyboard_on_the_real_control_plane(
    real_cluster, tmp_path
):
    from mlopstui.adapters.kubernetes import KubeSource
    from mlopstui.cache import db, gpu_nodes
    from mlopstui.cache import kube as kube_store
    from mlopstui.cache.audit import AuditLog

    from .builders import build_cache, make_app
    from .gpu_builders import gpu_settings

    kubeconfig, node, core = real_cluster
    cache = build_cache(tmp_path / "real.sqlite", "loaded")
    source = KubeSource(str(kubeconfig))
    try:
        live = source.get_node(node)
    finally:
        source.close()
    writer = db.Writer(db.open_writer(cache))
    with writer.transaction() as conn:  # as the node watch would have cached it
        kube_store.replace(conn, source.context, "nodes", [live])
        gpu_nodes.snapshot_allocations(conn, source.context, None, FROZEN_NOW)
    writer.close()
    app = make_app(cache, settings=gpu_settings(cache, kubeconfig, prometheus=False))
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await loaded(pilot)
            await cursor_to(pilot, node)
            await pilot.press("c")
            confirm = await wait_confirm(pilot)
            shown = screen_text(app)
            assert f"context: {source.context}" in shown
            assert f"API server: {source.server}" in shown
            assert confirm.plan.before == "schedulable" and confirm.plan.after == "cordoned"
            await pilot.press(*node, "enter")
            await wait_toast(pilot, "done", timeout=30)
            await settle(pilot)
            assert core.read_node(node).spec.unschedulable
            await wait_for(pilot, lambda: cell(app, node, "status") == "Ready,cordoned")

            await pilot.press("u")
            await wait_confirm(pilot)
            await pilot.press(*node, "enter")
            await wait_for(
                pilot,
                lambda: sum("done" in m for m, _ in notifications(app)) >= 2,
                timeout=30,
            )
            await settle(pilot)
            assert not core.read_node(node).spec.unschedulable
            await wait_for(pilot, lambda: cell(app, node, "status") == "Ready")
        audit = AuditLog(cache.with_name(f"{cache.stem}-audit.sqlite"))
        mine = [r for r in audit.records() if r.target == f"node {node} in {source.context}"]
        audit.close()
        assert sorted((r.action, r.outcome) for r in mine) == [
            ("cordon", "ok"),
            ("uncordon", "ok"),
        ]
    finally:
        app.workbench.close()
        app.pipeline.close()


# ---------------------------------------------------------------- states


async def test_no_nvml_is_one_quiet_line_and_the_rest_works(make):
    app = make(seed={"nvml": False})
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        shown = screen_text(app)
        assert f"Local GPUs: {NVML_MISSING}" in shown
        assert not app.query_one("#local-gpus").display
        assert not app.query_one("#local-procs").display
        assert nodes_table(app).row_keys() == list(NODES)
        assert "NVML synced" not in shown


async def test_rbac_forbidden_nodes_are_partial_data_with_the_reason(make):
    app = make(seed={"partial": True})
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        shown = screen_text(app)
        assert "⚠ Partial data: nodes: forbidden for user readonly (RBAC)" in shown
        # The rows come from the pods: allocation is known, allocatable is not.
        assert nodes_table(app).row_keys() == [BUSY_NODE, IDLE_NODE, "l4-node-4"]
        assert cell(app, BUSY_NODE, "alloc") == "8/?"
        assert cell(app, BUSY_NODE, "status") == "?"  # not known, not kubelet's Unknown
        assert "? GPUs · 13 allocated" in shown


async def test_unreachable_api_server_keeps_the_cached_data_and_says_since_when(make):
    app = make(seed={"kube_failing": True})
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        shown = screen_text(app)
        assert "✗ Kubernetes failing since 11:45, showing cached data from 10:00" in shown
        assert nodes_table(app).row_keys() == list(NODES)


async def test_no_kubeconfig_says_how_to_get_one_and_local_gpus_still_show(make):
    app = make(kubeconfig=False)
    async with app.run_test(size=SIZE) as pilot:
        p = await loaded(pilot)
        shown = screen_text(app)
        assert "No Kubernetes: set KUBECONFIG or [kubernetes] kubeconfig" in shown
        assert not nodes_table(app).display
        assert "GeForce RTX 4090" in shown
        assert not p.allows("cordon")
        assert "Cordon" not in _footer_keys(app)
        # The pane's keys are in force, not those of the hidden Experiments pane.
        assert "Columns" not in _footer_keys(app) and "/ Filter" in _footer_keys(app)
        assert "No cluster: this host's GPUs only" in shown


async def test_no_prometheus_says_which_setting_brings_utilisation(make):
    app = make(prometheus=False)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        shown = screen_text(app)
        assert "No cluster GPU metrics: set [gpu] prometheus_url to see utilisation" in shown
        assert "DCGM synced" not in shown


async def test_a_context_without_gpu_nodes_says_so(make):
    app = make(context="staging", seed={"context": CTX})
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot)
        # The cache holds gpu-dev's nodes only: nothing of another cluster leaks in.
        assert "No GPU nodes in staging" in screen_text(app)
        assert not nodes_table(app).display


async def test_hostile_names_messages_and_commands_are_drawn_as_text(make):
    app = make()
    async with app.run_test(size=(160, 60)) as pilot:
        await loaded(pilot)
        out = terminal_output(app)
        assert HOSTILE_COMMAND_CLEAN in screen_text(app)
        for ch in FORBIDDEN:
            assert ch not in out.replace("\x1b[", "").replace("\x1b]", ""), repr(ch)
        assert HOSTILE_COMMAND not in out
        await open_detail(pilot, BUSY_NODE)
        shown = screen_text(app)
        assert HOSTILE_POD_CLEAN in shown and HOSTILE_POD not in shown
        assert "[red]owner[/red]" in shown  # markup shown as text, never applied
        await pilot.press("escape")
        await open_detail(pilot, IDLE_NODE)
        shown = screen_text(app)
        assert HOSTILE_EVENT_CLEAN in shown and HOSTILE_EVENT not in shown
        assert "GPU fell off the bus" in shown


async def test_switch_context_lists_the_kubeconfig_and_keeps_the_session_pinned(make):
    app = make()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        p = await loaded(pilot)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "GPU nodes: Kubernetes: switch context…" in titles
        p.action_switch_context()
        await wait_for(pilot, lambda: "prod-east" in screen_text(app))
        shown = screen_text(app)
        assert re.search(r"gpu-dev +pinned now", shown)
        assert re.search(r"prod-east +production", shown)
        await pick(pilot, PROD)
        message, severity = await wait_toast(pilot, "mlopstui --context prod-east")
        assert severity == "warning" and "stays pinned to gpu-dev" in message
        assert p.context == CTX
        assert app.pipeline.allows("kubernetes", "cordon")  # still the gpu-dev pipeline


# ---------------------------------------------------------------- bytes on the wire


async def test_a_1hz_refresh_of_8_gpus_writes_only_the_changed_cells(make):
    """DESIGN's budget: 8 GPUs refreshing at 1 Hz <= 1.5 KB/s when every value changes, 0 B/s
    when none does. Counts what the compositor would send to a truecolor terminal."""
    app = make()  # this host's 2 GPUs, plus the 8 below
    console = Console(
        file=io.StringIO(), force_terminal=True, color_system="truecolor", legacy_windows=False
    )
    written: list[str] = []
    display = app._display  # noqa: SLF001 - the one place frames leave the app

    def spy(screen, renderable):
        if isinstance(renderable, CompositorUpdate):
            written.append(renderable.render_segments(console))
        return display(screen, renderable)

    app._display = spy  # noqa: SLF001
    async with app.run_test(size=SIZE) as pilot:
        p = await loaded(pilot)
        cache = app.workbench.cache_path
        write_local(cache, eight_local_samples(T, 0), [])
        p.on_topics_changed({"gpus"})
        await wait_for(pilot, lambda: app.query_one("#local-gpus", LiveTable).row_count == 10)
        await pilot.pause(0.1)
        sizes = []
        for second in range(1, 6):
            write_local(cache, eight_local_samples(T + second, second))
            written.clear()
            p.on_topics_changed({"gpus"})
            await pilot.pause(0.1)
            # 8 GPUs x 4 values; the 2 idle GPUs of this host cost nothing.
            assert app.query_one("#local-gpus", LiveTable).repainted == 32
            sizes.append(sum(len(w.encode()) for w in written))
        assert max(sizes) <= 1500, sizes
        written.clear()
        p.on_topics_changed({"gpus", "freshness"})  # nothing new
        await pilot.pause(0.1)
        assert sum(len(w) for w in written) == 0


# ---------------------------------------------------------------- pure cells


def _row(**kw) -> NodeRow:
    base = dict(
        name="n", gpu_product="NVIDIA-A100-SXM4-80GB", allocatable=8, allocated=4, in_use=1,
        util=12.4, mem_used=2048.0, mem_total=81920.0, temp=81.0, power=1234.0, ready="True",
        cordoned=False, taints=(), created=0.0, age=90000.0, idle_but_allocated=False,
        holders=(),
    )  # fmt: skip
    base.update(kw)
    return NodeRow(**base)  # type: ignore[arg-type]


def test_node_cells_render_units_and_unknowns():
    row = dict(
        zip([c[0] for c in cells.NODE_COLUMNS], cells.node_cells(_row(), False), strict=True)
    )
    assert [row[k].plain for k in ("gpu", "alloc", "use", "util", "mem", "temp", "power")] == [
        "A100-SXM4-80GB", "4/8", "1", "12%", "2/80", "81°C", "1.2kW",
    ]  # fmt: skip
    assert row["temp"].style == "yellow" and row["age"].plain == "25h"
    unknown = cells.node_cells(_row(util=None, temp=None, allocatable=None, gpu_product=""), True)
    plain = [c.plain for c in unknown]
    assert "—" in plain and "4/?" in plain and "?" in plain
    assert cells.status(_row(ready="False", cordoned=True)).plain == "NotReady,cordoned"


def test_sort_puts_unknown_values_last_and_filter_matches_every_word():
    rows = [_row(name="a", util=None), _row(name="b", util=50.0), _row(name="c", util=90.0)]
    assert [r.name for r in cells.sort_rows(rows, "util", True)] == ["c", "b", "a"]
    assert [r.name for r in cells.sort_rows(rows, "util", False)] == ["b", "c", "a"]
    idle = _row(name="x", idle_but_allocated=True)
    assert cells.matches(idle, "IDLE x") and not cells.matches(idle, "idle zzz")


def test_util_sparkline_is_on_a_fixed_scale():
    assert cells.util_sparkline([0.0] * 30, 10) == "▁" * 10
    assert cells.util_sparkline([100.0] * 5, 10) == "█" * 5
    assert cells.util_sparkline([], 10) == ""
