"""Registry actions from the keyboard, end to end against a real embedded MLflow store:
promote, cancel, roll back (and the no-op second roll back), delete with a typed phrase, a
no-op promote, double submission, hostile names, and what the audit log keeps."""

from __future__ import annotations

from textual.widgets import Input

from mlopstui.actions import mlflow_registry as reg_actions
from mlopstui.ui.screens.confirm import ConfirmActionScreen
from mlopstui.ui.screens.registry_forms import ChoicePicker

from .builders import FORBIDDEN, HOSTILE_MODEL, HOSTILE_MODEL_CLEAN, HOSTILE_TAG, screen_text
from .mlflow_store import MODEL
from .registry_helpers import (
    open_registry,
    pick,
    select_model,
    select_version,
    settle,
    table,
    toasts,
    wait_confirm,
    wait_for,
    wait_toast,
)

SIZE = (120, 36)


def cached_aliases(app) -> dict[str, str]:
    from mlopstui.cache import registry as reg_store

    found = reg_store.model(app.reader, MODEL)
    return dict(found.aliases) if found else {}


async def promote(pilot, version: str, alias: str = "champion") -> ConfirmActionScreen:
    await select_version(pilot, version)
    await pilot.press("p")
    await pick(pilot, alias)
    return await wait_confirm(pilot)


async def test_promote_confirmed_with_y_moves_the_alias_and_is_audited(store, store_app_for):
    app = store_app_for()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_registry(pilot)
        confirm = await promote(pilot, "3")
        shown = screen_text(app)
        assert "Promote fraud v3 to champion" in shown
        assert "champion -> v2" in shown and "champion -> v3" in shown
        assert "store/mlflow.db (mlflow)" in shown  # the source the change goes to
        await pilot.press("y")
        message, severity = await wait_toast(pilot, "done (verified)")
        assert severity == "information"
        assert not isinstance(app.screen, ConfirmActionScreen)
        assert confirm.plan.before == "champion -> v2"
        await settle(pilot)
        assert store.aliases() == {"champion": "3"}
        # The pane shows the move at once (the cache was updated by the pipeline).
        await wait_for(pilot, lambda: "champion→v3" in screen_text(app))
        assert cached_aliases(app) == {"champion": "3"}
        (record,) = app.pipeline.audit.records()
        assert (record.action, record.state) == ("promote", "ok")
        assert (record.before, record.after) == ("champion -> v2", "champion -> v3")


async def test_cancel_with_n_changes_nothing_and_records_nothing(store, store_app_for):
    app = store_app_for()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_registry(pilot)
        await promote(pilot, "3")
        await pilot.press("n")
        await wait_toast(pilot, "Cancelled; nothing was changed.")
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmActionScreen)
        assert store.aliases() == {"champion": "2"}
        assert app.pipeline.audit.records() == []
        # Escape cancels too.
        await promote(pilot, "1")
        await pilot.press("escape")
        await settle(pilot)
        assert store.aliases() == {"champion": "2"}
        assert app.pipeline.audit.records() == []


async def test_rollback_after_promote_goes_back_and_a_second_is_a_noop(store, store_app_for):
    app = store_app_for()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_registry(pilot)
        await promote(pilot, "3")
        await pilot.press("y")
        await wait_toast(pilot, "Promote fraud v3 to champion: done")
        await settle(pilot)
        await pilot.press("b")
        await pick(pilot, "champion")
        await wait_confirm(pilot)
        assert "champion -> v3" in screen_text(app) and "champion -> v2" in screen_text(app)
        await pilot.press("y")
        await wait_toast(pilot, "Roll back fraud champion: done")
        await settle(pilot)
        assert store.aliases() == {"champion": "2"}
        # Again: nothing to do, no modal, and never a flip back to v3.
        await pilot.press("b")
        await pick(pilot, "champion")
        message, severity = await wait_toast(pilot, "already rolled back")
        assert severity == "information"
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmActionScreen)
        assert store.aliases() == {"champion": "2"}
        states = [(r.action, r.state) for r in app.pipeline.audit.records()]
        assert states == [("rollback", "ok"), ("promote", "ok")]


async def test_delete_alias_asks_to_type_the_alias(store, store_app_for):
    app = store_app_for()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_registry(pilot)
        await pilot.press("d")
        await pick(pilot, "champion")
        confirm = await wait_confirm(pilot)
        assert "Type champion to confirm" in screen_text(app)
        box = confirm.query_one(Input)
        assert box.has_focus
        # y goes into the box; Enter with the wrong text confirms nothing.
        await pilot.press("y", "enter")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmActionScreen)
        assert box.value == "y"
        assert store.aliases() == {"champion": "2"}
        await pilot.press("backspace", *"champion", "enter")
        await wait_toast(pilot, "Delete alias champion of fraud: done")
        await settle(pilot)
        assert store.aliases() == {}
        assert "champion" not in cached_aliases(app)


async def test_promoting_where_the_alias_already_points_is_a_noop_without_a_modal(
    store, store_app_for
):
    app = store_app_for()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_registry(pilot)
        await select_version(pilot, "2")
        await pilot.press("p")
        await pick(pilot, "champion")
        message, severity = await wait_toast(pilot, "already points at fraud v2")
        assert severity == "information"
        await settle(pilot)
        assert not isinstance(app.screen, ConfirmActionScreen)
        assert app.pipeline.audit.records() == []


