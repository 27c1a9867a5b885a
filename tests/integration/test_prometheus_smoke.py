"""Prove the Prometheus service: backfilled DCGM history, the documented patterns, live scrapes.

If these fail, GPU-metrics tests would fail for a reason unrelated to mlopstui. Expected values
come from scripts/services.d/dcgm_history.py (the generator), not from copies.
"""

from __future__ import annotations

import time

import pytest
import requests

pytest.register_assert_rewrite("prometheus_fixtures")
from prometheus_fixtures import dcgm_history, query, query_range  # noqa: E402

pytest_plugins = ["prometheus_fixtures"]
pytestmark = pytest.mark.prometheus

UTIL = "DCGM_FI_DEV_GPU_UTIL"


def _labels(result: list[dict]) -> list[dict[str, str]]:
    return [{k: v for k, v in r["metric"].items() if k != "__name__"} for r in result]


def _key(labels: dict[str, str]) -> tuple[str, str]:
    return labels["Hostname"], labels["gpu"]


def test_instant_util_has_one_series_per_gpu(prometheus_url: str) -> None:
    gen = dcgm_history()
    result = query(prometheus_url, UTIL)
    assert len(result) == len(gen.HOSTS) * gen.GPUS_PER_HOST == 24
    seen = sorted(_key(labels) for labels in _labels(result))
    assert seen == sorted((h, str(g)) for h in gen.HOSTS for g in range(8))
    for r in result:
        m = r["metric"]
        assert m["__name__"] == UTIL
        assert m["modelName"] == "NVIDIA A100-SXM4-80GB"
        assert m["UUID"].startswith("GPU-") and len(m["UUID"]) == 40
        assert m["job"] == "dcgm-exporter"
        assert m["instance"] == f"{m['Hostname']}:9400"
        assert 0 <= float(r["value"][1]) <= 100


def test_label_values_match_generator(prometheus_url: str) -> None:
    """Every metric has exactly the generator's label sets (no stray or duplicate series)."""
    gen = dcgm_history()
    expected = sorted(sorted(s.items()) for s in gen.gpu_series())
    for name in gen.METRICS:
        got = sorted(sorted(labels.items()) for labels in _labels(query(prometheus_url, name)))
        assert got == expected, name
    allocated = query(prometheus_url, f'count by (Hostname) ({UTIL}{{pod!=""}})')
    by_host = {r["metric"]["Hostname"]: int(float(r["value"][1])) for r in allocated}
    # node-b is idle but fully allocated; node-c has two free GPUs (no namespace/pod).
    assert by_host == {"gpu-node-a": 8, "gpu-node-b": 8, "gpu-node-c": 6}


def test_last_hour_range_has_a_point_per_minute(prometheus_url: str) -> None:
    now = time.time()
    result = query_range(prometheus_url, UTIL, now - 3600, now, 60)
    assert len(result) == 24
    for series in result:
        assert len(series["values"]) >= 58, series["metric"]  # 61 when there is no gap


def test_backfilled_history_equals_generator(
    prometheus_url: str, prometheus_env: dict[str, str]
) -> None:
    """An hour well inside the backfilled window returns the generator's exact samples."""
    gen = dcgm_history()
    start = int(prometheus_env["DCGM_HISTORY_START"]) + 3600  # on the 30 s sample grid
    end = start + 3600
    assert end < int(prometheus_env["DCGM_HISTORY_END"])
    series_by_key = {_key(s): s for s in gen.gpu_series()}
    for name in (UTIL, "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_POWER_USAGE"):
        result = query_range(prometheus_url, name, start, end, 60)
        assert len(result) == 24
        for r in result:
            labels = series_by_key[_key(r["metric"])]
            assert len(r["values"]) == 61
            for ts, value in r["values"]:
                assert float(value) == pytest.approx(gen.values(labels, ts)[name]), (name, ts)


def test_avg_by_hostname_shows_documented_pattern(prometheus_url: str) -> None:
    result = query(prometheus_url, f"avg by (Hostname) ({UTIL})")
    avg = {r["metric"]["Hostname"]: float(r["value"][1]) for r in result}
    assert set(avg) == {"gpu-node-a", "gpu-node-b", "gpu-node-c"}
    assert avg["gpu-node-a"] >= 85  # busy: every GPU 85..98 %
    assert avg["gpu-node-b"] <= 2  # idle but allocated: 0..2 %
    assert 27 <= avg["gpu-node-c"] <= 43  # mixed: 4 busy, 2 idle, 2 free
    over_6h = query(prometheus_url, f"avg by (Hostname) (avg_over_time({UTIL}[6h]))")
    avg_6h = {r["metric"]["Hostname"]: float(r["value"][1]) for r in over_6h}
    assert avg_6h["gpu-node-a"] > 50 and avg_6h["gpu-node-b"] < 5


def test_live_exporter_samples_arrive(prometheus_url: str) -> None:
    """Prometheus scrapes the stand-in exporter (one target per host) and its newest samples
    are recent, within the documented per-GPU ranges."""
    gen = dcgm_history()
    instances = [f"{h}:9400" for h in gen.HOSTS]
    deadline = time.monotonic() + 30  # right after `up` the first scrapes are a few s away
    while True:
        now = time.time()
        up = query(prometheus_url, 'up{job="dcgm-exporter"}', time=now)
        scraped = sorted(r["metric"]["instance"] for r in up if r["value"][1] == "1")
        result = query(prometheus_url, f"timestamp({UTIL})", time=now)
        ages = [now - float(r["value"][1]) for r in result]
        fresh = len(ages) == 24 and max(ages) < 30
        if (scraped == instances and fresh) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert scraped == instances, up
    assert len(ages) == 24
    assert max(ages) < 30, f"newest samples up to {max(ages):.0f} s old"
    for r in query(prometheus_url, UTIL, time=now):
        lo, hi = gen.PROFILES[gen.profile_of(r["metric"])][0]
        assert lo <= float(r["value"][1]) <= hi, r["metric"]


def test_exporter_serves_all_and_per_host(dcgm_exporter_url: str) -> None:
    text = requests.get(dcgm_exporter_url, timeout=5).text
    for name in dcgm_history().METRICS:
        assert f"# TYPE {name} gauge" in text
    assert sum(line.startswith(UTIL + "{") for line in text.splitlines()) == 24
    one = requests.get(dcgm_exporter_url, params={"host": "gpu-node-b"}, timeout=5).text
    util_lines = [line for line in one.splitlines() if line.startswith(UTIL + "{")]
    assert len(util_lines) == 8
    assert all('Hostname="gpu-node-b"' in line for line in util_lines)
