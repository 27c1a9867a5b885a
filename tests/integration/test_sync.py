"""The MLflow run sync against a real tracking server (and the embedded store): what lands in the
cache, how incremental passes see changes, and how failures surface.

No MLflow call is mocked: the server is `mlflow server` on loopback (tests/services.py), writes
go through the official `MlflowClient`, and the cache is read back the way panes read it.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from helpers import (  # noqa: E402
    cached_run_ids,
    sync_and_kill_after_first_batch,
    table_counts,
    wait_until,
)
from services import NLP, VISION, MlflowServer, SeededDataset  # noqa: E402

from mlopstui.adapters import SourceAuthError, SourceUnreachable  # noqa: E402
from mlopstui.cache import runs as run_store  # noqa: E402
from mlopstui.cache import syncs  # noqa: E402

pytestmark = pytest.mark.mlflow_server
# Fixtures from helpers.py: auth_proxy, make_workbench, killable_server.
pytest_plugins = ["helpers"]

Seeded = tuple[MlflowServer, SeededDataset]


@pytest.fixture(scope="module")
def synced_seeded(seeded_mlflow_server: Seeded, tmp_path_factory: pytest.TempPathFactory):
    """The shared seeded server synced once into a cache (read-only for the tests using it)."""
    from mlopstui import config
    from mlopstui.workbench import Workbench

    server, dataset = seeded_mlflow_server
    cache = tmp_path_factory.mktemp("sync-seeded") / "c.sqlite"
    bench = Workbench(
        config.load(flags={"cache": str(cache), "mlflow.tracking_uri": server.url}, environ={})
    )
    written = bench.source("mlflow").run_sync.sync_once()
    conn = bench.reader()
    try:
        yield bench, conn, written
    finally:
        conn.close()
        bench.close()


def _client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(uri)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _all_run_ids(uri: str) -> set[str]:
    from mlflow.entities import ViewType

    client = _client(uri)
    exp_ids = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    return {r.info.run_id for r in client.search_runs(exp_ids, max_results=50_000)}


# --- first sync ---------------------------------------------------------------------------------


def test_first_sync_caches_every_run_with_its_data(synced_seeded, seeded_mlflow_server: Seeded):
    _bench, conn, written = synced_seeded
    _server, dataset = seeded_mlflow_server

    assert cached_run_ids(conn) == {r.run_id for r in dataset.runs}
    assert written >= len(dataset.runs)
    for seeded in dataset.runs:
        run = run_store.get_run(conn, seeded.run_id)
        assert run is not None, seeded.name
        assert run.experiment_id == seeded.experiment_id
        assert run.name == seeded.name
        assert run.status == seeded.status
        assert (run.start_time, run.end_time) == (seeded.start_time, seeded.end_time)
        assert run.user == seeded.tags["mlflow.user"]
        assert run.lifecycle == "active"
        assert run.params == seeded.params
        assert {k: m.value for k, m in run.metrics.items()} == seeded.metrics
        assert all(m.step == 4 for m in run.metrics.values()), "latest metric is the last step"
        assert seeded.tags.items() <= run.tags.items()

    # Strings are stored as MLflow has them; sanitising is the screen's job, not the cache's.
    hostile = run_store.get_run(conn, dataset.hostile_run_id)
    assert hostile.name == dataset.hostile_run_name
    assert hostile.tags[dataset.hostile_tag_key] == dataset.hostile_tag_value

    exps = {e.name: e for e in run_store.experiments(conn)}
    assert set(exps) == {"Default", VISION, NLP}
    assert exps[VISION].run_count == 33
    assert exps[NLP].run_count == 20
    assert exps["Default"].run_count == 0
    assert exps[VISION].experiment_id == dataset.experiment_ids[VISION]
    assert exps[NLP].last_activity >= max(r.end_time or 0 for r in dataset.runs_in(NLP))

    by_status = {
        row[0]: row[1]
        for row in conn.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()
    }
    assert by_status == {"FINISHED": 50, "FAILED": 2, "RUNNING": 1}
    running = conn.execute("SELECT end_time, duration FROM runs WHERE status = 'RUNNING'")
    assert running.fetchall() == [(None, None)]


FILTERS = [
    "metrics.val_acc > 0.7",
    "metrics.loss <= 0.8 and params.batch_size = '64'",
    "params.optimizer = 'adam'",
    "params.lr LIKE '0.0%'",
    "tags.team = 'nlp'",
    "tags.`mlflow.user` = 'alice'",
    "attributes.status = 'FAILED'",
    "attributes.status != 'FINISHED'",
    "attributes.run_name LIKE 'resnet-01%'",
    "attributes.run_name ILIKE 'RESNET%'",
    "attributes.start_time < 1767226000000",
    "attributes.end_time > 1767226000000",
    "attributes.user_id = 'bob'",
    "tags.note LIKE '%screen'",
]


@pytest.mark.parametrize("expression", FILTERS)
def test_cache_filters_like_the_server(expression: str, synced_seeded, seeded_mlflow_server):
    """The same MLflow filter answered from the cache and by the server picks the same runs."""
    _bench, conn, _ = synced_seeded
    server, dataset = seeded_mlflow_server
    client = _client(server.url)
    exp_ids = list(dataset.experiment_ids.values())

    expected = {r.info.run_id for r in client.search_runs(exp_ids, expression, max_results=1000)}
    window = run_store.RunsWindow(conn, filter_text=expression)
    got = {row.run_id for row in window.page(0, 10_000)}
    assert 0 < len(expected) < len(dataset.runs), "a filter that picks some runs, not all"
    assert got == expected
    assert window.count() == len(expected)

    vision = dataset.experiment_ids[VISION]
    expected_vision = {
        r.info.run_id for r in client.search_runs([vision], expression, max_results=1000)
    }
    window = run_store.RunsWindow(conn, experiment_id=vision, filter_text=expression)
    assert {row.run_id for row in window.page(0, 10_000)} == expected_vision


def test_focus_experiment_gets_the_first_page(seeded_mlflow_server: Seeded, make_workbench):
    """On a cold cache the experiment on screen is written first, before the newest runs."""
    server, dataset = seeded_mlflow_server
    bench = make_workbench(server.url, mlflow__page_size=10)
    vision = dataset.experiment_ids[VISION]
    # Without focus the first page would be nlp-bert's: its runs are the newest.
    assert max(r.start_time for r in dataset.runs_in(NLP)) > max(
        r.start_time for r in dataset.runs_in(VISION)
    )
    bench.source("mlflow").run_sync.focus_experiment = vision
    batches: list[tuple[set[str], dict[str, int]]] = []

    def listener(source: str, topics: set[str]) -> None:
        reader = bench.reader()
        try:
            per_exp = dict(
                reader.execute("SELECT experiment_id, count(*) FROM runs GROUP BY 1").fetchall()
            )
        finally:
            reader.close()
        batches.append((set(topics), per_exp))

    bench.scheduler.listeners.append(listener)
    bench.source("mlflow").run_sync.sync_once()

    assert batches[0] == ({"experiments"}, {})
    first_runs = next(counts for topics, counts in batches if "runs" in topics)
    assert first_runs == {vision: 10}
    assert batches[-1][1] == {vision: 33, dataset.experiment_ids[NLP]: 20}


# --- incremental passes -------------------------------------------------------------------------


def test_incremental_sync_follows_changes(mlflow_server: MlflowServer, make_workbench):
    """(Other tests' experiments may share this server: assertions stay in this experiment.)"""
    from mlflow.entities import Metric

    server = mlflow_server
    client = _client(server.url)
    exp = client.create_experiment(f"inc-{uuid.uuid4().hex[:6]}")
    base = _now_ms() - 3_600_000

    def new_run(name: str, start: int, status: str | None = "FINISHED", end: int | None = None):
        run_id = client.create_run(exp, start_time=start, run_name=name).info.run_id
        client.log_batch(run_id, metrics=[Metric("acc", 0.5, start + 1000, 0)])
        client.log_param(run_id, "name", name)
        if status:
            client.set_terminated(run_id, status, end_time=end or start + 60_000)
        return run_id

    done = new_run("done", base)
    live = new_run("live", base + 60_000, status=None)
    failed = new_run("failed", base + 120_000, status="FAILED", end=_now_ms() - 1000)

    bench = make_workbench(server.url)
    sync = bench.source("mlflow").run_sync
    reader = bench.reader()
    sync.sync_once()
    assert cached_run_ids(reader, exp) == {done, live, failed}
    assert run_store.get_run(reader, live).status == "RUNNING"
    assert syncs.get_state(reader, "mlflow", "last_sweep") is not None

    # (a) a new run arrives with the next pass
    newest_start = _now_ms()
    fresh = new_run("fresh", newest_start)
    sync.sync_once()
    assert cached_run_ids(reader, exp) == {done, live, failed, fresh}

    # (b) a run seen RUNNING finishes between polls; its end time is older than every
    # watermark, so only the re-poll of RUNNING runs can notice. Its metrics move too.
    client.log_batch(live, metrics=[Metric("acc", 0.9, base + 90_000, 5)])
    client.set_terminated(live, "FINISHED", end_time=base + 100_000)
    sync.sync_once()
    finished = run_store.get_run(reader, live)
    assert finished.status == "FINISHED"
    assert finished.end_time == base + 100_000
    assert finished.metrics["acc"].value == 0.9
    assert finished.metrics["acc"].step == 5
    assert live not in run_store.running_run_ids(reader)

    # (c) a deleted run leaves the cache, and the experiment's count follows
    client.delete_run(done)
    sync.sync_once()
    assert cached_run_ids(reader, exp) == {live, failed, fresh}
    counts = {e.experiment_id: e.run_count for e in run_store.experiments(reader)}
    assert counts[exp] == 3

    # (d) a pass with nothing new writes no duplicates
    before = table_counts(reader)
    sync.sync_once()
    sync.sync_once()
    assert table_counts(reader) == before
    assert len(cached_run_ids(reader, exp)) == 3

    # (e) a run stamped a little before the watermark (a client with a slow clock) arrives
    watermark = int(syncs.get_state(reader, "mlflow", "max_start"))
    assert watermark >= newest_start
    late = new_run("late", watermark - 2 * 60_000, status=None)  # no end time
    sync.sync_once()
    assert late in cached_run_ids(reader, exp)

    # ... and one stamped long before it arrives with the next full sweep
    stale = new_run("stale", watermark - 45 * 60_000, status=None)
    sync.sweep_interval = 0.001
    sync.sync_once()
    assert stale in cached_run_ids(reader, exp)

    # a new experiment and its runs are picked up too
    other = client.create_experiment(f"inc-other-{uuid.uuid4().hex[:6]}")
    other_run = client.create_run(other, run_name="other").info.run_id
    sync.sweep_interval = 600.0
    sync.sync_once()
    assert cached_run_ids(reader, other) == {other_run}
    reader.close()


# --- failures -----------------------------------------------------------------------------------


def test_server_dying_mid_sync_fails_fast_and_keeps_what_landed(
    killable_server: Seeded, make_workbench
):
    server, _dataset = killable_server
    everything = _all_run_ids(server.url)
    assert len(everything) > 50
    bench = make_workbench(server.url, mlflow__page_size=5)

    outcome = sync_and_kill_after_first_batch(bench, server)
    assert isinstance(outcome.error, SourceUnreachable), repr(outcome.error)
    assert outcome.seconds_to_fail < 5
    assert server.url in str(outcome.error)
    assert outcome.rows_at_kill == 5
    reader = bench.reader()
    assert len(cached_run_ids(reader)) == 5, "the page that landed stays"

    server.restart()
    bench.source("mlflow").run_sync.sync_once()
    assert cached_run_ids(reader) == everything
    reader.close()


def test_incremental_pass_interrupted_mid_paging_loses_nothing(
    killable_server: Seeded, make_workbench
):
    """The start-time watermark must not move past runs the pass has not fetched yet."""
    server, _ = killable_server
    client = _client(server.url)
    exp = client.create_experiment(f"paging-{uuid.uuid4().hex[:6]}")
    base = _now_ms() - 4 * 3_600_000
    first = [client.create_run(exp, start_time=base + i).info.run_id for i in range(2)]
    bench = make_workbench(server.url, mlflow__page_size=5)
    bench.source("mlflow").run_sync.sync_once()  # the full sweep: the next passes are incremental

    # A burst of runs, one minute apart, all newer than the watermark: three pages.
    burst_start = _now_ms() - 60 * 60_000
    burst = [
        client.create_run(exp, start_time=burst_start + i * 60_000).info.run_id for i in range(12)
    ]
    outcome = sync_and_kill_after_first_batch(bench, server)
    assert isinstance(outcome.error, SourceUnreachable), repr(outcome.error)

    server.restart()
    bench.source("mlflow").run_sync.sync_once()
    reader = bench.reader()
    assert cached_run_ids(reader, exp) == set(first) | set(burst)
    reader.close()


def test_dead_server_shows_failing_within_seconds_and_recovers(
    killable_server: Seeded, make_workbench
):
    server, _ = killable_server
    client = _client(server.url)
    exp = client.create_experiment(f"heartbeat-{uuid.uuid4().hex[:6]}")
    client.create_run(exp, run_name="one")
    bench = make_workbench(server.url, mlflow__poll_interval=300)
    reader = bench.reader()
    topics: list[tuple[str, set[str]]] = []

    def fresh():
        return syncs.freshness(reader, "mlflow")

    bench.start(lambda source, t: topics.append((source, set(t))))
    assert wait_until(lambda: fresh().state == "ok", 15), "the first sync never succeeded"
    # The registry job may be the first to succeed: wait for the runs job's first pass too.
    assert wait_until(lambda: len(cached_run_ids(reader, exp)) == 1, 15)

    server.kill()
    killed = time.monotonic()
    assert wait_until(lambda: fresh().state == "failing", 5), "still 'ok' 5 s after the kill"
    assert time.monotonic() - killed < 5
    state = fresh()
    assert state.failing_since is not None
    error = state.last_error
    assert error.startswith(server.url), error
    assert "connection refused" in error.lower(), error
    assert "\n" not in error and "Traceback" not in error and " at 0x" not in error, error
    assert len(error) < 200, error
    assert ("mlflow", {"freshness"}) in topics

    # A run logged while we could not see the server (straight into its store).
    late_run = _client(server.backend_uri).create_run(exp, run_name="two").info.run_id
    server.restart()
    restarted, restarted_wall = time.monotonic(), time.time()
    # The heartbeat backs off while the server is down, but not so far that a recovered
    # server stays "failing" for long; its first success refreshes the runs at once.
    assert wait_until(lambda: fresh().state == "ok", 20, 0.2), "still failing after restart"
    assert time.monotonic() - restarted < 20
    assert fresh().last_error is None

    def runs_synced_since_restart() -> bool:
        return any(
            rec.job == "runs" and rec.ok and rec.started >= restarted_wall
            for rec in syncs.recent_syncs(reader, "mlflow")
        )

    assert wait_until(runs_synced_since_restart, 10), "recovery did not trigger a runs sync"
    assert late_run in cached_run_ids(reader, exp)
    reader.close()


def test_auth_proxy_refusal_and_token(
    auth_proxy, seeded_mlflow_server: Seeded, make_workbench, monkeypatch: pytest.MonkeyPatch
):
    _server, dataset = seeded_mlflow_server
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    bench = make_workbench(auth_proxy.url, cache="no-token.sqlite")
    with pytest.raises(SourceAuthError) as info:
        bench.source("mlflow").run_sync.sync_once()
    assert "MLFLOW_TRACKING_TOKEN" in str(info.value)
    assert "401" in str(info.value)
    assert auth_proxy.refused >= 1 and auth_proxy.forwarded == 0

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "wrong")
    with pytest.raises(SourceAuthError):
        make_workbench(auth_proxy.url, cache="wrong.sqlite").source("mlflow").run_sync.sync_once()

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", auth_proxy.token)
    bench = make_workbench(auth_proxy.url, cache="token.sqlite")
    bench.source("mlflow").run_sync.sync_once()
    reader = bench.reader()
    assert cached_run_ids(reader) == {r.run_id for r in dataset.runs}
    reader.close()
    assert auth_proxy.forwarded >= 2


