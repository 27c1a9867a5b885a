"""The Source contract: what every data source (built-in or plugin) is and provides.

A source is one backend the workbench reads and writes: MLflow, a Kubernetes cluster, the GPU
metrics feeds, a team's quota service. It is the unit the rest of the workbench loops over:
the workbench starts its sync jobs, the action pipeline takes its executors and its read-only
rule, the status bar shows its feeds, `PaneContext.source_info` and `fetch` answer from it,
`mlopstui doctor` runs its checks and `mlopstui sync --once` its jobs. Nothing outside a
source's own modules names it.

Lifecycle (all headless, none of it on the UI loop unless said so):

    cls(env)        open: cheap, no network, no backend client import (a first frame waits
                    on nothing); keep `env` and build clients lazily
    jobs()          the sync jobs, called once when sync starts (a background thread may
                    call the returned `Job.run`s; each job records its own freshness)
    executors()     the write actions it can do, called once when the pipeline is built
    read_only()     whether its writes are removed now (any thread, cheap)
    info()          typed facts for display (never a credential)
    status()        what the status bar shows of it (UI thread: cheap, no I/O)
    fetch(what)     on-demand data for a pane (a worker thread)
    check()         health checks for `mlopstui doctor` (may do network I/O)
    close()         release clients and connections (after sync has stopped)

Names: `name` is the source's config section (`[mlflow]`, or `[sources.<name>]` for a plugin),
`Action.source` of its actions, and the key of `source_info`. A source writes sync records
under one or more *feeds* (`sync_runs.source`, what freshness is kept per: MLflow has
"mlflow" for its runs and heartbeat and "mlflow-registry" for the registry; the GPU source has
one for DCGM and one for NVML, each with its own freshness and backoff). A feed's freshness is
the worst of its jobs, and a job's failure streak ends only with its own success. Panes subscribe to cache *topics* ("runs", "models", "nodes"), which the source lists
in `topics` and announces through `env.announce(feed, topics)` after writing.

Plugins register a `Source` subclass under the `mlopstui.sources` entry-point group; see
`mlopstui.sources.catalog` for how they are found and ARCHITECTURE.md for the checklist.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from mlopstui.actions.pipeline import Executor
    from mlopstui.cache.db import Writer
    from mlopstui.config import Settings
    from mlopstui.sync.scheduler import Job

SOURCE_API_VERSION = 1
"""Bumped when the Source contract changes incompatibly; a plugin declares the one it targets."""

Announce = Callable[[str, set[str]], None]
"""`announce(feed, topics)`: tell the panes that topics changed in the cache."""


@dataclass(frozen=True)
class SourceEnv:
    """What a source is opened with. Nothing in it reaches the UI."""

    settings: Settings
    """The session's settings (a built-in source reads its own section, e.g. `settings.gpu`)."""
    config: Mapping[str, Any]
    """A plugin source's own section of the config file, `[sources.<name>]`, as plain values
    ({} when absent); built-in sources have typed sections on `settings` instead."""
    writer: Writer
    """The cache's one writer connection (`with writer.transaction() as conn: ...`)."""
    reader: Callable[[], sqlite3.Connection]
    """Opens a new read-only connection to the cache."""
    announce: Announce
    """`announce(feed, topics)` after a write, so panes reading those topics refresh."""
    user: str = ""
    """The person running the session (for audit records and executors)."""


