"""The real pynvml bindings over the NVML stand-in (a fake libnvidia-ml.so.1; no GPU here).

Each test runs pynvml in a fresh child process whose LD_LIBRARY_PATH starts with the stand-in's
build directory, so pynvml's own `CDLL("libnvidia-ml.so.1")` finds it, and no NVML state (the
loaded library, pynvml's globals, NVML's init count) leaks between tests or into this process.
The child reports plain values as JSON; the assertions stay here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from nvml_standin import GIB, build, fixture_text, make_device, standin_env, write_fixture

pytestmark = pytest.mark.nvml

TESTS_DIR = Path(__file__).resolve().parents[1]

# Runs in the child before each test's body: helpers that turn NVML outcomes into JSON values.
PRELUDE = '''
import json, sys
import pynvml
from nvml_standin import GIB, make_device, write_fixture

OUT = {}

def na(fn, *args):
    """What a UI cell shows: the value, or "n/a" where NVML says NotSupported."""
    try:
        return fn(*args)
    except pynvml.NVMLError_NotSupported:
        return "n/a"

def err(fn, *args):
    """The NVMLError subclass a call raises (its name), or None when it succeeds."""
    try:
        fn(*args)
    except pynvml.NVMLError as exc:
        return type(exc).__name__
    return None

def loaded_nvml():
    """Paths of every libnvidia-ml mapped into this process."""
    with open("/proc/self/maps") as maps:
        return sorted({line.split()[-1] for line in maps if "libnvidia-ml" in line})

def procs(items):
    return [[p.pid, p.usedGpuMemory, p.gpuInstanceId, p.computeInstanceId] for p in items]
'''


@pytest.fixture(scope="session")
def nvml_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in built once per session; the path of its libnvidia-ml.so.1."""
    return build(tmp_path_factory.mktemp("nvml-standin"))


def run_pynvml(
    body: str,
    env: dict[str, str],
    cwd: Path,
    *,
    expect_rc: int = 0,
) -> tuple[dict[str, Any], str]:
    """Run PRELUDE + body in a child Python; return (OUT, stderr)."""
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
    if proc.returncode != expect_rc:
        pytest.fail(
            f"child exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}",
            pytrace=False,
        )
    out = json.loads(proc.stdout.strip().splitlines()[-1]) if expect_rc == 0 else {}
    return out, proc.stderr


def three_gpus() -> list[dict[str, Any]]:
    return [
        make_device(0),
        make_device(1, name="NVIDIA A100-SXM4-40GB", mem_total=40 * GIB, util=5, fan=30),
        make_device(2, name="Tesla T4", mem_total=16 * GIB, mem_used=1 * GIB, temp=44),
    ]


@pytest.fixture
def gpus(tmp_path: Path, nvml_lib: Path) -> tuple[Path, dict[str, str]]:
    """A fixture file with three GPUs and the child environment that points at it."""
    fixture = write_fixture(tmp_path / "nvml.txt", three_gpus())
    return fixture, standin_env(nvml_lib, fixture)


def test_pynvml_loads_the_standin_and_reports_versions(
    gpus: tuple[Path, dict[str, str]], nvml_lib: Path, tmp_path: Path
) -> None:
    fixture, env = gpus
    write_fixture(fixture, three_gpus(), driver="535.183.01", nvml="12.535.183.01")
    out, _ = run_pynvml(
        """
        pynvml.nvmlInit()
        OUT["loaded"] = loaded_nvml()
        OUT["driver"] = pynvml.nvmlSystemGetDriverVersion()
        OUT["nvml"] = pynvml.nvmlSystemGetNVMLVersion()
        OUT["lost_text"] = pynvml.nvmlErrorString(pynvml.NVML_ERROR_GPU_IS_LOST)
        OUT["str_lost"] = str(pynvml.NVMLError(pynvml.NVML_ERROR_GPU_IS_LOST))
        pynvml.nvmlShutdown()
        """,
        env,
        tmp_path,
    )
    # The one NVML in the child is the stand-in, not a system libnvidia-ml.
    assert out["loaded"] == [str(nvml_lib.resolve())]
    assert out["driver"] == "535.183.01"
    assert out["nvml"] == "12.535.183.01"
    assert out["lost_text"] == "GPU is lost"
    assert out["str_lost"] == "GPU is lost"


