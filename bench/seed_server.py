"""Seed an MLflow tracking store with N synthetic runs, fast, and serve it with `mlflow server`.

    python bench/seed_server.py DIR [--runs 10000] [--experiments 5] [--serve]
    python bench/seed_server.py DIR --runs 200 --method client   # through MlflowClient.log_batch

MLflow's own code creates the database (schema and migrations) and the experiments; the runs
are then bulk-inserted with plain `executemany` straight into MLflow's tables (`runs`, `params`,
`latest_metrics`, `metrics`, `tags`): 10,000 runs take ~1 s instead of ~3 min through
`MlflowClient.log_batch` (~58 runs/s, FACTS.md). Before it returns, the store is read back
through `MlflowClient(sqlite:///...)`: the run count per experiment and the newest run of each
experiment, field by field, must equal what was written. A store whose seed record
(`seed.json`) and run count match the request is reused as it is.

Runs: names `bench-000000` .. `bench-<N-1>` in start-time order (so the newest is the highest
number, and a run on screen is recognisable), random 32-hex ids, start times one minute apart
ending an hour ago, durations 20 s to 10 h, 86 % FINISHED / 9 % FAILED / 5 % KILLED and the
newest 1 % RUNNING, 20 users, 3 params, 3 metrics (`loss`, `val_acc`, `m0` in [0, 1)) with a
5-step history, the tags MLflow's client sets (`mlflow.runName`, `mlflow.user`,
`mlflow.source.name`, `mlflow.source.type`) plus `team`, and 5 % nested runs
(`mlflow.parentRunId`). Runs are spread round-robin over the experiments.

`MlflowServerProcess` starts a real `mlflow server` over the same file the way the tests do
(tests/services.py): one uvicorn worker, no job runner, loopback, a free port, `/health` wait.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

NAME_PREFIX = "bench-"
FAMILIES = ["vision", "nlp", "tabular", "fraud", "llm-eval"]
STEPS = 5
MINUTE_MS = 60_000
FULL_READ_BACK = 20_000  # stores up to this size are read back whole through MlflowClient


def run_name(i: int) -> str:
    """The name of the i-th run (0 = the oldest)."""
    return f"{NAME_PREFIX}{i:06d}"


# ---------------------------------------------------------------------------- seeding


def _rows(n: int, exp_ids: list[str], artifact_root: Path, rng: random.Random):
    """Every row of every table for n runs, and the expected newest run per experiment."""
    now_ms = int(time.time() * 1000) - 3600_000
    users = [f"user{u:02d}" for u in range(20)]
    running_from = n - max(1, n // 100)
    runs, params, latest, history, tags = [], [], [], [], []
    newest: dict[str, dict] = {}
    parents: dict[str, str] = {}
    for i in range(n):
        exp = exp_ids[i % len(exp_ids)]
        family = FAMILIES[(i % len(exp_ids)) % len(FAMILIES)]
        run_id = f"{rng.getrandbits(128):032x}"
        start = now_ms - (n - i) * MINUTE_MS
        if i >= running_from:
            status, end = "RUNNING", None
        else:
            r = rng.random()
            status = "FINISHED" if r < 0.86 else "FAILED" if r < 0.95 else "KILLED"
            end = start + int(20_000 * (1800 ** rng.random()))  # 20 s .. 10 h, log-uniform
        user = users[rng.randrange(len(users))]
        source = f"train_{family}.py"
        art = (artifact_root / exp / run_id / "artifacts").as_uri()
        runs.append(
            (run_id, run_name(i), "LOCAL", source, "", user, status, start, end, "", "active",
             art, int(exp))
        )  # fmt: skip
        p = {
            "lr": rng.choice(["0.1", "0.01", "0.001", "0.0003"]),
            "batch_size": rng.choice(["32", "64", "128", "256"]),
            "optimizer": rng.choice(["sgd", "adam", "adamw"]),
        }
        final = {
            "loss": round(rng.uniform(0.05, 2.0), 6),
            "val_acc": round(rng.uniform(0.5, 0.99), 6),
            "m0": rng.random(),
        }
        t = {
            "mlflow.runName": run_name(i),
            "mlflow.user": user,
            "mlflow.source.name": source,
            "mlflow.source.type": "LOCAL",
            "team": family,
        }
        if parents.get(exp) and rng.random() < 0.05:
            t["mlflow.parentRunId"] = parents[exp]
        elif rng.random() < 0.1:
            parents[exp] = run_id
        params.extend((k, v, run_id) for k, v in p.items())
        tags.extend((k, v, run_id) for k, v in t.items())
        for key, value in final.items():
            for step in range(STEPS):
                frac = (step + 1) / STEPS
                v = value if step == STEPS - 1 else round(value * (2 - frac), 6)
                history.append((key, v, start + (step + 1) * 1000, run_id, step, 0))
            latest.append((key, value, start + STEPS * 1000, STEPS - 1, 0, run_id))
        newest[exp] = {
            "run_id": run_id,
            "name": run_name(i),
            "status": status,
            "start_time": start,
            "end_time": end,
            "user": user,
            "params": p,
            "metrics": final,
            "tags": t,
        }
    return runs, params, latest, history, tags, newest


def _create_store(db_path: Path, artifact_root: Path, experiments: int) -> list[str]:
    """A new MLflow database made by MLflow itself, with the experiments; returns their ids."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{db_path}")
    ids = []
    for e in range(experiments):
        name = f"bench-{FAMILIES[e % len(FAMILIES)]}" + (f"-{e}" if e >= len(FAMILIES) else "")
        location = (artifact_root / f"exp{e}").as_uri()
        ids.append(client.create_experiment(name, artifact_location=location, tags={"bench": "1"}))
    return ids


