"""Fixtures and helpers for tests against the real Prometheus that `scripts/services up` starts.

That Prometheus holds 6 h of backfilled DCGM-style GPU history plus live samples scraped every
5 s from a stand-in exporter; the patterns are documented in scripts/services.d/dcgm_history.py,
which `dcgm_history()` loads so tests compare against the generator instead of copies.

A test module that uses the fixtures says `pytest_plugins = ["prometheus_fixtures"]`.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests
from services import require_service, revive_service, service_env

REPO_ROOT = Path(__file__).resolve().parents[2]
GENERATOR = REPO_ROOT / "scripts" / "services.d" / "dcgm_history.py"
TIMEOUT = 10.0


class PrometheusError(AssertionError):
    """Prometheus answered with status != success."""


def _api(url: str, path: str, params: dict[str, Any]) -> Any:
    resp = requests.get(f"{url.rstrip('/')}/api/v1/{path}", params=params, timeout=TIMEOUT)
    try:
        body = resp.json()
    except ValueError:
        resp.raise_for_status()
        raise
    if body.get("status") != "success":
        raise PrometheusError(f"{path} {params}: {resp.status_code} {body}")
    return body["data"]


def query(url: str, promql: str, time: float | None = None) -> list[dict[str, Any]]:
    """An instant query; returns `data.result` (for a vector: [{"metric": {...}, "value":
    [ts, "v"]}]; for a scalar: [ts, "v"])."""
    params: dict[str, Any] = {"query": promql}
    if time is not None:
        params["time"] = time
    return _api(url, "query", params)["result"]


def query_range(
    url: str, promql: str, start: float, end: float, step: float
) -> list[dict[str, Any]]:
    """A range query; returns `data.result`: [{"metric": {...}, "values": [[ts, "v"], ...]}]."""
    params = {"query": promql, "start": start, "end": end, "step": step}
    return _api(url, "query_range", params)["result"]


@cache
def dcgm_history() -> ModuleType:
    """The generator module (its directory name has a dot, so load it by path)."""
    spec = importlib.util.spec_from_file_location("dcgm_history", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("dcgm_history", module)
    spec.loader.exec_module(module)
    return module


def _down_reason(env: dict[str, str]) -> str | None:
    """Why Prometheus or its exporter does not answer, or None when both do."""
    for key, probe in (("PROMETHEUS_URL", "/-/ready"), ("DCGM_EXPORTER_URL", "")):
        url = env.get(key, "")
        if not url:
            return f"prometheus.env has no {key}"
        target = url.rsplit("/", 1)[0] + "/health" if not probe else url + probe
        try:
            code = requests.get(target, timeout=5).status_code
        except requests.RequestException as exc:
            return f"{target} unreachable ({exc.__class__.__name__})"
        if code != 200:
            return f"{target} answered {code}"
    return None


@pytest.fixture(scope="session")
def prometheus_env() -> dict[str, str]:
    """prometheus.env as published by scripts/services.d/prometheus.sh, both Prometheus and the
    exporter answering (skips when not up; restarted once if they died mid-run)."""
    env = service_env("prometheus")
    why = _down_reason(env)
    if why is not None:
        env = revive_service("prometheus", why)
        why = _down_reason(env)
        if why is not None:
            require_service("prometheus", f"{why} after a restart: run `bash scripts/services up`")
    return env


@pytest.fixture(scope="session")
def prometheus_url(prometheus_env: dict[str, str]) -> str:
    """Base URL of the running Prometheus, checked ready by `prometheus_env`."""
    return prometheus_env["PROMETHEUS_URL"]


@pytest.fixture(scope="session")
def dcgm_exporter_url(prometheus_env: dict[str, str], prometheus_url: str) -> str:
    """The stand-in DCGM exporter's /metrics URL (all hosts; `?host=NAME` for one)."""
    url = prometheus_env.get("DCGM_EXPORTER_URL", "")
    if not url:
        require_service("prometheus", "prometheus.env has no DCGM_EXPORTER_URL")
    return url
