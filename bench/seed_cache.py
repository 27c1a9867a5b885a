"""Build an mlopstui cache holding N synthetic but realistic MLflow runs, fast.

    python bench/seed_cache.py PATH --runs 1000000 [--experiments 5]

The file is opened with `mlopstui.cache.db.open_writer`, so its schema, migrations, pragmas and
permissions are the real ones; the rows then go in with plain `executemany` in large
transactions straight into runs/params/metrics/tags/runs_fts/run_keys/experiments (the
per-run upsert the sync uses is ~20x slower). Each run gets 3 params, 3 metrics (`m0` uniform
in [0, 1) so `metrics.m0 > 0.5` keeps half, plus two per experiment family) and 3 tags
(`mlflow.user`, `mlflow.source.name`, `team`; nested runs also `mlflow.parentRunId`).

Speed knobs (defaults are the fastest measured; see bench/README.md):
  --synchronous off|normal   PRAGMA synchronous during the load (the file is a throwaway)
  --indexes rebuild|keep     drop the secondary indexes during the load and recreate them
  --journal wal|off          keep WAL during the load, or load without a journal
The result always ends in WAL mode with exactly the indexes the migration creates (checked
against a fresh cache made by open_writer), a recent successful sync record and ANALYZE.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from mlopstui.cache import db, syncs  # noqa: E402
from mlopstui.cache import runs as run_store  # noqa: E402
from mlopstui.domain import SyncRecord  # noqa: E402

DAY_MS = 86_400_000


def _words(text: str) -> list[str]:
    return text.split()


ADJECTIVES = _words(
    "amazing angry brave bright calm clever crisp dapper eager fancy gentle glamorous "
    "handsome honest jolly kindly lively lucky melodic mysterious nimble polite proud quick "
    "rare resilient rogue sedate shiny silent sincere skillful smiling spiffy stately sunny "
    "thoughtful traveling unique upbeat valuable vibrant victorious wise youthful zealous"
)
NOUNS = _words(
    "ant ape bass bat bear bee bird boar calf carp cat chimp cod colt crab crane croc cub "
    "deer doe dog dove duck eel elk finch fish flea fly foal fowl fox frog gnat goat goose "
    "grouse gull hare hawk hen hog horse hound jay kit koi lamb lark loon lynx mare mink "
    "mole moose mouse mule newt owl ox panda perch pig pony ram rat robin roo seal shark "
    "sheep shoe shrew skink sloth slug snail snake sow squid stag steed stoat swan tern "
    "toad trout turtle vole wasp whale wolf worm wren yak zebra"
)
USERS = [
    f"{u}@example.com"
    for u in _words(
        "alice bob carol dan erin frank grace heidi ivan judy mallory niaj olivia peggy "
        "rupert sybil trent victor walter yuki"
    )
]
# (experiment name, team, sources, params {key: values}, two metrics (key, low, high))
FAMILIES = [
    (
        "resnet50-imagenet",
        "vision",
        ["train.py", "train_distributed.py", "notebooks/sweep.ipynb"],
        {
            "lr": ["0.1", "0.05", "0.01", "0.005", "0.001", "0.0005", "0.0001"],
            "batch_size": ["32", "64", "128", "256", "512"],
            "optimizer": ["sgd", "adam", "adamw", "lamb"],
        },
        [("val_acc", 0.55, 0.82), ("val_loss", 0.6, 2.4)],
    ),
    (
        "bert-finetune-sst2",
        "nlp",
        ["finetune.py", "notebooks/bert_explore.ipynb"],
        {
            "lr": ["5e-05", "3e-05", "2e-05", "1e-05"],
            "max_seq_len": ["64", "128", "256", "512"],
            "warmup_steps": ["0", "100", "500", "1000"],
        },
        [("eval_f1", 0.80, 0.95), ("eval_loss", 0.15, 0.7)],
    ),
    (
        "churn-xgboost",
        "growth",
        ["pipelines/churn/train.py", "notebooks/churn.ipynb"],
        {
            "max_depth": ["3", "4", "6", "8", "10", "12"],
            "n_estimators": ["100", "200", "500", "1000", "2000"],
            "learning_rate": ["0.3", "0.1", "0.05", "0.01"],
        },
        [("auc", 0.70, 0.93), ("logloss", 0.2, 0.6)],
    ),
    (
        "fraud-detection-lgbm",
        "risk",
        ["fraud/train.py", "fraud/retrain_nightly.py"],
        {
            "num_leaves": ["15", "31", "63", "127", "255"],
            "min_child_samples": ["5", "10", "20", "50", "100"],
            "feature_fraction": ["0.6", "0.7", "0.8", "0.9", "1.0"],
        },
        [("pr_auc", 0.35, 0.78), ("recall_at_1pct", 0.2, 0.65)],
    ),
    (
        "llm-eval-harness",
        "genai",
        ["eval/run_eval.py", "eval/batch_eval.py", "notebooks/eval_report.ipynb"],
        {
            "model": ["llama-3-8b", "mistral-7b", "qwen2-7b", "phi-3-mini", "gemma-2-9b"],
            "temperature": ["0.0", "0.2", "0.7", "1.0"],
            "num_fewshot": ["0", "1", "5", "10"],
        },
        [("exact_match", 0.2, 0.8), ("latency_p95_ms", 150.0, 2500.0)],
    ),
]
RUNNING_TAIL = 200  # at most; the newest runs are RUNNING, like a real server


def _family(index: int) -> tuple:
    base = FAMILIES[index % len(FAMILIES)]
    if index < len(FAMILIES):
        return base
    return (f"{base[0]}-v{index // len(FAMILIES) + 1}", *base[1:])


def _experiments(n: int, now_ms: int, span_ms: int) -> list[tuple]:
    rows = []
    for i in range(n):
        fam = _family(i)
        exp_id = str(100 + i)
        created = now_ms - span_ms - DAY_MS * (i + 1)
        rows.append(
            (
                exp_id,
                fam[0],
                "active",
                f"mlflow-artifacts:/{exp_id}",
                created,
                created + DAY_MS,
                '{"mlflow.note.content": "synthetic benchmark data"}',
            )
        )
    return rows


def generate(
    start: int, stop: int, total: int, n_exp: int, now_ms: int, span_ms: int, rng: random.Random
) -> tuple[list, list, list, list, list]:
    """Rows for runs with ids start+1..stop (runs, params, metrics, tags, fts)."""
    runs, params, metrics, tags, fts = [], [], [], [], []
    t0 = now_ms - span_ms
    step_ms = span_ms / max(1, total)
    rnd, choice, getrandbits = rng.random, rng.choice, rng.getrandbits
    fams = [_family(i) for i in range(n_exp)]
    param_items = [list(f[3].items()) for f in fams]
    for i in range(start, stop):
        rid = i + 1
        e = i % n_exp
        fam = fams[e]
        exp_id = str(100 + e)
        run_id = f"{getrandbits(128):032x}"
        name = f"{choice(ADJECTIVES)}-{choice(NOUNS)}-{int(rnd() * 1000)}"
        start_time = int(t0 + i * step_ms + rnd() * step_ms)
        user = choice(USERS)
        source = choice(fam[2])
        if i >= total - min(RUNNING_TAIL, total // 100):
            status, end_time, duration = "RUNNING", None, None
        else:
            r = rnd()
            status = "FINISHED" if r < 0.86 else "FAILED" if r < 0.95 else "KILLED"
            # Log-uniform between ~20 s and ~10 h.
            duration = int(20_000 * (1800.0 ** rnd()))
            if status != "FINISHED":
                duration = duration // 3 + 1
            end_time = start_time + duration
        parent = None
        if len(runs) >= n_exp and rnd() < 0.05 and runs[-n_exp][12] is None:
            parent = runs[-n_exp][1]  # the previous run of the same experiment
        runs.append(
            (
                rid,
                run_id,
                exp_id,
                name,
                status,
                start_time,
                end_time,
                duration,
                user,
                source,
                "active",
                f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts",
                parent,
                now_ms / 1000.0,
            )
        )
        for key, values in param_items[e]:
            params.append((rid, key, choice(values)))
        stamp = end_time or start_time
        steps = int(rnd() * 100)
        m0 = rnd()
        (k1, lo1, hi1), (k2, lo2, hi2) = fam[4]
        v1, v2 = lo1 + (hi1 - lo1) * rnd(), lo2 + (hi2 - lo2) * rnd()
        metrics.append((rid, "m0", m0, steps, stamp, None, None))
        metrics.append((rid, k1, v1, steps, stamp, None, None))
        metrics.append((rid, k2, v2, steps, stamp, None, None))
        run_tags = [("mlflow.user", user), ("mlflow.source.name", source), ("team", fam[1])]
        if parent:
            run_tags.append(("mlflow.parentRunId", parent))
        tags.extend((rid, k, v) for k, v in run_tags)
        fts.append((rid, " ".join([name, *(f"{k}={v}" for k, v in run_tags)])))
    return runs, params, metrics, tags, fts


def _secondary_indexes(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(name, sql) of every explicitly created index (autoindexes have no sql)."""
    return conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name"
    ).fetchall()


