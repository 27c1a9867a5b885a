"""Fixtures for the real Docker engine that `bash scripts/services up` starts.

scripts/services.d/docker.sh runs a private dockerd (unix socket only, no bridge, no iptables)
and builds `mlopstui/model-server:test`, a busybox stand-in for a model server: GET /ping and
POST /invocations on 127.0.0.1:$PORT. Bridge networking is off, so containers that serve run with
`network_mode="host"` on a free loopback port.

A test module that uses these fixtures says `pytest_plugins = ["docker_fixtures"]`. Every
container a test starts must carry the labels from `docker_labels`: they are removed after the
test, whatever happened, and any left over are swept when the session ends.
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import requests
from services import free_port, require_service, service_env

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

TEST_LABEL = "ai.mlopstui.test"
ROLE_LABEL = "ai.mlopstui.role"
READY_TIMEOUT = 10.0


@dataclass(frozen=True)
class DockerService:
    """What docker.sh published in docker.env."""

    host: str
    image: str


@dataclass
class ModelServerContainer:
    """A running stand-in model server container, ready to answer on `url`."""

    container: Container
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def remove_labelled(client: docker.DockerClient, label: str) -> int:
    """Force-remove every container (running or not) matching a label filter; return how many."""
    from docker.errors import APIError, NotFound

    removed = 0
    for container in client.containers.list(all=True, filters={"label": label}):
        with contextlib.suppress(NotFound):
            try:
                container.remove(force=True, v=True)
            except APIError as exc:  # "removal already in progress"
                if exc.status_code != 409:
                    raise
            removed += 1
    return removed


def poll_ready(container: Container, url: str, timeout: float = READY_TIMEOUT) -> str | None:
    """Poll GET {url}/ping until it answers 200: None when it did, else why not.

    Gives up early when the container exits (e.g. its port was taken).
    """
    deadline = time.monotonic() + timeout
    last: object = "no answer"
    while time.monotonic() < deadline:
        try:
            resp = requests.get(f"{url}/ping", timeout=1)
            if resp.status_code == 200:
                return None
            last = f"HTTP {resp.status_code}"
        except requests.RequestException as exc:
            last = exc
        container.reload()
        if container.status not in ("created", "running"):
            return f"container {container.status}; last answer: {last}"
        time.sleep(0.05)
    return f"not ready within {timeout:.0f} s; last answer: {last}"


def wait_until_ready(container: Container, url: str, timeout: float = READY_TIMEOUT) -> None:
    """Like `poll_ready`, but fail the test with the container's logs."""
    problem = poll_ready(container, url, timeout)
    if problem is not None:
        logs = container.logs().decode(errors="replace")
        pytest.fail(f"model server {container.short_id} at {url}: {problem}\nlogs:\n{logs}")


@pytest.fixture(scope="session")
def docker_service() -> DockerService:
    env = service_env("docker")
    host = env.get("DOCKER_HOST")
    if not host:
        require_service("docker", "docker.env has no DOCKER_HOST")
    image = env.get("MLOPSTUI_TEST_IMAGE", "mlopstui/model-server:test")
    return DockerService(host=host, image=image)


@pytest.fixture(scope="session")
def docker_client(docker_service: DockerService) -> Iterator[docker.DockerClient]:
    """A client of the engine in docker.env (API version negotiated), checked with a ping."""
    if importlib.util.find_spec("docker") is None:
        require_service("docker", "the docker SDK is not installed (pip install '.[test]')")
    import docker
    from docker.errors import DockerException

    try:
        client = docker.DockerClient(base_url=docker_service.host, timeout=30)
        client.ping()
    except (DockerException, requests.RequestException) as exc:
        require_service("docker", f"no engine answering at {docker_service.host}: {exc}")
    try:
        yield client
    finally:
        with contextlib.suppress(DockerException, requests.RequestException):
            remove_labelled(client, TEST_LABEL)
        client.close()


@pytest.fixture(scope="session")
def model_server_image(docker_client: docker.DockerClient, docker_service: DockerService) -> str:
    """The locally built stand-in image (no registry is reachable, so nothing is pulled)."""
    from docker.errors import ImageNotFound

    try:
        docker_client.images.get(docker_service.image)
    except ImageNotFound:
        require_service("docker", f"image {docker_service.image} missing: rerun services up")
    return docker_service.image


@pytest.fixture
def docker_labels(docker_client: docker.DockerClient) -> Iterator[dict[str, str]]:
    """Labels unique to this test; containers carrying them are removed after it."""
    value = uuid.uuid4().hex[:12]
    yield {TEST_LABEL: value}
    remove_labelled(docker_client, f"{TEST_LABEL}={value}")


@pytest.fixture
def start_model_server(
    docker_client: docker.DockerClient,
    model_server_image: str,
    docker_labels: dict[str, str],
) -> Callable[..., ModelServerContainer]:
    """Factory: run the stand-in on a free loopback port (host networking) and wait for /ping.

    Extra keyword arguments go to `containers.run`; extra labels merge with the test's.
    """

    def start(labels: dict[str, str] | None = None, **kwargs: Any) -> ModelServerContainer:
        from docker.errors import APIError

        for attempt in range(3):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            container = docker_client.containers.run(
                model_server_image,
                detach=True,
                network_mode="host",
                environment={"PORT": str(port)},
                labels={**docker_labels, **(labels or {})},
                **kwargs,
            )
            problem = poll_ready(container, url)
            if problem is None:
                return ModelServerContainer(container, port)
            logs = container.logs().decode(errors="replace")
            if "in use" not in logs.lower() or attempt == 2:
                pytest.fail(f"model server {container.short_id} at {url}: {problem}\nlogs:\n{logs}")
            # The port was taken between probing and binding: try another one.
            with contextlib.suppress(APIError):
                container.remove(force=True)
        raise AssertionError("unreachable")

    return start
