"""Regenerate docs/screenshot.svg (runs), docs/screenshot-registry.svg (the registry with
a version's aliases) and docs/screenshot-chart.svg (one metric of three runs overlaid) on
freshly seeded demo data at 120x36.

Usage: .venv/bin/python scripts/screenshot.py  (needs the `local` extra for the demo store)
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def _shoot(settings, out: Path) -> None:
    from mlopstui.ui.app import MlopsApp
    from mlopstui.workbench import Workbench

    workbench = Workbench(settings)
    for job in workbench.jobs(heartbeat=False):  # one pass of every source
        workbench.scheduler.run_job(job)
    app = MlopsApp(workbench, start_sync=False)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("down", "down")
        await pilot.pause()
        app.save_screenshot(filename=out.name, path=str(out.parent))
        await pilot.press("2", "down")
        await pilot.pause(0.5)
        registry = out.with_name("screenshot-registry.svg")
        app.save_screenshot(filename=registry.name, path=str(registry.parent))
        await pilot.press("1")
        await pilot.pause()
        pane = app.active_pane()
        llm = next(e for e in workbench_experiments(app) if e.name.startswith("llm"))
        pane.select_experiment(llm.experiment_id, from_list=False)
        await pilot.pause()
        await pilot.press("space", "space", "space", "v")
        for _ in range(50):  # the histories arrive in the background
            await pilot.pause(0.1)
        chart = out.with_name("screenshot-chart.svg")
        app.save_screenshot(filename=chart.name, path=str(chart.parent))
    workbench.close()


def workbench_experiments(app):
    from mlopstui.cache import runs as run_store

    return run_store.experiments(app.reader)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HOME"] = tmp
        for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            os.environ.pop(var, None)
        os.environ["MLFLOW_CONFIGURE_LOGGING"] = "false"
        from mlopstui import config, demo, paths

        settings = config.load(environ={})
        demo.seed_demo(settings.tracking_uri, paths.local_artifact_root())
        out = ROOT / "docs" / "screenshot.svg"
        asyncio.run(_shoot(settings, out))
        print(f"wrote {out}, screenshot-registry.svg and screenshot-chart.svg beside it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
