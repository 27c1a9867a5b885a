"""MLflow tracking server adapter.

Against an HTTP server it speaks MLflow's documented REST API with a keep-alive `requests`
session, honouring MLflow's own variables (MLFLOW_TRACKING_TOKEN, USERNAME/PASSWORD,
MLFLOW_TRACKING_INSECURE_TLS, SERVER_CERT_PATH, CLIENT_CERT_PATH). Importing the MLflow client
for that would cost ~1.2 s and ~140 MB of RSS, and building its protobuf/entity objects is most
of its overhead over raw REST. The embedded `sqlite:`/`file:` store goes through `MlflowClient`,
imported on first use, never at app start.

MLflow's client retries 7 times with a 120 s timeout by default (about 4 minutes before a dead
server shows as dead); we pass our own retries and timeout on every request instead.

Every request is bounded as a whole, because `requests`' timeout bounds only each socket read
(a server that sends one byte every 2 s never trips it):

- **Deadline**: one call of `_request` (headers, body, its retries and waits) ends within
  `deadline` seconds, by default `DEADLINE_FACTOR` x the request timeout (30 s at the default
  5 s; a 1000-run page takes the server about 1 s). A watchdog (a timer thread per request)
  shuts the connected socket at the deadline whatever the request is doing, so a trickled
  header or body ends there too; connecting is bounded by what is left of the deadline (per
  address tried; a DNS lookup by the system resolver's own timeout).
- **Size cap**: an answer may be `MAX_RESPONSE_BYTES` (256 MiB) at most, counted as it is
  decoded; an announced Content-Length over it is refused before a byte of the body is read, so
  memory stays near its baseline. Measured: a 1000-run page is 3.8 MiB with 10 metrics, params
  and tags per run, 43 MiB with 200 metrics, 100 params and 30 tags, and 177 MiB with 1,000
  metrics, 200 params and 30 tags; the cap leaves room for those and for MLflow's JSON growing.
  Error bodies are read up to 64 KiB (the message is all we show).
- **Retry-After**: a 429 or 503 that says when to come back is retried after that wait (at
  most `RETRY_AFTER_CAP`, 10 s, and never past the deadline), even with `max_retries = 0`: the
  server asked for it. A longer wait fails the request at once, and the client asks nothing of
  the server until the wait is over (the next poll fails fast with the time left).
- **Pages**: every page loop stops with a `SourceError` when the server hands back a
  next_page_token it already gave in this loop, or after `MAX_PAGES` (10,000) pages: 10 million
  runs at the default page size, more than a cache on one disk is meant for, while a server
  that pages in a loop with fresh tokens is stopped after minutes rather than never.
- **Payloads**: a run, an experiment or a model that does not parse is skipped, never raised:
  the page says which (`RunPage.skipped`, `ExperimentList.skipped`) and why, naming the id (or
  the position in the page) and the field, so one bad entry does not block every pass.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from mlopstui.adapters import SourceAuthError, SourceError, SourceUnreachable, network_reason
from mlopstui.domain import Dataset, Experiment, Metric, Run
from mlopstui.text import clean, first_line

SOURCE = "mlflow"
API = "/api/2.0/mlflow/"
DEADLINE_FACTOR = 6
"""The default whole-request deadline, in request timeouts."""
MAX_RESPONSE_BYTES = 256 << 20
"""The largest answer accepted (see the module docstring for measured page sizes)."""
ERROR_BODY_BYTES = 64 << 10
RETRY_AFTER_CAP = 10.0
"""The longest Retry-After waited inside a request; a longer one fails it."""
MAX_PAGES = 10_000
"""The most pages one page loop reads."""
DATASET_CONTEXT = "mlflow.data.context"
"""The input tag naming what a dataset was used for (training, eval...)."""
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Artifact:
    """One entry of a run's artifact listing."""

    path: str
    is_dir: bool
    size: int | None


