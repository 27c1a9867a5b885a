"""The only surface plugins import.

`import mlopstui.plugin_api` stays headless (no Textual). The `Pane` base class is a Textual
widget, so it is loaded on first access: `from mlopstui.plugin_api import Pane`.

A pane declares `pane_id`, `title`, the cache `topics` it reads and `api_version`; it gets a
`PaneContext` (`self.ctx`) to read the cache, fetch on demand, notify, read its config and
request actions (`ctx.request_action`, which goes through the action pipeline: gate, confirm,
audit, execute, verify). It never gets the App, adapters, the writer connection or the network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlopstui.plugin_api.context import PaneContext

API_VERSION = 1
"""Bumped when the Pane/PaneContext contract changes incompatibly."""

if TYPE_CHECKING:
    from mlopstui.ui.pane_base import Pane, PaneCommand

__all__ = ["API_VERSION", "Pane", "PaneCommand", "PaneContext"]


def __getattr__(name: str) -> Any:
    if name in ("Pane", "PaneCommand"):
        from mlopstui.ui import pane_base

        return getattr(pane_base, name)
    raise AttributeError(name)
