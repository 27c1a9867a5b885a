"""A broken plugin is reported and skipped; the built-in panes keep working."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
from textual.app import ComposeResult
from textual.widgets import ContentSwitcher, Static, Tab

from mlopstui.plugin_api import API_VERSION, Pane
from mlopstui.plugin_api import catalog as pane_catalog
from mlopstui.ui.app import SyncChanged
from mlopstui.ui.widgets.runs_table import RunsTable

from .builders import notifications, screen_text, seeded, wait_for

GROUP = "mlopstui.panes"
BUILTIN = ["experiments", "registry", "gpus", "pipelines", "costs"]


class FlakyPane(Pane):
    """A plugin pane whose refresh raises (loaded through its entry point below)."""

    pane_id = "flaky"
    title = "Flaky"
    api_version = API_VERSION
    topics = frozenset({"runs"})

    def compose(self) -> ComposeResult:
        yield Static("flaky")

    def on_topics_changed(self, topics: set[str]) -> None:
        raise RuntimeError("boom")


@pytest.fixture
def with_plugins(monkeypatch):
    """Add entry points to the installed ones, as `pip install` of a plugin would."""

    def install(*entry_points: EntryPoint) -> None:
        real = pane_catalog.plugin_entry_points

        def plugin_entry_points() -> list[EntryPoint]:
            return [*real(), *entry_points]

        monkeypatch.setattr(pane_catalog, "plugin_entry_points", plugin_entry_points)

    return install


async def test_a_plugin_that_fails_to_import_is_reported_and_skipped(app_for, cache, with_plugins):
    with_plugins(EntryPoint(name="broken", value="no_such_module_xyz:Pane", group=GROUP))
    app = app_for(cache)
    async with app.run_test(size=(120, 36), notifications=True) as pilot:
        await pilot.pause()
        ((message, severity),) = notifications(app)
        assert severity == "warning"
        assert message.startswith("Plugin pane broken (no_such_module_xyz:Pane) skipped:")
        assert "No module named 'no_such_module_xyz'" in message
        await wait_for(pilot, lambda: "Plugin pane broken" in screen_text(app))

        assert [p.pane_id for p in app.panes] == BUILTIN
        assert len(app.query(Tab)) == 5
        assert app.query_one(RunsTable).total == len(seeded())
        for number, pane_id in enumerate(BUILTIN, 1):
            app.action_goto(1)  # from Experiments: see the pending-pane focus bug in test_shell
            await pilot.pause()
            await pilot.press(str(number))
            await pilot.pause()
            assert app.query_one(ContentSwitcher).current == f"pane-{pane_id}"


async def test_not_a_pane_wrong_api_and_duplicate_ids_are_skipped(app_for, cache, with_plugins):
    with_plugins(
        EntryPoint(name="notapane", value="mlopstui.domain:Run", group=GROUP),
        EntryPoint(name="dupe", value="mlopstui.ui.panes.pending:CostsPane", group=GROUP),
    )
    app = app_for(cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        messages = sorted(m for m, _ in notifications(app))
        assert messages == [
            "Plugin pane dupe (mlopstui.ui.panes.pending:CostsPane) skipped: "
            "pane id 'costs' already taken",
            "Plugin pane notapane (mlopstui.domain:Run) skipped: is not a mlopstui.plugin_api.Pane",
        ]
        assert [p.pane_id for p in app.panes] == BUILTIN


async def test_a_plugin_whose_refresh_raises_does_not_take_the_app_down(
    app_for, cache, with_plugins
):
    with_plugins(EntryPoint(name="flaky", value=f"{__name__}:FlakyPane", group=GROUP))
    app = app_for(cache)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        assert [p.pane_id for p in app.panes] == [*BUILTIN, "flaky"]
        await pilot.press("6")  # panes mount when first shown; only mounted ones refresh
        await pilot.pause()
        app.post_message(SyncChanged("mlflow", {"runs"}))
        await pilot.pause()
        assert app.is_running
        assert ("Pane Flaky failed to refresh: RuntimeError('boom')", "error") in notifications(app)
        await pilot.press("6")
        await pilot.pause()
        assert app.active_pane().pane_id == "flaky"


async def test_a_plugin_pane_can_be_the_start_pane(cache, with_plugins):
    """[ui] start_pane naming a plugin pane shows it once plugins load (after the first
    frame), not Experiments for good."""
    import msgspec

    from mlopstui import config

    from .builders import make_app, make_settings

    with_plugins(EntryPoint(name="flaky", value=f"{__name__}:FlakyPane", group=GROUP))
    base = make_settings(cache)
    settings = msgspec.structs.replace(
        base, ui=config.UiSettings(theme=base.ui.theme, start_pane="flaky")
    )
    app = make_app(cache, settings=settings)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await wait_for(
                pilot,
                lambda: app.active_pane() is not None and app.active_pane().pane_id == "flaky",
            )
            assert "flaky" in screen_text(app)
    finally:
        app.workbench.close()
        app.pipeline.close()
