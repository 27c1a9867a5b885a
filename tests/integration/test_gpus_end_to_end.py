"""`mlopstui gpus` end to end: the real control plane's GPU nodes and pods, joined with the
real Prometheus's DCGM history (gpu-node-a busy, gpu-node-b idle but allocated, gpu-node-c
mixed: see scripts/services.d/dcgm_history.py)."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest
from cluster_helpers import bind_pod, create_gpu_node, mark_pod_running
from helpers import run_cli
from kubernetes import client
from kubernetes.client import ApiException

pytestmark = [pytest.mark.kubernetes, pytest.mark.prometheus]
pytest_plugins = ["kube_fixtures", "prometheus_fixtures", "helpers"]

DCGM_HOSTS = ("gpu-node-a", "gpu-node-b", "gpu-node-c")


@pytest.fixture
def dcgm_nodes(kube_admin):
    """The three nodes the DCGM history describes (cluster-scoped names: made and removed here)."""
    core = client.CoreV1Api(kube_admin)
    for name in DCGM_HOSTS:
        # Pods of an earlier session may still be bound to these names (the control plane is
        # shared by every run until `scripts/services down`).
        bound = core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={name}")
        for pod in bound.items:
            with contextlib.suppress(ApiException):
                core.delete_namespaced_pod(
                    pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0
                )
        with contextlib.suppress(ApiException):
            core.delete_node(name)
    nodes = [create_gpu_node(kube_admin, name, gpus=8) for name in DCGM_HOSTS]
    yield nodes
    for name in DCGM_HOSTS:
        with contextlib.suppress(ApiException):
            core.delete_node(name)


def _gpu_pod(kube_admin, namespace: str, name: str, node: str, gpus: int) -> None:
    core = client.CoreV1Api(kube_admin)
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"mlflow.org/run-id": "abc123"}),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="main",
                    image="example/train:1",
                    resources=client.V1ResourceRequirements(limits={"nvidia.com/gpu": str(gpus)}),
                )
            ]
        ),
    )
    made = core.create_namespaced_pod(namespace, pod)
    bind_pod(kube_admin, made, node)
    mark_pod_running(kube_admin, made)


def test_gpus_joins_allocation_with_dcgm_use(
    dcgm_nodes, kube_admin, kube_namespace, kubeconfig_admin_path: Path, prometheus_url, tmp_path
):
    _gpu_pod(kube_admin, kube_namespace, "trainer-a", "gpu-node-a", 8)
    _gpu_pod(kube_admin, kube_namespace, "idle-notebook", "gpu-node-b", 4)
    # "Idle" needs a pod to have held its GPUs for [gpu] idle_minutes: a second will do here.
    conf = tmp_path / "config.toml"
    conf.write_text("[gpu]\nidle_minutes = 0.02\n")
    time.sleep(2)
    env = {
        "MLOPSTUI_CONFIG": str(conf),
        "KUBECONFIG": str(kubeconfig_admin_path),
        "MLOPSTUI_PROMETHEUS_URL": prometheus_url,
        "MLOPSTUI_CACHE": str(tmp_path / "c.sqlite"),
    }

    result = run_cli("gpus", "--sync", "--format", "json", env=env, timeout=120)

    assert result.returncode == 0, result.output
    report = json.loads(result.stdout)
    nodes = {n["node"]: n for n in report["nodes"] if n["node"] in DCGM_HOSTS}
    assert set(nodes) == set(DCGM_HOSTS)
    a, b, c = (nodes[h] for h in DCGM_HOSTS)
    assert (a["allocated"], a["allocatable"]) == (8, 8)
    assert a["util"] > 50 and a["in_use"] and not a["idle_but_allocated"]
    assert b["allocated"] == 4 and b["util"] < 5 and b["idle_but_allocated"]
    assert b["holders"] == [{"namespace": kube_namespace, "pod": "idle-notebook", "gpus": 4}]
    assert c["allocated"] == 0 and not c["idle_but_allocated"]
    assert a["status"] == "Ready" and a["gpu_product"] == "NVIDIA-A100-SXM4-80GB"

    table = run_cli("gpus", env=env)  # from the cache, no sync
    assert table.returncode == 0, table.output
    assert table.stdout.startswith(f"context {report['context']} (")
    assert f"idle but allocated: gpu-node-b: held by {kube_namespace}/idle-notebook (4)" in (
        table.stdout
    )


def test_gpus_without_a_kubeconfig_says_what_to_do(tmp_path):
    result = run_cli(
        "gpus",
        env={"KUBECONFIG": str(tmp_path / "missing"), "MLOPSTUI_CACHE": str(tmp_path / "c.db")},
    )
    assert result.returncode == 2 and "no kubeconfig" in result.stderr