class RunPage(list[Run]):
    """One page of runs, and the entries of it that did not parse.

    `skipped` holds (run id, or "" when the entry has none; a sentence naming the run and the
    field). The runs sync counts those ids as seen (never deleted) and reports them.
    """

    def __init__(self, runs: Any = (), skipped: list[tuple[str, str]] | None = None) -> None:
        super().__init__(runs)
        self.skipped: list[tuple[str, str]] = list(skipped or [])


class ExperimentList(list[Experiment]):
    """Every experiment, and the entries that did not parse: (experiment id or "", why)."""

    def __init__(self, items: Any = (), skipped: list[tuple[str, str]] | None = None) -> None:
        super().__init__(items)
        self.skipped: list[tuple[str, str]] = list(skipped or [])


# ---------------------------------------------------------------- payloads


class Unparsable(Exception):
    """One field of a payload entry that does not parse; `field` and `problem` say how."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"field '{field}' {problem}")
        self.field = field
        self.problem = problem


def shown(value: Any) -> str:
    """A bad value as it may appear in a message: short and inert."""
    return clean(repr(value), limit=40)


def need(obj: Any, key: str, field: str | None = None) -> Any:
    """`obj[key]`, or Unparsable naming the field when it is missing or empty."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None or value == "":
        raise Unparsable(field or key, "is missing")
    return value


def table(obj: Any, key: str, field: str | None = None) -> dict[str, Any]:
    """`obj[key]` as an object ({} when absent), or Unparsable."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Unparsable(field or key, f"is not an object ({shown(value)})")
    return value


def items(obj: dict[str, Any], key: str, field: str | None = None) -> list[Any]:
    """`obj[key]` as a list ([] when absent), or Unparsable."""
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise Unparsable(field or key, f"is not a list ({shown(value)})")
    return value


def text_of(value: Any, field: str) -> str:
    """A text field ("" when absent); numbers become text, anything else is Unparsable."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise Unparsable(field, f"is not text ({shown(value)})")


def int_of(value: Any, field: str, *, empty: int | None = None) -> int | None:
    """An integer field (`empty` when absent or ""), or Unparsable when not a number."""
    if value is None or value == "":
        return empty
    try:
        if isinstance(value, bool):
            raise TypeError
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError
            return int(value)
        return int(value)
    except (TypeError, ValueError):
        raise Unparsable(field, f"is not a number ({shown(value)})") from None


def float_of(value: Any, field: str) -> float:
    """A metric value: a number or MLflow's "NaN"/"Infinity" strings."""
    try:
        if isinstance(value, bool) or value is None:
            raise TypeError
        return float(value)
    except (TypeError, ValueError):
        raise Unparsable(field, f"is not a number ({shown(value)})") from None


def pairs(data: dict[str, Any], key: str, where: str) -> dict[str, str]:
    """MLflow's [{"key": k, "value": v}, ...] (params, tags) as a dict."""
    out: dict[str, str] = {}
    for i, entry in enumerate(items(data, key, f"{where}{key}")):
        name = text_of(need(entry, "key", f"{where}{key}[{i}].key"), f"{where}{key}[{i}].key")
        out[name] = text_of(entry.get("value"), f"{where}{key}[{i}].value")
    return out


def entry_label(kind: str, key: str, position: int) -> str:
    """'run 3f2a...' or 'run #4 of the page' (when the entry has no id), for messages."""
    return f"{kind} {clean(key, limit=64)}" if key else f"{kind} #{position} of the page"


