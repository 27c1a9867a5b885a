"""The GPU nodes pane as a person sees it, one class per feature (ui/gpu_builders.py seeds the
cache: 4 GPU nodes with 6 hours of history, two local GPUs, hostile pod, event and process
text). Deterministic: frozen clock, sync off, fixed theme, nothing blinks. Regenerate with
`pytest tests/snapshots --snapshot-update` and look at every changed SVG."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ui.builders import wait_for
from ui.gpu_builders import IDLE_NODE, PROD, gpu_app

from mlopstui import timefmt
from mlopstui.ui.app import MlopsApp
from mlopstui.ui.panes.gpus import GpuNodesPane
from mlopstui.ui.screens.node_detail import NodeDetailScreen
from mlopstui.ui.widgets.live_table import LiveTable


@pytest.fixture
def gpu_app_for(tmp_path: Path) -> Iterator[Callable[..., MlopsApp]]:
    """`gpu_app_for(**gpu_app kwargs)`: the workbench started on the GPU nodes pane."""
    made: list[MlopsApp] = []

    def build(**kwargs: object) -> MlopsApp:
        app = gpu_app(tmp_path / f"app{len(made)}", **kwargs)  # type: ignore[arg-type]
        made.append(app)
        return app

    yield build
    for app in made:
        app.workbench.close()
        app.pipeline.close()


async def _loaded(pilot) -> GpuNodesPane:
    pane = pilot.app.query_one(GpuNodesPane)
    await wait_for(pilot, lambda: pane.ready)
    await pilot.pause()
    return pane


def on_node(node: str, *, open_detail: bool = False, keys: tuple[str, ...] = ()):
    """run_before: wait for the pane, put the cursor on `node` (and open its detail)."""

    async def run_before(pilot) -> None:
        pane = await _loaded(pilot)
        table = pilot.app.query_one("#gpu-nodes", LiveTable)
        table.move_cursor(row=table.row_keys().index(node), animate=False)
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        if open_detail:
            pane.action_detail()
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, NodeDetailScreen))
        await pilot.pause()

    return run_before


class TestGpuNodesPane:
    def test_loaded_160x45(self, snap_compare, gpu_app_for):
        run_before = on_node(IDLE_NODE)
        assert snap_compare(gpu_app_for(), terminal_size=(160, 45), run_before=run_before)

    def test_loaded_80x24(self, snap_compare, gpu_app_for):
        run_before = on_node(IDLE_NODE)
        assert snap_compare(gpu_app_for(), terminal_size=(80, 24), run_before=run_before)

    def test_partial_rbac(self, snap_compare, gpu_app_for):
        app = gpu_app_for(seed={"partial": True})
        assert snap_compare(app, terminal_size=(100, 30), run_before=on_node(IDLE_NODE))

    def test_no_nvml_and_api_server_unreachable(self, snap_compare, gpu_app_for):
        app = gpu_app_for(seed={"nvml": False, "kube_failing": True})
        assert snap_compare(app, terminal_size=(100, 30), run_before=on_node(IDLE_NODE))

    def test_read_only_production_context(self, snap_compare, gpu_app_for):
        app = gpu_app_for(context=PROD)
        assert snap_compare(app, terminal_size=(120, 30), run_before=on_node(IDLE_NODE))

    def test_no_kubeconfig_no_prometheus(self, snap_compare, gpu_app_for):
        app = gpu_app_for(kubeconfig=False, prometheus=False)
        assert snap_compare(app, terminal_size=(100, 24), run_before=_loaded)


class TestNodeDetail:
    def test_idle_node(self, snap_compare, gpu_app_for):
        run_before = on_node(IDLE_NODE, open_detail=True)
        assert snap_compare(gpu_app_for(), terminal_size=(130, 45), run_before=run_before)


class TestHistory:
    def test_as_of_0830(self, snap_compare, gpu_app_for):
        async def run_before(pilot) -> None:
            pane = await _loaded(pilot)
            pane.travel(timefmt.now() - 3.5 * 3600)
            await pilot.pause()

        assert snap_compare(gpu_app_for(), terminal_size=(120, 30), run_before=run_before)

    def test_node_detail_as_of_0830(self, snap_compare, gpu_app_for):
        async def run_before(pilot) -> None:
            pane = await _loaded(pilot)
            pane.travel(timefmt.now() - 3.5 * 3600)
            await pilot.pause()
            table = pilot.app.query_one("#gpu-nodes", LiveTable)
            table.move_cursor(row=table.row_keys().index(IDLE_NODE), animate=False)
            pane.action_detail()
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, NodeDetailScreen))
            await pilot.pause()

        assert snap_compare(gpu_app_for(), terminal_size=(130, 40), run_before=run_before)
