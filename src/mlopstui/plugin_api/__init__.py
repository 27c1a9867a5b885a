"""The only surface plugins import.

A plugin imports nothing of `mlopstui` but this package and its submodules (checked by
tests/unit/test_plugin_imports.py), so the core can change behind it. `import
mlopstui.plugin_api` stays headless (no Textual): `Pane`, `PaneCommand` and `inert` are loaded
on first access (`from mlopstui.plugin_api import Pane`).

Panes (`mlopstui.panes` entry points):

    Pane            the base class (a Textual widget, `mlopstui.plugin_api.pane`). A pane
                    declares `pane_id`, `title`, the cache `topics` it reads and
                    `api_version = API_VERSION` (required: there is no inherited default),
                    composes its widgets and re-reads in `on_topics_changed()`.
    PaneCommand     a command a pane offers in the palette (`Pane.commands()`).
    PaneContext     what a pane gets as `self.ctx`: read the cache (`ctx.reader()`), fetch on
                    demand, notify, read its config section, ask for a sync, and request
                    actions (`ctx.request_action`, which goes through the action pipeline:
                    gate, confirm, audit, execute, verify). It never gets the App, adapters,
                    the writer connection or the network.
    API_VERSION     the Pane/PaneContext contract version a pane declares.
    Action, Outcome what a pane hands `ctx.request_action` (kind, source, target, params,
                    dangerous) and what its `on_done` gets back.

Sources (`mlopstui.sources` entry points; see `mlopstui.sources` for the lifecycle):

    Source, SourceEnv, SourceInfo, StatusItem, Check, Job, SOURCE_API_VERSION

Reading and writing the cache without depending on its SQL schema
(`mlopstui.plugin_api.data`):

    experiments, runs, models, model_versions, gpu_nodes    typed, read-only views of the
                    built-in topics over `ctx.reader()`, returning frozen values
    records, replace_records, put_record    a plugin source's own records (JSON objects by kind and key)

Showing external strings and times (every external string is data: sanitise it):

    clean(value)    inert, printable text (escape sequences and control characters removed)
    inert(value)    `clean` wrapped in a `rich.text.Text`, never parsed as markup: what a
                    widget or table cell gets
    clock(ms), duration(ms), ago(seconds)    timestamps, run durations, ages as shown
    now(), now_ms() the session's clock (`MLOPSTUI_FROZEN_TIME` pins it in tests)

Testing (`mlopstui.plugin_api.testing`): `PaneHarness` mounts one pane over a cache;
`seed_runs` writes experiments and runs into a cache the way the sync does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlopstui.actions import Action, Outcome
from mlopstui.plugin_api.context import PaneContext
from mlopstui.sources import (
    SOURCE_API_VERSION,
    Check,
    Source,
    SourceEnv,
    SourceInfo,
    StatusItem,
)
from mlopstui.sync.scheduler import Job
from mlopstui.text import clean
from mlopstui.timefmt import ago, clock, duration, now, now_ms

API_VERSION = 1
"""Bumped when the Pane/PaneContext contract changes incompatibly."""

if TYPE_CHECKING:
    from mlopstui.plugin_api.pane import Pane, PaneCommand
    from mlopstui.ui.inert import inert

__all__ = [
    "API_VERSION",
    "SOURCE_API_VERSION",
    "Action",
    "Outcome",
    "Check",
    "Job",
    "Pane",
    "PaneCommand",
    "PaneContext",
    "Source",
    "SourceEnv",
    "SourceInfo",
    "StatusItem",
    "ago",
    "clean",
    "clock",
    "duration",
    "inert",
    "now",
    "now_ms",
]


def __getattr__(name: str) -> Any:
    # Loaded on first access so that importing the plugin API loads no Textual (nor Rich).
    if name in ("Pane", "PaneCommand"):
        from mlopstui.plugin_api.pane import Pane, PaneCommand

        return Pane if name == "Pane" else PaneCommand
    if name == "inert":
        from mlopstui.ui.inert import inert

        return inert
    raise AttributeError(name)
