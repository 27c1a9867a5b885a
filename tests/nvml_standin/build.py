"""Build and drive the NVML stand-in: a fake `libnvidia-ml.so.1` compiled from nvml_standin.c.

There is no GPU here or in CI, so the real NVML library cannot run. The stand-in exports the
NVML entry points mlopstui uses, with NVML's C signatures and struct layouts, and answers from a
fixture file (format: the comment at the top of nvml_standin.c). The *real* pynvml bindings run
over it unmodified, so struct versions, the process-list protocol and NVMLError subclasses are
exercised for real; only the hardware is fake.

Two ways to make pynvml load it (it calls `ctypes.CDLL("libnvidia-ml.so.1")` on Linux):

* `standin_env()` for a child process: the build directory goes first on `LD_LIBRARY_PATH`,
  so the dynamic loader's own search finds the stand-in (before any real NVML). Preferred:
  the child starts clean, and the test process never holds NVML state.
* `preload()` in-process: the library is built with SONAME `libnvidia-ml.so.1`, and glibc's
  `dlopen` reuses an already-loaded object whose SONAME matches, so loading it once by path
  makes pynvml's own loader pick it up. That lasts for the life of the process (a shared
  library cannot be unloaded reliably, and pynvml caches it in `pynvml.nvmlLib`), so only use
  it in a process of its own or where every later NVML user expects the stand-in.

This module imports nothing from pytest at import time, so child processes can use
`write_fixture` cheaply.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

SOURCE = Path(__file__).resolve().with_name("nvml_standin.c")
LIB_NAME = "libnvidia-ml.so.1"
FIXTURE_ENV = "MLOPSTUI_NVML_FIXTURE"
FAIL_INIT_ENV = "MLOPSTUI_NVML_FAIL_INIT"

GIB = 1024**3

# Order of keys in a device line; the values are what `make_device` fills in.
DEVICE_KEYS = (
    "name",
    "uuid",
    "util",
    "mem_util",
    "mem_total",
    "mem_used",
    "mem_reserved",
    "temp",
    "power_mw",
    "power_limit_mw",
    "fan",
    "lost",
)
PROCESS_KEYS = ("pid", "used_mem", "kind", "gi", "ci")

FixtureValue = str | int | bool | None


def build(tmpdir: Path | str) -> Path:
    """Compile the stand-in into `tmpdir/libnvidia-ml.so.1` and return that path.

    Skips the calling test (fails it under MLOPSTUI_REQUIRE_SERVICES=1) when gcc is missing.
    A compile error raises RuntimeError with gcc's output.
    """
    gcc = shutil.which("gcc")
    if gcc is None:
        from services import require_service

        require_service("NVML stand-in", "gcc is not installed, so the stand-in cannot be built")
    out_dir = Path(tmpdir)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / LIB_NAME
    cmd = [
        str(gcc),
        "-shared",
        "-fPIC",
        "-O2",
        "-Wall",
        "-Wextra",
        "-pthread",
        "-fvisibility=hidden",
        f"-Wl,-soname,{LIB_NAME}",
        "-o",
        str(out),
        str(SOURCE),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"building the NVML stand-in failed:\n$ {' '.join(cmd)}\n{proc.stderr}")
    return out


def make_device(index: int = 0, **overrides: FixtureValue) -> dict[str, FixtureValue]:
    """A plausible stand-in device (an 80 GiB H100, mid-load); keyword arguments override it.

    Pass None for a field to make its NVML query return NVML_ERROR_NOT_SUPPORTED.
    """
    device: dict[str, FixtureValue] = {
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": f"GPU-5a1e0000-0000-4000-8000-{index:012d}",
        "util": 37,
        "mem_util": 20,
        "mem_total": 80 * GIB,
        "mem_used": 10 * GIB,
        "mem_reserved": 0,
        "temp": 61,
        "power_mw": 250_000,
        "power_limit_mw": 700_000,
        "fan": None,  # data-centre GPUs have no fan: NotSupported, as on a real H100
        "lost": False,
    }
    unknown = set(overrides) - set(DEVICE_KEYS)
    if unknown:
        raise ValueError(f"unknown device fields: {sorted(unknown)}")
    device.update(overrides)
    return device


def _render(key: str, value: FixtureValue) -> str:
    if value is None:
        text = "NA"
    elif isinstance(value, bool):
        text = "1" if value else "0"
    elif isinstance(value, int):
        if value < 0:
            raise ValueError(f"{key}={value}: the stand-in takes non-negative integers")
        text = str(value)
    else:
        text = str(value)
        if any(ch in text for ch in '"\n\r') or not text:
            raise ValueError(f"{key}={text!r}: empty, or holds a quote or newline")
        if any(ch.isspace() for ch in text):
            text = f'"{text}"'
    return f"{key}={text}"


def fixture_text(
    devices: Sequence[Mapping[str, FixtureValue]],
    processes: Sequence[Mapping[str, FixtureValue]] = (),
    *,
    driver: str = "550.54.15",
    nvml: str = "12.550.54.15",
) -> str:
    """The fixture file for `devices` (numbered by position) and `processes`.

    A process mapping names its GPU with "device" (an index) plus any of PROCESS_KEYS; None
    means NA (used_mem=None comes back from pynvml as usedGpuMemory None).
    """
    lines = [
        "# NVML stand-in fixture (tests/nvml_standin/nvml_standin.c documents the format)",
        f"system {_render('driver', driver)} {_render('nvml', nvml)}",
    ]
    for index, device in enumerate(devices):
        unknown = set(device) - set(DEVICE_KEYS)
        if unknown:
            raise ValueError(f"device {index}: unknown fields {sorted(unknown)}")
        fields = " ".join(_render(k, device[k]) for k in DEVICE_KEYS if k in device)
        lines.append(f"device {index} {fields}".rstrip())
    for process in processes:
        fields_in = dict(process)
        device_index = fields_in.pop("device", 0)
        unknown = set(fields_in) - set(PROCESS_KEYS)
        if unknown:
            raise ValueError(f"process: unknown fields {sorted(unknown)}")
        if not isinstance(device_index, int) or not 0 <= device_index < len(devices):
            raise ValueError(f"process: device {device_index!r} has no device entry")
        fields = " ".join(_render(k, fields_in[k]) for k in PROCESS_KEYS if k in fields_in)
        lines.append(f"process {device_index} {fields}")
    return "\n".join(lines) + "\n"


def write_fixture(
    path: Path | str,
    devices: Sequence[Mapping[str, FixtureValue]],
    processes: Sequence[Mapping[str, FixtureValue]] = (),
    **system: str,
) -> Path:
    """Write the fixture atomically (temp file + rename), so the stand-in, which re-reads it on
    every query, never sees half a file. `system` takes driver= and nvml= version strings."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(fixture_text(devices, processes, **system))
    os.replace(tmp, path)
    return path


