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


@pytest.fixture
def app(app_for: Callable[..., MlopsApp], cache: Path) -> MlopsApp:
    """The workbench over the loaded cache."""
    return app_for(cache)
