"""Fixtures of the gpu-quota plugin's tests: the plugin importable from its source tree, a tiny
quota service on the loopback interface that can misbehave on demand, and a cache."""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mlopstui.plugin_api.testing import SourceHarness

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

TEAMS = [
    {"team": "nlp", "quota_gpus": 16, "used_gpus": 12},
    {"team": "vision", "quota_gpus": 8, "used_gpus": 10},
    {"team": "speech", "quota_gpus": 4, "used_gpus": 0},
]
TRICKLE_STEP = 0.05
TRICKLE_MAX_STEPS = 200
"""A trickling reply gives up after 10 s even when nobody hangs up (bounded loops only)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "e2e: installs the gpu-quota plugin with pip and drives `python -m mlopstui` (~30 s)",
    )


class QuotaService:
    """A stand-in for a team's quota service (no real one exists here): GET /quotas as it
    would answer, or in one of its bad moods.

    `mode`: "ok" (the teams), "json" (`payload` as JSON), "500", "html", "huge-declared"
    (a 2 MB reply with its length), "huge-undeclared" (2 MB, no length: read until close),
    "trickle-body" / "trickle-headers" (a byte every 50 ms), "stall" (accepts, says nothing).
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.teams: list[dict[str, Any]] = [dict(t) for t in TEAMS]
        self.payload: Any = None
        self.requests = 0
        self.paths: list[str] = []
        self.stopping = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                service.requests += 1
                service.paths.append(self.path)
                # The client may hang up (as it should past its size cap or deadline).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    service.answer(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        mode = self.mode
        if h.path.partition("?")[0] != "/quotas":
            return self._send(h, 404, b"not found", "text/plain")
        if mode == "ok":
            return self._send(h, 200, json.dumps({"teams": self.teams}).encode())
        if mode == "json":
            return self._send(h, 200, json.dumps(self.payload).encode())
        if mode == "500":
            return self._send(h, 500, b'{"error": "database is locked"}')
        if mode == "html":
            return self._send(
                h, 200, b"<html><body>Down for maintenance</body></html>", "text/html"
            )
        if mode == "huge-declared":
            return self._send(h, 200, b'{"teams": [' + b" " * 2_000_000 + b"]}")
        if mode == "huge-undeclared":
            h.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
            for _ in range(200):  # 2 MB in 10 kB writes, no Content-Length
                h.wfile.write(b" " * 10_000)
            return None
        if mode == "trickle-body":
            h.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Length: 5000\r\n\r\n")
            return self._trickle(h, b"{" * TRICKLE_MAX_STEPS)
        if mode == "trickle-headers":
            return self._trickle(h, b"HTTP/1.0 200 OK\r\nX-Slow: " + b"z" * TRICKLE_MAX_STEPS)
        if mode == "stall":
            self.stopping.wait(TRICKLE_STEP * TRICKLE_MAX_STEPS)
            return None
        raise AssertionError(f"unknown mode {mode}")

    def _trickle(self, h: BaseHTTPRequestHandler, data: bytes) -> None:
        for i in range(min(len(data), TRICKLE_MAX_STEPS)):
            if self.stopping.wait(TRICKLE_STEP):
                return
            h.wfile.write(data[i : i + 1])

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler, status: int, body: bytes, kind: str = "application/json"
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", kind)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def start(self) -> QuotaService:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)


@pytest.fixture
def quota_service() -> Iterator[QuotaService]:
    service = QuotaService().start()
    yield service
    service.stop()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def closed_url() -> str:
    return f"http://127.0.0.1:{closed_port()}"


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[SourceHarness]:
    """A real cache with its one writer, and the SourceEnv the workbench would give a source."""
    with SourceHarness(tmp_path / "cache.sqlite") as harness:
        yield harness
