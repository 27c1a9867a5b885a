"""`mlopstui runs --limit N` says on stderr when it printed fewer runs than matched, so a
person never mistakes the first page for all of them (stdout stays the rows only)."""

from __future__ import annotations

import json

import pytest
from helpers import run_cli  # noqa: E402
from services import NLP, MlflowServer, SeededDataset  # noqa: E402

pytestmark = pytest.mark.mlflow_server
pytest_plugins = ["helpers"]

Seeded = tuple[MlflowServer, SeededDataset]


@pytest.fixture(scope="module")
def synced(seeded_mlflow_server: Seeded, tmp_path_factory: pytest.TempPathFactory):
    """A cache filled by `mlopstui sync --once` from the seeded server."""
    server, dataset = seeded_mlflow_server
    cache = tmp_path_factory.mktemp("cli-limit") / "cache.sqlite"
    result = run_cli("--cache", str(cache), "--tracking-uri", server.url, "sync", "--once")
    assert result.returncode == 0, result.output
    return cache, dataset


def test_a_cut_short_table_says_how_many_matched(synced) -> None:
    cache, dataset = synced
    total = len(dataset.runs)
    assert total > 3
    result = run_cli("--cache", str(cache), "runs", "--limit", "3")
    assert result.returncode == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 1 + 3  # header and three rows
    assert result.stderr.strip() == (
        f"mlopstui: showing 3 of {total:,} matching runs (--limit 3; --limit 0 prints all)"
    )


def test_json_stays_clean_and_the_count_follows_the_filter(synced) -> None:
    cache, dataset = synced
    nlp = dataset.runs_in(NLP)
    assert len(nlp) > 2
    result = run_cli(
        "--cache", str(cache), "runs", "--experiment", NLP, "--format", "json", "--limit", "2"
    )
    assert result.returncode == 0, result.output
    assert len(json.loads(result.stdout)) == 2  # stdout is still valid JSON
    assert f"showing 2 of {len(nlp):,} matching runs" in result.stderr


def test_nothing_is_said_when_every_match_was_printed(synced) -> None:
    cache, dataset = synced
    for limit in ("0", str(len(dataset.runs))):
        result = run_cli("--cache", str(cache), "runs", "--limit", limit, "--format", "json")
        assert result.returncode == 0, result.output
        assert len(json.loads(result.stdout)) == len(dataset.runs)
        assert result.stderr == ""
