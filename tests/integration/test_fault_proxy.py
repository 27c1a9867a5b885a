"""The fault-injecting proxy itself, against the real MLflow server: each fault does what its
tests rely on (so a test that passes because the proxy did nothing cannot pass)."""

from __future__ import annotations

import http.client
import json
import time
from urllib.parse import urlsplit

import pytest
from fault_proxy import EXPERIMENTS_SEARCH, Drop, FaultProxy, Hang, Huge, Rewrite, Status, Trickle


def _post(url: str, path: str, body: dict, timeout: float = 5.0) -> tuple[int, dict, bytes]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def test_forwards_unchanged_and_logs(mlflow_server) -> None:
    with FaultProxy(mlflow_server.url) as proxy:
        status, _h, data = _post(proxy.url, EXPERIMENTS_SEARCH, {"max_results": 5})
        assert status == 200 and "experiments" in json.loads(data)
        assert proxy.count("POST", EXPERIMENTS_SEARCH) == 1
        assert proxy.log[0][2] == {"max_results": 5}


def test_status_rewrite_times_and_newest_rule_wins(mlflow_server) -> None:
    with FaultProxy(mlflow_server.url) as proxy:
        proxy.on("POST", EXPERIMENTS_SEARCH, Status(429, headers={"Retry-After": "3"}), times=1)
        status, headers, _ = _post(proxy.url, EXPERIMENTS_SEARCH, {"max_results": 5})
        assert status == 429 and headers["Retry-After"] == "3"
        proxy.on("POST", EXPERIMENTS_SEARCH, Rewrite(lambda req, resp: {**resp, "marked": 1}))
        status, _h, data = _post(proxy.url, EXPERIMENTS_SEARCH, {"max_results": 5})
        assert status == 200 and json.loads(data)["marked"] == 1


def test_trickle_hang_drop_and_huge(mlflow_server) -> None:
    with FaultProxy(mlflow_server.url) as proxy:
        proxy.on("POST", EXPERIMENTS_SEARCH, Trickle(every=0.2), times=1)
        parts = urlsplit(proxy.url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=1.0)
        conn.request("POST", EXPERIMENTS_SEARCH, "{}")
        resp = conn.getresponse()
        started, got = time.monotonic(), b""
        while time.monotonic() - started < 1.5:  # bytes keep coming, so no read times out
            got += resp.read(1)
        assert got.startswith(b'{"runs": [ ')
        conn.close()
        proxy.on("POST", EXPERIMENTS_SEARCH, Hang(), times=1)
        with pytest.raises(TimeoutError):
            _post(proxy.url, EXPERIMENTS_SEARCH, {"max_results": 5}, timeout=0.5)
        proxy.on("POST", EXPERIMENTS_SEARCH, Drop(), times=1)
        with pytest.raises(http.client.RemoteDisconnected):
            _post(proxy.url, EXPERIMENTS_SEARCH, {"max_results": 5})
        proxy.on("POST", EXPERIMENTS_SEARCH, Huge(3 << 20), times=1)
        status, _h, data = _post(proxy.url, EXPERIMENTS_SEARCH, {"max_results": 5})
        assert status == 200 and len(data) == 3 << 20 and json.loads(data)["runs"] == []
