"""The NVML adapter and sync over the NVML stand-in (a fake libnvidia-ml.so.1; no GPU here).

As in test_nvml_standin.py, each test runs in a fresh child process whose LD_LIBRARY_PATH
starts with the stand-in's build directory, so the real pynvml inside `NvmlSource` loads it and
no NVML state leaks between tests. The child prints plain values as JSON; assertions stay here.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from nvml_standin import GIB, build, make_device, standin_env, write_fixture

from mlopstui.adapters.nvml import LOST, NOT_FOUND

pytestmark = pytest.mark.nvml

TESTS_DIR = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024

PRELUDE = """
import dataclasses, json, os, sys
from nvml_standin import GIB, make_device, write_fixture
from mlopstui.adapters.nvml import NvmlSource

OUT = {}

def plain(items):
    return [dataclasses.asdict(x) for x in items]
"""


@pytest.fixture(scope="module")
def nvml_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("nvml-standin"))


def run_child(body: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run PRELUDE + body in a child Python; return its OUT."""
    env = dict(env)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), env.get("PYTHONPATH")) if p)
    script = PRELUDE + textwrap.dedent(body) + "\nprint(json.dumps(OUT))\n"
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"child exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}", pytrace=False)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def eight_gpus(**per_index: dict[str, Any]) -> list[dict[str, Any]]:
    devices = []
    for i in range(8):
        fields = {"util": 10 * i, "temp": 40 + i, "power_mw": 100_000 + i * 1500}
        fields["mem_used"] = (i + 1) * GIB
        fields.update(per_index.get(f"gpu{i}", {}))
        devices.append(make_device(i, **fields))
    return devices


def test_eight_gpus_with_values_na_fields_and_a_lost_gpu(tmp_path: Path, nvml_lib: Path) -> None:
    devices = eight_gpus(
        gpu2={"util": None, "mem_util": None, "temp": None, "power_mw": None},
        gpu3={"mem_reserved": GIB},
        gpu5={"lost": True},
    )
    fixture = write_fixture(tmp_path / "nvml.txt", devices)
    out = run_child(
        f"""
        src = NvmlSource(host="box")
        OUT["available"] = src.available()
        OUT["first"] = plain(src.devices(at=100))
        devices = {devices!r}
        devices[5]["lost"] = False
        write_fixture({str(fixture)!r}, devices)
        OUT["healed"] = plain(src.devices(at=101))
        devices[5]["lost"] = True
        write_fixture({str(fixture)!r}, devices)
        OUT["lost_again"] = plain(src.devices(at=102))[5]
        src.close()
        OUT["after_close"] = src.available()
        src.close()
        """,
        standin_env(nvml_lib, fixture),
        tmp_path,
    )
    assert out["available"] == [True, None]
    first = out["first"]
    assert [d["index"] for d in first] == list(range(8))
    assert {d["host"] for d in first} == {"box"} and {d["at"] for d in first} == {100}
    g0 = first[0]
    assert g0 == {
        "host": "box",
        "uuid": make_device(0)["uuid"],
        "at": 100,
        "index": 0,
        "product": "NVIDIA H100 80GB HBM3",
        "util": 0.0,
        "mem_used": 1024.0,
        "mem_total": 80 * 1024.0,
        "temp": 40.0,
        "power": 100.0,
        "error": None,
    }
    assert first[7]["util"] == 70.0 and first[7]["power"] == 110.5
    # NotSupported fields are None, each on its own: memory is still read.
    assert [first[2][k] for k in ("util", "temp", "power", "mem_used")] == [
        None,
        None,
        None,
        3072.0,
    ]
    # Reserved memory is not "used" (the v2 memory call).
    assert first[3]["mem_used"] == 4 * 1024.0
    # The lost GPU is reported as such; its UUID was never readable, the others are unharmed.
    lost = first[5]
    assert (lost["uuid"], lost["index"], lost["error"], lost["util"]) == (
        "unknown-5",
        5,
        LOST,
        None,
    )
    assert all(d["error"] is None for i, d in enumerate(first) if i != 5)
    assert out["healed"][5]["uuid"] == make_device(5)["uuid"]
    # Lost after it was seen: its UUID and product are remembered.
    again = out["lost_again"]
    assert (again["uuid"], again["product"], again["error"]) == (
        make_device(5)["uuid"],
        "NVIDIA H100 80GB HBM3",
        LOST,
    )
    assert out["after_close"] == [True, None]


