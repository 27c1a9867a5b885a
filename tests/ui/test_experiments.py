"""The experiment list: shown from 100 columns, behind `e` below; choosing one changes the runs."""

from __future__ import annotations

from textual.widgets import OptionList

from mlopstui.ui.widgets.runs_table import RunsTable

from .builders import BOLD_EXPERIMENT, SEED_EXPERIMENTS, experiment_order, screen_text, seeded


def experiment_list(app) -> OptionList:
    return app.query_one("#experiment-list", OptionList)


def shown_ids(app) -> list[str]:
    table = app.query_one(RunsTable)
    return [table.row(i).run_id for i in range(table.total)]


async def test_wide_terminal_shows_the_list_most_recent_first(app):
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        ol = experiment_list(app)
        assert ol.display
        assert ol.region.width > 0
        ids = [ol.get_option_at_index(i).id for i in range(ol.option_count)]
        assert ids == ["*"] + [f"exp-{e}" for e in experiment_order()]
        assert ol.highlighted == 0  # All experiments
        shown = screen_text(app)
        assert "All experiments" in shown
        assert "60 runs" in shown
        for e in SEED_EXPERIMENTS:
            assert e.name in shown


async def test_highlighting_another_experiment_shows_its_runs(app):
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        await pilot.press("e")
        await pilot.pause()
        assert app.focused is experiment_list(app)
        for position, exp_id in enumerate(experiment_order(), 1):
            await pilot.press("down")
            await pilot.pause()
            assert experiment_list(app).highlighted == position
            assert app.active_pane().experiment_id == exp_id
            assert shown_ids(app) == [r.run_id for r in seeded(exp_id)]
            name = next(e.name for e in SEED_EXPERIMENTS if e.experiment_id == exp_id)
            info = str(app.query_one("#runs-info").render())
            assert info.startswith(f"{name} · {len(seeded(exp_id))} runs")
        # Back to all of them.
        await pilot.press("home")
        await pilot.pause()
        assert app.active_pane().experiment_id is None
        assert app.query_one(RunsTable).total == len(seeded())
        # Enter hands the keyboard back to the table.
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.focused, RunsTable)


async def test_each_experiment_has_its_default_columns(app):
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        pane = app.active_pane()
        # Across experiments only attributes; within one, its metrics and params too.
        assert not [c for c in pane.columns if c.startswith(("metrics.", "params."))]
        await pilot.press("e", "down")
        await pilot.pause()
        assert pane.experiment_id == experiment_order()[0]
        assert {"metrics.val_acc", "metrics.loss", "params.lr"} <= set(pane.columns)


async def test_narrow_terminal_hides_the_list_until_e(app):
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        pane = app.active_pane()
        ol = experiment_list(app)
        assert not ol.display or ol.styles.display == "none"
        assert "All experiments" not in screen_text(app)
        assert BOLD_EXPERIMENT not in screen_text(app)

        await pilot.press("e")
        await pilot.pause()
        assert ol.styles.display == "block"
        assert app.focused is ol
        assert "All experiments" in screen_text(app)
        assert BOLD_EXPERIMENT in screen_text(app)
        await pilot.press("down")
        await pilot.pause()
        assert pane.experiment_id == experiment_order()[0]

        await pilot.press("e")
        await pilot.pause()
        assert ol.styles.display == "none"
        assert isinstance(app.focused, RunsTable)
        assert "All experiments" not in screen_text(app)


async def test_resizing_across_100_columns_toggles_the_list(app):
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        ol = experiment_list(app)
        assert ol.styles.display == "block"
        await pilot.resize_terminal(90, 30)
        await pilot.pause()
        assert ol.styles.display == "none"
        await pilot.resize_terminal(130, 30)
        await pilot.pause()
        assert ol.styles.display == "block"
