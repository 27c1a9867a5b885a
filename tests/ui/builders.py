"""Deterministic caches, settings and apps for the UI and snapshot tests.

Everything the UI shows comes from the SQLite cache, so the tests seed one directly through
the same writer API the sync uses (`cache.runs.upsert_*`, `cache.syncs.record_sync`): three
experiments, 60 runs with fixed times, one parent with two children, one run whose name is
an attack on the terminal, and the sync records of each freshness state the status bar knows.
The clock is frozen (MLOPSTUI_FROZEN_TIME) an hour and a half after the newest run started.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import struct
import zlib
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.console import Console

from mlopstui import config
from mlopstui.adapters.mlflow import Artifact
from mlopstui.cache import db, syncs
from mlopstui.cache import registry as reg_store
from mlopstui.cache import runs as run_store
from mlopstui.domain import (
    AliasMove,
    Experiment,
    Metric,
    ModelVersion,
    RegisteredModel,
    Run,
    SyncRecord,
)
from mlopstui.ui import background
from mlopstui.ui.app import MlopsApp
from mlopstui.workbench import Workbench

# 2026-03-02 12:00:00 UTC, the frozen "now" of every UI test.
FROZEN_NOW = 1772452800
# 2026-03-01 00:00:00 UTC: the first seeded run starts here.
BASE_MS = 1772323200000
MINUTE_MS = 60_000
THEME = "mlopstui-dark"
DEAD_SERVER = "http://127.0.0.1:9"
UNREACHABLE_ERROR = f"{DEAD_SERVER} did not answer: connection refused"

HOSTILE_NAME = "\x1b]52;c;cHduZWQ=\x07evil\x1b[31m[link=http://x]click[/link]\u202egnp.exe"
HOSTILE_CLEAN = "evil[link=http://x]click[/link]gnp.exe"
BOLD_EXPERIMENT = "llm [b]bold[/b]"
HOSTILE_TAG = "[red]alert[/red]\x1b[2J\u2066!"  # markup, clear-screen, a bidi isolate
HOSTILE_TAG_CLEAN = "[red]alert[/red]!"

# Characters that must never reach the terminal from data: ESC, 8-bit CSI/OSC/ST, BEL and the
# bidi overrides/isolates ("Trojan Source").
FORBIDDEN = ["\x1b", "\x9b", "\x9d", "\x9c", "\x07", *map(chr, range(0x202A, 0x202F))]
FORBIDDEN += [chr(c) for c in range(0x2066, 0x206A)]

STATES = ("loaded", "unreachable", "stale", "empty")

_ADJ = ("brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen")
_NOUN = ("fox", "owl", "yak", "eel", "lynx", "moth", "wren")
_USERS = ("alice", "bob", "carol", "dave")


def run_id(label: str) -> str:
    """A stable 32-hex run id, like MLflow's."""
    return hashlib.sha1(label.encode()).hexdigest()[:32]


def _metrics(val_acc: float, at_ms: int) -> dict[str, Metric]:
    loss = round(1.2 - val_acc, 3)
    return {
        "loss": Metric("loss", loss, 10, at_ms),
        "val_acc": Metric("val_acc", val_acc, 10, at_ms),
    }


def _run(
    rid: str,
    experiment_id: str,
    name: str,
    status: str,
    start: int,
    minutes: int | None,
    *,
    val_acc: float,
    lr: str,
    batch_size: str,
    team: str,
    user: str,
    source: str = "train.py",
    extra_tags: dict[str, str] | None = None,
) -> Run:
    end = None if minutes is None else start + minutes * MINUTE_MS
    # MLflow tags every named run with mlflow.runName; `attributes.run_name` filters on it.
    tags = {"team": team, "mlflow.source.name": source, "mlflow.user": user}
    tags["mlflow.runName"] = name
    tags.update(extra_tags or {})
    return Run(
        run_id=rid,
        experiment_id=experiment_id,
        name=name,
        status=status,
        start_time=start,
        end_time=end,
        user=user,
        artifact_uri=f"mlflow-artifacts:/{experiment_id}/{rid}/artifacts",
        params={"lr": lr, "batch_size": batch_size},
        metrics=_metrics(val_acc, end or start),
        tags=tags,
    )


