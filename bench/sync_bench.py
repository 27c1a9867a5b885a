"""Sync throughput against a real `mlflow server`, and the first runs on screen after connect.

    python bench/sync_bench.py [--runs 10000] [--repeats 3] [--starts 3] [--workdir DIR]

Seeds (or reuses) an MLflow store of N runs (bench/seed_server.py), serves it with a real
`mlflow server` on loopback, and measures in the same run, each path reading every run of every
experiment newest first in pages of 1000:

  (a) project sync: `Workbench(settings).source("mlflow").run_sync.sync_once()` into a fresh cache: the HTTP
      adapter, JSON -> Run, and every cache write (upserts, FTS, key index, stats);
  (b) `MlflowClient(url).search_runs` paging with page tokens (MLflow's entities);
  (c) raw REST: `requests` POST /api/2.0/mlflow/runs/search, `resp.json()` only.

Each path runs `--repeats` times in alternating order (a b c, c b a, ...); the figure is the
median runs/s, and the budget is (a) >= 95 % of (c). Every pass also records the CPU seconds
of this process and of the server, and (a) the time spent waiting on requests, converting and
writing (a cheap profile that is always on).

Then the real app starts in a pty at 200x50 (`mlopstui --tracking-uri URL --cache FRESH`),
`--starts` times, and the bench times when the first run rows appear and when 100 runs are on
screen (see bench/README.md); budget 0.3 s after the first frame (connect). With `--profile`,
pass (a) also runs once under cProfile and prints where this process spent its time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from ptyharness import APP_MARKER, PtyApp, strip_ansi  # noqa: E402
from seed_server import NAME_PREFIX, MlflowServerProcess, ensure_store  # noqa: E402

PAGE = 1000
ORDER = ["attributes.start_time DESC"]
RATIO_BUDGET = 0.95
FIRST_100_BUDGET_S = 0.3
FIRST_N = 100
NAME_RX = re.compile(re.escape(NAME_PREFIX) + r"\d{6}")
INFO_RX = re.compile(r"(\d+)(\+?) runs(?: \(filtered\))? · sort")
# The status bar's text: its first appearance is the first frame (sync starts right after it).


# ---------------------------------------------------------------------------- the three paths


def _experiment_ids_rest(session, url: str) -> list[str]:
    ids, token = [], None
    while True:
        body = {"max_results": 1000, **({"page_token": token} if token else {})}
        resp = session.post(f"{url}/api/2.0/mlflow/experiments/search", json=body, timeout=120)
        resp.raise_for_status()
        payload = resp.json()
        ids += [e["experiment_id"] for e in payload.get("experiments", [])]
        token = payload.get("next_page_token")
        if not token:
            return ids


def raw_rest(url: str, page: int = PAGE, max_pages: int | None = None) -> dict:
    """(c) POST runs/search with requests, paging; JSON parsed, nothing else."""
    import requests

    session = requests.Session()
    t0 = time.perf_counter()
    ids = _experiment_ids_rest(session, url)
    runs, pages, nbytes, token, first = 0, 0, 0, None, None
    while True:
        body = {"experiment_ids": ids, "max_results": page, "order_by": ORDER}
        if token:
            body["page_token"] = token
        resp = session.post(f"{url}/api/2.0/mlflow/runs/search", json=body, timeout=120)
        resp.raise_for_status()
        nbytes += len(resp.content)
        payload = resp.json()
        runs += len(payload.get("runs", []))
        pages += 1
        if first is None:
            first = time.perf_counter() - t0
        token = payload.get("next_page_token")
        if not token or (max_pages and pages >= max_pages):
            break
    session.close()
    return {"runs": runs, "pages": pages, "bytes": nbytes, "first_page_s": first}


def mlflow_client(url: str) -> dict:
    """(b) MlflowClient(url).search_runs, paging with page tokens."""
    from mlflow import MlflowClient

    client = MlflowClient(url)
    t0 = time.perf_counter()
    ids = [e.experiment_id for e in client.search_experiments()]
    runs, pages, token, first = 0, 0, None, None
    while True:
        got = client.search_runs(ids, max_results=PAGE, order_by=ORDER, page_token=token)
        runs += len(got)
        pages += 1
        if first is None:
            first = time.perf_counter() - t0
        token = got.token
        if not token:
            break
    return {"runs": runs, "pages": pages, "first_page_s": first}


def _timed(fn, bucket: list[float]):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            bucket[0] += time.perf_counter() - t

    return wrapper


def project_sync(url: str, cache: Path, config_file: Path, profile: bool = False) -> dict:
    """(a) the project's own sync of every run into a fresh cache, as the app's runs job
    does it on a cold cache: `Workbench(settings).source("mlflow").run_sync.sync_once()`."""
    from mlopstui import config
    from mlopstui.workbench import Workbench

    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(cache) + suffix).unlink(missing_ok=True)
    settings = config.load(
        config=str(config_file),
        # A generous timeout: a 1000-run page takes 1-2 s on a busy 2-core machine.
        flags={"mlflow.tracking_uri": url, "cache": str(cache), "mlflow.request_timeout": 120.0},
        environ={},
    )
    t0 = time.perf_counter()
    wb = Workbench(settings)
    t_open = time.perf_counter() - t0
    sync = wb.source("mlflow").run_sync
    request_s, write_s = [0.0], [0.0]
    sync.source._request = _timed(sync.source._request, request_s)
    sync._write = _timed(sync._write, write_s)
    profiler = cProfile.Profile() if profile else None
    try:
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        written = sync.sync_once()
        if profiler:
            profiler.disable()
        total = time.perf_counter() - t0
        conn = wb.reader()
        try:
            cached = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        finally:
            conn.close()
    finally:
        wb.close()
    out = {
        "runs": cached,
        "written": written,
        "open_s": t_open,
        "request_s": request_s[0],
        "write_s": write_s[0],
        "other_s": total - request_s[0] - write_s[0],
        "cache_bytes": cache.stat().st_size,
    }
    if profiler:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
        out["profile"] = text.getvalue()
    return out


def _warm_up(url: str) -> None:
    """One small query in each path's own shape (the server's first query of a shape, and
    each client's first request, cost extra)."""
    from mlflow import MlflowClient

    from mlopstui.adapters.mlflow import MlflowSource

    source = MlflowSource(url, timeout=120)
    ids = [e.experiment_id for e in source.experiments() if e.lifecycle == "active"]
    next(source.search_runs(ids, order_by=ORDER, page_size=100, max_pages=1))
    client = MlflowClient(url)
    client.search_runs([e.experiment_id for e in client.search_experiments()], max_results=100)