# --- metric history, artifacts, embedded store --------------------------------------------------


def _log_history_and_artifacts(client: Any, exp: str) -> tuple[str, list[tuple[int, int, float]]]:
    from mlflow.entities import Metric

    run_id = client.create_run(exp, run_name="with-history").info.run_id
    t0 = _now_ms()
    points = [(step, t0 + step, round(1.0 / (step + 1), 4)) for step in range(12)]
    client.log_batch(run_id, metrics=[Metric("loss", v, t, s) for s, t, v in points])
    client.log_text(run_id, "hello", "notes/readme.txt")
    client.log_text(run_id, "{}", "config.json")
    client.set_terminated(run_id)
    return run_id, points


def _check_history_and_artifacts(source: Any, run_id: str, points: list) -> None:
    assert sorted(source.metric_history(run_id, "loss")) == points
    assert source.metric_history(run_id, "no-such-metric") == []
    top = {a.path: a for a in source.artifacts(run_id)}
    assert set(top) == {"notes", "config.json"}
    assert top["notes"].is_dir and not top["config.json"].is_dir
    assert top["config.json"].size == 2
    (readme,) = source.artifacts(run_id, "notes")
    assert (readme.path, readme.is_dir, readme.size) == ("notes/readme.txt", False, 5)


def test_metric_history_and_artifacts_over_http(mlflow_server: MlflowServer):
    from mlopstui.adapters.mlflow import MlflowSource

    client = _client(mlflow_server.url)
    exp = client.create_experiment(f"history-{uuid.uuid4().hex[:6]}")
    run_id, points = _log_history_and_artifacts(client, exp)
    source = MlflowSource(mlflow_server.url)
    assert source.is_http
    _check_history_and_artifacts(source, run_id, points)


