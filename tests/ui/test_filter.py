"""The filter box: MLflow syntax and plain text, answered from the cache; inline errors."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from mlopstui.cache import viewstate
from mlopstui.ui.widgets.runs_table import RunsTable

from .builders import (
    HOSTILE_RUN_ID,
    SEED_RUNS,
    bulk_runs,
    jobs_settled,
    notifications,
    screen_text,
    write_runs,
)

SIZE = (120, 36)


def expected(predicate) -> list[str]:
    """Run ids of the seeded runs a filter should keep, in the default order."""
    runs = sorted(SEED_RUNS, key=lambda r: r.start_time, reverse=True)
    return [r.run_id for r in runs if predicate(r)]


def val_acc(run) -> float:
    return run.metrics["val_acc"].value


async def type_filter(pilot, text: str, *, paste: bool = False) -> None:
    """`/` then the text, key by key, or pasted in one go (as a terminal paste arrives)."""
    await pilot.press("slash")
    if paste:
        await pilot.pause()
        pilot.app.query_one("#filter", Input).insert_text_at_cursor(text)
    else:
        await pilot.press(*text)
    await pilot.pause()


def shown_ids(app) -> list[str]:
    table = app.query_one(RunsTable)
    return [table.row(i).run_id for i in range(table.total)]


def filter_error(app):
    return app.query_one("#filter-error")


async def test_slash_focuses_the_filter(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("slash")
        await pilot.pause()
        assert app.focused is app.query_one("#filter", Input)


@pytest.mark.parametrize(
    ("expression", "predicate"),
    [
        ("metrics.val_acc > 0.5", lambda r: val_acc(r) > 0.5),
        ("attributes.status = 'FAILED'", lambda r: r.status == "FAILED"),
        ("tags.team = 'nlp'", lambda r: r.tags["team"] == "nlp"),
        (
            "metrics.val_acc >= 0.7 and params.lr = '0.01'",
            lambda r: val_acc(r) >= 0.7 and r.params["lr"] == "0.01",
        ),
        ("params.batch_size != '32'", lambda r: r.params["batch_size"] != "32"),
        (
            "status = 'FAILED' and params.lr LIKE '0.0%'",
            lambda r: r.status == "FAILED" and r.params["lr"].startswith("0.0"),
        ),
        ("attributes.run_name LIKE 'sweep-%'", lambda r: r.name.startswith("sweep-")),
    ],
)
async def test_mlflow_expressions_narrow_the_runs(app, expression, predicate):
    want = expected(predicate)
    assert 0 < len(want) < len(SEED_RUNS)  # the seed makes every case meaningful
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_filter(pilot, expression, paste=True)
        table = app.query_one(RunsTable)
        assert app.query_one(Input).value == expression
        assert not filter_error(app).display
        assert table.total == len(want)
        assert shown_ids(app) == want
        assert f"{len(want)} runs (filtered)" in str(app.query_one("#runs-info").render())


async def test_val_acc_over_half(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_filter(pilot, "metrics.val_acc > 0.5")
        # 49 of the 60 seeded runs: 46 regular ones, the sweep parent and both children.
        assert app.query_one(RunsTable).total == 49 == len(expected(lambda r: val_acc(r) > 0.5))


async def test_a_bad_expression_shows_an_inline_error_and_the_app_keeps_running(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_filter(pilot, "metrics.val_acc >> 0.5")
        error = filter_error(app)
        assert error.display
        message = (
            "✗ >> does not compare metrics here: use one of !=, <, <=, =, >, >= (at position 17)"
        )
        assert str(error.render()) == message
        assert message in screen_text(app)
        assert app.is_running
        # Fixing the expression clears the error.
        for _ in range(5):
            await pilot.press("backspace")
        await pilot.press(*" 0.5")
        await pilot.pause()
        assert app.query_one(Input).value == "metrics.val_acc > 0.5"
        assert not error.display
        assert app.query_one(RunsTable).total == len(expected(lambda r: val_acc(r) > 0.5))


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("metrics.val_acc > 0.5 or params.lr = '1'", "OR is not part of MLflow search syntax"),
        ("attributes.colour = 'red'", "unknown attribute 'colour'"),
        ("metrics.val_acc LIKE 'x'", "metrics compare with a number"),
        ("params.lr =", "unexpected 'params.lr'"),
        ("tags.env IN ('a', 'b')", "tags compare with a quoted string"),
    ],
)
async def test_error_messages(app, expression, message):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_filter(pilot, expression, paste=True)
        assert filter_error(app).display
        assert message in str(filter_error(app).render())


async def test_plain_text_finds_the_hostile_run(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_filter(pilot, "evil")
        assert shown_ids(app) == [HOSTILE_RUN_ID]
        assert not filter_error(app).display


async def test_plain_text_with_no_match_says_so(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_filter(pilot, "no-such-run")
        assert app.query_one(RunsTable).total == 0
        assert "No runs match this filter. Esc clears it." in screen_text(app)


async def test_escape_clears_the_filter_and_returns_to_the_table(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_filter(pilot, "sweep")
        table = app.query_one(RunsTable)
        assert table.total == 3
        await pilot.press("escape")
        await pilot.pause()
        assert app.query_one(Input).value == ""
        assert app.focused is table
        assert table.total == len(SEED_RUNS)
        assert not filter_error(app).display


async def test_escape_forgets_the_filter_across_a_restart(app_for, cache):
    first = app_for(cache)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_filter(pilot, "sweep")
        await pilot.press("escape")
        await pilot.pause()
        assert first.query_one(Input).value == ""
    second = app_for(cache)  # the first one waited for its view to be saved when it closed
    async with second.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert second.query_one(Input).value == ""
        assert second.query_one(RunsTable).total == len(SEED_RUNS)


async def test_the_count_of_a_big_filtered_view_arrives(app_for, cache):
    write_runs(cache, bulk_runs(150))
    app = app_for(cache)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_filter(pilot, "tags.team = 'vision'", paste=True)
        table = app.query_one(RunsTable)
        vision = len([r for r in SEED_RUNS if r.experiment_id == "1"]) + 150
        await jobs_settled(pilot)
        assert table.total == vision
        assert f"{vision} runs (filtered)" in str(app.query_one("#runs-info").render())
        await pilot.press("enter", "end")  # back to the table, then its last row
        assert table.current().name == "bulk-149"


async def test_a_count_that_fails_says_so_and_keeps_the_first_rows(app_for, cache, monkeypatch):
    import sqlite3

    from mlopstui.cache import runs as run_store

    def locked(self) -> int:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(run_store.RunsWindow, "count", locked)
    write_runs(cache, bulk_runs(150))
    app = app_for(cache)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await type_filter(pilot, "tags.team = 'vision'", paste=True)
        await jobs_settled(pilot)
        assert notifications(app) == [
            (
                "Could not count the runs (the first ones are shown): database is locked"
                " (details in the log)",
                "error",
            )
        ]
        table = app.query_one(RunsTable)
        assert table.counting and table.total == 100  # the first page, "100+ runs"
        assert "100+ runs (filtered)" in str(app.query_one("#runs-info").render())


async def test_enter_keeps_the_filter_and_returns_to_the_table(app):
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await type_filter(pilot, "sweep")
        await pilot.press("enter")
        await pilot.pause()
        table = app.query_one(RunsTable)
        assert app.focused is table
        assert table.total == 3
        await jobs_settled(pilot)  # the view is saved off the loop
        assert viewstate.load(app.reader, "runs:*").get("filter") == "sweep"
        # Esc on the table leaves the kept filter alone.
        await pilot.press("escape")
        await pilot.pause()
        assert app.query_one(Input).value == "sweep"
        assert table.total == 3
