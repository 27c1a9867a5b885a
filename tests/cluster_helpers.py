"""Stand-ins for the parts of a Kubernetes cluster that the test control plane lacks.

`bash scripts/services up` runs a real etcd, kube-apiserver and kube-controller-manager
(Kubernetes 1.20, see scripts/services.d/kube.sh), so API semantics, RBAC, watches, dry runs,
Deployments, ReplicaSets and rollout revisions are the real thing. There is no scheduler and no
kubelet, though, and these helpers STAND IN for them, through the ordinary API:

- `create_gpu_node` stands in for a kubelet registering a GPU node (plus the NVIDIA device
  plugin's `nvidia.com/gpu` capacity and GPU feature discovery's labels);
- `bind_pod` stands in for the scheduler (a Binding, exactly what kube-scheduler posts);
- `mark_pod_running` stands in for the kubelet starting the containers (pod status Running,
  Ready, containerStatuses ready); `run_pending_pods` does both for every Pending pod, which is
  what makes Deployments become Available and rollouts complete;
- `finish_terminating_pods` stands in for the kubelet confirming that a deleted pod's containers
  stopped (without it, a pod bound to a node stays Terminating forever).

Nothing a stand-in does is checked against real node behaviour: no resource fitting, no taints,
no container runtime. Every function takes the `kubernetes.client.ApiClient` to act through.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client import ApiClient, ApiException, V1Node, V1Pod

GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
GPU_COUNT_LABEL = "nvidia.com/gpu.count"
STAND_IN_LABEL = "mlopstui.test/stand-in"  # on every node the helpers create

T = TypeVar("T")


def now_rfc3339() -> str:
    """The current time the way the API server writes timestamps (seconds, UTC, `Z`)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _name(obj: Any) -> str:
    return obj if isinstance(obj, str) else obj.metadata.name


def _fake_ip(prefix: str, key: str) -> str:
    """A stable made-up address for `key` in prefix.0.0/16 (nothing routes to it)."""
    digest = hashlib.sha256(key.encode()).digest()
    return f"{prefix}.{digest[0]}.{max(1, digest[1] % 255)}"


def create_gpu_node(
    api: ApiClient,
    name: str,
    gpus: int = 8,
    product: str = "NVIDIA-A100-SXM4-80GB",
    ready: bool = True,
    *,
    cpu: str = "96",
    memory: str = "1048576Mi",
    labels: dict[str, str] | None = None,
) -> V1Node:
    """STAND-IN for a kubelet (with the NVIDIA device plugin) registering a GPU node.

    Creates the Node, then patches its status the way a kubelet does: capacity and allocatable
    with `nvidia.com/gpu`, a Ready condition (True, or False when `ready=False`), addresses and
    node info. Labels follow GPU feature discovery: `nvidia.com/gpu.product`,
    `nvidia.com/gpu.count`. The caller deletes the node (`delete_node(name)`); nodes are not
    namespaced, so give them names unique to the test.
    """
    core = client.CoreV1Api(api)
    node_labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        GPU_PRODUCT_LABEL: product,
        GPU_COUNT_LABEL: str(gpus),
        STAND_IN_LABEL: "true",
        **(labels or {}),
    }
    core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name=name, labels=node_labels)))
    stamp = now_rfc3339()
    resources = {"cpu": cpu, "memory": memory, "pods": "110", GPU_RESOURCE: str(gpus)}
    status = {
        "capacity": resources,
        "allocatable": resources,
        "conditions": [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "reason": "KubeletReady" if ready else "KubeletNotReady",
                "message": "stand-in kubelet is posting ready status"
                if ready
                else "stand-in kubelet reports the node not ready",
                "lastHeartbeatTime": stamp,
                "lastTransitionTime": stamp,
            },
            *(
                {
                    "type": kind,
                    "status": "False",
                    "reason": f"KubeletHasSufficient{kind.removesuffix('Pressure')}"
                    if kind != "PIDPressure"
                    else "KubeletHasSufficientPID",
                    "lastHeartbeatTime": stamp,
                    "lastTransitionTime": stamp,
                }
                for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
            ),
        ],
        "addresses": [
            {"type": "InternalIP", "address": _fake_ip("10.0", name)},
            {"type": "Hostname", "address": name},
        ],
        "nodeInfo": {
            "machineID": hashlib.md5(name.encode()).hexdigest(),
            "systemUUID": hashlib.md5(name.encode()).hexdigest(),
            "bootID": hashlib.md5(name.encode()).hexdigest(),
            "kernelVersion": "6.1.0-stand-in",
            "osImage": "Stand-in Linux",
            "containerRuntimeVersion": "containerd://stand-in",
            "kubeletVersion": "v1.20.2",
            "kubeProxyVersion": "v1.20.2",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }
    return core.patch_node_status(name, {"status": status})


def bind_pod(api: ApiClient, pod: V1Pod | str, node: V1Node | str, namespace: str = "") -> None:
    """STAND-IN for the scheduler: bind `pod` to `node` with a Binding, as kube-scheduler does.

    `pod` is a V1Pod (its namespace is used) or a name together with `namespace`.
    """
    if not isinstance(pod, str):
        namespace = pod.metadata.namespace
    binding = client.V1Binding(
        metadata=client.V1ObjectMeta(name=_name(pod)),
        target=client.V1ObjectReference(api_version="v1", kind="Node", name=_name(node)),
    )
    # The server answers with a Status, not a Binding: don't let the client parse it as one.
    client.CoreV1Api(api).create_namespaced_pod_binding(
        _name(pod), namespace, binding, _preload_content=False
    )


