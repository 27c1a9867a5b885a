"""Issue 11, classes 5 and 6, against real parts: the audit log keeps its history when it
cannot be written (read-only, disk full) and is moved aside only when it is really damaged;
a write whose reply timed out after it was sent is 'unknown - verify', never 'failed'.

The MLflow server is the real tracking server (tests/integration/conftest.py); the faults
come from tests/fault_proxy.py in front of it, or from a port nothing listens on.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from fault_proxy import Before, FaultProxy, Late
from helpers import REPO_ROOT
from registry_fixtures import make_model

from mlopstui.actions import mlflow_registry as acts
from mlopstui.actions.wiring import build_pipeline
from mlopstui.cache.audit import AuditError, AuditLog

pytestmark = pytest.mark.mlflow_server
pytest_plugins = ["helpers"]

ALIAS = "/api/2.0/mlflow/registered-models/alias"


def _name(label: str = "trust") -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(mlflow_server):
    from mlflow import MlflowClient

    return MlflowClient(mlflow_server.url)


def champion(client, name: str) -> str:
    return str(client.get_model_version_by_alias(name, "champion").version)


@pytest.fixture
def promote_through(client, make_workbench, tmp_path):
    """`promote_through(uri)` -> (model, pipeline, plan): champion -> v1 on the real server, a
    promote to v2 planned through `uri`, with a 1 s request timeout."""

    def make(uri: str):
        name = _name()
        make_model(client, name, 2)
        client.set_registered_model_alias(name, "champion", "1")
        bench = make_workbench(uri, cache=f"{uuid.uuid4().hex}.sqlite", mlflow__request_timeout=1)
        pipeline = build_pipeline(bench, audit_path=tmp_path / f"{name}-audit.sqlite")
        plan = pipeline.prepare(acts.promote(name, "2", "champion"))
        return name, pipeline, plan

    return make


# ------------------------------------------------------------------ class 6: timeouts


def test_a_reply_that_comes_after_the_timeout_is_verified_never_failed(
    mlflow_server, client, promote_through
):
    """Late: the server applies the alias move, the reply comes after the client gave up. The
    re-read proves the move, so it is 'ok' (the lost reply said), never 'failed'."""
    with FaultProxy(mlflow_server.url) as proxy:
        proxy.on("POST", ALIAS, Late(3.0))
        name, pipeline, plan = promote_through(proxy.url)
        outcome = pipeline.run(plan)
        assert outcome.status == "ok", outcome
        assert "verified" in outcome.message and "reply was lost" in outcome.message
        (record,) = pipeline.audit.records()
        assert record.state == "ok"
        assert champion(client, name) == "2"
        assert pipeline.unresolved() == []


def test_a_write_that_lands_after_the_timeout_is_never_recorded_failed(
    mlflow_server, client, promote_through
):
    """The request reaches the server after the client's timeout (held on its way): the
    re-read right after still shows the old alias, and then the write lands."""
    with FaultProxy(mlflow_server.url) as proxy:
        proxy.on("POST", ALIAS, Before(lambda request: time.sleep(2.5)))
        name, pipeline, plan = promote_through(proxy.url)
        outcome = pipeline.run(plan)
        assert outcome.status == "unknown", outcome
        assert "verify" in outcome.message and "nothing was changed" not in outcome.message
        wait = time.monotonic() + 10
        while champion(client, name) != "2" and time.monotonic() < wait:
            time.sleep(0.1)
        assert champion(client, name) == "2"  # it landed: 'failed' would have been a lie
        later = pipeline.verify_record(pipeline.audit.get(outcome.audit_id))
        assert later.status == "ok", later
        assert pipeline.unresolved() == []


def test_a_refusal_before_sending_is_failed_and_nothing_was_changed(
    mlflow_server, client, promote_through
):
    """Connection refused (a port nothing listens on): the write never left; 'failed'."""
    name, pipeline, plan = promote_through(mlflow_server.url)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    registry = pipeline._executors[("mlflow", "promote")].registry  # noqa: SLF001
    registry.source.uri = f"http://127.0.0.1:{closed}"
    outcome = pipeline.run(plan)
    assert outcome.status == "failed", outcome
    assert "nothing was changed" in outcome.message
    assert pipeline.audit.records()[0].state == "failed"
    assert champion(client, name) == "1"


# ------------------------------------------------------------------ class 5: the audit log

HISTORY = 3


def seed_history(audit_path: Path) -> list[int]:
    """Three finished records, written the way the pipeline writes them."""
    log = AuditLog(audit_path)
    try:
        ids = []
        for n in range(HISTORY):
            audit_id = log.intent(
                source="mlflow http://mlflow.example", action="promote",
                target=f"model earlier-{n} alias champion", before="champion -> v1",
                after="champion -> v2", user="oncall",
            )  # fmt: skip
            log.outcome(audit_id, "ok", "done (verified)")
            ids.append(audit_id)
        return ids
    finally:
        log.close()


def cli(*args: str, env: dict[str, str], without_root_override: bool = False):
    """`python -m mlopstui ARGS`; as root, optionally without CAP_DAC_OVERRIDE, so that file
    modes bind the process the way they bind any other user (root writes a 0444 file)."""
    prefix: list[str] = []
    if without_root_override and os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("root without setpriv: a read-only file cannot bind this process")
        prefix = [setpriv, "--inh-caps=-all", "--bounding-set=-dac_override"]
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "mlopstui", *args],
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **env},
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def cli_env(data: Path, uri: str, tmp_path: Path) -> dict[str, str]:
    return {
        "MLOPSTUI_TRACKING_URI": uri,
        "MLOPSTUI_CACHE": str(tmp_path / "cli-cache.sqlite"),
        "XDG_DATA_HOME": str(data),
    }


def listed(env: dict[str, str], **kw) -> list[dict]:
    proc = cli("audit", "--format", "json", env=env, **kw)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def aside(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".broken-" in p.name)


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_audit_log_refuses_the_action_and_keeps_its_history(
    mlflow_server, client, tmp_path, what
):
    data = tmp_path / "data"
    audit_dir = data / "mlopstui"
    audit_path = audit_dir / "audit.sqlite"
    seed_history(audit_path)
    name = _name()
    make_model(client, name, 2)
    client.set_registered_model_alias(name, "champion", "1")
    env = cli_env(data, mlflow_server.url, tmp_path)
    (audit_dir if what == "folder" else audit_path).chmod(0o555 if what == "folder" else 0o444)
    try:
        proc = cli("promote", name, "2", "--alias", "champion", "--yes", env=env,
                   without_root_override=True)  # fmt: skip
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert "nothing was sent" in out and "read-only" in out, out
        assert champion(client, name) == "1"
        records = listed(env, without_root_override=True)
        assert len(records) == HISTORY
        assert {r["outcome"] for r in records} == {"ok"}
        assert aside(audit_dir) == []
    finally:
        audit_dir.chmod(0o700)
        audit_path.chmod(0o600)
    assert len(listed(env)) == HISTORY  # and once writable again, nothing was lost


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
    )
    return done.returncode == 0


def _fill(folder: Path) -> int:
    """Write a file until the disk is full; the bytes it took."""
    written = 0
    with open(folder / "filler", "wb", buffering=0) as out:
        chunk = b"\0" * 4096
        try:
            while True:
                written += out.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return written


def test_a_full_disk_refuses_the_action_and_keeps_the_history(mlflow_server, client, tmp_path):
    """A real full disk (a 1 MiB tmpfs, as root), else SQLite's own SQLITE_FULL through
    `PRAGMA max_page_count` on the log's connection."""
    name = _name()
    make_model(client, name, 2)
    client.set_registered_model_alias(name, "champion", "1")
    data = tmp_path / "small"
    mounted = _mount_tmpfs(data, "1m")
    try:
        audit_path = data / "mlopstui" / "audit.sqlite"
        seed_history(audit_path)
        env = cli_env(data, mlflow_server.url, tmp_path)
        if mounted:
            _fill(data)
            proc = cli("promote", name, "2", "--alias", "champion", "--yes", env=env)
            out = proc.stdout + proc.stderr
            assert proc.returncode != 0
            assert "nothing was sent" in out and "disk is full" in out, out
            records = listed(env)
        else:
            log = AuditLog(audit_path)
            pages = log._conn.execute("PRAGMA page_count").fetchone()[0]  # noqa: SLF001
            log._conn.execute(f"PRAGMA max_page_count = {pages}")  # noqa: SLF001
            for n in range(200):  # fill the last page
                try:
                    log.intent(source="s", action="promote", target=f"x{n}", before="", after="")
                except AuditError:
                    break
            from mlopstui import config
            from mlopstui.workbench import Workbench

            flags = {"mlflow.tracking_uri": mlflow_server.url, "cache": str(tmp_path / "c.sqlite")}
            bench = Workbench(config.load(flags=flags, environ={}))
            try:
                pipeline = build_pipeline(bench, audit_path=audit_path)
                pipeline._audit = log  # noqa: SLF001 - the log whose disk is full
                outcome = pipeline.run(pipeline.prepare(acts.promote(name, "2", "champion")))
                assert outcome.status == "refused" and "nothing was sent" in outcome.message
                assert "disk is full" in outcome.message
            finally:
                bench.close()
                log.close()
            records = [r for r in listed(env) if r["target"].startswith("model earlier-")]
        assert champion(client, name) == "1"
        assert len([r for r in records if r["target"].startswith("model earlier-")]) == HISTORY
        assert aside(audit_path.parent) == []
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(data)], check=False)