def _schema(conn: sqlite3.Connection) -> set[tuple]:
    return set(
        conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_stat%' AND name NOT LIKE 'runs_fts_%'"
        )
    ) | set(
        conn.execute("SELECT 'fts', name, '', '' FROM sqlite_master WHERE name LIKE 'runs_fts_%'")
    )


def reference_schema() -> set[tuple]:
    """The schema of a brand-new cache made by the real open_writer."""
    with tempfile.TemporaryDirectory() as tmp:
        opened = db.open_writer(Path(tmp) / "ref" / "cache.sqlite")
        try:
            return _schema(opened.conn)
        finally:
            opened.conn.close()


def seed(
    path: Path,
    runs: int,
    experiments: int = 5,
    *,
    chunk: int = 50_000,
    synchronous: str = "off",
    indexes: str = "rebuild",
    journal: str = "off",
    seed_value: int = 42,
    quiet: bool = False,
) -> dict:
    """Create the cache at `path` (which must not exist); returns timings and sizes."""
    say = (lambda *a: None) if quiet else (lambda *a: print(*a, flush=True))
    for suffix in ("", "-wal", "-shm"):
        if Path(str(path) + suffix).exists():
            raise SystemExit(f"{path}{suffix} exists; use --force to replace it")
    t_start = time.perf_counter()
    opened = db.open_writer(path)
    conn = opened.conn
    conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    conn.execute("PRAGMA cache_size = -400000")  # ~400 MB for the load only
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA foreign_keys = OFF")  # ids are generated consistent; checked below
    if journal == "off":
        conn.execute("PRAGMA journal_mode = OFF")
    dropped = []
    if indexes == "rebuild":
        dropped = [
            (n, s)
            for n, s in _secondary_indexes(conn)
            if not n.startswith("sync_runs")  # tiny tables keep theirs
        ]
        for name, _sql in dropped:
            conn.execute(f"DROP INDEX {name}")
    rng = random.Random(seed_value)
    now_ms = int(time.time() * 1000)
    span_ms = 730 * DAY_MS
    exps = _experiments(experiments, now_ms, span_ms)
    timings: dict[str, float] = {}
    rows_written = 0
    t_load = time.perf_counter()
    t_gen = 0.0
    conn.execute("BEGIN")
    conn.executemany(
        """INSERT INTO experiments (experiment_id, name, lifecycle, artifact_location,
               creation_time, last_update_time, tags) VALUES (?, ?, ?, ?, ?, ?, ?)""",
        exps,
    )
    keys = set()
    for e in range(experiments):
        fam = _family(e)
        keys.update((str(100 + e), "params", k) for k in fam[3])
        keys.update((str(100 + e), "metrics", k) for k in ("m0", fam[4][0][0], fam[4][1][0]))
        keys.update(
            (str(100 + e), "tags", k)
            for k in ("mlflow.user", "mlflow.source.name", "team", "mlflow.parentRunId")
        )
    conn.executemany("INSERT INTO run_keys VALUES (?, ?, ?)", sorted(keys))
    conn.execute("COMMIT")
    for lo in range(0, runs, chunk):
        hi = min(runs, lo + chunk)
        g0 = time.perf_counter()
        r, p, m, t, f = generate(lo, hi, runs, experiments, now_ms, span_ms, rng)
        t_gen += time.perf_counter() - g0
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO runs VALUES ({','.join('?' * 14)})", r)
        conn.executemany("INSERT INTO params VALUES (?, ?, ?)", p)
        conn.executemany(
            "INSERT INTO metrics (run, key, value, step, timestamp, min, max) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            m,
        )
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", t)
        conn.executemany("INSERT INTO runs_fts (rowid, text) VALUES (?, ?)", f)
        conn.execute("COMMIT")
        rows_written += len(r) + len(p) + len(m) + len(t) + len(f)
        if not quiet and (hi == runs or (hi // chunk) % 4 == 0):
            el = time.perf_counter() - t_load
            say(f"  {hi:>9,} runs  {rows_written / el:>10,.0f} rows/s  {el:6.1f} s")
    timings["load_s"] = time.perf_counter() - t_load
    timings["generate_s"] = t_gen
    t_idx = time.perf_counter()
    if dropped:
        conn.execute("BEGIN")
        for _name, sql in dropped:
            conn.execute(sql)
        conn.execute("COMMIT")
    timings["index_s"] = time.perf_counter() - t_idx
    t_fin = time.perf_counter()
    conn.execute("BEGIN")
    run_store.refresh_experiment_stats(conn, [e[0] for e in exps])
    now = time.time()
    syncs.record_sync(conn, SyncRecord("mlflow", "runs", now - 2.0, now, True, None, runs))
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    if journal == "off":
        conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    timings["finish_s"] = time.perf_counter() - t_fin
    conn.execute("PRAGMA foreign_keys = ON")
    bad_fk = conn.execute("PRAGMA foreign_key_check(params)").fetchone()
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    schema_ok = _schema(conn) == reference_schema()
    conn.close()
    total_s = time.perf_counter() - t_start
    size = os.path.getsize(path)
    result = {
        "path": str(path),
        "runs": runs,
        "experiments": experiments,
        "rows": rows_written,
        "seconds": round(total_s, 2),
        "rows_per_s": round(rows_written / total_s),
        "runs_per_s": round(runs / total_s),
        "file_bytes": size,
        "journal_mode": mode,
        "schema_matches_migration": schema_ok,
        "options": {
            "synchronous": synchronous,
            "indexes": indexes,
            "journal": journal,
            "chunk": chunk,
        },
        **{k: round(v, 2) for k, v in timings.items()},
    }
    if bad_fk:
        raise SystemExit(f"foreign key violation in params: {bad_fk}")
    if not schema_ok or mode != "wal":
        raise SystemExit(f"seeded cache does not match the migration's schema: {result}")
    say(
        f"seeded {runs:,} runs ({rows_written:,} rows) in {total_s:.1f} s: "
        f"{rows_written / total_s:,.0f} rows/s, {runs / total_s:,.0f} runs/s; "
        f"load {timings['load_s']:.1f} s (generate {t_gen:.1f} s), "
        f"indexes {timings['index_s']:.1f} s, finish {timings['finish_s']:.1f} s; "
        f"file {size / 1e6:,.1f} MB"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("path", type=Path, help="cache file to create")
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--experiments", type=int, default=5)
    p.add_argument("--chunk", type=int, default=50_000, help="runs per transaction")
    p.add_argument("--synchronous", choices=("off", "normal"), default="off")
    p.add_argument("--indexes", choices=("rebuild", "keep"), default="rebuild")
    p.add_argument("--journal", choices=("off", "wal"), default="off")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--force", action="store_true", help="replace an existing file")
    args = p.parse_args(argv)
    if args.force:
        for suffix in ("", "-wal", "-shm"):
            Path(str(args.path) + suffix).unlink(missing_ok=True)
    seed(
        args.path,
        args.runs,
        args.experiments,
        chunk=args.chunk,
        synchronous=args.synchronous,
        indexes=args.indexes,
        journal=args.journal,
        seed_value=args.seed,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
