"""Measure mlopstui against the performance budget in DESIGN.md, in a real pseudo-terminal.

    python bench/run_bench.py [--sizes 1000,1000000] [--sync-runs 10000] [--workdir DIR]
                              [--quick | --toy] [--sync] [--gpu] [--no-sync] [--no-gpu]

For each size it seeds (or reuses) a cache of that many runs, then starts
`mlopstui --cache C --tracking-uri http://127.0.0.1:9` (nothing listens there: no network sync,
the app shows cached data and says the server is unreachable) and bench/bare_app.py (the
baseline) in a pty, and measures first frame, keypress latency, filter and sort, idle cost and
memory. Then (bench/sync_bench.py) it seeds (or reuses) an MLflow store of --sync-runs runs,
serves it with a real `mlflow server`, and measures sync throughput (mlopstui, MlflowClient,
raw REST) and the first 100 runs on screen after connect. Then (bench/gpu_bench.py) it
measures what the GPU nodes pane writes at 1 Hz with 8 local GPUs (bench/gpu_feed_app.py: the
real app with a synthetic NVML), every value changing and none changing, at 200x50 and 80x24.
`--sync` and `--gpu` run only those sections (either or both); `--no-sync`/`--no-gpu` skip one.
It writes bench/results/<date>.json (<date>-quick.json with --quick, <date>-sync.json with
--sync, <date>-gpu.json with --gpu) and, beside it (.md), the markdown tables of every figure
next to its budget, which it also prints. `--toy` (CI) runs every section at toy size and writes into the work dir only.
See bench/README.md for the definitions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sqlite3
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from ptyharness import (  # noqa: E402
    APP_MARKER,
    KEYS,
    UNREACHABLE,
    PtyApp,
    percentile,
    wait_cpu_quiet,
)

BARE_MARKER = "bare textual app ready"
FILTER_EXPR = "metrics.m0 > 0.5"
TYPED_TEXT = "fox"  # typed then erased, again and again (plain-text search)


# ---------------------------------------------------------------------------- setup


def machine_info() -> dict:
    import sqlite3 as _sqlite3

    import textual

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "mem_total_mb": mem_kb // 1024,
        "python": platform.python_version(),
        "textual": textual.__version__,
        "sqlite": _sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def cpu_busy() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def child_env(workdir: Path) -> dict[str, str]:
    """A clean environment: no user config, XDG dirs inside the work dir."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLOPSTUI_", "MLFLOW_", "TEXTUAL")) and k not in ("KUBECONFIG",)
    }
    xdg = workdir / "xdg"
    for name in ("CONFIG", "CACHE", "DATA", "STATE"):
        path = xdg / name.lower()
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        env[f"XDG_{name}_HOME"] = str(path)
    # Compiled bytecode as an installed app has it, kept out of the source tree: the project
    # is installed editable, and PYTHONDONTWRITEBYTECODE would recompile src/ at every start.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    empty = workdir / "empty-config.toml"
    empty.write_text("# benchmark: defaults only\n")
    env["MLOPSTUI_CONFIG"] = str(empty)
    return env


def ensure_cache(workdir: Path, runs: int, experiments: int) -> dict:
    """Seed the cache for a size unless a complete one is there; returns its seed record."""
    from seed_cache import seed

    path = workdir / f"cache-{runs}.sqlite"
    meta = path.with_suffix(".seed.json")
    if path.exists() and meta.exists():
        record = json.loads(meta.read_text())
        if record.get("runs") == runs and record.get("experiments") == experiments:
            record["reused"] = True
            return record
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    print(f"seeding {runs:,} runs into {path} ...", flush=True)
    record = seed(path, runs, experiments)
    meta.write_text(json.dumps(record, indent=2))
    record["reused"] = False
    return record


