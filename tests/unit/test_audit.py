"""The audit log: durable intents, outcomes, unknown outcomes after a crash, no secrets."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

from mlopstui.cache import audit
from mlopstui.cache.audit import AuditLog
from mlopstui.cli import parse_since
from mlopstui.text import redact


def _intent(log: AuditLog, **over) -> int:
    args = {
        "source": "http://mlflow:5000",
        "action": "promote",
        "target": "model m alias champion",
        "before": "champion -> v1",
        "after": "champion -> v2",
        "params": {"params": {"model": "m"}, "expected": {"current": "1"}},
        "user": "alice",
    }
    args.update(over)
    return log.intent(**args)


def test_intent_is_committed_with_synchronous_full_before_it_returns(tmp_path):
    log = AuditLog(tmp_path / "audit.sqlite")
    assert log._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    audit_id = _intent(log)
    # Another connection sees it at once: it was committed, not buffered.
    other = sqlite3.connect(tmp_path / "audit.sqlite")
    row = other.execute("SELECT action, outcome, user FROM audit WHERE id = ?", (audit_id,))
    assert row.fetchone() == ("promote", None, "alice")
    assert stat.S_IMODE((tmp_path / "audit.sqlite").stat().st_mode) == 0o600


def test_outcome_and_record_fields(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite")
    audit_id = _intent(log)
    assert log.get(audit_id).state == "in progress"  # this process is executing it
    log.outcome(audit_id, "ok", "done")
    rec = log.get(audit_id)
    assert (rec.state, rec.message, rec.error) == ("ok", "done", None)
    assert rec.params["expected"] == {"current": "1"}
    assert rec.finished >= rec.started
    assert set(rec.as_dict()) >= {
        "time",
        "user",
        "host",
        "source",
        "action",
        "target",
        "before",
        "after",
        "outcome",
        "error",
    }


def test_an_intent_left_by_a_dead_process_is_unknown(tmp_path):
    """A process killed mid-action leaves an intent without an outcome: listed as unknown."""
    path = tmp_path / "a.sqlite"
    code = (
        "import os, sys; from pathlib import Path; from mlopstui.cache.audit import AuditLog;"
        f"log = AuditLog(Path({str(path)!r})); "
        "log.intent(source='s', action='rollback', target='t', before='b', after='a');"
        "os._exit(9)"
    )
    subprocess.run([sys.executable, "-c", code], check=False)
    log = AuditLog(path)
    (rec,) = log.unresolved()
    assert (rec.action, rec.outcome, rec.state) == ("rollback", None, "unknown")
    log.outcome(rec.id, "ok", "verified later")
    assert log.unresolved() == []


def test_a_later_outcome_replaces_unknown_and_keeps_the_note(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite")
    audit_id = _intent(log)
    log.outcome(audit_id, "unknown", "no answer within 30 s")
    assert [r.id for r in log.unresolved()] == [audit_id]
    log.outcome(audit_id, "ok", "done")
    rec = log.get(audit_id)
    assert rec.state == "ok" and "earlier: unknown - no answer within 30 s" in rec.message


def test_no_secret_is_written(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite")
    audit_id = _intent(
        log,
        source="https://bob:hunter2@mlflow.example/?token=abc123",
        params={"url": "http://u:p@h/x?api_key=zzz"},
    )
    raw = (tmp_path / "a.sqlite").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob("a.sqlite-*")
    )
    for secret in (b"hunter2", b"abc123", b"zzz", b"u:p@"):
        assert secret not in raw
    rec = log.get(audit_id)
    assert rec.source == "https://***@mlflow.example/?token=***"
    assert rec.params == {"url": "http://***@h/x?api_key=***"}


def test_failures_fill_error_successes_only_message(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite")
    failed = _intent(log)
    log.outcome(failed, "failed", "connection refused; nothing was changed")
    rec = log.get(failed)
    assert rec.error == rec.message == "connection refused; nothing was changed"


def test_in_progress_is_per_audit_file(tmp_path):
    one, two = AuditLog(tmp_path / "1.sqlite"), AuditLog(tmp_path / "2.sqlite")
    busy = _intent(one)
    done = _intent(two)
    two.outcome(done, "ok", "done")
    two._conn.execute("UPDATE audit SET outcome = NULL WHERE id = ?", (done,))
    assert busy == done == 1
    assert one.get(busy).state == "in progress"
    assert two.get(done).state == "unknown"  # same id, another file: not this process's


def test_redact_leaves_plain_text_alone():
    assert redact("champion -> v2") == "champion -> v2"
    assert redact("sqlite:///home/x/mlflow.db") == "sqlite:///home/x/mlflow.db"


def test_a_corrupt_audit_log_is_moved_aside_not_deleted(tmp_path):
    path = tmp_path / "a.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    log = AuditLog(path)
    assert log.note and "kept it as" in log.note
    (aside,) = tmp_path.glob("a.sqlite.broken-*")
    assert aside.read_bytes().startswith(b"this is not sqlite")
    assert _intent(log) == 1


def test_a_foreign_database_is_not_used_as_the_audit_log(tmp_path):
    path = tmp_path / "a.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    log = AuditLog(path)
    assert "not an mlopstui audit log" in (log.note or "")
    assert list(tmp_path.glob("a.sqlite.broken-*"))


def test_records_since_and_newest_first(tmp_path):
    log = AuditLog(tmp_path / "a.sqlite")
    first = _intent(log)
    log._conn.execute("UPDATE audit SET started = started - 7200 WHERE id = ?", (first,))
    second = _intent(log, action="rollback")
    assert [r.id for r in log.records()] == [second, first]
    assert [r.id for r in log.records(since=time.time() - 3600)] == [second]
    assert json.dumps([r.as_dict() for r in log.records()])


def test_stale_in_flight_records_are_unknown_even_if_the_pid_is_reused(tmp_path, monkeypatch):
    log = AuditLog(tmp_path / "a.sqlite")
    audit_id = _intent(log)
    log._conn.execute(
        "UPDATE audit SET pid = ?, started = started - 3600 WHERE id = ?", (os.getppid(), audit_id)
    )
    assert log.get(audit_id).state == "unknown"
    monkeypatch.setattr(audit, "_MAX_IN_FLIGHT_S", 10**6)
    assert log.get(audit_id).state == "in progress"  # the parent process is alive


@pytest.mark.parametrize(
    ("text", "ago"),
    [("30m", 1800), ("2h", 7200), ("7d", 7 * 86400), ("45s", 45), ("1w", 604800)],
)
def test_parse_since_durations(text, ago):
    assert parse_since(text, 1_000_000.0) == 1_000_000.0 - ago


def test_parse_since_dates_and_errors():
    assert parse_since("2026-11-01T00:00:00+00:00", 0) == 1793491200.0
    with pytest.raises(ValueError, match="expected a duration like 30m"):
        parse_since("last tuesday", 0)
