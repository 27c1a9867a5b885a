"""Kubernetes: the nodes, pods and node events of one pinned context, as plain values.

The kubeconfig is read once, when the source is made: the context (the one asked for, else
the file's current one) and its server are fixed then, so a later edit of the kubeconfig or a
`kubectl config use-context` in another terminal never redirects this session. The official
client is imported only on the first request (from a sync thread), never at import time.

Payloads are read as JSON (`_preload_content=False`) and translated here, which keeps untrusted
strings verbatim and skips the client's model layer. Every request goes through one counted
HTTP entry point, so tests can prove that a healthy session issues no LIST after the first.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from mlopstui.adapters import SourceAuthError, SourceError, SourceUnreachable, network_reason
from mlopstui.domain.kubernetes import KubeEvent, KubeNode, KubeObject, KubePod, WatchEvent

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
RUN_ID_KEYS = ("mlflow.org/run-id", "mlflow_run_id")
KINDS = ("nodes", "pods", "events")
NODE_EVENTS = "involvedObject.kind=Node"
WATCH_GRACE = 5.0
"""Seconds the client waits for a byte beyond the server's own watch timeout."""
PAGE_SIZE = 500


class ResourceExpired(SourceError):
    """410 Gone: the resourceVersion is older than the server keeps; list again."""


class KubeForbidden(SourceAuthError):
    """403: RBAC does not allow this request. `str()` starts with the API server's reason."""

    @property
    def user(self) -> str:
        """The user the API server named in its reason ('' when it named none)."""
        found = re.search(r'User "([^"]*)"', str(self))
        return found.group(1) if found else ""


@dataclass(frozen=True, slots=True)
class Listing:
    """A full list and the resourceVersion to watch from."""

    items: list[KubeObject]
    resource_version: str


# -- translation (pure; tested on payloads)


def parse_time(value: str | None) -> float | None:
    """An RFC 3339 time from the API ('2024-05-01T10:00:00Z') as epoch seconds."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _count(value: Any) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0  # extended resources are whole numbers; anything else is not a GPU count


def node_from(obj: dict[str, Any]) -> KubeNode:
    """A Node payload as a KubeNode."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    labels = dict(meta.get("labels") or {})
    conditions = tuple(
        {
            "type": str(c.get("type", "")),
            "status": str(c.get("status", "")),
            "reason": str(c.get("reason") or ""),
            "message": str(c.get("message") or ""),
            "since": str(c.get("lastTransitionTime") or ""),
        }
        for c in status.get("conditions") or []
    )
    ready = next((c["status"] for c in conditions if c["type"] == "Ready"), "Unknown")
    return KubeNode(
        name=meta.get("name", ""),
        gpu_product=labels.get(GPU_PRODUCT_LABEL, ""),
        gpu_capacity=_count((status.get("capacity") or {}).get(GPU_RESOURCE)),
        gpu_allocatable=_count((status.get("allocatable") or {}).get(GPU_RESOURCE)),
        ready=ready if ready in ("True", "False") else "Unknown",
        unschedulable=bool(spec.get("unschedulable")),
        taints=tuple(
            (str(t.get("key", "")), str(t.get("value") or ""), str(t.get("effect", "")))
            for t in spec.get("taints") or []
        ),
        labels=labels,
        conditions=conditions,
        created=parse_time(meta.get("creationTimestamp")),
        resource_version=meta.get("resourceVersion", ""),
    )


def _gpus(container: dict[str, Any]) -> int:
    res = container.get("resources") or {}
    # A limit alone is also the request (the API server defaults one from the other).
    return _count((res.get("requests") or {}).get(GPU_RESOURCE)) or _count(
        (res.get("limits") or {}).get(GPU_RESOURCE)
    )


