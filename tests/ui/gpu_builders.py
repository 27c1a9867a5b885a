"""Deterministic GPU caches, kubeconfigs and apps for the GPU nodes pane's UI and snapshot tests.

The cache is seeded through the writers the sync uses (`cache.kube.replace`,
`cache.gpu_nodes.snapshot_allocations`, `cache.gpus.store_samples`, `store_processes`, `set_note`,
`syncs.record_sync`), on top of the runs seed of builders.py (so a pod's MLflow run can be
opened). Six hours of history at the frozen clock (2026-03-02 12:00 UTC):

- a100-node-1: 8x A100, all 8 held by ml-team/train-llama-7b-0 (carries a cached run id),
  busy (85-98 %) throughout; a GPU-less sidecar pod with a hostile name and owner.
- a100-node-2: 8x A100; until 09:00 bert-finetune held 8 and was busy; since 09:00
  eval-sweep-3 holds 4 (its run is not cached) and every GPU has been idle since 09:10:
  idle but allocated. A hostile event message.
- h100-node-3: 8x H100; jupyter-alice held 1 until 11:00, when the node was cordoned.
- l4-node-4: 4x L4, NotReady since 11:40, no GPU samples, serving/infer-resnet holds 1.
- the local host ws-gpu-01 (NVML): an RTX 4090 and a T400 whose power NVML cannot read, and
  three processes (one in another PID namespace, one with a hostile command line).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlopstui import config
from mlopstui.cache import db, gpu_nodes, syncs
from mlopstui.cache import gpus as gpu_store
from mlopstui.cache import kube as kube_store
from mlopstui.domain import SyncRecord
from mlopstui.domain.gpus import GpuProcess, GpuSample
from mlopstui.domain.kubernetes import KubeEvent, KubeNode, KubePod

from .builders import DEAD_SERVER, FROZEN_NOW, THEME, build_cache, make_app, run_id

CTX = "gpu-dev"
PROD = "prod-east"
STAGING = "staging"
SERVERS = {CTX: "https://10.20.0.1:6443", PROD: "https://10.30.0.1:6443", STAGING: ""}
TOKEN = "kube-token-never-on-screen"
HOUR = 3600
MIN = 60
NODES = ("a100-node-1", "a100-node-2", "h100-node-3", "l4-node-4")
IDLE_NODE = "a100-node-2"
BUSY_NODE = "a100-node-1"
CORDONED_NODE = "h100-node-3"
CACHED_RUN_ID = run_id("run-53")  # a RUNNING run of the seed
UNCACHED_RUN_ID = "f" * 32
LOCAL_HOST = "ws-gpu-01"
NVML_MISSING = "NVML not found (no NVIDIA driver on this host)"
KUBE_ERROR = "https://10.20.0.1:6443 did not answer: connection refused"

HOSTILE_POD = "evil\x1b[31m[b]pod[/b]\u202e-x"
HOSTILE_POD_CLEAN = "evil[b]pod[/b]-x"
HOSTILE_OWNER = "[red]owner[/red]\x1b]52;c;QUFBQQ==\x07"
HOSTILE_OWNER_CLEAN = "[red]owner[/red]"
HOSTILE_EVENT = "Xid 79 \x1b[2J[link=http://x]GPU fell off the bus[/link]\u2066!"
HOSTILE_EVENT_CLEAN = "Xid 79 [link=http://x]GPU fell off the bus[/link]!"
HOSTILE_COMMAND = "\x1b]52;c;ZXZpbA==\x07[b]xmrig[/b]\u202e --donate"
HOSTILE_COMMAND_CLEAN = "[b]xmrig[/b] --donate"

T = FROZEN_NOW
START = T - 6 * HOUR


def write_kubeconfig(directory: Path) -> Path:
    """A kubeconfig with three contexts (current: gpu-dev) whose servers nothing answers."""
    directory.mkdir(parents=True, exist_ok=True)
    names = [CTX, PROD, STAGING]
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": CTX,
        "clusters": [{"name": n, "cluster": {"server": SERVERS[n] or DEAD_SERVER}} for n in names],
        "users": [{"name": f"{n}-user", "user": {"token": TOKEN}} for n in names],
        "contexts": [{"name": n, "context": {"cluster": n, "user": f"{n}-user"}} for n in names],
    }
    path = directory / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    path.chmod(0o600)
    return path


def gpu_settings(
    cache: Path,
    kubeconfig: Path | str | None,
    *,
    context: str | None = None,
    prometheus: bool = True,
    read_only: bool = False,
    start_pane: str = "gpus",
    **flags: Any,
) -> config.Settings:
    """Settings for a GPU pane test: this cache and kubeconfig, DCGM configured (a dead URL:
    sync is off in these tests), the fixed theme, the pane shown at start."""
    return config.load(
        flags={
            "cache": str(cache),
            "mlflow.tracking_uri": DEAD_SERVER,
            "read_only": True if read_only else None,
            "ui.theme": THEME,
            "ui.start_pane": start_pane,
            "kubernetes.kubeconfig": str(kubeconfig) if kubeconfig else "/nonexistent/kubeconfig",
            "kubernetes.context": context,
            "gpu.prometheus_url": "http://127.0.0.1:9" if prometheus else None,
            **flags,
        },
        environ={},
    )


# ---------------------------------------------------------------- the cluster over time


def _node(name: str, gpus: int, product: str, **kw: Any) -> KubeNode:
    kw.setdefault("ready", "True")
    kw.setdefault(
        "conditions",
        (
            {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
             "message": "kubelet has sufficient memory available", "since": "2026-01-21T08:00:00Z"},
            {"type": "Ready", "status": kw["ready"], "reason": "KubeletReady",
             "message": "kubelet is posting ready status", "since": "2026-01-21T08:00:00Z"},
        ),
    )  # fmt: skip
    return KubeNode(
        name,
        gpu_product=product,
        gpu_capacity=gpus,
        gpu_allocatable=gpus,
        labels={"kubernetes.io/hostname": name, "nvidia.com/gpu.product": product},
        created=T - 40 * 86400,
        **kw,
    )


def _nodes(at: float) -> list[KubeNode]:
    a100 = "NVIDIA-A100-SXM4-80GB"
    gpu_taint = (("nvidia.com/gpu", "present", "NoSchedule"),)
    nodes = [
        _node("a100-node-1", 8, a100, taints=gpu_taint),
        _node("a100-node-2", 8, a100, taints=gpu_taint),
    ]
    cordoned = at >= T - HOUR
    nodes.append(
        _node(
            "h100-node-3",
            8,
            "NVIDIA-H100-80GB-HBM3",
            unschedulable=cordoned,
            taints=(("node.kubernetes.io/unschedulable", "", "NoSchedule"),) if cordoned else (),
        )
    )
    if at >= T - 20 * MIN:
        down = (
            {"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
             "message": "Kubelet stopped posting node status.", "since": "2026-03-02T11:40:00Z"},
        )  # fmt: skip
        nodes.append(
            _node(
                "l4-node-4",
                4,
                "NVIDIA-L4",
                ready="Unknown",
                conditions=down,
                taints=(("node.kubernetes.io/unreachable", "", "NoExecute"),),
            )
        )
    else:
        nodes.append(_node("l4-node-4", 4, "NVIDIA-L4"))
    return nodes


def _pods(at: float) -> list[KubePod]:
    pods = [
        KubePod("ml-team", "train-llama-7b-0", "a100-node-1", "Running", 8, "Job",
                "train-llama-7b", CACHED_RUN_ID, START),
        KubePod("ml-team", HOSTILE_POD, "a100-node-1", "Running", 0, "Job", HOSTILE_OWNER,
                "", START),
        KubePod("serving", "infer-resnet-5c9f7-abcde", "l4-node-4", "Running", 1,
                "Deployment", "infer-resnet", "", T - 86400),
        KubePod("kube-system", "nvidia-device-plugin-x7k2p", "a100-node-2", "Running", 0,
                "DaemonSet", "nvidia-device-plugin", "", T - 40 * 86400),
    ]  # fmt: skip
    if at < T - 3 * HOUR:
        pods.append(KubePod("ml-team", "bert-finetune-0", "a100-node-2", "Running", 8, "Job",
                            "bert-finetune", "", START))  # fmt: skip
    else:
        pods.append(KubePod("ml-team", "bert-finetune-0", "a100-node-2", "Succeeded", 8, "Job",
                            "bert-finetune", "", START))  # fmt: skip
        pods.append(KubePod("ml-team", "eval-sweep-3", "a100-node-2", "Running", 4, "Job",
                            "eval-sweep", UNCACHED_RUN_ID, T - 3 * HOUR))  # fmt: skip
    if at < T - HOUR:
        pods.append(KubePod("data-sci", "jupyter-alice", "h100-node-3", "Running", 1,
                            "StatefulSet", "jupyter-alice", "", START))  # fmt: skip
    return pods


def _events() -> list[KubeEvent]:
    return [
        KubeEvent("default", "l4-node-4.1", "Node", "l4-node-4", "Warning", "NodeNotReady",
                  "Node l4-node-4 status is now: NodeNotReady", 1, T - 20 * MIN),
        KubeEvent("default", "h100-node-3.1", "Node", "h100-node-3", "Normal",
                  "NodeNotSchedulable", "Node h100-node-3 status is now: NodeNotSchedulable",
                  1, T - HOUR),
        KubeEvent("default", "a100-node-2.1", "Node", "a100-node-2", "Warning", "GPUHealth",
                  HOSTILE_EVENT, 3, T - 30 * MIN),
    ]  # fmt: skip


def _util(node: str, gpu: int, at: int) -> float:
    k = (at - START) // MIN
    if node == "a100-node-1":
        return float(85 + (k * 7 + gpu * 13) % 14)
    if node == "a100-node-2":
        return float(70 + (k + gpu) % 20) if at < T - 170 * MIN else 0.0
    if node == "h100-node-3":
        return float(30 + k % 10) if gpu == 0 and at < T - HOUR else 0.0
    raise ValueError(node)


def _samples(since: int) -> list[GpuSample]:
    out = []
    for node in ("a100-node-1", "a100-node-2", "h100-node-3"):
        product = "NVIDIA H100 80GB HBM3" if node.startswith("h100") else "NVIDIA A100-SXM4-80GB"
        total = 81559.0 if node.startswith("h100") else 81920.0
        for at in range(since, T + 1, MIN):
            for gpu in range(8):
                util = _util(node, gpu, at)
                out.append(
                    GpuSample(
                        node, f"GPU-{node}-{gpu}", at, gpu, product, util,
                        mem_used=1000.0 + util * 700, mem_total=total,
                        temp=34.0 + util * 0.45 + gpu % 3, power=60.0 + util * 3.4,
                    )
                )  # fmt: skip
    return out


def local_samples(at: int = T, *, bump: float = 0.0) -> list[GpuSample]:
    """This host's two GPUs (NVML): the T400 cannot report power (n/a)."""
    return [
        GpuSample(LOCAL_HOST, "GPU-ws-0", at, 0, "NVIDIA GeForce RTX 4090", 63.0 + bump,
                  18000.0 + bump, 24564.0, 71.0 + bump, 350.0 + bump),
        GpuSample(LOCAL_HOST, "GPU-ws-1", at, 1, "NVIDIA T400", 0.0 + bump, 300.0 + bump,
                  2048.0, 48.0 + bump, None),
    ]  # fmt: skip