def standin_env(
    lib_path: Path | str,
    fixture: Path | str | None,
    *,
    fail_init: str | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment for a child process whose pynvml should load the stand-in at `lib_path`.

    fail_init: "driver" (NVML_ERROR_DRIVER_NOT_LOADED), "permission", "mismatch" or "unknown".
    """
    env = dict(os.environ if base is None else base)
    lib_dir = str(Path(lib_path).resolve().parent)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(
        p for p in (lib_dir, env.get("LD_LIBRARY_PATH", "")) if p
    )
    env.pop(FIXTURE_ENV, None)
    env.pop(FAIL_INIT_ENV, None)
    if fixture is not None:
        env[FIXTURE_ENV] = str(Path(fixture).resolve())
    if fail_init is not None:
        env[FAIL_INIT_ENV] = fail_init
    return env


def preload(lib_path: Path | str) -> ctypes.CDLL:
    """Load the stand-in into this process so that pynvml's `CDLL("libnvidia-ml.so.1")` gets it.

    Irreversible for the process (see the module docstring). Raises RuntimeError when pynvml
    already holds another library. Set MLOPSTUI_NVML_FIXTURE before calling `nvmlInit`.
    """
    lib = ctypes.CDLL(str(Path(lib_path).resolve()))
    import pynvml

    held = pynvml.nvmlLib
    if held is not None and held._handle != lib._handle:
        raise RuntimeError(f"pynvml already loaded another NVML library: {held._name}")
    return lib
