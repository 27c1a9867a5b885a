"""Import contracts, checked in fresh interpreters: a headless core, no backend before a frame."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import mlopstui

NOT_HEADLESS = {
    "mlopstui.ui": "the UI: the only package that imports Textual",
    "mlopstui.plugin_api.pane": "the Pane base class is a Textual widget (loaded lazily by "
    "`mlopstui.plugin_api.Pane` and the pane catalogue)",
    "mlopstui.plugin_api.testing": "the Pane test harness for plugin authors runs a Textual App",
    "mlopstui.__main__": "`python -m mlopstui`: importing it runs the CLI",
}
"""Every other module of mlopstui is the headless core (the same rule as [tool.importlinter])."""


def core_modules() -> list[str]:
    """Every module of mlopstui but NOT_HEADLESS (and their submodules), found on disk without
    importing any, so a new module is covered the day it is added."""
    found = ["mlopstui"]

    def walk(path: str, prefix: str) -> None:
        for info in pkgutil.iter_modules([path], prefix):
            if any(info.name == x or info.name.startswith(x + ".") for x in NOT_HEADLESS):
                continue
            found.append(info.name)
            if info.ispkg:
                walk(str(Path(path) / info.name.rpartition(".")[2]), info.name + ".")

    for path in mlopstui.__path__:
        walk(path, "mlopstui.")
    return found


HEADLESS = core_modules()
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


def test_the_module_list_finds_the_core_and_leaves_the_ui_out() -> None:
    """The list is not vacuous: it holds every layer's modules and none of the UI's."""
    for name in ("mlopstui.cli", "mlopstui.cache.gpu_nodes", "mlopstui.actions.kubernetes"):
        assert name in HEADLESS
    assert "mlopstui.domain.kubernetes" in HEADLESS
    assert not [n for n in HEADLESS if n.startswith(("mlopstui.ui", "mlopstui.__main__"))]
    assert "mlopstui.plugin_api.testing" not in HEADLESS
    assert "mlopstui.plugin_api.pane" not in HEADLESS
    assert {"mlopstui.plugin_api", "mlopstui.plugin_api.data"} <= set(HEADLESS)


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
