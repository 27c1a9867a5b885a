"""The GPU metrics source: DCGM series from Prometheus and this host's GPUs through NVML.

Feeds "dcgm", "nvml" and "gpu-history" (the hourly prune), each with its own freshness and
backoff; topic "gpus". Opening connects to nothing and imports neither requests nor pynvml.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlopstui.sources import Check, Source, SourceEnv, SourceInfo
from mlopstui.text import redact

if TYPE_CHECKING:
    from mlopstui.sync.gpus import GpuFeeds
    from mlopstui.sync.scheduler import Job

NAME = "gpu"


class GpuSource(Source):
    """The GPU feeds configured in `[gpu]`."""

    name = NAME
    title = "GPU metrics"
    api_version = 1
    topics = frozenset({"gpus"})
    feeds = ("dcgm", "nvml", "gpu-history")

    def __init__(self, env: SourceEnv) -> None:
        super().__init__(env)
        self.gpu = env.settings.gpu
        self._feeds: GpuFeeds | None = None

    def jobs(self, *, heartbeat: bool = True) -> list[Job]:
        from mlopstui.sync.gpus import GpuFeeds

        if self._feeds is None:
            self._feeds = GpuFeeds(self.gpu, self.env.writer, self.env.announce)
        return self._feeds.jobs()

    def info(self) -> SourceInfo:
        gpu = self.gpu
        url = redact(gpu.prometheus_url) if gpu.prometheus_url else ""
        return SourceInfo(
            NAME,
            url or ("this host (NVML)" if gpu.nvml else "not configured"),
            configured=bool(gpu.prometheus_url or gpu.nvml),
            read_only=True,
            details={
                "prometheus": bool(gpu.prometheus_url),
                "prometheus_url": url,
                "nvml": gpu.nvml,
                "busy_threshold": gpu.busy_threshold,
                "idle_minutes": gpu.idle_minutes,
                "retention_days": gpu.retention_days,
            },
        )

    def check(self) -> list[Check]:
        from mlopstui.adapters import SourceError

        gpu = self.gpu
        checks = []
        if gpu.prometheus_url:
            from mlopstui.adapters.prometheus import PrometheusSource

            url = redact(gpu.prometheus_url)
            prom = PrometheusSource(gpu.prometheus_url)
            try:
                found = prom.dcgm_latest()
                checks.append(Check("dcgm", True, f"{url} answers ({len(found)} GPUs reported)"))
            except SourceError as exc:
                checks.append(Check("dcgm", False, redact(str(exc))))
            except Exception as exc:  # a doctor never prints a traceback
                checks.append(Check("dcgm", False, f"{url}: {type(exc).__name__}: {exc}"))
            finally:
                prom.close()
        else:
            checks.append(Check("dcgm", None, "not configured ([gpu] prometheus_url)"))
        if gpu.nvml:
            from mlopstui.adapters.nvml import NvmlSource

            nvml = NvmlSource()
            try:
                ok, reason = nvml.available()
                checks.append(
                    Check("nvml", None, f"not available here: {reason}")
                    if not ok
                    else Check("nvml", True, f"{len(nvml.devices())} GPUs on this host")
                )
            except Exception as exc:
                checks.append(Check("nvml", False, f"{type(exc).__name__}: {exc}"))
            finally:
                nvml.close()
        else:
            checks.append(Check("nvml", None, "off ([gpu] nvml = false)"))
        return checks

    def close(self) -> None:
        if self._feeds is not None:
            self._feeds.close()
