"""The plugin API's typed cache reads (`mlopstui.plugin_api.data`), its text and time helpers,
and the test harness's cache seeding: over caches written with the cache writers, as a sync
writes them."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from mlopstui import plugin_api
from mlopstui.cache import db, gpu_nodes, kube
from mlopstui.cache import registry as registry_store
from mlopstui.cache import runs as run_store
from mlopstui.domain import Experiment, ModelVersion, RegisteredModel
from mlopstui.domain.kubernetes import KubeNode, KubePod
from mlopstui.plugin_api import data

from .factories import make_run

T0 = 1_800_000_000
HOUR_MS = 3600 * 1000


@pytest.fixture
def seeded(writer: db.Writer, reader: sqlite3.Connection) -> sqlite3.Connection:
    """Two experiments with runs, a registry with two models, a GPU node with a pod."""
    start = T0 * 1000
    runs = [
        make_run("a1", "1", status="FAILED", start_time=start - 3 * HOUR_MS, user="ana",
                 metrics={"acc": 0.7}, params={"lr": "0.1"}),
        make_run("a2", "1", status="FINISHED", start_time=start - 2 * HOUR_MS,
                 end_time=start - HOUR_MS, metrics={"acc": 0.9}),
        make_run("a3", "1", status="FAILED", start_time=start - HOUR_MS),
        make_run("b1", "2", status="FAILED", start_time=start - 5 * HOUR_MS, name="[b]x[/b]"),
    ]  # fmt: skip
    with writer.transaction() as conn:
        run_store.upsert_experiments(conn, [Experiment("1", "vision"), Experiment("2", "nlp")])
        run_store.upsert_runs(conn, runs, T0)
        run_store.refresh_experiment_stats(conn, ["1", "2"])
        registry_store.replace_registry(
            conn,
            [RegisteredModel("clf", aliases={"champion": "2"}), RegisteredModel("asr")],
            [ModelVersion("clf", str(n), run_id=f"a{n}") for n in (1, 2, 3)],
            now=T0,
        )
        node = KubeNode("gpu-a", "NVIDIA-A100", 8, 8, "True", created=T0 - 86400)
        kube.replace(conn, "dev", "nodes", [node, KubeNode("cpu-only")])
        kube.replace(conn, "dev", "pods", [KubePod("ml", "train", "gpu-a", "Running", 4)])
        gpu_nodes.snapshot_allocations(conn, "dev", None, T0)
    return reader


def test_experiments_are_frozen_values_most_recently_active_first(seeded) -> None:
    found = data.experiments(seeded)
    assert [(e.experiment_id, e.name, e.run_count) for e in found] == [
        ("1", "vision", 3),
        ("2", "nlp", 1),
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        found[0].name = "x"  # type: ignore[misc]


def test_runs_page_filters_and_sorts(seeded) -> None:
    assert [r.run_id for r in data.runs(seeded)] == ["a3", "a2", "a1", "b1"]  # newest first
    assert [r.run_id for r in data.runs(seeded, experiment_id="2")] == ["b1"]
    failed = data.runs(seeded, filter_text="attributes.status = 'FAILED'", descending=False)
    assert [r.run_id for r in failed] == ["b1", "a1", "a3"]
    assert [r.run_id for r in data.runs(seeded, limit=2, offset=1)] == ["a2", "a1"]
    first = data.runs(seeded, experiment_id="1", filter_text="metrics.acc > 0.8")[0]
    assert (first.run_id, first.status, first.duration) == ("a2", "FINISHED", HOUR_MS)
    since = T0 * 1000 - 4 * HOUR_MS
    recent = data.runs(seeded, filter_text=f"attributes.start_time >= {since}", limit=None)
    assert {r.run_id for r in recent} == {"a1", "a2", "a3"}


def test_runs_sorted_by_a_value_with_columns_and_no_limit(seeded) -> None:
    rows = data.runs(seeded, sort="metrics.acc", columns=["metrics.acc", "params.lr"], limit=None)
    # Runs with the metric by value, then those without it: none is lost with limit=None.
    assert [r.run_id for r in rows][:2] == ["a2", "a1"]
    assert {r.run_id for r in rows} == {"a1", "a2", "a3", "b1"}
    a1 = next(r for r in rows if r.run_id == "a1")
    assert a1.values["metrics.acc"] == 0.7 and a1.values["params.lr"] == "0.1"


def test_a_malformed_filter_raises_the_exported_filter_error(seeded) -> None:
    with pytest.raises(data.FilterError):
        data.runs(seeded, filter_text="metrics.acc >")


def test_models_and_versions(seeded) -> None:
    assert [(m.name, m.aliases) for m in data.models(seeded)] == [
        ("asr", {}),
        ("clf", {"champion": "2"}),
    ]
    versions = data.model_versions(seeded, "clf")
    assert [(v.version, v.aliases) for v in versions] == [
        ("3", ()),
        ("2", ("champion",)),
        ("1", ()),
    ]
    assert data.model_versions(seeded, "nope") == []


def test_gpu_nodes_and_node(seeded) -> None:
    rows = data.gpu_nodes(seeded, "dev", T0)
    assert [(r.name, r.allocatable, r.allocated, r.status) for r in rows] == [
        ("gpu-a", 8, 4, "Ready")
    ]
    assert [h.name for h in rows[0].holders] == ["train"]
    assert data.gpu_nodes(seeded, "other", T0) == []
    node = data.node(seeded, "dev", "cpu-only")
    assert node is not None and node.gpu_capacity == 0
    assert data.node(seeded, "dev", "absent") is None


def test_text_and_time_helpers_are_the_core_ones() -> None:
    from mlopstui import text, timefmt
    from mlopstui.ui.inert import inert

    assert plugin_api.clean is text.clean
    assert plugin_api.inert is inert
    assert str(plugin_api.inert("[b]x[/b]\x1b[31m")) == "[b]x[/b]"
    for name in ("clock", "duration", "ago", "now", "now_ms"):
        assert getattr(plugin_api, name) is getattr(timefmt, name)
    assert set(plugin_api.__all__) >= {"Pane", "PaneCommand", "inert", "clean", "clock"}


def test_seed_runs_and_models_write_a_cache_a_pane_can_read(tmp_path: Path) -> None:
    from mlopstui.plugin_api.testing import seed_models, seed_runs

    cache = tmp_path / "c.sqlite"
    runs = [data.Run("r1", "1", "train", "FAILED", 1000, 2000, "ana")]
    assert seed_runs(cache, [data.Experiment("1", "vision")], runs) == cache
    seed_runs(cache, runs=[data.Run("r2", "1", "again", "RUNNING", 3000)])
    seed_models(cache, [data.RegisteredModel("clf")], [data.ModelVersion("clf", "1")])
    conn = db.open_reader(cache)
    try:
        assert [(e.name, e.run_count) for e in data.experiments(conn)] == [("vision", 2)]
        assert [r.run_id for r in data.runs(conn)] == ["r2", "r1"]
        assert [v.version for v in data.model_versions(conn, "clf")] == ["1"]
    finally:
        conn.close()


def test_source_harness_gives_a_source_env_over_a_real_cache(tmp_path: Path) -> None:
    from mlopstui.plugin_api.testing import SourceHarness

    with SourceHarness(tmp_path / "c.sqlite") as harness:
        env = harness.env({"url": "http://quota"})
        assert isinstance(env, plugin_api.SourceEnv)
        assert (env.config, env.user) == ({"url": "http://quota"}, "tester")
        with env.writer.transaction() as conn:
            data.replace_records(conn, "quota", "teams", [("ml", {"gpus": 8})])
        env.announce("quota", {"teams"})
        conn = env.reader()
        try:
            assert data.records(conn, "quota", "teams") == [("ml", {"gpus": 8})]
        finally:
            conn.close()
        assert harness.announced == [("quota", {"teams"})]
