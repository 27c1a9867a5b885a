"""Screens as a person sees them, one class per feature.

Deterministic by construction: the clock is frozen, the cache is seeded (ui/builders.py), sync
is off, the theme is fixed, nothing blinks, and every fetch has answered before the picture is
taken. Regenerate after a deliberate change with `pytest tests/snapshots --snapshot-update` and
look at every changed SVG (the report is in snapshot_report.html).
"""

from __future__ import annotations

from ui.builders import (
    CHILD_RUN_IDS,
    FRAUD,
    HOSTILE_RUN_ID,
    CannedFetcher,
    notifications,
    run_index,
    screen_text,
    seed_audit,
    wait_for,
)

from mlopstui.actions import Plan
from mlopstui.actions import mlflow_registry as reg_actions
from mlopstui.ui.screens.audit import AuditScreen
from mlopstui.ui.screens.confirm import ConfirmActionScreen
from mlopstui.ui.screens.run_detail import RunDetailScreen
from mlopstui.ui.widgets.runs_table import RunsTable


def open_detail(run_id: str):
    """run_before: put the cursor on a run, open it, wait until its fetches have answered."""

    async def run_before(pilot) -> None:
        app = pilot.app
        await pilot.pause()
        app.query_one(RunsTable).move_to(run_index(run_id))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        await wait_for(pilot, lambda: "fetching…" not in screen_text(app))

    return run_before


class TestExperimentsPane:
    def test_loaded_80x24(self, snap_compare, app_for):
        assert snap_compare(app_for("loaded"), terminal_size=(80, 24))

    def test_loaded_160x45(self, snap_compare, app_for):
        assert snap_compare(app_for("loaded"), terminal_size=(160, 45))

    def test_one_experiment_with_its_metric_columns(self, snap_compare, app_for):
        press = ["e", "down", "down", "enter", "down", "space", "space"]
        assert snap_compare(app_for("loaded"), terminal_size=(160, 45), press=press)

    def test_experiment_list_over_a_narrow_terminal(self, snap_compare, app_for):
        assert snap_compare(app_for("loaded"), terminal_size=(80, 24), press=["e"])


class TestFreshness:
    def test_empty_cache(self, snap_compare, app_for):
        assert snap_compare(app_for("empty"), terminal_size=(120, 30))

    def test_unreachable(self, snap_compare, app_for):
        assert snap_compare(app_for("unreachable"), terminal_size=(120, 30))

    def test_stale(self, snap_compare, app_for):
        assert snap_compare(app_for("stale"), terminal_size=(120, 30))

    def test_read_only(self, snap_compare, app_for):
        assert snap_compare(app_for("loaded", read_only=True), terminal_size=(120, 30))


class TestFilter:
    def test_filter_error(self, snap_compare, app_for):
        press = ["slash", *"metrics.val_acc >> 0.5"]
        assert snap_compare(app_for("loaded"), terminal_size=(100, 24), press=press)

    def test_filter_matches(self, snap_compare, app_for):
        press = ["slash", *"sweep", "enter"]
        assert snap_compare(app_for("loaded"), terminal_size=(100, 24), press=press)


class TestRunDetail:
    def test_child_run(self, snap_compare, app_for):
        run_before = open_detail(CHILD_RUN_IDS[0])
        assert snap_compare(app_for("loaded"), terminal_size=(120, 50), run_before=run_before)

    def test_history_unavailable(self, snap_compare, app_for):
        app = app_for("loaded", fetcher=CannedFetcher(fail=ConnectionError("server went away")))
        run_before = open_detail(CHILD_RUN_IDS[0])
        assert snap_compare(app, terminal_size=(120, 50), run_before=run_before)

    def test_hostile_run(self, snap_compare, app_for):
        run_before = open_detail(HOSTILE_RUN_ID)
        assert snap_compare(app_for("loaded"), terminal_size=(120, 50), run_before=run_before)