def pod_from(obj: dict[str, Any]) -> KubePod:
    """A Pod payload as a KubePod. GPUs held: the scheduler's rule, the larger of the sum over
    containers and the largest init container."""
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    labels, notes = meta.get("labels") or {}, meta.get("annotations") or {}
    owners = meta.get("ownerReferences") or []
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else {})
    kind, name = str(owner.get("kind", "")), str(owner.get("name", ""))
    template_hash = labels.get("pod-template-hash", "")
    if kind == "ReplicaSet" and template_hash and name.endswith(f"-{template_hash}"):
        # A Deployment names its ReplicaSets <deployment>-<pod-template-hash>.
        kind, name = "Deployment", name[: -len(template_hash) - 1]
    run_id = next((str(src[k]) for k in RUN_ID_KEYS for src in (labels, notes) if src.get(k)), "")
    gpus = sum(_gpus(c) for c in spec.get("containers") or [])
    gpus = max([gpus, *(_gpus(c) for c in spec.get("initContainers") or [])])
    return KubePod(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        node=spec.get("nodeName") or "",
        phase=status.get("phase") or "",
        gpu_request=gpus,
        owner_kind=kind,
        owner_name=name,
        run_id=run_id,
        created=parse_time(meta.get("creationTimestamp")),
    )


def event_from(obj: dict[str, Any]) -> KubeEvent:
    """An Event (core/v1) payload as a KubeEvent."""
    meta, about = obj.get("metadata") or {}, obj.get("involvedObject") or {}
    series = obj.get("series") or {}
    seen = (
        obj.get("lastTimestamp")
        or series.get("lastObservedTime")
        or obj.get("eventTime")
        or obj.get("firstTimestamp")
        or meta.get("creationTimestamp")
    )
    return KubeEvent(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        object_kind=str(about.get("kind", "")),
        object_name=str(about.get("name", "")),
        type=str(obj.get("type") or ""),
        reason=str(obj.get("reason") or ""),
        message=str(obj.get("message") or ""),
        count=_count(obj.get("count") or series.get("count") or 1) or 1,
        last_seen=parse_time(seen),
    )


_PARSERS: dict[str, Callable[[dict[str, Any]], KubeObject]] = {
    "nodes": node_from,
    "pods": pod_from,
    "events": event_from,
}


# -- the kubeconfig


def kubeconfig_paths(explicit: str | None = None, environ: Any = None) -> list[Path]:
    """The kubeconfig files in force that exist: the setting, else KUBECONFIG (a path list),
    else ~/.kube/config."""
    environ = os.environ if environ is None else environ
    raw = explicit or environ.get("KUBECONFIG") or "~/.kube/config"
    paths = [Path(p).expanduser() for p in raw.split(os.pathsep) if p]
    return [p for p in paths if p.is_file()]


_FILE_KEYS = {
    "clusters": ("cluster", ("certificate-authority",)),
    "users": ("user", ("client-certificate", "client-key", "tokenFile")),
}


def context_names(paths: list[Path]) -> list[str]:
    """The context names of the merged kubeconfig files (kubectl's merge rules)."""
    merged = _merge_kubeconfigs(paths)
    return [str(c.get("name")) for c in merged.get("contexts") or [] if c.get("name")]


def _merge_kubeconfigs(paths: list[Path]) -> dict[str, Any]:
    """kubectl's merge: the first file to name an entry or a current context wins; relative
    certificate paths are made absolute against their own file."""
    import yaml

    merged: dict[str, Any] = {"clusters": [], "users": [], "contexts": [], "current-context": ""}
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise SourceError(f"cannot read the kubeconfig {path}: {exc}") from None
        if not isinstance(doc, dict):
            raise SourceError(f"the kubeconfig {path} is not a mapping")
        merged["current-context"] = merged["current-context"] or doc.get("current-context") or ""
        for section in ("clusters", "users", "contexts"):
            known = {e.get("name") for e in merged[section]}
            for entry in doc.get(section) or []:
                if not isinstance(entry, dict) or entry.get("name") in known:
                    continue
                entry = json.loads(json.dumps(entry))  # a private copy
                inner_key, file_keys = _FILE_KEYS.get(section, ("", ()))
                inner = entry.get(inner_key) or {}
                for key in file_keys:
                    if inner.get(key) and not os.path.isabs(inner[key]):
                        inner[key] = str(path.parent / inner[key])
                merged[section].append(entry)
    return merged


