"""What the GPU nodes pane writes to the terminal at 1 Hz with 8 local GPUs, in a real pty.

    python bench/gpu_bench.py [--feed 60] [--idle 30] [--sizes 200x50,80x24] [--workdir DIR]

The budget (DESIGN.md): 8 GPUs refreshing at 1 Hz cost <= 1.5 KB/s when every value changes,
0 B/s when none does. The app runs as bench/gpu_feed_app.py (the real `mlopstui` with the NVML
adapter swapped for eight synthetic A100s; the real NVML job, writer, scheduler announcements
and pane), on a fresh cache holding those eight GPUs, with Kubernetes off, no Prometheus and
the MLflow server unreachable (http://127.0.0.1:9). Per terminal size, one app:

1. start, wait until it settles, press `3` (the GPU nodes pane; timed and counted), settle;
2. **idle**: the NVML job does nothing (mode `off`) for `--idle` seconds: bytes/s and CPU;
3. **every value changes**: each 1 s poll changes utilisation, memory, temperature and power
   of all 8 GPUs; after the first repaint, bytes/s and CPU over `--feed` seconds, and the
   repaints (bursts of output) with their bytes;
4. **no value changes**: each poll stores the same values again (the last ones shown); after
   the first poll, bytes/s and CPU over `--feed` seconds.

Reading the pty is the bench's reader thread's (ptyharness); CPU is the app's utime+stime.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "src"))

from gpu_feed_app import GPUS, HOST, bench_samples  # noqa: E402
from ptyharness import APP_MARKER, UNREACHABLE, PtyApp, wait_cpu_quiet  # noqa: E402

PANE_MARKER = rf"Local GPUs {HOST}"
BYTES_BUDGET = 1500.0  # 1.5 KB/s, every value changing
GPU_ROW = re.compile(r"\b([0-7]) +A100")
GAP = 0.25  # seconds of quiet that end one repaint (a burst of output)
CONFIG = """# benchmark: the GPU pane fed by bench/gpu_feed_app.py's synthetic NVML
[gpu]
nvml = true
nvml_interval = 1.0

