"""The model registry adapter against a real MLflow server (REST) and an embedded `sqlite:///`
store (MlflowClient): reads, writes, hostile names, a version still registering, a dead server.

Models are made with the official `MlflowClient`; every test uses model names of its own, since
the HTTP server is shared by the session.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from registry_fixtures import PENDING, make_model, set_version_status
from services import MlflowServer

from mlopstui.adapters import SourceError, SourceUnreachable
from mlopstui.adapters import mlflow_registry as adapter_module
from mlopstui.adapters.mlflow import MlflowSource
from mlopstui.adapters.mlflow_registry import MlflowRegistry
from mlopstui.domain import ModelVersion, RegisteredModel

pytestmark = pytest.mark.mlflow_server

# Characters a model name may carry into a terminal or a filter string. MLflow refuses '/' and
# ':' in model names (so Rich's closing tags like "[/red]" cannot occur; see the test below).
HOSTILE_NAMES = {
    "single-quote": "it's",
    "double-quote": 'say "hi"',
    "markup": "[red]markup [bold]x",
    "escape": "\x1b[31mred\x1b[0m",
    "bidi": "\u202eevil.exe",
    "url-chars": "a&b=c#d%20?e+f",
    "unicode": "模型 é ✓",
}
HOSTILE_TEXT = 'it\'s "q" [red]markup[/red] \x1b[31m \u202e\x9b2J & %20'


@dataclass
class Backend:
    kind: str
    client: Any  # the official MlflowClient, to make models and to check writes
    registry: MlflowRegistry
    db: Any  # what set_version_status needs: the server or the sqlite URI


@pytest.fixture(scope="module")
def embedded_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('registry-embedded') / 'mlflow.db'}"


@pytest.fixture(params=["http", "embedded"])
def backend(request: pytest.FixtureRequest, embedded_uri: str) -> Iterator[Backend]:
    from mlflow import MlflowClient

    if request.param == "http":
        server: MlflowServer = request.getfixturevalue("mlflow_server")
        source = MlflowSource(server.url, timeout=10)
        yield Backend("http", MlflowClient(server.url), MlflowRegistry(source), server)
    else:
        source = MlflowSource(embedded_uri)
        yield Backend("embedded", MlflowClient(embedded_uri), MlflowRegistry(source), embedded_uri)


def unique(prefix: str = "m") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def only(models: list[RegisteredModel], name: str) -> RegisteredModel:
    (found,) = [m for m in models if m.name == name]
    return found


def official_aliases(backend: Backend, name: str) -> dict[str, str]:
    """The aliases as MlflowClient sees them (its versions: str over REST, int embedded)."""
    return {k: str(v) for k, v in backend.client.get_registered_model(name).aliases.items()}


def versions_of(versions: list[ModelVersion], name: str) -> list[ModelVersion]:
    return [v for v in versions if v.name == name]


# --------------------------------------------------------------------------------- reads


def test_models_and_versions_as_domain_values(backend: Backend) -> None:
    name = unique()
    made = make_model(backend.client, name, 3)
    assert made == ["1", "2", "3"]
    backend.client.set_registered_model_alias(name, "champion", "2")
    backend.client.set_registered_model_tag(name, "team", "search")
    backend.client.update_registered_model(name, description="ranks things")
    backend.client.set_model_version_tag(name, "3", "stage", "canary")

    model = only(backend.registry.models(), name)
    assert model.aliases == {"champion": "2"}
    assert model.tags == {"team": "search"}
    assert model.description == "ranks things"
    assert model.latest_version == "3"
    assert isinstance(model.creation_time, int) and isinstance(model.last_updated, int)

    found = versions_of(backend.registry.versions(), name)
    assert [v.version for v in found] == ["1", "2", "3"]
    assert all(isinstance(v.version, str) for v in found), "version is a str on every backend"
    assert {v.status for v in found} == {"READY"}
    for v in found:
        assert v.run_id and v.source == f"runs:/{v.run_id}/model"
        assert isinstance(v.creation_time, int)
        # model-versions/search never fills aliases; the cache derives them from the model
        assert v.aliases == ()
    assert found[2].tags == {"stage": "canary"} and found[0].tags == {}


def test_a_model_without_versions(backend: Backend) -> None:
    name = unique()
    backend.client.create_registered_model(name)
    model = only(backend.registry.models(), name)
    assert model.latest_version is None and model.aliases == {}
    assert versions_of(backend.registry.versions(), name) == []


def test_get_model_and_version_live(backend: Backend) -> None:
    name = unique()
    make_model(backend.client, name, 2)
    backend.client.set_registered_model_alias(name, "champion", "1")
    backend.client.set_registered_model_alias(name, "stable", "1")

    model = backend.registry.get_model(name)
    assert model is not None
    assert (model.name, model.aliases, model.latest_version) == (
        name,
        {"champion": "1", "stable": "1"},
        "2",
    )
    version = backend.registry.get_version(name, "1")
    assert version is not None
    assert version.version == "1" and sorted(version.aliases) == ["champion", "stable"]
    assert backend.registry.get_version(name, "2").aliases == ()

    assert backend.registry.get_model(unique("missing")) is None
    assert backend.registry.get_version(name, "99") is None
    assert backend.registry.get_version(unique("missing"), "1") is None


def test_alias_target(backend: Backend) -> None:
    name = unique()
    make_model(backend.client, name, 2)
    backend.client.set_registered_model_alias(name, "champion", "2")
    assert backend.registry.alias_target(name, "champion") == "2"
    assert backend.registry.alias_target(name, "nope") is None
    assert backend.registry.alias_target(unique("missing"), "champion") is None


def test_paging_reads_every_model_and_version_once(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [unique("page") for _ in range(3)]
    for name in names:
        make_model(backend.client, name, 3)
    monkeypatch.setattr(adapter_module, "_MODELS_PAGE", 2)
    monkeypatch.setattr(adapter_module, "_VERSIONS_PAGE", 2)
    models = backend.registry.models()
    versions = backend.registry.versions()
    assert len({m.name for m in models}) == len(models)
    assert set(names) <= {m.name for m in models}
    keys = [(v.name, v.version) for v in versions]
    assert len(set(keys)) == len(keys)
    for name in names:
        assert [v.version for v in versions_of(versions, name)] == ["1", "2", "3"]


def test_a_version_still_registering_is_reported(backend: Backend) -> None:
    name = unique()
    make_model(backend.client, name, 2)
    set_version_status(backend.db, name, "2", PENDING)
    statuses = {v.version: v.status for v in versions_of(backend.registry.versions(), name)}
    assert statuses == {"1": "READY", "2": PENDING}
    assert backend.registry.get_version(name, "2").status == PENDING


# --------------------------------------------------------------------------------- writes


def test_alias_writes_round_trip(backend: Backend) -> None:
    name = unique()
    make_model(backend.client, name, 3)
    registry = backend.registry

    registry.set_alias(name, "champion", "1")
    assert registry.alias_target(name, "champion") == "1"
    registry.set_alias(name, "champion", 3)  # type: ignore[arg-type] - ints are normalised
    assert registry.alias_target(name, "champion") == "3"
    registry.set_alias(name, "challenger", "2")
    assert official_aliases(backend, name) == {"champion": "3", "challenger": "2"}

    registry.delete_alias(name, "champion")  # DELETE with a JSON body over REST
    assert registry.alias_target(name, "champion") is None
    assert official_aliases(backend, name) == {"challenger": "2"}
    assert registry.get_model(name).aliases == {"challenger": "2"}


def test_tag_writes_round_trip(backend: Backend) -> None:
    name = unique()
    make_model(backend.client, name, 2)
    registry = backend.registry

    registry.set_model_tag(name, "owner", HOSTILE_TEXT)
    assert registry.get_model(name).tags == {"owner": HOSTILE_TEXT}
    assert backend.client.get_registered_model(name).tags == {"owner": HOSTILE_TEXT}

    registry.set_version_tag(name, "2", "validation.status", "approved")
    registry.set_version_tag(name, "2", "note", HOSTILE_TEXT)
    assert registry.get_version(name, "2").tags == {
        "validation.status": "approved",
        "note": HOSTILE_TEXT,
    }
    registry.delete_version_tag(name, "2", "validation.status")  # DELETE with a JSON body
    assert registry.get_version(name, "2").tags == {"note": HOSTILE_TEXT}
    assert backend.client.get_model_version(name, "2").tags == {"note": HOSTILE_TEXT}
    assert registry.get_version(name, "1").tags == {}


def test_refused_writes_raise_mlflows_message(backend: Backend) -> None:
    name = unique()
    make_model(backend.client, name, 1)
    registry = backend.registry

    # Aliases may only hold alphanumerics, '_' and '-' (INVALID_PARAMETER_VALUE).
    with pytest.raises(SourceError, match="Invalid alias name"):
        registry.set_alias(name, "it's", "1")
    with pytest.raises(SourceError, match="reserved"):
        registry.set_alias(name, "latest", "1")
    with pytest.raises(SourceError, match="reserved"):
        registry.set_alias(name, "v2", "1")
    # Tag keys: alphanumerics, '_', '-', '.', ' ', '/' and ':'.
    with pytest.raises(SourceError, match="Invalid value"):
        registry.set_model_tag(name, "bad\"key'", "x")
    # Writes to what does not exist raise (only the get_* reads answer None).
    with pytest.raises(SourceError, match="not found"):
        registry.set_alias(name, "champion", "99")
    with pytest.raises(SourceError, match="not found"):
        registry.set_version_tag(unique("missing"), "1", "k", "v")
    assert registry.alias_target(name, "champion") is None
    assert registry.get_model(name).tags == {}


# --------------------------------------------------------------------------------- hostile names


@pytest.mark.parametrize("label", sorted(HOSTILE_NAMES))
def test_hostile_model_names_round_trip(backend: Backend, label: str) -> None:
    name = f"{HOSTILE_NAMES[label]} {uuid.uuid4().hex[:6]}"
    make_model(backend.client, name, 2)
    registry = backend.registry

    assert only(registry.models(), name).latest_version == "2"
    assert [v.version for v in versions_of(registry.versions(), name)] == ["1", "2"]
    assert registry.get_model(name).name == name
    assert registry.get_version(name, "2").name == name

    registry.set_alias(name, "champion", "2")
    assert registry.alias_target(name, "champion") == "2"
    registry.set_model_tag(name, "k", name)
    registry.set_version_tag(name, "1", "k", name)
    registry.delete_version_tag(name, "1", "k")
    registry.delete_alias(name, "champion")
    model = registry.get_model(name)
    assert (model.aliases, model.tags) == ({}, {"k": name})
    assert registry.get_version(name, "1").tags == {}
    # a name that differs only by a character must not match (no filter-string prefix games)
    assert registry.get_model(name[:-1]) is None


def test_mlflow_refuses_slash_and_colon_in_model_names(backend: Backend) -> None:
    from mlflow.exceptions import MlflowException

    for name in ("[red]markup[/red]", "ns:model"):
        with pytest.raises(MlflowException, match="cannot contain '/' or ':'"):
            backend.client.create_registered_model(f"{name}{uuid.uuid4().hex[:6]}")


def test_unicode_alias_names_are_accepted(backend: Backend) -> None:
    """MLflow checks aliases with Python's `\\w`, which is Unicode-aware."""
    name = unique()
    make_model(backend.client, name, 1)
    backend.registry.set_alias(name, "prod-é_模型", "1")
    assert backend.registry.alias_target(name, "prod-é_模型") == "1"
    with pytest.raises(SourceError, match="Invalid alias name"):
        backend.registry.set_alias(name, "\u202eevil", "1")


# --------------------------------------------------------------------------------- failures


def test_a_dead_server_is_unreachable_quickly(fresh_mlflow_server: MlflowServer) -> None:
    from mlflow import MlflowClient

    name = unique()
    make_model(MlflowClient(fresh_mlflow_server.url), name, 1)
    registry = MlflowRegistry(MlflowSource(fresh_mlflow_server.url, timeout=1.0))
    assert registry.get_model(name) is not None
    fresh_mlflow_server.kill()

    began = time.monotonic()
    # The first request may go out on the kept-alive socket ("closed the connection").
    with pytest.raises(SourceUnreachable, match="did not answer"):
        registry.get_model(name)
    with pytest.raises(SourceUnreachable, match="connection refused"):
        registry.models()
    with pytest.raises(SourceUnreachable):
        registry.set_alias(name, "champion", "1")
    assert time.monotonic() - began < 5