def _wait_server_quiet(server: MlflowServerProcess, timeout: float = 30.0) -> None:
    """Until the server used at most one CPU tick in 0.3 s (an abandoned request is done)."""
    deadline = time.perf_counter() + timeout
    last = server.cpu_seconds()
    while time.perf_counter() < deadline:
        time.sleep(0.3)
        now = server.cpu_seconds()
        if now - last <= 0.011:
            return
        last = now


def one_pass(name: str, fn, server: MlflowServerProcess) -> dict:
    _wait_server_quiet(server)
    c0, s0 = time.process_time(), server.cpu_seconds()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    out.update(
        path=name,
        seconds=wall,
        runs_per_s=out["runs"] / wall if wall else None,
        client_cpu_s=time.process_time() - c0,
        server_cpu_s=server.cpu_seconds() - s0,
    )
    return out


# ---------------------------------------------------------------------------- the app


def _name_times(app: PtyApp, since: float) -> tuple[list[tuple[float, str]], list[tuple]]:
    """(time first written, run name) for every seeded run name the app wrote after `since`,
    and (time, runs, counting) of every info line, from the pty's timestamped chunks."""
    with app._cond:
        chunks = [c for c in app.chunks if c.t >= since]
    seen: dict[str, float] = {}
    infos = []
    tail = b""
    for c in chunks:
        text = strip_ansi(tail + c.data)  # names or escapes cut at a chunk boundary
        tail = c.data[-256:]
        for m in NAME_RX.finditer(text):
            seen.setdefault(m.group(0), c.t)
        for m in INFO_RX.finditer(text):
            infos.append((c.t, int(m.group(1)), bool(m.group(2))))
    return sorted((t, n) for n, t in seen.items()), infos


