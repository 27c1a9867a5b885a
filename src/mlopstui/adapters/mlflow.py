"""MLflow tracking server adapter.

Against an HTTP server it speaks MLflow's documented REST API with a keep-alive `requests`
session, honouring MLflow's own variables (MLFLOW_TRACKING_TOKEN, USERNAME/PASSWORD,
MLFLOW_TRACKING_INSECURE_TLS, SERVER_CERT_PATH, CLIENT_CERT_PATH). Importing the MLflow client
for that would cost ~1.2 s and ~140 MB of RSS, and building its protobuf/entity objects is most
of its overhead over raw REST. The embedded `sqlite:`/`file:` store goes through `MlflowClient`,
imported on first use, never at app start.

MLflow's client retries 7 times with a 120 s timeout by default (about 4 minutes before a dead
server shows as dead); we pass our own retries and timeout on every request instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlopstui.adapters import SourceAuthError, SourceError, SourceUnreachable
from mlopstui.domain import Experiment, Metric, Run

SOURCE = "mlflow"


@dataclass(frozen=True)
class Artifact:
    """One entry of a run's artifact listing."""

    path: str
    is_dir: bool
    size: int | None


def _run_from_json(payload: dict[str, Any]) -> Run:
    info, data = payload.get("info", {}), payload.get("data", {})
    metrics = {}
    for m in data.get("metrics", []):
        metrics[m["key"]] = Metric(
            m["key"],
            float(m.get("value", "nan")),
            int(m.get("step", 0)),
            int(m.get("timestamp", 0)),
        )
    tags = {t["key"]: t.get("value", "") for t in data.get("tags", [])}
    return Run(
        run_id=info["run_id"],
        experiment_id=str(info.get("experiment_id", "")),
        name=info.get("run_name") or tags.get("mlflow.runName", ""),
        status=info.get("status", ""),
        start_time=int(info["start_time"]) if info.get("start_time") else None,
        end_time=int(info["end_time"]) if info.get("end_time") else None,
        user=info.get("user_id") or tags.get("mlflow.user", ""),
        lifecycle=info.get("lifecycle_stage", "active"),
        artifact_uri=info.get("artifact_uri", ""),
        params={p["key"]: p.get("value", "") for p in data.get("params", [])},
        metrics=metrics,
        tags=tags,
    )


def _run_from_entity(run: Any) -> Run:
    info, data = run.info, run.data
    metrics = {
        m.key: Metric(m.key, float(m.value), int(m.step), int(m.timestamp))
        for m in getattr(data, "_metric_objs", [])
    } or {k: Metric(k, float(v)) for k, v in data.metrics.items()}
    return Run(
        run_id=info.run_id,
        experiment_id=str(info.experiment_id),
        name=info.run_name or "",
        status=info.status,
        start_time=info.start_time,
        end_time=info.end_time,
        user=info.user_id or data.tags.get("mlflow.user", ""),
        lifecycle=info.lifecycle_stage,
        artifact_uri=info.artifact_uri or "",
        params=dict(data.params),
        metrics=metrics,
        tags=dict(data.tags),
    )


