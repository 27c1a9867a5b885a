"""The audit screen and the start-up warning about actions whose outcome nobody knows."""

from __future__ import annotations

import socket
import time

from textual.widgets import DataTable

from mlopstui.ui.screens.audit import UNKNOWN, AuditScreen

from .builders import (
    FRAUD,
    jobs_settled,
    notifications,
    screen_text,
    seed_audit,
    seed_registry,
    wait_for,
)
from .mlflow_store import MODEL, store_app
from .registry_helpers import wait_toast

SIZE = (160, 40)


async def test_an_unknown_outcome_is_announced_at_start_and_shown_in_the_audit_screen(
    app_for, cache
):
    app = app_for(seed_registry(cache))
    seed_audit(app.pipeline.audit.path)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        message, severity = await wait_toast(
            pilot, "1 action has an unknown outcome - press A to review"
        )
        assert severity == "warning"
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen))
        shown = screen_text(app)
        rows = [line for line in shown.splitlines() if line.startswith(" 03-02 ")]
        assert len(rows) == 2
        assert all(f"model {FRAUD} alias champion" in row for row in rows)
        assert UNKNOWN in rows[0] and "bob" in rows[0]  # newest first
        assert "champion -> v1 → champion -> v2" in rows[0]
        assert " ok " in rows[1] and "alice" in rows[1]
        assert f"1 {UNKNOWN} (v)" in shown
        assert "v re-reads the source" in shown
        # v on a record that is not unknown explains and does nothing.
        await pilot.press("down", "v")
        await wait_for(pilot, lambda: any("only an unknown" in m for m, _ in notifications(app)))


async def test_v_verifies_an_unknown_record_against_the_source(store, tmp_path):
    # The session that promoted fraud v2 to champion died before it knew; MLflow shows it done.
    app = store_app(store, tmp_path / "app")
    seed_audit(
        app.pipeline.audit.path, unknown_model=MODEL, at=time.time() - 5, host=socket.gethostname()
    )
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            await wait_toast(pilot, "unknown outcome - press A")
            await pilot.press("A")
            await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen))
            assert app.screen.query_one(DataTable).cursor_row == 0
            await pilot.press("v")
            message, severity = await wait_toast(pilot, "verified later")
            assert severity == "information"
            await jobs_settled(pilot)
            assert UNKNOWN not in screen_text(app)
            record = app.pipeline.audit.records()[0]
            assert record.state == "ok"
            assert "champion -> v2 is in place" in (record.message or "")
            assert store.aliases(MODEL) == {"champion": "2"}
            assert app.pipeline.unresolved() == []
    finally:
        app.workbench.close()
        app.pipeline.close()


async def test_the_audit_screen_at_80_columns_keeps_the_outcome_in_view(app_for, cache):
    app = app_for(cache)
    seed_audit(app.pipeline.audit.path)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_toast(pilot, "unknown outcome")
        app.clear_notifications()
        app.action_audit()
        await wait_for(pilot, lambda: isinstance(app.screen, AuditScreen))
        shown = screen_text(app)
        row = next(line for line in shown.splitlines() if line.startswith(" 03-02 11:50"))
        assert "unknown - verify  promote  model fraud-detector alias champion" in row
        assert "Before → after" not in shown  # fewer columns; the detail below has it all
        assert "champion -> v1 → champion -> v2" in shown
