"""Seed an embedded MLflow store with realistic demo data.

A first-time user (and every screenshot, tutorial and manual test) needs something to look at
before they point the workbench at a real tracking server. `mlopstui demo` fills the embedded
`sqlite:///` store with four experiments whose runs look like a team's real work: MLflow-style
run names, several users and source files, mostly finished runs with a few failed, killed and
still-running ones, metric curves that converge with noise, a hyperparameter sweep with nested
runs, small artifacts, and a model registry with versions and `champion`/`challenger` aliases.

Everything comes from `random.Random(seed)`, so the same seed gives the same names, parameters
and curves; only timestamps move, being relative to now (`timefmt.now()`, which snapshot tests
can freeze). Writing goes through the embedded store with `log_batch`, which is fast (the whole
seed takes a few seconds); through a tracking server it would take minutes. `mlflow` is imported
inside the functions: the app must start without paying for it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlopstui import timefmt

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["DEMO_EXPERIMENTS", "DEMO_MODELS", "DemoSummary", "seed_demo", "store_is_empty"]

DEMO_EXPERIMENTS = (
    "fraud-detection-xgb",
    "churn-prediction",
    "llm-summarizer-finetune",
    "recsys-two-tower",
)
DEMO_MODELS = ("fraud-xgb", "churn-clf", "summarizer-lora")

_MINUTE = 60_000
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR
_SPREAD = 30 * _DAY  # runs start within the last ~30 days
_MAX_BATCH = 1000  # MLflow's limit on metrics + params + tags per log_batch call

_ADJECTIVES = (
    "able", "amazing", "auspicious", "bald", "beautiful", "bold", "brave", "bright", "calm",
    "capable", "caring", "clean", "clever", "colorful", "dapper", "dashing", "defiant", "delicate",
    "enchanting", "fearless", "funny", "gaudy", "gentle", "grandiose", "handsome", "honorable",
    "illustrious", "judicious", "kindly", "languid", "learned", "likeable", "loud", "luxuriant",
    "mercurial", "merciful", "nebulous", "painted", "polite", "powerful", "redolent", "resilient",
    "rogue", "rumbling", "secretive", "selective", "shivering", "silent", "skittish", "smiling",
    "stately", "sincere", "spiffy", "suave", "thoughtful", "traveling", "trusting", "unequaled",
    "upbeat", "useful", "valuable", "victorious", "vaunted", "welcoming", "wistful", "zealous",
)  # fmt: skip
_NOUNS = (
    "ant", "ape", "asp", "auk", "bass", "bat", "bear", "bee", "bird", "boar", "bug", "calf",
    "carp", "cat", "cod", "colt", "conch", "crab", "crane", "cow", "crow", "cub", "deer", "doe",
    "dog", "donkey", "dove", "duck", "eel", "elk", "fawn", "finch", "fish", "flea", "fly", "foal",
    "fowl", "fox", "frog", "gnat", "gnu", "goat", "goose", "grouse", "grub", "gull", "hare",
    "hawk", "hen", "hog", "horse", "hound", "jay", "kit", "kite", "koi", "lamb", "lark", "loon",
    "lynx", "mare", "midge", "mink", "mole", "moose", "moth", "mouse", "mule", "newt", "owl", "ox",
    "panda", "penguin", "perch", "pig", "pug", "quail", "ram", "rat", "ray", "robin", "roo",
    "rook", "seal", "shad", "shark", "sheep", "shoat", "shrew", "shrike", "shrimp", "skink",
    "skunk", "sloth", "slug", "smelt", "snail", "snake", "snipe", "sow", "sponge", "squid",
    "stag", "steed", "stoat", "stork", "swan", "tern", "toad", "trout", "turtle", "vole", "wasp",
    "whale", "wolf", "worm", "wren", "yak", "zebra",
)  # fmt: skip


@dataclass(frozen=True)
class DemoSummary:
    """What `seed_demo` created."""

    experiments: int
    runs: int
    models: int
    aliases: int
    model_versions: int = 0


@dataclass
class _RunSpec:
    """One planned run, fully decided before anything is written."""

    name: str
    start_ms: int
    duration_ms: int
    params: dict[str, str]
    tags: dict[str, str]
    metrics: dict[str, list[float]]
    status: str = "FINISHED"
    end_ms: int | None = None
    last_ms: int = 0  # timestamp of the last metric point
    parent: int | None = None  # index of the parent run in the same plan
    artifacts: dict[str, str] = field(default_factory=dict)
    model_flavor: str | None = None  # set on runs a model version is registered from


@dataclass
class _ExperimentPlan:
    name: str
    tags: dict[str, str]
    runs: list[_RunSpec]


@dataclass(frozen=True)
class _ModelPlan:
    name: str
    experiment: str
    description: str
    tags: dict[str, str]
    versions: int
    metric: str


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def store_is_empty(tracking_uri: str) -> bool:
    """True when the store has no experiment but MLflow's "Default" and no run in it.

    Deleted experiments and runs count as content: their names and ids are still taken.
    A `sqlite:///` file that does not exist yet is empty without importing MLflow.
    """
    db_file = _sqlite_file(tracking_uri)
    if db_file is not None and not db_file.exists():
        return True
    from mlflow.entities import ViewType

    with _quiet_mlflow_logs():
        client = _client(tracking_uri)
        experiments = client.search_experiments(view_type=ViewType.ALL, max_results=10)
        if any(exp.experiment_id != "0" for exp in experiments):
            return False
        if not experiments:
            return True
        runs = client.search_runs(["0"], run_view_type=ViewType.ALL, max_results=1)
        return len(runs) == 0


def seed_demo(
    tracking_uri: str,
    artifact_root: Path,
    *,
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> DemoSummary:
    """Create the demo experiments, runs and registered models; return what was made.

    Raises `ValueError` when a demo experiment or model already exists in the store.
    """
    report = progress or (lambda _msg: None)
    rng = random.Random(seed)
    now_ms = int(timefmt.now() * 1000)
    plans = [
        _plan_fraud(rng, now_ms),
        _plan_churn(rng, now_ms),
        _plan_llm(rng, now_ms),
        _plan_recsys(rng, now_ms),
    ]
    models = _model_plans()
    chosen = {m.name: _choose_model_runs(rng, plans, m) for m in models}
    artifact_root = Path(artifact_root).expanduser().resolve()
    artifact_root.mkdir(parents=True, exist_ok=True)

    with _quiet_mlflow_logs():
        client = _client(tracking_uri)
        _refuse_existing(client, plans, models)
        run_ids: dict[int, str] = {}  # id(spec) -> run id
        total_runs = 0
        for plan in plans:
            location = (artifact_root / plan.name).as_uri()
            exp_id = client.create_experiment(plan.name, artifact_location=location, tags=plan.tags)
            for index, spec in enumerate(plan.runs):
                parent_id = run_ids[id(plan.runs[spec.parent])] if spec.parent is not None else None
                run_ids[id(spec)] = _write_run(client, exp_id, spec, parent_id, index)
            total_runs += len(plan.runs)
            counts = _status_counts(plan.runs)
            report(f"{plan.name}: {len(plan.runs)} runs ({counts})")
        versions = aliases = 0
        for model in models:
            specs = chosen[model.name]
            made_versions, made_aliases = _write_model(client, model, specs, run_ids, rng)
            versions += made_versions
            aliases += made_aliases
            report(f"model {model.name}: {made_versions} versions, {made_aliases} aliases")
    return DemoSummary(
        experiments=len(plans),
        runs=total_runs,
        models=len(models),
        aliases=aliases,
        model_versions=versions,
    )


# --------------------------------------------------------------------------------------------
# MLflow plumbing
# --------------------------------------------------------------------------------------------


def _client(tracking_uri: str) -> MlflowClient:
    """A client whose registry is the same store, whatever MLFLOW_REGISTRY_URI says."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def _sqlite_file(tracking_uri: str) -> Path | None:
    """The database file of a plain `sqlite:///path` URI, or None for anything else."""
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix) or "?" in tracking_uri:
        return None
    rest = tracking_uri[len(prefix) :]
    if not rest or rest == ":memory:":
        return None
    return Path(rest)


