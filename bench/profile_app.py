"""Profile mlopstui with py-spy while the pty harness drives one scenario; print where the UI
thread's time went.

    python bench/profile_app.py CACHE --scenario startup|keys|type|filter|sort|metric-sort \
        [--view experiment|all] [--rate 250] [--out profile.json]

Needs `pip install py-spy` in the venv. py-spy samples without pausing the app
(--nonblocking), idle samples included, so the timeline of `startup` is in real time; its
overhead still slows the app somewhat, so read shares, not absolute times. The speedscope
file can be opened at https://www.speedscope.app for the full picture.
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ptyharness import KEYS, PtyApp  # noqa: E402
from run_bench import (  # noqa: E402
    APP_MARKER,
    FILTER_EXPR,
    ROOT,
    app_argv,
    child_env,
    quiesce,
    reset_cache,
    select_view,
    view_plan,
    wait_cpu_quiet,
)

IDLE = {"EpollSelector.select", "Thread._wait_for_tstate_lock", "select", "poll", "wait"}
SKIP = ("asyncio/", "threading.py", "_bootstrap", "selectors.py")
ANCHORS = {
    "MessagePump._dispatch_message",
    "MessagePump._process_messages_loop",
    "App._process_messages",
    "MessagePump._on_message",
    "_invoke",
    "invoke",
}


def _drive(app: PtyApp, scenario: str, plan: dict) -> tuple[float, float]:
    """Run the scenario; returns the (start, end) perf_counter window to report on."""
    if scenario == "startup":
        app.first_frame(APP_MARKER)
        time.sleep(1.0)
        return app.t_exec, time.perf_counter()
    app.first_frame(APP_MARKER)
    wait_cpu_quiet(app)
    print(f"view: {select_view(app, plan['view'])}")
    t0 = time.perf_counter()
    if scenario == "keys":
        for key in ("down", "pagedown", "end", "home") * 10:
            app.press(KEYS[key])
    elif scenario == "type":
        app.press("/")
        for _ in range(10):
            for ch in "fox":
                app.press(ch)
            for _ in "fox":
                app.press(KEYS["backspace"])
    elif scenario == "filter":
        app.press("/")
        for ch in FILTER_EXPR[:-1]:
            app.press(ch, settle=0.03)
        for _ in range(10):
            app.press(FILTER_EXPR[-1])
            quiesce(app)
            app.press(KEYS["backspace"])
            quiesce(app)
    elif scenario == "sort":
        for _ in range(20):
            app.press("r")
    elif scenario == "metric-sort":
        if not plan["sort_metric"]:
            raise SystemExit("this view has no metric column to sort by")
        app.press("s")
        app.settle(0.2)
        for _ in range(plan["picker_downs"]):
            app.press(KEYS["down"])
        app.press(KEYS["enter"], timeout=10)
        for _ in range(10):
            app.press("r", timeout=10)
    return t0, time.perf_counter()


def _name(frame: dict, with_line: bool = True) -> str:
    path = frame.get("file", "").split("site-packages/")[-1].split("src/")[-1]
    line = f":{frame.get('line')}" if with_line else ""
    return f"{frame['name']} ({path}{line})"


def report(profile_path: Path, t_from: float, t_to: float, timeline: bool) -> None:
    """Inclusive and self shares on the main thread in [t_from, t_to] seconds of the profile."""
    data = json.loads(profile_path.read_text())
    frames = data["shared"]["frames"]
    main = data["profiles"][0]
    t, busy, total = 0.0, [], 0
    buckets: dict[int, list] = collections.defaultdict(list)
    for stack, weight in zip(main["samples"], main["weights"], strict=True):
        t += weight
        if not t_from <= t <= t_to:
            continue
        total += 1
        if stack and frames[stack[-1]]["name"] not in IDLE:
            busy.append(stack)
            buckets[int((t - t_from) / 0.02)].append(stack)
    print(f"main thread: {len(busy)} busy samples of {total} in {t_to - t_from:.2f} s")
    inclusive, own = collections.Counter(), collections.Counter()
    for stack in busy:
        for key in {_name(frames[i], False) for i in stack}:
            inclusive[key] += 1
        own[_name(frames[stack[-1]])] += 1
    n = max(1, len(busy))
    print("\ninclusive (share of busy samples):")
    for key, v in inclusive.most_common(40):
        print(f"  {100 * v / n:5.1f}%  {key}")
    print("\nself:")
    for key, v in own.most_common(15):
        print(f"  {100 * v / n:5.1f}%  {key}")
    if timeline:
        print("\ntimeline (20 ms buckets from exec; what the UI thread was doing):")
        for b in sorted(buckets):
            c = collections.Counter()
            for stack in buckets[b]:
                names = [i for i in stack if not any(k in frames[i].get("file", "") for k in SKIP)]
                anchor = max(
                    (j + 1 for j, i in enumerate(names) if frames[i]["name"] in ANCHORS),
                    default=0,
                )
                c[" > ".join(_name(frames[i]) for i in names[anchor : anchor + 3])] += 1
            top = " || ".join(f"{k} x{v}" for k, v in c.most_common(2))
            print(f"  {b * 20:5d} ms  {len(buckets[b])}: {top}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("cache", type=Path)
    p.add_argument(
        "--scenario",
        default="startup",
        choices=("startup", "keys", "type", "filter", "sort", "metric-sort"),
    )
    p.add_argument("--view", default="experiment", choices=("experiment", "all"))
    p.add_argument("--rate", type=int, default=250, help="samples per second")
    p.add_argument("--out", type=Path, help="keep the speedscope profile here")
    p.add_argument("--cols", type=int, default=200)
    p.add_argument("--rows", type=int, default=50)
    args = p.parse_args(argv)
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if not spy:
        raise SystemExit("py-spy not found: pip install py-spy")
    work = Path(tempfile.mkdtemp(prefix="mlopstui-profile-"))
    out = args.out or work / "profile.json"
    env = child_env(work)
    reset_cache(args.cache)
    plan = {"view": args.view, **view_plan(args.cache, args.view)}
    cmd = [spy, "record", "-r", str(args.rate), "--nonblocking", "--idle", "-f", "speedscope"]
    cmd += ["-o", str(out), "--", *app_argv(args.cache)]
    app = PtyApp(cmd, cols=args.cols, rows=args.rows, env=env, cwd=str(ROOT))
    try:
        t0, t1 = _drive(app, args.scenario, plan)
    finally:
        app.close()
    for _ in range(50):  # py-spy writes the file when the app has exited
        if out.exists() and out.stat().st_size:
            break
        time.sleep(0.1)
    report(out, t0 - app.t_exec, t1 - app.t_exec, timeline=args.scenario == "startup")
    print(f"\nprofile: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
