"""The pane catalogue: built-in panes and plugins, through the `mlopstui.panes` entry points.

Listing entry points imports nothing. Loading happens once, when the UI starts; a plugin that
fails to import, is not a Pane, or declares another API version is reported and skipped.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from mlopstui.sources.catalog import PluginFailure

GROUP = "mlopstui.panes"
BUILTIN: tuple[tuple[str, str], ...] = (
    ("experiments", "mlopstui.ui.panes.experiments:ExperimentsPane"),
    ("registry", "mlopstui.ui.panes.registry:RegistryPane"),
    ("gpus", "mlopstui.ui.panes.gpus:GpuNodesPane"),
    ("pipelines", "mlopstui.ui.panes.pending:PipelinesPane"),
    ("costs", "mlopstui.ui.panes.pending:CostsPane"),
)
"""Built-in panes, in tab order."""
BUILTIN_ORDER = tuple(name for name, _ in BUILTIN)


PaneFailure = PluginFailure
"""A pane plugin that could not be loaded, and why (the same record as a source's)."""


def listed() -> list[EntryPoint]:
    """Every pane: the built-ins first, in order, then installed plugins by name, without
    importing any. Built-ins are part of the package, so listing them scans nothing."""
    return builtin_entry_points() + plugin_entry_points()


def builtin_entry_points() -> list[EntryPoint]:
    """The built-in panes as entry points (no scan, nothing imported)."""
    return [EntryPoint(name=n, value=v, group=GROUP) for n, v in BUILTIN]


def plugin_entry_points() -> list[EntryPoint]:
    """Installed plugin panes by name (a scan of the installed distributions; nothing
    imported). The built-ins' own entry points (same name and class) are left out."""
    eps = [ep for ep in entry_points(group=GROUP) if (ep.name, ep.value) not in BUILTIN]
    return sorted(eps, key=lambda ep: ep.name)


def load(
    api_version: int,
    entries: list[EntryPoint] | None = None,
    taken: set[str] | None = None,
) -> tuple[list[type[Any]], list[PaneFailure]]:
    """Import the pane classes of `entries` (default: every listed one); return the good ones
    and the failures. `taken` holds pane ids already in use (and receives the new ones)."""
    from mlopstui.plugin_api.pane import Pane

    panes: list[type[Any]] = []
    failures: list[PaneFailure] = []
    seen = taken if taken is not None else set()
    for ep in listed() if entries is None else entries:
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
