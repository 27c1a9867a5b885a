"""End to end, through the entry points only: the plugin installed with pip into a folder on
PYTHONPATH (next to a broken plugin), then `python -m mlopstui` in subprocesses, against a
loopback quota service and an MLflow tracking URI nothing listens on.

Budget: one pip install (~6 s) and five mlopstui processes; every subprocess has a timeout.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from mlopstui.plugin_api import data

pytestmark = pytest.mark.e2e

PLUGIN = Path(__file__).resolve().parent.parent
BROKEN_PYPROJECT = """\
[build-system]
requires = ["hatchling>=1.25"]
build-backend = "hatchling.build"

[project]
name = "broken-quota-plugin"
version = "0.0.1"

[project.entry-points."mlopstui.sources"]
broken-quota = "broken_quota:BrokenSource"

[tool.hatch.build.targets.wheel]
packages = ["broken_quota"]
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding mlopstui-gpu-quota and a plugin whose source raises on import, both
    installed by pip (with their metadata and entry points, as a team would install them)."""
    root = tmp_path_factory.mktemp("e2e-install")
    broken = root / "broken"
    (broken / "broken_quota").mkdir(parents=True)
    (broken / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    (broken / "broken_quota" / "__init__.py").write_text(
        'raise RuntimeError("broken_quota cannot import its client")\n'
    )
    target = root / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target"]
    cmd += [str(target), str(PLUGIN), str(broken)]
    try:
        import hatchling  # noqa: F401
    except ImportError:
        pass  # pip fetches the build backend into an isolated build environment
    else:
        cmd.append("--no-build-isolation")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    if proc.returncode != 0 and "hatchling" in proc.stderr and "No matching" in proc.stderr:
        reason = "pip cannot get the hatchling build backend here (offline?)"
        if os.environ.get("MLOPSTUI_REQUIRE_SERVICES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (target / "mlopstui_gpu_quota" / "source.py").exists()
    return target


@pytest.fixture
def session(installed: Path, quota_service, closed_url: str, tmp_path: Path) -> dict:
    """The environment, config file and flags of an mlopstui run in a sandbox."""
    home = tmp_path / "home"
    for sub in (".config", ".local/share", ".cache", ".local/state"):
        (home / sub).mkdir(parents=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLOPSTUI_", "MLFLOW_")) and k != "KUBECONFIG"
    }
    env.update(
        PYTHONPATH=str(installed),
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_DATA_HOME=str(home / ".local/share"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local/state"),
        KUBECONFIG=str(tmp_path / "no-kubeconfig"),
    )
    config = tmp_path / "config.toml"
    config.write_text(
        textwrap.dedent(f"""
            [gpu]
            nvml = false

            [kubernetes]
            enabled = false

            [sources.gpu-quota]
            url = "{quota_service.url}"
            interval = 2
            timeout = 3

            [panes.gpu-quota]
            warn_at = 0.7
        """)
    )
    cache = tmp_path / "c.sqlite"
    flags = ["--config", str(config), "--cache", str(cache), "--tracking-uri", closed_url]
    return {"env": env, "flags": flags, "cwd": tmp_path, "cache": cache, "config": config}


def mlopstui(session: dict, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlopstui", *session["flags"], *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=session["env"],
        cwd=session["cwd"],
    )


def test_plugins_lists_the_pane_and_the_source_and_the_broken_plugin(session) -> None:
    proc = mlopstui(session, "plugins")
    out = proc.stdout
    panes, _, sources = out.partition("sources:")
    assert "gpu-quota      mlopstui_gpu_quota.pane:QuotaPane" in panes
    assert "gpu-quota      mlopstui_gpu_quota.source:QuotaSource" in sources
    assert "broken-quota   broken_quota:BrokenSource" in sources
    failed = [line for line in out.splitlines() if line.startswith("FAILED")]
    assert failed == [
        "FAILED source broken-quota: import failed: "
        "RuntimeError('broken_quota cannot import its client')"
    ]
    assert proc.returncode == 1  # only because of the broken plugin


def test_sync_once_and_doctor(session, quota_service) -> None:
    proc = mlopstui(session, "sync", "--once")
    lines = proc.stdout.splitlines()
    assert any(line.startswith("gpu-quota: teams: ok, 3 rows in ") for line in lines), proc.stdout
    # Exit 1 for exactly two reasons: MLflow on a closed port, and the broken plugin.
    assert proc.returncode == 1
    failed = [line for line in lines if "FAILED" in line]
    assert failed and all(line.startswith(("mlflow: ", "mlflow-registry: ")) for line in failed), (
        proc.stdout
    )
    assert "FAILED source broken-quota (broken_quota:BrokenSource): import failed" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr

    # What sync stored is what the service said.
    conn = sqlite3.connect(session["cache"])
    stored = data.records(conn, "gpu-quota", "teams")
    conn.close()
    assert [key for key, _ in stored] == ["nlp", "speech", "vision"]
    assert dict(stored)["vision"] == {"team": "vision", "quota_gpus": 8, "used_gpus": 10}

    proc = mlopstui(session, "doctor")
    lines = proc.stdout.splitlines()
    [ok] = [line for line in lines if line.startswith("OK   gpu-quota: ")]
    expected = rf"OK   gpu-quota: {re.escape(quota_service.url)}/quotas: 3 teams, 1 over quota \(\d+\.\d s\)"
    assert re.fullmatch(expected, ok), ok
    assert any(line.startswith("FAIL source broken-quota: ") for line in lines), proc.stdout
    assert any(line.startswith("FAIL mlflow: ") for line in lines), proc.stdout
    assert proc.returncode == 1


def test_sync_once_reports_a_failing_quota_service_in_one_line(session, quota_service) -> None:
    quota_service.mode = "html"
    proc = mlopstui(session, "sync", "--once")
    [line] = [line for line in proc.stdout.splitlines() if line.startswith("gpu-quota: ")]
    assert line == (
        f"gpu-quota: teams: FAILED: {quota_service.url}/quotas: the reply is not JSON "
        "(line 1 column 1): '<html><body>Down for maintenance</body>…'"
    )


TUI = """
import asyncio, json, sys, time
from mlopstui import config
from mlopstui.workbench import Workbench
from mlopstui.ui.app import MlopsApp
from mlopstui.ui.status import StatusBar

