"""Issue 11, class 2: requests without an overall bound, against the real MLflow server.

Every fault is injected by the fault proxy (tests/fault_proxy.py) in front of a real server:
a body that trickles one byte every 2 s, a next_page_token the server repeats, a 600 MB
answer, HTTP 429 with Retry-After, and run/experiment/model entries that do not parse. Each
test failed before the adapter learnt the deadline, the size cap, the page guard, Retry-After
and skipping what does not parse.
"""

from __future__ import annotations

import base64
import email.utils
import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from fault_proxy import (  # noqa: E402
    EXPERIMENTS_SEARCH,
    MODELS_SEARCH,
    RUNS_SEARCH,
    FaultProxy,
    Huge,
    Rewrite,
    Status,
    Trickle,
)
from helpers import REPO_ROOT, cached_run_ids, run_cli  # noqa: E402
from services import NLP, VISION, MlflowServer, SeededDataset  # noqa: E402

from mlopstui.adapters import PartialSync, SourceError, SourceUnreachable  # noqa: E402
from mlopstui.adapters.mlflow import (  # noqa: E402
    DEADLINE_FACTOR,
    MAX_RESPONSE_BYTES,
    MlflowSource,
    RunPage,
)
from mlopstui.adapters.mlflow_registry import MlflowRegistry  # noqa: E402

pytestmark = pytest.mark.mlflow_server
pytest_plugins = ["helpers"]

Seeded = tuple[MlflowServer, SeededDataset]


def _offset_token(offset: int) -> str:
    """A page token in the form MLflow's SQL stores hand out (base64 of {"offset": N})."""
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def _in_thread(fn: Any, limit: float) -> tuple[Any, BaseException | None, float]:
    """Run `fn` in a daemon thread; fail the test if it is still running after `limit` s."""
    box: dict[str, Any] = {"value": None, "error": None}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the test
            box["error"] = exc

    began = time.monotonic()
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(limit)
    took = time.monotonic() - began
    assert not thread.is_alive(), f"still running after {limit} s"
    return box["value"], box["error"], took


# ------------------------------------------------------------------ a trickling body


