"""Kubernetes values: nodes, pods, node events and watch notifications, as cached and shown.

The Kubernetes adapter translates API payloads into these; the cache stores and reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class KubeNode:
    """A node: GPU capacity (NVIDIA device plugin), product (GPU feature discovery), state."""

    name: str
    gpu_product: str = ""
    gpu_capacity: int = 0
    gpu_allocatable: int = 0
    ready: str = "Unknown"
    """The Ready condition's status: 'True', 'False' or 'Unknown'."""
    unschedulable: bool = False
    taints: tuple[tuple[str, str, str], ...] = ()
    """(key, value, effect) each."""
    labels: dict[str, str] = field(default_factory=dict)
    conditions: tuple[dict[str, str], ...] = ()
    """{type, status, reason, message, since} each."""
    created: float | None = None
    resource_version: str = ""


@dataclass(frozen=True, slots=True)
class KubePod:
    """A pod with what the GPU pane needs: where it runs and how many GPUs it holds."""

    namespace: str
    name: str
    node: str = ""
    phase: str = ""
    gpu_request: int = 0
    owner_kind: str = ""
    owner_name: str = ""
    run_id: str = ""
    created: float | None = None


@dataclass(frozen=True, slots=True)
class KubeEvent:
    """An event about a node (the kubelet's, the node controller's, a cordon)."""

    namespace: str
    name: str
    object_kind: str = ""
    object_name: str = ""
    type: str = ""
    reason: str = ""
    message: str = ""
    count: int = 1
    last_seen: float | None = None


KubeObject = KubeNode | KubePod | KubeEvent


@dataclass(frozen=True, slots=True)
class WatchEvent:
    """One watch notification: ADDED, MODIFIED, DELETED, or BOOKMARK (obj None)."""

    type: str
    obj: KubeObject | None
    resource_version: str
