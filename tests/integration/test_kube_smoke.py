"""Prove the Kubernetes control plane and its stand-ins with the official `kubernetes` client.

The API server, etcd and the controller manager are real (Kubernetes 1.20, built from Debian's
source package by scripts/services.d/kube.sh); only the scheduler and kubelet are stand-ins
(tests/cluster_helpers.py). If these fail, every Kubernetes test of mlopstui would fail for a
reason unrelated to mlopstui. They also pin down the API semantics the app relies on: watch
timeouts and resumption, server-side dry run, RBAC denials, Deployment revisions and what a
`kubectl rollout undo` does to them.
"""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cluster_helpers import (
    GPU_COUNT_LABEL,
    GPU_PRODUCT_LABEL,
    GPU_RESOURCE,
    drive_rollout,
    run_pending_pods,
    wait_until,
)
from kubernetes import client, watch
from kubernetes.client import ApiClient, ApiException

pytest_plugins = ["kube_fixtures"]
pytestmark = pytest.mark.kubernetes

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
HASH_LABEL = "pod-template-hash"
# What kubectl keeps from the Deployment instead of copying it back from the ReplicaSet.
UNDO_SKIPPED_ANNOTATIONS = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}


# Only the test's own ConfigMaps: every namespace also gets `kube-root-ca.crt` (published by
# the controller manager, asynchronously), as on any cluster since 1.20.
OURS = "mlopstui.test/smoke=yes"


def _configmap(name: str, **data: str) -> client.V1ConfigMap:
    meta = client.V1ObjectMeta(name=name, labels={"mlopstui.test/smoke": "yes"})
    return client.V1ConfigMap(metadata=meta, data=data)


def _deployment(name: str, image: str, replicas: int = 2) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[
                        client.V1Container(
                            name="trainer",
                            image=image,
                            resources=client.V1ResourceRequirements(limits={GPU_RESOURCE: "1"}),
                        )
                    ]
                ),
            ),
        ),
    )


def _replicasets(api: ApiClient, namespace: str, app: str) -> dict[int, client.V1ReplicaSet]:
    """The Deployment's ReplicaSets by revision number."""
    items = client.AppsV1Api(api).list_namespaced_replica_set(
        namespace, label_selector=f"app={app}"
    )
    return {int(rs.metadata.annotations[REVISION]): rs for rs in items.items}


def _image(obj: client.V1Deployment | client.V1ReplicaSet) -> str:
    return obj.spec.template.spec.containers[0].image


def _condition(dep: client.V1Deployment, kind: str) -> client.V1DeploymentCondition | None:
    return next((c for c in dep.status.conditions or [] if c.type == kind), None)


def undo_target(
    api: ApiClient, namespace: str, name: str, to_revision: int = 0
) -> tuple[int, client.V1ReplicaSet]:
    """The ReplicaSet `kubectl rollout undo [--to-revision=N]` would restore, as kubectl picks
    it: revision N, or with N=0 the second-highest revision ("the previous one")."""
    dep = client.AppsV1Api(api).read_namespaced_deployment(name, namespace)
    by_revision = _replicasets(api, namespace, dep.spec.selector.match_labels["app"])
    if to_revision:
        return to_revision, by_revision[to_revision]
    previous = sorted(by_revision)[-2]
    return previous, by_revision[previous]


def apply_undo(api: ApiClient, namespace: str, name: str, target: client.V1ReplicaSet) -> bool:
    """What kubectl does once it has the target: copy the ReplicaSet's pod template (without
    the pod-template-hash label) and annotations back into the Deployment with a JSON patch.
    Skipped, like kubectl's "current template already matches", when nothing would change.
    Returns whether it patched."""
    apps = client.AppsV1Api(api)
    dep = apps.read_namespaced_deployment(name, namespace)
    template = api.sanitize_for_serialization(copy.deepcopy(target.spec.template))
    template["metadata"].get("labels", {}).pop(HASH_LABEL, None)
    if template == api.sanitize_for_serialization(dep.spec.template):
        return False
    current = dep.metadata.annotations or {}
    annotations = {k: v for k, v in current.items() if k in UNDO_SKIPPED_ANNOTATIONS}
    for key, value in (target.metadata.annotations or {}).items():
        if key not in UNDO_SKIPPED_ANNOTATIONS:
            annotations[key] = value
    apps.patch_namespaced_deployment(
        name,
        namespace,
        [
            {"op": "replace", "path": "/spec/template", "value": template},
            {"op": "replace", "path": "/metadata/annotations", "value": annotations},
        ],
    )
    return True


