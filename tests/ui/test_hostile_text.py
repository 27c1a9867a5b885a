"""Run names, tags and experiment names are data: drawn literally, never as markup or escapes.

The hostile run's name carries an OSC 52 clipboard write, a CSI colour, Rich link markup and a
right-to-left override. On screen it must read `evil[link=http://x]click[/link]gnp.exe`, and no
ESC, C1 or bidi character may reach the terminal from it.
"""

from __future__ import annotations

from textual.widgets import OptionList

from mlopstui.ui.screens.compare import CompareScreen
from mlopstui.ui.screens.pickers import ColumnPicker
from mlopstui.ui.screens.run_detail import RunDetailScreen
from mlopstui.ui.widgets.runs_table import RunsTable

from .builders import (
    BOLD_EXPERIMENT,
    FORBIDDEN,
    HOSTILE_CLEAN,
    HOSTILE_RUN_ID,
    HOSTILE_TAG_CLEAN,
    experiment_order,
    jobs_settled,
    run_index,
    screen_text,
    terminal_output,
    wait_for,
)

SIZE = (140, 40)
LINK = "[link=http://x]click[/link]"


def assert_inert(app) -> str:
    """The screen holds no forbidden character, and neither does what a repaint writes."""
    shown = screen_text(app)
    for ch in FORBIDDEN:
        assert ch not in shown, f"{ch!r} reached the screen"
    raw = terminal_output(app)
    assert "\x1b]" not in raw  # no OSC: no clipboard write, no hyperlink
    assert "\x07" not in raw
    assert "cHduZWQ=" not in raw  # the OSC 52 payload
    assert "\x1b[2J" not in raw  # the hostile tag's clear-screen
    for ch in FORBIDDEN[1:]:
        assert ch not in raw, f"{ch!r} reached the terminal"
    return shown


async def test_the_runs_table_draws_the_name_as_text(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.query_one(RunsTable).current_run_id() == HOSTILE_RUN_ID  # newest first
        shown = assert_inert(app)
        name_cell = next(line for line in shown.splitlines() if "evil" in line)
        assert "  evil[link=http://x]click[/" in name_cell  # clipped by the column, literal


async def test_the_detail_shows_the_whole_name_and_tag_literally(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        await jobs_settled(pilot)
        assert "fetching…" not in screen_text(app)
        shown = assert_inert(app)
        assert HOSTILE_CLEAN in shown
        assert LINK in shown
        assert HOSTILE_TAG_CLEAN in shown
        assert f"Experiment  {BOLD_EXPERIMENT}" in shown


async def test_the_experiment_name_stays_literal_in_the_list_and_the_info_line(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        ol = app.query_one("#experiment-list", OptionList)
        assert BOLD_EXPERIMENT in screen_text(app)
        await pilot.press("e")
        for _ in range(experiment_order().index("2") + 1):
            await pilot.press("down")
        await pilot.pause()
        assert ol.get_option_at_index(ol.highlighted).id == "exp-2"
        info = str(app.query_one("#runs-info").render())
        assert info.startswith(f"{BOLD_EXPERIMENT} · ")
        shown = assert_inert(app)
        assert f"{BOLD_EXPERIMENT} · " in shown


async def test_compare_headers_and_values_stay_literal(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("space", "space", "x")
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        shown = assert_inert(app)
        assert "evil[link=http://x]clic…" in shown  # the column header, cut at 24
        assert "tags.note" in shown
        assert HOSTILE_TAG_CLEAN in shown


async def test_the_column_chooser_lists_hostile_keys_as_text(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e")
        for _ in range(experiment_order().index("2") + 1):
            await pilot.press("down")
        await pilot.press("enter", "c")
        await pilot.pause()
        assert isinstance(app.screen, ColumnPicker)
        assert "tags.note" in app.screen.choices
        assert_inert(app)


async def test_copying_the_hostile_run_id_is_plain(app):
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        app.query_one(RunsTable).move_to(run_index(HOSTILE_RUN_ID))
        await pilot.press("y")
        await wait_for(pilot, lambda: "Copied run id" in screen_text(app))
        assert app.clipboard == HOSTILE_RUN_ID
        assert_inert(app)
