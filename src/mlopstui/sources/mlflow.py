"""The MLflow source: runs, the model registry and a heartbeat from one tracking server.

Feeds "mlflow" (jobs "runs" and, over HTTP, "health") and "mlflow-registry" (job "registry"),
each with its own freshness, so a failing runs pass shows however well the registry syncs (and
the other way round); topics "experiments",
"runs", "models"; registry actions (promote, rollback, alias and tag edits); on-demand metric
histories and artifact listings. Clients are built on first use in the sync threads: opening
imports neither MLflow nor requests.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from mlopstui.sources import Check, Source, SourceEnv, SourceInfo, StatusItem
from mlopstui.text import clean, redact

if TYPE_CHECKING:
    from mlopstui.actions.pipeline import Executor
    from mlopstui.adapters.mlflow import MlflowSource as MlflowClient
    from mlopstui.sync.mlflow_registry import MlflowRegistrySync
    from mlopstui.sync.mlflow_runs import MlflowRunSync
    from mlopstui.sync.scheduler import Job

HEARTBEAT_INTERVAL = 3.0
HEARTBEAT_TIMEOUT = 2.0
NAME = "mlflow"
REGISTRY_FEED = "mlflow-registry"


class MlflowSource(Source):
    """One MLflow tracking server (or the embedded local store)."""

    name = NAME
    title = "MLflow"
    api_version = 1
    topics = frozenset({"experiments", "runs", "models"})
    feeds = (NAME, REGISTRY_FEED)
    fetches = frozenset({"metric_history", "metric_ranges", "artifacts", "artifact_file"})

    def __init__(self, env: SourceEnv) -> None:
        super().__init__(env)
        self.settings = env.settings
        self._client: MlflowClient | None = None
        self._run_sync: MlflowRunSync | None = None
        self._registry_sync: MlflowRegistrySync | None = None
        self._heartbeat_client: MlflowClient | None = None

    def _new_client(self, timeout: float, max_retries: int) -> MlflowClient:
        from mlopstui.adapters.mlflow import MlflowSource as Client

        s = self.settings.mlflow
        return Client(
            self.settings.tracking_uri,
            timeout=timeout,
            max_retries=max_retries,
            deadline=s.request_deadline,
            max_bytes=s.max_response_mb << 20,
        )

    @property
    def client(self) -> MlflowClient:
        """The client the sync and fetches share (built on first use)."""
        if self._client is None:
            s = self.settings.mlflow
            self._client = self._new_client(s.request_timeout, s.max_retries)
        return self._client

    @property
    def run_sync(self) -> MlflowRunSync:
        """The incremental run sync."""
        if self._run_sync is None:
            from mlopstui.sync.mlflow_runs import MlflowRunSync

            s = self.settings.mlflow
            self._run_sync = MlflowRunSync(
                self.client,
                self.env.writer,
                page_size=s.page_size,
                sweep_interval=s.sweep_interval,
                on_batch=lambda topics: self.env.announce(NAME, topics),
            )
        return self._run_sync

    @property
    def registry_sync(self) -> MlflowRegistrySync:
        """The model registry sync (a full snapshot each pass)."""
        if self._registry_sync is None:
            from mlopstui.adapters.mlflow_registry import MlflowRegistry
            from mlopstui.sync.mlflow_registry import MlflowRegistrySync

            self._registry_sync = MlflowRegistrySync(
                MlflowRegistry(self.client),
                self.env.writer,
                on_batch=lambda topics: self.env.announce(REGISTRY_FEED, topics),
            )
        return self._registry_sync

    def _heartbeat(self) -> int:
        """A cheap request between polls, so a dead server shows within seconds.

        It has a client of its own: lowering the shared client's timeout would also cut short
        a page the runs job is fetching at that moment on its own thread.
        """
        if self._heartbeat_client is None:
            timeout = min(self.settings.mlflow.request_timeout, HEARTBEAT_TIMEOUT)
            self._heartbeat_client = self._new_client(timeout, 0)
        self._heartbeat_client.ping()
        return 0

    def jobs(self, *, heartbeat: bool = True) -> list[Job]:
        from mlopstui.sync.scheduler import Job

        interval = self.settings.mlflow.poll_interval
        jobs = [
            Job(NAME, "runs", interval, lambda: self.run_sync.sync_once()),
            Job(REGISTRY_FEED, "registry", interval, lambda: self.registry_sync.sync_once()),
        ]
        if heartbeat and self.settings.tracking_uri.startswith(("http://", "https://")):
            jobs.append(Job(NAME, "health", HEARTBEAT_INTERVAL, self._heartbeat, quiet_ok=True))
        return jobs

    def action_timeout(self) -> float:
        return self.settings.mlflow.request_timeout * 2

    def focus(self, hint: str) -> None:
        """Sync this experiment's runs first."""
        self.run_sync.focus_experiment = hint

    # ------------------------------------------------------------------ writes

    def executors(self) -> list[Executor]:
        from mlopstui.actions import mlflow_registry as registry_actions
        from mlopstui.adapters.mlflow_registry import MlflowRegistry

        # Its own client (own HTTP session, no retries): an action never waits behind a page.
        client = self._new_client(self.settings.mlflow.request_timeout, 0)
        label = self.info().audit_label
        return list(
            registry_actions.executors(
                MlflowRegistry(client),
                self.env.writer,
                self.env.reader,
                lambda: label,
                self.env.user,
            )
        )

    # ------------------------------------------------------------------ display

    def info(self) -> SourceInfo:
        s = self.settings
        return SourceInfo(
            NAME,
            s.tracking_label,
            audit_label=redact(s.tracking_source),
            read_only=self.read_only(),
            details={"local_store": s.is_local_store},
        )

    def status(self) -> list[StatusItem]:
        return [StatusItem(self.settings.tracking_label, feed=NAME, feeds=(REGISTRY_FEED,))]

    def headline(self) -> str | None:
        return self.settings.tracking_label

    def fetch(self, what: str, **kwargs: Any) -> Any:
        from mlopstui.cache import runs as run_store

        client = self.client
        writer = self.env.writer
        if what == "metric_history":
            points = client.metric_history(kwargs["run_id"], kwargs["key"])
            with writer.transaction() as conn:
                run_store.store_metric_history(conn, kwargs["run_id"], kwargs["key"], points)
            return points
        if what == "metric_ranges":
            # min/max need the whole history: MLflow's search returns only the latest value.
            fetched = 0
            for run_id in kwargs["run_ids"]:
                histories = {k: client.metric_history(run_id, k) for k in kwargs["keys"]}
                with writer.transaction() as conn:
                    for key, points in histories.items():
                        run_store.store_metric_history(conn, run_id, key, points)
                fetched += len(histories)
            return fetched
        if what == "artifacts":
            return client.artifacts(kwargs["run_id"], kwargs.get("path"))
        if what == "artifact_file":
            from mlopstui.adapters.mlflow_artifacts import read_artifact

            return read_artifact(client, kwargs["run_id"], kwargs["path"], size=kwargs.get("size"))
        return super().fetch(what, **kwargs)

    # ------------------------------------------------------------------ health

    def check(self) -> list[Check]:
        from mlopstui.adapters import SourceError

        env = os.environ
        if env.get("MLFLOW_TRACKING_TOKEN"):
            auth = "bearer token from MLFLOW_TRACKING_TOKEN"
        elif env.get("MLFLOW_TRACKING_USERNAME"):
            auth = "basic auth from MLFLOW_TRACKING_USERNAME/PASSWORD"
        else:
            auth = "no credentials"
        uri = self.settings.tracking_uri
        if ":" not in uri and not uri.startswith("/") and uri != "databricks":
            return [
                Check(
                    NAME,
                    False,
                    f"{redact(uri)}: not a tracking URI; expected http(s)://HOST, "
                    "sqlite:///PATH, file:PATH or another MLflow store URI",
                )
            ]
        missing = _missing_store(uri, default=self.settings.is_local_store)
        if missing:
            return [missing]
        client = self._new_client(self.settings.mlflow.request_timeout, 0)
        try:
            return [Check(NAME, True, f"{redact(client.ping())} ({auth})")]
        except SourceError as exc:
            return [Check(NAME, False, redact(str(exc)))]
        except ImportError as exc:
            return [
                Check(NAME, False, f"{exc}; the local store needs `pip install 'mlopstui[local]'`")
            ]
        except Exception as exc:  # a doctor never prints a traceback
            reason = clean(" ".join(str(exc).split()), limit=200)
            return [Check(NAME, False, f"{redact(uri)}: {type(exc).__name__}: {reason}")]

    def close(self) -> None:
        for client in (self._client, self._heartbeat_client):
            closer = getattr(client, "close", None)
            if closer is not None:
                closer()


def _missing_store(uri: str, *, default: bool) -> Check | None:
    """A check for a local store that is not there: `doctor` never creates one (MLflow
    would create the file, and the folders above it, on first open). The embedded default
    store not there yet is fine (the first sync or `mlopstui demo` creates it); a configured
    one in a missing folder is most likely a typo."""
    from pathlib import Path
    from urllib.parse import urlparse

    if uri.startswith("sqlite:///"):
        # SQLAlchemy: sqlite:///relative/path, sqlite:////absolute/path
        path = Path(uri[len("sqlite:///") :].split("?", 1)[0])
    elif uri.startswith("file:"):
        path = Path(urlparse(uri).path)
    else:
        return None
    if not path.parent.is_dir() and not default:
        return Check(NAME, False, f"{redact(uri)}: the folder {path.parent} does not exist")
    if not path.exists():
        return Check(NAME, None, f"{redact(uri)}: no store there yet (created on first sync)")
    return None