def eight_local_samples(at: int, step: int) -> list[GpuSample]:
    """Eight local GPUs whose every value differs from the step before (the 1 Hz budget)."""
    return [
        GpuSample(LOCAL_HOST, f"GPU-bench-{i}", at, i, "NVIDIA A100-SXM4-80GB",
                  util=float((step * 7 + i * 11) % 100),
                  mem_used=float(20000 + (step * 331 + i) % 40000), mem_total=81920.0,
                  temp=float(40 + (step + i) % 40), power=float(100 + (step * 13 + i) % 300))
        for i in range(8)
    ]  # fmt: skip


def local_processes(at: int = T) -> list[GpuProcess]:
    return [
        GpuProcess(LOCAL_HOST, "GPU-ws-0", 0, 4242, "C", "alice",
                   "python train.py --config conf/big.yaml", 17000.0, at),
        GpuProcess(LOCAL_HOST, "GPU-ws-0", 0, 5151, "C", "", "", 800.0, at),
        GpuProcess(LOCAL_HOST, "GPU-ws-1", 1, 6060, "C+G", "bob", HOSTILE_COMMAND, None, at),
    ]  # fmt: skip


def seed_gpus(
    path: Path,
    *,
    context: str = CTX,
    partial: bool = False,
    nvml: bool = True,
    kube_failing: bool = False,
    history: bool = True,
) -> Path:
    """The runs seed plus the GPU cluster above under `context` (see the module doc).

    partial: the `readonly` user may not list nodes (RBAC): no node objects, a forbidden
    watch status, the rows come from the pods. nvml=False: the 'NVML not found' note.
    kube_failing: the API server has not answered since 11:45."""
    build_cache(path, "loaded")
    writer = db.Writer(db.open_writer(path))
    try:
        with writer.transaction() as conn:
            steps = [START, T - 3 * HOUR, T - HOUR, T - 20 * MIN] if history else [T - 20 * MIN]
            for at in steps:
                kube_store.replace(conn, context, "nodes", [] if partial else _nodes(at))
                kube_store.replace(conn, context, "pods", _pods(at))
                gpu_nodes.snapshot_allocations(conn, context, None, at)
            kube_store.replace(conn, context, "events", _events())
            gpu_store.store_samples(conn, "dcgm", _samples(START if history else T - HOUR))
            if nvml:
                gpu_store.store_samples(conn, "nvml", local_samples())
                gpu_store.store_processes(conn, LOCAL_HOST, local_processes())
                gpu_store.set_note(conn, "nvml", None)
            else:
                gpu_store.set_note(conn, "nvml", NVML_MISSING)
            for kind in ("nodes", "pods", "events"):
                state = "forbidden" if partial and kind == "nodes" else "watching"
                reason = (
                    'nodes is forbidden: User "readonly" cannot list resource "nodes" in API '
                    'group "" at the cluster scope'
                    if state == "forbidden"
                    else ""
                )
                user = "readonly" if state == "forbidden" else ""
                kube_store.set_watch_status(
                    conn, context, kube_store.WatchStatus(kind, state, T - HOUR, reason, user)
                )
            records = [
                SyncRecord("kubernetes", "pods", T - 2 * HOUR, T - 2 * HOUR + 1, True, None, 9),
                SyncRecord("dcgm", "gpus", T - 21, T - 20, True, None, 24),
            ]
            if not kube_failing:  # a watch renewed two minutes ago
                records.append(SyncRecord("kubernetes", "nodes", T - 122, T - 121, True, None, 0))
            if nvml:
                records.append(SyncRecord("nvml", "gpus", T - 6, T - 5, True, None, 5))
            if kube_failing:
                records += [  # fine at 10:00, failing since 11:45
                    SyncRecord("kubernetes", "nodes", T - 15 * MIN, T - 15 * MIN + 10, False,
                               KUBE_ERROR, 0),
                    SyncRecord("kubernetes", "pods", T - 5 * MIN, T - 5 * MIN + 10, False,
                               KUBE_ERROR, 0),
                ]  # fmt: skip
            for record in records:
                syncs.record_sync(conn, record)
    finally:
        writer.close()
    return path


