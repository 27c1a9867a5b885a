"""Shared pieces for the integration tests: an auth proxy, private servers, workbenches, CLI runs.

A test module that uses the fixtures here says `pytest_plugins = ["helpers"]`; plain functions
and classes are imported as usual.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fault_proxy import HOP_BY_HOP
from services import MlflowServer, SeededDataset, free_port, seed_mlflow_store

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token-7f3a"


# --- auth proxy ---------------------------------------------------------------------------------


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        proxy = self.server.proxy
        if self.headers.get("Authorization") != f"Bearer {proxy.token}":
            proxy.refused += 1
            payload = json.dumps(
                {"error_code": "UNAUTHENTICATED", "message": "missing or wrong bearer token"}
            ).encode()
            self._reply(
                401,
                payload,
                [("Content-Type", "application/json"), ("WWW-Authenticate", "Bearer")],
            )
            return
        proxy.forwarded += 1
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() != "authorization"
        }
        upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=30)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            resp = upstream.getresponse()
            data = resp.read()
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            self._reply(resp.status, data, out)
        except OSError as exc:
            self._reply(502, f"upstream failed: {exc}".encode(), [("Content-Type", "text/plain")])
        finally:
            upstream.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    proxy: AuthProxy


class AuthProxy:
    """A bearer-token reverse proxy in front of a real MLflow server.

    MLflow's open-source server has no authentication of its own by default; teams put an auth
    proxy (nginx, oauth2-proxy, an API gateway) in front of it that answers 401 without a valid
    `Authorization: Bearer <token>`. This stands in for that proxy: a real
    `ThreadingHTTPServer` on 127.0.0.1 that forwards every authorised request, unchanged, to
    the MLflow server and counts what it refused and what it forwarded.
    """

    def __init__(self, upstream_url: str, token: str = TOKEN) -> None:
        parts = urlsplit(upstream_url)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.token = token
        self.refused = 0
        self.forwarded = 0
        self._httpd = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._httpd.proxy = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> AuthProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


@pytest.fixture
def auth_proxy(
    seeded_mlflow_server: tuple[MlflowServer, SeededDataset],
) -> Iterator[AuthProxy]:
    """An auth proxy (token TOKEN) in front of the shared seeded server."""
    proxy = AuthProxy(seeded_mlflow_server[0].url).start()
    try:
        yield proxy
    finally:
        proxy.stop()


# --- private servers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def killable_module_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[MlflowServer, SeededDataset]]:
    """A seeded server (53 runs) private to one test module, for tests that kill it."""
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-killable"))
    try:
        dataset = seed_mlflow_store(server.backend_uri, server.artifact_root)
        yield server.start(), dataset
    finally:
        server.stop()


@pytest.fixture
def killable_server(
    killable_module_server: tuple[MlflowServer, SeededDataset],
) -> tuple[MlflowServer, SeededDataset]:
    """The module's killable server, running (a test before may have left it dead).

    Tests may kill and restart it and add experiments of their own; they must not change
    the seeded runs, and must scope what they assert to their own experiments.
    """
    server, dataset = killable_module_server
    server.start()
    return server, dataset


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused at once)."""
    port = free_port()
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    return port


# --- workbenches --------------------------------------------------------------------------------


@pytest.fixture
def make_workbench(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """`make_workbench(uri, **settings)` -> a Workbench on a cache in tmp_path, closed after.

    Settings are dotted keys with `__` for the dot: `mlflow__page_size=5`.
    """
    from mlopstui import config
    from mlopstui.workbench import Workbench

    made: list[Workbench] = []

    def make(uri: str, cache: str = "c.sqlite", **settings: Any) -> Workbench:
        flags = {"cache": str(tmp_path / cache), "mlflow.tracking_uri": uri}
        flags.update({k.replace("__", "."): v for k, v in settings.items()})
        bench = Workbench(config.load(flags=flags, environ={}))
        made.append(bench)
        return bench

    try:
        yield make
    finally:
        for bench in made:
            bench.close()


def cached_run_ids(conn: Any, experiment_id: str | None = None) -> set[str]:
    sql, args = "SELECT run_id FROM runs", ()
    if experiment_id is not None:
        sql, args = sql + " WHERE experiment_id = ?", (experiment_id,)
    return {r[0] for r in conn.execute(sql, args)}


def table_counts(conn: Any) -> dict[str, int]:
    return {
        t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("experiments", "runs", "params", "metrics", "tags", "runs_fts", "run_keys")
    }


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05) -> Any:
    """Poll `predicate` until it returns something truthy; returns it, or None on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


@dataclass
class Interrupted:
    """What happened to a sync that lost its server after its first batch of runs."""

    error: BaseException | None
    seconds_to_fail: float
    rows_at_kill: int


def sync_and_kill_after_first_batch(bench: Any, server: MlflowServer) -> Interrupted:
    """Run `bench.source("mlflow").run_sync.sync_once()` in a thread; SIGKILL the server after its first run page.

    The sync thread is held inside the batch announcement while the server dies, so the kill
    lands deterministically between the first page and the next request.
    """
    landed, release = threading.Event(), threading.Event()
    outcome: dict[str, BaseException | None] = {"error": None}

    def listener(source: str, topics: set[str]) -> None:
        if "runs" in topics and not landed.is_set():
            landed.set()
            release.wait(30)

    def target() -> None:
        try:
            bench.source("mlflow").run_sync.sync_once()
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    bench.scheduler.listeners.append(listener)
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        assert landed.wait(30), "the sync never wrote a first batch of runs"
        with bench.reader() as conn:
            rows = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        server.kill()
        began = time.monotonic()
    finally:
        release.set()
        bench.scheduler.listeners.remove(listener)
    thread.join(10)
    took = time.monotonic() - began
    assert not thread.is_alive(), "sync_once still hangs 10 s after the server died"
    return Interrupted(outcome["error"], took, rows)


# --- the command line ---------------------------------------------------------------------------


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str
    raw_stdout: bytes
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 60
) -> CliResult:
    """`python -m mlopstui ARGS` in a subprocess with this environment plus `env`."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONIOENCODING", "utf-8")
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "mlopstui", *args],
        env=full_env,
        cwd=cwd or REPO_ROOT,
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return CliResult(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
        proc.stdout,
        time.monotonic() - began,
    )