def test_device_count_names_uuids_and_indices(
    gpus: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    _, env = gpus
    out, _ = run_pynvml(
        """
        pynvml.nvmlInit()
        OUT["count"] = pynvml.nvmlDeviceGetCount()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(OUT["count"])]
        OUT["names"] = [pynvml.nvmlDeviceGetName(h) for h in handles]
        OUT["uuids"] = [pynvml.nvmlDeviceGetUUID(h) for h in handles]
        OUT["indices"] = [pynvml.nvmlDeviceGetIndex(h) for h in handles]
        OUT["past_end"] = err(pynvml.nvmlDeviceGetHandleByIndex, 3)
        """,
        env,
        tmp_path,
    )
    assert out["count"] == 3
    assert out["names"] == ["NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB", "Tesla T4"]
    assert out["uuids"] == [make_device(i)["uuid"] for i in range(3)]
    assert out["indices"] == [0, 1, 2]
    assert out["past_end"] == "NVMLError_InvalidArgument"


def test_utilization_memory_temperature_power(tmp_path: Path, nvml_lib: Path) -> None:
    fixture = write_fixture(
        tmp_path / "nvml.txt",
        [make_device(0, util=37, mem_util=21, mem_used=10 * GIB, mem_reserved=GIB, fan=55)],
    )
    out, _ = run_pynvml(
        """
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        u = pynvml.nvmlDeviceGetUtilizationRates(h)
        OUT["util"] = [u.gpu, u.memory]
        m1 = pynvml.nvmlDeviceGetMemoryInfo(h)
        OUT["mem_v1"] = [m1.total, m1.free, m1.used]
        m2 = pynvml.nvmlDeviceGetMemoryInfo(h, version=pynvml.nvmlMemory_v2)
        OUT["mem_v2"] = [m2.version, m2.total, m2.reserved, m2.free, m2.used]
        OUT["mem_v2_fn"] = "nvmlDeviceGetMemoryInfo_v2" in pynvml._nvmlGetFunctionPointer_cache
        OUT["mem_bad_version"] = err(pynvml.nvmlDeviceGetMemoryInfo, h, 0x01000028)
        OUT["temp"] = pynvml.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)
        OUT["temp_other_sensor"] = err(pynvml.nvmlDeviceGetTemperature, h, 1)
        OUT["power_mw"] = pynvml.nvmlDeviceGetPowerUsage(h)
        OUT["limit_mw"] = pynvml.nvmlDeviceGetEnforcedPowerLimit(h)
        OUT["fan"] = pynvml.nvmlDeviceGetFanSpeed(h)
        """,
        standin_env(nvml_lib, fixture),
        tmp_path,
    )
    assert out["util"] == [37, 21]
    total = 80 * GIB
    # v1: used includes the reserved memory; v2 reports it separately.
    assert out["mem_v1"] == [total, total - 11 * GIB, 11 * GIB]
    assert out["mem_v2"] == [0x02000028, total, GIB, total - 11 * GIB, 10 * GIB]
    assert out["mem_v2_fn"] is True
    assert out["mem_bad_version"] == "NVMLError_ArgumentVersionMismatch"
    assert out["temp"] == 61
    assert out["temp_other_sensor"] == "NVMLError_InvalidArgument"
    assert out["power_mw"] == 250_000
    assert out["limit_mw"] == 700_000
    assert out["fan"] == 55


def test_running_processes_through_the_v3_process_api(tmp_path: Path, nvml_lib: Path) -> None:
    many = [{"device": 1, "pid": 5000 + i, "used_mem": i * 1024**2} for i in range(40)]
    processes = [
        {"device": 0, "pid": 1234, "used_mem": 2 * GIB},
        {"device": 0, "pid": 1235, "used_mem": None},  # e.g. WDDM / no permission: None
        {"device": 0, "pid": 1300, "used_mem": GIB, "kind": "graphics"},
        {"device": 2, "pid": 77, "used_mem": 512 * 1024**2, "gi": 1, "ci": 0},
        *many,
    ]
    fixture = write_fixture(
        tmp_path / "nvml.txt", [make_device(0), make_device(1), make_device(2)], processes
    )
    out, _ = run_pynvml(
        """
        pynvml.nvmlInit()
        h0, h1, h2 = (pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(3))
        OUT["compute0"] = procs(pynvml.nvmlDeviceGetComputeRunningProcesses(h0))
        OUT["graphics0"] = procs(pynvml.nvmlDeviceGetGraphicsRunningProcesses(h0))
        OUT["compute1"] = procs(pynvml.nvmlDeviceGetComputeRunningProcesses(h1))
        OUT["graphics1"] = procs(pynvml.nvmlDeviceGetGraphicsRunningProcesses(h1))
        OUT["compute2_v2"] = procs(pynvml.nvmlDeviceGetComputeRunningProcesses_v2(h2))
        OUT["called"] = sorted(
            n for n in pynvml._nvmlGetFunctionPointer_cache if "RunningProcesses" in n
        )
        """,
        standin_env(nvml_lib, fixture),
        tmp_path,
    )
    na = 0xFFFFFFFF  # NVML_VALUE_NOT_AVAILABLE for a non-MIG process's instance ids
    assert out["compute0"] == [[1234, 2 * GIB, na, na], [1235, None, na, na]]
    assert out["graphics0"] == [[1300, GIB, na, na]]
    assert out["compute1"] == [[p["pid"], p["used_mem"], na, na] for p in many]
    assert out["graphics1"] == []
    assert out["compute2_v2"] == [[77, 512 * 1024**2, 1, 0]]
    # pynvml 13's unversioned wrappers go through the _v3 entry points.
    assert out["called"] == [
        "nvmlDeviceGetComputeRunningProcesses_v2",
        "nvmlDeviceGetComputeRunningProcesses_v3",
        "nvmlDeviceGetGraphicsRunningProcesses_v3",
    ]


def test_not_supported_fields_raise_and_render_as_na(tmp_path: Path, nvml_lib: Path) -> None:
    fixture = write_fixture(
        tmp_path / "nvml.txt",
        [make_device(0, fan=None, temp=None, power_mw=None, util=None, name=None)],
    )
    out, _ = run_pynvml(
        """
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        OUT["fan_error"] = err(pynvml.nvmlDeviceGetFanSpeed, h)
        OUT["is_subclass"] = issubclass(pynvml.NVMLError_NotSupported, pynvml.NVMLError)
        OUT["cells"] = {
            "fan": na(pynvml.nvmlDeviceGetFanSpeed, h),
            "temp": na(pynvml.nvmlDeviceGetTemperature, h, pynvml.NVML_TEMPERATURE_GPU),
            "power": na(pynvml.nvmlDeviceGetPowerUsage, h),
            "util": na(lambda: pynvml.nvmlDeviceGetUtilizationRates(h).gpu),
            "name": na(pynvml.nvmlDeviceGetName, h),
            "mem_used": na(lambda: pynvml.nvmlDeviceGetMemoryInfo(h).used),
        }
        """,
        standin_env(nvml_lib, fixture),
        tmp_path,
    )
    assert out["fan_error"] == "NVMLError_NotSupported"
    assert out["is_subclass"] is True
    assert out["cells"] == {
        "fan": "n/a",
        "temp": "n/a",
        "power": "n/a",
        "util": "n/a",
        "name": "n/a",
        "mem_used": 10 * GIB,  # only the NA fields are unsupported
    }


def test_lost_gpu_raises_gpu_is_lost_while_others_answer(
    gpus: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    fixture, env = gpus
    out, _ = run_pynvml(
        f"""
        pynvml.nvmlInit()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(3)]
        devices = [make_device(0), make_device(1, lost=True), make_device(2)]
        write_fixture({str(fixture)!r}, devices)
        OUT["count"] = pynvml.nvmlDeviceGetCount()
        OUT["lost"] = [
            err(pynvml.nvmlDeviceGetUtilizationRates, handles[1]),
            err(pynvml.nvmlDeviceGetMemoryInfo, handles[1]),
            err(pynvml.nvmlDeviceGetName, handles[1]),
            err(pynvml.nvmlDeviceGetComputeRunningProcesses, handles[1]),
            err(pynvml.nvmlDeviceGetHandleByIndex, 1),
        ]
        OUT["others"] = [pynvml.nvmlDeviceGetTemperature(handles[i], 0) for i in (0, 2)]
        write_fixture({str(fixture)!r}, devices[:2])  # GPU 2 falls off the bus entirely
        OUT["vanished"] = err(pynvml.nvmlDeviceGetPowerUsage, handles[2])
        OUT["count_after"] = pynvml.nvmlDeviceGetCount()
        """,
        env,
        tmp_path,
    )
    assert out["count"] == 3
    assert out["lost"] == ["NVMLError_GpuIsLost"] * 5
    assert out["others"] == [61, 61]
    assert out["vanished"] == "NVMLError_GpuIsLost"
    assert out["count_after"] == 2


def test_values_follow_the_fixture_file(gpus: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    fixture, env = gpus
    out, _ = run_pynvml(
        f"""
        pynvml.nvmlInit()
        h = pynvml.nvmlDeviceGetHandleByIndex(0)
        seen = []
        for util, used_gib in ((10, 1), (55, 30), (99, 79)):
            write_fixture(
                {str(fixture)!r},
                [make_device(0, util=util, mem_used=used_gib * GIB)],
                [{{"device": 0, "pid": 4000 + util, "used_mem": used_gib * GIB}}],
            )
            seen.append([
                pynvml.nvmlDeviceGetUtilizationRates(h).gpu,
                pynvml.nvmlDeviceGetMemoryInfo(h).used // GIB,
                [p.pid for p in pynvml.nvmlDeviceGetComputeRunningProcesses(h)],
            ])
        OUT["seen"] = seen
        """,
        env,
        tmp_path,
    )
    assert out["seen"] == [[10, 1, [4010]], [55, 30, [4055]], [99, 79, [4099]]]


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("driver", "NVMLError_DriverNotLoaded"),
        ("permission", "NVMLError_NoPermission"),
        ("mismatch", "NVMLError_LibRmVersionMismatch"),
    ],
)
def test_init_failure_raises_the_matching_error(
    gpus: tuple[Path, dict[str, str]], nvml_lib: Path, tmp_path: Path, mode: str, error: str
) -> None:
    fixture, _ = gpus
    out, _ = run_pynvml(
        """
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            OUT["init"] = type(exc).__name__
            OUT["text"] = str(exc)
        OUT["count"] = err(pynvml.nvmlDeviceGetCount)
        """,
        standin_env(nvml_lib, fixture, fail_init=mode),
        tmp_path,
    )
    assert out["init"] == error
    assert out["text"]
    assert out["count"] == "NVMLError_Uninitialized"


def test_shutdown_counts_inits_like_nvml(gpus: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    _, env = gpus
    out, _ = run_pynvml(
        """
        pynvml.nvmlInit()
        pynvml.nvmlInit()
        pynvml.nvmlShutdown()
        OUT["after_one"] = pynvml.nvmlDeviceGetCount()
        pynvml.nvmlShutdown()
        OUT["after_two"] = err(pynvml.nvmlDeviceGetCount)
        OUT["extra_shutdown"] = err(pynvml.nvmlShutdown)
        pynvml.nvmlInit()
        OUT["reinit"] = pynvml.nvmlDeviceGetCount()
        pynvml.nvmlShutdown()
        """,
        env,
        tmp_path,
    )
    assert out == {
        "after_one": 3,
        "after_two": "NVMLError_Uninitialized",
        "extra_shutdown": "NVMLError_Uninitialized",
        "reinit": 3,
    }


def test_broken_fixture_fails_init_with_a_message(tmp_path: Path, nvml_lib: Path) -> None:
    fixture = tmp_path / "nvml.txt"
    fixture.write_text("device 0 name=x temperature=60\n")
    out, stderr = run_pynvml(
        """
        OUT["init"] = err(pynvml.nvmlInit)
        """,
        standin_env(nvml_lib, fixture),
        tmp_path,
    )
    assert out["init"] == "NVMLError_Unknown"
    assert f"{fixture}:1: bad field: temperature" in stderr


def test_no_fixture_is_a_driver_without_gpus(tmp_path: Path, nvml_lib: Path) -> None:
    out, _ = run_pynvml(
        """
        pynvml.nvmlInit()
        OUT["count"] = pynvml.nvmlDeviceGetCount()
        OUT["handle"] = err(pynvml.nvmlDeviceGetHandleByIndex, 0)
        """,
        standin_env(nvml_lib, None),
        tmp_path,
    )
    assert out == {"count": 0, "handle": "NVMLError_InvalidArgument"}


def test_preload_makes_pynvml_pick_the_standin_in_process(
    gpus: tuple[Path, dict[str, str]], nvml_lib: Path, tmp_path: Path
) -> None:
    fixture, env = gpus
    env.pop("LD_LIBRARY_PATH", None)  # only preload() can find it now
    env["MLOPSTUI_NVML_FIXTURE"] = str(fixture)
    out, _ = run_pynvml(
        f"""
        from nvml_standin import preload
        preload({str(nvml_lib)!r})
        pynvml.nvmlInit()
        OUT["count"] = pynvml.nvmlDeviceGetCount()
        OUT["loaded"] = loaded_nvml()
        """,
        env,
        tmp_path,
    )
    assert out == {"count": 3, "loaded": [str(nvml_lib.resolve())]}


def test_without_the_standin_pynvml_cannot_find_nvml(tmp_path: Path) -> None:
    env = dict(os.environ, LD_LIBRARY_PATH="")
    env.pop("MLOPSTUI_NVML_FIXTURE", None)
    out, _ = run_pynvml(
        """
        OUT["init"] = err(pynvml.nvmlInit)
        OUT["loaded"] = loaded_nvml()
        """,
        env,
        tmp_path,
    )
    if out["loaded"]:
        pytest.skip(f"a real NVML is installed on this machine: {out['loaded']}")
    assert out["init"] == "NVMLError_LibraryNotFound"


def test_fixture_writer_rejects_what_the_format_cannot_hold() -> None:
    with pytest.raises(ValueError, match="unknown device fields"):
        make_device(0, temperature=60)
    with pytest.raises(ValueError, match="quote"):
        fixture_text([make_device(0, name='say "hi"')])
    with pytest.raises(ValueError, match="non-negative"):
        fixture_text([make_device(0, util=-1)])
    with pytest.raises(ValueError, match="no device entry"):
        fixture_text([make_device(0)], [{"device": 1, "pid": 1}])
    text = fixture_text([make_device(0, fan=None, lost=True)], [{"pid": 9, "used_mem": None}])
    assert 'name="NVIDIA H100 80GB HBM3"' in text
    assert "fan=NA lost=1" in text
    assert "process 0 pid=9 used_mem=NA" in text
