"""The Quota pane, mounted through the plugin API's test harness over a real cache."""

from __future__ import annotations

import time
from types import SimpleNamespace

from mlopstui_gpu_quota.pane import QuotaPane
from textual.widgets import DataTable, Static

from mlopstui.plugin_api import API_VERSION, Pane, data
from mlopstui.plugin_api.testing import PaneHarness

HOSTILE = "\x1b]52;c;ZXZpbA==\x07[b]evil[/b]\x1b[31m\u202eteam"


def seed(cache, teams: list[dict]) -> None:
    with cache.writer.transaction() as conn:
        data.replace_records(conn, "gpu-quota", "teams", [(t["team"], t) for t in teams])


def rows(app) -> list[list]:
    table = app.query_one("#quota-table", DataTable)
    return [table.get_row_at(i) for i in range(table.row_count)]


def plain(app, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


def test_declares_the_pane_contract() -> None:
    assert issubclass(QuotaPane, Pane)
    assert (QuotaPane.pane_id, QuotaPane.title) == ("gpu-quota", "Quota")
    assert QuotaPane.__dict__["api_version"] == API_VERSION
    assert "gpu-quota" in QuotaPane.topics


async def test_shows_each_team_with_the_over_quota_row_highlighted(cache, quota_service) -> None:
    seed(cache, quota_service.teams)
    app = PaneHarness(QuotaPane, cache.path)
    async with app.run_test(size=(100, 30)):
        shown = [[str(c) for c in row] for row in rows(app)]
        # Sorted by the share used: the team over its quota first.
        assert shown == [
            ["vision", "8", "10", "0", "125% over"],
            ["nlp", "16", "12", "4", "75%"],
            ["speech", "4", "0", "4", "0%"],
        ]
        over, fine, idle = rows(app)
        assert {c.style for c in over} == {"bold red"}
        assert {c.style for c in fine} == {""} and {c.style for c in idle} == {""}
        assert "3 teams, 22/28 GPUs used" in plain(app, "#quota-title")
        assert "1 over quota" in plain(app, "#quota-title")
        assert plain(app, "#quota-freshness") == "not synced yet"
        assert app.query_one("#quota-empty").display is False


async def test_warn_at_from_the_pane_config(cache, quota_service) -> None:
    seed(cache, quota_service.teams)
    app = PaneHarness(QuotaPane, cache.path, pane_config={"warn_at": 0.7})
    async with app.run_test(size=(100, 30)):
        assert [row[0].style for row in rows(app)] == ["bold red", "yellow", ""]


async def test_a_bad_warn_at_is_a_warning_not_a_crash(cache, quota_service) -> None:
    seed(cache, quota_service.teams)
    app = PaneHarness(QuotaPane, cache.path, pane_config={"warn_at": "high"})
    async with app.run_test(size=(100, 30)):
        assert len(rows(app)) == 3
        [(severity, message)] = app.notifications
        assert severity == "warning" and "[panes.gpu-quota] warn_at" in message


async def test_hostile_team_names_are_inert(cache) -> None:
    seed(cache, [{"team": HOSTILE, "quota_gpus": 1, "used_gpus": 2}])
    app = PaneHarness(QuotaPane, cache.path)
    async with app.run_test(size=(100, 30)):
        [row] = rows(app)
        name = str(row[0])
        assert "[b]evil[/b]" in name  # shown as text, never parsed as markup
        assert not [ch for ch in name if ch in "\x1b\x07\u202e"]
        assert "ZXZpbA" not in name  # the OSC 52 clipboard payload is dropped whole
        assert row[0].spans == []


async def test_the_empty_state_says_how_to_configure_the_source(cache) -> None:
    app = PaneHarness(QuotaPane, cache.path)
    async with app.run_test(size=(100, 30)):
        assert app.query_one("#quota-table").display is False
        empty = plain(app, "#quota-empty")
        assert "[sources.gpu-quota]" in empty
        assert 'url = "http://' in empty


async def test_new_records_show_when_the_topic_changes(cache, quota_service) -> None:
    app = PaneHarness(QuotaPane, cache.path)
    async with app.run_test(size=(100, 30)) as pilot:
        assert rows(app) == []
        seed(cache, quota_service.teams[:1])
        app.topics_changed({"gpu-quota"})
        await pilot.pause()
        assert [str(r[0]) for r in rows(app)] == ["nlp"]
        assert app.query_one("#quota-empty").display is False


async def test_the_freshness_line_says_why_sync_fails(cache, quota_service) -> None:
    seed(cache, quota_service.teams)
    app = PaneHarness(QuotaPane, cache.path)
    now = time.time()
    failing = SimpleNamespace(
        source="gpu-quota", last_ok=now - 60, failing_since=now - 5, last_error="HTTP 500 \x1b[2J"
    )
    app.ctx.freshness = lambda source: failing  # as the scheduler records a failed sync
    async with app.run_test(size=(100, 30)):
        line = plain(app, "#quota-freshness")
        assert line.startswith("unreachable since ")
        assert ": HTTP 500 ; showing quotas from " in line
        assert len(rows(app)) == 3


async def test_r_asks_for_a_sync_of_the_quota_source(cache) -> None:
    app = PaneHarness(QuotaPane, cache.path)
    async with app.run_test(size=(100, 30)) as pilot:
        app.pane.focus_default()
        await pilot.press("r")
        assert app.sync_requests == ["gpu-quota"]