def reset_cache(path: Path) -> None:
    """Before each start: no remembered view, one recent successful sync and no failures,
    so every start shows the same screen."""
    conn = sqlite3.connect(path, timeout=10)
    try:
        with conn:
            conn.execute("DELETE FROM view_state")
            conn.execute("DELETE FROM sync_runs WHERE ok = 0 OR topic != 'runs'")
            now = time.time()
            conn.execute("UPDATE sync_runs SET started = ?, finished = ?", (now - 2, now))
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def app_argv(cache: Path) -> list[str]:
    exe = Path(sys.executable).parent / "mlopstui"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "mlopstui.cli"]
    return [*cmd, "--cache", str(cache), "--tracking-uri", UNREACHABLE]


def bare_argv() -> list[str]:
    return [sys.executable, str(HERE / "bare_app.py")]


# ---------------------------------------------------------------------------- measuring


def quiesce(app: PtyApp, timeout: float = 15.0) -> None:
    """Wait for background work (a count of a filtered view) to finish: output quiet for
    0.3 s and at most one 10 ms CPU tick in 0.3 s."""
    wait_cpu_quiet(app, window=0.3, limit=0.015, timeout=timeout)
    app.settle(0.3)


def first_frames(argv, marker, env, cols, rows, repeats, reset=None) -> dict:
    frames, paints, sizes, rss = [], [], [], []
    for _ in range(repeats):
        if reset:
            reset()
        with PtyApp(argv, cols=cols, rows=rows, env=env, cwd=str(ROOT)) as app:
            result = app.first_frame(marker)
            if result is None:
                raise SystemExit(f"no first frame from {argv} (output: {app.text()[-500:]!r})")
            frames.append(result[0])
            sizes.append(result[1])
            seen = app.wait_for(marker, timeout=0)
            paints.append(seen - app.t_exec if seen else None)
            rss.append(app.rss_kb())
    return {
        "frame_s": frames,
        "median_s": statistics.median(frames),
        "first_paint_median_s": statistics.median([p for p in paints if p is not None]),
        "bytes": statistics.median(sizes),
        "rss_at_frame_kb": statistics.median(rss),
    }


def summarise(results: list[dict]) -> dict:
    """p50/p95/p99 of press_ex() results: first byte, repainted, and bytes written; and
    every sample as [first byte ms, repainted ms, bytes]."""

    def stats(values: list[float | None], scale: float = 1000.0) -> dict:
        got = [v * scale for v in values if v is not None]
        return {
            "p50": percentile(got, 50),
            "p95": percentile(got, 95),
            "p99": percentile(got, 99),
            "max": max(got) if got else None,
        }

    first = stats([r["first"] for r in results])
    done = stats([r["done"] for r in results])
    return {
        "n": len(results),
        "missing": sum(r["first"] is None for r in results),
        "first_byte": {f"{k}_ms": v for k, v in first.items()},
        "repainted": {f"{k}_ms": v for k, v in done.items()},
        "bytes_median": statistics.median([r["bytes"] for r in results]) if results else None,
        "samples": [
            [None if r[k] is None else round(r[k] * 1000, 2) for k in ("first", "done")]
            + [r["bytes"]]
            for r in results
        ],
    }


INFO_LINE = re.compile(r"(?:([\w.\-]+) · )?(\d+)(\+?) runs( \(filtered\))? · sort (\S+) ([↓↑])")


def shown(app: PtyApp) -> dict | None:
    """What the runs pane says it shows (its info line, the last one written)."""
    matches = list(INFO_LINE.finditer(app.text()))
    if not matches:
        return None
    m = matches[-1]
    return {
        "experiment": m.group(1) or "All experiments",
        "runs": int(m.group(2)),
        "counting": bool(m.group(3)),
        "filtered": bool(m.group(4)),
        "sort": m.group(5),
        "descending": m.group(6) == "↓",
    }


