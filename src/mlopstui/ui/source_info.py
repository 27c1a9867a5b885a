"""`PaneContext.source_info`: what a pane may know about a source, as plain values.

Panes never get the workbench or the settings object; this hands them the few facts they
show: the pinned Kubernetes context and whether it is production or read-only, the GPU
thresholds, the contexts a kubeconfig offers. Credentials never pass through here.
"""

from __future__ import annotations

from typing import Any

from mlopstui.cache.audit import redact
from mlopstui.config import Settings


def source_info(settings: Settings, workbench: Any, source: str) -> dict[str, Any]:
    """See PaneContext.source_info."""
    if source == "kubernetes":
        kube = getattr(workbench, "kube", None)  # the first read parses the kubeconfig
        context = kube.context if kube is not None else None
        return {
            "context": context,
            "server": redact(kube.server) if kube is not None else "",
            "production": settings.is_production_context(context),
            "read_only": context is not None and settings.context_read_only(context),
            "error": getattr(workbench, "kube_error", None),
        }
    if source == "gpu":
        gpu = settings.gpu
        return {
            "prometheus": bool(gpu.prometheus_url),
            "nvml": gpu.nvml,
            "busy_threshold": gpu.busy_threshold,
            "idle_minutes": gpu.idle_minutes,
            "retention_days": gpu.retention_days,
        }
    if source == "kubeconfig":
        return kubeconfig_contexts(settings)
    return {}


def kubeconfig_contexts(settings: Settings) -> dict[str, Any]:
    """The contexts of the kubeconfig in force, and which of them are production."""
    from mlopstui.adapters import SourceError
    from mlopstui.adapters.kubernetes import context_names, kubeconfig_paths

    paths = kubeconfig_paths(settings.kubernetes.kubeconfig)
    if not paths:
        return {"contexts": [], "production": [], "error": "No kubeconfig found"}
    try:
        names = context_names(paths)
    except SourceError as exc:
        return {"contexts": [], "production": [], "error": str(exc)}
    return {
        "contexts": names,
        "production": [n for n in names if settings.is_production_context(n)],
        "error": None,
    }
