"""Fixtures for tests against the real Kubernetes control plane (`bash scripts/services up`).

Use them from a test module with `pytest_plugins = ["kube_fixtures"]`. The control plane is
shared by the whole session and by every pytest run until `bash scripts/services down`, so tests
work in their own namespace (`kube_namespace`) and give cluster-scoped objects (nodes) names
unique to the test (`make_gpu_node`). Without the service, the tests skip (or fail under
MLOPSTUI_REQUIRE_SERVICES=1), see services.require_service.
"""

from __future__ import annotations

import contextlib
import json
import re
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cluster_helpers import create_gpu_node, wait_until
from kubernetes import client, config
from kubernetes.client import ApiClient, ApiException, V1Node
from services import require_service, service_env, services_dir


@pytest.fixture(scope="session")
def kube_env() -> dict[str, str]:
    """KUBECONFIG_ADMIN, KUBECONFIG_READONLY, KUBE_API_URL as scripts/services.d/kube.sh
    published them in $MLOPSTUI_SERVICES_DIR/kube.env."""
    env = service_env("kube")
    missing = {"KUBECONFIG_ADMIN", "KUBECONFIG_READONLY", "KUBE_API_URL"} - env.keys()
    if missing:
        require_service("kube", f"kube.env lacks {sorted(missing)}: run `bash scripts/services up`")
    return env


@pytest.fixture(scope="session")
def kubeconfig_admin_path(kube_env: dict[str, str]) -> Path:
    """The cluster-admin kubeconfig (static token in group system:masters)."""
    return Path(kube_env["KUBECONFIG_ADMIN"])


@pytest.fixture(scope="session")
def kubeconfig_readonly_path(kube_env: dict[str, str]) -> Path:
    """The kubeconfig of user `readonly`, bound to the built-in `view` ClusterRole."""
    return Path(kube_env["KUBECONFIG_READONLY"])


def _client(path: Path) -> ApiClient:
    if not path.exists():
        require_service("kube", f"{path} missing: run `bash scripts/services up`")
    api = config.new_client_from_config(config_file=str(path), persist_config=False)
    try:
        client.VersionApi(api).get_code(_request_timeout=5)
    except Exception as exc:  # connection refused, TLS, 401: the published service is gone
        api.close()
        require_service(
            "kube",
            f"API server from {path} not answering ({exc.__class__.__name__}: "
            f"{exc}); run `bash scripts/services up`",
        )
    return api


@pytest.fixture(scope="session")
def kube_admin(kubeconfig_admin_path: Path) -> Iterator[ApiClient]:
    """A `kubernetes.client.ApiClient` with cluster-admin rights."""
    api = _client(kubeconfig_admin_path)
    yield api
    api.close()


@pytest.fixture(scope="session")
def kube_readonly(kubeconfig_readonly_path: Path) -> Iterator[ApiClient]:
    """A `kubernetes.client.ApiClient` for user `readonly` (can get/list/watch, not write)."""
    api = _client(kubeconfig_readonly_path)
    yield api
    api.close()


def _dns_label(text: str, limit: int) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:limit].strip("-") or "t"


@pytest.fixture
def kube_namespace(kube_admin: ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for this test, deleted afterwards (with its pods force-removed, since
    no kubelet is there to confirm that their containers stopped).

    The fixture waits for the namespace's `default` service account token, so pods can be
    created right away (the ServiceAccount admission plugin refuses them until then).
    """
    core = client.CoreV1Api(kube_admin)
    name = f"t-{_dns_label(request.node.name, 40)}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(
        client.V1Namespace(
            metadata=client.V1ObjectMeta(name=name, labels={"mlopstui.test/namespace": "true"})
        )
    )

    def token_ready() -> bool:
        try:
            return bool(core.read_namespaced_service_account("default", name).secrets)
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    try:
        wait_until(token_ready, timeout=30, message=f"service account token in {name}")
        yield name
    finally:
        # Namespace first: once it is Terminating, no controller can create pods in it, so one
        # grace-0 pass (the kubelet's part) removes every pod and the namespace can go.
        with contextlib.suppress(ApiException):
            core.delete_namespace(name)
        with contextlib.suppress(ApiException):
            core.delete_collection_namespaced_pod(name, grace_period_seconds=0)


@pytest.fixture
def make_gpu_node(
    kube_admin: ApiClient, request: pytest.FixtureRequest
) -> Iterator[Callable[..., V1Node]]:
    """`make_gpu_node(suffix="", **kwargs)`: cluster_helpers.create_gpu_node with a name unique
    to this test; every node made is deleted afterwards."""
    core = client.CoreV1Api(kube_admin)
    made: list[str] = []
    base = f"gpu-{_dns_label(request.node.name, 30)}-{uuid.uuid4().hex[:6]}"

    def make(suffix: str = "", **kwargs: object) -> V1Node:
        name = f"{base}-{suffix}" if suffix else f"{base}-{len(made)}"
        made.append(name)
        return create_gpu_node(kube_admin, name, **kwargs)  # type: ignore[arg-type]

    yield make
    for name in made:
        with contextlib.suppress(ApiException):
            core.delete_node(name)


def compact_etcd() -> int:
    """Compact the test etcd up to its current revision (what kube-apiserver does every 5 min),
    so watches that go to etcd from an older resourceVersion get 410 Gone."""
    url = (services_dir() / "kube" / "etcd.url").read_text().strip()

    def post(path: str, body: dict) -> dict:
        req = urllib.request.Request(url + path, json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    revision = int(post("/v3/kv/range", {"key": "AA==", "limit": 1})["header"]["revision"])
    post("/v3/kv/compaction", {"revision": revision, "physical": True})
    return revision
