"""Cordon and uncordon through the action pipeline against the real control plane: the node's
spec.unschedulable changes (seen by another client), the plan names the context and the API
server, every attempt is audited, RBAC's 403 reaches the outcome with the API's reason, and the
read-only gate refuses before anything is sent."""

from __future__ import annotations

import contextlib
import uuid
from pathlib import Path

import pytest
import yaml
from cluster_helpers import wait_until
from kubernetes import client
from kubernetes.client import ApiException

from mlopstui.actions import ActionRefused
from mlopstui.actions import kubernetes as kube_actions
from mlopstui.actions.pipeline import Pipeline
from mlopstui.adapters.kubernetes import KubeForbidden, KubeSource
from mlopstui.cache import db
from mlopstui.cache import kube as store
from mlopstui.cache.audit import AuditLog

pytestmark = pytest.mark.kubernetes
pytest_plugins = ["kube_fixtures"]


@pytest.fixture
def writer(tmp_path: Path):
    w = db.Writer(db.open_writer(tmp_path / "cache" / "kube.sqlite"))
    yield w
    w.close()


@pytest.fixture
def pipeline_for(writer, tmp_path):
    """pipeline_for(kubeconfig, read_only=False) -> (Pipeline, KubeSource)."""
    made: list[Pipeline] = []

    def make(kubeconfig: Path | str, read_only: bool = False):
        source = KubeSource(str(kubeconfig))
        pipeline = Pipeline(
            kube_actions.executors(source, writer),
            read_only=lambda s: read_only,
            source_label=lambda s: f"kubernetes {source.context}",
            audit=lambda: AuditLog(tmp_path / "audit.sqlite"),
            user="tester",
        )
        made.append(pipeline)
        return pipeline, source

    yield make
    for p in made:
        p.close()


def unschedulable(api, node: str) -> bool:
    return bool(client.CoreV1Api(api).read_node(node).spec.unschedulable)


def test_cordon_and_uncordon_through_the_pipeline(
    pipeline_for, kubeconfig_admin_path, kube_admin, make_gpu_node, writer, tmp_path
):
    node = make_gpu_node().metadata.name
    pipeline, source = pipeline_for(kubeconfig_admin_path)
    with writer.transaction() as conn:  # as the node watch would have cached it
        store.upsert(conn, source.context, source.get_node(node))

    plan = pipeline.prepare(kube_actions.cordon(source.context, node))
    assert (plan.before, plan.after, plan.noop) == ("schedulable", "cordoned", None)
    assert plan.action.dangerous and plan.confirm_phrase == node
    assert f"context: {source.context}" in plan.details
    assert f"API server: {source.server}" in plan.details
    assert source.requests.get("PATCH nodes", 0) == 0  # planning reads only

    outcome = pipeline.run(plan)
    assert outcome.status == "ok", outcome.message
    assert unschedulable(kube_admin, node)  # what any other client sees
    assert store.node(writer.conn, source.context, node).unschedulable  # the cache at once
    assert pipeline.run(plan).status == "noop"  # confirmed twice: nothing sent again
    assert source.requests["PATCH nodes"] == 1
    # The node controller taints a cordoned node, as on a real cluster.
    wait_until(
        lambda: any(
            t.key == "node.kubernetes.io/unschedulable"
            for t in client.CoreV1Api(kube_admin).read_node(node).spec.taints or []
        ),
        message="the unschedulable taint",
    )

    again = pipeline.prepare(kube_actions.cordon(source.context, node))
    assert again.noop == f"node {node} is already cordoned"
    back = pipeline.run(pipeline.prepare(kube_actions.uncordon(source.context, node)))
    assert back.status == "ok", back.message
    assert not unschedulable(kube_admin, node)

    records = AuditLog(tmp_path / "audit.sqlite").records()
    mine = [r for r in records if r.target == f"node {node} in {source.context}"]
    assert [(r.action, r.before, r.after, r.outcome) for r in reversed(mine)] == [
        ("cordon", "schedulable", "cordoned", "ok"),
        ("cordon", "schedulable", "cordoned", "noop"),
        ("uncordon", "cordoned", "schedulable", "ok"),
    ]
    label = f"kubernetes {source.context} ({source.server})"  # the executors' default label
    assert all(r.user == "tester" and r.source == label for r in mine)


def test_a_cordon_made_meanwhile_by_someone_else_is_a_noop(
    pipeline_for, kubeconfig_admin_path, kube_admin, make_gpu_node
):
    node = make_gpu_node().metadata.name
    pipeline, source = pipeline_for(kubeconfig_admin_path)
    plan = pipeline.prepare(kube_actions.cordon(source.context, node))
    client.CoreV1Api(kube_admin).patch_node(node, {"spec": {"unschedulable": True}})
    outcome = pipeline.run(plan)
    assert (outcome.status, outcome.message) == ("noop", f"node {node} is already cordoned")
    assert source.requests.get("PATCH nodes", 0) == 0


