"""Plain values shared by adapters, cache, sync, CLI and UI. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Experiment:
    """An MLflow experiment as cached."""

    experiment_id: str
    name: str
    lifecycle: str = "active"
    artifact_location: str = ""
    creation_time: int | None = None
    last_update_time: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    run_count: int = 0
    last_activity: int | None = None


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric's latest value; min/max are known once its history has been fetched."""

    key: str
    value: float
    step: int = 0
    timestamp: int = 0
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class Dataset:
    """A dataset input of a run, as MLflow logs it (`mlflow.log_input`): what it is called,
    its digest, and the context it was used in (the `mlflow.data.context` input tag)."""

    name: str
    digest: str = ""
    context: str | None = None


@dataclass(frozen=True, slots=True)
class Run:
    """An MLflow run as cached: attributes plus params, latest metrics and tags."""

    run_id: str
    experiment_id: str
    name: str = ""
    status: str = "RUNNING"
    start_time: int | None = None
    end_time: int | None = None
    user: str = ""
    lifecycle: str = "active"
    artifact_uri: str = ""
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: tuple[Dataset, ...] = ()

    @property
    def source(self) -> str:
        """Where the run came from (the script or notebook MLflow recorded)."""
        return self.tags.get("mlflow.source.name", "")

    @property
    def parent_run_id(self) -> str | None:
        """The parent run for nested runs."""
        return self.tags.get("mlflow.parentRunId") or None

    def duration_ms(self, now_ms: int) -> int | None:
        """Run time so far (running) or in total (finished)."""
        if self.start_time is None:
            return None
        end = self.end_time or (now_ms if self.status == "RUNNING" else None)
        return None if end is None else max(0, end - self.start_time)


@dataclass(frozen=True, slots=True)
class SyncRecord:
    """One sync attempt: a job (`Job.name`) of a feed (`source`, as `sync_runs` calls it)."""

    source: str
    job: str
    started: float
    finished: float | None
    ok: bool
    error: str | None
    rows: int


@dataclass(frozen=True, slots=True)
class JobFreshness:
    """How one job of a feed stands: its last success and its current failure streak.

    A streak ends only with a success of the same job: a heartbeat that answers says nothing
    about a runs pass that keeps failing (HTTP 500, a full disk, a damaged cache)."""

    job: str
    last_ok: float | None
    """When the job last succeeded (finished)."""
    failing_since: float | None
    """When its current failure streak began (None: its last attempt succeeded)."""
    error: str | None
    """Why its last attempt failed (None when it did not)."""
    last_attempt: float | None = None
    """When it last ran (finished or failed)."""
    heartbeat: bool = False
    """A liveness check: its successes are not data ('synced' counts data jobs only)."""


@dataclass(frozen=True, slots=True)
class Freshness:
    """How fresh a feed's data is, for the status bar and panes: the worst of its jobs."""

    source: str
    """The feed."""
    last_ok: float | None
    """When a data job of the feed last succeeded."""
    failing_since: float | None
    """When the earliest failure streak among its jobs began (None: none is failing)."""
    last_error: str | None
    """The newest reason among its failing jobs."""
    failing_job: str | None = None
    """The job that reported `last_error` ('runs', 'registry', 'health', ...)."""

    @property
    def state(self) -> str:
        """'never', 'ok' or 'failing'."""
        if self.failing_since is not None:
            return "failing"
        return "ok" if self.last_ok is not None else "never"

    @classmethod
    def of(cls, feed: str, jobs: Iterable[JobFreshness]) -> Freshness:
        """A feed's freshness from its jobs': failing while any job is failing."""
        last_ok: float | None = None
        since: float | None = None
        newest: JobFreshness | None = None
        for j in jobs:
            if not j.heartbeat and j.last_ok is not None:
                last_ok = j.last_ok if last_ok is None else max(last_ok, j.last_ok)
            if j.failing_since is None:
                continue
            since = j.failing_since if since is None else min(since, j.failing_since)
            if newest is None or (j.last_attempt or 0) >= (newest.last_attempt or 0):
                newest = j
        return cls(
            feed,
            last_ok,
            since,
            newest.error if newest else None,
            newest.job if newest else None,
        )

    @staticmethod
    def worst(items: Iterable[Freshness]) -> Freshness | None:
        """The entry a combined status shows: a failing feed (the longest failing), else one
        never synced, else the one synced longest ago."""

        def rank(f: Freshness) -> tuple[int, float]:
            if f.state == "failing":
                return (0, f.failing_since or 0.0)
            if f.state == "never":
                return (1, 0.0)
            return (2, f.last_ok or 0.0)

        return min(items, key=rank, default=None)


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A registered model: its aliases (alias -> version) and newest version."""

    name: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    latest_version: str | None = None
    version_count: int = 0
    creation_time: int | None = None
    last_updated: int | None = None


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One version of a registered model. `version` is always a str (MLflow's REST API gives a
    str, its embedded store an int); `aliases` are those pointing at this version."""

    name: str
    version: str
    status: str = "READY"
    run_id: str = ""
    source: str = ""
    creation_time: int | None = None
    last_updated: int | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One move of an alias: made by this tool ('promote', 'rollback', 'delete') or noticed by
    the sync ('observed'; 'seen' when the alias was first cached). None = no target."""

    model: str
    alias: str
    from_version: str | None
    to_version: str | None
    at: float
    who: str = ""
    how: str = "observed"