def test_processes_with_user_command_and_memory(tmp_path: Path, nvml_lib: Path) -> None:
    fixture = tmp_path / "nvml.txt"
    out = run_child(
        f"""
        me = os.getpid()
        devices = [make_device(i) for i in range(8)]
        devices[6]["lost"] = True
        processes = [
            {{"device": 0, "pid": me, "used_mem": 2 * GIB}},
            {{"device": 0, "pid": me, "used_mem": 2 * GIB, "kind": "graphics"}},
            {{"device": 0, "pid": 3999999, "used_mem": None}},
            {{"device": 1, "pid": me, "used_mem": 512 * 1024**2}},
            {{"device": 6, "pid": 77, "used_mem": GIB}},
        ]
        write_fixture({str(fixture)!r}, devices, processes)
        src = NvmlSource(host="box")
        OUT["me"] = me
        OUT["procs"] = plain(src.processes(at=5))
        """,
        standin_env(nvml_lib, fixture),
        tmp_path,
    )
    me = out["me"]
    procs = [(p["index"], p["pid"], p["kind"], p["used_mem"]) for p in out["procs"]]
    assert procs == [(0, me, "C+G", 2048.0), (0, 3999999, "C", None), (1, me, "C", 512.0)]
    mine = out["procs"][0]
    assert mine["uuid"] == make_device(0)["uuid"] and mine["host"] == "box" and mine["at"] == 5
    assert mine["user"] == pwd.getpwuid(os.getuid()).pw_name
    assert mine["command"].startswith(f"{sys.executable} -c ")
    gone = out["procs"][1]
    assert (gone["user"], gone["command"]) == ("", "")  # not in this PID namespace


def test_nvml_missing_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    env = dict(os.environ, LD_LIBRARY_PATH="")
    env.pop("MLOPSTUI_NVML_FIXTURE", None)
    out = run_child(
        """
        from mlopstui.adapters import SourceError
        src = NvmlSource()
        OUT["available"] = src.available()
        try:
            src.devices()
        except SourceError as exc:
            OUT["devices"] = str(exc)
        with open("/proc/self/maps") as maps:
            OUT["loaded"] = [line for line in maps if "libnvidia-ml" in line]
        src.close()
        """,
        env,
        tmp_path,
    )
    if out["loaded"]:
        pytest.skip("a real NVML is installed on this machine")
    assert out["available"] == [False, NOT_FOUND]
    assert out["devices"] == NOT_FOUND


def test_driver_not_loaded_is_reported(tmp_path: Path, nvml_lib: Path) -> None:
    fixture = write_fixture(tmp_path / "nvml.txt", eight_gpus())
    out = run_child(
        'OUT["available"] = NvmlSource().available()',
        standin_env(nvml_lib, fixture, fail_init="driver"),
        tmp_path,
    )
    assert out["available"] == [False, "NVIDIA driver not loaded (NVML: Driver Not Loaded)"]


SYNC_PRELUDE = """
from pathlib import Path
from mlopstui.cache import db, gpus as store
from mlopstui.config import GpuSettings
from mlopstui.sync import gpus as gpu_sync
from mlopstui.sync.scheduler import Scheduler

writer = db.Writer(db.open_writer(Path("cache") / "c.sqlite"))
scheduler = Scheduler(writer)
announced = []
feeds = gpu_sync.GpuFeeds(
    GpuSettings(nvml_interval=1.0), writer,
    lambda src, topics: announced.append([src, sorted(topics)]),
)
jobs = feeds.jobs()
nvml_job = next(j for j in jobs if j.source == "nvml")

def records():
    return writer.conn.execute(
        "SELECT ok, rows FROM sync_runs WHERE source = 'nvml' ORDER BY id").fetchall()
"""