# --- the tests ---------------------------------------------------------------------------------


def test_server_is_kubernetes_1_20(kube_admin: ApiClient) -> None:
    info = client.VersionApi(kube_admin).get_code()
    assert (info.git_version, info.major, info.minor) == ("v1.20.2", "1", "20")


def test_kubeconfig_paths_published(kubeconfig_admin_path: Path, kube_env: dict[str, str]) -> None:
    assert kubeconfig_admin_path.is_file()
    assert kube_env["KUBE_API_URL"].startswith("https://127.0.0.1:")


def test_configmap_crud(kube_admin: ApiClient, kube_namespace: str) -> None:
    core = client.CoreV1Api(kube_admin)
    created = core.create_namespaced_config_map(kube_namespace, _configmap("cfg", a="1"))
    assert created.metadata.uid and created.metadata.resource_version
    assert core.read_namespaced_config_map("cfg", kube_namespace).data == {"a": "1"}

    patched = core.patch_namespaced_config_map("cfg", kube_namespace, {"data": {"b": "2"}})
    assert patched.data == {"a": "1", "b": "2"}
    assert int(patched.metadata.resource_version) > int(created.metadata.resource_version)

    patched.data = {"c": "3"}
    replaced = core.replace_namespaced_config_map("cfg", kube_namespace, patched)
    assert replaced.data == {"c": "3"}
    stale = copy.deepcopy(patched)  # carries the old resourceVersion
    stale.data = {"d": "4"}
    with pytest.raises(ApiException) as conflict:
        core.replace_namespaced_config_map("cfg", kube_namespace, stale)
    assert conflict.value.status == 409

    listed = core.list_namespaced_config_map(kube_namespace, label_selector=OURS)
    assert [cm.metadata.name for cm in listed.items] == ["cfg"]
    core.delete_namespaced_config_map("cfg", kube_namespace)
    with pytest.raises(ApiException) as gone:
        core.read_namespaced_config_map("cfg", kube_namespace)
    assert gone.value.status == 404


def test_watch_with_timeout_returns(kube_admin: ApiClient, kube_namespace: str) -> None:
    """A watch with timeout_seconds ends by itself when nothing happens (the server closes it)."""
    core = client.CoreV1Api(kube_admin)
    began = time.monotonic()
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map,
            kube_namespace,
            label_selector=OURS,
            timeout_seconds=1,
        )
    )
    elapsed = time.monotonic() - began
    assert events == []
    assert 0.9 < elapsed < 10


def test_watch_resumes_from_resource_version(kube_admin: ApiClient, kube_namespace: str) -> None:
    """Listing then watching from the list's resourceVersion yields exactly what changed since,
    in order; watching from the last event's resourceVersion yields nothing old again."""
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_config_map(kube_namespace, _configmap("a", v="1"))
    listed = core.list_namespaced_config_map(kube_namespace, label_selector=OURS)
    since = listed.metadata.resource_version

    core.create_namespaced_config_map(kube_namespace, _configmap("b", v="1"))
    core.patch_namespaced_config_map("a", kube_namespace, {"data": {"v": "2"}})
    core.delete_namespaced_config_map("b", kube_namespace)

    w = watch.Watch()
    events = []
    for event in w.stream(
        core.list_namespaced_config_map,
        kube_namespace,
        label_selector=OURS,
        resource_version=since,
        timeout_seconds=5,
    ):
        events.append((event["type"], event["object"].metadata.name))
        if len(events) == 3:
            w.stop()
    assert events == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]

    resumed = list(
        watch.Watch().stream(
            core.list_namespaced_config_map,
            kube_namespace,
            label_selector=OURS,
            resource_version=w.resource_version,
            timeout_seconds=1,
        )
    )
    assert resumed == []


def test_server_side_dry_run_persists_nothing(kube_admin: ApiClient, kube_namespace: str) -> None:
    core = client.CoreV1Api(kube_admin)
    apps = client.AppsV1Api(kube_admin)
    answer = core.create_namespaced_config_map(
        kube_namespace, _configmap("dry", a="1"), dry_run="All"
    )
    assert answer.metadata.name == "dry" and answer.data == {"a": "1"}  # validated and defaulted
    assert core.list_namespaced_config_map(kube_namespace, label_selector=OURS).items == []

    apps.create_namespaced_deployment(kube_namespace, _deployment("web", "example/web:1"))
    preview = apps.patch_namespaced_deployment(
        "web",
        kube_namespace,
        {"spec": {"template": {"spec": {"containers": [{"name": "trainer", "image": "x:2"}]}}}},
        dry_run="All",
    )
    assert _image(preview) == "x:2"
    assert _image(apps.read_namespaced_deployment("web", kube_namespace)) == "example/web:1"

    apps.delete_namespaced_deployment("web", kube_namespace, dry_run="All")
    assert (
        apps.read_namespaced_deployment("web", kube_namespace).metadata.deletion_timestamp is None
    )


