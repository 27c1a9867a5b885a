"""The pane registry: built-in panes and plugins, through the `mlopstui.panes` entry points.

Listing entry points imports nothing. Loading happens once, when the UI starts; a plugin that
fails to import, is not a Pane, or declares another API version is reported and skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

GROUP = "mlopstui.panes"
BUILTIN_ORDER = ("experiments", "registry", "gpus", "pipelines", "costs")


@dataclass(frozen=True)
class PaneFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    target: str
    reason: str


def listed() -> list[EntryPoint]:
    """Every installed pane entry point, built-ins first, without importing any."""
    eps = list(entry_points(group=GROUP))
    rank = {n: i for i, n in enumerate(BUILTIN_ORDER)}
    return sorted(eps, key=lambda ep: (rank.get(ep.name, len(rank)), ep.name))


def load(api_version: int) -> tuple[list[type[Any]], list[PaneFailure]]:
    """Import every pane class; return the good ones and the failures."""
    from mlopstui.ui.pane_base import Pane

    panes, failures, seen = [], [], set()
    for ep in listed():
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not take the app down
            failures.append(PaneFailure(ep.name, ep.value, f"import failed: {exc!r}"[:300]))
            continue
        if not (isinstance(cls, type) and issubclass(cls, Pane)):
            failures.append(PaneFailure(ep.name, ep.value, "is not a mlopstui.plugin_api.Pane"))
            continue
        if getattr(cls, "api_version", None) != api_version:
            failures.append(
                PaneFailure(
                    ep.name,
                    ep.value,
                    f"declares plugin API {getattr(cls, 'api_version', None)}, "
                    f"this mlopstui offers {api_version}",
                )
            )
            continue
        pane_id = getattr(cls, "pane_id", "") or ep.name
        if pane_id in seen:
            failures.append(PaneFailure(ep.name, ep.value, f"pane id {pane_id!r} already taken"))
            continue
        seen.add(pane_id)
        panes.append(cls)
    return panes, failures
