"""Import contracts, checked in fresh interpreters: a headless core, no backend before a frame."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

HEADLESS = [
    "mlopstui",
    "mlopstui.cli",
    "mlopstui.config",
    "mlopstui.cache.runs",
    "mlopstui.cache.search",
    "mlopstui.sync.mlflow_runs",
    "mlopstui.sync.scheduler",
    "mlopstui.workbench",
    "mlopstui.plugin_api",
    "mlopstui.plugin_api.registry",
    "mlopstui.adapters.mlflow",
    "mlopstui.demo",
    "mlopstui.actions",
    "mlopstui.actions.pipeline",
    "mlopstui.actions.registry",
    "mlopstui.actions.wiring",
    "mlopstui.adapters.mlflow_registry",
    "mlopstui.cache.audit",
    "mlopstui.cache.registry",
    "mlopstui.sync.mlflow_registry",
    "mlopstui.adapters.kubernetes",
    "mlopstui.adapters.prometheus",
    "mlopstui.adapters.nvml",
    "mlopstui.cache.kube",
    "mlopstui.cache.gpus",
    "mlopstui.sync.kubernetes",
    "mlopstui.sync.gpus",
    "mlopstui.actions.kube",
]
BACKENDS = ["mlflow", "kubernetes", "docker", "pynvml"]
NEVER_HEADLESS = ["textual", *BACKENDS, "pandas"]


def run_fresh(code: str, tmp_path: Path) -> dict[str, list[str]]:
    """Run `code` in a new interpreter; it must print one JSON object as its last line."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def loaded(names: list[str]) -> str:
    """Code that reports which of `names` (or their submodules) are in sys.modules."""
    return textwrap.dedent(f"""
        import json, sys
        names = {names!r}
        found = sorted(
            n for n in names if any(m == n or m.startswith(n + ".") for m in sys.modules)
        )
        print(json.dumps({{"found": found}}))
    """)


def test_core_imports_leave_textual_and_backends_out(tmp_path: Path) -> None:
    """Importing the whole headless core loads neither Textual nor any backend client."""
    imports = "\n".join(f"import {name}" for name in HEADLESS)
    result = run_fresh(imports + "\n" + loaded(NEVER_HEADLESS), tmp_path)
    assert result["found"] == []


def test_the_check_itself_sees_imports(tmp_path: Path) -> None:
    """The sys.modules probe is not vacuous: it does see a module that is loaded."""
    result = run_fresh("import textual.app\n" + loaded(NEVER_HEADLESS), tmp_path)
    assert result["found"] == ["textual"]


def test_first_frame_loads_textual_but_no_backend_client(tmp_path: Path) -> None:
    """The app mounts on a cache with no server reachable and imports no backend client."""
    cache = tmp_path / "cache" / "c.sqlite"
    code = f"""
        import asyncio
        from mlopstui import config
        from mlopstui.workbench import Workbench
        from mlopstui.ui.app import MlopsApp

        settings = config.load(
            environ={{}},
            flags={{"cache": {str(cache)!r}, "mlflow.tracking_uri": "http://127.0.0.1:9"}},
        )
        bench = Workbench(settings)

        async def first_frame():
            app = MlopsApp(bench, start_sync=False)
            async with app.run_test(size=(100, 30)) as pilot:
                await pilot.pause()
                assert app.is_running and app.screen.is_mounted
                assert app.panes, "no pane mounted"

        asyncio.run(first_frame())
        bench.close()
    """
    result = run_fresh(textwrap.dedent(code) + loaded(["textual", *BACKENDS]), tmp_path)
    assert result["found"] == ["textual"]
    assert cache.exists()