def _run_from_json(payload: Any) -> Run:
    """One run of runs/search; Unparsable names the field that does not parse."""
    if not isinstance(payload, dict):
        raise Unparsable("run", f"is not an object ({shown(payload)})")
    info = table(payload, "info")
    if not info:
        raise Unparsable("info", "is missing")
    data = table(payload, "data")
    run_id = text_of(need(info, "run_id", "info.run_id"), "info.run_id")
    metrics = {}
    for i, m in enumerate(items(data, "metrics", "data.metrics")):
        where = f"data.metrics[{i}]"
        key = text_of(need(m, "key", f"{where}.key"), f"{where}.key")
        metrics[key] = Metric(
            key,
            float_of(m.get("value", "nan"), f"{where}.value"),
            int_of(m.get("step"), f"{where}.step", empty=0) or 0,
            int_of(m.get("timestamp"), f"{where}.timestamp", empty=0) or 0,
        )
    tags = pairs(data, "tags", "data.")
    datasets = []
    for i, entry in enumerate(items(table(payload, "inputs"), "dataset_inputs", "inputs")):
        where = f"inputs.dataset_inputs[{i}]"
        if not isinstance(entry, dict):
            raise Unparsable(where, f"is not an object ({shown(entry)})")
        dataset = table(entry, "dataset")
        context = pairs(entry, "tags", f"{where}.").get(DATASET_CONTEXT)
        datasets.append(
            Dataset(
                text_of(need(dataset, "name", f"{where}.dataset.name"), f"{where}.dataset.name"),
                text_of(dataset.get("digest"), f"{where}.dataset.digest"),
                context,
            )
        )
    return Run(
        run_id=run_id,
        experiment_id=text_of(info.get("experiment_id"), "info.experiment_id"),
        name=text_of(info.get("run_name"), "info.run_name") or tags.get("mlflow.runName", ""),
        status=text_of(info.get("status"), "info.status"),
        # MLflow sends 0 for "not set" in some versions: like absent.
        start_time=int_of(info.get("start_time"), "info.start_time") or None,
        end_time=int_of(info.get("end_time"), "info.end_time") or None,
        user=text_of(info.get("user_id"), "info.user_id") or tags.get("mlflow.user", ""),
        lifecycle=text_of(info.get("lifecycle_stage"), "info.lifecycle_stage") or "active",
        artifact_uri=text_of(info.get("artifact_uri"), "info.artifact_uri"),
        params=pairs(data, "params", "data."),
        metrics=metrics,
        tags=tags,
        datasets=tuple(datasets),
    )


def _run_id_of(payload: Any) -> str:
    info = payload.get("info") if isinstance(payload, dict) else None
    run_id = info.get("run_id") if isinstance(info, dict) else None
    return run_id if isinstance(run_id, str) else ""


def _runs_page(entries: Any) -> RunPage:
    """A runs/search page: the runs that parse, and (id, why) for each that does not."""
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise Unparsable("runs", f"is not a list ({shown(entries)})")
    page = RunPage()
    for position, payload in enumerate(entries, 1):
        try:
            page.append(_run_from_json(payload))
        except Unparsable as exc:
            run_id = _run_id_of(payload)
            page.skipped.append((run_id, f"{entry_label('run', run_id, position)}: {exc}"))
    return page


def _experiment_from_json(e: Any) -> Experiment:
    if not isinstance(e, dict):
        raise Unparsable("experiment", f"is not an object ({shown(e)})")
    return Experiment(
        text_of(need(e, "experiment_id"), "experiment_id"),
        text_of(e.get("name"), "name"),
        text_of(e.get("lifecycle_stage"), "lifecycle_stage") or "active",
        text_of(e.get("artifact_location"), "artifact_location"),
        int_of(e.get("creation_time"), "creation_time"),
        int_of(e.get("last_update_time"), "last_update_time"),
        pairs(e, "tags", ""),
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
        datasets=tuple(
            Dataset(
                d.dataset.name,
                d.dataset.digest or "",
                {t.key: t.value for t in d.tags}.get(DATASET_CONTEXT),
            )
            for d in getattr(getattr(run, "inputs", None), "dataset_inputs", None) or []
        ),
    )


def _entity_page(entities: Any) -> RunPage:
    """Runs from the embedded store; one that does not convert is skipped and named."""
    page = RunPage()
    for position, entity in enumerate(entities, 1):
        try:
            page.append(_run_from_entity(entity))
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            run_id = getattr(getattr(entity, "info", None), "run_id", "") or ""
            run_id = run_id if isinstance(run_id, str) else ""
            reason = (
                f"{entry_label('run', run_id, position)}: {type(exc).__name__}: {first_line(exc)}"
            )
            page.skipped.append((run_id, clean(reason)))
    return page


