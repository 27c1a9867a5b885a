"""Snapshot fixtures: the same seeded caches and frozen clock as the pilot tests (ui/builders)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ui.builders import FROZEN_NOW, build_cache, make_app, seed_registry

from mlopstui.ui.app import MlopsApp


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every snapshot is taken at 2026-03-02 12:00 UTC (the root conftest sets TZ=UTC)."""
    monkeypatch.setenv("MLOPSTUI_FROZEN_TIME", str(FROZEN_NOW))


@pytest.fixture
def app_for(tmp_path: Path) -> Iterator[Callable[..., MlopsApp]]:
    """`app_for(state, registry=..., read_only=..., fetcher=...)`: the workbench over a seeded
    cache (with the model registry seed when `registry`)."""
    made: list[MlopsApp] = []

    def build(state: str = "loaded", *, registry: bool = False, **kwargs: object) -> MlopsApp:
        cache = build_cache(tmp_path / f"{state}-{len(made)}.sqlite", state)
        if registry:
            seed_registry(cache)
        app = make_app(cache, **kwargs)  # type: ignore[arg-type]
        made.append(app)
        return app

    yield build
    for app in made:
        app.workbench.close()
        app.pipeline.close()