[kubernetes]
enabled = false
"""


def seed(cache: Path) -> None:
    """A fresh cache: 8 local GPUs (one poll, as NvmlSync stores it, at step 0), no NVML note,
    one successful NVML poll and one MLflow sync recorded just now."""
    from mlopstui.cache import db, syncs
    from mlopstui.cache import gpus as gpu_store
    from mlopstui.domain import SyncRecord

    for suffix in ("", "-wal", "-shm"):
        Path(str(cache) + suffix).unlink(missing_ok=True)
    writer = db.Writer(db.open_writer(cache))
    try:
        now = time.time()
        with writer.transaction() as conn:
            gpu_store.store_samples(conn, "nvml", bench_samples(int(now) - 1, 0))
            gpu_store.set_note(conn, "nvml", None)
            syncs.record_sync(conn, SyncRecord("nvml", "gpus", now - 1, now, True, None, GPUS))
            syncs.record_sync(conn, SyncRecord("mlflow", "runs", now - 2, now, True, None, 0))
    finally:
        writer.close()


def set_mode(control: Path, mode: str) -> None:
    tmp = control.with_suffix(".tmp")
    tmp.write_text(mode + "\n")
    os.replace(tmp, control)  # a new inode: the app re-reads it at its next poll


def bursts(app: PtyApp, t0: float, t1: float, gap: float = GAP) -> list[dict]:
    """The output in [t0, t1) cut into repaints: runs of chunks with under `gap` s between."""
    with app._cond:  # noqa: SLF001 - the harness's own lock around its chunk list
        chunks = [c for c in app.chunks if t0 <= c.t < t1]
    out: list[dict] = []
    for c in chunks:
        if out and c.t - out[-1]["end"] < gap:
            out[-1]["end"] = c.t
            out[-1]["bytes"] += len(c.data)
        else:
            out.append({"start": c.t, "end": c.t, "bytes": len(c.data)})
    return out


def window(app: PtyApp, seconds: float) -> dict:
    """Bytes and CPU over `seconds` from now, and the repaints in it."""
    t0, c0 = time.perf_counter(), app.cpu_seconds()
    time.sleep(seconds)
    t1, c1 = time.perf_counter(), app.cpu_seconds()
    written = app.bytes_between(t0, t1)
    paints = bursts(app, t0, t1)
    sizes = [p["bytes"] for p in paints]
    return {
        "seconds": round(t1 - t0, 2),
        "bytes": written,
        "bytes_per_s": written / (t1 - t0),
        "cpu_percent": 100 * (c1 - c0) / (t1 - t0),
        "repaints": len(paints),
        "bytes_per_repaint_median": statistics.median(sizes) if sizes else 0,
        "bytes_per_repaint_max": max(sizes) if sizes else 0,
        "repaint_bytes": sizes,
    }


def session(cache: Path, env: dict, cols: int, rows: int, idle_s: float, feed_s: float) -> dict:
    """One app at one size: idle, every value changing, none changing (see the module doc)."""
    control = cache.with_suffix(".mode")
    set_mode(control, "off")
    seed(cache)
    env = {**env, "BENCH_GPU_CONTROL": str(control)}
    argv = [sys.executable, str(HERE / "gpu_feed_app.py"), "--cache", str(cache),
            "--tracking-uri", UNREACHABLE]  # fmt: skip
    out: dict = {"size": f"{cols}x{rows}"}
    with PtyApp(argv, cols=cols, rows=rows, env=env, cwd=str(ROOT)) as app:
        frame = app.first_frame(APP_MARKER)
        if frame is None:
            raise SystemExit(f"gpu bench: the app did not start: {app.text()[-800:]!r}")
        out["first_frame_s"] = frame[0]
        out["settle_s"] = wait_cpu_quiet(app)
        t = app.send("3")
        seen = app.wait_for(PANE_MARKER, timeout=10, since=t)
        if seen is None:
            raise SystemExit(f"gpu bench: no local GPUs on pane 3: {app.text(t)[-800:]!r}")
        done = app.wait_idle(0.3, since=t)
        out["switch"] = {
            "pane_shown_ms": 1000 * (seen - t),
            "repainted_ms": 1000 * ((done or seen) - t),
            "bytes": app.bytes_between(t, (done or seen) + 1e-9),
            # GPU indexes 0-7 seen in rows of the local table (all eight should be).
            "gpu_rows_seen": len(set(GPU_ROW.findall(app.text(t)))),
        }
        wait_cpu_quiet(app)
        out["idle"] = window(app, idle_s) if idle_s else None
        # Every value changes each second: measure after the first repaint has ended.
        t = time.perf_counter()
        set_mode(control, "change")
        first = app.first_byte_after(t, timeout=5)
        if first is None:
            raise SystemExit("gpu bench: changing values reached no repaint in 5 s")
        out["change_first_repaint_after_switch_s"] = first - t
        app.wait_idle(0.3, since=first)
        out["change"] = window(app, feed_s)
        # The same values each second (the last ones shown): after one poll, nothing is new.
        t = time.perf_counter()
        set_mode(control, "same")
        time.sleep(1.2)  # the poll that picks the mode up, and its repaint if any
        app.settle(0.3)
        out["same"] = window(app, feed_s)
        out["rss_kb"] = app.rss_kb()
        out["cpu_total_s"] = app.cpu_seconds()
        set_mode(control, "off")
        app.close()
    return out


def measure(
    workdir: Path,
    env: dict,
    *,
    sizes: list[tuple[int, int]] | None = None,
    idle_s: float = 30.0,
    feed_s: float = 60.0,
) -> dict:
    """The GPU section of run_bench: one session per terminal size."""
    sizes = sizes or [(200, 50), (80, 24)]
    config = workdir / "gpu-config.toml"
    config.write_text(CONFIG)
    env = {**env, "MLOPSTUI_CONFIG": str(config)}
    cache = workdir / "gpu-cache.sqlite"
    result: dict = {
        "gpus": GPUS,
        "interval_s": 1.0,
        "idle_s": idle_s,
        "feed_s": feed_s,
        "budget_bytes_per_s_change": BYTES_BUDGET,
        "budget_bytes_per_s_same": 0,
        "sessions": {},
    }
    print("\n== GPU pane, 8 local GPUs at 1 Hz", flush=True)
    for cols, rows in sizes:
        s = session(cache, env, cols, rows, idle_s, feed_s)
        result["sessions"][s["size"]] = s
        idle = s["idle"] or {}
        print(
            f"  {s['size']}: every value changes {s['change']['bytes_per_s']:,.0f} B/s "
            f"({s['change']['repaints']} repaints, median {s['change']['bytes_per_repaint_median']:,.0f} B), "
            f"none changes {s['same']['bytes_per_s']:,.1f} B/s, idle "
            f"{idle.get('bytes_per_s', float('nan')):,.1f} B/s; CPU "
            f"{s['change']['cpu_percent']:.2f} / {s['same']['cpu_percent']:.2f} / "
            f"{idle.get('cpu_percent', float('nan')):.2f} %",
            flush=True,
        )  # fmt: skip
    return result


def gpu_table(gpu: dict) -> str:
    """The GPU pane's figures: one column per terminal size, each next to its budget."""
    names = list(gpu["sessions"])
    rows: list[list[str]] = []

    def add(label, get, budget_text="", limit=None, fmt="{:,.0f}", unit=""):
        cells = []
        for name in names:
            try:
                v = get(gpu["sessions"][name])
            except (KeyError, TypeError):
                v = None
            if v is None:
                cells.append("n/a")
                continue
            cell = (fmt.format(v) + f" {unit}").strip()
            if limit is not None:
                cell += " ok" if v <= limit else " **MISS**"
            cells.append(cell)
        rows.append([label, *cells, budget_text])

    feed = f"{gpu['feed_s']:.0f} s"
    add(
        f"GPU pane, 8 GPUs at 1 Hz, every value changes ({feed})",
        lambda s: s["change"]["bytes_per_s"],
        "<= 1.5 KB/s",
        BYTES_BUDGET,
        unit="B/s",
    )
    add("  repaints in the window", lambda s: s["change"]["repaints"])
    rows.append(
        [
            "  bytes per repaint, median / max",
            *(
                f"{c['bytes_per_repaint_median']:,.0f} / {c['bytes_per_repaint_max']:,.0f} B"
                for c in (gpu["sessions"][n]["change"] for n in names)
            ),
            "",
        ]
    )
    add("  CPU (% of one core)", lambda s: s["change"]["cpu_percent"], fmt="{:.2f}", unit="%")
    add(
        f"GPU pane, 8 GPUs at 1 Hz, no value changes ({feed})",
        lambda s: s["same"]["bytes_per_s"],
        "0 B/s",
        0,
        fmt="{:,.1f}",
        unit="B/s",
    )
    add("  CPU (% of one core)", lambda s: s["same"]["cpu_percent"], fmt="{:.2f}", unit="%")
    add(
        f"GPU pane shown, nothing polling ({gpu['idle_s']:.0f} s)",
        lambda s: s["idle"]["bytes_per_s"],
        "0 B/s",
        0,
        fmt="{:,.1f}",
        unit="B/s",
    )
    add(
        "  CPU (% of one core)",
        lambda s: s["idle"]["cpu_percent"],
        "<= 0.2 %",
        0.2,
        fmt="{:.2f}",
        unit="%",
    )
    add("switch to the pane (`3`): repainted", lambda s: s["switch"]["repainted_ms"], unit="ms")
    add("  bytes written", lambda s: s["switch"]["bytes"], unit="B")
    add("  RSS at the end", lambda s: s["rss_kb"] / 1024, fmt="{:.0f}", unit="MB")
    head = ["figure", *names, "budget"]
    return "\n".join(
        [
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
            *("| " + " | ".join(r) + " |" for r in rows),
        ]
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--feed", type=float, default=60.0, help="seconds per fed window")
    p.add_argument("--idle", type=float, default=30.0, help="seconds of the idle window")
    p.add_argument("--sizes", default="200x50,80x24")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/mlopstui-bench"))
    p.add_argument("--out", type=Path, help="write the JSON here")
    args = p.parse_args(argv)
    from run_bench import child_env

    args.workdir.mkdir(parents=True, exist_ok=True, mode=0o700)
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",") if s.strip()]
    gpu = measure(
        args.workdir, child_env(args.workdir), sizes=sizes, idle_s=args.idle, feed_s=args.feed
    )
    if args.out:
        args.out.write_text(json.dumps(gpu, indent=2) + "\n")
    print()
    print(gpu_table(gpu))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