# ---------------------------------------------------------------- paging


class PageGuard:
    """Stops a page loop that repeats a next_page_token or never ends.

    `follow(token)` is called once per page read; it returns the token to ask for next, None
    when the loop is done, or raises SourceError naming the endpoint.
    """

    def __init__(self, uri: str, endpoint: str, limit: int = MAX_PAGES) -> None:
        self.uri = uri
        self.endpoint = endpoint
        self.limit = limit
        self.pages = 0
        self._seen: set[str | bytes] = set()

    def follow(self, token: Any) -> Any:
        """The token to ask for next (text over REST; the embedded store's are bytes)."""
        self.pages += 1
        if not token:
            return None
        if not isinstance(token, (str, bytes)):
            raise SourceError(
                f"{self.uri} answered {self.endpoint} with a next_page_token that is not text "
                f"({shown(token)}); stopped after {self.pages} pages"
            )
        if token in self._seen:
            raise SourceError(
                f"{self.uri} answered {self.endpoint} with the same next_page_token twice; "
                f"stopped after {self.pages} pages"
            )
        if self.pages >= self.limit:
            raise SourceError(
                f"{self.uri} answered {self.endpoint} with more than {self.limit:,} pages; "
                "stopped (is it paging in a loop?)"
            )
        self._seen.add(token)
        return token


# ---------------------------------------------------------------- transport


class _Watch:
    """One request's deadline: once past it, the socket the request uses is shut, whatever
    it is doing (sending, waiting for headers, reading a trickled body)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: Any = None
        self.expired = False
        self._done = False

    def attach(self, sock: Any) -> None:
        with self._lock:
            self._sock = sock
            if self.expired and not self._done:
                _shut(sock)

    def expire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.expired = True
            if self._sock is not None:
                _shut(self._sock)

    def finish(self) -> None:
        with self._lock:
            self._done = True


_LOCAL = threading.local()


def _shut(sock: Any) -> None:
    with contextlib.suppress(OSError, AttributeError):
        sock.shutdown(socket.SHUT_RDWR)


def _attach(sock: Any) -> None:
    """Hand the socket of the request on this thread to its watch."""
    watch = getattr(_LOCAL, "watch", None)
    if watch is not None and sock is not None:
        watch.attach(sock)


@cache
def _watched_adapter_class() -> Any:
    """A requests adapter whose connections show their socket to the request's watch.

    Built on first use (importing requests at module import would cost every start).
    """
    from requests.adapters import HTTPAdapter
    from urllib3 import poolmanager
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class WatchedHTTPConnection(HTTPConnection):
        def getresponse(self, *args: Any, **kwargs: Any) -> Any:
            _attach(self.sock)
            return super().getresponse(*args, **kwargs)

    class WatchedHTTPSConnection(HTTPSConnection):
        def getresponse(self, *args: Any, **kwargs: Any) -> Any:
            _attach(self.sock)
            return super().getresponse(*args, **kwargs)

    class WatchedHTTPPool(HTTPConnectionPool):
        ConnectionCls = WatchedHTTPConnection

    class WatchedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = WatchedHTTPSConnection

    watched = {"http": WatchedHTTPPool, "https": WatchedHTTPSPool}

    def watch(manager: Any) -> Any:
        # Only the standard pools (a SOCKS proxy brings its own): others keep the body check.
        if manager.pool_classes_by_scheme == poolmanager.pool_classes_by_scheme:
            manager.pool_classes_by_scheme = watched
        return manager

    class WatchedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            watch(self.poolmanager)

        def proxy_manager_for(self, proxy: Any, **kwargs: Any) -> Any:
            return watch(super().proxy_manager_for(proxy, **kwargs))

    return WatchedAdapter


class _Late(Exception):
    """The request's deadline passed."""