def test_gpu_nodes_show_allocatable_gpus(kube_admin: ApiClient, make_gpu_node: Any) -> None:
    core = client.CoreV1Api(kube_admin)
    big = make_gpu_node("big")
    small = make_gpu_node("small", gpus=4, product="NVIDIA-H100-80GB-HBM3", ready=False)

    nodes = {
        n.metadata.name: n
        for n in core.list_node(label_selector=GPU_PRODUCT_LABEL).items
        if n.metadata.name in {big.metadata.name, small.metadata.name}
    }
    assert nodes[big.metadata.name].status.allocatable[GPU_RESOURCE] == "8"
    assert nodes[big.metadata.name].status.capacity[GPU_RESOURCE] == "8"
    assert nodes[big.metadata.name].metadata.labels[GPU_COUNT_LABEL] == "8"
    assert nodes[small.metadata.name].status.allocatable[GPU_RESOURCE] == "4"
    assert nodes[small.metadata.name].metadata.labels[GPU_PRODUCT_LABEL] == "NVIDIA-H100-80GB-HBM3"

    def ready(node: client.V1Node) -> str:
        return next(c.status for c in node.status.conditions if c.type == "Ready")

    assert ready(nodes[big.metadata.name]) == "True"
    assert ready(nodes[small.metadata.name]) == "False"
    h100 = core.list_node(label_selector=f"{GPU_PRODUCT_LABEL}=NVIDIA-H100-80GB-HBM3").items
    assert small.metadata.name in [n.metadata.name for n in h100]


def test_deployment_rollout_and_undo(
    kube_admin: ApiClient, kube_namespace: str, make_gpu_node: Any
) -> None:
    apps = client.AppsV1Api(kube_admin)
    core = client.CoreV1Api(kube_admin)
    node = make_gpu_node()
    ns, name = kube_namespace, "trainer"

    # The controller manager turns the Deployment into a ReplicaSet and Pending pods.
    apps.create_namespaced_deployment(ns, _deployment(name, "example/train:1"))
    rs1 = wait_until(lambda: _replicasets(kube_admin, ns, name).get(1), message="ReplicaSet")
    assert _image(rs1) == "example/train:1"
    pods = wait_until(
        lambda: len(core.list_namespaced_pod(ns).items) == 2 and core.list_namespaced_pod(ns),
        message="2 pods",
    )
    assert {p.status.phase for p in pods.items} == {"Pending"}  # no scheduler, no kubelet
    assert all(p.spec.node_name is None for p in pods.items)
    dep = apps.read_namespaced_deployment(name, ns)
    assert not dep.status.available_replicas

    # Stand-in scheduler + kubelet: pods bound and Running make the Deployment Available.
    assert len(run_pending_pods(kube_admin, ns, node)) == 2
    drive_rollout(kube_admin, ns, name, node)
    dep = apps.read_namespaced_deployment(name, ns)
    assert dep.status.available_replicas == 2
    assert _condition(dep, "Available").status == "True"
    assert dep.metadata.annotations[REVISION] == "1"
    pods = core.list_namespaced_pod(ns).items
    assert {(p.status.phase, p.spec.node_name) for p in pods} == {("Running", node.metadata.name)}

    # A new image is a new ReplicaSet: revision 2.
    apps.patch_namespaced_deployment(
        name,
        ns,
        {
            "spec": {
                "template": {
                    "spec": {"containers": [{"name": "trainer", "image": "example/train:2"}]}
                }
            }
        },
    )
    drive_rollout(kube_admin, ns, name, node)
    by_rev = _replicasets(kube_admin, ns, name)
    assert sorted(by_rev) == [1, 2]
    assert _image(by_rev[2]) == "example/train:2"
    assert (by_rev[1].spec.replicas, by_rev[2].spec.replicas) == (0, 2)
    assert apps.read_namespaced_deployment(name, ns).metadata.annotations[REVISION] == "2"

    # `rollout undo`: the target is captured first (revision 1's ReplicaSet), then applied.
    target_rev, target = undo_target(kube_admin, ns, name)
    assert (target_rev, _image(target)) == (1, "example/train:1")
    assert apply_undo(kube_admin, ns, name, target)
    drive_rollout(kube_admin, ns, name, node)
    dep = apps.read_namespaced_deployment(name, ns)
    assert _image(dep) == "example/train:1"
    # No new ReplicaSet: the old one is adopted again and renumbered as revision 3.
    by_rev = _replicasets(kube_admin, ns, name)
    assert sorted(by_rev) == [2, 3]
    assert by_rev[3].metadata.uid == rs1.metadata.uid
    assert by_rev[3].metadata.annotations[REVISION_HISTORY] == "1"
    assert dep.metadata.annotations[REVISION] == "3"
    generation = dep.metadata.generation

    # Applying the captured target again is a no-op (no flip back, no new revision)...
    assert not apply_undo(kube_admin, ns, name, target)
    dep = apps.read_namespaced_deployment(name, ns)
    assert (dep.metadata.generation, dep.metadata.annotations[REVISION]) == (generation, "3")
    assert _image(dep) == "example/train:1"
    # ...while recomputing "the previous revision" now would pick revision 2 (train:2): a
    # second plain `kubectl rollout undo` flips back. Revision 1 no longer exists at all.
    again_rev, again = undo_target(kube_admin, ns, name)
    assert (again_rev, _image(again)) == (2, "example/train:2")
    with pytest.raises(KeyError):
        undo_target(kube_admin, ns, name, to_revision=1)


