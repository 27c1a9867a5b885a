"""The Kubernetes watchers against the real control plane: a list at start, then watches only
(counted), a watch that breaks and resumes without a list, 410 Gone and exactly one relist,
RBAC's partial data for the read-only user, and untrusted strings stored verbatim.

Another client (the admin ApiClient of the fixtures) makes every change the watchers see."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import pytest
import yaml
from cluster_helpers import GPU_RESOURCE, bind_pod, mark_pod_running, run_pending_pods, wait_until
from kube_fixtures import compact_etcd
from kubernetes import client

from mlopstui import config
from mlopstui.adapters import SourceUnreachable
from mlopstui.adapters.kubernetes import KubeSource
from mlopstui.cache import db, gpu_nodes
from mlopstui.cache import kube as store
from mlopstui.sync import kubernetes as kube_sync
from mlopstui.sync.scheduler import Scheduler

pytestmark = pytest.mark.kubernetes
pytest_plugins = ["kube_fixtures"]

HOSTILE = "[bold red]PWNED[/] \x1b[2J\x1b]0;title\x07 \u202eevil"


def gpu_pod(name: str, gpus: int, annotations: dict[str, str] | None = None) -> client.V1Pod:
    resources = client.V1ResourceRequirements(limits={GPU_RESOURCE: str(gpus)}) if gpus else None
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, annotations=annotations),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(name="main", image="example/train:1", resources=resources)
            ]
        ),
    )


def run_on(api, namespace: str, pod: client.V1Pod, node: str, running: bool = True) -> None:
    client.CoreV1Api(api).create_namespaced_pod(namespace, pod)
    bind_pod(api, pod.metadata.name, node, namespace)
    if running:
        mark_pod_running(api, pod.metadata.name, namespace)


@pytest.fixture
def writer(tmp_path: Path):
    w = db.Writer(db.open_writer(tmp_path / "cache" / "kube.sqlite"))
    yield w
    w.close()


def rows_of(writer, context: str, names: set[str]) -> dict[str, gpu_nodes.NodeRow]:
    rows = gpu_nodes.node_rows(writer.conn, context, now=time.time())
    return {r.name: r for r in rows if r.name in names}


class Relay:
    """A TCP relay in front of the API server (TLS passes through untouched), to break
    connections (`sever`) or make the server unreachable (`pause`/`resume`)."""

    def __init__(self, upstream: str) -> None:
        host, port = upstream.removeprefix("https://").rsplit(":", 1)
        self.upstream = (host, int(port))
        self.port = 0
        self._conns: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self.resume()

    def resume(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                down, _ = listener.accept()
            except OSError:
                return
            up = socket.create_connection(self.upstream)
            self._conns += [down, up]
            for a, b in ((down, up), (up, down)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def sever(self) -> None:
        """Reset every open connection (a NAT timeout, a VPN flap)."""
        for s in self._conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        self._conns.clear()

    def pause(self) -> None:
        """Refuse new connections and sever the open ones."""
        if self._listener is not None:
            # shutdown() first: close() alone does not wake the thread blocked in accept(),
            # which keeps the port accepting.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        self.sever()


@pytest.fixture
def relay(kube_env):
    r = Relay(kube_env["KUBE_API_URL"])
    yield r
    r.pause()


def kubeconfig_via(relay: Relay, kubeconfig: Path, tmp_path: Path) -> str:
    doc = yaml.safe_load(kubeconfig.read_text())
    doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{relay.port}"
    path = tmp_path / "relay.kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_gpu_nodes_and_their_pods_land_in_the_cache(
    kubeconfig_admin_path, kube_admin, kube_namespace, make_gpu_node, writer
):
    ns = kube_namespace
    n0, n1 = make_gpu_node("a").metadata.name, make_gpu_node("b").metadata.name
    n2 = make_gpu_node("c", gpus=4, product="NVIDIA-H100-80GB-HBM3").metadata.name
    # A Deployment's pods are owned by a ReplicaSet; the cache names the Deployment. (First:
    # run_pending_pods starts every Pending pod of the namespace.)
    client.AppsV1Api(kube_admin).create_namespaced_deployment(
        ns,
        client.V1Deployment(
            metadata=client.V1ObjectMeta(name="server"),
            spec=client.V1DeploymentSpec(
                replicas=1,
                selector=client.V1LabelSelector(match_labels={"app": "server"}),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels={"app": "server"}),
                    spec=gpu_pod("x", 1).spec,
                ),
            ),
        ),
    )
    wait_until(lambda: run_pending_pods(kube_admin, ns, n2), message="the Deployment's pod")
    run_on(kube_admin, ns, gpu_pod("train-a", 4), n0)
    run_on(kube_admin, ns, gpu_pod("eval-a", 2), n0)
    run_on(kube_admin, ns, gpu_pod("train-b", 8), n1)
    run_on(kube_admin, ns, gpu_pod("queued-c", 1), n2, running=False)  # bound, Pending
    client.CoreV1Api(kube_admin).create_namespaced_pod(ns, gpu_pod("unbound", 4))

    source = KubeSource(str(kubeconfig_admin_path))
    for watcher in kube_sync.watchers(source, writer):
        watcher.step()  # the initial list
    assert source.requests == {"LIST nodes": 1, "LIST pods": 1, "LIST events": 1}

    rows = rows_of(writer, source.context, {n0, n1, n2})
    assert {n: (r.allocatable, r.allocated) for n, r in rows.items()} == {
        n0: (8, 6),
        n1: (8, 8),
        n2: (4, 2),
    }
    assert rows[n2].gpu_product == "NVIDIA-H100-80GB-HBM3" and rows[n0].status == "Ready"
    pods = {p.name: p for p in store.pods_on(writer.conn, source.context, n2)}
    served = next(p for name, p in pods.items() if name.startswith("server-"))
    assert (served.owner_kind, served.owner_name, served.phase) == (
        "Deployment",
        "server",
        "Running",
    )
    assert pods["queued-c"].phase == "Pending"
    history = writer.conn.execute(
        "SELECT node, allocated FROM gpu_allocations WHERE context = ? AND node IN (?, ?, ?)",
        (source.context, n0, n1, n2),
    ).fetchall()
    assert sorted(history) == sorted([(n0, 6), (n1, 8), (n2, 2)])


def test_steady_state_is_watches_only(
    kubeconfig_admin_path, kube_admin, kube_namespace, make_gpu_node, writer
):
    """Changes made by another client reach the cache through the watches; across several
    watch renewals no LIST is sent after the first of each kind."""
    core = client.CoreV1Api(kube_admin)
    ns = kube_namespace
    node = make_gpu_node().metadata.name
    run_on(kube_admin, ns, gpu_pod("first", 2), node)
    settings = config.load(environ={}, flags={"kubernetes.kubeconfig": str(kubeconfig_admin_path)})
    source = KubeSource(str(kubeconfig_admin_path), watch_timeout=1)
    scheduler = Scheduler(writer)
    announced: list[set[str]] = []
    scheduler.listeners.append(lambda src, topics: announced.append(topics))
    for job in kube_sync.jobs(settings, writer, scheduler.announce, source=source):
        scheduler.add(job)
    assert [(j.source, j.name) for j in scheduler.jobs] == [
        ("kubernetes", "nodes"),
        ("kubernetes", "pods"),
        ("kubernetes", "events"),
    ]
    scheduler.start()
    try:

        def row():
            return rows_of(writer, source.context, {node}).get(node)

        wait_until(lambda: row() and row().allocated == 2, message="the initial list")
        lists = dict(source.requests)
        assert source.list_requests == 3

        run_on(kube_admin, ns, gpu_pod("second", 4), node)
        wait_until(lambda: row().allocated == 6, message="a new pod seen by the watch")
        core.delete_namespaced_pod("first", ns, grace_period_seconds=0)
        wait_until(lambda: row().allocated == 4, message="a deleted pod seen by the watch")
        core.patch_node(node, {"spec": {"unschedulable": True}})
        wait_until(lambda: row().cordoned, message="a cordon by another client")
        wait_until(
            lambda: any(e.reason for e in store.events_for(writer.conn, source.context, node)),
            message="the node's events",
        )
        renewals = source.requests["WATCH pods"]
        wait_until(
            lambda: (
                min(source.requests[f"WATCH {k}"] for k in ("nodes", "pods", "events"))
                >= renewals + 3
            ),
            timeout=30,
            message="three more watch renewals of each kind",
        )
    finally:
        scheduler.stop()
    assert {k: n for k, n in source.requests.items() if k.startswith("LIST")} == {
        k: n for k, n in lists.items() if k.startswith("LIST")
    }
    assert source.list_requests == 3
    assert {"kube", "gpus"} in announced
    status = store.watch_status(writer.conn, source.context)
    assert {k: s.state for k, s in status.items()} == {
        "nodes": "watching",
        "pods": "watching",
        "events": "watching",
    }
    ok = writer.conn.execute(
        "SELECT count(*) FROM sync_runs WHERE source = 'kubernetes' AND ok = 1"
    ).fetchone()[0]
    assert ok >= 9  # every list and every watch renewal is a recorded sync


def test_a_broken_watch_resumes_from_its_version_without_a_list(
    kubeconfig_admin_path, kube_admin, kube_namespace, make_gpu_node, writer, relay, tmp_path
):
    ns = kube_namespace
    node = make_gpu_node().metadata.name
    source = KubeSource(
        kubeconfig_via(relay, kubeconfig_admin_path, tmp_path), request_timeout=3, watch_timeout=60
    )
    watcher = kube_sync.KubeWatcher(source, writer, "pods")
    watcher.step()  # list

    def allocated() -> int:
        row = rows_of(writer, source.context, {node}).get(node)
        return row.allocated if row else 0

    outcome: dict[str, object] = {}

    def watch_once() -> None:
        try:
            outcome["rows"] = watcher.step()
        except Exception as exc:
            outcome["error"] = exc

    # The watch is live...
    t = threading.Thread(target=watch_once)
    t.start()
    run_on(kube_admin, ns, gpu_pod("before", 1), node)
    wait_until(lambda: allocated() == 1, message="the pod seen while the watch is live")
    # ...then the connection is reset, and a pod starts while nobody watches.
    relay.sever()
    t.join(10)
    assert isinstance(outcome.get("error"), SourceUnreachable), outcome
    assert "broke" in str(outcome["error"])
    run_on(kube_admin, ns, gpu_pod("during", 2), node)
    # The server is unreachable for a while: a failure, and still no list.
    relay.pause()
    with pytest.raises(SourceUnreachable, match="unreachable"):
        watcher.step()
    assert store.watch_status(writer.conn, source.context)["pods"].state == "failed"
    relay.resume()

    t = threading.Thread(target=watch_once)
    outcome.clear()
    t.start()
    wait_until(lambda: allocated() == 3, message="the change made during the break")
    watcher.cancel()
    t.join(10)
    assert outcome.get("rows", 0) >= 1, outcome
    assert source.requests["LIST pods"] == 1 and watcher.relists == 1
    assert source.requests["WATCH pods"] == 3  # live, refused at connect, resumed
    assert store.watch_status(writer.conn, source.context)["pods"].state == "watching"


def test_410_gone_relists_exactly_once(kubeconfig_admin_path, kube_admin, kube_namespace, writer):
    core = client.CoreV1Api(kube_admin)
    source = KubeSource(str(kubeconfig_admin_path), watch_timeout=1)
    watcher = kube_sync.KubeWatcher(source, writer, "events")
    watcher.step()
    for name in ("bump-1", "bump-2"):
        core.create_namespaced_config_map(
            kube_namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))
        )
    compact_etcd()  # the watcher's version is gone from etcd now

    watcher.step()  # 410 -> one relist
    assert (watcher.relists, source.requests["LIST events"]) == (2, 2)
    watcher.step()
    watcher.step()  # and then watches again from the new version
    assert (watcher.relists, source.requests["LIST events"]) == (2, 2)
    assert source.requests["WATCH events"] == 3

    watcher.resource_version = "1"  # a version from long ago
    watcher.step()
    assert (watcher.relists, source.requests["LIST events"]) == (3, 3)


def test_the_readonly_user_gets_partial_data_with_the_rbac_reason(
    kubeconfig_readonly_path, kube_readonly, kube_admin, kube_namespace, make_gpu_node, writer
):
    node = make_gpu_node().metadata.name
    run_on(kube_admin, kube_namespace, gpu_pod("train", 4), node)
    source = KubeSource(str(kubeconfig_readonly_path), watch_timeout=1)
    scheduler = Scheduler(writer)
    settings = config.load(
        environ={}, flags={"kubernetes.kubeconfig": str(kubeconfig_readonly_path)}
    )
    jobs = kube_sync.jobs(settings, writer, scheduler.announce, source=source)
    records = {job.name: scheduler.run_job(job) for job in jobs}

    assert all(r.ok for r in records.values()), records  # partial data, not a failure
    nodes_job = next(j for j in jobs if j.name == "nodes")
    assert nodes_job.interval == kube_sync.FORBIDDEN_RECHECK
    status = store.watch_status(writer.conn, source.context)
    assert status["nodes"].describe() == "nodes: forbidden for user readonly (RBAC)"
    assert 'cannot list resource "nodes"' in status["nodes"].reason
    assert (status["pods"].state, status["events"].state) == ("watching", "watching")
    # The pods (the `view` role) still say which node holds GPUs, without its capacity.
    row = rows_of(writer, source.context, {node})[node]
    assert (row.allocated, row.allocatable, row.status) == (4, None, "Unknown")


def test_untrusted_strings_are_stored_verbatim(
    kubeconfig_admin_path, kube_admin, kube_namespace, make_gpu_node, writer
):
    ns = kube_namespace
    node = make_gpu_node().metadata.name
    source = KubeSource(str(kubeconfig_admin_path), watch_timeout=1)
    pods, events = (kube_sync.KubeWatcher(source, writer, k) for k in ("pods", "events"))
    pods.step()
    events.step()
    run_on(kube_admin, ns, gpu_pod("hostile", 1, {"mlflow.org/run-id": HOSTILE}), node)
    # Events about a node (cluster-scoped) live in `default`, as the kubelet's do.
    event_name = f"{node}.hostile"
    client.CoreV1Api(kube_admin).create_namespaced_event(
        "default",
        client.CoreV1Event(
            metadata=client.V1ObjectMeta(name=event_name),
            involved_object=client.V1ObjectReference(kind="Node", name=node),
            reason="Hostile",
            message=HOSTILE,
            type="Warning",
        ),
    )
    try:
        pods.step()
        events.step()
    finally:
        client.CoreV1Api(kube_admin).delete_namespaced_event(event_name, "default")
    (cached,) = store.pods_on(writer.conn, source.context, node)
    assert cached.run_id == HOSTILE
    found = [
        e for e in store.events_for(writer.conn, source.context, node) if e.reason == "Hostile"
    ]
    assert [e.message for e in found] == [HOSTILE]


def test_jobs_only_when_kubernetes_is_configured(kubeconfig_admin_path, tmp_path, writer):
    def settings(**flags):
        return config.load(environ={}, flags=flags)

    def announce(source, topics):
        return None

    missing = str(tmp_path / "none")
    assert kube_sync.jobs(settings(**{"kubernetes.kubeconfig": missing}), writer, announce) == []
    off = settings(
        **{"kubernetes.kubeconfig": str(kubeconfig_admin_path), "kubernetes.enabled": False}
    )
    assert kube_sync.jobs(off, writer, announce) == []
    wrong = settings(
        **{"kubernetes.kubeconfig": str(kubeconfig_admin_path), "kubernetes.context": "nope"}
    )
    (broken,) = kube_sync.jobs(wrong, writer, announce)
    record = Scheduler(writer).run_job(broken)
    assert not record.ok and "context 'nope' is not in" in (record.error or "")