def test_a_damaged_audit_log_is_moved_aside_with_its_wal_and_shm(tmp_path):
    """Garbage over a page of the file while a -wal and -shm are beside it (a writer that was
    killed): the three move aside together, a note says where, a new log works."""
    audit_path = tmp_path / "mlopstui" / "audit.sqlite"
    seed_history(audit_path)
    insert = (
        "INSERT INTO audit (started, user, host, pid, source, action, target, before, after)"
        " VALUES (?, 'u', 'h', 1, 's', 'promote', ?, '', '')"
    )
    writer = sqlite3.connect(audit_path, isolation_level=None)
    with writer:  # enough history for pages the -wal does not hold
        writer.execute("BEGIN")
        writer.executemany(insert, [(time.time(), f"earlier {n}") for n in range(400)])
        writer.execute("COMMIT")
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    # A writer killed mid-session: later records still in its -wal, not checkpointed.
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    for n in range(5):
        writer.execute(insert, (time.time(), f"in the wal {n}"))
    wal, shm = Path(f"{audit_path}-wal"), Path(f"{audit_path}-shm")
    assert wal.stat().st_size > 0 and shm.exists()
    size = audit_path.stat().st_size
    with open(audit_path, "r+b") as f:  # page 2 on: the table's pages
        f.seek(4096)
        f.write(os.urandom(size - 4096))
    log = AuditLog(audit_path)
    try:
        assert log.note and "damaged" in log.note, log.note
        (kept,) = [n for n in aside(audit_path.parent) if not n.endswith(("-wal", "-shm"))]
        assert log.note.endswith(kept)
        # The damaged file's -wal and -shm went with it: none is left beside the new log.
        assert aside(audit_path.parent) == sorted([kept, f"{kept}-shm", f"{kept}-wal"])
        moved_wal = audit_path.parent / f"{kept}-wal"
        assert moved_wal.stat().st_size > 0
        # The new log's -wal is its own, not the damaged one's frames replayed.
        assert log.count() == 0
        log.intent(source="s", action="promote", target="after", before="", after="")
        assert log.count() == 1
    finally:
        log.close()
        writer.close()