def mark_pod_running(api: ApiClient, pod: V1Pod | str, namespace: str = "") -> V1Pod:
    """STAND-IN for the kubelet: report the pod's containers started and ready.

    Patches the status subresource: phase Running, conditions Initialized / Ready /
    ContainersReady / PodScheduled all True, one ready, running containerStatus per container,
    a made-up pod IP. The pod should be bound already (`bind_pod`). Returns the updated pod.
    """
    core = client.CoreV1Api(api)
    if not isinstance(pod, str):
        namespace = pod.metadata.namespace
    current = core.read_namespaced_pod(_name(pod), namespace)
    stamp = now_rfc3339()
    uid = current.metadata.uid or _name(pod)
    pod_ip = _fake_ip("10.244", uid)
    host_ip = _fake_ip("10.0", current.spec.node_name) if current.spec.node_name else None
    statuses = [
        {
            "name": c.name,
            "image": c.image,
            "imageID": f"docker-pullable://{c.image}@sha256:{'0' * 64}",
            "containerID": "containerd://" + hashlib.sha256(f"{uid}/{c.name}".encode()).hexdigest(),
            "ready": True,
            "started": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": stamp}},
        }
        for c in current.spec.containers
    ]
    status: dict[str, Any] = {
        "phase": "Running",
        "startTime": stamp,
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "conditions": [
            {"type": kind, "status": "True", "lastTransitionTime": stamp}
            for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "containerStatuses": statuses,
    }
    if host_ip:
        status["hostIP"] = host_ip
    return core.patch_namespaced_pod_status(_name(pod), namespace, {"status": status})


def run_pending_pods(api: ApiClient, namespace: str, node: V1Node | str) -> list[str]:
    """STAND-IN for scheduler + kubelet: bind every Pending pod in `namespace` to `node` (if not
    bound yet) and mark it Running and Ready. Pods being deleted are left alone.

    Returns the names of the pods it started, sorted. Call it again after anything that creates
    pods (a scale-up, a rollout step): the controllers create pods asynchronously.
    """
    core = client.CoreV1Api(api)
    started = []
    for pod in core.list_namespaced_pod(namespace, field_selector="status.phase=Pending").items:
        if pod.metadata.deletion_timestamp is not None:
            continue
        if not pod.spec.node_name:
            bind_pod(api, pod, node)
        mark_pod_running(api, pod)
        started.append(pod.metadata.name)
    return sorted(started)


def finish_terminating_pods(api: ApiClient, namespace: str) -> list[str]:
    """STAND-IN for the kubelet confirming that deleted pods' containers have stopped.

    A pod bound to a node keeps its deletionTimestamp (Terminating) until the node's kubelet
    deletes it with grace period 0; this does that for every such pod in `namespace`.
    Returns the names of the pods it removed, sorted.
    """
    core = client.CoreV1Api(api)
    removed = []
    for pod in core.list_namespaced_pod(namespace).items:
        if pod.metadata.deletion_timestamp is None:
            continue
        try:
            core.delete_namespaced_pod(pod.metadata.name, namespace, grace_period_seconds=0)
        except ApiException as exc:
            if exc.status != 404:
                raise
        removed.append(pod.metadata.name)
    return sorted(removed)


def wait_until(
    probe: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.1,
    message: str = "condition",
) -> T:
    """Call `probe` until it returns something truthy and return that; AssertionError (with the
    last value) after `timeout` seconds. Controllers act asynchronously: poll, never sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {message}: {value!r}"
            )
        time.sleep(interval)


def rollout_complete(api: ApiClient, namespace: str, name: str) -> bool:
    """What `kubectl rollout status` waits for: the controller saw the latest spec, every
    replica runs the new template, no old replica is left, and all of them are available."""
    dep = client.AppsV1Api(api).read_namespaced_deployment(name, namespace)
    want = dep.spec.replicas if dep.spec.replicas is not None else 1
    status = dep.status
    return (
        (status.observed_generation or 0) >= (dep.metadata.generation or 0)
        and (status.updated_replicas or 0) == want
        and (status.replicas or 0) == want
        and (status.available_replicas or 0) == want
    )


def drive_rollout(
    api: ApiClient, namespace: str, name: str, node: V1Node | str, timeout: float = 60.0
) -> None:
    """STAND-IN for scheduler + kubelet during a rollout: keep starting Pending pods on `node`
    and finishing Terminating ones until the Deployment's rollout is complete (see
    `rollout_complete`). A rolling update takes several rounds: new pods must become ready
    before the controller scales the old ReplicaSet down and creates more."""

    def step() -> bool:
        run_pending_pods(api, namespace, node)
        finish_terminating_pods(api, namespace)
        return rollout_complete(api, namespace, name)

    wait_until(step, timeout=timeout, interval=0.2, message=f"rollout of {namespace}/{name}")
