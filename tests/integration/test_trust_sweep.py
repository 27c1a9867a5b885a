"""Issue 11, classes 3 and 4, against a real MLflow server (and the fault proxy in front of it).

Class 3: the sweep removes a run from the cache only when the server says it is deleted or
gone, never because a listing merely did not return it (offset paging shifted by deletions, a
page without its next-page token, an empty reply).
Class 4: changes only a full sweep used to see (metrics and renames on finished runs, runs
started before the watermark) show within one poll.

No MLflow call is mocked: the server is `mlflow server` on loopback, writes go through the
official `MlflowClient` (straight into its database where speed matters), and the cache is read
back the way panes read it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_proxy import EXPERIMENTS_SEARCH, RUNS_SEARCH, Before, FaultProxy, Rewrite  # noqa: E402
from helpers import cached_run_ids  # noqa: E402
from services import MlflowServer  # noqa: E402

from mlopstui.adapters import SourceError  # noqa: E402
from mlopstui.cache import runs as run_store  # noqa: E402

pytestmark = pytest.mark.mlflow_server
pytest_plugins = ["helpers"]

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def _client(uri: str) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(uri)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _seed(backend_uri: str, artifacts: Path, count: int) -> tuple[str, list[str]]:
    """An experiment of `count` finished runs, one second apart, oldest first (written straight
    into the store's database: ~10x faster than over REST)."""
    client = _client(backend_uri)
    exp = client.create_experiment("sweep", artifact_location=artifacts.resolve().as_uri())
    base = _now_ms() - 2 * DAY
    ids = []
    for i in range(count):
        run_id = client.create_run(exp, start_time=base + i * 1000).info.run_id
        client.set_terminated(run_id, "FINISHED", end_time=base + i * 1000 + 500)
        ids.append(run_id)
    return exp, ids


def _active_on_server(server: MlflowServer, exp: str) -> set[str]:
    return {r.info.run_id for r in _client(server.url).search_runs([exp], max_results=50_000)}


def _is_sweep_listing(req: dict) -> bool:
    """The sweep's own listing (no filter, active runs), not a confirmation read by id."""
    return not req.get("filter") and req.get("run_view_type", "ACTIVE_ONLY") == "ACTIVE_ONLY"


def _gc(server: MlflowServer, run_ids: list[str]) -> None:
    """Remove deleted runs for good, with MLflow's own `mlflow gc`."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlflow",
            "gc",
            "--backend-store-uri",
            server.backend_uri,
            "--tracking-uri",
            server.url,
            "--run-ids",
            ",".join(run_ids),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[str]]:
    """A store of 300 runs, seeded once per module and copied for each test's own server."""
    where = tmp_path_factory.mktemp("sweep-template")
    exp, ids = _seed(f"sqlite:///{where / 'mlflow.db'}", where / "artifacts", 300)
    return where / "mlflow.db", exp, ids


@pytest.fixture
def seeded(
    template: tuple[Path, str, list[str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[MlflowServer, str, list[str]]]:
    """A private server over a copy of the 300-run store: tests delete runs from it."""
    db, exp, ids = template
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-sweep"))
    shutil.copyfile(db, server.db_path)
    try:
        yield server.start(), exp, ids
    finally:
        server.stop()


def _sweeping(bench: Any) -> Any:
    """The bench's run sync, set to sweep on every pass."""
    sync = bench.source("mlflow").run_sync
    sync.sweep_interval = 0.001
    return sync


# --- class 3: the sweep deletes only what the server says is gone --------------------------------


def test_deletions_during_a_sweep_lose_no_existing_run(seeded, make_workbench):
    """(a) 50 runs deleted between page 1 and page 2 shift MLflow's offset pages by 50: the
    listing skips 50 runs that still exist. None of them may leave the cache."""
    server, exp, ids = seeded
    with FaultProxy(server.url) as proxy:
        bench = make_workbench(proxy.url, mlflow__page_size=100)
        sync = _sweeping(bench)
        sync.sync_once()
        reader = bench.reader()
        assert cached_run_ids(reader, exp) == set(ids)

        newest = ids[-50:]  # all on the listing's first page (start time descending)
        direct = _client(server.url)

        def delete_newest(req: dict) -> None:
            for run_id in newest:
                direct.delete_run(run_id)

        proxy.on(
            "POST",
            RUNS_SEARCH,
            Before(delete_newest),
            times=1,
            when=lambda req: _is_sweep_listing(req) and bool(req.get("page_token")),
        )
        sync.sync_once()
        on_server = _active_on_server(server, exp)
        assert on_server == set(ids) - set(newest)
        cached = cached_run_ids(reader, exp)
        assert on_server - cached == set(), f"{len(on_server - cached)} existing runs lost"
        assert cached - on_server == set(), "runs deleted during the sweep stay as phantoms"
        reader.close()


def test_listing_cut_short_loses_nothing_and_is_reported(seeded, make_workbench):
    """(b) The sweep's first (full) page comes without its next-page token."""
    server, exp, ids = seeded
    with FaultProxy(server.url) as proxy:
        bench = make_workbench(proxy.url, mlflow__page_size=100)
        sync = _sweeping(bench)
        sync.sync_once()
        reader = bench.reader()
        assert cached_run_ids(reader, exp) == set(ids)

        proxy.on(
            "POST",
            RUNS_SEARCH,
            Rewrite(lambda req, resp: {k: v for k, v in resp.items() if k != "next_page_token"}),
            times=1,
            when=lambda req: _is_sweep_listing(req) and not req.get("page_token"),
        )
        with pytest.raises(SourceError) as caught:
            sync.sync_once()
        message = str(caught.value)
        assert "left out 200 of 300 cached runs" in message, message
        assert "nothing was removed" in message, message
        assert cached_run_ids(reader, exp) == set(ids), "no run that exists left the cache"

        # The fault is gone: the next pass sweeps again (the cut listing did not count) and is ok.
        sync.sweep_interval = 600.0
        sync.sync_once()
        assert cached_run_ids(reader, exp) == set(ids)

        # Cut after the second page: a third of the cache unlisted, each run read by id and kept.
        proxy.on(
            "POST",
            RUNS_SEARCH,
            Rewrite(lambda req, resp: {k: v for k, v in resp.items() if k != "next_page_token"}),
            times=1,
            when=lambda req: _is_sweep_listing(req) and bool(req.get("page_token")),
        )
        sync.sweep_interval = 0.001
        with pytest.raises(SourceError) as caught:
            sync.sync_once()
        assert "left out 100 runs that exist" in str(caught.value), str(caught.value)
        assert cached_run_ids(reader, exp) == set(ids)
        reader.close()


def test_empty_search_replies_wipe_nothing(seeded, make_workbench):
    """(c) Every runs/search answers `{"runs": []}`: the listing and the confirmation reads by
    id agree on nothing, so removing 300 runs is refused and the pass fails saying why."""
    server, exp, ids = seeded
    with FaultProxy(server.url) as proxy:
        bench = make_workbench(proxy.url, mlflow__page_size=100)
        sync = _sweeping(bench)
        sync.sync_once()
        reader = bench.reader()
        assert cached_run_ids(reader, exp) == set(ids)

        proxy.on("POST", RUNS_SEARCH, Rewrite(lambda req, resp: {"runs": []}))
        with pytest.raises(SourceError) as caught:
            sync.sync_once()
        message = str(caught.value)
        assert "300" in message and "nothing was removed" in message, message
        assert cached_run_ids(reader, exp) == set(ids)

        # An incremental pass under the same fault removes nothing either.
        sync.sweep_interval = 600.0
        sync.sync_once()
        assert cached_run_ids(reader, exp) == set(ids)

        proxy.clear()
        sync.sweep_interval = 0.001
        sync.sync_once()
        assert cached_run_ids(reader, exp) == set(ids)
        reader.close()


def test_empty_experiment_reply_wipes_nothing(seeded, make_workbench):
    """(c) The experiment list comes back empty: no experiment, and none of its runs, goes."""
    server, exp, ids = seeded
    with FaultProxy(server.url) as proxy:
        bench = make_workbench(proxy.url, mlflow__page_size=100)
        sync = _sweeping(bench)
        sync.sync_once()
        reader = bench.reader()
        proxy.on("POST", EXPERIMENTS_SEARCH, Rewrite(lambda req, resp: {"experiments": []}))
        with pytest.raises(SourceError) as caught:
            sync.sync_once()
        assert "still exists" in str(caught.value), str(caught.value)
        assert exp in {e.experiment_id for e in run_store.experiments(reader)}
        assert cached_run_ids(reader, exp) == set(ids)
        reader.close()


def test_real_deletions_still_leave_the_cache(seeded, make_workbench):
    """(d) Runs deleted on the server, and runs removed for good (`mlflow gc`), leave the cache
    with the next sweep; so does a mass removal, which the server confirms run by run."""
    server, exp, ids = seeded
    bench = make_workbench(server.url, mlflow__page_size=100)
    sync = _sweeping(bench)
    sync.sync_once()
    reader = bench.reader()
    client = _client(server.backend_uri)

    soft = ids[10:20]  # old runs: not on the newest page of deleted runs an incremental reads
    hard = ids[30:33]
    for run_id in soft + hard:
        client.delete_run(run_id)
    _gc(server, hard)
    sync.sync_once()
    assert cached_run_ids(reader, exp) == set(ids) - set(soft) - set(hard)

    # Most of the experiment removed for good: more than half the cache, and still removed.
    mass = ids[40:280]
    for run_id in mass:
        client.delete_run(run_id)
    _gc(server, mass)
    sync.sync_once()
    assert cached_run_ids(reader, exp) == _active_on_server(server, exp)
    assert len(cached_run_ids(reader, exp)) == 300 - 10 - 3 - 240
    reader.close()


# --- class 4: changes only the sweep used to see -----------------------------------------------


def test_experiment_last_update_time_is_no_change_signal(fresh_mlflow_server):
    """MLflow's experiment `last_update_time` does not move when runs are created, changed,
    renamed or deleted (only experiment renames, deletions and restores move it): it cannot tell
    the sync which experiments changed. Should a server start bumping it, this fails."""
    client = _client(fresh_mlflow_server.url)
    exp = client.create_experiment(f"lut-{uuid.uuid4().hex[:6]}")

    def stamp() -> int:
        return client.get_experiment(exp).last_update_time

    before = stamp()
    time.sleep(0.01)
    run_id = client.create_run(exp).info.run_id
    client.log_metric(run_id, "m", 1.0)
    client.set_terminated(run_id)
    client.log_metric(run_id, "m", 2.0)
    client.update_run(run_id, name="renamed")
    client.create_run(exp, start_time=1000)
    client.delete_run(run_id)
    assert stamp() == before


def test_changes_to_finished_runs_show_within_one_poll(fresh_mlflow_server, make_workbench):
    """(e) A metric logged on, and a rename of, a run that finished hours before the last pass."""
    server = fresh_mlflow_server
    client = _client(server.url)
    exp = client.create_experiment(f"late-{uuid.uuid4().hex[:6]}")
    now = _now_ms()

    def finished(name: str, start: int, end: int) -> str:
        run_id = client.create_run(exp, start_time=start, run_name=name).info.run_id
        client.log_metric(run_id, "acc", 0.5, timestamp=start + 1000)
        client.set_terminated(run_id, "FINISHED", end_time=end)
        return run_id

    evaluated = finished("evaluated", now - 5 * HOUR, now - 4 * HOUR)
    renamed = finished("before-rename", now - 3 * HOUR, now - 2 * HOUR)
    finished("newest", now - 2 * MINUTE, now - MINUTE)
    bench = make_workbench(server.url)
    sync = bench.source("mlflow").run_sync
    sync.sync_once()  # the sweep; the next passes are incremental
    reader = bench.reader()
    assert run_store.get_run(reader, renamed).name == "before-rename"

    client.log_metric(evaluated, "acc", 0.9, timestamp=_now_ms())
    client.update_run(renamed, name="after-rename")
    sync.sync_once()
    assert run_store.get_run(reader, evaluated).metrics["acc"].value == 0.9
    assert run_store.get_run(reader, renamed).name == "after-rename"
    reader.close()


def test_runs_started_before_the_watermark_show(fresh_mlflow_server, make_workbench):
    """(f) Imported runs and runs from clients with skewed clocks.

    A run imported with an old start time that is still running, or that finished within the
    last day, shows with the next poll; one that finished longer ago shows with the next sweep.
    A client whose clock runs two days ahead does not hide the runs that follow it.
    """
    server = fresh_mlflow_server
    client = _client(server.url)
    exp = client.create_experiment(f"import-{uuid.uuid4().hex[:6]}")
    now = _now_ms()
    first = client.create_run(exp, start_time=now - MINUTE, run_name="first").info.run_id
    client.set_terminated(first, "FINISHED", end_time=now)
    bench = make_workbench(server.url)
    sync = bench.source("mlflow").run_sync
    sync.sync_once()
    reader = bench.reader()

    running = client.create_run(exp, start_time=now - 3 * DAY, run_name="imported-running")
    recent = client.create_run(exp, start_time=now - 3 * DAY, run_name="imported-recent")
    client.set_terminated(recent.info.run_id, "FINISHED", end_time=now - 6 * HOUR)
    old = client.create_run(exp, start_time=now - 3 * DAY, run_name="imported-old")
    client.set_terminated(old.info.run_id, "FINISHED", end_time=now - 2 * DAY)
    sync.sync_once()
    cached = cached_run_ids(reader, exp)
    assert running.info.run_id in cached
    assert recent.info.run_id in cached

    # The one that finished days ago: with the sweep (its interval shortened for the test).
    sync.sweep_interval = 1.0
    time.sleep(1.1)
    sync.sync_once()
    assert old.info.run_id in cached_run_ids(reader, exp)

    # A client two days ahead finishes a run; a correct one finishes another after it.
    sync.sweep_interval = 600.0
    ahead = client.create_run(exp, start_time=_now_ms() + 2 * DAY, run_name="ahead").info.run_id
    client.set_terminated(ahead, "FINISHED", end_time=_now_ms() + 2 * DAY + MINUTE)
    sync.sync_once()
    start = _now_ms() - 2 * MINUTE
    after = client.create_run(exp, start_time=start, run_name="after-skew").info.run_id
    client.set_terminated(after, "FINISHED", end_time=start + MINUTE)
    sync.sync_once()
    assert {ahead, after} <= cached_run_ids(reader, exp)
    reader.close()


# --- runs the adapter could not read -------------------------------------------------------------


def test_unreadable_runs_are_kept_and_reported(seeded, make_workbench):
    """A run the adapter cannot parse is never deleted, and the pass fails naming it, after every
    good run was written."""
    server, exp, ids = seeded
    broken = ids[-1]

    def corrupt(req: dict, resp: dict) -> dict:
        for run in resp.get("runs", []):
            if run.get("info", {}).get("run_id") == broken:
                run["data"] = {"metrics": [{"key": "acc", "value": "not a number"}]}
        return resp

    with FaultProxy(server.url) as proxy:
        bench = make_workbench(proxy.url, mlflow__page_size=100)
        sync = _sweeping(bench)
        sync.sync_once()
        reader = bench.reader()
        proxy.on("POST", RUNS_SEARCH, Rewrite(corrupt))
        with pytest.raises(SourceError) as caught:
            sync.sync_once()
        assert broken in str(caught.value)
        assert cached_run_ids(reader, exp) == set(ids)
        reader.close()