@dataclass(frozen=True)
class SourceInfo:
    """What a pane or the CLI may know about a source, as plain values (no credentials)."""

    name: str
    label: str
    """How the source is named on screen: 'local store', a server URL without credentials."""
    audit_label: str = ""
    """How it is named in confirmations and the audit log (defaults to `label`)."""
    configured: bool = True
    """False when the session has nothing to talk to (e.g. no kubeconfig)."""
    read_only: bool = False
    """Whether its write actions are removed now."""
    context: str | None = None
    """A pinned context (Kubernetes), or None."""
    production: bool = False
    """The context matches the production patterns (drawn in the danger colour)."""
    error: str | None = None
    """Why the source cannot be used this session, if it cannot."""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Source-specific facts its panes show (thresholds, server, contexts, ...)."""

    def as_dict(self) -> dict[str, Any]:
        """The facts as one flat dict (`details` merged in), as `PaneContext.source_info`
        hands them to panes."""
        out: dict[str, Any] = {
            "name": self.name,
            "label": self.label,
            "audit_label": self.audit_label or self.label,
            "configured": self.configured,
            "read_only": self.read_only,
            "context": self.context,
            "production": self.production,
            "error": self.error,
        }
        out.update(self.details)
        return out


@dataclass(frozen=True)
class StatusItem:
    """One entry of the status bar, shown on every pane.

    With a `feed`, the bar shows '● <feed> <label> synced 10:42' (or why it is failing);
    without one it shows `icon label` as a badge (the pinned Kubernetes context)."""

    label: str
    feed: str | None = None
    feeds: tuple[str, ...] = ()
    """More feeds folded into this entry: the bar shows the worst of `feed` and these, named
    (so a failing registry shows as `mlflow-registry` however healthy the runs are)."""
    icon: str = ""
    danger: bool = False
    """Draw in the danger colour (a production context)."""


@dataclass(frozen=True)
class Check:
    """One line of `mlopstui doctor`: ok True (OK), False (FAIL) or None (not used here)."""

    name: str
    ok: bool | None
    detail: str


class Source:
    """Base class of every source. Subclasses set the class attributes and override what they
    provide; the defaults describe a source that provides nothing of that kind.

    Subclasses must set `name`, `title`, `api_version` and `topics` (and `feeds` when the
    sync records are written under other names than `name`).
    """

    name: ClassVar[str] = ""
    """Config section, `Action.source`, the key of `source_info`; lowercase, unique."""
    title: ClassVar[str] = ""
    """Human name ('MLflow', 'Kubernetes')."""
    api_version: ClassVar[int]
    """The SOURCE_API_VERSION this source was written for (no default: declare it)."""
    topics: ClassVar[frozenset[str]] = frozenset()
    """Cache topics this source writes (panes subscribe to these)."""
    feeds: ClassVar[tuple[str, ...]] = ()
    """Names its sync records are kept under (freshness per feed); () means (name,)."""
    fetches: ClassVar[frozenset[str]] = frozenset()
    """On-demand fetches `fetch(what)` answers ('metric_history', 'artifacts', ...)."""

    def __init__(self, env: SourceEnv) -> None:
        """Open the source: keep `env`, read settings. No network, no client import."""
        self.env = env

    # ------------------------------------------------------------------ sync

    @classmethod
    def feed_names(cls) -> tuple[str, ...]:
        """The feeds whose freshness this source keeps."""
        return cls.feeds or (cls.name,)

    def jobs(self, *, heartbeat: bool = True) -> list[Job]:
        """The sync jobs to run (each `Job(feed, name, interval, run)`). `heartbeat=False`
        leaves out jobs that only check liveness (`mlopstui sync --once` runs without them).
        [] when the source is not configured. Called once per session."""
        return []

    def focus(self, hint: str) -> None:
        """A pane's hint of what the person is looking at, so the next sync does that first
        (e.g. an experiment id). Ignored by default."""

    # ------------------------------------------------------------------ writes

    def executors(self) -> list[Executor]:
        """The action executors this source offers (k9s-style capabilities: an action exists
        only where the source can do it). Each executor's `source` is `self.name`. Called
        once, when the session's action pipeline is built (off the first frame)."""
        return []

    def read_only(self) -> bool:
        """Whether writes against this source are removed now: the global switch, or the
        source's own `read_only` setting (its typed section for a built-in, its
        `[sources.<name>]` table for a plugin) by default."""
        settings = self.env.settings
        if settings.read_only or bool(self.env.config.get("read_only", False)):
            return True
        return bool(getattr(getattr(settings, self.name, None), "read_only", False))

    def action_timeout(self) -> float:
        """Seconds the pipeline waits for one of its actions before the outcome is
        'unknown - verify' (at least the pipeline's own 30 s is always given)."""
        return 0.0

    # ------------------------------------------------------------------ display

    def info(self) -> SourceInfo:
        """Facts for display (panes through `PaneContext.source_info`, the CLI). May read a
        local file (a kubeconfig); never the network, never a credential."""
        return SourceInfo(self.name, self.title or self.name, read_only=self.read_only())

    def status(self) -> list[StatusItem]:
        """What the status bar shows of this source, on the UI thread every time sync
        announces something: cheap, no I/O. Default: nothing."""
        return []

    def headline(self) -> str | None:
        """A short label for the top bar (the tracking server), or None. Cheap, no I/O."""
        return None

    def fetch(self, what: str, **kwargs: Any) -> Any:
        """On-demand data a pane asked for (`what` is one of `fetches`); runs in a worker
        thread, may write the cache. Raises SourceError when the backend fails."""
        raise ValueError(f"{self.name} has no fetch {what!r}")

    # ------------------------------------------------------------------ health, close

    def check(self) -> list[Check]:
        """Health checks for `mlopstui doctor` (network allowed, bounded by the source's own
        timeouts). Raise nothing: a failing backend is a Check with ok=False."""
        return []

    def close(self) -> None:
        """Release clients, connections and libraries. Called once, after sync stopped."""


__all__ = [
    "SOURCE_API_VERSION",
    "Announce",
    "Check",
    "Source",
    "SourceEnv",
    "SourceInfo",
    "StatusItem",
]
