"""mlopstui with eight synthetic local GPUs: the real app, the real NVML job, a fake driver.

    BENCH_GPU_CONTROL=/path/mode python bench/gpu_feed_app.py --cache C --tracking-uri URL

Runs `mlopstui.cli.main` (exactly what the `mlopstui` command runs) with one change: the NVML
adapter (`mlopstui.adapters.nvml.NvmlSource`) is replaced by `BenchNvml`, which reports eight
A100s on host `bench-gpu-host`. Everything else is the app's own: `NvmlSync` writes each poll
into the cache through the workbench's writer and announces topic "gpus" only when a value
changed, the scheduler runs it every `[gpu] nvml_interval` seconds, the app posts
`SyncChanged` and the GPU nodes pane repaints what changed. A feeder in another process could
not do this: the app learns of changes only from its own scheduler's announcements.

The file named by BENCH_GPU_CONTROL holds the mode, read at each poll (a stat per second):

- `off` (or no file): the NVML job returns at once, writes and announces nothing (the pane
  shows what is cached: the idle figure);
- `change`: every poll, every value of every GPU (utilisation, memory, temperature, power)
  differs from the poll before;
- `same`: every poll stores the same values again (NvmlSync announces nothing).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlopstui.sync.scheduler import Job

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

HOST = "bench-gpu-host"
GPUS = 8
PRODUCT = "NVIDIA A100-SXM4-80GB"


def bench_samples(at: int, step: int, host: str = HOST) -> list:
    """Eight GPUs whose every shown value differs from those of `step - 1` (as in the pane
    test's `eight_local_samples`): utilisation +7 %, memory +331 MiB (0.3 GiB), temperature
    +1 °C, power +13 W per step."""
    from mlopstui.domain.gpus import GpuSample

    return [
        GpuSample(host, f"GPU-bench-{i}", at, i, PRODUCT,
                  util=float((step * 7 + i * 11) % 100),
                  mem_used=float(20000 + (step * 331 + i * 997) % 40000), mem_total=81920.0,
                  temp=float(40 + (step + i) % 40), power=float(100 + (step * 13 + i * 17) % 300))
        for i in range(GPUS)
    ]  # fmt: skip


class _Control:
    """The mode in the control file, re-read only when the file changed."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._stamp: tuple | None = None
        self.mode = "off"

    def read(self) -> str:
        if not self.path:
            return self.mode
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self.mode = None, "off"
            return self.mode
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp != self._stamp:
            self._stamp = stamp
            with open(self.path) as f:
                self.mode = f.read().strip() or "off"
        return self.mode


CONTROL = _Control(os.environ.get("BENCH_GPU_CONTROL"))


class BenchNvml:
    """Stands in for `mlopstui.adapters.nvml.NvmlSource`: the same methods, no driver."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host or HOST
        self.step = 0

    def available(self, *, recheck: bool = False) -> tuple[bool, str | None]:
        return True, None

    def devices(self, at: int | None = None) -> list:
        import time

        at = int(time.time()) if at is None else at
        if CONTROL.read() == "change":
            self.step += 1
        return bench_samples(at, self.step, self.host)

    def processes(self, at: int | None = None) -> list:
        return []

    def close(self) -> None:
        pass


def _install() -> None:
    """Swap the NVML adapter, and let the NVML job do nothing while the mode is `off`."""
    from mlopstui import workbench

    real_jobs = workbench.Workbench.jobs

    def jobs(self, *, heartbeat: bool = True) -> list[Job]:
        # After the first frame, as the real app imports it: NvmlSync imports the adapter
        # module's NvmlSource when it is built.
        from mlopstui.adapters import nvml

        nvml.NvmlSource = BenchNvml  # type: ignore[misc]
        out = real_jobs(self, heartbeat=heartbeat)
        for job in out:
            if job.source == "nvml":
                poll = job.run

                def run(poll=poll) -> int:
                    return 0 if CONTROL.read() == "off" else poll()

                job.run = run
        return out

    workbench.Workbench.jobs = jobs  # type: ignore[method-assign]


def main() -> int:
    _install()
    from mlopstui import cli

    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