def test_sync_stores_devices_and_processes_and_announces_changes_only(
    tmp_path: Path, nvml_lib: Path
) -> None:
    fixture = tmp_path / "nvml.txt"
    body = f"""
        import socket
        devices = [make_device(i, util=5) for i in range(8)]
        procs = [{{"device": 2, "pid": os.getpid(), "used_mem": GIB}}]
        write_fixture({str(fixture)!r}, devices, procs)
        OUT["jobs"] = [[j.source, j.name, j.interval, j.quiet_ok] for j in jobs]
        OUT["rows"] = [scheduler.run_job(nvml_job).rows for _ in range(3)]
        OUT["announced_same"] = list(announced)
        devices[4]["util"] = 99
        write_fixture({str(fixture)!r}, devices, procs)
        scheduler.run_job(nvml_job)
        OUT["announced_changed"] = list(announced)
        OUT["records"] = records()
        OUT["host_ok"] = gpu_sync.NvmlSync(writer).host == socket.gethostname()
        conn = db.open_reader(writer.path)
        OUT["latest"] = [[s.index, s.util] for s in store.latest(conn)]
        OUT["procs"] = [[p.index, p.pid, p.used_mem] for p in store.processes(conn)]
        OUT["note"] = store.note(conn, "nvml")
        OUT["sources"] = sorted({{d.source for d in store.devices(conn)}})
        feeds.close()
        """
    out = run_child(SYNC_PRELUDE + textwrap.dedent(body), standin_env(nvml_lib, fixture), tmp_path)
    assert out["jobs"] == [["nvml", "gpus", 1.0, True], ["gpu-history", "prune", 3600.0, True]]
    assert out["rows"] == [9, 9, 9]  # 8 samples + 1 process each time
    # Three identical polls: one announcement of the data (the repeats cost the terminal 0 B).
    assert out["announced_same"] == [["nvml", ["freshness", "gpus"]]]
    assert out["announced_changed"][1:] == [["nvml", ["gpus"]]]
    # quiet_ok: only the first success is recorded, not one row per second.
    assert out["records"] == [[1, 9]]
    assert out["host_ok"] is True
    assert out["latest"] == [[i, 99.0 if i == 4 else 5.0] for i in range(8)]
    assert out["procs"][0][0] == 2 and out["procs"][0][2] == 1024.0
    assert out["note"] is None
    assert out["sources"] == ["nvml"]


def test_sync_without_nvml_notes_it_once_and_slows_down(tmp_path: Path) -> None:
    env = dict(os.environ, LD_LIBRARY_PATH="")
    env.pop("MLOPSTUI_NVML_FIXTURE", None)
    body = """
        OUT["rows"] = [scheduler.run_job(nvml_job).ok for _ in range(5)]
        OUT["announced"] = announced
        OUT["records"] = records()
        OUT["interval"] = nvml_job.interval
        conn = db.open_reader(writer.path)
        OUT["note"] = store.note(conn, "nvml")
        OUT["devices"] = len(store.devices(conn))
        with open("/proc/self/maps") as maps:
            OUT["loaded"] = [line for line in maps if "libnvidia-ml" in line]
        """
    out = run_child(SYNC_PRELUDE + textwrap.dedent(body), env, tmp_path)
    if out["loaded"]:
        pytest.skip("a real NVML is installed on this machine")
    assert out["rows"] == [True] * 5  # never a failure for the status bar
    assert out["announced"] == [["nvml", ["freshness", "gpus"]]]  # the note, once
    assert out["records"] == [[1, 0]]
    assert out["interval"] == 120.0  # looks again every 2 minutes, not every second
    assert out["note"] == NOT_FOUND
    assert out["devices"] == 0