async def test_tag_then_untag_a_version(store, store_app_for):
    app = store_app_for()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_registry(pilot)
        await select_version(pilot, "3")
        await pilot.press("t")
        await wait_for(pilot, lambda: app.screen.query("#tag-key"))
        await pilot.press(*"stage", "enter", *"canary", "enter")
        await wait_confirm(pilot)
        assert "stage = 'canary'" in screen_text(app)
        await pilot.press("y")
        await wait_toast(pilot, "Tag fraud v3: done")
        await settle(pilot)
        assert store.client().get_model_version(MODEL, "3").tags == {"stage": "canary"}
        await wait_for(pilot, lambda: "stage=canary" in screen_text(app))
        await pilot.press("T")
        await pick(pilot, "stage")
        await wait_confirm(pilot)
        await pilot.press("y")
        await wait_toast(pilot, "Delete tag of fraud v3: done")
        await settle(pilot)
        assert store.client().get_model_version(MODEL, "3").tags == {}


async def test_a_second_request_while_one_is_open_is_turned_away(store, store_app_for):
    app = store_app_for()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_registry(pilot)
        await select_version(pilot, "3")
        # p twice quickly: the second lands on the alias picker, not a second picker.
        await pilot.press("p", "p")
        await pilot.pause()
        assert sum(isinstance(s, ChoicePicker) for s in app.screen_stack) == 1
        await pick(pilot, "champion")
        await wait_confirm(pilot)
        # The same action asked for again (a palette command, a plugin) while it is open.
        pane = app.active_pane()
        pane.ctx.request_action(reg_actions.promote(MODEL, "3", "champion"))
        pane.ctx.request_action(reg_actions.promote(MODEL, "1", "champion"))
        await pilot.pause()
        assert sum(isinstance(s, ConfirmActionScreen) for s in app.screen_stack) == 1
        busy = [m for m in toasts(app) if "already in progress" in m]
        assert len(busy) == 2
        await pilot.press("y")
        await wait_toast(pilot, "done (verified)")
        await settle(pilot)
        assert store.aliases() == {"champion": "3"}
        assert len(app.pipeline.audit.records()) == 1


async def test_double_request_before_the_plan_is_ready_opens_one_modal(store, store_app_for):
    app = store_app_for()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_registry(pilot)
        action = reg_actions.promote(MODEL, "1", "champion")
        app.actions.request(action)
        app.actions.request(action)
        await wait_confirm(pilot)
        await pilot.pause(0.2)
        assert sum(isinstance(s, ConfirmActionScreen) for s in app.screen_stack) == 1
        assert any("already in progress" in m for m in toasts(app))
        await pilot.press("n")
        await settle(pilot)
        # Free again once the first has ended.
        app.actions.request(action)
        await wait_confirm(pilot)


async def test_hostile_model_name_and_tags_are_drawn_as_text(store, store_app_for):
    client = store.client()
    client.create_registered_model(HOSTILE_MODEL, tags={"note": HOSTILE_TAG})
    client.create_model_version(HOSTILE_MODEL, f"runs:/{store.run_id}/model", run_id=store.run_id)
    client.set_model_version_tag(HOSTILE_MODEL, "1", "note", HOSTILE_TAG)
    app = store_app_for()
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await open_registry(pilot)
        await select_model(pilot, HOSTILE_MODEL)
        await wait_for(pilot, lambda: f"Versions of {HOSTILE_MODEL_CLEAN}" in screen_text(app))
        shown = _assert_inert(app)
        assert HOSTILE_MODEL_CLEAN in shown
        assert "note=[red]alert[/red]!" in shown
        await select_version(pilot, "1")
        await pilot.press("p")
        await pick(pilot, "champion")
        await wait_confirm(pilot)
        shown = _assert_inert(app)
        assert f"Promote {HOSTILE_MODEL_CLEAN} v1 to champion" in shown
        await pilot.press("y")
        await wait_toast(pilot, "done (verified)")
        await settle(pilot)
        assert store.aliases(HOSTILE_MODEL) == {"champion": "1"}
        for message in toasts(app):
            for ch in FORBIDDEN:
                assert ch not in message
        _assert_inert(app)
        assert table(app, "models").row_count == 2


def _assert_inert(app) -> str:
    from .test_hostile_text import assert_inert

    return assert_inert(app)


async def test_an_enter_pressed_twice_in_the_picker_does_not_confirm(
    store, store_app_for, monkeypatch
):
    monkeypatch.setattr(ConfirmActionScreen, "ARM_AFTER", 5.0)
    app = store_app_for()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await open_registry(pilot)
        await select_version(pilot, "3")
        await pilot.press("p")
        await pick(pilot, "champion")
        confirm = await wait_confirm(pilot)
        await pilot.press("enter", "y")  # too soon: nobody has read it yet
        await pilot.pause()
        assert app.screen is confirm
        confirm.ARM_AFTER = 0.0
        await pilot.press("y")
        await wait_toast(pilot, "done (verified)")
        assert store.aliases() == {"champion": "3"}