def view_plan(cache: Path, view: str) -> dict:
    """What a view will show: its run count and where the first metric column sits in the
    sort picker (relative to start_time, the default sort), from the real pane code."""
    from mlopstui.cache import db
    from mlopstui.cache import runs as run_store
    from mlopstui.ui.panes.experiments import default_columns

    conn = db.open_reader(cache)
    try:
        exps = run_store.experiments(conn)
        exps.sort(key=lambda e: e.lifecycle != "active")
        exp = exps[0] if view == "experiment" else None
        keys = run_store.experiment_keys(conn, exp.experiment_id if exp else None)
    finally:
        conn.close()
    try:
        columns = default_columns(keys, exp.experiment_id if exp else None)
    except TypeError:  # the older signature
        columns = default_columns(keys)
    metric = next((c for c in columns if c.startswith("metrics.")), None)
    return {
        "experiment": exp.name if exp else "All experiments",
        "view_rows": exp.run_count if exp else sum(e.run_count for e in exps),
        "sort_metric": metric,
        "picker_downs": columns.index(metric) - columns.index("start_time") if metric else 0,
    }


def select_view(app: PtyApp, view: str) -> dict | None:
    """Show "All experiments" or the first (most recently active) experiment through the
    experiment list (e, Home, [Down], Enter), whatever the app started with."""
    for key in ["e", KEYS["home"], *([KEYS["down"]] if view == "experiment" else [])]:
        app.wait_idle(0.3, since=app.send(key))
    app.wait_idle(0.5, since=app.send(KEYS["enter"]))
    return shown(app)


def presses(app: PtyApp, key: bytes, n: int, *, between=None, every: int = 0) -> dict:
    """Press a key n times, waiting for quiet after each; `between` (a key) is pressed,
    unmeasured, after every `every` presses (e.g. Home between Ends)."""
    out = []
    for i in range(n):
        r = app.press_ex(key)
        if r["first"] is None and between is not None:  # at the end already: back, retry
            app.press(between)
            r = app.press_ex(key)
        out.append(r)
        if between is not None and every and (i + 1) % every == 0:
            app.press(between)
    return summarise(out)


def typing(app: PtyApp, n: int) -> dict:
    """`/` then characters of TYPED_TEXT (each measured), erased with backspace, repeated."""
    app.press("/")
    app.settle(0.2)
    typed, back = [], []
    while len(typed) < n:
        count = 0
        for ch in TYPED_TEXT:
            if len(typed) >= n:
                break
            typed.append(app.press_ex(ch))
            count += 1
        app.settle(0.2)  # the background count
        for _ in range(count):
            back.append(app.press_ex(KEYS["backspace"]))
        app.settle(0.2)
    app.press(KEYS["escape"])
    app.settle(0.3)
    return {**summarise(typed), "backspace": summarise(back)}


def filtering(app: PtyApp, n: int) -> dict:
    """Type FILTER_EXPR; then n times erase its last character and type it again, timing
    the last key to the repainted first page of results."""
    app.press("/")
    for ch in FILTER_EXPR[:-1]:
        app.press(ch, settle=0.03)
    quiesce(app)
    out = []
    for _ in range(n):
        out.append(app.press_ex(FILTER_EXPR[-1]))
        quiesce(app)  # let the background count land before the next change
        app.press(KEYS["backspace"])
        quiesce(app)
    app.press(FILTER_EXPR[-1])
    quiesce(app)
    seen = shown(app)
    app.press(KEYS["escape"])  # clears the filter and focuses the table
    app.settle(0.3)
    return {"expr": FILTER_EXPR, "shown": seen, **summarise(out)}


def sorting(app: PtyApp, n: int, plan: dict) -> dict:
    """`r` reverses the sort (start time) n times; then the sort picker (s, down..., enter)
    sorts by the first metric column, and `r` reverses that n times."""
    out = {"reverse_start_time": summarise([app.press_ex("r") for _ in range(n)])}
    if n % 2:
        app.press("r")
    if plan["sort_metric"] is None:  # no metric column in this view's picker
        return out
    app.press("s")
    app.settle(0.2)
    for _ in range(plan["picker_downs"]):
        app.press(KEYS["down"])
    app.settle(0.2)
    pick = app.press_ex(KEYS["enter"], timeout=10)
    out["metric"] = plan["sort_metric"]
    out["pick_metric"] = summarise([pick])
    out["shown_after_pick"] = shown(app)
    out["reverse_metric"] = summarise([app.press_ex("r", timeout=10) for _ in range(n)])
    return out