class MlflowSource:
    """Reads experiments, runs, metric histories and artifact listings from one server."""

    def __init__(self, tracking_uri: str, *, timeout: float = 5.0, max_retries: int = 0) -> None:
        self.uri = tracking_uri
        self.timeout = timeout
        self.max_retries = max_retries
        self.is_http = tracking_uri.startswith(("http://", "https://"))
        self._creds: Any = None
        self._client: Any = None

    # -- transport

    def _session(self) -> Any:
        """A keep-alive session with MLflow's own credential and TLS variables."""
        if self._creds is None:
            import requests

            from mlopstui import __version__

            session = requests.Session()
            session.headers["User-Agent"] = f"mlopstui/{__version__}"
            env = os.environ
            if env.get("MLFLOW_TRACKING_TOKEN"):
                session.headers["Authorization"] = f"Bearer {env['MLFLOW_TRACKING_TOKEN']}"
            elif env.get("MLFLOW_TRACKING_USERNAME"):
                session.auth = (
                    env["MLFLOW_TRACKING_USERNAME"],
                    env.get("MLFLOW_TRACKING_PASSWORD", ""),
                )
            if env.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
                session.verify = False
            elif env.get("MLFLOW_TRACKING_SERVER_CERT_PATH"):
                session.verify = env["MLFLOW_TRACKING_SERVER_CERT_PATH"]
            if env.get("MLFLOW_TRACKING_CLIENT_CERT_PATH"):
                session.cert = env["MLFLOW_TRACKING_CLIENT_CERT_PATH"]
            self._creds = session
        return self._creds

    def _request(self, method: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """One REST call with our timeout and retries (connection errors, 429 and 5xx)."""
        import time

        import requests

        session = self._session()
        url = self.uri.rstrip("/") + endpoint
        # Like MLflow's own REST store: a query string for GET, a JSON body for everything else
        # (its DELETE endpoints, e.g. registered-models/alias, read the body).
        kwargs = {"params": body} if method == "GET" else {"json": body}
        for attempt in range(self.max_retries + 1):
            try:
                resp = session.request(method, url, timeout=self.timeout, **kwargs)
            except requests.exceptions.RequestException as exc:
                if attempt < self.max_retries:
                    time.sleep(0.5 * 2**attempt)
                    continue
                raise SourceUnreachable(f"{self.uri} did not answer: {self._reason(exc)}") from None
            if resp.status_code in (429, 500, 502, 503, 504) and attempt < self.max_retries:
                time.sleep(0.5 * 2**attempt)
                continue
            break
        if resp.status_code in (401, 403):
            raise SourceAuthError(
                f"{self.uri} refused the credentials (HTTP {resp.status_code}); "
                "set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD"
            )
        if resp.status_code != 200:
            code = ""
            try:
                payload = resp.json()
                message, code = payload.get("message", ""), payload.get("error_code", "")
            except (ValueError, AttributeError):
                message = resp.text[:200]
            error = SourceError(f"{self.uri} answered HTTP {resp.status_code}: {message}")
            error.status = resp.status_code
            error.error_code = code
            raise error
        try:
            return resp.json()
        except ValueError:
            raise SourceError(
                f"{self.uri} did not answer with JSON; is it an MLflow server?"
            ) from None

    def _reason(self, exc: BaseException) -> str:
        """Why a request failed, in a few words (MLflow's own message buries it at the end)."""
        parts, seen = [], set()
        cur: BaseException | None = exc
        while cur is not None and id(cur) not in seen:
            seen.add(id(cur))
            parts.append(f"{type(cur).__name__}: {cur}")
            cur = cur.__cause__ or cur.__context__
        text = " ".join(parts)
        low = text.lower()
        if "connection refused" in low or "errno 111" in low:
            return "connection refused (is the server running?)"
        if "timeout" in low or "timed out" in low:
            return f"no answer within {self.timeout:g} s"
        if "name or service not known" in low or "failed to resolve" in low:
            return "host name not found"
        if "ssl" in low or "certificate" in low:
            return f"TLS error: {_short(exc)}"
        if "remotedisconnected" in low or "connection reset" in low or "aborted" in low:
            return "the server closed the connection"
        return _short(exc)

    def client(self) -> Any:
        """The official client (embedded store, artifacts)."""
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(self.uri)
        return self._client

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SourceError:
            raise
        except Exception as exc:
            text = _short(exc)
            if "401" in text or "403" in text or "Unauthorized" in text:
                raise SourceAuthError(f"{self.uri} refused the credentials: {text}") from None
            if "Connection" in text or "timed out" in text or "Max retries" in text:
                raise SourceUnreachable(f"{self.uri} did not answer: {text}") from None
            raise SourceError(f"{self.uri}: {text}") from None

    # -- reads

    def ping(self) -> str:
        """Check the server answers; returns a short description for `doctor`."""
        if self.is_http:
            self._request("POST", "/api/2.0/mlflow/experiments/search", {"max_results": 1})
            return f"{self.uri} answers"
        self._call(self.client().search_experiments, max_results=1)
        return f"{self.uri} opens"

    def experiments(self) -> list[Experiment]:
        """Every experiment, active and deleted."""
        out: list[Experiment] = []
        if self.is_http:
            token = None
            while True:
                body: dict[str, Any] = {"max_results": 1000, "view_type": "ALL"}
                if token:
                    body["page_token"] = token
                resp = self._request("POST", "/api/2.0/mlflow/experiments/search", body)
                for e in resp.get("experiments", []):
                    out.append(
                        Experiment(
                            str(e["experiment_id"]),
                            e.get("name", ""),
                            e.get("lifecycle_stage", "active"),
                            e.get("artifact_location", ""),
                            _int(e.get("creation_time")),
                            _int(e.get("last_update_time")),
                            {t["key"]: t.get("value", "") for t in e.get("tags", [])},
                        )
                    )
                token = resp.get("next_page_token")
                if not token:
                    return out
        from mlflow.entities import ViewType

        for e in self._call(self.client().search_experiments, view_type=ViewType.ALL):
            out.append(
                Experiment(
                    str(e.experiment_id),
                    e.name,
                    e.lifecycle_stage,
                    e.artifact_location or "",
                    e.creation_time,
                    e.last_update_time,
                    dict(e.tags),
                )
            )
        return out

    def search_runs(
        self,
        experiment_ids: list[str],
        *,
        filter_string: str = "",
        order_by: list[str] | None = None,
        page_size: int = 1000,
        max_pages: int | None = None,
        view: str = "ACTIVE_ONLY",
    ) -> Iterator[list[Run]]:
        """Yield pages of runs (ACTIVE_ONLY or DELETED_ONLY) matching a filter, in order."""
        pages = 0
        if self.is_http:
            token = None
            while True:
                body: dict[str, Any] = {
                    "experiment_ids": experiment_ids,
                    "filter": filter_string,
                    "max_results": page_size,
                    "order_by": order_by or [],
                    "run_view_type": view,
                }
                if token:
                    body["page_token"] = token
                resp = self._request("POST", "/api/2.0/mlflow/runs/search", body)
                yield [_run_from_json(r) for r in resp.get("runs", [])]
                pages += 1
                token = resp.get("next_page_token")
                if not token or (max_pages and pages >= max_pages):
                    return
        else:
            from mlflow.entities import ViewType

            token = None
            while True:
                page = self._call(
                    self.client().search_runs,
                    experiment_ids,
                    filter_string=filter_string,
                    run_view_type=ViewType.from_string(view.lower()),
                    max_results=page_size,
                    order_by=order_by or None,
                    page_token=token,
                )
                yield [_run_from_entity(r) for r in page]
                pages += 1
                token = page.token
                if not token or (max_pages and pages >= max_pages):
                    return

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, int, float]]:
        """(step, timestamp, value) of a metric, as MLflow keeps it (up to 25,000 points)."""
        if self.is_http:
            points, token = [], None
            while True:
                body: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": 25000}
                if token:
                    body["page_token"] = token
                resp = self._request("GET", "/api/2.0/mlflow/metrics/get-history", body)
                for m in resp.get("metrics", []):
                    points.append(
                        (int(m.get("step", 0)), int(m.get("timestamp", 0)), float(m["value"]))
                    )
                token = resp.get("next_page_token")
                if not token:
                    return points
        history = self._call(self.client().get_metric_history, run_id, key)
        return [(int(m.step), int(m.timestamp), float(m.value)) for m in history]

    def artifacts(self, run_id: str, path: str | None = None) -> list[Artifact]:
        """A run's artifact listing at `path` (top level when None)."""
        if self.is_http:
            body = {"run_id": run_id, **({"path": path} if path else {})}
            resp = self._request("GET", "/api/2.0/mlflow/artifacts/list", body)
            return [
                Artifact(f["path"], bool(f.get("is_dir")), _int(f.get("file_size")))
                for f in resp.get("files", [])
            ]
        files = self._call(self.client().list_artifacts, run_id, path)
        return [Artifact(f.path, f.is_dir, f.file_size) for f in files]


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:240]
