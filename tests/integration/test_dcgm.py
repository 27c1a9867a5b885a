"""DCGM GPU metrics from the real Prometheus that `scripts/services up` starts (6 h of
backfilled history plus a live exporter): the adapter, the sync's backfill, and Prometheus down.

Expected values and patterns come from scripts/services.d/dcgm_history.py (the generator).
"""

from __future__ import annotations

import socket
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.register_assert_rewrite("prometheus_fixtures")
from prometheus_fixtures import dcgm_history  # noqa: E402

from mlopstui.adapters import SourceError, SourceUnreachable  # noqa: E402
from mlopstui.adapters.prometheus import PrometheusSource  # noqa: E402
from mlopstui.cache import db  # noqa: E402
from mlopstui.cache import gpus as store  # noqa: E402
from mlopstui.config import GpuSettings, Settings  # noqa: E402
from mlopstui.sync import gpus as gpu_sync  # noqa: E402

pytest_plugins = ["prometheus_fixtures"]
pytestmark = pytest.mark.prometheus


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[db.Writer]:
    w = db.Writer(db.open_writer(tmp_path / "cache" / "c.sqlite"))
    yield w
    w.close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_latest_reads_every_gpu_of_the_three_nodes(prometheus_url: str) -> None:
    gen = dcgm_history()
    samples = PrometheusSource(prometheus_url).dcgm_latest()
    assert len(samples) == 24
    assert [(s.host, s.index) for s in samples] == [(h, g) for h in gen.HOSTS for g in range(8)]
    by_key = {(s["Hostname"], s["gpu"]): s for s in gen.gpu_series()}
    for s in samples:
        labels = by_key[(s.host, str(s.index))]
        assert s.uuid == labels["UUID"]
        assert s.product == gen.MODEL
        assert s.mem_total == gen.FB_TOTAL_MIB  # FB_USED + FB_FREE, in MiB
        assert s.error is None
        (ulo, uhi), (flo, fhi), (tlo, thi), (plo, phi) = gen.PROFILES[gen.profile_of(labels)]
        assert ulo <= s.util <= uhi, s
        assert flo <= s.mem_used <= fhi, s
        assert tlo <= s.temp <= thi, s
        assert plo <= s.power <= phi, s
    assert len({s.at for s in samples}) == 1 and abs(samples[0].at - time.time()) < 60


def test_busy_idle_and_mixed_nodes_match_the_generator(prometheus_url: str) -> None:
    by_host: dict[str, list[float]] = defaultdict(list)
    for s in PrometheusSource(prometheus_url).dcgm_latest():
        by_host[s.host].append(s.util)
    mean = {h: sum(v) / len(v) for h, v in by_host.items()}
    assert mean["gpu-node-a"] >= 85  # busy
    assert mean["gpu-node-b"] <= 2  # idle but allocated
    assert 27 <= mean["gpu-node-c"] <= 43  # mixed
    assert sorted(by_host["gpu-node-c"])[:2] == [0.0, 0.0]  # its two free GPUs


def test_range_equals_the_backfilled_history(
    prometheus_url: str, prometheus_env: dict[str, str]
) -> None:
    gen = dcgm_history()
    start = int(prometheus_env["DCGM_HISTORY_START"]) + 3600  # on the 30 s grid
    end = start + 1800
    samples = PrometheusSource(prometheus_url).dcgm_range(start, end, 30)
    assert len(samples) == 24 * 61
    assert samples == sorted(samples, key=lambda s: (s.at, s.host, s.index))
    by_key = {(s["Hostname"], s["gpu"]): s for s in gen.gpu_series()}
    for s in samples:
        want = gen.values(by_key[(s.host, str(s.index))], s.at)
        assert s.util == want["DCGM_FI_DEV_GPU_UTIL"]
        assert s.mem_used == want["DCGM_FI_DEV_FB_USED"]
        assert s.temp == want["DCGM_FI_DEV_GPU_TEMP"]
        assert s.power == pytest.approx(want["DCGM_FI_DEV_POWER_USAGE"])


