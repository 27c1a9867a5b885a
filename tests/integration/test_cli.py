"""The command line as a person (or a cron job) runs it: `python -m mlopstui ...` in a subprocess,
against the real MLflow server, a dead port, and an auth proxy.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from helpers import CliResult, closed_port, run_cli  # noqa: E402
from services import NLP, VISION, MlflowServer, SeededDataset  # noqa: E402

from mlopstui import __version__  # noqa: E402

pytestmark = pytest.mark.mlflow_server
# Fixtures from helpers.py: auth_proxy, make_workbench, killable_server.
pytest_plugins = ["helpers"]

Seeded = tuple[MlflowServer, SeededDataset]
SYNC_LINE = re.compile(r"^mlflow: runs: ok, (\d+) rows in [\d.]+ s$", re.MULTILINE)
REGISTRY_LINE = re.compile(r"^mlflow-registry: registry: ok, (\d+) rows in [\d.]+ s$")


def _no_traceback(result: CliResult) -> None:
    assert "Traceback" not in result.output, result.output


@pytest.fixture(scope="module")
def synced_cache(seeded_mlflow_server: Seeded, tmp_path_factory: pytest.TempPathFactory):
    """`mlopstui --cache C --tracking-uri URL sync --once` run once for the module."""
    server, _ = seeded_mlflow_server
    cache = tmp_path_factory.mktemp("cli") / "cache.sqlite"
    result = run_cli("--cache", str(cache), "--tracking-uri", server.url, "sync", "--once")
    return cache, result


def _runs(cache: Path, *args: str) -> CliResult:
    return run_cli("--cache", str(cache), "runs", *args)


def _json_runs(cache: Path, *args: str) -> list[dict]:
    result = _runs(cache, "--format", "json", *args)
    assert result.returncode == 0, result.output
    return json.loads(result.stdout)


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"mlopstui {__version__}" == "mlopstui 0.1.0"


def test_sync_once_prints_ok_and_counts(synced_cache, seeded_mlflow_server: Seeded) -> None:
    cache, result = synced_cache
    _server, dataset = seeded_mlflow_server
    assert result.returncode == 0, result.output
    _no_traceback(result)
    lines = result.stdout.strip().splitlines()
    # No NVIDIA driver here: the NVML line says so instead of counting zero GPUs.
    assert lines[2:] == [
        "nvml: gpus: not available: NVML not found (no NVIDIA driver on this host)"
    ], lines
    match = SYNC_LINE.match(lines[0])
    assert match, lines[0]
    assert REGISTRY_LINE.match(lines[1]), lines[1]
    assert int(match.group(1)) >= len(dataset.runs)
    assert cache.exists()


def test_sync_once_from_environment(seeded_mlflow_server: Seeded, tmp_path: Path) -> None:
    server, dataset = seeded_mlflow_server
    env = {"MLOPSTUI_TRACKING_URI": server.url, "MLOPSTUI_CACHE": str(tmp_path / "env.sqlite")}
    result = run_cli("sync", "--once", env=env)
    assert result.returncode == 0, result.output
    assert SYNC_LINE.match(result.stdout.strip()), result.stdout
    records = json.loads(run_cli("runs", "--format", "json", "--limit", "0", env=env).stdout)
    assert len(records) == len(dataset.runs)


def test_sync_once_against_a_dead_port_fails_readably(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    result = run_cli("--cache", str(tmp_path / "c.sqlite"), "--tracking-uri", uri, "sync", "--once")
    assert result.returncode == 1, result.output
    _no_traceback(result)
    assert result.seconds < 10
    runs_line, registry_line, _nvml_line = result.stdout.strip().splitlines()
    for line, feed in ((runs_line, "mlflow: runs"), (registry_line, "mlflow-registry: registry")):
        assert line.startswith(f"{feed}: FAILED: "), line
        assert uri in line and "connection refused" in line.lower(), line
        assert len(line) < 200, line


def test_runs_json(synced_cache, seeded_mlflow_server: Seeded) -> None:
    cache, _ = synced_cache
    _server, dataset = seeded_mlflow_server
    records = _json_runs(cache, "--limit", "0")
    assert len(records) == len(dataset.runs)
    assert {r["run_id"] for r in records} == {r.run_id for r in dataset.runs}
    for key in ("run_id", "experiment", "name", "status", "start_time", "end_time", "user"):
        assert all(key in r for r in records), key
    by_id = {r["run_id"]: r for r in records}
    for seeded in dataset.runs:
        rec = by_id[seeded.run_id]
        assert rec["experiment"] == seeded.experiment
        assert rec["name"] == seeded.name
        assert rec["status"] == seeded.status
        assert (rec["start_time"], rec["end_time"]) == (seeded.start_time, seeded.end_time)
        assert rec["user"] == seeded.tags["mlflow.user"]
    # newest first by default
    starts = [r["start_time"] for r in records]
    assert starts == sorted(starts, reverse=True)

    assert len(_json_runs(cache, "--limit", "7")) == 7
    nlp = _json_runs(cache, "--experiment", NLP)
    assert len(nlp) == dataset.count(NLP)
    assert {r["experiment"] for r in nlp} == {NLP}
    failed = _json_runs(cache, "--filter", "attributes.status = 'FAILED'")
    assert len(failed) == dataset.count(VISION, "FAILED") == 2
    assert {r["status"] for r in failed} == {"FAILED"}


def test_runs_extra_columns(synced_cache, seeded_mlflow_server: Seeded) -> None:
    cache, _ = synced_cache
    _server, dataset = seeded_mlflow_server
    records = _json_runs(cache, "--limit", "0", "--columns", "params.lr,metrics.val_acc")
    assert len(records) == len(dataset.runs)
    for rec in records:
        seeded = dataset.by_id(rec["run_id"])
        assert rec["params.lr"] == seeded.params["lr"]
        assert rec["metrics.val_acc"] == pytest.approx(seeded.metrics["val_acc"])


def test_runs_csv(synced_cache, seeded_mlflow_server: Seeded) -> None:
    cache, _ = synced_cache
    _server, dataset = seeded_mlflow_server
    result = _runs(cache, "--format", "csv", "--limit", "0", "--columns", "params.optimizer")
    assert result.returncode == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(dataset.runs)
    assert {r["run_id"] for r in rows} == {r.run_id for r in dataset.runs}
    for row in rows:
        assert row["params.optimizer"] == dataset.by_id(row["run_id"]).params["optimizer"]
        assert "\x1b" not in row["name"] and "\x9b" not in row["name"]


def test_runs_table_is_inert_with_hostile_strings(
    synced_cache, seeded_mlflow_server: Seeded
) -> None:
    cache, _ = synced_cache
    _server, dataset = seeded_mlflow_server
    note = f"tags.{dataset.hostile_tag_key}"
    result = _runs(cache, "--experiment", NLP, "--columns", note)
    assert result.returncode == 0, result.output
    assert dataset.hostile_run_id[:8] in result.stdout, "the hostile run is in the table"
    assert "evil" in result.stdout and "screen" in result.stdout
    assert b"\x1b" not in result.raw_stdout
    assert "\x9b" not in result.stdout and "\x07" not in result.stdout
    assert "\u202e" not in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["RUN_ID", "NAME", "STATUS"]
    assert len(lines) == 1 + dataset.count(NLP)


def test_runs_bad_filter_exits_2_with_one_line(synced_cache) -> None:
    cache, _ = synced_cache
    result = _runs(cache, "--filter", "metrics.val_acc >")
    assert result.returncode == 2, result.output
    _no_traceback(result)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlopstui: "), result.stderr


def test_runs_unknown_experiment_exits_2(synced_cache) -> None:
    cache, _ = synced_cache
    result = _runs(cache, "--experiment", "no-such-experiment")
    assert result.returncode == 2
    _no_traceback(result)
    assert "no-such-experiment" in result.stderr


def test_runs_without_a_cache_says_to_sync(tmp_path: Path) -> None:
    result = run_cli("--cache", str(tmp_path / "none.sqlite"), "runs")
    assert result.returncode == 1, result.output
    _no_traceback(result)
    assert "sync" in result.stderr
    assert not (tmp_path / "none.sqlite").exists(), "runs must not create a cache"


def test_doctor_against_the_live_server(seeded_mlflow_server: Seeded, tmp_path: Path) -> None:
    server, _ = seeded_mlflow_server
    result = run_cli("--cache", str(tmp_path / "c.sqlite"), "--tracking-uri", server.url, "doctor")
    assert result.returncode == 0, result.output
    _no_traceback(result)
    lines = result.stdout.splitlines()
    checks = {line[4:].split(":")[0].strip(): line[:4] for line in lines}
    assert checks["config"] == "OK  "
    assert checks["cache"] == "OK  "
    assert checks["mlflow"] == "OK  "
    assert all(line.startswith(("OK", "--")) for line in lines), lines
    assert server.url in result.stdout


def test_doctor_against_a_dead_port(tmp_path: Path) -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    env = {"MLFLOW_TRACKING_TOKEN": "secret-xyz"}
    result = run_cli(
        "--cache", str(tmp_path / "c.sqlite"), "--tracking-uri", uri, "doctor", env=env
    )
    assert result.returncode == 1, result.output
    _no_traceback(result)
    assert result.seconds < 10
    (fail,) = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert fail.startswith("FAIL mlflow: "), fail
    assert uri in fail and "connection refused" in fail.lower(), fail
    assert "secret-xyz" not in result.output


def test_doctor_through_an_auth_proxy_never_prints_the_token(auth_proxy, tmp_path: Path) -> None:
    args = ("--cache", str(tmp_path / "c.sqlite"), "--tracking-uri", auth_proxy.url, "doctor")
    refused = run_cli(*args, env={"MLFLOW_TRACKING_TOKEN": "secret-xyz"})
    assert refused.returncode == 1, refused.output
    _no_traceback(refused)
    assert "secret-xyz" not in refused.output
    (fail,) = [line for line in refused.stdout.splitlines() if line.startswith("FAIL")]
    assert fail.startswith("FAIL mlflow: ") and "MLFLOW_TRACKING_TOKEN" in fail, fail

    auth_proxy.token = "secret-xyz"
    accepted = run_cli(*args, env={"MLFLOW_TRACKING_TOKEN": "secret-xyz"})
    assert accepted.returncode == 0, accepted.output
    assert "secret-xyz" not in accepted.output
    mlflow_line = next(line for line in accepted.stdout.splitlines() if "mlflow:" in line)
    assert mlflow_line.startswith("OK   mlflow:"), mlflow_line
    assert "MLFLOW_TRACKING_TOKEN" in mlflow_line, "says where the credentials came from"
    assert auth_proxy.forwarded >= 1


def test_sync_once_through_an_auth_proxy_without_token(auth_proxy, tmp_path: Path) -> None:
    args = ("--cache", str(tmp_path / "c.sqlite"), "--tracking-uri", auth_proxy.url)
    result = run_cli(*args, "sync", "--once")
    assert result.returncode == 1
    _no_traceback(result)
    assert "FAILED" in result.stdout and "MLFLOW_TRACKING_TOKEN" in result.stdout

    ok = run_cli(*args, "sync", "--once", env={"MLFLOW_TRACKING_TOKEN": auth_proxy.token})
    assert ok.returncode == 0, ok.output
    assert SYNC_LINE.match(ok.stdout.strip()), ok.stdout
