"""The Kubernetes adapter against the real control plane (kube-apiserver 1.20 with RBAC): plain
values from nodes and pods, watches from a list's resourceVersion, 410 Gone, RBAC's 403 with
the API's reason, an unreachable server, and a context pinned at start."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import yaml
from cluster_helpers import GPU_RESOURCE, bind_pod, mark_pod_running, wait_until
from kube_fixtures import compact_etcd
from kubernetes import client

from mlopstui.adapters import SourceError, SourceUnreachable
from mlopstui.adapters.kubernetes import KubeForbidden, KubeSource, ResourceExpired
from mlopstui.domain.kubernetes import KubePod

pytestmark = pytest.mark.kubernetes
pytest_plugins = ["kube_fixtures"]

RUN_ID = "0123456789abcdef0123456789abcdef"


def gpu_pod(name: str, gpus: int, *, annotations=None, labels=None, owner=None) -> client.V1Pod:
    """A pod asking for `gpus` NVIDIA GPUs (as a limit, the way most specs do)."""
    resources = client.V1ResourceRequirements(limits={GPU_RESOURCE: str(gpus)}) if gpus else None
    return client.V1Pod(
        metadata=client.V1ObjectMeta(
            name=name, annotations=annotations, labels=labels, owner_references=owner
        ),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(name="main", image="example/train:1", resources=resources)
            ]
        ),
    )


@pytest.fixture
def admin_source(kubeconfig_admin_path: Path, kube_admin) -> KubeSource:
    return KubeSource(str(kubeconfig_admin_path), watch_timeout=2)


def test_nodes_and_pods_as_plain_values(admin_source, kube_admin, kube_namespace, make_gpu_node):
    core = client.CoreV1Api(kube_admin)
    big = make_gpu_node("big").metadata.name
    small = make_gpu_node("small", gpus=4, product="NVIDIA-H100-80GB-HBM3", ready=False)
    small = small.metadata.name
    ns = kube_namespace
    # A real owner (the garbage collector deletes pods whose owner does not exist); with
    # parallelism 0 the Job controller makes no pods of its own. Not as the controller: the
    # Job controller would release a pod its selector does not match.
    job = client.BatchV1Api(kube_admin).create_namespaced_job(
        ns,
        client.V1Job(
            metadata=client.V1ObjectMeta(name="train-job"),
            spec=client.V1JobSpec(
                parallelism=0,
                template=client.V1PodTemplateSpec(
                    spec=client.V1PodSpec(
                        restart_policy="Never",
                        containers=[client.V1Container(name="main", image="example/train:1")],
                    )
                ),
            ),
        ),
    )
    job_owner = [
        client.V1OwnerReference(
            api_version="batch/v1",
            kind="Job",
            name="train-job",
            uid=job.metadata.uid,
            controller=False,
        )
    ]
    for pod in (
        gpu_pod("train", 4, annotations={"mlflow.org/run-id": RUN_ID}, owner=job_owner),
        gpu_pod("eval", 2, labels={"mlflow_run_id": "r2"}),
        gpu_pod("cpu", 0),
    ):
        core.create_namespaced_pod(ns, pod)
    bind_pod(kube_admin, "train", big, ns)
    mark_pod_running(kube_admin, "train", ns)
    bind_pod(kube_admin, "eval", small, ns)

    nodes = {n.name: n for n in admin_source.list_nodes().items}
    assert (nodes[big].gpu_allocatable, nodes[big].gpu_capacity, nodes[big].ready) == (8, 8, "True")
    assert nodes[big].gpu_product == "NVIDIA-A100-SXM4-80GB" and not nodes[big].unschedulable
    assert (nodes[small].gpu_allocatable, nodes[small].ready) == (4, "False")
    assert {c["type"] for c in nodes[small].conditions} >= {"Ready", "MemoryPressure"}
    assert nodes[big].created is not None and nodes[big].resource_version

    listing = admin_source.list_pods()
    assert int(listing.resource_version) > 0
    pods = {p.name: p for p in listing.items if p.namespace == ns}
    assert pods["train"] == KubePod(
        ns, "train", big, "Running", 4, "Job", "train-job", RUN_ID, pods["train"].created
    )
    assert (pods["eval"].node, pods["eval"].phase, pods["eval"].gpu_request) == (
        small,
        "Pending",
        2,
    )
    assert pods["eval"].run_id == "r2"
    assert (pods["cpu"].node, pods["cpu"].gpu_request) == ("", 0)


def test_pages_of_a_list_make_one_listing(kubeconfig_admin_path, kube_admin, kube_namespace):
    core = client.CoreV1Api(kube_admin)
    for i in range(5):
        core.create_namespaced_pod(kube_namespace, gpu_pod(f"p{i}", 1))
    source = KubeSource(str(kubeconfig_admin_path), page_size=2)
    names = {p.name for p in source.list_pods().items if p.namespace == kube_namespace}
    assert names == {f"p{i}" for i in range(5)}
    assert source.list_requests >= 3  # at least three pages of two


def test_a_watch_from_the_list_version_yields_the_changes(admin_source, kube_admin, kube_namespace):
    core = client.CoreV1Api(kube_admin)
    since = admin_source.list_pods().resource_version
    core.create_namespaced_pod(kube_namespace, gpu_pod("new", 1))
    core.delete_namespaced_pod("new", kube_namespace, grace_period_seconds=0)

    seen = [
        (e.type, e.obj.name)
        for e in admin_source.watch("pods", since)
        if e.obj is not None and e.obj.namespace == kube_namespace
    ]
    assert seen[0] == ("ADDED", "new") and seen[-1] == ("DELETED", "new")
    assert admin_source.requests["WATCH pods"] == 1
    assert admin_source.requests["LIST pods"] == 1


def test_410_gone_for_a_compacted_version(admin_source, kube_admin, kube_namespace):
    """Node events are not in the API server's watch cache (1.20 keeps none for events), so a
    watch from a compacted version reaches etcd and ends in 410 Gone."""
    since = admin_source.list_events().resource_version
    for name in ("bump-1", "bump-2"):  # the list's version + 1 must be below the compaction
        client.CoreV1Api(kube_admin).create_namespaced_config_map(
            kube_namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))
        )
    compact_etcd()
    for version in (since, "1"):
        with pytest.raises(ResourceExpired, match="too old"):
            list(admin_source.watch("events", version))


def test_rbac_403_carries_the_api_reason(kubeconfig_readonly_path, kube_readonly):
    source = KubeSource(str(kubeconfig_readonly_path))
    with pytest.raises(KubeForbidden) as denied:
        source.list_nodes()
    assert str(denied.value).startswith(
        'nodes is forbidden: User "readonly" cannot list resource "nodes"'
    )
    assert denied.value.user == "readonly"
    assert source.context in str(denied.value)
    source.list_pods()  # the `view` role covers pods and events
    source.list_events()


def test_an_unreachable_server_is_source_unreachable(kubeconfig_admin_path, tmp_path):
    doc = yaml.safe_load(kubeconfig_admin_path.read_text())
    doc["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    path = tmp_path / "dead.kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    source = KubeSource(str(path), request_timeout=2)
    with pytest.raises(SourceUnreachable, match="127.0.0.1:9 unreachable"):
        source.list_nodes()


def test_the_context_is_pinned_when_the_source_is_made(kubeconfig_admin_path, kube_admin, tmp_path):
    """An edit of the kubeconfig after start (another context, another server) changes nothing
    for this session: the file was read once."""
    doc = yaml.safe_load(kubeconfig_admin_path.read_text())
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    source = KubeSource(str(path))
    pinned, server = source.context, source.server

    doc["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:9"
    doc["contexts"].append({"name": "other", "context": dict(doc["contexts"][0]["context"])})
    doc["current-context"] = "other"
    path.write_text(yaml.safe_dump(doc))

    source.list_nodes()  # the first request, after the edit, still reaches the pinned server
    assert (source.context, source.server) == (pinned, server)
    assert KubeSource(str(path)).context == "other"


def test_kubeconfig_mistakes_are_explained(kubeconfig_admin_path, tmp_path):
    with pytest.raises(SourceError, match="context 'nope' is not in"):
        KubeSource(str(kubeconfig_admin_path), context="nope")
    with pytest.raises(SourceError, match="no kubeconfig found"):
        KubeSource(str(tmp_path / "missing"))
    bad = tmp_path / "bad"
    bad.write_text("clusters: [\n")
    with pytest.raises(SourceError, match="cannot read the kubeconfig"):
        KubeSource(str(bad))


def test_close_ends_open_watches_at_once(kubeconfig_admin_path, kube_admin):
    """Quitting must not wait for a watch's server timeout."""
    source = KubeSource(str(kubeconfig_admin_path), watch_timeout=60)
    version = source.list_nodes().resource_version
    ended: list[object] = []

    def watch() -> None:
        try:
            ended.append(list(source.watch("nodes", version)))
        except Exception as exc:  # recorded for the assertion
            ended.append(exc)

    thread = threading.Thread(target=watch)
    thread.start()
    wait_until(lambda: source.watch_requests == 1, message="the watch to open")
    time.sleep(0.2)
    began = time.monotonic()
    source.close()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - began < 2
    assert len(ended) == 1 and isinstance(ended[0], list), ended