def write_local(path: Path, samples: list[GpuSample], procs: list[GpuProcess] | None = None):
    """Store one NVML poll, as NvmlSync does."""
    writer = db.Writer(db.open_writer(path))
    try:
        with writer.transaction() as conn:
            gpu_store.store_samples(conn, "nvml", samples)
            if procs is not None:
                gpu_store.store_processes(conn, LOCAL_HOST, procs)
    finally:
        writer.close()


def gpu_app(
    tmp_path: Path,
    *,
    context: str | None = None,
    kubeconfig: bool = True,
    read_only: bool = False,
    prometheus: bool = True,
    seed: dict[str, Any] | None = None,
    settings_flags: dict[str, Any] | None = None,
    pipeline: Any = None,
):
    """The workbench over a seeded GPU cache, started on the GPU nodes pane, sync off.
    Close `app.workbench` and `app.pipeline` when done (the fixtures do)."""
    cache = tmp_path / "gpus.sqlite"
    seed_gpus(cache, **{"context": context or CTX, **(seed or {})})
    kube = write_kubeconfig(tmp_path / "kube") if kubeconfig else None
    settings = gpu_settings(
        cache,
        kube,
        context=context,
        prometheus=prometheus,
        read_only=read_only,
        **(settings_flags or {}),
    )
    return make_app(cache, settings=settings, pipeline=pipeline)
