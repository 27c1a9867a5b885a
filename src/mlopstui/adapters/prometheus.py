"""Prometheus adapter: the DCGM exporter's GPU metrics, read over Prometheus's HTTP API.

Plain `requests` (imported on first use): two endpoints, `query` and `query_range`, do not
justify a client library. One query selects all five metrics by name, so a poll is one round
trip whatever the fleet size; the series are grouped into one sample per GPU by (host, UUID).

The host is the node name when a relabel put one on the series (`kubernetes_node`, `node`),
else DCGM's `Hostname` (in Kubernetes that can be the exporter pod's name unless the exporter
runs with the node's hostname), else the scrape target without its port.
"""

from __future__ import annotations

import math
from typing import Any

from mlopstui.adapters import SourceAuthError, SourceError, SourceUnreachable, network_reason
from mlopstui.domain.gpus import GpuSample

UTIL = "DCGM_FI_DEV_GPU_UTIL"
FB_USED = "DCGM_FI_DEV_FB_USED"
FB_FREE = "DCGM_FI_DEV_FB_FREE"
TEMP = "DCGM_FI_DEV_GPU_TEMP"
POWER = "DCGM_FI_DEV_POWER_USAGE"
METRICS = (UTIL, FB_USED, FB_FREE, TEMP, POWER)
SELECTOR = '{__name__=~"' + "|".join(METRICS) + '"}'
HOST_LABELS = ("kubernetes_node", "node", "Hostname")
MAX_POINTS = 11_000  # Prometheus refuses a range query with more points per series


class PrometheusSource:
    """A Prometheus server that scrapes DCGM exporters."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http: Any = None

    # -- reads

    def dcgm_latest(self) -> list[GpuSample]:
        """Every GPU's current values (one instant query), by host and index."""
        data = self._get("query", {"query": SELECTOR})
        result = _result(data, "vector")
        if result is None:
            raise SourceError(f"Prometheus at {self.url} gave no vector for {SELECTOR}")
        points = []
        for series in result:
            ts, value = series.get("value", (None, None))
            points.append((series.get("metric", {}), ts, value))
        return _group(points)

    def dcgm_range(self, start: float, end: float, step: float) -> list[GpuSample]:
        """Every GPU's values at each `step` from `start` to `end` (one range query), oldest
        first. `step` grows if the window would exceed Prometheus's points-per-series cap."""
        step = max(float(step), (end - start) / (MAX_POINTS - 1), 1.0)
        params = {"query": SELECTOR, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": step}
        data = self._get("query_range", params)
        result = _result(data, "matrix")
        if result is None:
            raise SourceError(f"Prometheus at {self.url} gave no matrix for {SELECTOR}")
        points = []
        for series in result:
            labels = series.get("metric", {})
            for ts, value in series.get("values", ()):
                points.append((labels, ts, value))
        return sorted(_group(points), key=lambda s: (s.at, s.host, s.index or 0))

    def close(self) -> None:
        """Close the keep-alive connection."""
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- transport

    def _get(self, endpoint: str, params: dict[str, Any]) -> Any:
        """GET /api/v1/<endpoint>; returns `data` or raises a SourceError a person can read."""
        import requests

        if self._http is None:
            from mlopstui import __version__

            self._http = requests.Session()
            self._http.headers["User-Agent"] = f"mlopstui/{__version__}"
        url = f"{self.url}/api/v1/{endpoint}"
        try:
            resp = self._http.get(url, params=params, timeout=self.timeout)
        except requests.exceptions.RequestException as exc:
            raise SourceUnreachable(f"{self.url} did not answer: {self._reason(exc)}") from None
        if resp.status_code in (401, 403):
            raise SourceAuthError(f"{self.url} refused the request (HTTP {resp.status_code})")
        try:
            body = resp.json()
        except ValueError:
            raise SourceError(
                f"{self.url} answered HTTP {resp.status_code} without JSON; "
                "is it a Prometheus server?"
            ) from None
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error") if isinstance(body, dict) else None
            kind = body.get("errorType") if isinstance(body, dict) else None
            detail = f"{kind}: {error}" if kind and error else (error or str(body)[:200])
            raise SourceError(f"Prometheus at {self.url} refused the query: {detail}")
        return body.get("data") or {}

    def _reason(self, exc: BaseException) -> str:
        return network_reason(exc, server="Prometheus", timeout=self.timeout)


def _result(data: Any, kind: str) -> list | None:
    """`data.result` when it is a list of the expected kind (vector, matrix), else None."""
    if not isinstance(data, dict) or data.get("resultType") != kind:
        return None
    result = data.get("result")
    return result if isinstance(result, list) else None


def _host(labels: dict[str, str]) -> str:
    for key in HOST_LABELS:
        if labels.get(key):
            return labels[key]
    instance = labels.get("instance", "")
    return instance.rsplit(":", 1)[0] if instance else ""


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _group(points: list[tuple[dict[str, str], Any, Any]]) -> list[GpuSample]:
    """One sample per (host, UUID, time) from (labels, timestamp, value) points."""
    fields: dict[tuple[str, str, int], dict[str, Any]] = {}
    for labels, ts, value in points:
        uuid = labels.get("UUID") or labels.get("uuid")
        at = _number(ts)
        if not uuid or at is None:
            continue
        key = (_host(labels), uuid, int(at))
        entry = fields.setdefault(key, {})
        entry[labels.get("__name__", "")] = _number(value)
        entry.setdefault("gpu", labels.get("gpu"))
        entry.setdefault("modelName", labels.get("modelName", ""))
    out = []
    for (host, uuid, at), f in fields.items():
        used, free = f.get(FB_USED), f.get(FB_FREE)
        index = f.get("gpu")
        out.append(
            GpuSample(
                host=host,
                uuid=uuid,
                at=at,
                index=int(index) if index is not None and str(index).isdigit() else None,
                product=f.get("modelName") or "",
                util=f.get(UTIL),
                mem_used=used,
                mem_total=used + free if used is not None and free is not None else None,
                temp=f.get(TEMP),
                power=f.get(POWER),
            )
        )
    out.sort(key=lambda s: (s.host, s.index if s.index is not None else 1 << 30, s.uuid))
    return out
