"""Issue 11, class 10: keys typed for a typed confirmation never reach the pane behind it.

With the API server down, pressing the cordon key used to leave the pane focused while the
plan was read; the failure came back as a long urllib3 toast, and the node name the person
was already typing for the confirmation went to the pane as commands (`u` uncordons, `t`
opens the as-of prompt, `s` sorts, `1` switches panes). Here the kubeconfig points at a port
nothing listens on (a real refused connection), the node's name is typed right after the key,
and the test checks that the preparing modal took every key, that the reason is one short
line, and that the pane is exactly as it was.
"""

from __future__ import annotations

import socket
from pathlib import Path

import yaml

from mlopstui.cache import db, gpu_nodes
from mlopstui.cache import kube as kube_store
from mlopstui.ui.panes.gpus import GpuNodesPane
from mlopstui.ui.screens.confirm import ConfirmActionScreen, PreparingActionScreen

from .builders import jobs_settled, make_app, notifications, wait_for
from .gpu_builders import CTX, NODES, T, _node, _nodes, gpu_settings, seed_gpus

SIZE = (160, 45)
# A real-looking node name whose letters are pane and app keys: u (uncordon), r (reverse),
# s (sort), t (as-of prompt), 1 (the first pane).
NODE = "gpu-burst-1"


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dead_kubeconfig(directory: Path) -> Path:
    """A kubeconfig whose current context's API server refuses connections."""
    directory.mkdir(parents=True, exist_ok=True)
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": CTX,
        "clusters": [{"name": CTX, "cluster": {"server": f"https://127.0.0.1:{closed_port()}"}}],
        "users": [{"name": "u", "user": {"token": "t0ken-never-shown"}}],
        "contexts": [{"name": CTX, "context": {"cluster": CTX, "user": "u"}}],
    }
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return path


def down_app(tmp_path: Path):
    cache = seed_gpus(tmp_path / "gpus.sqlite")
    writer = db.Writer(db.open_writer(cache))
    try:
        with writer.transaction() as conn:  # one more node, as the node watch cached it
            nodes = [*_nodes(T), _node(NODE, 8, "NVIDIA-A100-SXM4-80GB")]
            kube_store.replace(conn, CTX, "nodes", nodes)
            gpu_nodes.snapshot_allocations(conn, CTX, None, T)
    finally:
        writer.close()
    return make_app(cache, settings=gpu_settings(cache, dead_kubeconfig(tmp_path / "kube")))


def pane_state(app) -> tuple:
    pane = app.query_one(GpuNodesPane)
    selected = pane.selected()
    return (
        app.active_pane().pane_id,
        pane.sort,
        pane.descending,
        pane.filter_text,
        pane.as_of,
        selected.name if selected else None,
        len(app.screen_stack),
    )


async def _open(pilot, app) -> tuple[GpuNodesPane, list]:
    pane = app.query_one(GpuNodesPane)
    await wait_for(pilot, lambda: pane.ready)
    await pilot.pause()
    requested: list = []
    original = pane.ctx.request_action
    pane.ctx.request_action = lambda action, done=None: (
        requested.append((action.kind, action.params["node"])),
        original(action, done),
    )
    table = app.query_one("#gpu-nodes")
    table.focus()
    keys = table.row_keys()
    assert NODE in keys and set(NODES) <= set(keys)
    while keys[table.cursor_row] != NODE:
        await pilot.press("down")
    await wait_for(pilot, lambda: pane.selected().name == NODE)
    return pane, requested


def _one_line_reason(app) -> str:
    found = [m for m, severity in notifications(app) if "Could not prepare" in m]
    assert len(found) == 1, notifications(app)
    message = found[0]
    assert "\n" not in message
    assert len(message) <= 160, message
    for raw in ("HTTPSConnection", "object at 0x", "Max retries", "NewConnectionError", "urllib3"):
        assert raw not in message, message
    assert "refused" in message.lower(), message
    return message


async def test_a_name_typed_ahead_while_the_api_server_is_down_never_reaches_the_pane(tmp_path):
    app = down_app(tmp_path)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            pane, requested = await _open(pilot, app)
            before = pane_state(app)
            # The cordon key, then the name for the confirmation right away.
            await pilot.press("c", *NODE)
            await jobs_settled(pilot, timeout=30)
            _one_line_reason(app)
            # Only the cordon was asked for: no `u`, no prompt, sort, pane switch.
            assert requested == [("cordon", NODE)]
            assert isinstance(app.screen, PreparingActionScreen)
            assert "refused" in (app.screen.reason or "").lower()
            # Typing on goes nowhere either until the person closes the message.
            await pilot.press(*NODE)
            await pilot.pause()
            assert requested == [("cordon", NODE)]
            await pilot.press("enter")
            await pilot.pause()
            assert not isinstance(app.screen, PreparingActionScreen | ConfirmActionScreen)
            assert pane_state(app) == before
            assert app.actions.busy_note() is None
            assert app.pipeline.audit.records() == []
    finally:
        app.workbench.close()
        app.pipeline.close()


async def test_a_name_typed_after_the_failure_arrived_never_reaches_the_pane(tmp_path):
    """The refusal comes back in milliseconds, before the person's first letter: still no
    key reaches the pane until the message is closed with Esc or Enter."""
    app = down_app(tmp_path)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            pane, requested = await _open(pilot, app)
            before = pane_state(app)
            await pilot.press("c")
            await jobs_settled(pilot, timeout=30)
            message = _one_line_reason(app)
            await pilot.press(*NODE, "enter")
            await pilot.pause()
            assert requested == [("cordon", NODE)]
            assert pane_state(app) == before, message
            # Closed: the pane takes keys again (s opens the sort picker).
            await pilot.press("s")
            await wait_for(pilot, lambda: len(app.screen_stack) == before[-1] + 1)
    finally:
        app.workbench.close()
        app.pipeline.close()


async def test_esc_while_a_silent_api_server_is_read_cancels_and_the_late_answer_is_dropped(
    tmp_path,
):
    """An API server that accepts and never answers: Esc ends the flow at once (nothing was
    sent), and the failure that comes back later opens nothing and toasts nothing."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]
    cache = seed_gpus(tmp_path / "gpus.sqlite")
    kubeconfig = dead_kubeconfig(tmp_path / "kube")
    doc = yaml.safe_load(kubeconfig.read_text())
    doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port}"
    kubeconfig.write_text(yaml.safe_dump(doc))
    settings = gpu_settings(cache, kubeconfig, **{"kubernetes.request_timeout": 1.0})
    app = make_app(cache, settings=settings)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            pane = app.query_one(GpuNodesPane)
            await wait_for(pilot, lambda: pane.ready)
            app.query_one("#gpu-nodes").focus()
            before = pane_state(app)
            await pilot.press("c", "u", "1")
            assert isinstance(app.screen, PreparingActionScreen)
            assert app.screen.waiting
            await pilot.press("escape")
            await pilot.pause()
            assert any("Cancelled" in m for m, _ in notifications(app))
            assert app.actions.busy_note() is None
            await jobs_settled(pilot, timeout=30)  # the read gives up after 1 s
            assert not [m for m, _ in notifications(app) if "Could not prepare" in m]
            assert pane_state(app) == before
            assert app.pipeline.audit.records() == []
    finally:
        app.workbench.close()
        app.pipeline.close()
        listener.close()
