"""Kubernetes node actions: cordon and uncordon.

Both are dangerous (the person types the node's name) and carry the context they were made
for: the executor refuses an action whose context is not the session's pinned one, so a
switched context or an edited kubeconfig never redirects it. The plan reads the node live and
names the context and the API server; execute reads it again and sends nothing when it is
already as asked (a no-op) — the same strategic merge patch of spec.unschedulable kubectl
sends. A 403 comes back as SourceAuthError whose message is the API server's own reason.
"""

from __future__ import annotations

from collections.abc import Callable

from mlopstui import timefmt
from mlopstui.actions import Action, ActionRefused, AlreadyDone, Conflict, NotSent, Plan
from mlopstui.adapters import SourceError
from mlopstui.adapters.kubernetes import KubeSource
from mlopstui.cache import gpu_nodes
from mlopstui.cache.db import Writer
from mlopstui.domain.kubernetes import KubeNode

SOURCE = "kubernetes"
TOPICS = frozenset({"kube", "gpus"})


def _state(unschedulable: bool) -> str:
    return "cordoned" if unschedulable else "schedulable"


def cordon(context: str, node: str) -> Action:
    """Mark `node` unschedulable: no new pods land on it; running pods stay (no drain)."""
    return Action(
        "cordon", SOURCE, f"node {node} in {context}", {"context": context, "node": node}, True
    )


def uncordon(context: str, node: str) -> Action:
    """Mark `node` schedulable again."""
    return Action(
        "uncordon", SOURCE, f"node {node} in {context}", {"context": context, "node": node}, True
    )


class _CordonExecutor:
    source = SOURCE
    topics = TOPICS
    kind = ""
    unschedulable = True

    def __init__(self, kube: KubeSource, writer: Writer, label: Callable[[], str]) -> None:
        self.kube = kube
        self.writer = writer
        self.label = label

    def _live(self, action: Action) -> KubeNode:
        """The node as it is now, from the pinned context (ActionRefused when it cannot be)."""
        context, name = action.params.get("context"), action.params["node"]
        if context != self.kube.context:
            raise ActionRefused(
                f"this {action.kind} was made for context {context!r}, but this session is "
                f"pinned to {self.kube.context!r}"
            )
        node = self.kube.get_node(name)
        if node is None:
            raise ActionRefused(f"context {context} has no node named {name!r}")
        return node

    def plan(self, action: Action) -> Plan:
        node = self._live(action)
        name, want = node.name, self.unschedulable
        title = f"{self.kind.capitalize()} node {name}"
        effect = (
            "New pods will not be scheduled on it; running pods keep running (nothing is drained)."
            if want
            else "The scheduler may place new pods on it again."
        )
        gpus = f"{node.gpu_allocatable} GPUs allocatable" if node.gpu_allocatable else "no GPUs"
        details = (
            f"context: {self.kube.context}",
            f"API server: {self.kube.server}",
            f"node: {name} ({node.gpu_product or 'no GPU product label'}, {gpus})",
            effect,
        )
        return Plan(
            action,
            title,
            self.label(),
            _state(node.unschedulable),
            _state(want),
            expected={"unschedulable": node.unschedulable, "target": want},
            details=details,
            noop=f"node {name} is already {_state(want)}" if node.unschedulable == want else None,
            confirm_phrase=name,
        )

    def execute(self, plan: Plan) -> None:
        try:
            node = self._live(plan.action)
        except SourceError as exc:  # the re-read failed: the patch never went out
            raise NotSent(str(exc)) from exc
        if node.unschedulable == self.unschedulable:
            raise AlreadyDone(f"node {node.name} is already {_state(self.unschedulable)}")
        if node.unschedulable != plan.expected.get("unschedulable"):
            raise Conflict(
                f"node {node.name} became {_state(node.unschedulable)} since you confirmed"
            )
        self.kube.cordon(node.name, self.unschedulable)

    def verify(self, plan: Plan) -> str | None:
        node = self.kube.get_node(plan.action.params["node"])
        if node is None:
            return "no such node any more"
        return None if node.unschedulable == self.unschedulable else _state(node.unschedulable)

    def applied(self, plan: Plan, user: str) -> None:
        """Show the change at once; the node watch brings the rest (the controller's taint)."""
        name = plan.action.params["node"]
        with self.writer.transaction() as conn:
            conn.execute(
                "UPDATE kube_nodes SET unschedulable = ? WHERE context = ? AND name = ?",
                (int(self.unschedulable), self.kube.context, name),
            )
            gpu_nodes.snapshot_allocations(conn, self.kube.context, [name], timefmt.now())


class CordonExecutor(_CordonExecutor):
    """cordon: spec.unschedulable = true."""

    kind = "cordon"
    unschedulable = True


class UncordonExecutor(_CordonExecutor):
    """uncordon: spec.unschedulable removed (false)."""

    kind = "uncordon"
    unschedulable = False


def executors(
    source: KubeSource, writer: Writer, label: Callable[[], str] | None = None
) -> list[_CordonExecutor]:
    """The node executors over the session's pinned source. `label` names the source in plans
    and the audit log (default: "kubernetes <context> (<server>)")."""
    label = label or (lambda: f"kubernetes {source.context} ({source.server})")
    return [CordonExecutor(source, writer, label), UncordonExecutor(source, writer, label)]
