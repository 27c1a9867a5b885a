"""Fixtures for the pilot tests: a frozen clock, seeded caches and apps with sync off."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlopstui.ui.app import MlopsApp

from .builders import FROZEN_NOW, build_cache, make_app


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every UI test sees the same 'now' (2026-03-02 12:00 UTC; the root conftest sets TZ)."""
    monkeypatch.setenv("MLOPSTUI_FROZEN_TIME", str(FROZEN_NOW))


@pytest.fixture(autouse=True)
def confirm_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pilot presses keys faster than a person: the confirm modal takes them at once (its
    guard against a doubled Enter has a test of its own)."""
    from mlopstui.ui.screens.confirm import ConfirmActionScreen

    monkeypatch.setattr(ConfirmActionScreen, "ARM_AFTER", 0.0)


@pytest.fixture
def cache_for(tmp_path: Path) -> Callable[[str], Path]:
    """`cache_for(state)`: a seeded cache in one of the states of `builders.STATES`."""

    def build(state: str = "loaded") -> Path:
        return build_cache(tmp_path / f"{state}.sqlite", state)

    return build


@pytest.fixture
def cache(cache_for: Callable[[str], Path]) -> Path:
    """The seeded cache, last synced a minute ago."""
    return cache_for("loaded")


@pytest.fixture
def app_for() -> Iterator[Callable[..., MlopsApp]]:
    """`app_for(cache, read_only=..., fetcher=...)`; closes every workbench it made."""
    made: list[MlopsApp] = []

    def build(cache: Path, **kwargs: object) -> MlopsApp:
        app = make_app(cache, **kwargs)  # type: ignore[arg-type]
        made.append(app)
        return app

    yield build
    for app in made:
        app.workbench.close()
        app.pipeline.close()


@pytest.fixture
def app(app_for: Callable[..., MlopsApp], cache: Path) -> MlopsApp:
    """The workbench over the loaded cache."""
    return app_for(cache)


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One real embedded MLflow store per session (model `fraud`, 3 READY versions whose
    source is one run, `champion` -> 2): its directory and the run id."""
    from .mlflow_store import build_template

    directory = tmp_path_factory.mktemp("mlflow-template")
    return directory, build_template(directory)


@pytest.fixture
def store(mlflow_template: tuple[Path, str], tmp_path: Path):
    """This test's own copy of the template MLflow store."""
    from .mlflow_store import copy_store

    return copy_store(*mlflow_template, tmp_path / "store")


@pytest.fixture
def store_app_for(store, tmp_path: Path) -> Iterator[Callable[..., MlopsApp]]:
    """`store_app_for(read_only=...)`: the workbench over `store`, its cache synced once, with
    the real action pipeline; closes everything it made."""
    from .mlflow_store import store_app

    made: list[MlopsApp] = []

    def build(**kwargs: object) -> MlopsApp:
        app = store_app(store, tmp_path / f"app{len(made)}", **kwargs)  # type: ignore[arg-type]
        made.append(app)
        return app

    yield build
    for app in made:
        app.workbench.close()
        app.pipeline.close()