@contextlib.contextmanager
def _quiet_mlflow_logs() -> Iterator[None]:
    """Keep MLflow's INFO lines (e.g. "Creating initial MLflow database tables") off the TUI."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    saved = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, saved, strict=True):
            logger.setLevel(level)


def _refuse_existing(
    client: MlflowClient, plans: list[_ExperimentPlan], models: list[_ModelPlan]
) -> None:
    """Seeding twice would fail halfway through: refuse before writing anything."""
    for plan in plans:
        if client.get_experiment_by_name(plan.name) is not None:
            raise ValueError(f"experiment {plan.name!r} already exists in the store")
    from mlflow.exceptions import MlflowException

    for model in models:
        try:
            client.get_registered_model(model.name)
        except MlflowException:
            continue
        raise ValueError(f"registered model {model.name!r} already exists in the store")


def _write_run(
    client: MlflowClient, exp_id: str, spec: _RunSpec, parent_id: str | None, index: int
) -> str:
    """Create one run with its tags, params, metric histories, artifacts and final status."""
    from mlflow.entities import Metric, Param

    tags = dict(spec.tags)
    if parent_id is not None:
        tags["mlflow.parentRunId"] = parent_id
    run = client.create_run(exp_id, start_time=spec.start_ms, tags=tags, run_name=spec.name)
    run_id = run.info.run_id

    entities: list[Any] = [Param(k, v) for k, v in spec.params.items()]
    first_ms = spec.start_ms + 5_000
    for key, values in spec.metrics.items():
        n = len(values)
        for step, value in enumerate(values):
            stamp = first_ms + (spec.last_ms - first_ms) * (step + 1) // n
            entities.append(Metric(key, value, stamp, step))
    for start in range(0, len(entities), _MAX_BATCH):
        chunk = entities[start : start + _MAX_BATCH]
        client.log_batch(
            run_id,
            metrics=[e for e in chunk if isinstance(e, Metric)],
            params=[e for e in chunk if isinstance(e, Param)],
        )

    for path, text in spec.artifacts.items():
        client.log_text(run_id, text, path)
    if spec.model_flavor is not None:
        client.log_text(run_id, _mlmodel_text(spec, run_id, index), "model/MLmodel")
    if spec.status != "RUNNING":
        client.set_terminated(run_id, spec.status, end_time=spec.end_ms)
    return run_id


def _write_model(
    client: MlflowClient,
    model: _ModelPlan,
    specs: list[_RunSpec],
    run_ids: dict[int, str],
    rng: random.Random,
) -> tuple[int, int]:
    """Register a model, one version per chosen run, and point the aliases at two of them."""
    client.create_registered_model(model.name, tags=model.tags, description=model.description)
    # Version numbers follow training order, as they would have been registered.
    specs = sorted(specs, key=lambda s: s.end_ms or 0)
    statuses = ["passed"] * len(specs)
    statuses[-1] = "pending"
    if len(specs) >= 4:
        statuses[1] = "failed"
    versions: list[tuple[int, _RunSpec, str]] = []
    for spec, status in zip(specs, statuses, strict=True):
        run_id = run_ids[id(spec)]
        value = spec.metrics[model.metric][-1]
        tags = {
            "validation_status": status,
            model.metric: f"{value:.4f}",
            "eval_dataset": rng.choice(["holdout-2026-10", "holdout-2026-11", "backtest-q3"]),
        }
        if status == "failed":
            tags["failure_reason"] = "latency p99 above budget on the shadow endpoint"
        mv = client.create_model_version(
            model.name,
            f"runs:/{run_id}/model",
            run_id=run_id,
            tags=tags,
            description=f"From run {spec.name}: {model.metric}={value:.4f}.",
        )
        versions.append((int(mv.version), spec, status))
    # The champion is the last version that passed validation; the newest other one challenges.
    champion = next(v[0] for v in reversed(versions) if v[2] == "passed")
    challenger = next(v[0] for v in reversed(versions) if v[0] != champion)
    client.set_registered_model_alias(model.name, "champion", str(champion))
    client.set_registered_model_alias(model.name, "challenger", str(challenger))
    return len(versions), 2


def _mlmodel_text(spec: _RunSpec, run_id: str, index: int) -> str:
    """A plausible MLmodel file (the model files themselves are not part of the demo)."""
    flavor = spec.model_flavor or "sklearn"
    created = datetime.fromtimestamp((spec.end_ms or spec.last_ms) / 1000, UTC)
    data = {"xgboost": "model.xgb", "sklearn": "model.pkl", "transformers": "adapter"}[flavor]
    return (
        "artifact_path: model\n"
        "flavors:\n"
        "  python_function:\n"
        f"    data: {data}\n"
        "    env:\n"
        "      conda: conda.yaml\n"
        "      virtualenv: python_env.yaml\n"
        f"    loader_module: mlflow.{flavor}\n"
        "    python_version: 3.11.9\n"
        f"  {flavor}:\n"
        f"    data: {data}\n"
        "    code: null\n"
        "mlflow_version: 3.17.2\n"
        f"model_uuid: {run_id[::-1][:8]}{index:04d}{run_id[:20]}\n"
        f"run_id: {run_id}\n"
        f"utc_time_created: '{created:%Y-%m-%d %H:%M:%S.%f}'\n"
    )


def _status_counts(runs: list[_RunSpec]) -> str:
    counts: dict[str, int] = {}
    for spec in runs:
        counts[spec.status] = counts.get(spec.status, 0) + 1
    return ", ".join(f"{n} {status.lower()}" for status, n in sorted(counts.items()))


# --------------------------------------------------------------------------------------------
# Planning helpers
# --------------------------------------------------------------------------------------------


def _run_name(rng: random.Random, used: set[str], preferred: str | None = None) -> str:
    """MLflow's "adjective-noun-123" style, or `preferred` if not taken yet."""
    if preferred is not None and preferred not in used:
        used.add(preferred)
        return preferred
    while True:
        name = f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{rng.randint(1, 999)}"
        if name not in used:
            used.add(name)
            return name