def _experiments() -> list[Experiment]:
    created = BASE_MS - 24 * 60 * MINUTE_MS
    return [
        Experiment("1", "vision-resnet", artifact_location="mlflow-artifacts:/1",
                   creation_time=created, last_update_time=created),
        Experiment("2", BOLD_EXPERIMENT, artifact_location="mlflow-artifacts:/2",
                   creation_time=created, last_update_time=created),
        Experiment("3", "tabular-xgb", artifact_location="mlflow-artifacts:/3",
                   creation_time=created, last_update_time=created),
    ]  # fmt: skip


TEAMS = {"1": "vision", "2": "nlp", "3": "tabular"}
REGULAR = 56
PARENT_RUN_ID = run_id("sweep-parent")
CHILD_RUN_IDS = (run_id("sweep-child-1"), run_id("sweep-child-2"))
HOSTILE_RUN_ID = run_id("hostile")


def _runs() -> list[Run]:
    out = []
    for i in range(REGULAR):
        exp = "123"[i % 3]
        if i >= REGULAR - 3:
            status, minutes = "RUNNING", None
        else:
            status = {3: "FAILED", 7: "KILLED"}.get(i % 10, "FINISHED")
            minutes = 5 + (i * 7) % 50
        out.append(
            _run(
                run_id(f"run-{i}"),
                exp,
                f"{_ADJ[i % 8]}-{_NOUN[i % 7]}-{i:02d}",
                status,
                BASE_MS + i * 30 * MINUTE_MS,
                minutes,
                # i*17 mod 56 is a permutation of 0..55: every val_acc is distinct.
                val_acc=round(0.405 + ((i * 17) % REGULAR) / 100, 3),
                lr=("0.1", "0.01", "0.001")[(i // 3) % 3],
                batch_size=("32", "64", "128", "256")[i % 4],
                team=TEAMS[exp],
                user=_USERS[(i // 2) % 4],
                source="finetune.py" if exp == "2" else "train.py",
            )
        )
    # A sweep in tabular-xgb: one parent, two nested children.
    sweep = BASE_MS + 20 * 60 * MINUTE_MS + 10 * MINUTE_MS  # 2026-03-01 20:10
    common = {"lr": "0.01", "batch_size": "64", "team": "tabular", "user": "erin"}
    out.append(
        _run(PARENT_RUN_ID, "3", "sweep-parent", "FINISHED", sweep, 40, val_acc=0.97,
             source="sweep.py", **common)
    )  # fmt: skip
    for n, child in enumerate(CHILD_RUN_IDS, 1):
        out.append(
            _run(child, "3", f"sweep-child-{n}", "FINISHED", sweep + n * MINUTE_MS, 15,
                 val_acc=0.5 + n / 10, source="sweep.py",
                 extra_tags={"mlflow.parentRunId": PARENT_RUN_ID}, **common)
        )  # fmt: skip
    # The hostile run: the newest of all, in the experiment whose name is markup.
    out.append(
        _run(HOSTILE_RUN_ID, "2", HOSTILE_NAME, "FAILED", FROZEN_NOW * 1000 - 90 * MINUTE_MS,
             3, val_acc=0.12, lr="0.1", batch_size="32", team="nlp", user="mallory",
             source="finetune.py", extra_tags={"note": HOSTILE_TAG})
    )  # fmt: skip
    return out


SEED_EXPERIMENTS: list[Experiment] = _experiments()
SEED_RUNS: list[Run] = _runs()
RUNS_BY_ID: dict[str, Run] = {r.run_id: r for r in SEED_RUNS}


def seeded(experiment_id: str | None = None) -> list[Run]:
    """Seeded runs of one experiment (all when None), newest first like the default sort."""
    runs = [r for r in SEED_RUNS if experiment_id is None or r.experiment_id == experiment_id]
    return sorted(runs, key=lambda r: r.start_time or 0, reverse=True)


def experiment_order() -> list[str]:
    """Experiment ids as the cache lists them: most recently active first."""

    def activity(e: Experiment) -> int:
        runs = seeded(e.experiment_id)
        return max(
            [e.last_update_time or 0]
            + [r.start_time or 0 for r in runs]
            + [r.end_time or 0 for r in runs]
        )

    return [e.experiment_id for e in sorted(SEED_EXPERIMENTS, key=lambda e: (-activity(e), e.name))]


# ---------------------------------------------------------------- writing the cache


def write_runs(path: Path, runs: Iterable[Run], *, synced_at: float = FROZEN_NOW - 60) -> None:
    """Upsert runs (and refresh their experiments' counts) through a Writer, as a sync does."""
    runs = list(runs)
    writer = db.Writer(db.open_writer(path))
    try:
        with writer.transaction() as conn:
            run_store.upsert_runs(conn, runs, synced_at)
            run_store.refresh_experiment_stats(conn, {r.experiment_id for r in runs})
    finally:
        writer.close()


def _sync(
    topic: str,
    started: float,
    ok: bool,
    error: str | None = None,
    rows: int = 0,
    feed: str = "mlflow",
) -> SyncRecord:
    return SyncRecord(feed, topic, started, started + 2, ok, error, rows)


def sync_records(state: str) -> list[SyncRecord]:
    """The sync history behind each freshness state: the runs feed ("mlflow", with its
    heartbeat) and the registry feed ("mlflow-registry") in the same state."""
    now = FROZEN_NOW
    reg = "mlflow-registry"
    if state == "loaded":
        return [
            _sync("runs", now - 3 * 3600, True, rows=60),
            _sync("runs", now - 62, True),
            _sync("registry", now - 62, True, feed=reg),
        ]
    if state == "unreachable":
        return [
            _sync("runs", now - 1800 - 2, True, rows=60),  # ok at 11:30
            _sync("registry", now - 1800 - 2, True, feed=reg),
            _sync("health", now - 900, False, UNREACHABLE_ERROR),  # failing since 11:45
            _sync("registry", now - 900, False, UNREACHABLE_ERROR, feed=reg),
            _sync("runs", now - 600, False, UNREACHABLE_ERROR),
            _sync("health", now - 120, False, UNREACHABLE_ERROR),
        ]
    if state == "stale":
        return [
            _sync("runs", now - 3 * 3600 - 2, True, rows=60),  # ok at 09:00, 3 h ago
            _sync("registry", now - 3 * 3600 - 2, True, feed=reg),
        ]
    if state == "empty":
        return []
    raise ValueError(f"unknown state {state!r}; one of {STATES}")


def build_cache(path: Path, state: str = "loaded") -> Path:
    """Create a cache at `path` holding the seed (none for 'empty') and `state`'s syncs."""
    writer = db.Writer(db.open_writer(path))
    try:
        with writer.transaction() as conn:
            if state != "empty":
                run_store.upsert_experiments(conn, SEED_EXPERIMENTS)
                run_store.upsert_runs(conn, SEED_RUNS, FROZEN_NOW - 60)
                run_store.refresh_experiment_stats(
                    conn, [e.experiment_id for e in SEED_EXPERIMENTS]
                )
            for record in sync_records(state):
                syncs.record_sync(conn, record)
    finally:
        writer.close()
    return path


def new_run(label: str, experiment_id: str, *, start: int, val_acc: float = 0.5) -> Run:
    """A finished run that is not in the seed (for sync tests)."""
    base = RUNS_BY_ID[run_id("run-0")]
    return replace(
        base,
        run_id=run_id(label),
        experiment_id=experiment_id,
        name=label,
        start_time=start,
        end_time=start + 5 * MINUTE_MS,
        metrics=_metrics(val_acc, start),
        tags={**base.tags, "team": TEAMS[experiment_id]},
    )


def bulk_runs(count: int, experiment_id: str = "1") -> list[Run]:
    """`count` more finished runs, older than the seed (to get past one 100-row block)."""
    return [
        new_run(f"bulk-{n:03d}", experiment_id, start=BASE_MS - (n + 1) * MINUTE_MS, val_acc=0.6)
        for n in range(count)
    ]


# ---------------------------------------------------------------- the model registry

# Models names MLflow accepts (no '/' or ':'), but with an escape sequence, markup and a bidi
# override in them.
HOSTILE_MODEL = "evil\x1b[31m[red]x[red]\u202egnp"
HOSTILE_MODEL_CLEAN = "evil[red]x[red]gnp"
FRAUD = "fraud-detector"
RESNET = "resnet-classifier"
CHURN = "churn-xgb"
HOUR = 3600


def _versions(name: str, run_labels: list[str], *, start_ms: int) -> list[ModelVersion]:
    return [
        ModelVersion(
            name=name,
            version=str(n),
            status="READY",
            run_id=run_id(label) if label else "",
            source=f"runs:/{run_id(label)}/model" if label else "",
            creation_time=start_ms + n * 90 * MINUTE_MS,
            last_updated=start_ms + n * 90 * MINUTE_MS,
        )
        for n, label in enumerate(run_labels, 1)
    ]


def registry_seed() -> tuple[list[RegisteredModel], list[ModelVersion]]:
    """Four models: aliases, tags, a version whose run is not cached, and a hostile one."""
    fraud = _versions(FRAUD, ["run-2", "run-5", "run-8", "run-11", "run-14"], start_ms=BASE_MS)
    fraud[3] = replace(fraud[3], tags={"validated": "true", "reviewer": "carol"})
    fraud[4] = replace(fraud[4], status="PENDING_REGISTRATION", tags={"candidate": "yes"})
    resnet = _versions(RESNET, ["run-0", "run-3", "run-6"], start_ms=BASE_MS + 2 * HOUR * 1000)
    churn = _versions(CHURN, ["not-synced-yet"], start_ms=BASE_MS + 5 * HOUR * 1000)
    hostile = _versions(HOSTILE_MODEL, ["hostile", ""], start_ms=BASE_MS + 6 * HOUR * 1000)
    hostile[0] = replace(hostile[0], tags={"note": HOSTILE_TAG})
    models = [
        RegisteredModel(
            FRAUD,
            description="Card fraud classifier (XGBoost), scored per transaction",
            tags={"team": "risk", "tier": "1", "oncall": "risk-oncall", "mlopstui.alias.x": "{}"},
            aliases={"champion": "4", "challenger": "5"},
            latest_version="5",
            creation_time=BASE_MS,
            last_updated=fraud[-1].last_updated,
        ),
        RegisteredModel(
            RESNET,
            tags={"team": "vision"},
            aliases={"champion": "2"},
            latest_version="3",
            creation_time=BASE_MS,
            last_updated=resnet[-1].last_updated,
        ),
        RegisteredModel(
            CHURN,
            description="Weekly churn model",
            latest_version="1",
            creation_time=BASE_MS,
            last_updated=churn[-1].last_updated,
        ),
        RegisteredModel(
            HOSTILE_MODEL,
            description="[b]bold[/b] \x1b[2Jdescription",
            tags={"note": HOSTILE_TAG},
            aliases={"champion": "1"},
            latest_version="2",
            creation_time=BASE_MS,
            last_updated=hostile[-1].last_updated,
        ),
    ]
    return models, fraud + resnet + churn + hostile


def seed_registry(path: Path) -> Path:
    """Write the registry seed into a cache, with a history of alias moves: the aliases as
    first seen two days ago, a promotion made here, a move another client made."""
    models, versions = registry_seed()
    first = [replace(m, aliases={"champion": "3"}) if m.name == FRAUD else m for m in models]
    writer = db.Writer(db.open_writer(path))
    try:
        with writer.transaction() as conn:
            reg_store.replace_registry(conn, first, versions, now=FROZEN_NOW - 48 * HOUR)
            reg_store.record_alias_move(
                conn,
                AliasMove(FRAUD, "champion", "3", "4", FROZEN_NOW - 20 * HOUR, "alice", "promote"),
            )
            reg_store.replace_registry(conn, models, versions, now=FROZEN_NOW - 2 * HOUR)
    finally:
        writer.close()
    return path


def dead_pid() -> int:
    """The pid of a process that has exited (a stand-in for a session killed mid-action)."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def seed_audit(
    path: Path,
    *,
    unknown_model: str = FRAUD,
    at: float = FROZEN_NOW - 600,
    host: str = "ops-bastion",
    pid: int | None = None,
) -> Path:
    """An audit log with one finished promotion and one intent whose session died before it
    knew the outcome (no outcome; written by `host` at `at` from a pid that has exited):
    `unknown` until someone verifies it. A fixed `pid` is for pictures from another host."""
    import sqlite3

    from mlopstui.actions import mlflow_registry as reg_actions
    from mlopstui.cache.audit import AuditLog

    log = AuditLog(path)
    try:
        done = log.intent(
            source="http://mlflow.example.com",
            action="promote",
            target=f"model {FRAUD} alias champion",
            before="champion -> v3",
            after="champion -> v4",
            params={"source": "mlflow", "params": {}, "expected": {}},
            user="alice",
        )
        log.outcome(done, "ok", f"Promote {FRAUD} v4 to champion: done (verified)")
        action = reg_actions.promote(unknown_model, "2", "champion")
        lost = log.intent(
            source="http://mlflow.example.com",
            action=action.kind,
            target=action.target,
            before="champion -> v1",
            after="champion -> v2",
            params={
                "source": action.source,
                "params": action.params,
                "expected": {"current": "1", "target": "2"},
            },
            user="bob",
        )
    finally:
        log.close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE audit SET pid = ?, host = ?, started = ? WHERE id = ?",
            (pid or dead_pid(), host, at, lost),
        )
        conn.execute(
            "UPDATE audit SET host = ?, started = ?, finished = ? WHERE id = ?",
            (host, at - 3600, at - 3599, done),
        )
    return path


# ---------------------------------------------------------------- app


# Histories whose min/max differ from every seeded latest value, so a test can tell that the
# detail screen took them from the fetched history.
CANNED_HISTORY: dict[str, list[tuple[int, int, float]]] = {
    "val_acc": [(s, BASE_MS + s * 1000, v) for s, v in enumerate([0.011, 0.3, 0.62, 0.999, 0.7])],
    "loss": [(s, BASE_MS + s * 1000, v) for s, v in enumerate([4.25, 2.0, 0.8, 0.0625, 0.3])],
}
CANNED_ARTIFACTS = [
    Artifact("model", True, None),
    Artifact("metrics.json", False, 512),
    Artifact("confusion_matrix.png", False, 20480),
]


class CannedFetcher:
    """A stand-in for the app's on-demand fetcher that returns canned histories and artifacts.

    UI tests need histories and artifact listings without a tracking server; the real fetcher
    (`mlopstui.ui.app.OnDemand`, MLflow over HTTP) is covered by the integration tests.
    Given the cache, it stores the histories behind min/max ('metric_ranges') there, as the
    real one does. `fail` makes every call raise it instead, to show how the screens cope.
    """

    def __init__(
        self,
        histories: dict[str, list[tuple[int, int, float]]] | None = None,
        artifacts: list[Artifact] | None = None,
        fail: Exception | None = None,
        cache: Path | None = None,
    ) -> None:
        self.histories = CANNED_HISTORY if histories is None else histories
        self.artifacts = CANNED_ARTIFACTS if artifacts is None else artifacts
        self.fail = fail
        self.cache = cache
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.real: Any = None
        """The app's own fetcher, for fetches that need no server (the kubeconfig's contexts)."""

    def __call__(self, what: str, **kwargs: Any) -> Any:
        self.calls.append((what, kwargs))
        if self.fail is not None:
            raise self.fail
        if what == "metric_history":
            return list(self.histories.get(kwargs["key"], []))
        if what == "metric_ranges":
            assert self.cache is not None, "CannedFetcher(cache=...) to store ranges"
            writer = db.Writer(db.open_writer(self.cache))
            try:
                with writer.transaction() as conn:
                    for run in kwargs["run_ids"]:
                        for key in kwargs["keys"]:
                            points = self.histories.get(key, [])
                            run_store.store_metric_history(conn, run, key, points)
            finally:
                writer.close()
            return len(kwargs["run_ids"]) * len(kwargs["keys"])
        if what == "artifacts":
            return list(self.artifacts)
        if self.real is not None:
            return self.real(what, **kwargs)
        raise ValueError(f"unknown fetch {what!r}")


def make_settings(cache: Path, *, read_only: bool = False) -> config.Settings:
    """Settings for a test: this cache, a dead tracking server, the fixed theme, no user file."""
    return config.load(
        flags={
            "cache": str(cache),
            "mlflow.tracking_uri": DEAD_SERVER,
            "read_only": True if read_only else None,
            "ui.theme": THEME,
        },
        environ={},
    )


def make_app(
    cache: Path,
    *,
    read_only: bool = False,
    fetcher: Callable[..., Any] | None = None,
    settings: config.Settings | None = None,
    pipeline: Any = None,
) -> MlopsApp:
    """The workbench app over `cache`, sync off, with an audit log of its own beside the cache.
    Close `app.workbench` and `app.pipeline` when done."""
    from mlopstui.actions.wiring import build_pipeline

    workbench = Workbench(settings or make_settings(cache, read_only=read_only))
    if pipeline is None:
        pipeline = build_pipeline(
            workbench, audit_path=cache.with_name(f"{cache.stem}-audit.sqlite")
        )
    canned = fetcher or CannedFetcher()
    if isinstance(canned, CannedFetcher) and canned.real is None:
        from mlopstui.ui.app import OnDemand

        canned.real = OnDemand(workbench)
    return MlopsApp(workbench, start_sync=False, fetcher=canned, pipeline=pipeline)


async def jobs_settled(pilot: Any, timeout: float = 10.0) -> None:
    """Let the app handle what is queued (a key press that starts a fetch, a count, an action
    step), wait until no background job is in flight (`ui.background.settled`: every result
    handed to its handler), then let it draw what they handed back."""
    await pilot.pause()
    await background.settled(pilot.app, timeout)
    await pilot.pause()


async def wait_for(pilot: Any, predicate: Callable[[], object], timeout: float = 5.0) -> None:
    """Let the app run until `predicate()` is true (for what no background job announces:
    screens being pushed, sync messages; background results: `jobs_settled`)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        await pilot.pause(0.02)
    await pilot.pause()


def screen_text(app: MlopsApp) -> str:
    """The text on screen, one line per terminal row, as the compositor renders it."""
    strips = app.screen._compositor.render_strips()  # noqa: SLF001 - no public equivalent
    return "\n".join(strip.text for strip in strips)


def terminal_output(app: MlopsApp) -> str:
    """What a full repaint writes to the terminal: the text plus Textual's own escapes."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
    )
    console.print(app.screen._compositor.render_update(full=True))  # noqa: SLF001
    return console.file.getvalue()  # type: ignore[attr-defined]


def status_text(app: MlopsApp) -> str:
    """The status bar's text."""
    from mlopstui.ui.status import StatusBar

    return str(app.query_one(StatusBar).render())


def notifications(app: MlopsApp) -> list[tuple[str, str]]:
    """(message, severity) of the toasts raised so far (Textual keeps no public list)."""
    return [(n.message, n.severity) for n in app._notifications]  # noqa: SLF001


def run_index(run_id: str, experiment_id: str | None = None) -> int:
    """Where a seeded run sits in the default order (start time, newest first)."""
    return [r.run_id for r in seeded(experiment_id)].index(run_id)


def detail_section(app: MlopsApp, name: str) -> str:
    """The plain text of one section (`#run-<name>`) of the run detail screen, as drawn."""
    widget = app.screen.query_one(f"#run-{name}")
    return "\n".join(line.text for line in widget.render_lines(widget.region.reset_offset))


def tiny_png(width: int, height: int) -> bytes:
    """A valid grey PNG of the given size (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
