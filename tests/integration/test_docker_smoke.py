"""Prove the Docker engine from scripts/services.d/docker.sh and its stand-in model server image.

Everything goes through the docker SDK against the real daemon, as the app will: ping, version,
run, label filters, logs, stop, remove, events. If these fail, the Docker-backed features' tests
would fail for a reason unrelated to mlopstui.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import requests

pytest.register_assert_rewrite("docker_fixtures")
from docker_fixtures import (  # noqa: E402
    ROLE_LABEL,
    TEST_LABEL,
    ModelServerContainer,
    wait_until_ready,
)
from services import free_port  # noqa: E402

if TYPE_CHECKING:
    import docker

pytestmark = pytest.mark.docker
pytest_plugins = ["docker_fixtures"]

StartServer = Callable[..., ModelServerContainer]


def test_ping_and_version(docker_client: docker.DockerClient) -> None:
    assert docker_client.ping() is True
    version = docker_client.version()
    assert version["ApiVersion"]
    assert version["Version"]
    # The engine runs without a bridge: nothing it does can touch the host's network.
    networks = {n.name for n in docker_client.networks.list()}
    assert "bridge" not in networks
    assert {"host", "none"} <= networks


def test_image_is_the_local_stand_in(
    docker_client: docker.DockerClient, model_server_image: str
) -> None:
    image = docker_client.images.get(model_server_image)
    assert model_server_image in image.tags
    assert image.labels[ROLE_LABEL] == "model-server"
    assert image.attrs["Config"]["Env"] and "PORT=8080" in image.attrs["Config"]["Env"]


def test_model_server_answers_ping_and_invocations(
    docker_client: docker.DockerClient,
    model_server_image: str,
    docker_labels: dict[str, str],
) -> None:
    port = free_port()
    container = docker_client.containers.run(
        model_server_image,
        detach=True,
        network_mode="host",
        environment={"PORT": str(port)},
        labels=docker_labels,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until_ready(container, url, timeout=10)

    ping = requests.get(f"{url}/ping", timeout=5)
    assert ping.status_code == 200
    assert ping.json() == {"status": "ok"}
    assert ping.headers["Content-Type"] == "application/json"

    body = b'{"instances": [[1.0, 2.0, 3.0]]}'
    resp = requests.post(
        f"{url}/invocations",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=5,
    )
    assert resp.status_code == 200
    payload = resp.json()
    assert payload["predictions"] == [0.5]
    assert payload["input_bytes"] == len(body)

    assert requests.get(f"{url}/invocations", timeout=5).status_code == 405
    assert requests.get(f"{url}/no-such-path", timeout=5).status_code == 404


def test_list_by_label_filter(docker_client: docker.DockerClient, start_model_server: StartServer):
    first = start_model_server(labels={"ai.mlopstui.test.name": "first"})
    second = start_model_server(labels={"ai.mlopstui.test.name": "second"})
    mine = first.container.labels[TEST_LABEL]

    listed = docker_client.containers.list(filters={"label": f"{TEST_LABEL}={mine}"})
    assert {c.id for c in listed} == {first.container.id, second.container.id}

    only_first = docker_client.containers.list(
        filters={"label": [f"{TEST_LABEL}={mine}", "ai.mlopstui.test.name=first"]}
    )
    assert [c.id for c in only_first] == [first.container.id]

    # The image's own labels are inherited by its containers.
    servers = docker_client.containers.list(filters={"label": f"{ROLE_LABEL}=model-server"})
    assert {first.container.id, second.container.id} <= {c.id for c in servers}


def test_logs_show_start_and_requests(start_model_server: StartServer) -> None:
    server = start_model_server()
    requests.post(f"{server.url}/invocations", data=b"{}", timeout=5).raise_for_status()
    deadline = time.monotonic() + 5
    logs = ""
    while time.monotonic() < deadline:
        logs = server.container.logs().decode(errors="replace")
        if "POST /invocations" in logs:
            break
        time.sleep(0.05)
    assert f"httpd (CGI) starting on 127.0.0.1:{server.port}" in logs
    assert "GET /ping" in logs
    assert "POST /invocations" in logs
    assert "url:/cgi-bin/invocations" in logs


def test_stop_and_remove(docker_client: docker.DockerClient, start_model_server: StartServer):
    server = start_model_server()
    container = server.container
    began = time.monotonic()
    container.stop(timeout=5)
    assert time.monotonic() - began < 4, "the server should exit on SIGTERM, not be killed"
    container.reload()
    assert container.status == "exited"
    assert container.attrs["State"]["ExitCode"] == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/ping", timeout=2)

    from docker.errors import NotFound

    container.remove()
    with pytest.raises(NotFound):
        docker_client.containers.get(container.id)


def test_events_stream_sees_start(
    docker_client: docker.DockerClient, start_model_server: StartServer
) -> None:
    since = int(time.time())
    server = start_model_server()
    server.container.stop(timeout=5)
    until = math.ceil(time.time())  # a bounded stream: the daemon ends it at `until`
    mine = server.container.labels[TEST_LABEL]
    events = list(
        docker_client.events(
            since=since,
            until=until,
            filters={"type": "container", "label": f"{TEST_LABEL}={mine}"},
            decode=True,
        )
    )
    actions = [e["Action"] for e in events if e.get("id") == server.container.id]
    assert "start" in actions
    assert actions.index("start") < actions.index("die")