def _commits(rng: random.Random, count: int) -> list[str]:
    return [f"{rng.getrandbits(160):040x}" for _ in range(count)]


def _source_tags(
    rng: random.Random,
    team: str,
    users: list[str],
    sources: list[tuple[str, str]],
    commits: list[str],
) -> dict[str, str]:
    """The tags MLflow's fluent API would have set, plus the team's own."""
    name, kind = rng.choice(sources)
    user = "svc-airflow" if kind == "JOB" else rng.choice(users)
    return {
        "mlflow.user": user,
        "mlflow.source.name": name,
        "mlflow.source.type": kind,
        # Later commits are used more: the team keeps working.
        "mlflow.source.git.commit": commits[
            min(int(rng.triangular(0, len(commits), len(commits))), len(commits) - 1)
        ],
        "team": team,
    }


def _start_times(rng: random.Random, now_ms: int, durations: list[int]) -> list[int]:
    """Random starts within the last ~30 days, ascending, each ending at least 5 min ago."""
    starts = sorted(now_ms - int(rng.uniform(0.02, 1.0) * _SPREAD) for _ in durations)
    return [min(s, now_ms - d - 5 * _MINUTE) for s, d in zip(starts, durations, strict=True)]


def _rising(
    rng: random.Random, n: int, start: float, final: float, rate: float, noise: float
) -> list[float]:
    """A score that climbs from `start` and saturates at `final`, with noise."""
    out = []
    for i in range(n):
        x = (i + 1) / n
        value = final - (final - start) * math.exp(-rate * x) + rng.gauss(0, noise)
        out.append(round(min(max(value, 0.0), 1.0), 5))
    return out


