"""Sort picker, reverse, column chooser, and the view remembered across restarts."""

from __future__ import annotations

from textual.widgets import Input, OptionList, SelectionList

from mlopstui.ui.screens.pickers import ColumnPicker, SortPicker
from mlopstui.ui.widgets.runs_table import RunsTable

from .builders import CannedFetcher, jobs_settled, notifications, seeded

SIZE = (160, 40)
VISION = "1"  # vision-resnet: its default columns include metrics and params


def val_acc(run) -> float:
    return run.metrics["val_acc"].value


async def choose_experiment(pilot, experiment_id: str | None) -> None:
    """`e`, arrow to the experiment, Enter: as a person picks one."""
    app = pilot.app
    await pilot.press("e")
    await pilot.pause()
    ol = app.query_one("#experiment-list", OptionList)
    target = ol.get_option_index("*" if experiment_id is None else f"exp-{experiment_id}")
    key = "down" if target > (ol.highlighted or 0) else "up"
    for _ in range(abs(target - (ol.highlighted or 0))):
        await pilot.press(key)
    await pilot.press("enter")
    await pilot.pause()
    assert app.active_pane().experiment_id == experiment_id
    assert isinstance(app.focused, RunsTable)


async def pick_option(pilot, option_list, option_id: str) -> None:
    """Arrow to an option of the focused list and press Enter."""
    ids = [option_list.get_option_at_index(i).id for i in range(option_list.option_count)]
    target = ids.index(option_id)
    current = option_list.highlighted or 0
    key = "down" if target > current else "up"
    for _ in range(abs(target - current)):
        await pilot.press(key)
    await pilot.press("enter")
    await pilot.pause()


def first_run(app) -> str:
    return app.query_one(RunsTable).row(0).run_id


async def test_sort_by_a_metric_then_reverse(app):
    runs = seeded(VISION)
    best = max(runs, key=val_acc)
    worst = min(runs, key=val_acc)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await choose_experiment(pilot, VISION)
        await pilot.press("s")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, SortPicker)
        ol = picker.query_one(OptionList)
        assert "metrics.val_acc" in picker.columns
        assert ol.get_option_at_index(ol.highlighted).id == "start_time"  # the current sort
        await pick_option(pilot, ol, "metrics.val_acc")
        assert not isinstance(app.screen, SortPicker)
        pane = app.active_pane()
        assert (pane.sort, pane.descending) == ("metrics.val_acc", True)
        assert first_run(app) == best.run_id
        table = app.query_one(RunsTable)
        values = [
            val_acc(next(r for r in runs if r.run_id == table.row(i).run_id))
            for i in range(table.total)
        ]
        assert values == sorted(values, reverse=True)
        assert "sort metrics.val_acc ↓" in str(app.query_one("#runs-info").render())

        await pilot.press("r")
        await pilot.pause()
        assert (pane.sort, pane.descending) == ("metrics.val_acc", False)
        assert first_run(app) == worst.run_id
        assert "sort metrics.val_acc ↑" in str(app.query_one("#runs-info").render())


