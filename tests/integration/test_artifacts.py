"""Artifact files read for the viewer from a real MLflow tracking server: a text file and a
PNG logged with the official client, read back through `adapters.mlflow_artifacts` (and
through the source's `artifact_file` fetch, as the workbench asks for it); the size cap, a
binary file described without a download, a missing file and a dead server, each a sentence.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from helpers import closed_port
from services import MlflowServer
from ui.builders import tiny_png  # noqa: E402

from mlopstui.adapters import SourceError, SourceUnreachable
from mlopstui.adapters import mlflow_artifacts as artifacts
from mlopstui.adapters.mlflow import MlflowSource

pytest_plugins = ["helpers"]
pytestmark = pytest.mark.mlflow_server

NOTES = "step 1 loss 0.9\nstep 2 loss 0.4\n\x1b[31mred\x1b[0m é ✓\n"


@pytest.fixture
def logged(mlflow_server: MlflowServer, tmp_path: Path) -> str:
    """A run of its own with notes.txt, plots/curve.png, weights.pt and a 3 MiB log."""
    from mlflow import MlflowClient

    files = tmp_path / "files"
    (files / "plots").mkdir(parents=True)
    (files / "notes.txt").write_text(NOTES, encoding="utf-8")
    (files / "plots" / "curve.png").write_bytes(tiny_png(320, 200))
    (files / "weights.pt").write_bytes(b"\x80\x02" + bytes(4096))
    (files / "big.log").write_bytes(b"line of a long log\n" * (3 * (1 << 20) // 19 + 1))
    client = MlflowClient(mlflow_server.url)
    exp = client.create_experiment(f"artifacts-{uuid.uuid4().hex[:8]}")
    run = client.create_run(exp, run_name="artifact-viewer")
    client.log_artifacts(run.info.run_id, str(files))
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_text_and_image_are_read_back(mlflow_server: MlflowServer, logged: str):
    client = MlflowSource(mlflow_server.url)
    listing = {a.path: a for a in client.artifacts(logged)}
    notes = artifacts.read_artifact(client, logged, "notes.txt", size=listing["notes.txt"].size)
    assert notes.kind == "text" and notes.text == NOTES and not notes.truncated
    assert notes.size == len(NOTES.encode())
    curve = artifacts.read_artifact(client, logged, "plots/curve.png")
    assert curve.kind == "image" and curve.image == ("PNG", 320, 200)


def test_the_workbench_fetch_reads_an_artifact(mlflow_server: MlflowServer, logged, make_workbench):
    bench = make_workbench(mlflow_server.url)
    source = bench.sources.fetcher_of("artifact_file")
    assert source is not None
    found = source.fetch("artifact_file", run_id=logged, path="notes.txt")
    assert found.text == NOTES


def test_binary_and_oversized_files_are_described_not_downloaded(
    mlflow_server: MlflowServer, logged: str
):
    client = MlflowSource(mlflow_server.url)
    listing = {a.path: a for a in client.artifacts(logged)}
    weights = artifacts.read_artifact(client, logged, "weights.pt", size=listing["weights.pt"].size)
    assert weights.kind == "binary" and weights.size == 4098 and weights.text == ""
    big = listing["big.log"]
    assert big.size is not None and big.size > artifacts.DOWNLOAD_CAP
    described = artifacts.read_artifact(client, logged, "big.log", size=big.size)
    assert described.text == "" and "too large to show here" in described.note
    # Without the listing's size, the server's Content-Length is refused before the body.
    with pytest.raises(SourceError) as refused:
        artifacts.read_artifact(client, logged, "big.log")
    assert "is larger than the viewer reads (3.0 MiB); the limit is 2.0 MiB" in str(refused.value)


def test_a_missing_artifact_and_a_dead_server_are_sentences(
    mlflow_server: MlflowServer, logged: str
):
    client = MlflowSource(mlflow_server.url)
    with pytest.raises(SourceError) as missing:
        artifacts.read_artifact(client, logged, "no-such-file.txt")
    assert "answered HTTP 404 for artifact no-such-file.txt" in str(missing.value)
    assert "Traceback" not in str(missing.value)
    dead = MlflowSource(f"http://127.0.0.1:{closed_port()}", timeout=1.0)
    with pytest.raises(SourceUnreachable) as down:
        artifacts.read_artifact(dead, logged, "notes.txt")
    assert "did not answer: connection refused" in str(down.value)
