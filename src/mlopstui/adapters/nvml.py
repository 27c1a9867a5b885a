"""NVML adapter: this host's GPUs and GPU processes, through `pynvml` (nvidia-ml-py).

pynvml is imported on first use, never at app start. NVML is initialised once and shut down
by `close()`. In nvitop's manner every field is read on its own: a field the driver does not
support is None (n/a) without hiding the others, and a lost GPU (NVML_ERROR_GPU_IS_LOST) is
reported as that device's error while the other devices are read as usual.

pynvml facts this relies on (nvidia-ml-py 13): `nvmlInit` raises NVMLError_LibraryNotFound
when `libnvidia-ml.so.1` cannot be loaded; errors are NVMLError subclasses; the unversioned
process calls go through the `_v3` entry points; `nvmlDeviceGetMemoryInfo(h)` (v1) counts
reserved memory as used, `version=nvmlMemory_v2` does not (older drivers lack the v2 call, so
we fall back); `nvmlDeviceGetTemperature` is deprecated but is the one every driver exports.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import socket
import threading
from typing import Any

from mlopstui import timefmt
from mlopstui.adapters import SourceError
from mlopstui.domain.gpus import GpuProcess, GpuSample

MIB = 1024 * 1024
NOT_FOUND = "NVML not found (no NVIDIA driver on this host)"
LOST = "GPU is lost"
_CMD_MAX = 1024


class _Lost(Exception):
    """A device answered NVML_ERROR_GPU_IS_LOST."""


def _reason(pynvml: Any, exc: BaseException) -> str:
    """Why NVML cannot be used here, for the quiet line in the pane."""
    if isinstance(exc, pynvml.NVMLError_LibraryNotFound):
        return NOT_FOUND
    if isinstance(exc, pynvml.NVMLError_DriverNotLoaded):
        return "NVIDIA driver not loaded (NVML: Driver Not Loaded)"
    if isinstance(exc, pynvml.NVMLError_NoPermission):
        return "no permission to use NVML on this host"
    if isinstance(exc, pynvml.NVMLError_LibRmVersionMismatch):
        return "NVML and the NVIDIA kernel driver differ in version (reboot or reload the driver)"
    return f"NVML could not start: {exc}"


class NvmlSource:
    """This host's GPUs through NVML. Not shared between threads except for `close()`."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host or socket.gethostname()
        self._nv: Any = None
        self._ok: bool | None = None
        self._reason: str | None = None
        self._lock = threading.Lock()
        self._static: dict[int, tuple[str, str]] = {}  # index -> (uuid, name): never change
        self._mem_v2 = True

    def available(self, *, recheck: bool = False) -> tuple[bool, str | None]:
        """(True, None) once NVML is initialised, else (False, why). Tries once; `recheck`
        tries again after a failure (a driver loaded since)."""
        with self._lock:
            if self._ok is not None and not (recheck and not self._ok):
                return self._ok, self._reason
            try:
                import pynvml
            except ImportError:
                self._ok, self._reason = False, "nvidia-ml-py is not installed (pip install it)"
                return self._ok, self._reason
            try:
                pynvml.nvmlInit()
            except pynvml.NVMLError as exc:
                self._ok, self._reason = False, _reason(pynvml, exc)
            else:
                self._nv, self._ok, self._reason = pynvml, True, None
                self._static.clear()
            return self._ok, self._reason

    def close(self) -> None:
        """Shut NVML down (once per successful init); `available()` starts it again."""
        with self._lock:
            if self._nv is not None:
                with contextlib.suppress(self._nv.NVMLError):
                    self._nv.nvmlShutdown()
            self._nv, self._ok, self._reason = None, None, None

    def _require(self) -> Any:
        ok, reason = self.available()
        if not ok:
            raise SourceError(reason or NOT_FOUND)
        return self._nv

    # -- devices

    def devices(self, at: int | None = None) -> list[GpuSample]:
        """One sample per GPU, by index. Raises SourceError when NVML itself fails."""
        nv = self._require()
        at = int(timefmt.now()) if at is None else at
        try:
            count = nv.nvmlDeviceGetCount()
        except nv.NVMLError as exc:
            raise SourceError(f"NVML on {self.host}: {exc}") from None
        return [self._device(nv, i, at) for i in range(count)]

    def _device(self, nv: Any, index: int, at: int) -> GpuSample:
        known = self._static.get(index)
        try:
            try:
                handle = nv.nvmlDeviceGetHandleByIndex(index)
            except nv.NVMLError_GpuIsLost:
                raise _Lost from None
            except nv.NVMLError as exc:
                uuid, name = known or (f"unknown-{index}", "")
                return GpuSample(self.host, uuid, at, index, name, error=f"NVML: {exc}")
            if known is None:
                uuid = self._call(nv, nv.nvmlDeviceGetUUID, handle)
                name = self._call(nv, nv.nvmlDeviceGetName, handle)
                if uuid:
                    known = self._static[index] = (uuid, name or "")
            util = self._call(nv, lambda: nv.nvmlDeviceGetUtilizationRates(handle).gpu)
            used, total = self._memory(nv, handle)
            temp = self._call(nv, nv.nvmlDeviceGetTemperature, handle, nv.NVML_TEMPERATURE_GPU)
            power_mw = self._call(nv, nv.nvmlDeviceGetPowerUsage, handle)
        except _Lost:
            uuid, name = known or (f"unknown-{index}", "")
            return GpuSample(self.host, uuid, at, index, name, error=LOST)
        uuid, name = known or (f"unknown-{index}", "")
        return GpuSample(
            host=self.host,
            uuid=uuid,
            at=at,
            index=index,
            product=name,
            util=None if util is None else float(util),
            mem_used=used,
            mem_total=total,
            temp=None if temp is None else float(temp),
            power=None if power_mw is None else power_mw / 1000.0,
        )

    def _memory(self, nv: Any, handle: Any) -> tuple[float | None, float | None]:
        if self._mem_v2:
            try:
                mem = nv.nvmlDeviceGetMemoryInfo(handle, version=nv.nvmlMemory_v2)
            except (nv.NVMLError_FunctionNotFound, nv.NVMLError_ArgumentVersionMismatch):
                self._mem_v2 = False  # an older driver: v1 counts reserved memory as used
            except nv.NVMLError_GpuIsLost:
                raise _Lost from None
            except nv.NVMLError:
                return None, None
            else:
                return mem.used / MIB, mem.total / MIB
        mem = self._call(nv, nv.nvmlDeviceGetMemoryInfo, handle)
        return (None, None) if mem is None else (mem.used / MIB, mem.total / MIB)

    @staticmethod
    def _call(nv: Any, fn: Any, *args: Any) -> Any:
        """One field: None when NVML cannot give it (NotSupported, NoPermission, ...);
        a lost GPU stops reading that device."""
        try:
            return fn(*args)
        except nv.NVMLError_GpuIsLost:
            raise _Lost from None
        except nv.NVMLError:
            return None

    # -- processes

    def processes(self, at: int | None = None) -> list[GpuProcess]:
        """Compute and graphics processes on every readable GPU (a process on two GPUs is
        listed once per GPU). Lost GPUs and unsupported calls contribute nothing."""
        nv = self._require()
        at = int(timefmt.now()) if at is None else at
        try:
            count = nv.nvmlDeviceGetCount()
        except nv.NVMLError as exc:
            raise SourceError(f"NVML on {self.host}: {exc}") from None
        out: list[GpuProcess] = []
        owners: dict[int, tuple[str, str]] = {}
        for index in range(count):
            try:
                handle = self._call(nv, nv.nvmlDeviceGetHandleByIndex, index)
                if handle is None:
                    continue
                known = self._static.get(index)
                uuid = known[0] if known else self._call(nv, nv.nvmlDeviceGetUUID, handle)
                found: dict[int, list] = {}  # pid -> [kind letters, used bytes or None]
                for letter, fn in (
                    ("C", nv.nvmlDeviceGetComputeRunningProcesses),
                    ("G", nv.nvmlDeviceGetGraphicsRunningProcesses),
                ):
                    for p in self._call(nv, fn, handle) or ():
                        entry = found.setdefault(int(p.pid), ["", None])
                        entry[0] += letter
                        used = p.usedGpuMemory
                        if used is not None:
                            entry[1] = max(entry[1] or 0, used)
            except _Lost:
                continue
            if not uuid:
                continue
            for pid, (kinds, used) in sorted(found.items()):
                if pid not in owners:
                    owners[pid] = (_proc_user(pid), _proc_command(pid))
                user, command = owners[pid]
                out.append(
                    GpuProcess(
                        host=self.host,
                        uuid=uuid,
                        index=index,
                        pid=pid,
                        kind="+".join(kinds),
                        user=user,
                        command=command,
                        used_mem=None if used is None else used / MIB,
                        at=at,
                    )
                )
        return out


def _proc_user(pid: int) -> str:
    """The owner of /proc/<pid> by name (uid when unnamed); "" when the pid is not visible
    (it ended, or NVML reports a host pid inside a container)."""
    try:
        uid = os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return ""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _proc_command(pid: int) -> str:
    """The command line (arguments joined by spaces; the kernel's comm when empty), capped.
    Untrusted text: the UI sanitises it."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read(_CMD_MAX * 4)
    except OSError:
        return ""
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
    if not text:
        try:
            with open(f"/proc/{pid}/comm", "rb") as fh:
                text = "[" + fh.read(64).strip().decode("utf-8", "replace") + "]"
        except OSError:
            return ""
    return text[:_CMD_MAX]