async def test_sort_by_name_is_ascending_first(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        await pick_option(pilot, app.screen.query_one(OptionList), "name")
        pane = app.active_pane()
        assert (pane.sort, pane.descending) == ("name", False)
        table = app.query_one(RunsTable)
        names = [table.row(i).name for i in range(table.total)]
        assert names == sorted(names)


async def test_escape_cancels_the_sort_picker(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("s", "down", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, SortPicker)
        assert app.active_pane().sort == "start_time"


async def test_column_chooser_toggles_columns(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await choose_experiment(pilot, VISION)
        pane = app.active_pane()
        before = list(pane.columns)
        assert "metrics.val_acc" in before
        assert "tags.team" not in before
        await pilot.press("c")
        await pilot.pause()
        picker = app.screen
        assert isinstance(picker, ColumnPicker)
        selection = picker.query_one(SelectionList)
        assert app.focused is selection
        # Shown columns first, then the others; MLflow's system tags are not offered.
        assert picker.choices[: len(before)] == before
        assert "tags.team" in picker.choices
        assert not [c for c in picker.choices if c.startswith("tags.mlflow.")]
        await pilot.press("space")  # untick the first one: name
        await pilot.press("end", "space")  # tick the last one: tags.team
        picker.action_apply()  # Enter is broken, see below
        await pilot.pause()
        assert not isinstance(app.screen, ColumnPicker)
        assert pane.columns == before[1:] + ["tags.team"]
        assert app.query_one(RunsTable).columns == pane.columns
        assert "team" in app.query_one(RunsTable).render_line(0).text


async def test_enter_applies_the_column_choice(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        pane = app.active_pane()
        before = list(pane.columns)
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("end", "space", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, ColumnPicker)
        assert pane.columns == before + ["tags.team"]


async def test_escape_cancels_the_column_chooser(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        before = list(app.active_pane().columns)
        await pilot.press("c", "space", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, ColumnPicker)
        assert app.active_pane().columns == before


async def test_the_view_survives_a_restart(app_for, cache):
    first = app_for(cache)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await choose_experiment(pilot, VISION)
        await pilot.press("s")
        await pilot.pause()
        await pick_option(pilot, first.screen.query_one(OptionList), "metrics.val_acc")
        await pilot.press("r")
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("end", "space")
        first.screen.action_apply()
        await pilot.pause()
        await pilot.press("slash", *"fox", "enter")
        await pilot.pause()
        pane = first.active_pane()
        view = (pane.sort, pane.descending, list(pane.columns), pane.filter_text)
        assert view[:2] == ("metrics.val_acc", False)
        assert "tags.team" in view[2]
        assert view[3] == "fox"
        table = first.query_one(RunsTable)
        shown = [table.row(i).run_id for i in range(table.total)]
        assert len(shown) == 3  # the vision runs with "fox" in their name
        await pilot.press("q")

    second = app_for(cache)
    async with second.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await choose_experiment(pilot, VISION)
        pane = second.active_pane()
        assert (pane.sort, pane.descending, pane.columns, pane.filter_text) == view
        assert second.query_one(Input).value == "fox"
        table = second.query_one(RunsTable)
        assert [table.row(i).run_id for i in range(table.total)] == shown
        # Other experiments keep their own (default) view.
        await choose_experiment(pilot, None)
        assert (pane.sort, pane.filter_text) == ("start_time", "")


async def test_m_fetches_the_visible_runs_histories_and_shows_min_max(app_for, cache):
    fetcher = CannedFetcher(cache=cache)
    app = app_for(cache, fetcher=fetcher)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await choose_experiment(pilot, VISION)
        table = app.query_one(RunsTable)
        await pilot.press("m")
        await jobs_settled(pilot)
        assert table.row(0).values.get("metrics.val_acc.min") is not None
        pane = app.active_pane()
        assert pane.minmax
        assert table.columns[4:10] == [
            "metrics.loss",
            "metrics.loss.min",
            "metrics.loss.max",
            "metrics.val_acc",
            "metrics.val_acc.min",
            "metrics.val_acc.max",
        ]
        ((what, asked),) = fetcher.calls
        assert what == "metric_ranges"
        assert sorted(asked["keys"]) == ["loss", "val_acc"]
        assert asked["run_ids"][0] == seeded(VISION)[0].run_id
        row = table.row(0).values
        assert (row["metrics.val_acc.min"], row["metrics.val_acc.max"]) == (0.011, 0.999)
        header = table.render_line(0).text
        assert "val_acc" in header and "min" in header and "max" in header
        assert "0.011" in table.render_line(1).text
        await pilot.press("m")  # off again
        await pilot.pause()
        assert "metrics.val_acc.min" not in table.columns


async def test_m_without_metric_columns_says_what_to_do(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()  # All experiments: attribute columns only
        await pilot.press("m")
        await pilot.pause()
        assert ("Choose a metric column first (c).", "warning") in notifications(app)
        assert app.fetcher.calls == []