cfg, cache, tracking = sys.argv[1:4]
settings = config.load(config=cfg, flags={"cache": cache, "mlflow.tracking_uri": tracking})
bench = Workbench(settings)
out = {}

async def main():
    app = MlopsApp(bench, start_sync=True)
    async with app.run_test(size=(200, 30)) as pilot:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # plugin panes load after the first frame
            if any(p.pane_id == "gpu-quota" for p in app.panes):
                break
            await pilot.pause(0.05)
        ids = [p.pane_id for p in app.panes]
        out["panes"] = ids
        out["tab"] = str(app.query_one("#tab-gpu-quota").label)
        await pilot.press(str(ids.index("gpu-quota") + 1))
        while time.monotonic() < deadline:  # until the first sync is in and recorded
            await pilot.pause(0.05)
            pane = app.active_pane()
            status = str(app.query_one(StatusBar).render())
            if pane.pane_id != "gpu-quota" or not pane.is_mounted:
                continue
            table = pane.query_one("#quota-table")
            fresh = str(pane.query_one("#quota-freshness").render())
            if table.row_count == 3 and fresh.startswith("synced"):
                break
        out["active"] = pane.pane_id
        out["rows"] = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        out["styles"] = [str(table.get_row_at(i)[0].style) for i in range(table.row_count)]
        out["status"] = status
        out["freshness"] = fresh
        out["notes"] = [str(n.message) for n in app._notifications]

asyncio.run(main())
bench.close()
print(json.dumps(out))
"""


def test_the_workbench_shows_the_pane_with_synced_rows(session, quota_service, closed_url):
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", TUI, str(session["config"]), str(session["cache"]), closed_url],
        capture_output=True,
        text=True,
        timeout=60,
        env=session["env"],
        cwd=session["cwd"],
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["panes"][-1] == "gpu-quota" and out["active"] == "gpu-quota"
    assert out["tab"] == f"{len(out['panes'])}·Quota"
    assert out["rows"] == [
        ["vision", "8", "10", "0", "125% over"],
        ["nlp", "16", "12", "4", "75%"],
        ["speech", "4", "0", "4", "0%"],
    ]
    assert out["styles"] == ["bold red", "yellow", ""]  # warn_at = 0.7 from [panes.gpu-quota]
    assert out["freshness"].startswith("synced ")
    assert f"gpu-quota {quota_service.url} synced " in out["status"]
    # The broken plugin is reported, and nothing else went wrong.
    assert any("Plugin source broken-quota" in n for n in out["notes"]), out["notes"]
    assert "Plugin source broken-quota (broken_quota:BrokenSource) skipped" in proc.stderr
    assert quota_service.requests >= 1
    assert time.monotonic() - started < 60
