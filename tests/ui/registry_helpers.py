"""Driving the Registry pane from Pilot tests: open it, put the cursor on a model or version,
pick in a modal, wait for the action flow (its steps are background jobs: `jobs_settled`)."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable, OptionList

from mlopstui.ui.app import MlopsApp
from mlopstui.ui.panes.registry import RegistryPane
from mlopstui.ui.screens.confirm import ConfirmActionScreen
from mlopstui.ui.screens.registry_forms import ChoicePicker

from .builders import jobs_settled, notifications, wait_for


def pane(app: MlopsApp) -> RegistryPane:
    return app.query_one(RegistryPane)


async def open_registry(pilot: Any) -> RegistryPane:
    """Switch to the Registry pane with the keyboard and wait until its models are shown."""
    await pilot.pause()
    await pilot.press("2")
    await wait_for(pilot, lambda: pilot.app.active_pane().pane_id == "registry")
    await wait_for(pilot, lambda: isinstance(pilot.app.focused, DataTable))
    return pane(pilot.app)


def table(app: MlopsApp, which: str) -> DataTable:
    return app.query_one(f"#{which}", DataTable)


async def select_model(pilot: Any, name: str) -> None:
    """Move the models cursor onto a model (with the arrow keys) and wait for its versions."""
    models = table(pilot.app, "models")
    models.focus()
    keys = [k.value for k in models.rows]
    while keys[models.cursor_row] != name:
        await pilot.press("down" if keys.index(name) > models.cursor_row else "up")
    await wait_for(pilot, lambda: pane(pilot.app).model_name == name)


async def select_version(pilot: Any, version: str) -> None:
    """Tab to the versions table and move its cursor onto a version."""
    versions = table(pilot.app, "versions")
    if not versions.has_focus:
        await pilot.press("tab")
    assert versions.has_focus
    keys = [k.value for k in versions.rows]
    while keys[versions.cursor_row] != version:
        await pilot.press("down" if keys.index(version) > versions.cursor_row else "up")
    await wait_for(pilot, lambda: pane(pilot.app).selected_version().version == version)


async def pick(pilot: Any, value: str) -> None:
    """In the open ChoicePicker, highlight `value` and press Enter."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ChoicePicker))
    picker = pilot.app.screen
    index = [v for v, _ in picker.choices].index(value)
    options = picker.query_one(OptionList)
    while options.highlighted != index:
        await pilot.press("down")
    await pilot.press("enter")


async def wait_confirm(pilot: Any) -> ConfirmActionScreen:
    """The confirm modal the flow opens once the action is prepared (off the loop)."""
    await jobs_settled(pilot, timeout=15)
    screen = pilot.app.screen
    assert isinstance(screen, ConfirmActionScreen), f"no confirmation, {toasts(pilot.app)}"
    return screen


def toasts(app: MlopsApp) -> list[str]:
    return [message for message, _ in notifications(app)]


async def wait_toast(pilot: Any, needle: str, timeout: float = 15) -> tuple[str, str]:
    """The toast containing `needle`, once the background work under way has answered;
    returns (message, severity)."""
    await jobs_settled(pilot, timeout=timeout)
    found = next((n for n in notifications(pilot.app) if needle in n[0]), None)
    assert found is not None, f"no toast with {needle!r} among {toasts(pilot.app)}"
    return found


async def settle(pilot: Any) -> None:
    """Let the flow finish: no action preparing or running (and none left confirming)."""
    await jobs_settled(pilot, timeout=15)
    assert pilot.app.actions.busy_note() is None, pilot.app.actions.busy_note()