def idle_cost(app: PtyApp, seconds: float) -> dict:
    t0, c0 = time.perf_counter(), app.cpu_seconds()
    time.sleep(seconds)
    t1, c1 = time.perf_counter(), app.cpu_seconds()
    written = app.bytes_between(t0, t1)
    return {
        "seconds": round(t1 - t0, 2),
        "cpu_percent": 100 * (c1 - c0) / (t1 - t0),
        "bytes": written,
        "bytes_per_s": written / (t1 - t0),
    }


def browse(app: PtyApp, pagedowns: int) -> dict:
    """pagedown x N, end, a filter; RSS after."""
    for _ in range(pagedowns):
        f, _d = app.press(KEYS["pagedown"])
        if f is None:
            break
    app.press(KEYS["end"])
    app.press("/")
    for ch in FILTER_EXPR:
        app.press(ch, settle=0.03)
    app.settle(0.5)
    app.press(KEYS["pagedown"])
    app.settle(0.5)
    return {"pagedowns": pagedowns, "rss_kb": app.rss_kb()}


def session(argv, env, reset, plan: dict, view: str, reps: dict) -> dict:
    """One long-running app at 200x50: idle, keys, typing, filter, sort, memory."""
    reset()
    view_rows = plan["view_rows"]
    out: dict = {"view": view, **plan}
    with PtyApp(argv, cols=200, rows=50, env=env, cwd=str(ROOT)) as app:
        if app.first_frame(APP_MARKER) is None:
            raise SystemExit(f"the app did not start: {app.text()[-500:]!r}")
        out["settle_s"] = wait_cpu_quiet(app)
        out["rss_settled_kb"] = app.rss_kb()
        out["start_view"] = shown(app)
        out["shown"] = select_view(app, view)
        if reps["idle_s"]:
            out["idle"] = idle_cost(app, reps["idle_s"])
        n = reps["presses"]
        page = 50 - 10
        every = max(1, min(10, view_rows // page - 1))
        out["keys"] = {
            "down": presses(app, KEYS["down"], n),
            "pagedown": presses(app, KEYS["pagedown"], n, between=KEYS["home"], every=every),
            "end": presses(app, KEYS["end"], n, between=KEYS["home"], every=1),
        }
        app.press(KEYS["home"])
        out["keys"]["type_char"] = typing(app, n)
        out["filter"] = filtering(app, reps["filter"])
        out["sort"] = sorting(app, reps["sort"], plan)
        out["browse"] = browse(app, reps["browse"])
        out["cpu_total_s"] = app.cpu_seconds()
        app.close()
    return out


def bench_size(size: int, args, env, reps: dict) -> dict:
    seed_record = ensure_cache(args.workdir, size, args.experiments)
    cache = Path(seed_record["path"])
    print(f"\n== {size:,} runs ({cache})", flush=True)
    result: dict = {"runs": size, "seed": seed_record, "first_frame": {}}
    app, bare = app_argv(cache), bare_argv()

    def reset() -> None:
        reset_cache(cache)

    reset()
    # Warm-up (unmeasured): bytecode compiled, the cache file in the page cache.
    first_frames(app, APP_MARKER, env, 200, 50, 1, reset)
    first_frames(bare, BARE_MARKER, env, 200, 50, 1)
    for cols, rows in ((200, 50), (80, 24)):
        geo = f"{cols}x{rows}"
        # Interleave app and baseline so drift (thermal, page cache) hits both alike.
        a_runs, b_runs = [], []
        for _ in range(reps["frames"]):
            a_runs.append(first_frames(app, APP_MARKER, env, cols, rows, 1, reset))
            b_runs.append(first_frames(bare, BARE_MARKER, env, cols, rows, 1))
        a = [r["frame_s"][0] for r in a_runs]
        b = [r["frame_s"][0] for r in b_runs]
        entry = {
            "app_s": a,
            "bare_s": b,
            "app_median_s": statistics.median(a),
            "bare_median_s": statistics.median(b),
            "ratio": statistics.median(a) / statistics.median(b),
            "app_first_paint_median_s": statistics.median(
                [r["first_paint_median_s"] for r in a_runs]
            ),
            "app_bytes_median": statistics.median([r["bytes"] for r in a_runs]),
            "bare_bytes_median": statistics.median([r["bytes"] for r in b_runs]),
            "bare_rss_kb": statistics.median([r["rss_at_frame_kb"] for r in b_runs]),
        }
        result["first_frame"][geo] = entry
        print(
            f"  first frame {geo}: app {entry['app_median_s'] * 1000:.0f} ms, bare "
            f"{entry['bare_median_s'] * 1000:.0f} ms, x{entry['ratio']:.2f}, "
            f"{entry['app_bytes_median']:,.0f} B",
            flush=True,
        )
    views = ["experiment"] if args.quick else ["experiment", "all"]
    result["sessions"] = {}
    for view in views:
        s = session(app, env, reset, view_plan(cache, view), view, reps)
        result["sessions"][view] = s
        k = s["keys"]
        print(
            f"  [{view}: {s['shown']}] down p50 {k['down']['first_byte']['p50_ms']:.1f} ms, "
            f"filter p95 "
            f"{s['filter']['repainted']['p95_ms']:.1f} ms, idle "
            f"{s.get('idle', {}).get('cpu_percent', float('nan')):.2f} % CPU, "
            f"rss after browse {s['browse']['rss_kb'] / 1024:.0f} MB",
            flush=True,
        )
    return result


# ---------------------------------------------------------------------------- report


def _fmt(v, unit="ms", digits=1) -> str:
    if v is None:
        return "n/a"
    return f"{v:,.{digits}f} {unit}".strip()


def _ok(v, limit) -> str:
    if v is None or limit is None:
        return ""
    return "ok" if v <= limit else "**MISS**"


def table(results: dict) -> str:
    sizes = [r["runs"] for r in results["sizes"]]
    head = ["figure", *[f"{s:,} runs" for s in sizes], "budget"]
    rows: list[list[str]] = []

    def add(label, getter, budget_text="", limit=None, unit="ms", digits=1, scale=1.0):
        cells = []
        for r in results["sizes"]:
            try:
                v = getter(r)
            except (KeyError, TypeError, IndexError):
                v = None
            v = None if v is None else v * scale
            mark = _ok(v, limit)
            cells.append(_fmt(v, unit, digits) + (f" {mark}" if mark else ""))
        rows.append([label, *cells, budget_text])

    for geo in ("200x50", "80x24"):

        def ff(r, g=geo):
            return r["first_frame"][g]

        add(
            f"first frame {geo}, median of starts",
            lambda r, ff=ff: ff(r)["app_median_s"],
            "<= 350 ms",
            350,
            scale=1000,
            digits=0,
        )
        add(
            f"  bare Textual app {geo} (baseline), median",
            lambda r, ff=ff: ff(r)["bare_median_s"],
            scale=1000,
            digits=0,
        )
        add(
            f"  ratio to bare {geo}",
            lambda r, ff=ff: ff(r)["ratio"],
            "<= 1.3x",
            1.3,
            unit="x",
            digits=2,
        )
        add(
            f"  first paint {geo} (status bar text seen)",
            lambda r, ff=ff: ff(r)["app_first_paint_median_s"],
            scale=1000,
            digits=0,
        )
    add(
        "first frame bytes 200x50",
        lambda r: r["first_frame"]["200x50"]["app_bytes_median"],
        unit="B",
        digits=0,
    )
    add(
        "  bare app first frame bytes 200x50",
        lambda r: r["first_frame"]["200x50"]["bare_bytes_median"],
        unit="B",
        digits=0,
    )
    views = [v for v in ("experiment", "all") if any(v in r["sessions"] for r in results["sizes"])]
    for view in views:

        def ses(r, v=view):
            return r["sessions"][v]

        tag = f"[{view}]"
        add(
            f"{tag} runs in the view", lambda r, ses=ses: ses(r)["shown"]["runs"], unit="", digits=0
        )
        for key in ("down", "pagedown", "end", "type_char"):

            def k(r, key=key, ses=ses):
                return ses(r)["keys"][key]

            add(
                f"{tag} key {key}: first byte p50",
                lambda r, k=k: k(r)["first_byte"]["p50_ms"],
                "<= 8 ms",
                8,
            )
            add(f"{tag} key {key}: first byte p95", lambda r, k=k: k(r)["first_byte"]["p95_ms"])
            add(
                f"{tag} key {key}: first byte p99",
                lambda r, k=k: k(r)["first_byte"]["p99_ms"],
                "<= 33 ms",
                33,
            )
            add(f"{tag} key {key}: repainted p95", lambda r, k=k: k(r)["repainted"]["p95_ms"])
            add(
                f"{tag} key {key}: bytes written, median",
                lambda r, k=k: k(r)["bytes_median"],
                unit="B",
                digits=0,
            )
        add(
            f"{tag} filter `{FILTER_EXPR}`: first page p50",
            lambda r, ses=ses: ses(r)["filter"]["repainted"]["p50_ms"],
        )
        add(
            f"{tag} filter: first page p95",
            lambda r, ses=ses: ses(r)["filter"]["repainted"]["p95_ms"],
            "<= 16 ms",
            16,
        )
        add(
            f"{tag} sort reverse (r, start time): p95",
            lambda r, ses=ses: ses(r)["sort"]["reverse_start_time"]["repainted"]["p95_ms"],
            "<= 16 ms",
            16,
        )
        add(
            f"{tag} sort by first metric column (picker, Enter)",
            lambda r, ses=ses: ses(r)["sort"]["pick_metric"]["repainted"]["p50_ms"],
            "<= 16 ms",
            16,
        )
        add(
            f"{tag} sort reverse on that metric: p95",
            lambda r, ses=ses: ses(r)["sort"]["reverse_metric"]["repainted"]["p95_ms"],
            "<= 16 ms",
            16,
        )
        add(
            f"{tag} idle CPU",
            lambda r, ses=ses: ses(r)["idle"]["cpu_percent"],
            "<= 0.2 %",
            0.2,
            unit="%",
            digits=2,
        )
        add(
            f"{tag} idle bytes to the terminal",
            lambda r, ses=ses: ses(r)["idle"]["bytes_per_s"],
            "0 B/s",
            0,
            unit="B/s",
        )
        add(
            f"{tag} RSS settled after start",
            lambda r, ses=ses: ses(r)["rss_settled_kb"] / 1024,
            unit="MB",
        )
        add(
            f"{tag} RSS after browsing (pagedown x50, End, filter)",
            lambda r, ses=ses: ses(r)["browse"]["rss_kb"] / 1024,
            "<= 80 MB",
            80,
            unit="MB",
        )
    add(
        "bare Textual app RSS at first frame (baseline)",
        lambda r: r["first_frame"]["200x50"]["bare_rss_kb"] / 1024,
        unit="MB",
    )
    add("seed: seconds", lambda r: r["seed"]["seconds"], unit="s")
    add("seed: cache file size", lambda r: r["seed"]["file_bytes"] / 1e6, unit="MB", digits=0)
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    return "\n".join(lines)


def sync_table(sync: dict) -> str:
    """The sync figures: one column (the runs on the server), each next to its budget."""
    summ, scr = sync["summary"], sync["screen"]
    rest = summ["rest"]["runs_per_s_median"]
    rows: list[list[str]] = []

    def add(label, value, budget_text="", limit=None, unit="", digits=0, higher_ok=False):
        if value is None:
            cell = "n/a"
        else:
            cell = f"{value:,.{digits}f} {unit}".strip()
            if limit is not None:
                ok = value >= limit if higher_ok else value <= limit
                cell += " ok" if ok else " **MISS**"
        rows.append([label, cell, budget_text])

    def rate(path):
        return summ[path]["runs_per_s_median"]

    add("sync: raw REST runs/search, pages of 1000 (baseline)", rate("rest"), unit="runs/s")
    add("sync: MlflowClient.search_runs, pages of 1000", rate("client"), unit="runs/s")
    add("  MlflowClient / raw REST", 100 * rate("client") / rest, unit="%")
    add("sync: mlopstui sync into a fresh cache", rate("project"), unit="runs/s")
    add(
        "  mlopstui / raw REST",
        100 * sync["ratio_project_to_rest"],
        ">= 95 %",
        95,
        unit="%",
        higher_ok=True,
    )
    pj = summ["project"]
    rows.append(
        [
            "  mlopstui sync: time in requests / in cache writes / wall (median)",
            f"{pj['request_s_median']:.2f} s / {pj['write_s_median']:.2f} s / "
            f"{summ['project']['seconds_median']:.2f} s",
            "",
        ]
    )
    for path, label in (("project", "mlopstui"), ("client", "MlflowClient"), ("rest", "raw REST")):
        rows.append(
            [
                f"  CPU per 1000 runs, {label}: here / server",
                f"{summ[path]['client_cpu_ms_per_1000']:,.0f} ms / "
                f"{summ[path]['server_cpu_ms_per_1000']:,.0f} ms",
                "",
            ]
        )
    add("app on a fresh cache: first frame (connect), median", 1000 * scr["first_frame_s_median"],
        unit="ms")  # fmt: skip
    add(
        "  first run row on screen after connect",
        None if scr["first_row_after_connect_s_median"] is None
        else 1000 * scr["first_row_after_connect_s_median"],
        unit="ms",
    )  # fmt: skip
    add(
        "  100 runs on screen after connect",
        1000 * scr["hundred_after_connect_s_median"],
        "<= 300 ms",
        300,
        unit="ms",
    )
    add("  100 runs on screen after exec", 1000 * scr["hundred_after_exec_s_median"], unit="ms")
    add(
        "  raw REST: experiments + first page of 100 runs (baseline)",
        1000 * sync["first_page_100_rest_s"],
        unit="ms",
    )
    store = sync["store"]
    add("seed MLflow store: seconds (SQL inserts, read back)", store["seconds"], unit="s", digits=1)
    add("mlflow server: start to healthy", sync["server_startup_s"], unit="s", digits=1)
    head = ["figure", f"{sync['runs']:,} runs on the server", "budget"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,1000000", help="runs per cache, comma-separated")
    p.add_argument("--quick", action="store_true", help="1000 runs, few repetitions (~60 s)")
    p.add_argument(
        "--toy",
        action="store_true",
        help="CI smoke run: every section at toy size, results in the work dir only",
    )
    p.add_argument("--sync", action="store_true", help="the MLflow sync section (only)")
    p.add_argument("--gpu", action="store_true", help="the GPU pane section (only)")
    p.add_argument("--no-sync", action="store_true", help="skip the MLflow sync section")
    p.add_argument("--no-gpu", action="store_true", help="skip the GPU pane section")
    p.add_argument("--sync-runs", type=int, help="runs on the MLflow server (default 10000)")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/mlopstui-bench"))
    p.add_argument("--experiments", type=int, default=5)
    p.add_argument("--out", type=Path, help="results file (default bench/results/<date>.json)")
    args = p.parse_args(argv)
    if (args.sync and args.no_sync) or (args.gpu and args.no_gpu):
        p.error("a section cannot be both run and skipped")
    only = args.sync or args.gpu
    run_sync = (args.sync or not only) and not args.no_sync
    run_gpu = (args.gpu or not only) and not args.no_gpu
    if args.toy:
        args.quick = True
        sizes = [200]
        reps = {"frames": 1, "presses": 3, "filter": 1, "sort": 1, "idle_s": 0.0, "browse": 2}
        sync_reps = {"runs": 200, "repeats": 1, "starts": 1}
        gpu_reps = {"sizes": ["200x50"], "idle_s": 1.0, "feed_s": 3.0}
    elif args.quick:
        sizes = [1000]
        reps = {"frames": 2, "presses": 10, "filter": 4, "sort": 4, "idle_s": 10.0, "browse": 10}
        sync_reps = {"runs": 1000, "repeats": 1, "starts": 1}
        gpu_reps = {"sizes": ["200x50", "80x24"], "idle_s": 5.0, "feed_s": 10.0}
    else:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
        reps = {"frames": 5, "presses": 50, "filter": 20, "sort": 20, "idle_s": 60.0, "browse": 50}
        sync_reps = {"runs": 10_000, "repeats": 3, "starts": 3}
        gpu_reps = {"sizes": ["200x50", "80x24"], "idle_s": 30.0, "feed_s": 60.0}
    if args.sync_runs:
        sync_reps["runs"] = args.sync_runs
    if only:
        sizes = []
    args.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(args.workdir, 0o700)
    env = child_env(args.workdir)
    started = time.time()
    busy0 = cpu_busy()
    load0 = loadavg()
    results = {
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "quick": args.quick,
        "toy": args.toy,
        "machine": machine_info(),
        "repetitions": {
            **reps,
            **({"sync": sync_reps} if run_sync else {}),
            **({"gpu": gpu_reps} if run_gpu else {}),
        },
        "command": f"mlopstui --cache CACHE --tracking-uri {UNREACHABLE}",
        "sizes": [],
    }
    if not args.quick and sizes:
        # Baseline for the idle figure: what a bare Textual app costs doing nothing.
        with PtyApp(bare_argv(), cols=200, rows=50, env=env, cwd=str(ROOT)) as bare:
            bare.first_frame(BARE_MARKER)
            wait_cpu_quiet(bare)
            results["bare_idle"] = idle_cost(bare, 30.0)
    for size in sizes:
        results["sizes"].append(bench_size(size, args, env, reps))
    if run_gpu:
        import gpu_bench

        results["gpu"] = gpu_bench.measure(
            args.workdir,
            env,
            sizes=[tuple(int(x) for x in g.split("x")) for g in gpu_reps["sizes"]],
            idle_s=gpu_reps["idle_s"],
            feed_s=gpu_reps["feed_s"],
        )
    if run_sync:
        import sync_bench

        results["sync"] = sync_bench.measure(
            args.workdir,
            sync_reps["runs"],
            env,
            experiments=args.experiments,
            repeats=sync_reps["repeats"],
            starts=sync_reps["starts"],
            # The app's starts above compiled its bytecode already.
            warm_app=not sizes and not run_gpu,
        )
    results["seconds"] = round(time.time() - started, 1)
    busy1 = cpu_busy()
    # Contention check: the whole machine's CPU use over the run (bench + app + anything
    # else running), and the load average before and after.
    results["machine"]["cpu_busy_percent_during_run"] = round(
        100 * (busy1[0] - busy0[0]) / max(1, busy1[1] - busy0[1]), 1
    )
    results["machine"]["loadavg_before"] = load0
    results["machine"]["loadavg_after"] = loadavg()
    if args.out:
        out = args.out
    elif args.toy:  # never beside the recorded results
        out = args.workdir / "results-toy.json"
    else:
        if args.quick:
            suffix = "-quick"
        elif only:
            suffix = "-" + "-".join(n for n, on in (("sync", args.sync), ("gpu", args.gpu)) if on)
        else:
            suffix = ""
        out = HERE / "results" / f"{dt.date.today().isoformat()}{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    parts = []
    if results["sizes"]:
        parts.append(table(results))
    if "sync" in results:
        parts.append(sync_table(results["sync"]))
    if "gpu" in results:
        from gpu_bench import gpu_table

        parts.append(gpu_table(results["gpu"]))
    report = "\n\n".join(parts)
    if "bare_idle" in results:
        b = results["bare_idle"]
        report += (
            f"\n\nbaseline: a bare Textual app idles at {b['cpu_percent']:.2f} % CPU and "
            f"{b['bytes_per_s']:.1f} B/s over {b['seconds']:.0f} s"
        )
    out.with_suffix(".md").write_text(report + "\n")
    m = results["machine"]
    print(
        f"\n{m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, Textual {m['textual']}, "
        f"SQLite {m['sqlite']}; {results['seconds']} s; machine CPU busy during the run "
        f"{m['cpu_busy_percent_during_run']} % (load {m['loadavg_before'][0]} -> "
        f"{m['loadavg_after'][0]}); results in {out}\n"
    )
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