def _falling(
    rng: random.Random,
    n: int,
    start: float,
    final: float,
    rate: float,
    noise: float,
    rebound: float = 0.0,
) -> list[float]:
    """A loss that decays from `start` to `final` with relative noise; `rebound` overfits."""
    out = []
    for i in range(n):
        x = (i + 1) / n
        value = final + (start - final) * math.exp(-rate * x) + rebound * x**3
        out.append(round(max(value * (1 + rng.gauss(0, noise)), 1e-4), 5))
    return out


def _level(rng: random.Random, n: int, mean: float, noise: float, warmup: int = 0) -> list[float]:
    """A throughput-like gauge: steady around `mean`, lower during warm-up."""
    out = []
    for i in range(n):
        ramp = 0.6 + 0.4 * (i / warmup) if i < warmup else 1.0
        out.append(round(max(mean * ramp * (1 + rng.gauss(0, noise)), 0.0), 3))
    return out


def _finish(rng: random.Random, spec: _RunSpec, now_ms: int, status: str | None = None) -> _RunSpec:
    """Decide the run's fate; failed, killed and running runs stop early (>= 20 points kept)."""
    if status is None:
        roll = rng.random()
        status = "FAILED" if roll < 0.07 else "KILLED" if roll < 0.12 else "FINISHED"
    spec.status = status
    n = len(next(iter(spec.metrics.values())))
    if status == "FINISHED":
        spec.end_ms = spec.start_ms + spec.duration_ms
        spec.last_ms = spec.end_ms - 2_000
        return spec
    fraction = rng.uniform(0.3, 0.8)
    keep = min(n, max(20, int(n * fraction)))
    spec.metrics = {key: values[:keep] for key, values in spec.metrics.items()}
    elapsed = max(spec.duration_ms * keep // n, 60_000)
    if status == "RUNNING":
        spec.start_ms = now_ms - elapsed
        spec.end_ms = None
        spec.last_ms = max(now_ms - rng.randint(10_000, 90_000), spec.start_ms + 30_000)
    else:
        spec.end_ms = spec.start_ms + elapsed
        spec.last_ms = spec.end_ms - 2_000
    return spec


def _config_yaml(params: dict[str, str], header: str) -> str:
    lines = [f"# {header}", "params:"] + [f"  {k}: {v}" for k, v in params.items()]
    return "\n".join(lines) + "\n"


def _confusion(rng: random.Random, positives: int, negatives: int, recall: float) -> str:
    tp = int(positives * recall)
    fp = int(negatives * rng.uniform(0.002, 0.02))
    return (
        "              pred_neg  pred_pos\n"
        f"actual_neg  {negatives - fp:>9}  {fp:>8}\n"
        f"actual_pos  {positives - tp:>9}  {tp:>8}\n"
    )


# --------------------------------------------------------------------------------------------
# The four experiments
# --------------------------------------------------------------------------------------------


def _plan_fraud(rng: random.Random, now_ms: int) -> _ExperimentPlan:
    """~60 XGBoost runs: AUC rises and saturates, validation loss rebounds for deep trees."""
    team, users = "risk-ml", ["alice.chen", "bob.okafor", "priya.n"]
    sources = [
        ("train.py", "LOCAL"),
        ("train.py", "LOCAL"),
        ("notebooks/explore_features.ipynb", "NOTEBOOK"),
        ("pipelines/fraud_retrain.py", "JOB"),
    ]
    commits = _commits(rng, 6)
    count = 60
    durations = [rng.randint(3 * _MINUTE, 35 * _MINUTE) for _ in range(count)]
    starts = _start_times(rng, now_ms, durations)
    used: set[str] = set()
    runs = []
    for i in range(count):
        depth = rng.choice([3, 4, 5, 6, 6, 8, 10, 12])
        eta = rng.choice([0.01, 0.02, 0.05, 0.05, 0.1, 0.2, 0.3])
        subsample = rng.choice([0.6, 0.7, 0.8, 0.9, 1.0])
        trees = rng.choice([200, 300, 500, 800, 1000, 1500])
        params = {
            "max_depth": str(depth),
            "eta": str(eta),
            "subsample": str(subsample),
            "n_estimators": str(trees),
            "colsample_bytree": str(rng.choice([0.6, 0.8, 1.0])),
            "objective": "binary:logistic",
            "tree_method": "hist",
            "scale_pos_weight": str(rng.choice([1, 10, 50])),
        }
        auc = (
            0.962
            - 0.006 * abs(depth - 6)
            - 0.008 * abs(math.log(eta / 0.05))
            - 0.02 * (1.0 - subsample)
            + rng.gauss(0, 0.004)
        )
        auc = min(auc, 0.979)
        n = max(20, min(150, trees // 10))
        rate = 2.0 + 40 * eta
        overfit = 0.004 * max(0, depth - 8)
        name = _run_name(rng, used, f"xgb-depth{depth}-eta{eta}" if rng.random() < 0.45 else None)
        spec = _RunSpec(
            name=name,
            start_ms=starts[i],
            duration_ms=durations[i],
            params=params,
            tags=_source_tags(rng, team, users, sources, commits),
            metrics={
                "val_auc": _rising(rng, n, 0.72, auc, rate, 0.002),
                "val_logloss": _falling(rng, n, 0.55, 0.02 + (1 - auc), rate, 0.01, overfit),
                "train_logloss": _falling(rng, n, 0.55, 0.035 - 0.002 * depth, rate * 1.2, 0.01),
                "precision_at_1pct": _rising(rng, n, 0.2, 0.5 + 4 * (auc - 0.93), rate, 0.006),
            },
        )
        status = "RUNNING" if i == count - 1 else None
        runs.append(_finish(rng, spec, now_ms, status))
        if spec.status == "FINISHED" and rng.random() < 0.4:
            spec.artifacts["config.yaml"] = _config_yaml(params, "xgboost training config")
    return _ExperimentPlan(
        "fraud-detection-xgb",
        {
            "team": team,
            "owner": "alice.chen",
            "mlflow.note.content": "Card-not-present fraud scoring. Gradient-boosted trees on "
            "transaction, device and merchant features. Target: AUC >= 0.95 at a 1% alert rate.",
        },
        runs,
    )


def _plan_churn(rng: random.Random, now_ms: int) -> _ExperimentPlan:
    """~40 scikit-learn runs comparing three model families."""
    team, users = "growth-analytics", ["marco.rossi", "dana.kim", "priya.n"]
    sources = [
        ("train_churn.py", "LOCAL"),
        ("notebooks/churn_baselines.ipynb", "NOTEBOOK"),
        ("notebooks/churn_baselines.ipynb", "NOTEBOOK"),
        ("pipelines/weekly_churn.py", "JOB"),
    ]
    commits = _commits(rng, 5)
    count = 40
    durations = [rng.randint(1 * _MINUTE, 12 * _MINUTE) for _ in range(count)]
    starts = _start_times(rng, now_ms, durations)
    used: set[str] = set()
    runs = []
    for i in range(count):
        family = rng.choice(["logistic_regression", "random_forest", "hist_gradient_boosting"])
        params = {"model": family, "class_weight": rng.choice(["balanced", "None"])}
        if family == "logistic_regression":
            params |= {"C": str(rng.choice([0.01, 0.1, 1.0, 10.0])), "penalty": "l2"}
            params["max_iter"] = str(rng.choice([100, 200, 500]))
            base, label = 0.81, f"logreg-C{params['C']}"
        elif family == "random_forest":
            params |= {"n_estimators": str(rng.choice([100, 300, 500]))}
            params |= {"max_depth": str(rng.choice([8, 12, 16, "None"]))}
            params["min_samples_leaf"] = str(rng.choice([1, 5, 20]))
            base, label = 0.85, f"rf-{params['n_estimators']}trees"
        else:
            params |= {"learning_rate": str(rng.choice([0.03, 0.1, 0.3]))}
            params |= {"max_iter": str(rng.choice([100, 200, 400]))}
            params["max_leaf_nodes"] = str(rng.choice([15, 31, 63]))
            base, label = 0.87, f"hgb-lr{params['learning_rate']}"
        params |= {"test_size": "0.2", "random_state": "42", "features": "v7"}
        auc = base + rng.gauss(0, 0.008)
        n = rng.randint(20, 100)
        name = _run_name(rng, used, label if rng.random() < 0.35 else None)
        spec = _RunSpec(
            name=name,
            start_ms=starts[i],
            duration_ms=durations[i],
            params=params,
            tags=_source_tags(rng, team, users, sources, commits),
            metrics={
                "val_roc_auc": _rising(rng, n, 0.6, auc, 4.0, 0.003),
                "val_f1": _rising(rng, n, 0.3, auc - 0.24, 4.0, 0.006),
                "val_accuracy": _rising(rng, n, 0.7, 0.8 + (auc - 0.8) * 0.9, 4.0, 0.003),
                "train_log_loss": _falling(rng, n, 0.69, 0.43 - (auc - 0.8), 4.5, 0.01),
            },
        )
        runs.append(_finish(rng, spec, now_ms))
        if spec.status == "FINISHED" and rng.random() < 0.3:
            spec.artifacts["config.yaml"] = _config_yaml(params, f"{family} config")
    return _ExperimentPlan(
        "churn-prediction",
        {
            "team": team,
            "owner": "marco.rossi",
            "mlflow.note.content": "Predict 30-day subscription churn from usage and billing "
            "events. Weekly retrain; the champion feeds the retention campaign.",
        },
        runs,
    )


def _plan_llm(rng: random.Random, now_ms: int) -> _ExperimentPlan:
    """~25 LoRA fine-tunes: a few long runs, OOM failures at the biggest batch and rank."""
    team, users = "nlp-platform", ["sam.lee", "nadia.h", "alice.chen"]
    sources = [
        ("finetune/train_lora.py", "LOCAL"),
        ("finetune/train_lora.py", "LOCAL"),
        ("notebooks/summarizer_eval.ipynb", "NOTEBOOK"),
    ]
    commits = _commits(rng, 6)
    count = 25
    long_runs = {3, 11, 17, 24}
    durations = [
        rng.randint(20 * _HOUR, 40 * _HOUR) if i in long_runs else rng.randint(2 * _HOUR, 7 * _HOUR)
        for i in range(count)
    ]
    starts = _start_times(rng, now_ms, durations)
    bases = {"llama-3.1-8b": (2100, 0.0), "mistral-7b-v0.3": (2350, -0.01), "qwen2.5-7b": (2300, 0)}
    used: set[str] = set()
    runs = []
    for i in range(count):
        base_model = rng.choice(sorted(bases))
        lr = rng.choice([1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 3e-4])
        lora_r = rng.choice([8, 16, 32, 64])
        batch = rng.choice([8, 16, 32])
        epochs = 4 if i in long_runs else rng.choice([1, 2, 3])
        params = {
            "base_model": base_model,
            "lr": str(lr),
            "lora_r": str(lora_r),
            "lora_alpha": str(2 * lora_r),
            "epochs": str(epochs),
            "batch_size": str(batch),
            "max_seq_len": "2048",
            "dataset": "cnn_dailymail+support-tickets-v3",
        }
        speed, bias = bases[base_model]
        rouge = 0.44 + bias - 0.03 * abs(math.log10(lr / 1e-4)) + 0.004 * epochs
        rouge += 0.003 * math.log2(lora_r / 8) + rng.gauss(0, 0.005)
        n = 150 if i in long_runs else max(20, min(150, epochs * rng.randint(25, 45)))
        mem = 14 + 1.9 * batch + 0.08 * lora_r
        spec = _RunSpec(
            name=_run_name(rng, used, f"lora-r{lora_r}-lr{lr:g}" if rng.random() < 0.4 else None),
            start_ms=starts[i],
            duration_ms=durations[i],
            params=params,
            tags=_source_tags(rng, team, users, sources, commits)
            | {"gpu": "A100-80GB", "num_gpus": str(rng.choice([1, 2, 4, 8]))},
            metrics={
                "rouge_l": _rising(rng, n, 0.18, rouge, 3.5, 0.004),
                "eval_loss": _falling(rng, n, 2.6, 1.55 - (rouge - 0.4) * 3, 3.0, 0.01, 0.02),
                "train_loss": _falling(rng, n, 2.8, 1.35 - (rouge - 0.4) * 3, 3.5, 0.04),
                "tokens_per_sec": _level(rng, n, speed * (16 / batch) ** -0.15, 0.03, 5),
                "gpu_mem_gb": _level(rng, n, min(mem, 79.6), 0.005, 3),
            },
        )
        if mem > 78:
            spec.tags["error"] = "torch.OutOfMemoryError: CUDA out of memory"
            _finish(rng, spec, now_ms, "FAILED")
        else:
            _finish(rng, spec, now_ms, "RUNNING" if i == count - 1 else None)
        runs.append(spec)
        if spec.status == "FINISHED" and rng.random() < 0.5:
            spec.artifacts["config.yaml"] = _config_yaml(params, "LoRA fine-tune config")
    return _ExperimentPlan(
        "llm-summarizer-finetune",
        {
            "team": team,
            "owner": "sam.lee",
            "mlflow.note.content": "LoRA fine-tunes of 7-8B base models to summarise support "
            "tickets. Eval: ROUGE-L on 2k held-out tickets; watch gpu_mem_gb near 80.",
        },
        runs,
    )


def _plan_recsys(rng: random.Random, now_ms: int) -> _ExperimentPlan:
    """~30 two-tower runs: standalone runs plus a 20-trial sweep nested under a parent run."""
    team, users = "personalization", ["lena.f", "omar.s"]
    sources = [("recsys/train_two_tower.py", "LOCAL"), ("recsys/train_two_tower.py", "LOCAL")]
    commits = _commits(rng, 4)
    used: set[str] = set()

    def make(start: int, duration: int, params: dict[str, str], n: int, name: str) -> _RunSpec:
        lr, temp = float(params["lr"]), float(params["temperature"])
        recall = 0.41 - 0.02 * abs(math.log10(lr / 1e-3)) - 0.15 * abs(temp - 0.07)
        recall += 0.01 * math.log2(int(params["embedding_dim"]) / 64) + rng.gauss(0, 0.006)
        return _RunSpec(
            name=name,
            start_ms=start,
            duration_ms=duration,
            params=params,
            tags=_source_tags(rng, team, users, sources, commits),
            metrics={
                "recall_at_50": _rising(rng, n, 0.08, recall, 4.0, 0.003),
                "ndcg_at_10": _rising(rng, n, 0.03, recall * 0.42, 4.0, 0.002),
                "train_loss": _falling(rng, n, 7.2, 3.1 - recall, 4.0, 0.015),
                "val_loss": _falling(rng, n, 7.3, 3.3 - recall, 3.5, 0.015, 0.05),
            },
        )

    def sample_params() -> dict[str, str]:
        return {
            "embedding_dim": str(rng.choice([64, 128, 256])),
            "lr": str(rng.choice([3e-4, 1e-3, 3e-3, 1e-2])),
            "temperature": str(rng.choice([0.05, 0.07, 0.1, 0.2])),
            "batch_size": str(rng.choice([1024, 2048, 4096])),
            "num_negatives": str(rng.choice([64, 256, 1024])),
            "tower_layers": "512,256",
        }

    runs: list[_RunSpec] = []
    standalone = 9
    durations = [rng.randint(30 * _MINUTE, 2 * _HOUR) for _ in range(standalone)]
    starts = _start_times(rng, now_ms, durations)
    for i in range(standalone):
        spec = make(starts[i], durations[i], sample_params(), rng.randint(20, 60), "")
        spec.name = _run_name(rng, used)
        _finish(rng, spec, now_ms, "RUNNING" if i == standalone - 1 else None)
        runs.append(spec)

    trials = 20
    cursor = now_ms - 11 * _DAY + rng.randint(0, 6 * _HOUR)
    parent = _RunSpec(
        name=_run_name(rng, used, "two-tower-sweep-lr-temp"),
        start_ms=cursor,
        duration_ms=0,
        params={"sampler": "tpe", "n_trials": str(trials), "objective": "max recall_at_50"},
        tags=_source_tags(rng, team, users, [("recsys/sweep.py", "LOCAL")], commits)
        | {"sweep": "optuna"},
        metrics={},
    )
    runs.append(parent)
    parent_index = len(runs) - 1
    cursor += _MINUTE
    best = 0.0
    best_curve: list[float] = []
    for t in range(trials):
        duration = rng.randint(20 * _MINUTE, 50 * _MINUTE)
        params = sample_params() | {"embedding_dim": "128", "trial": str(t)}
        spec = make(cursor, duration, params, rng.randint(30, 60), f"trial-{t:02d}")
        used.add(spec.name)
        spec.tags = {k: v for k, v in parent.tags.items() if k != "sweep"}
        spec.parent = parent_index
        # Pruned trials show as KILLED, as Optuna's MLflow callback leaves them.
        _finish(rng, spec, now_ms, "KILLED" if rng.random() < 0.15 else "FINISHED")
        runs.append(spec)
        cursor = (spec.end_ms or cursor) + rng.randint(10_000, 90_000)
        if spec.status == "FINISHED":
            best = max(best, spec.metrics["recall_at_50"][-1])
        best_curve.append(round(best, 5))
    parent.metrics = {"best_recall_at_50": best_curve}
    parent.duration_ms = cursor - parent.start_ms
    _finish(rng, parent, now_ms, "FINISHED")
    return _ExperimentPlan(
        "recsys-two-tower",
        {
            "team": team,
            "owner": "lena.f",
            "mlflow.note.content": "Two-tower retrieval for the home feed. The nested "
            "two-tower-sweep-lr-temp run holds an Optuna sweep over lr and temperature.",
        },
        runs,
    )


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------


def _model_plans() -> list[_ModelPlan]:
    return [
        _ModelPlan(
            "fraud-xgb",
            "fraud-detection-xgb",
            "XGBoost fraud scorer behind the payments risk API. Champion serves live traffic; "
            "challenger runs in shadow mode.",
            {"team": "risk-ml", "task": "binary-classification", "serving": "payments-risk-api"},
            5,
            "val_auc",
        ),
        _ModelPlan(
            "churn-clf",
            "churn-prediction",
            "30-day churn classifier; scores every active subscriber weekly.",
            {"team": "growth-analytics", "task": "binary-classification", "serving": "batch"},
            3,
            "val_roc_auc",
        ),
        _ModelPlan(
            "summarizer-lora",
            "llm-summarizer-finetune",
            "LoRA adapter for support-ticket summaries, loaded on top of its base model.",
            {"team": "nlp-platform", "task": "summarization", "serving": "vllm"},
            4,
            "rouge_l",
        ),
    ]


def _choose_model_runs(
    rng: random.Random, plans: list[_ExperimentPlan], model: _ModelPlan
) -> list[_RunSpec]:
    """The best finished runs of the model's experiment; they get a `model/MLmodel` artifact."""
    plan = next(p for p in plans if p.name == model.experiment)
    finished = [s for s in plan.runs if s.status == "FINISHED" and s.parent is None]
    best = sorted(finished, key=lambda s: s.metrics[model.metric][-1], reverse=True)[
        : model.versions
    ]
    flavor = {"fraud-xgb": "xgboost", "churn-clf": "sklearn"}.get(model.name, "transformers")
    for spec in best:
        spec.model_flavor = flavor
        if flavor == "transformers":
            spec.artifacts["eval/samples.txt"] = (
                "ticket: Customer cannot reset password after the 2FA change.\n"
                "summary: Password reset blocked by new 2FA flow; needs manual unlock.\n"
            )
        else:
            recall = spec.metrics[model.metric][-1] - 0.1
            spec.artifacts["eval/confusion.txt"] = _confusion(rng, 412, 99_588, recall)
    return best