class _TooBig(Exception):
    def __init__(self, announced: int | None) -> None:
        self.announced = announced


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date; None otherwise."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class MlflowSource:
    """Reads experiments, runs, metric histories and artifact listings from one server.

    `deadline` bounds one request as a whole (None: `DEADLINE_FACTOR` x `timeout`);
    `max_bytes` is the largest answer accepted.
    """

    def __init__(
        self,
        tracking_uri: str,
        *,
        timeout: float = 5.0,
        max_retries: int = 0,
        deadline: float | None = None,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self.uri = tracking_uri
        self.timeout = timeout
        self.max_retries = max_retries
        self.deadline = deadline if deadline is not None else DEADLINE_FACTOR * timeout
        self.max_bytes = max_bytes
        self.is_http = tracking_uri.startswith(("http://", "https://"))
        self._creds: Any = None
        self._client: Any = None
        self._not_before = 0.0  # monotonic: a Retry-After we could not wait for inside a request

    # -- transport

    def _session(self) -> Any:
        """A keep-alive session with MLflow's own credential and TLS variables."""
        if self._creds is None:
            import requests

            from mlopstui import __version__

            session = requests.Session()
            adapter = _watched_adapter_class()
            session.mount("http://", adapter())
            session.mount("https://", adapter())
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

    def close(self) -> None:
        """Close the keep-alive connections."""
        if self._creds is not None:
            self._creds.close()

    def _exchange(
        self,
        method: str,
        url: str,
        kwargs: dict[str, Any],
        deadline: float,
        max_bytes: int | None = None,
    ) -> tuple[int, Any, bytes]:
        """One HTTP exchange, read whole within the deadline and the size cap.

        Returns (status, headers, body); raises _Late, _TooBig or the transport's own error.
        """
        session = self._session()
        watch = _Watch()
        timer = threading.Timer(max(0.0, deadline - time.monotonic()), watch.expire)
        timer.daemon = True
        timer.start()
        _LOCAL.watch = watch
        resp = None
        try:
            try:
                # Connecting is bounded by what is left of the deadline too (the watchdog
                # holds the socket only once it is connected).
                connect = max(0.05, min(self.timeout, deadline - time.monotonic()))
                resp = session.request(
                    method, url, timeout=(connect, self.timeout), stream=True, **kwargs
                )
                limit = (
                    (max_bytes or self.max_bytes) if resp.status_code == 200 else ERROR_BODY_BYTES
                )
                announced = resp.headers.get("Content-Length", "")
                if resp.status_code == 200 and announced.isdigit() and int(announced) > limit:
                    raise _TooBig(int(announced))
                body = bytearray()
                for chunk in resp.iter_content(_CHUNK):
                    body += chunk
                    if len(body) > limit:
                        if resp.status_code == 200:
                            raise _TooBig(None)
                        del body[limit:]
                        break
                    if time.monotonic() > deadline:
                        raise _Late
            except (_Late, _TooBig):
                raise
            except Exception:
                if watch.expired or time.monotonic() > deadline:
                    raise _Late from None
                raise
            if watch.expired:
                raise _Late
            return resp.status_code, resp.headers, bytes(body)
        finally:
            watch.finish()
            timer.cancel()
            _LOCAL.watch = None
            if resp is not None:
                resp.close()

    def _request(self, method: str, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        """One REST call with our timeout, deadline, size cap and retries (connection errors,
        429 and 5xx; Retry-After honoured, see the module docstring)."""
        # Like MLflow's own REST store: a query string for GET, a JSON body for everything else
        # (its DELETE endpoints, e.g. registered-models/alias, read the body).
        kwargs = {"params": body} if method == "GET" else {"json": body}
        what = endpoint.removeprefix(API).lstrip("/")
        data = self._fetch(method, endpoint, kwargs, what)
        try:
            payload = _json(data)
        except ValueError:
            raise SourceError(
                f"{self.uri} did not answer with JSON; is it an MLflow server?"
            ) from None
        if not isinstance(payload, dict):
            raise SourceError(f"{self.uri} answered {what} with JSON that is not an object")
        return payload

    def download(
        self,
        endpoint: str,
        params: dict[str, Any],
        max_bytes: int,
        *,
        what: str,
        too_big: Callable[[int | None], str],
    ) -> bytes:
        """GET a body that is not JSON (an artifact file) as `_request` gets JSON: the same
        deadline, retries and errors, with `max_bytes` as its size cap. `what` names it in
        errors; `too_big(announced size or None)` is the sentence for an answer over the cap."""
        return self._fetch(
            "GET", endpoint, {"params": params}, what, max_bytes=max_bytes, too_big=too_big,
            name_in_errors=True,
        )  # fmt: skip

    def _fetch(
        self,
        method: str,
        endpoint: str,
        kwargs: dict[str, Any],
        what: str,
        *,
        max_bytes: int | None = None,
        too_big: Callable[[int | None], str] | None = None,
        name_in_errors: bool = False,
    ) -> bytes:
        """The body of one successful (HTTP 200) exchange, or the SourceError a person reads."""
        import requests

        wait_left = self._not_before - time.monotonic()
        if wait_left > 0:
            waiting = SourceUnreachable(
                f"{self.uri} asked to wait {math.ceil(wait_left)} s more (Retry-After) "
                f"before the next request"
            )
            waiting.not_sent = True
            raise waiting
        url = self.uri.rstrip("/") + endpoint
        deadline = time.monotonic() + self.deadline
        late = SourceUnreachable(
            f"{self.uri} took longer than {self.deadline:g} s to answer {what}"
        )
        attempt = 0
        while True:
            try:
                status, headers, data = self._exchange(method, url, kwargs, deadline, max_bytes)
            except _Late:
                raise late from None
            except _TooBig as big:
                if too_big is not None:
                    raise SourceError(too_big(big.announced)) from None
                cap = _size(self.max_bytes)
                size = (
                    f"announced a {_size(big.announced)} answer to {what}"
                    if big.announced is not None
                    else f"sent more than {cap} answering {what}"
                )
                raise SourceError(
                    f"{self.uri} {size}; the limit is {cap} "
                    "([mlflow] max_response_mb; or lower page_size)"
                ) from None
            except (requests.exceptions.RequestException, OSError) as exc:
                pause = 0.5 * 2**attempt
                if attempt < self.max_retries and time.monotonic() + pause < deadline:
                    time.sleep(pause)
                    attempt += 1
                    continue
                reason = self._reason(exc)
                lost = SourceUnreachable(f"{self.uri} did not answer: {reason}")
                lost.not_sent = reason.startswith(("connection refused", "host name not found"))
                raise lost from None
            if (
                status in (429, 503)
                and (asked := _retry_after(headers.get("Retry-After"))) is not None
            ):
                fits = asked <= RETRY_AFTER_CAP and time.monotonic() + asked < deadline
                if fits and attempt < max(self.max_retries, 1):
                    time.sleep(asked)
                    attempt += 1
                    continue
                if not fits:
                    self._not_before = time.monotonic() + asked
                    busy = SourceUnreachable(
                        f"{self.uri} is busy (HTTP {status}) and asked for {asked:.0f} s before "
                        "the next request (Retry-After); the next pass waits for it"
                    )
                    busy.status = status
                    busy.not_sent = True  # the server refused it without acting
                    raise busy
            elif status in (429, 500, 502, 503, 504) and attempt < self.max_retries:
                pause = 0.5 * 2**attempt
                if time.monotonic() + pause < deadline:
                    time.sleep(pause)
                    attempt += 1
                    continue
            break
        if status in (401, 403):
            raise SourceAuthError(
                f"{self.uri} refused the credentials (HTTP {status}); "
                "set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/PASSWORD"
            )
        if status != 200:
            code = ""
            try:
                payload = _json(data)
                message, code = payload.get("message", ""), payload.get("error_code", "")
            except (ValueError, AttributeError):
                message = data[:200].decode("utf-8", "replace")
            about = f" for {what}" if name_in_errors else ""
            error = SourceError(f"{self.uri} answered HTTP {status}{about}: {message}")
            error.status = status
            error.error_code = code if isinstance(code, str) else ""
            raise error
        return data

    def _reason(self, exc: BaseException) -> str:
        """Why a request failed, in a few words (MLflow's own message buries it at the end)."""
        return network_reason(exc, timeout=self.timeout)

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
            text = first_line(exc)
            if "401" in text or "403" in text or "Unauthorized" in text:
                raise SourceAuthError(f"{self.uri} refused the credentials: {text}") from None
            if "Connection" in text or "timed out" in text or "Max retries" in text:
                raise SourceUnreachable(f"{self.uri} did not answer: {text}") from None
            raise SourceError(f"{self.uri}: {text}") from None

    def _unparsable(self, what: str, exc: Unparsable) -> SourceError:
        return SourceError(f"{self.uri} answered {what} with {exc}")

    # -- reads

    def ping(self) -> str:
        """Check the server answers; returns a short description for `doctor`."""
        if self.is_http:
            self._request("POST", f"{API}experiments/search", {"max_results": 1})
            return f"{self.uri} answers"
        self._call(self.client().search_experiments, max_results=1)
        return f"{self.uri} opens"

    def experiments(self) -> ExperimentList:
        """Every experiment, active and deleted; `.skipped` names those that did not parse."""
        out = ExperimentList()
        if self.is_http:
            guard = PageGuard(self.uri, "experiments/search")
            token = None
            while True:
                body: dict[str, Any] = {"max_results": 1000, "view_type": "ALL"}
                if token:
                    body["page_token"] = token
                resp = self._request("POST", f"{API}experiments/search", body)
                try:
                    entries = items(resp, "experiments")
                except Unparsable as exc:
                    raise self._unparsable("experiments/search", exc) from None
                for position, e in enumerate(entries, 1):
                    try:
                        out.append(_experiment_from_json(e))
                    except Unparsable as exc:
                        key = e.get("experiment_id") if isinstance(e, dict) else None
                        key = str(key) if isinstance(key, (str, int)) and key != "" else ""
                        label = entry_label("experiment", key, position)
                        out.skipped.append((key, f"{label}: {exc}"))
                token = guard.follow(resp.get("next_page_token"))
                if not token:
                    return out
        from mlflow.entities import ViewType

        client = self.client()
        guard = PageGuard(self.uri, "search_experiments")
        token = None
        while True:
            page = self._call(client.search_experiments, view_type=ViewType.ALL, page_token=token)
            for e in page:
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
            token = guard.follow(getattr(page, "token", None))
            if not token:
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
    ) -> Iterator[RunPage]:
        """Yield pages of runs (ACTIVE_ONLY or DELETED_ONLY) matching a filter, in order.

        A run that does not parse is left out of its page and named in `page.skipped`.
        """
        if self.is_http:
            guard = PageGuard(self.uri, "runs/search")
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
                resp = self._request("POST", f"{API}runs/search", body)
                try:
                    page = _runs_page(resp.get("runs"))
                except Unparsable as exc:
                    raise self._unparsable("runs/search", exc) from None
                yield page
                if max_pages and guard.pages + 1 >= max_pages:
                    return
                token = guard.follow(resp.get("next_page_token"))
                if not token:
                    return
        else:
            from mlflow.entities import ViewType

            guard = PageGuard(self.uri, "search_runs")
            token = None
            while True:
                found = self._call(
                    self.client().search_runs,
                    experiment_ids,
                    filter_string=filter_string,
                    run_view_type=ViewType.from_string(view.lower()),
                    max_results=page_size,
                    order_by=order_by or None,
                    page_token=token,
                )
                yield _entity_page(found)
                if max_pages and guard.pages + 1 >= max_pages:
                    return
                token = guard.follow(getattr(found, "token", None))
                if not token:
                    return

    def run_state(self, run_id: str) -> str:
        """'active', 'deleted', 'gone' (the server says it does not exist) or 'unknown', from
        one runs/get over HTTP: an endpoint a fault in search answers cannot empty, and whose
        "not found" is an explicit answer rather than an absence. Raises SourceError when the
        server does not answer."""
        try:
            resp = self._request("GET", "/api/2.0/mlflow/runs/get", {"run_id": run_id})
        except SourceError as exc:
            # MLflow's own "does not exist", not any 404: a proxy that does not route
            # runs/get answers 404 too, and that proves nothing about the run.
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return "gone"
            if exc.status == 404:
                return "unknown"
            raise
        run = resp.get("run")
        info = run.get("info") if isinstance(run, dict) else None
        if not isinstance(info, dict) or (info.get("run_id") or info.get("run_uuid")) != run_id:
            return "unknown"
        return "deleted" if info.get("lifecycle_stage") == "deleted" else "active"

    def experiment_exists(self, experiment_id: str) -> bool:
        """Whether the server still has this experiment (deleted ones included), from one
        experiments/get over HTTP. Raises SourceError when the server does not answer."""
        try:
            self._request(
                "GET", "/api/2.0/mlflow/experiments/get", {"experiment_id": experiment_id}
            )
        except SourceError as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":  # not a proxy's bare 404
                return False
            raise
        return True

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, int, float]]:
        """(step, timestamp, value) of a metric, as MLflow keeps it (up to 25,000 points)."""
        if self.is_http:
            points: list[tuple[int, int, float]] = []
            guard = PageGuard(self.uri, "metrics/get-history")
            token = None
            while True:
                body: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": 25000}
                if token:
                    body["page_token"] = token
                resp = self._request("GET", f"{API}metrics/get-history", body)
                try:
                    for i, m in enumerate(items(resp, "metrics")):
                        where = f"metrics[{i}]"
                        points.append(
                            (
                                int_of(m.get("step"), f"{where}.step", empty=0) or 0,
                                int_of(m.get("timestamp"), f"{where}.timestamp", empty=0) or 0,
                                float_of(need(m, "value", f"{where}.value"), f"{where}.value"),
                            )
                        )
                except (Unparsable, AttributeError) as exc:
                    problem = (
                        exc if isinstance(exc, Unparsable) else "an entry that is not an object"
                    )
                    raise SourceError(
                        f"{self.uri} answered metrics/get-history of metric "
                        f"'{clean(key, limit=64)}' of run {clean(run_id, limit=64)} with {problem}"
                    ) from None
                token = guard.follow(resp.get("next_page_token"))
                if not token:
                    return points
        history = self._call(self.client().get_metric_history, run_id, key)
        return [(int(m.step), int(m.timestamp), float(m.value)) for m in history]

    def artifacts(self, run_id: str, path: str | None = None) -> list[Artifact]:
        """A run's artifact listing at `path` (top level when None)."""
        if self.is_http:
            body = {"run_id": run_id, **({"path": path} if path else {})}
            resp = self._request("GET", f"{API}artifacts/list", body)
            try:
                return [
                    Artifact(
                        text_of(need(f, "path", f"files[{i}].path"), f"files[{i}].path"),
                        bool(f.get("is_dir")),
                        int_of(f.get("file_size"), f"files[{i}].file_size"),
                    )
                    for i, f in enumerate(items(resp, "files"))
                ]
            except Unparsable as exc:
                raise self._unparsable("artifacts/list", exc) from None
        files = self._call(self.client().list_artifacts, run_id, path)
        return [Artifact(f.path, f.is_dir, f.file_size) for f in files]


def _size(n: int) -> str:
    """A byte count as a person reads it: MiB, or KiB below one MiB."""
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n / (1 << 10):.0f} KiB"


def _json(data: bytes) -> Any:
    import json

    return json.loads(data)