def _embedded_store(tmp_path: Path) -> tuple[str, Any, str]:
    uri = f"sqlite:///{tmp_path / 'store.db'}"
    client = _client(uri)
    exp = client.create_experiment("local", artifact_location=(tmp_path / "art").as_uri())
    return uri, client, exp


def test_metric_history_and_artifacts_embedded(tmp_path: Path):
    from mlopstui.adapters.mlflow import MlflowSource

    uri, client, exp = _embedded_store(tmp_path)
    run_id, points = _log_history_and_artifacts(client, exp)
    source = MlflowSource(uri)
    assert not source.is_http
    _check_history_and_artifacts(source, run_id, points)


def test_sync_from_embedded_store(tmp_path: Path, make_workbench):
    from mlflow.entities import Metric, Param

    uri, client, exp = _embedded_store(tmp_path)
    base = _now_ms() - 600_000
    ids = []
    for i, status in enumerate(["FINISHED", "FAILED", "FINISHED", None]):
        run_id = client.create_run(
            exp, start_time=base + i * 1000, run_name=f"r{i}", tags={"team": "local"}
        ).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric("acc", 0.1 * i, base + 5000 + s, s) for s in range(3)],
            params=[Param("i", str(i))],
        )
        if status:
            client.set_terminated(run_id, status, end_time=base + i * 1000 + 500)
        ids.append(run_id)

    bench = make_workbench(uri)
    bench.source("mlflow").run_sync.sync_once()
    reader = bench.reader()
    assert cached_run_ids(reader, exp) == set(ids)
    for i, run_id in enumerate(ids):
        run = run_store.get_run(reader, run_id)
        assert run.name == f"r{i}"
        assert run.params == {"i": str(i)}
        assert run.metrics["acc"].value == pytest.approx(0.1 * i)
        assert run.metrics["acc"].step == 2
        assert run.tags["team"] == "local"
    statuses = [run_store.get_run(reader, r).status for r in ids]
    assert statuses == ["FINISHED", "FAILED", "FINISHED", "RUNNING"]
    window = run_store.RunsWindow(reader, filter_text="attributes.status = 'FAILED'")
    assert [r.run_id for r in window.page(0, 10)] == [ids[1]]

    # incremental on the embedded store too: a new run, a finished run, a deleted run
    newer = client.create_run(exp, run_name="newer").info.run_id
    client.set_terminated(ids[3], "FINISHED")
    client.delete_run(ids[0])
    bench.source("mlflow").run_sync.sync_once()
    assert cached_run_ids(reader, exp) == {ids[1], ids[2], ids[3], newer}
    assert run_store.get_run(reader, ids[3]).status == "FINISHED"
    reader.close()


def test_deleted_experiment_drops_its_runs(mlflow_server: MlflowServer, make_workbench):
    """Runs of a deleted experiment leave the cache (left there, a RUNNING one stays RUNNING)."""
    client = _client(mlflow_server.url)
    exp = client.create_experiment(f"gone-{uuid.uuid4().hex[:6]}")
    live = client.create_run(exp, start_time=_now_ms(), run_name="live").info.run_id
    bench = make_workbench(mlflow_server.url)
    reader = bench.reader()
    bench.source("mlflow").run_sync.sync_once()
    assert cached_run_ids(reader, exp) == {live}

    client.delete_experiment(exp)
    bench.source("mlflow").run_sync.sync_once()
    assert cached_run_ids(reader, exp) == set()
    lifecycle, count = reader.execute(
        "SELECT lifecycle, run_count FROM experiments WHERE experiment_id = ?", (exp,)
    ).fetchone()
    assert (lifecycle, count) == ("deleted", 0)