def _insert(db_path: Path, n: int, exp_ids: list[str], artifact_root: Path, seed: int) -> dict:
    rng = random.Random(seed)
    runs, params, latest, history, tags, newest = _rows(n, exp_ids, artifact_root, rng)
    conn = sqlite3.connect(db_path)
    try:
        conn.execute("PRAGMA synchronous = OFF")
        with conn:
            conn.executemany(
                """INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name,
                       user_id, status, start_time, end_time, source_version, lifecycle_stage,
                       artifact_uri, experiment_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                runs,
            )
            conn.executemany('INSERT INTO params ("key", value, run_uuid) VALUES (?,?,?)', params)
            conn.executemany(
                """INSERT INTO latest_metrics ("key", value, timestamp, step, is_nan, run_uuid)
                   VALUES (?,?,?,?,?,?)""",
                latest,
            )
            conn.executemany(
                """INSERT INTO metrics ("key", value, timestamp, run_uuid, step, is_nan)
                   VALUES (?,?,?,?,?,?)""",
                history,
            )
            conn.executemany('INSERT INTO tags ("key", value, run_uuid) VALUES (?,?,?)', tags)
            last = max(r[7] for r in runs)
            conn.execute(
                "UPDATE experiments SET last_update_time = ? WHERE experiment_id > 0", (last,)
            )
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return newest


def _insert_client(db_path: Path, n: int, exp_ids: list[str], artifact_root: Path, seed: int):
    """The slow, official way (for comparing rates): create_run + log_batch + set_terminated."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(f"sqlite:///{db_path}")
    rng = random.Random(seed)
    runs, params, latest, history, tags, newest = _rows(n, exp_ids, artifact_root, rng)
    by_run: dict[str, dict] = {}
    for k, v, rid in params:
        by_run.setdefault(rid, {"p": [], "m": [], "t": []})["p"].append(Param(k, v))
    for k, v, ts, rid, step, _nan in history:
        by_run[rid]["m"].append(Metric(k, v, ts, step))
    for k, v, rid in tags:
        if k != "mlflow.runName":
            by_run[rid]["t"].append(RunTag(k, v))
    real_ids = {}
    for row in runs:
        rid, name, exp, start, end, status = row[0], row[1], row[12], row[7], row[8], row[6]
        run = client.create_run(str(exp), start_time=start, run_name=name)
        real_ids[rid] = run.info.run_id
        b = by_run[rid]
        client.log_batch(real_ids[rid], metrics=b["m"], params=b["p"], tags=b["t"])
        if status != "RUNNING":
            client.set_terminated(real_ids[rid], status, end_time=end)
    # MLflow picks the run ids itself here.
    return {exp: {**want, "run_id": real_ids[want["run_id"]]} for exp, want in newest.items()}


def _verify(backend_uri: str, n: int, exp_ids: list[str], newest: dict[str, dict]) -> dict:
    """Read the store back through MLflow's own client: counts and the newest run of each
    experiment must be what was written."""
    from mlflow import MlflowClient

    client = MlflowClient(backend_uri)
    total = 0
    for exp in exp_ids:
        if n > FULL_READ_BACK:  # counted in SQL below; MLflow reads ~1,400 runs/s here
            continue
        token = None
        while True:
            page = client.search_runs([exp], max_results=50_000, page_token=token)
            total += len(page)
            token = page.token
            if not token:
                break
    if n > FULL_READ_BACK:
        total = count_runs(Path(backend_uri.removeprefix("sqlite:///"))) or 0
    for exp in exp_ids:
        want = newest.get(exp)
        if want is None:
            continue
        (got,) = client.search_runs([exp], max_results=1, order_by=["attributes.start_time DESC"])
        problems = []
        checks = {
            "name": (got.info.run_name, want["name"]),
            "status": (got.info.status, want["status"]),
            "start_time": (got.info.start_time, want["start_time"]),
            "end_time": (got.info.end_time, want["end_time"]),
            "params": (dict(got.data.params), want["params"]),
            "metrics": (dict(got.data.metrics), want["metrics"]),
            "tags": ({k: got.data.tags.get(k) for k in want["tags"]}, want["tags"]),
        }
        if want["run_id"] and len(want["run_id"]) == 32:
            checks["run_id"] = (got.info.run_id, want["run_id"])
        for field, (a, b) in checks.items():
            if a != b:
                problems.append(f"{field}: MLflow read {a!r}, seeded {b!r}")
        if problems:
            raise SystemExit(f"seeded store does not read back (experiment {exp}): {problems}")
    if total != n:
        raise SystemExit(f"seeded {n} runs but MLflow reads back {total}")
    return {
        "runs_read_back": total,
        "read_back": "MlflowClient" if n <= FULL_READ_BACK else "SQL count",
        "newest_checked": len(newest),
    }


def count_runs(db_path: Path) -> int | None:
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        return conn.execute("SELECT count(*) FROM runs").fetchone()[0]
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def ensure_store(
    directory: Path, runs: int, experiments: int = 5, *, method: str = "sql", seed: int = 1
) -> dict:
    """A seeded store in `directory` (mlflow.db, artifacts/, seed.json): reused when its record
    and run count match, else made anew. Returns the seed record."""
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    db_path = directory / "mlflow.db"
    meta = directory / "seed.json"
    if db_path.exists() and meta.exists():
        record = json.loads(meta.read_text())
        if (
            record.get("runs") == runs
            and record.get("experiments") == experiments
            and count_runs(db_path) == runs
        ):
            return {**record, "reused": True}
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    meta.unlink(missing_ok=True)
    artifact_root = directory / "artifacts"
    artifact_root.mkdir(exist_ok=True)
    print(f"seeding an MLflow store with {runs:,} runs in {db_path} ({method}) ...", flush=True)
    t0 = time.perf_counter()
    exp_ids = _create_store(db_path, artifact_root, experiments)
    t_schema = time.perf_counter()
    insert = _insert if method == "sql" else _insert_client
    newest = insert(db_path, runs, exp_ids, artifact_root, seed)
    t_insert = time.perf_counter()
    checked = _verify(f"sqlite:///{db_path}", runs, exp_ids, newest)
    t_end = time.perf_counter()
    import mlflow

    record = {
        "runs": runs,
        "experiments": experiments,
        "experiment_ids": exp_ids,
        "method": method,
        "path": str(db_path),
        "backend_uri": f"sqlite:///{db_path}",
        "mlflow": mlflow.__version__,
        "schema_s": round(t_schema - t0, 2),
        "insert_s": round(t_insert - t_schema, 2),
        "runs_per_s": round(runs / max(t_insert - t_schema, 1e-9), 1),
        "verify_s": round(t_end - t_insert, 2),
        "seconds": round(t_end - t0, 2),
        "file_bytes": db_path.stat().st_size,
        **checked,
    }
    meta.write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"  {runs:,} runs in {record['seconds']} s (schema {record['schema_s']} s, insert "
        f"{record['insert_s']} s = {record['runs_per_s']:,.0f} runs/s, read back "
        f"{record['verify_s']} s), {record['file_bytes'] / 1e6:.1f} MB",
        flush=True,
    )
    return {**record, "reused": False}