def _entry(config: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    inner = section.rstrip("s")
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            return entry.get(inner) or {}
    return {}


# -- the source


class KubeSource:
    """One pinned context of one kubeconfig. Thread-safe: the watches of nodes, pods and
    events share it, each on its own thread, as do actions."""

    def __init__(
        self,
        kubeconfig: str | None = None,
        context: str | None = None,
        request_timeout: float = 10.0,
        watch_timeout: float = 300.0,
        *,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.paths = kubeconfig_paths(kubeconfig)
        if not self.paths:
            raise SourceError(f"no kubeconfig found ({kubeconfig or 'KUBECONFIG, ~/.kube/config'})")
        self._config = _merge_kubeconfigs(self.paths)
        self.context: str = context or self._config["current-context"]
        if not self.context:
            raise SourceError(f"{self.paths[0]} sets no current context; pass --context")
        names = [c.get("name") for c in self._config["contexts"]]
        if self.context not in names:
            raise SourceError(
                f"context {self.context!r} is not in {', '.join(map(str, self.paths))}"
            )
        ctx = _entry(self._config, "contexts", self.context)
        self.user: str = str(ctx.get("user") or "")
        self.namespace: str = str(ctx.get("namespace") or "default")
        self.server: str = str(
            _entry(self._config, "clusters", ctx.get("cluster", "")).get("server", "")
        )
        self.request_timeout = request_timeout
        self.watch_timeout = watch_timeout
        self.page_size = page_size
        self.requests: Counter[str] = Counter()
        """HTTP requests made, by "VERB resource": "LIST pods", "WATCH nodes", "PATCH nodes"."""
        self._count_lock = threading.Lock()
        self._lock = threading.Lock()
        self._api: Any = None
        self._streams: set[WatchStream] = set()

    def __repr__(self) -> str:
        return f"KubeSource(context={self.context!r}, server={self.server!r})"

    # -- counters

    @property
    def list_requests(self) -> int:
        """LIST requests made so far (each page counts)."""
        return sum(n for k, n in self.requests.items() if k.startswith("LIST "))

    @property
    def watch_requests(self) -> int:
        """WATCH requests made so far (each renewal counts)."""
        return sum(n for k, n in self.requests.items() if k.startswith("WATCH "))

    def _counted(self, method: str, url: str) -> None:
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s]
        query = parse_qs(parts.query)
        last = segments[-1] if segments else ""
        if query.get("watch") == ["true"]:
            key = f"WATCH {last}"
        elif method == "GET" and last in KINDS:
            key = f"LIST {last}"
        else:
            key = f"{method} {segments[-2] if len(segments) > 1 else last}"
        with self._count_lock:
            self.requests[key] += 1

    # -- the client

    def _client(self) -> Any:
        with self._lock:
            if self._api is None:
                self._api = self._build_client()
            return self._api

    def _build_client(self) -> Any:
        try:
            import urllib3
            from kubernetes import client, config
        except ImportError as exc:  # a broken install; the rest of the workbench still works
            raise SourceError(f"the kubernetes client is not installed ({exc})") from None
        cfg = client.Configuration()
        try:
            config.load_kube_config_from_dict(
                self._config, context=self.context, client_configuration=cfg, persist_config=False
            )
        except Exception as exc:  # ConfigException, a failing exec plugin, a missing cert
            raise SourceAuthError(f"context {self.context}: {exc}") from None
        # One quick retry of a refused connection; never of a read (a watch, a PATCH).
        cfg.retries = urllib3.Retry(total=1, connect=1, read=0, status=0, redirect=0, other=0)
        api = client.ApiClient(configuration=cfg)
        # kubectl honours `as` / `as-groups` in a kubeconfig user; ignoring them would act with
        # the impersonator's (usually broader) rights.
        user = _entry(self._config, "users", self.user)
        if user.get("as"):
            api.set_default_header("Impersonate-User", str(user["as"]))
        groups = user.get("as-groups") or []
        if len(groups) > 1:
            raise SourceError(f"user {self.user}: impersonating several groups is not supported")
        if groups:
            api.set_default_header("Impersonate-Group", str(groups[0]))
        rest, send = api.rest_client, api.rest_client.request

        def counted(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            self._counted(method.upper(), url)
            return send(method, url, *args, **kwargs)

        rest.request = counted  # type: ignore[method-assign]  # every request is counted
        return client.CoreV1Api(api)

    def _call(self, what: str, fn_name: str, *args: Any, **kwargs: Any) -> Any:
        """Call a CoreV1Api method, translating failures into SourceError subclasses."""
        core = self._client()
        try:
            return getattr(core, fn_name)(*args, **kwargs)
        except Exception as exc:
            translated = self._translate(exc, what)
            if translated is None:
                raise
            raise translated from None

    def _translate(self, exc: BaseException, what: str) -> SourceError | None:
        """The SourceError for a failed request; None for anything else (a bug: re-raised)."""
        import urllib3
        from kubernetes.client.exceptions import ApiException
        from kubernetes.config import ConfigException

        if isinstance(exc, ApiException):
            return _status_error(exc.status or 0, _api_message(exc), self.context, what)
        if isinstance(exc, ConfigException):  # refreshing credentials (exec plugin) failed
            return SourceAuthError(f"context {self.context}: {exc}")
        if isinstance(exc, urllib3.exceptions.HTTPError | OSError):
            return SourceUnreachable(f"API server {self.server} unreachable ({what}): {_why(exc)}")
        return None

    def _endpoint(self, kind: str) -> tuple[str, dict[str, Any]]:
        if kind == "nodes":
            return "list_node", {}
        if kind == "pods":
            return "list_pod_for_all_namespaces", {}
        if kind == "events":
            return "list_event_for_all_namespaces", {"field_selector": NODE_EVENTS}
        raise ValueError(f"unknown kind {kind!r}")

    # -- reads

    def list(self, kind: str) -> Listing:
        """Every object of a kind (pages of `page_size`) and the resourceVersion to watch from."""
        fn, extra = self._endpoint(kind)
        for attempt in (1, 2):
            items: list[KubeObject] = []
            token, version = None, ""
            try:
                while True:
                    resp = self._call(
                        f"list {kind}",
                        fn,
                        limit=self.page_size,
                        _continue=token,
                        _preload_content=False,
                        _request_timeout=self.request_timeout,
                        **extra,
                    )
                    doc = _json_body(resp)
                    meta = doc.get("metadata") or {}
                    version = meta.get("resourceVersion") or version
                    items.extend(_PARSERS[kind](o) for o in doc.get("items") or [])
                    token = meta.get("continue")
                    if not token:
                        return Listing(items, version)
            except ResourceExpired:
                if attempt == 2 or token is None:
                    raise  # a continue token outlived its snapshot: start the list again
        raise AssertionError("unreachable")

    def list_nodes(self) -> Listing:
        """All nodes."""
        return self.list("nodes")

    def list_pods(self) -> Listing:
        """All pods of all namespaces."""
        return self.list("pods")

    def list_events(self) -> Listing:
        """Events about nodes, all namespaces."""
        return self.list("events")

    def watch(self, kind: str, resource_version: str) -> WatchStream:
        """Changes since `resource_version` until the server ends the watch (`watch_timeout`).
        Raises ResourceExpired (410) when the version is too old, at once or while iterating."""
        fn, extra = self._endpoint(kind)
        resp = self._call(
            f"watch {kind}",
            fn,
            watch=True,
            resource_version=resource_version,
            allow_watch_bookmarks=True,
            timeout_seconds=max(1, int(self.watch_timeout)),
            _preload_content=False,
            _request_timeout=(self.request_timeout, self.watch_timeout + WATCH_GRACE),
            **extra,
        )
        stream = WatchStream(self, kind, resp)
        with self._lock:
            self._streams.add(stream)
        return stream

    def get_node(self, name: str) -> KubeNode | None:
        """One node as it is now, or None when there is no such node."""
        try:
            resp = self._call(
                f"get node {name}",
                "read_node",
                name,
                _preload_content=False,
                _request_timeout=self.request_timeout,
            )
        except SourceError as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise
        return node_from(_json_body(resp))

    def cordon(self, name: str, unschedulable: bool) -> KubeNode:
        """Mark a node unschedulable (cordon) or schedulable again (uncordon), as kubectl
        does: a strategic merge patch of spec.unschedulable. Returns the node as patched."""
        body = {"spec": {"unschedulable": True if unschedulable else None}}
        resp = self._call(
            f"{'cordon' if unschedulable else 'uncordon'} node {name}",
            "patch_node",
            name,
            body,
            _preload_content=False,
            _request_timeout=self.request_timeout,
        )
        return node_from(_json_body(resp))

    def close(self) -> None:
        """End the open watches (their threads return at once) and release the connections."""
        with self._lock:
            streams, self._streams = list(self._streams), set()
        for stream in streams:
            stream.close()
        with self._lock:
            if self._api is not None:
                self._api.api_client.close()
                self._api = None


class WatchStream:
    """An open watch: iterate for WatchEvents; `close()` (any thread) ends it at once."""

    def __init__(self, source: KubeSource, kind: str, resp: Any) -> None:
        self.source, self.kind, self._resp = source, kind, resp
        self._closed = False

    def __iter__(self) -> Iterator[WatchEvent]:
        from kubernetes.watch.watch import iter_resp_lines

        parse = _PARSERS[self.kind]
        try:
            for line in iter_resp_lines(self._resp):
                if not line:
                    continue
                try:
                    doc = json.loads(line)
                except ValueError:
                    raise SourceError(
                        f"unreadable watch event on {self.kind}: {line[:80]!r}"
                    ) from None
                kind, obj = doc.get("type", ""), doc.get("object") or {}
                if kind == "ERROR":
                    raise _status_error(
                        _count(obj.get("code")),
                        str(obj.get("message") or obj),
                        self.source.context,
                        f"watch {self.kind}",
                    )
                version = (obj.get("metadata") or {}).get("resourceVersion", "")
                if kind == "BOOKMARK":
                    yield WatchEvent(kind, None, version)
                else:
                    yield WatchEvent(kind, parse(obj), version)
        except SourceError:
            raise
        except Exception as exc:  # a reset, a read timeout, a socket closed by close()
            if self._closed:
                return
            if not isinstance(exc, _network_errors()):
                raise
            raise SourceUnreachable(
                f"the watch on {self.kind} from {self.source.server} broke: {_why(exc)}"
            ) from None
        finally:
            self.close()

    def close(self) -> None:
        """End the watch (wakes a thread blocked reading it)."""
        if self._closed:
            return
        self._closed = True
        with self.source._lock:
            self.source._streams.discard(self)
        for step in ("shutdown", "close", "release_conn"):
            # Already closed, or an older urllib3 without shutdown(): nothing left to end.
            with contextlib.suppress(Exception):
                getattr(self._resp, step)()


def _network_errors() -> tuple[type[BaseException], ...]:
    import urllib3

    return (urllib3.exceptions.HTTPError, OSError)


def _json_body(resp: Any) -> dict[str, Any]:
    try:
        return json.loads(resp.data)
    except ValueError:
        raise SourceError("the API server answered something that is not JSON") from None
    finally:
        resp.release_conn()


def _api_message(exc: Any) -> str:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        return str(json.loads(body).get("message") or exc.reason)
    except (TypeError, ValueError, AttributeError):
        return str(body or exc.reason or f"HTTP {exc.status}")


def _status_error(status: int, message: str, context: str, what: str) -> SourceError:
    """An API status as the matching SourceError; the API's own reason comes first."""
    if status == 410:
        error: SourceError = ResourceExpired(f"{message} ({what})")
    elif status == 403:
        error = KubeForbidden(f"{message} (context {context})")
    elif status == 401:
        error = SourceAuthError(
            f"Unauthorized: the API server refused the credentials of context {context} "
            f"({message}); refresh them (kubectl, your cloud CLI) and retry"
        )
    elif status == 404:
        error = SourceError(f"{message} ({what})")
    else:
        error = SourceError(f"{what}: HTTP {status}: {message}")
    error.status = status
    return error


def _why(exc: BaseException) -> str:
    """Why a request to the API server failed, in a few words (urllib3's own text is a repr)."""
    return network_reason(
        exc, server="the API server", tls="check the cluster's certificate in the kubeconfig"
    )