def test_the_readonly_user_is_refused_with_the_api_reason(
    pipeline_for, kubeconfig_readonly_path, kube_readonly, make_gpu_node
):
    node = make_gpu_node().metadata.name
    pipeline, source = pipeline_for(kubeconfig_readonly_path)
    with pytest.raises(KubeForbidden) as denied:
        pipeline.prepare(kube_actions.cordon(source.context, node))
    assert str(denied.value).startswith(
        f'nodes "{node}" is forbidden: User "readonly" cannot get resource "nodes"'
    )


@pytest.fixture
def node_reader_kubeconfig(kube_admin, kubeconfig_admin_path, tmp_path) -> Path:
    """A kubeconfig acting as a user who may read nodes but not change them: the admin
    impersonating it (`as:` in the kubeconfig, as kubectl honours), bound to a role made for
    this test."""
    rbac = client.RbacAuthorizationV1Api(kube_admin)
    name = f"mlopstui-node-reader-{uuid.uuid4().hex[:6]}"
    rbac.create_cluster_role(
        client.V1ClusterRole(
            metadata=client.V1ObjectMeta(name=name),
            rules=[
                client.V1PolicyRule(
                    api_groups=[""], resources=["nodes"], verbs=["get", "list", "watch"]
                )
            ],
        )
    )
    rbac.create_cluster_role_binding(
        client.V1ClusterRoleBinding(
            metadata=client.V1ObjectMeta(name=name),
            role_ref=client.V1RoleRef(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=name
            ),
            subjects=[
                client.RbacV1Subject(kind="User", name=name, api_group="rbac.authorization.k8s.io")
            ],
        )
    )
    doc = yaml.safe_load(kubeconfig_admin_path.read_text())
    doc["users"][0]["user"]["as"] = name
    path = tmp_path / "node-reader.kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    try:
        yield path
    finally:
        with contextlib.suppress(ApiException):
            rbac.delete_cluster_role_binding(name)
        with contextlib.suppress(ApiException):
            rbac.delete_cluster_role(name)


def test_a_403_on_the_patch_fails_with_the_api_reason_and_is_audited(
    pipeline_for, node_reader_kubeconfig, kube_admin, make_gpu_node, tmp_path
):
    node = make_gpu_node().metadata.name
    pipeline, source = pipeline_for(node_reader_kubeconfig)
    plan = wait_until(  # RBAC's informer sees the new binding within moments
        lambda: _prepare_or_none(pipeline, kube_actions.cordon(source.context, node)),
        message="the node-reader binding",
    )
    outcome = pipeline.run(plan)
    assert outcome.status == "failed"
    assert 'cannot patch resource "nodes"' in outcome.message
    assert outcome.message.startswith(f'nodes "{node}" is forbidden: User "mlopstui-node-reader-')
    assert not unschedulable(kube_admin, node)
    record = AuditLog(tmp_path / "audit.sqlite").get(outcome.audit_id)
    assert record is not None and record.outcome == "failed"
    assert 'cannot patch resource "nodes"' in (record.error or "")


def _prepare_or_none(pipeline, action):
    try:
        return pipeline.prepare(action)
    except KubeForbidden:
        return None


def test_read_only_refuses_before_anything_is_sent(
    pipeline_for, kubeconfig_admin_path, kube_admin, make_gpu_node
):
    node = make_gpu_node().metadata.name
    writable, source = pipeline_for(kubeconfig_admin_path)
    plan = writable.prepare(kube_actions.cordon(source.context, node))
    locked, locked_source = pipeline_for(kubeconfig_admin_path, read_only=True)
    assert not locked.allows("kubernetes", "cordon")
    with pytest.raises(ActionRefused, match="read-only"):
        locked.prepare(kube_actions.cordon(source.context, node))
    outcome = locked.run(plan)
    assert outcome.status == "refused" and "read-only" in outcome.message
    assert not unschedulable(kube_admin, node)
    assert locked_source.requests == {}


def test_an_action_for_another_context_or_a_missing_node_is_refused(
    pipeline_for, kubeconfig_admin_path
):
    pipeline, source = pipeline_for(kubeconfig_admin_path)
    with pytest.raises(ActionRefused, match="pinned to"):
        pipeline.prepare(kube_actions.cordon("prod-cluster", "gpu-1"))
    with pytest.raises(ActionRefused, match="has no node named"):
        pipeline.prepare(kube_actions.cordon(source.context, f"missing-{uuid.uuid4().hex[:6]}"))