def first_runs_on_screen(
    url: str,
    cache: Path,
    env: dict,
    runs_total: int,
    timeout: float = 60.0,
    command: list[str] | None = None,
) -> dict:
    """Start the app on a fresh cache against the server; time the first run rows on screen.
    `command` replaces `mlopstui` (e.g. a profiler in front of it, or a patched entry point)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(cache) + suffix).unlink(missing_ok=True)
    exe = Path(sys.executable).parent / "mlopstui"
    cmd = command or ([str(exe)] if exe.exists() else [sys.executable, "-m", "mlopstui.cli"])
    argv = [*cmd, "--tracking-uri", url, "--cache", str(cache)]
    want = min(FIRST_N, runs_total)
    with PtyApp(argv, cols=200, rows=50, env=env, cwd=str(ROOT)) as app:
        connected = app.wait_for(APP_MARKER, timeout=30)
        if connected is None:
            raise SystemExit(f"the app showed no first frame: {app.text()[-800:]!r}")
        # Wait for an info line saying the view has >= want runs, then for the screen to
        # settle (the rows of that page painted).
        deadline = time.perf_counter() + timeout
        info_at = None
        while time.perf_counter() < deadline:
            _names, infos = _name_times(app, connected)
            hit = next((t for t, n, _c in infos if n >= want), None)
            if hit is not None:
                info_at = hit
                break
            time.sleep(0.05)
        app.wait_idle(0.3, timeout=10)
        names, infos = _name_times(app, connected)
        app.close()
    if info_at is None:
        raise SystemExit(f"the app never showed {want} runs within {timeout:.0f} s")
    # The table shows as many rows as fit (about 40 at 200x50): "100 runs on screen" is the
    # view counting >= 100 runs with a screenful of their rows painted.
    rows_needed = min(want, len([n for t, n in names if t <= info_at + 1.0]))
    rows_at = names[rows_needed - 1][0] if rows_needed else None
    done = max(t for t in (info_at, rows_at) if t is not None)
    return {
        "first_frame_s": connected - app.t_exec,
        "first_row_after_connect_s": (names[0][0] - connected) if names else None,
        "info_ge_100_after_connect_s": info_at - connected,
        "rows_visible": rows_needed,
        "hundred_after_connect_s": done - connected,
        "hundred_after_exec_s": done - app.t_exec,
        "first_info_runs": next((n for _t, n, _c in infos if n), None),
        "t_exec": app.t_exec,  # perf_counter (CLOCK_MONOTONIC: comparable with the child's)
    }


# ---------------------------------------------------------------------------- driver


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def measure(
    workdir: Path,
    runs: int,
    env: dict,
    *,
    experiments: int = 5,
    repeats: int = 3,
    starts: int = 3,
    profile: bool = False,
    warm_app: bool = True,
) -> dict:
    """Everything in the sync section of the results JSON. `warm_app`: one unmeasured start
    of the app first (not needed when other pty measurements in the same work dir ran
    before: they compiled the bytecode)."""
    began = time.perf_counter()
    workdir = Path(workdir)
    store = ensure_store(workdir / f"mlflow-{runs}", runs, experiments)
    config_file = workdir / "sync-empty-config.toml"
    config_file.write_text("# benchmark: defaults only\n")
    cache = workdir / "sync-cache.sqlite"
    result: dict = {"runs": runs, "store": store, "repeats": repeats, "page_size": PAGE}
    import mlflow  # noqa: F401 - imported before timing (~1.2 s)
    import requests  # noqa: F401

    with MlflowServerProcess(Path(store["path"]).parent) as server:
        result["server_startup_s"] = server.startup_s
        print(f"\n== sync: {runs:,} runs at {server.url}", flush=True)
        # Warm-up, unmeasured: the server's first queries and lazy imports, its file cached.
        raw_rest(server.url)
        _warm_up(server.url)
        result["first_page_100_rest_s"] = _median(
            [one_pass("c100", lambda: raw_rest(server.url, 100, 1), server)["first_page_s"]
             for _ in range(3)]
        )  # fmt: skip
        paths = {
            "project": lambda: project_sync(server.url, cache, config_file),
            "client": lambda: mlflow_client(server.url),
            "rest": lambda: raw_rest(server.url),
        }
        passes: dict[str, list[dict]] = {k: [] for k in paths}
        for i in range(repeats):
            order = list(paths) if i % 2 == 0 else list(reversed(paths))
            for name in order:
                p = one_pass(name, paths[name], server)
                if p["runs"] != runs:
                    raise SystemExit(f"{name} read {p['runs']} runs, the server has {runs}")
                passes[name].append(p)
                print(
                    f"  {name:8s} {p['runs_per_s']:7.0f} runs/s ({p['seconds']:.2f} s; CPU: "
                    f"here {p['client_cpu_s']:.2f} s, server {p['server_cpu_s']:.2f} s)",
                    flush=True,
                )
        summary = {}
        for name, ps in passes.items():
            summary[name] = {
                "runs_per_s_median": _median([p["runs_per_s"] for p in ps]),
                "seconds_median": _median([p["seconds"] for p in ps]),
                "first_page_s_median": _median([p.get("first_page_s") for p in ps]),
                "client_cpu_ms_per_1000": 1e6 * _median([p["client_cpu_s"] for p in ps]) / runs,
                "server_cpu_ms_per_1000": 1e6 * _median([p["server_cpu_s"] for p in ps]) / runs,
            }
        for key in ("request_s", "write_s", "other_s", "open_s"):
            summary["project"][f"{key}_median"] = _median([p[key] for p in passes["project"]])
        summary["project"]["cache_bytes"] = passes["project"][-1]["cache_bytes"]
        summary["rest"]["bytes_per_run"] = passes["rest"][-1]["bytes"] / runs
        result["passes"] = passes
        result["summary"] = summary
        a, c = summary["project"]["runs_per_s_median"], summary["rest"]["runs_per_s_median"]
        result["ratio_project_to_rest"] = a / c if a and c else None
        result["ratio_client_to_rest"] = summary["client"]["runs_per_s_median"] / c if c else None
        print(
            f"  median: project {a:.0f}, MlflowClient "
            f"{summary['client']['runs_per_s_median']:.0f}, raw REST {c:.0f} runs/s; "
            f"project/REST {result['ratio_project_to_rest']:.1%} (budget >= 95 %)",
            flush=True,
        )
        pj = summary["project"]
        print(
            f"  project sync split (median): waiting on requests {pj['request_s_median']:.2f} s "
            f"(prefetch thread), cache writes {pj['write_s_median']:.2f} s, wall "
            f"{pj['seconds_median']:.2f} s (requests and writes overlap); raw REST first page "
            f"of 100 runs "
            f"{result['first_page_100_rest_s'] * 1000:.0f} ms",
            flush=True,
        )
        if profile:
            _wait_server_quiet(server)
            prof = project_sync(server.url, cache, config_file, profile=True)
            result["profile"] = prof["profile"]
            print(prof["profile"])
        app_cache = workdir / "sync-app-cache.sqlite"
        if warm_app:  # one unmeasured start: bytecode compiled into the work dir
            _wait_server_quiet(server)
            first_runs_on_screen(server.url, app_cache, env, runs)
        screens = []
        for _ in range(starts):
            _wait_server_quiet(server)
            screens.append(first_runs_on_screen(server.url, app_cache, env, runs))
            s = screens[-1]
            s.pop("t_exec")
            print(
                f"  app: first frame {s['first_frame_s'] * 1000:.0f} ms; first row "
                f"+{(s['first_row_after_connect_s'] or 0) * 1000:.0f} ms, 100 runs on screen "
                f"+{s['hundred_after_connect_s'] * 1000:.0f} ms after connect "
                f"({s['hundred_after_exec_s'] * 1000:.0f} ms after exec; first count shown "
                f"{s['first_info_runs']})",
                flush=True,
            )
        result["screen"] = {
            "starts": screens,
            "first_frame_s_median": _median([s["first_frame_s"] for s in screens]),
            "first_row_after_connect_s_median": _median(
                [s["first_row_after_connect_s"] for s in screens]
            ),
            "hundred_after_connect_s_median": _median(
                [s["hundred_after_connect_s"] for s in screens]
            ),
            "hundred_after_exec_s_median": _median([s["hundred_after_exec_s"] for s in screens]),
        }
        _wait_server_quiet(server)
    result["seconds"] = round(time.perf_counter() - began, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=10_000)
    p.add_argument("--experiments", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--starts", type=int, default=3)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/mlopstui-bench"))
    p.add_argument("--profile", action="store_true", help="also run (a) under cProfile")
    p.add_argument("--out", type=Path, help="also write the result JSON here")
    args = p.parse_args(argv)
    from run_bench import child_env

    args.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    result = measure(
        args.workdir,
        args.runs,
        child_env(args.workdir),
        experiments=args.experiments,
        repeats=args.repeats,
        starts=args.starts,
        profile=args.profile,
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
