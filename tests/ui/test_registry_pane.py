"""The Registry pane over a seeded cache: models, versions, aliases, lineage, alias history,
empty states, narrow terminals, refreshes, hostile names, and read-only mode (no write key
anywhere)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.widgets import DataTable

from mlopstui.cache import db
from mlopstui.cache import registry as reg_store
from mlopstui.plugin_api.testing import PaneHarness
from mlopstui.ui.app import SyncChanged
from mlopstui.ui.panes.registry import RegistryPane
from mlopstui.ui.screens.alias_history import AliasHistoryScreen
from mlopstui.ui.screens.audit import AuditScreen
from mlopstui.ui.screens.help import HelpScreen
from mlopstui.ui.screens.registry_forms import ChoicePicker
from mlopstui.ui.screens.version_detail import VersionDetailScreen

from .builders import (
    CHURN,
    FRAUD,
    HOSTILE_MODEL,
    HOSTILE_MODEL_CLEAN,
    HOSTILE_TAG_CLEAN,
    RESNET,
    build_cache,
    notifications,
    registry_seed,
    screen_text,
    seed_registry,
    wait_for,
)
from .registry_helpers import open_registry, pane, select_model, select_version, table
from .test_hostile_text import assert_inert

SIZE = (160, 45)
WRITE_LABELS = ("Promote", "Rollback", "Delete", "Tag", "Untag")
WRITE_KEYS = ("p", "b", "d", "t", "T")


@pytest.fixture
def registry_cache(cache: Path) -> Path:
    return seed_registry(cache)


def footer(app) -> str:
    return screen_text(app).splitlines()[-1]


async def test_models_and_versions_with_aliases_and_source_runs(app_for, registry_cache):
    app = app_for(registry_cache)
    async with app.run_test(size=SIZE) as pilot:
        await open_registry(pilot)
        shown = screen_text(app)
        assert "Models (4)" in shown
        assert "champion→v4 challenger→v5" in shown
        assert "Card fraud classifier (XGBoost)" in shown
        assert "oncall=risk-oncall +2" in shown and "mlopstui.alias" not in shown
        await select_model(pilot, FRAUD)
        shown = screen_text(app)
        assert f"Versions of {FRAUD} (5)" in shown
        v4 = next(line for line in shown.splitlines() if line.startswith(" v4 "))
        assert "@champion" in v4 and "fancy-lynx-11" in v4  # the run's name from the runs cache
        v5 = next(line for line in shown.splitlines() if line.startswith(" v5 "))
        assert "PENDING" in v5 and "@challenger" in v5
        await select_model(pilot, CHURN)
        v1 = next(line for line in screen_text(app).splitlines() if line.startswith(" v1 "))
        assert "fancy" not in v1  # its run is not cached: the short id only
        assert f"{CHURN} · 1 version · — · synced 11:59" in screen_text(app)


async def test_tab_enter_and_escape_move_between_the_tables(app_for, registry_cache):
    app = app_for(registry_cache)
    async with app.run_test(size=SIZE) as pilot:
        await open_registry(pilot)
        assert app.focused is table(app, "models")
        await select_model(pilot, RESNET)
        await pilot.press("enter")  # Enter on a model goes to its versions
        assert app.focused is table(app, "versions")
        await pilot.press("escape")
        assert app.focused is table(app, "models")
        await pilot.press("tab")
        assert app.focused is table(app, "versions")
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VersionDetailScreen))
        assert app.screen.version.version == "2"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, VersionDetailScreen)
        assert app.focused is table(app, "versions")


async def test_version_detail_shows_lineage_and_compares_with_an_alias(app_for, registry_cache):
    app = app_for(registry_cache)
    async with app.run_test(size=SIZE) as pilot:
        await open_registry(pilot)
        await select_model(pilot, FRAUD)
        await select_version(pilot, "3")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VersionDetailScreen))
        shown = screen_text(app)
        assert f"{FRAUD} v3  →  run brave-owl-08" in shown
        assert "→  experiment tabular-xgb" in shown
        assert "v3 vs @champion (v4)" in shown
        val_acc = next(line for line in shown.splitlines() if "metric val_acc" in line)
        assert "0.645" in val_acc and "0.595" in val_acc  # v3's run and v4's run
        await pilot.press("a")
        assert "v3 vs @challenger (v5)" in screen_text(app)
        await pilot.press("a")
        assert "v3 vs @champion (v4)" in screen_text(app)


async def test_the_champion_is_compared_with_the_next_alias(app_for, registry_cache):
    app = app_for(registry_cache)
    async with app.run_test(size=SIZE) as pilot:
        await open_registry(pilot)
        await select_model(pilot, FRAUD)
        await select_version(pilot, "4")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VersionDetailScreen))
        assert "v4 vs @challenger (v5)" in screen_text(app)


async def test_alias_history_lists_moves_newest_first(app_for, registry_cache):
    app = app_for(registry_cache)
    async with app.run_test(size=SIZE) as pilot:
        await open_registry(pilot)
        await select_model(pilot, FRAUD)
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, AliasHistoryScreen))
        rows = [line for line in screen_text(app).splitlines() if "2026-" in line]
        assert len(rows) == 3
        assert "challenger" in rows[0] and "(not set) → v5" in rows[0] and "observed" in rows[0]
        assert "v3 → v4" in rows[1] and "alice" in rows[1] and "promote (here)" in rows[1]
        assert "(not set) → v3" in rows[2] and "seen at first sync" in rows[2]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen.focused, DataTable)


async def test_empty_registry_says_where_and_how_to_register(app_for, cache):
    app = app_for(cache)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        shown = screen_text(app)
        assert "No registered models in http://127.0.0.1:9." in shown
        assert "Register one with mlflow.register_model(...)" in shown
        assert "synced 11:59" in shown
        assert not table(app, "models").display


@pytest.mark.parametrize(
    ("state", "says"),
    [
        ("empty", "No registry cached yet; syncing…"),
        (
            "unreachable",
            "No registered models cached, and syncing from http://127.0.0.1:9 is failing since",
        ),
    ],
)
async def test_empty_registry_while_syncing_or_unreachable(app_for, cache_for, state, says):
    app = app_for(cache_for(state))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause()
        assert says in screen_text(app)


async def test_unreachable_with_cached_models_says_so_under_the_tables(app_for, cache_for):
    app = app_for(seed_registry(cache_for("unreachable")))
    async with app.run_test(size=SIZE) as pilot:
        await open_registry(pilot)
        info = str(app.query_one("#registry-info").render())
        assert "failing since 11:45, showing cached data from 11:30" in info
        assert "Models (4)" in screen_text(app)


async def test_80x24_shows_fewer_columns_and_every_write_key(app_for, registry_cache):
    app = app_for(registry_cache)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_registry(pilot)
        await select_model(pilot, FRAUD)
        shown = screen_text(app)
        assert "Description" not in shown and "Tags" not in shown
        assert "Version  Status   Aliases      Source run              Created" in shown
        line = footer(app)
        for label in (*WRITE_LABELS, "History", "Quit", "Help"):
            assert label in line, label
        await pilot.resize_terminal(160, 45)
        await wait_for(pilot, lambda: "Description" in screen_text(app))


async def test_a_sync_refresh_keeps_the_selection(app_for, registry_cache):
    app = app_for(registry_cache)
    async with app.run_test(size=SIZE) as pilot:
        await open_registry(pilot)
        await select_model(pilot, FRAUD)
        await select_version(pilot, "3")
        models, versions = registry_seed()
        moved = [replace(m, aliases={"champion": "3"}) if m.name == FRAUD else m for m in models]
        writer = db.Writer(db.open_writer(registry_cache))
        try:
            with writer.transaction() as conn:
                reg_store.replace_registry(conn, moved, versions, now=1.0)
        finally:
            writer.close()
        app.post_message(SyncChanged("mlflow", {"registry"}))
        await wait_for(pilot, lambda: "@champion" in _row(app, "v3"))
        assert "challenger" not in _row(app, "v5")
        assert pane(app).model_name == FRAUD
        assert pane(app).selected_version().version == "3"
        assert app.focused is table(app, "versions")


def _row(app, version: str) -> str:
    lines = screen_text(app).splitlines()
    return next((line for line in lines if line.startswith(f" {version} ")), "")


async def test_hostile_names_in_the_cache_are_drawn_as_text(app_for, registry_cache):
    app = app_for(registry_cache)
    async with app.run_test(size=SIZE) as pilot:
        await open_registry(pilot)
        await select_model(pilot, HOSTILE_MODEL)
        shown = assert_inert(app)
        assert HOSTILE_MODEL_CLEAN in shown
        assert f"note={HOSTILE_TAG_CLEAN}" in shown
        assert "[b]bold[/b] description" in shown
        await select_version(pilot, "1")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, VersionDetailScreen))
        shown = assert_inert(app)
        assert f"{HOSTILE_MODEL_CLEAN} v1  →  run evil[link=http://x]click[/link]gnp.exe" in shown
        await pilot.press("escape", "h")
        await wait_for(pilot, lambda: isinstance(app.screen, AliasHistoryScreen))
        assert HOSTILE_MODEL_CLEAN in assert_inert(app)
        await pilot.press("escape", "p")
        await wait_for(pilot, lambda: isinstance(app.screen, ChoicePicker))
        assert f"Promote {HOSTILE_MODEL_CLEAN} v1 to which alias?" in assert_inert(app)


async def test_write_keys_are_offered_when_writes_are_allowed(app_for, registry_cache):
    app = app_for(registry_cache)
    async with app.run_test(size=SIZE) as pilot:
        await open_registry(pilot)
        for label in WRITE_LABELS:
            assert f" {label} " in footer(app) + " ", label
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Promote version", "Roll back alias", "Delete alias", "Set version tag",
                      "Delete version tag", "Alias history", "Audit log"):  # fmt: skip
            assert f"Registry: {title}" in titles, title
        assert "Audit log" in titles
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = screen_text(app)
        assert "Promote" in shown and "Untag" in shown and "Audit log" in shown


async def test_read_only_removes_every_write_key(app_for, registry_cache):
    app = app_for(registry_cache, read_only=True)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_registry(pilot)
        await select_model(pilot, FRAUD)
        line = footer(app)
        for label in WRITE_LABELS:
            assert f" {label} " not in line + " ", label
        assert "History" in line
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Registry: Alias history" in titles
        assert not [t for t in titles if t.startswith("Registry:") and
                    any(w in t for w in ("Promote", "Roll back", "Delete", "tag"))]  # fmt: skip
        for key in WRITE_KEYS:
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.screen_stack[0], key
        assert notifications(app) == []
        assert app.pipeline.audit.records() == []
        # Even asked directly, the flow refuses before anything is read.
        from mlopstui.actions import mlflow_registry as reg_actions

        pane(app).ctx.request_action(reg_actions.promote(FRAUD, "3", "champion"))
        await pilot.pause()
        ((message, severity),) = notifications(app)
        assert severity == "error" and "read-only mode" in message
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        shown = screen_text(app)
        assert "History" in shown
        for label in ("Promote", "Rollback", "Untag"):
            assert label not in shown, label


async def test_capital_a_opens_the_audit_log_anywhere(app_for, registry_cache):
    app = app_for(registry_cache)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen))
        assert "No actions recorded yet" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AuditScreen)


async def test_the_pane_requests_actions_through_its_context(registry_cache):
    harness = PaneHarness(RegistryPane, registry_cache)
    async with harness.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select_model(pilot, FRAUD)
        await pilot.press("tab", "p")
        await wait_for(pilot, lambda: isinstance(harness.screen, ChoicePicker))
        await pilot.press("down", "enter")  # champion, then challenger
        await wait_for(pilot, lambda: harness.requested_actions)
        (action,) = harness.requested_actions
        assert (action.kind, action.params) == (
            "promote",
            {"model": FRAUD, "version": "5", "alias": "challenger"},
        )


async def test_an_empty_harness_cache_shows_the_empty_state(tmp_path):
    cache = build_cache(tmp_path / "c.sqlite", "loaded")
    harness = PaneHarness(RegistryPane, cache, read_only=True)
    async with harness.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "No registered models in mlflow." in screen_text(harness)