class TestCompare:
    def test_two_sweep_children(self, snap_compare, app_for):
        async def run_before(pilot) -> None:
            await pilot.pause()
            pilot.app.query_one(RunsTable).move_to(run_index(CHILD_RUN_IDS[1]))

        press = ["space", "space", "x"]
        app = app_for("loaded")
        assert snap_compare(app, terminal_size=(120, 30), press=press, run_before=run_before)

    def test_only_differences(self, snap_compare, app_for):
        async def run_before(pilot) -> None:
            await pilot.pause()
            pilot.app.query_one(RunsTable).move_to(run_index(CHILD_RUN_IDS[1]))

        press = ["space", "space", "x", "d"]
        app = app_for("loaded")
        assert snap_compare(app, terminal_size=(120, 30), press=press, run_before=run_before)


class TestHelp:
    def test_help_screen(self, snap_compare, app_for):
        assert snap_compare(app_for("loaded"), terminal_size=(100, 45), press=["question_mark"])


# The registry seed lists churn-xgb, the hostile model, fraud-detector, resnet-classifier:
# two downs put the cursor on fraud-detector (5 versions, champion and challenger).
ON_FRAUD = ["2", "down", "down"]


class TestRegistryPane:
    def test_loaded_80x24(self, snap_compare, app_for):
        app = app_for("loaded", registry=True)
        assert snap_compare(app, terminal_size=(80, 24), press=ON_FRAUD)

    def test_loaded_160x45(self, snap_compare, app_for):
        app = app_for("loaded", registry=True)
        assert snap_compare(app, terminal_size=(160, 45), press=ON_FRAUD)

    def test_empty_registry(self, snap_compare, app_for):
        assert snap_compare(app_for("loaded"), terminal_size=(80, 24), press=["2"])

    def test_read_only(self, snap_compare, app_for):
        app = app_for("loaded", registry=True, read_only=True)
        assert snap_compare(app, terminal_size=(120, 30), press=ON_FRAUD)

    def test_version_detail(self, snap_compare, app_for):
        app = app_for("loaded", registry=True)
        press = [*ON_FRAUD, "tab", "down", "down", "enter"]  # v3, compared with @champion v4
        assert snap_compare(app, terminal_size=(100, 30), press=press)

    def test_alias_history(self, snap_compare, app_for):
        app = app_for("loaded", registry=True)
        assert snap_compare(app, terminal_size=(100, 24), press=[*ON_FRAUD, "h"])


def _plan(action, **kwargs) -> Plan:
    return Plan(action=action, source_label="https://mlflow.example.com", **kwargs)


class TestActions:
    def test_confirm_promote(self, snap_compare, app_for):
        plan = _plan(
            reg_actions.promote(FRAUD, "5", "champion"),
            title=f"Promote {FRAUD} v5 to champion",
            before="champion -> v4",
            after="champion -> v5",
            details=("source run: 1f0e1d2c3b4a59687766554433221100", "version status: READY"),
        )

        async def run_before(pilot) -> None:
            await pilot.press(*ON_FRAUD)
            pilot.app.push_screen(ConfirmActionScreen(plan))
            await pilot.pause()

        app = app_for("loaded", registry=True)
        assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)

    def test_confirm_delete_asks_for_the_alias(self, snap_compare, app_for):
        plan = _plan(
            reg_actions.delete_alias(FRAUD, "champion"),
            title=f"Delete alias champion of {FRAUD}",
            before="champion -> v4",
            after="champion (not set)",
            confirm_phrase="champion",
            details=(f"Anything that loads models:/{FRAUD}@champion will fail to resolve.",),
        )

        async def run_before(pilot) -> None:
            await pilot.press(*ON_FRAUD)
            pilot.app.push_screen(ConfirmActionScreen(plan))
            await pilot.pause()
            await pilot.press(*"champ")

        app = app_for("loaded", registry=True)
        assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)

    def test_audit_screen_with_an_unknown_outcome(self, snap_compare, app_for):
        app = app_for("loaded", registry=True)
        seed_audit(app.pipeline.audit.path, pid=4242)

        async def run_before(pilot) -> None:
            await wait_for(pilot, lambda: notifications(pilot.app))  # the start-up warning
            pilot.app.clear_notifications()
            await pilot.press("A")
            await wait_for(pilot, lambda: isinstance(pilot.app.screen, AuditScreen))

        assert snap_compare(app, terminal_size=(120, 30), run_before=run_before)