def test_readonly_user_can_list_but_not_create(
    kube_readonly: ApiClient, kube_admin: ApiClient, kube_namespace: str
) -> None:
    ro = client.CoreV1Api(kube_readonly)
    client.CoreV1Api(kube_admin).create_namespaced_config_map(kube_namespace, _configmap("x"))

    listed = ro.list_namespaced_config_map(kube_namespace, label_selector=OURS)
    assert [cm.metadata.name for cm in listed.items] == ["x"]
    assert ro.list_namespaced_pod(kube_namespace).items == []
    client.AppsV1Api(kube_readonly).list_deployment_for_all_namespaces()

    with pytest.raises(ApiException) as denied:
        ro.create_namespaced_config_map(kube_namespace, _configmap("y"))
    assert denied.value.status == 403
    with pytest.raises(ApiException) as denied:
        ro.delete_namespaced_config_map("x", kube_namespace)
    assert denied.value.status == 403
    # The built-in `view` role covers namespaced objects only: nodes are not in it.
    with pytest.raises(ApiException) as denied:
        ro.list_node()
    assert denied.value.status == 403

    # What `kubectl auth can-i` asks; any authenticated user may ask it.
    review = client.AuthorizationV1Api(kube_readonly).create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    namespace=kube_namespace, verb="patch", group="apps", resource="deployments"
                )
            )
        )
    )
    assert review.status.allowed is False


async def test_asyncio_client_watch(
    kube_admin: ApiClient, kubeconfig_admin_path: Path, kube_namespace: str
) -> None:
    """`kubernetes.aio` (bundled with kubernetes 37, the kubernetes_asyncio API) lists and
    watches; a change made meanwhile shows up as an event."""
    from kubernetes.aio import client as aclient
    from kubernetes.aio import config as aconfig
    from kubernetes.aio import watch as awatch

    api = await aconfig.new_client_from_config(
        config_file=str(kubeconfig_admin_path), persist_config=False
    )
    try:
        core = aclient.CoreV1Api(api)
        listed = await core.list_namespaced_config_map(kube_namespace, label_selector=OURS)
        assert listed.items == []
        # The change comes from another thread (sync client) while the watch is open.
        timer = threading.Timer(
            0.5,
            lambda: client.CoreV1Api(kube_admin).create_namespaced_config_map(
                kube_namespace, _configmap("async", k="v")
            ),
        )
        timer.start()
        seen = []
        async with awatch.Watch() as w:
            async for event in w.stream(
                core.list_namespaced_config_map,
                kube_namespace,
                label_selector=OURS,
                resource_version=listed.metadata.resource_version,
                timeout_seconds=10,
            ):
                seen.append((event["type"], event["object"].metadata.name))
                w.stop()
        timer.join()
        assert seen == [("ADDED", "async")]
    finally:
        await api.close()
