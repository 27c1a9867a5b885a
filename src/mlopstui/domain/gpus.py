"""GPU values: devices, samples and processes, from NVML or the DCGM exporter.

Times are whole seconds since the epoch; memory is in MiB, power in W, temperature in C,
utilisation in %. A value a source could not give is None (shown as n/a).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GpuSample:
    """One GPU's values at one time. `error` says why a device answered nothing (e.g. "GPU is
    lost"); its values are then None. `index` and `product` are None/"" when not known."""

    host: str
    uuid: str
    at: int
    index: int | None = None
    product: str = ""
    util: float | None = None
    mem_used: float | None = None
    mem_total: float | None = None
    temp: float | None = None
    power: float | None = None
    error: str | None = None

    def values(self) -> tuple:
        """What the pane shows of it (not the time): compared to tell a change from a repeat."""
        return (self.util, self.mem_used, self.mem_total, self.temp, self.power, self.error)


@dataclass(frozen=True, slots=True)
class GpuDevice:
    """A GPU as cached: where its numbers come from, when it was last seen, what is wrong."""

    host: str
    uuid: str
    index: int
    product: str
    source: str
    last_seen: float | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class GpuProcess:
    """A process using a GPU (NVML). kind: "C" compute, "G" graphics, "C+G" both. `user` and
    `command` are "" when /proc does not show the pid (another PID namespace); `command` is
    untrusted text: sanitise before display. `used_mem` is None when NVML cannot tell."""

    host: str
    uuid: str
    index: int
    pid: int
    kind: str = "C"
    user: str = ""
    command: str = ""
    used_mem: float | None = None
    at: int = 0