def test_first_sync_backfills_an_hour_then_polls_instant_values(
    prometheus_url: str, writer: db.Writer
) -> None:
    announced: list[tuple[str, set[str]]] = []
    settings = Settings(gpu=GpuSettings(prometheus_url=prometheus_url, nvml=False))
    feeds = gpu_sync.GpuFeeds(
        settings.gpu, writer, lambda src, topics: announced.append((src, topics))
    )
    jobs = feeds.jobs()
    assert [(j.source, j.name, j.interval) for j in jobs] == [
        ("dcgm", "gpus", 30.0),
        ("gpu-history", "prune", 3600.0),
    ]
    dcgm = jobs[0]

    began = time.time()
    rows = dcgm.run()
    assert announced == [("dcgm", {"gpus"})]
    assert 24 * 115 <= rows <= 24 * 121  # an hour of 30 s samples per GPU
    conn = db.open_reader(writer.path)
    try:
        per_gpu = Counter(
            r[0] for r in conn.execute("SELECT uuid FROM gpu_samples WHERE at >= ?", (0,))
        )
        assert len(per_gpu) == 24 and min(per_gpu.values()) >= 115
        assert {d.source for d in store.devices(conn)} == {"dcgm"}
        uuid = dcgm_history().uuid(1, 3)  # gpu-node-b GPU 3
        hist = store.history(conn, "gpu-node-b", uuid, began - 3600)
        assert len(hist) >= 115
        assert all(b.at - a.at == 30 for a, b in zip(hist, hist[1:], strict=False))
        assert max(s.util for s in hist) <= 2  # idle for the whole hour
        peaks = store.peak_util(conn, began - 1800)
        idle = sorted(h for (h, _), peak in peaks.items() if peak is not None and peak < 5)
        assert Counter(idle) == {"gpu-node-b": 8, "gpu-node-c": 4}

        # The next run is a poll: one instant value per GPU, stamped now.
        rows = dcgm.run()
        assert rows == 24
        latest = store.latest(conn)
        assert len(latest) == 24 and min(s.at for s in latest) >= int(began)
        assert [s.host for s in latest[:8]] == ["gpu-node-a"] * 8
    finally:
        conn.close()


def test_sync_after_a_gap_fills_only_the_gap(prometheus_url: str, writer: db.Writer) -> None:
    now = int(time.time())
    old = PrometheusSource(prometheus_url).dcgm_range(now - 1200 - 60, now - 1200, 30)
    with writer.transaction() as conn:
        store.store_samples(conn, "dcgm", old)
    sync = gpu_sync.DcgmSync(PrometheusSource(prometheus_url), writer, interval=30)
    rows = sync.sync_once()
    assert 24 * 38 <= rows <= 24 * 41  # 20 minutes of 30 s samples, not an hour


def test_prometheus_down_is_unreachable_quickly(writer: db.Writer) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    source = PrometheusSource(url, timeout=5)
    began = time.monotonic()
    with pytest.raises(SourceUnreachable) as caught:
        source.dcgm_latest()
    assert time.monotonic() - began < 2
    assert str(caught.value).startswith(f"{url} did not answer: connection refused")
    sync = gpu_sync.DcgmSync(source, writer)
    with pytest.raises(SourceUnreachable):
        sync.sync_once()
    with writer.transaction() as conn:
        assert store.latest(conn) == []


def test_a_refused_query_carries_prometheus_error_text(prometheus_url: str) -> None:
    now = time.time()
    with pytest.raises(SourceError) as caught:
        PrometheusSource(prometheus_url).dcgm_range(now, now - 600, 30)
    text = str(caught.value)
    assert not isinstance(caught.value, SourceUnreachable)
    assert text.startswith(f"Prometheus at {prometheus_url} refused the query: bad_data:")
    assert "end timestamp must not be before start time" in text


def test_something_else_on_the_port_is_not_prometheus(prometheus_env: dict[str, str]) -> None:
    exporter = prometheus_env["DCGM_EXPORTER_URL"].rsplit("/", 1)[0]
    with pytest.raises(SourceError, match="is it a Prometheus server"):
        PrometheusSource(exporter).dcgm_latest()