# ---------------------------------------------------------------------------- serving


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MlflowServerProcess:
    """`mlflow server` over a store directory, as tests/services.py starts it: one uvicorn
    worker, no job runner, 127.0.0.1 on a free port, its own process group (stopped as one)."""

    def __init__(self, directory: Path, timeout: float = 60.0) -> None:
        self.dir = Path(directory).resolve()
        self.db_path = self.dir / "mlflow.db"
        self.log_path = self.dir / "server.log"
        self.timeout = timeout
        self.port = 0
        self.startup_s: float | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=1.0) as resp:
                return resp.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def start(self) -> MlflowServerProcess:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
        }
        env.update(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", PYTHONUNBUFFERED="1")
        (self.dir / "artifacts").mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):  # a free port can be taken between probing and binding
            self.port = free_port()
            cmd = [
                sys.executable, "-m", "mlflow", "server",
                "--backend-store-uri", f"sqlite:///{self.db_path}",
                "--default-artifact-root", str(self.dir / "artifacts"),
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            ]  # fmt: skip
            t0 = time.perf_counter()
            with self.log_path.open("ab") as log:
                log.write(
                    f"\n=== start {time.strftime('%H:%M:%S')} port {self.port} ===\n".encode()
                )
                log.flush()
                self.proc = subprocess.Popen(
                    cmd,
                    cwd=self.dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            deadline = t0 + self.timeout
            while time.perf_counter() < deadline and self.proc.poll() is None:
                if self.healthy():
                    self.startup_s = time.perf_counter() - t0
                    return self
                time.sleep(0.1)
            tail = self.log_path.read_text(errors="replace")[-3000:]
            self.stop()
            if "address already in use" not in tail.lower():
                raise SystemExit(f"mlflow server did not become healthy; log ends with:\n{tail}")
        raise SystemExit("mlflow server: no free port after 3 attempts")

    def pids(self) -> list[int]:
        """The server and its descendants (uvicorn)."""
        if self.proc is None:
            return []
        out, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            with contextlib.suppress(OSError):
                for tid in os.listdir(f"/proc/{pid}/task"):
                    with open(f"/proc/{pid}/task/{tid}/children") as f:
                        todo.extend(int(p) for p in f.read().split())
        return out

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server's processes."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)

    def __enter__(self) -> MlflowServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir", type=Path, help="store directory (mlflow.db, artifacts/, seed.json)")
    p.add_argument("--runs", type=int, default=10_000)
    p.add_argument("--experiments", type=int, default=5)
    p.add_argument("--method", choices=["sql", "client"], default="sql")
    p.add_argument("--serve", action="store_true", help="then serve it until Ctrl-C")
    args = p.parse_args(argv)
    record = ensure_store(args.dir, args.runs, args.experiments, method=args.method)
    if record.get("reused"):
        print(f"reusing {record['path']} ({record['runs']:,} runs)")
    if args.serve:
        with MlflowServerProcess(args.dir) as server:
            print(f"serving at {server.url} (healthy in {server.startup_s:.1f} s); Ctrl-C stops")
            with contextlib.suppress(KeyboardInterrupt):
                while server.proc and server.proc.poll() is None:
                    time.sleep(1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