def test_sync_once_against_a_trickle_ends_within_the_default_deadline(
    seeded_mlflow_server: Seeded, tmp_path: Path
) -> None:
    """One byte every 2 s never trips the 5 s read timeout; the whole-request deadline
    (6 x request_timeout = 30 s by default) ends the runs job, and `sync --once` with it.

    The proxy's trickle announces a 1 GB body, which the size cap alone would refuse at once:
    the cap is raised past it here so that it is the deadline that ends the request.
    """
    server, _ = seeded_mlflow_server
    config = tmp_path / "config.toml"
    config.write_text("[mlflow]\nmax_response_mb = 2048\n")
    with FaultProxy(server.url) as proxy:
        proxy.on("POST", RUNS_SEARCH, Trickle(every=2.0))
        args = ("--cache", str(tmp_path / "c.sqlite"), "--tracking-uri", proxy.url)
        try:
            env = {"MLOPSTUI_CONFIG": str(config)}
            result = run_cli(*args, "sync", "--once", env=env, timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail("`sync --once` against a trickling server still running after 90 s")
    deadline = DEADLINE_FACTOR * 5.0
    print(f"sync --once against a trickle ended in {result.seconds:.1f} s")
    assert result.returncode != 0, result.output
    assert "Traceback" not in result.output, result.output
    assert f"took longer than {deadline:g} s to answer runs/search" in result.output
    # The deadline, plus the interpreter's start and the registry job that still runs.
    assert result.seconds < deadline + 15, result.seconds


def test_a_trickled_body_is_cut_at_a_configured_deadline(seeded_mlflow_server: Seeded) -> None:
    server, _ = seeded_mlflow_server
    with FaultProxy(server.url) as proxy:
        proxy.on("POST", RUNS_SEARCH, Trickle(every=0.5))
        client = MlflowSource(proxy.url, timeout=2.0, deadline=3.0, max_bytes=2 << 30)
        pages, error, took = _in_thread(lambda: list(client.search_runs(["0"])), 30)
    assert isinstance(error, SourceUnreachable), error
    assert str(error) == f"{proxy.url} took longer than 3 s to answer runs/search"
    assert 2.9 <= took < 4.5, took


@contextmanager
def _raw_server(serve: Any) -> Iterator[str]:
    """A one-connection HTTP server on loopback that answers with `serve(conn, stop)`: for
    faults the proxy cannot make (trickled headers, a body without a length)."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            with suppress(OSError):
                serve(conn, stop)

    threading.Thread(target=run, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()


def test_trickled_headers_are_cut_at_the_deadline() -> None:
    """A server that sends its status line and then one header byte every 0.3 s: requests
    waits for the end of the headers however long it takes; the watchdog shuts the socket."""

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        while not stop.wait(0.3):
            conn.sendall(b"X")

    with _raw_server(serve) as url:
        client = MlflowSource(url, timeout=1.0, deadline=2.0)
        _, error, took = _in_thread(client.experiments, 30)
    assert isinstance(error, SourceUnreachable), error
    assert str(error) == f"{url} took longer than 2 s to answer experiments/search"
    assert 1.9 <= took < 3.5, took


# ------------------------------------------------------------------ a repeated page token


def _repeat_token(req: dict, resp: dict) -> dict:
    return {**resp, "next_page_token": _offset_token(1)}


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [(RUNS_SEARCH, "runs/search"), (EXPERIMENTS_SEARCH, "experiments/search")],
)
def test_a_repeated_page_token_stops_the_runs_sync(
    seeded_mlflow_server: Seeded, make_workbench: Any, path: str, endpoint: str
) -> None:
    server, _ = seeded_mlflow_server
    with FaultProxy(server.url) as proxy:
        proxy.on("POST", path, Rewrite(_repeat_token))
        bench = make_workbench(proxy.url, mlflow__page_size=5)
        _, error, _ = _in_thread(lambda: bench.source("mlflow").run_sync.sync_once(), 30)
        requests = proxy.count("POST", path)
    assert isinstance(error, SourceError), error
    assert f"answered {endpoint} with the same next_page_token twice" in str(error)
    assert "stopped after 2 pages" in str(error)
    # The cold cache's first page (one request), then page 1 and page 2 of the full read.
    assert requests <= 3, requests


def test_a_repeated_page_token_stops_the_registry_read(mlflow_server: MlflowServer) -> None:
    with FaultProxy(mlflow_server.url) as proxy:
        proxy.on("GET", MODELS_SEARCH, Rewrite(_repeat_token))
        registry = MlflowRegistry(MlflowSource(proxy.url))
        _, error, _ = _in_thread(registry.models, 30)
        requests = proxy.count("GET", MODELS_SEARCH)
    assert isinstance(error, SourceError), error
    assert "answered registered-models/search with the same next_page_token twice" in str(error)
    assert requests == 2


# ------------------------------------------------------------------ a huge answer

_HUGE_CHILD = """
import json, sys, time
from mlopstui.adapters import SourceError
from mlopstui.adapters.mlflow import MlflowSource

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
client = MlflowSource(sys.argv[1])
client.experiments()  # requests, urllib3 and the session are loaded before the baseline
before = hwm()
began = time.monotonic()
try:
    client.search_runs(["0"]).__next__()
    error = None
except SourceError as exc:
    error = str(exc)
print(json.dumps({"before": before, "after": hwm(), "error": error,
                  "seconds": time.monotonic() - began}))
"""


def test_a_600_mb_answer_is_refused_in_bounded_memory(seeded_mlflow_server: Seeded) -> None:
    server, _ = seeded_mlflow_server
    with FaultProxy(server.url) as proxy:
        proxy.on("POST", RUNS_SEARCH, Huge(600 << 20))
        proc = subprocess.run(
            [sys.executable, "-c", _HUGE_CHILD, proxy.url],
            capture_output=True,
            timeout=120,
            cwd=REPO_ROOT,
        )
    assert proc.returncode == 0, proc.stderr.decode()
    out = json.loads(proc.stdout)
    cap = MAX_RESPONSE_BYTES >> 20
    assert out["error"] == (
        f"{proxy.url} announced a 600 MiB answer to runs/search; the limit is {cap} MiB "
        "([mlflow] max_response_mb; or lower page_size)"
    )
    grew = out["after"] - out["before"]
    print(f"peak RSS grew by {grew / 2**20:.1f} MiB while refusing 600 MiB")
    assert grew < 32 << 20, grew


def test_a_body_without_a_length_is_cut_at_the_cap() -> None:
    """The cap holds for what arrives, not only for what a server announces: a server that
    streams an endless body without Content-Length is cut once the cap is passed."""
    sent = {"bytes": 0}

    def serve(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
        conn.sendall(b"Connection: close\r\n\r\n")
        block = b"x" * (1 << 20)
        while not stop.is_set():
            conn.sendall(block)
            sent["bytes"] += len(block)

    with _raw_server(serve) as url:
        client = MlflowSource(url, max_bytes=8 << 20)
        _, error, _ = _in_thread(client.experiments, 30)
    assert isinstance(error, SourceError), error
    assert str(error) == (
        f"{url} sent more than 8 MiB answering experiments/search; the limit is 8 MiB "
        "([mlflow] max_response_mb; or lower page_size)"
    )
    # What the server got out before the socket closed: the cap and the socket buffers.
    assert sent["bytes"] < 24 << 20, sent


# ------------------------------------------------------------------ 429 and Retry-After


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_with_retry_after_is_honoured_without_retries(
    seeded_mlflow_server: Seeded, form: str
) -> None:
    server, _ = seeded_mlflow_server
    if form == "seconds":
        value, least = "2", 1.95
    else:
        value, least = email.utils.formatdate(time.time() + 3, usegmt=True), 1.0
    with FaultProxy(server.url) as proxy:
        proxy.on("POST", EXPERIMENTS_SEARCH, Status(429, headers={"Retry-After": value}), times=1)
        client = MlflowSource(proxy.url, max_retries=0)
        began = time.monotonic()
        experiments = client.experiments()
        took = time.monotonic() - began
        requests = proxy.count("POST", EXPERIMENTS_SEARCH)
    print(f"Retry-After {value!r}: waited {took:.2f} s")
    assert {e.name for e in experiments} >= {VISION, NLP}
    assert requests == 2
    assert least <= took < 4.0, took


def test_a_long_retry_after_fails_at_once_and_is_remembered(seeded_mlflow_server: Seeded) -> None:
    server, _ = seeded_mlflow_server
    with FaultProxy(server.url) as proxy:
        proxy.on("POST", EXPERIMENTS_SEARCH, Status(503, headers={"Retry-After": "3600"}))
        client = MlflowSource(proxy.url, max_retries=3)
        began = time.monotonic()
        with pytest.raises(SourceUnreachable) as first:
            client.experiments()
        took = time.monotonic() - began
        assert str(first.value) == (
            f"{proxy.url} is busy (HTTP 503) and asked for 3600 s before the next request "
            "(Retry-After); the next pass waits for it"
        )
        assert took < 1.0, took
        with pytest.raises(SourceUnreachable, match=r"asked to wait \d+ s more \(Retry-After\)"):
            client.experiments()
        assert proxy.count("POST", EXPERIMENTS_SEARCH) == 1


# ------------------------------------------------------------------ entries that do not parse


def _break_run(run_id: str, how: str) -> Rewrite:
    def fn(req: dict, resp: dict) -> dict:
        runs = []
        for run in resp.get("runs", []):
            if run["info"]["run_id"] == run_id:
                if how == "no info":
                    run = {k: v for k, v in run.items() if k != "info"}
                else:
                    run = {**run, "info": {**run["info"], "start_time": "abc"}}
            runs.append(run)
        return {**resp, "runs": runs}

    return Rewrite(fn)


@pytest.mark.parametrize("how", ["no info", "start_time"])
def test_one_run_that_does_not_parse_is_named_and_skipped(
    seeded_mlflow_server: Seeded, how: str
) -> None:
    server, dataset = seeded_mlflow_server
    ids = dataset.run_ids(VISION)
    bad = ids[10]
    with FaultProxy(server.url) as proxy:
        proxy.on("POST", RUNS_SEARCH, _break_run(bad, how))
        client = MlflowSource(proxy.url)
        pages = list(client.search_runs([dataset.experiment_ids[VISION]]))
    assert len(pages) == 1 and isinstance(pages[0], RunPage)
    page = pages[0]
    assert {r.run_id for r in page} == set(ids) - {bad}
    # Newest first: the 11th oldest of 33 runs is the 23rd entry of the page.
    if how == "no info":
        assert page.skipped == [("", "run #23 of the page: field 'info' is missing")]
    else:
        assert page.skipped == [
            (bad, f"run {bad}: field 'info.start_time' is not a number ('abc')")
        ]


def test_one_bad_run_does_not_block_the_others_in_the_sync(
    seeded_mlflow_server: Seeded, make_workbench: Any
) -> None:
    server, dataset = seeded_mlflow_server
    ids = dataset.run_ids(VISION)
    bad = ids[3]
    with FaultProxy(server.url) as proxy:
        proxy.on("POST", RUNS_SEARCH, _break_run(bad, "start_time"))
        bench = make_workbench(proxy.url)
        _, error, _ = _in_thread(lambda: bench.source("mlflow").run_sync.sync_once(), 60)
    with bench.reader() as conn:
        cached = cached_run_ids(conn)
    assert set(ids) - {bad} <= cached
    assert set(dataset.run_ids(NLP)) <= cached
    # The pass wrote the rest, then failed naming what it skipped (without backing off).
    assert isinstance(error, PartialSync), repr(error)
    assert bad in str(error) and "start_time" in str(error), error


def test_an_experiment_that_does_not_parse_is_named_and_skipped(
    seeded_mlflow_server: Seeded,
) -> None:
    server, dataset = seeded_mlflow_server

    def fn(req: dict, resp: dict) -> dict:
        exps = resp["experiments"]
        bad = {k: v for k, v in exps[0].items() if k != "experiment_id"}
        worse = {**exps[1], "creation_time": "yesterday"}
        return {**resp, "experiments": [bad, worse, *exps[2:]]}

    with FaultProxy(server.url) as proxy:
        proxy.on("POST", EXPERIMENTS_SEARCH, Rewrite(fn))
        experiments = MlflowSource(proxy.url).experiments()
    whole = MlflowSource(server.url).experiments()
    assert len(experiments) == len(whole) - 2
    second = whole[1]
    assert experiments.skipped == [
        ("", "experiment #1 of the page: field 'experiment_id' is missing"),
        (
            second.experiment_id,
            f"experiment {second.experiment_id}: field 'creation_time' is not a number "
            "('yesterday')",
        ),
    ]


def test_registry_entries_that_do_not_parse_are_skipped_and_named(
    mlflow_server: MlflowServer,
) -> None:
    from mlflow import MlflowClient

    name = f"trust-{uuid.uuid4().hex[:8]}"
    MlflowClient(mlflow_server.url).create_registered_model(name)

    def fn(req: dict, resp: dict) -> dict:
        models = resp.get("registered_models", [])
        return {
            **resp,
            "registered_models": [
                *models,
                {"description": "no name"},
                {"name": "late", "creation_timestamp": "soon"},
            ],
        }

    with FaultProxy(mlflow_server.url) as proxy:
        proxy.on("GET", MODELS_SEARCH, Rewrite(fn))
        registry = MlflowRegistry(MlflowSource(proxy.url))
        models = registry.models()
    assert name in {m.name for m in models}
    assert "late" not in {m.name for m in models}
    n = len(models)
    assert registry.skipped == [
        ("", f"model #{n + 1} of the page: field 'name' is missing"),
        ("late", "model late: field 'creation_timestamp' is not a number ('soon')"),
    ]


def test_the_page_guard_follows_the_embedded_stores_tokens(tmp_path: Path) -> None:
    """The embedded store hands out bytes tokens: paging through it still reads every run."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    official = MlflowClient(uri)
    experiment = official.create_experiment("paged")
    made = set()
    for _ in range(5):
        run = official.create_run(experiment)
        official.set_terminated(run.info.run_id)
        made.add(run.info.run_id)
    pages = list(MlflowSource(uri).search_runs([experiment], page_size=2))
    assert [len(p) for p in pages] == [2, 2, 1]
    assert {r.run_id for p in pages for r in p} == made
    assert all(isinstance(p, RunPage) and not p.skipped for p in pages)
    assert "paged" in {e.name for e in MlflowSource(uri).experiments()}


def test_a_registry_entry_that_stops_parsing_keeps_its_cached_row(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    """The registry sync replaces a snapshot: an entry the server sends in a shape we cannot
    read must not vanish from the cache (nor its versions); the pass fails naming it."""
    from mlflow import MlflowClient

    from mlopstui.cache import db
    from mlopstui.cache import registry as registry_store
    from mlopstui.sync.mlflow_registry import MlflowRegistrySync

    name = f"keep-{uuid.uuid4().hex[:8]}"
    client = MlflowClient(mlflow_server.url)
    client.create_registered_model(name)
    client.create_model_version(name, "s3://bucket/model", run_id=None)
    writer = db.Writer(db.open_writer(tmp_path / "c.sqlite"))
    try:
        with FaultProxy(mlflow_server.url) as proxy:
            sync = MlflowRegistrySync(MlflowRegistry(MlflowSource(proxy.url)), writer)
            sync.sync_once()

            def garble(req: dict, resp: dict) -> dict:
                for m in resp.get("registered_models", []):
                    if m.get("name") == name:
                        m["creation_timestamp"] = "soon"
                for v in resp.get("model_versions", []):
                    if v.get("name") == name:
                        v["creation_timestamp"] = "soon"
                return resp

            proxy.on("GET", MODELS_SEARCH, Rewrite(garble))
            proxy.on("GET", "/api/2.0/mlflow/model-versions/search", Rewrite(garble))
            with pytest.raises(SourceError, match=f"could not be read.*{name}"):
                sync.sync_once()
        with writer.transaction() as conn:
            assert registry_store.model(conn, name) is not None
            assert [v.version for v in registry_store.versions(conn, name)] == ["1"]
    finally:
        writer.close()
