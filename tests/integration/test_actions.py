"""The action pipeline against a real MLflow server: promote, roll back, refusals, crashes.

Every model is made with the official MlflowClient and checked with it afterwards, so these
tests see what any other MLflow user would see.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from action_fixtures import ALIAS_ENDPOINT, HoldingProxy
from helpers import REPO_ROOT, run_cli, wait_until
from registry_fixtures import PENDING, make_model, set_version_status

from mlopstui.actions import ActionRefused
from mlopstui.actions import mlflow_registry as acts
from mlopstui.actions.mlflow_registry import alias_tag
from mlopstui.actions.wiring import build_pipeline
from mlopstui.cache import registry as reg_store
from mlopstui.cache.audit import AuditLog

pytestmark = pytest.mark.mlflow_server
pytest_plugins = ["helpers"]

# MLflow refuses '/' and ':' in model names; quotes, markup, ESC and bidi characters pass.
HOSTILE_MODEL = "fraud \"q\" 'x' [red]alert \x1b[31mred\u202eevil"


def _name(label: str = "m") -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(mlflow_server):
    from mlflow import MlflowClient

    return MlflowClient(mlflow_server.url)


@pytest.fixture
def setup(mlflow_server, client, make_workbench, tmp_path):
    """(model name, workbench, pipeline): a model with 3 READY versions, champion -> 1."""

    def make(name: str | None = None, uri: str | None = None, **settings):
        name = name or _name()
        make_model(client, name, 3)
        client.set_registered_model_alias(name, "champion", "1")
        bench = make_workbench(
            uri or mlflow_server.url, cache=f"{uuid.uuid4().hex}.sqlite", **settings
        )
        bench.source("mlflow").registry_sync.sync_once()
        pipeline = build_pipeline(bench, audit_path=tmp_path / "audit.sqlite")
        return name, bench, pipeline

    return make


def champion(client, name: str) -> str:
    return str(client.get_model_version_by_alias(name, "champion").version)


def test_promote_moves_the_alias_records_the_previous_target_and_audits(setup, client):
    name, bench, pipeline = setup()
    plan = pipeline.prepare(acts.promote(name, "2", "champion"))
    assert (plan.before, plan.after) == ("champion -> v1", "champion -> v2")
    assert plan.noop is None and plan.source_label.startswith("http://127.0.0.1:")

    outcome = pipeline.run(plan)

    assert outcome.status == "ok", outcome.message
    assert champion(client, name) == "2"
    tag = json.loads(client.get_registered_model(name).tags[alias_tag("champion")])
    assert (tag["from"], tag["to"], tag["how"]) == ("1", "2", "promote")
    (record,) = pipeline.audit.records()
    assert (record.action, record.before, record.after, record.state) == (
        "promote",
        "champion -> v1",
        "champion -> v2",
        "ok",
    )
    assert record.target == f"model {name} alias champion" and record.user
    move = reg_store.last_move(bench.reader(), name, "champion")
    assert (move.from_version, move.to_version, move.how, move.who) == (
        "1",
        "2",
        "promote",
        pipeline.user,
    )


def test_promote_to_where_the_alias_already_points_is_a_noop(setup, client):
    name, _bench, pipeline = setup()
    plan = pipeline.prepare(acts.promote(name, "1", "champion"))
    assert plan.noop and "already points at" in plan.noop
    assert pipeline.run(plan).status == "noop"
    assert pipeline.audit.records() == []  # nothing was sent, nothing to audit
    assert champion(client, name) == "1"


def test_promote_of_a_version_that_is_not_ready_is_refused(setup, client, mlflow_server):
    name, _bench, pipeline = setup()
    set_version_status(mlflow_server, name, "3", PENDING)
    with pytest.raises(ActionRefused, match="PENDING_REGISTRATION, not READY"):
        pipeline.prepare(acts.promote(name, "3", "champion"))
    assert champion(client, name) == "1"


def test_rollback_returns_to_the_previous_target(setup, client):
    name, _bench, pipeline = setup()
    assert pipeline.run(pipeline.prepare(acts.promote(name, "3", "champion"))).ok

    plan = pipeline.prepare(acts.rollback(name, "champion"))
    assert (plan.before, plan.after) == ("champion -> v3", "champion -> v1")
    outcome = pipeline.run(plan)

    assert outcome.status == "ok", outcome.message
    assert champion(client, name) == "1"
    tag = json.loads(client.get_registered_model(name).tags[alias_tag("champion")])
    assert (tag["from"], tag["to"], tag["how"]) == ("3", "1", "rollback")
    assert [r.action for r in pipeline.audit.records()] == ["rollback", "promote"]


def test_rolling_back_twice_is_a_noop_never_a_flip_back(setup, client):
    name, _bench, pipeline = setup()
    pipeline.run(pipeline.prepare(acts.promote(name, "2", "champion")))
    first = pipeline.prepare(acts.rollback(name, "champion"))
    assert pipeline.run(first).status == "ok"

    # The same confirmed rollback submitted again: the alias is already there.
    again = pipeline.run(first)
    assert again.status == "noop", again.message
    # A new rollback: the last move was a rollback, so there is nothing to undo.
    second = pipeline.prepare(acts.rollback(name, "champion"))
    assert second.noop and "already rolled back" in second.noop
    assert pipeline.run(second).status == "noop"

    assert champion(client, name) == "1"
    assert [r.state for r in pipeline.audit.records()] == ["noop", "ok", "ok"]


def test_a_plan_confirmed_before_someone_else_moved_the_alias_changes_nothing(setup, client):
    name, _bench, pipeline = setup()
    plan = pipeline.prepare(acts.promote(name, "3", "champion"))
    client.set_registered_model_alias(name, "champion", "2")  # another user, meanwhile

    outcome = pipeline.run(plan)

    assert outcome.status == "refused" and "moved from v1 to v2" in outcome.message
    assert champion(client, name) == "2"
    assert pipeline.audit.records()[0].state == "refused"


def test_rollback_needs_a_recorded_move(setup, client):
    name, bench, pipeline = setup()
    # champion -> 1 was set before this tool first looked: no history to go back to.
    with pytest.raises(ActionRefused, match="no recorded move"):
        pipeline.prepare(acts.rollback(name, "champion"))
    # Another client moves it; the sync observes the move, so it can be rolled back.
    client.set_registered_model_alias(name, "champion", "3")
    bench.source("mlflow").registry_sync.sync_once()
    plan = pipeline.prepare(acts.rollback(name, "champion"))
    assert plan.after == "champion -> v1" and "cache's alias history" in plan.details[0]
    assert pipeline.run(plan).status == "ok"
    assert champion(client, name) == "1"


def test_delete_alias_and_version_tags(setup, client):
    name, bench, pipeline = setup()
    plan = pipeline.prepare(acts.delete_alias(name, "champion"))
    assert plan.confirm_phrase == "champion"
    assert pipeline.run(plan).status == "ok"
    assert "champion" not in client.get_registered_model(name).aliases
    assert reg_store.model(bench.reader(), name).aliases == {}

    tag = pipeline.prepare(acts.set_version_tag(name, "2", "validated", "yes [b]really[/b]"))
    assert tag.before == "validated (not set)"
    assert pipeline.run(tag).status == "ok"
    assert client.get_model_version(name, "2").tags["validated"] == "yes [b]really[/b]"
    assert reg_store.version(bench.reader(), name, "2").tags["validated"] == "yes [b]really[/b]"
    gone = pipeline.prepare(acts.delete_version_tag(name, "2", "validated"))
    assert pipeline.run(gone).status == "ok"
    assert "validated" not in client.get_model_version(name, "2").tags
    assert pipeline.prepare(acts.delete_version_tag(name, "2", "validated")).noop


def test_hostile_model_name_promotes_and_rolls_back(setup, client):
    name, _bench, pipeline = setup(name=f"{HOSTILE_MODEL} {uuid.uuid4().hex[:6]}")
    assert pipeline.run(pipeline.prepare(acts.promote(name, "2", "champion"))).ok
    assert pipeline.run(pipeline.prepare(acts.rollback(name, "champion"))).ok
    assert champion(client, name) == "1"
    assert pipeline.audit.records()[0].target == f"model {name} alias champion"


def test_server_dead_between_intent_and_execution_records_failed(
    fresh_mlflow_server, make_workbench, tmp_path
):
    from mlflow import MlflowClient

    name = _name()
    c = MlflowClient(fresh_mlflow_server.url)
    make_model(c, name, 2)
    c.set_registered_model_alias(name, "champion", "1")
    bench = make_workbench(fresh_mlflow_server.url)
    pipeline = build_pipeline(bench, audit_path=tmp_path / "audit.sqlite")
    plan = pipeline.prepare(acts.promote(name, "2", "champion"))
    fresh_mlflow_server.kill()

    outcome = pipeline.run(plan)

    assert outcome.status == "failed" and "nothing was changed" in outcome.message
    (record,) = pipeline.audit.records()
    # "connection refused", or "closed the connection" when a kept-alive socket went first.
    assert record.state == "failed" and "did not answer" in record.error
    fresh_mlflow_server.restart()
    assert champion(MlflowClient(fresh_mlflow_server.url), name) == "1"


def test_no_answer_within_the_timeout_is_unknown_then_the_late_answer_is_recorded(
    setup, client, mlflow_server
):
    proxy = HoldingProxy(mlflow_server.url).hold("POST", ALIAS_ENDPOINT).start()
    try:
        name, _bench, pipeline = setup(uri=proxy.url, mlflow__request_timeout=30)
        pipeline.timeout = 1.0
        outcome = pipeline.run(pipeline.prepare(acts.promote(name, "2", "champion")))
        assert outcome.status == "unknown" and "verify" in outcome.message
        assert pipeline.audit.records()[0].state == "unknown"
        assert [r.id for r in pipeline.unresolved()] == [outcome.audit_id]

        proxy.release()  # the server answers after all
        record = wait_until(
            lambda: (r := pipeline.audit.get(outcome.audit_id)).outcome == "ok" and r, 20
        )
        assert "answered after the timeout" in record.message
        assert champion(client, name) == "2"
        assert pipeline.unresolved() == []
    finally:
        proxy.stop()


def _cli_env(tmp_path: Path, uri: str) -> dict[str, str]:
    return {
        "MLOPSTUI_TRACKING_URI": uri,
        "MLOPSTUI_CACHE": str(tmp_path / "cli-cache.sqlite"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }


def test_kill_9_mid_action_leaves_an_unknown_intent_that_can_be_verified(
    mlflow_server, client, tmp_path
):
    name = _name()
    make_model(client, name, 2)
    client.set_registered_model_alias(name, "champion", "1")
    proxy = HoldingProxy(mlflow_server.url).hold("POST", ALIAS_ENDPOINT).start()
    env = {**os.environ, **_cli_env(tmp_path, proxy.url)}
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlopstui",
                "promote",
                name,
                "2",
                "--alias",
                "champion",
                "--yes",
            ],
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert proxy.arrived.wait(60), proc.stderr.read1().decode() if proc.poll() else ""
        audit_db = tmp_path / "data" / "mlopstui" / "audit.sqlite"
        rows = sqlite3.connect(audit_db).execute("SELECT outcome FROM audit").fetchall()
        assert rows == [(None,)]  # the intent was durable before the request went out
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

        listed = run_cli("audit", "--format", "json", env=_cli_env(tmp_path, proxy.url))
        (record,) = json.loads(listed.stdout)
        assert (record["action"], record["outcome"]) == ("promote", "unknown")
        table = run_cli("audit", env=_cli_env(tmp_path, proxy.url))
        assert "unknown - verify" in table.stdout

        proxy.release()  # the held request reaches the server after all
        wait_until(lambda: champion(client, name) == "2", 20)
        log = AuditLog(audit_db)
        from mlopstui import config
        from mlopstui.workbench import Workbench

        bench = Workbench(
            config.load(
                flags={
                    "mlflow.tracking_uri": mlflow_server.url,
                    "cache": str(tmp_path / "c2.sqlite"),
                },
                environ={},
            )
        )
        try:
            pipeline = build_pipeline(bench, audit_path=audit_db)
            (unknown,) = pipeline.unresolved()
            outcome = pipeline.verify_record(unknown)
            assert outcome.status == "ok", outcome.message
            assert log.get(unknown.id).state == "ok"
            assert pipeline.unresolved() == []
        finally:
            bench.close()
            log.close()
    finally:
        proxy.stop()


def test_cli_promote_rollback_and_audit(mlflow_server, client, tmp_path):
    name = _name()
    make_model(client, name, 3)
    client.set_registered_model_alias(name, "champion", "1")
    env = _cli_env(tmp_path, mlflow_server.url)

    promoted = run_cli("promote", name, "3", "--alias", "champion", "--yes", env=env)
    assert promoted.returncode == 0, promoted.output
    assert "champion -> v1  ->  champion -> v3" in promoted.stdout
    assert "ok:" in promoted.stdout and champion(client, name) == "3"
    rolled = run_cli("rollback", name, "--alias", "champion", "--yes", env=env)
    assert rolled.returncode == 0, rolled.output
    assert champion(client, name) == "1"
    again = run_cli("rollback", name, "--alias", "champion", "--yes", env=env)
    assert again.returncode == 0 and "already rolled back" in again.stdout
    assert champion(client, name) == "1"

    records = json.loads(run_cli("audit", "--format", "json", env=env).stdout)
    assert [(r["action"], r["outcome"]) for r in records] == [("rollback", "ok"), ("promote", "ok")]
    for r in records:
        assert {
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
        } <= set(r)
    assert (
        len(json.loads(run_cli("audit", "--since", "1h", "--format", "json", env=env).stdout)) == 2
    )
    assert (
        json.loads(run_cli("audit", "--since", "2999-01-01", "--format", "json", env=env).stdout)
        == []
    )
    bad = run_cli("audit", "--since", "yesterday-ish", env=env)
    assert bad.returncode == 2 and "--since" in bad.stderr


def test_cli_without_yes_off_a_terminal_refuses(mlflow_server, client, tmp_path):
    name = _name()
    make_model(client, name, 2)
    client.set_registered_model_alias(name, "champion", "1")
    result = run_cli(
        "promote", name, "2", "--alias", "champion", env=_cli_env(tmp_path, mlflow_server.url)
    )
    assert result.returncode == 3 and "pass --yes" in result.stderr
    assert champion(client, name) == "1"


@pytest.mark.parametrize("how", ["flag", "env", "config", "source-config"])
def test_read_only_refuses_every_cli_write(mlflow_server, client, tmp_path, how):
    name = _name()
    make_model(client, name, 2)
    client.set_registered_model_alias(name, "champion", "1")
    env = _cli_env(tmp_path, mlflow_server.url)
    pre: list[str] = []
    if how == "flag":
        pre = ["--read-only"]
    elif how == "env":
        env["MLOPSTUI_READ_ONLY"] = "1"
    else:
        conf = tmp_path / "config.toml"
        conf.write_text("read_only = true\n" if how == "config" else "[mlflow]\nread_only = true\n")
        env["MLOPSTUI_CONFIG"] = str(conf)
    for args in (
        ["promote", name, "2", "--alias", "champion", "--yes"],
        ["rollback", name, "--alias", "champion", "--yes"],
    ):
        result = run_cli(*pre, *args, env=env)
        assert result.returncode == 3 and "read-only" in result.stderr, result.output
    assert champion(client, name) == "1"
    assert json.loads(run_cli("audit", "--format", "json", env=env).stdout) == []


def test_read_only_pipeline_refuses_even_a_plan_made_earlier(
    setup, client, make_workbench, mlflow_server, tmp_path
):
    name, _bench, pipeline = setup()
    plan = pipeline.prepare(acts.promote(name, "2", "champion"))
    ro_bench = make_workbench(mlflow_server.url, cache="ro.sqlite", read_only=True)
    ro = build_pipeline(ro_bench, audit_path=tmp_path / "ro-audit.sqlite")
    assert not ro.allows("mlflow", "promote")
    with pytest.raises(ActionRefused, match="read-only"):
        ro.prepare(acts.promote(name, "2", "champion"))
    outcome = ro.run(plan)
    assert outcome.status == "refused" and "read-only" in outcome.message
    assert champion(client, name) == "1"


def test_cli_output_is_sanitised(setup, client, mlflow_server, tmp_path):
    name, _bench, _pipeline = setup(name=f"{HOSTILE_MODEL} {uuid.uuid4().hex[:6]}")
    result = run_cli(
        "promote",
        name,
        "2",
        "--alias",
        "champion",
        "--yes",
        env=_cli_env(tmp_path, mlflow_server.url),
    )
    assert result.returncode == 0, result.output
    assert b"\x1b" not in result.raw_stdout and "\u202e" not in result.stdout
