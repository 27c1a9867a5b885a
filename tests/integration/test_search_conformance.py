"""Differential conformance: the cache answers MLflow search exactly as a real MLflow server.

A real `mlflow server` (SQLite backend, as the test services run it) is seeded through its
REST API with runs that exercise the edges: NaN and infinite metrics, ties on start time,
runs without a key, RUNNING runs without an end time, quotes, backslashes, `%` and `_` in
values, case variants, unicode, dataset inputs with and without a context. The workbench
syncs it into its cache. Then every case of `tests/search_corpus.py` (filter strings and
order_by clauses from MLflow's search docs and its search-utils and SQL-store tests) goes to
both: `MlflowClient.search_runs` on the server, and the cache's `RunsWindow`. The run ids and
their order must be equal, and where MLflow refuses a string the cache must refuse it too,
with a reason and a position. Grow the corpus with every mismatch found.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search_corpus import CASES, Case  # noqa: E402
from services import MlflowServer  # noqa: E402

from mlopstui.cache import runs as run_store  # noqa: E402
from mlopstui.cache import search  # noqa: E402

pytest_plugins = ["helpers"]

T0 = 1_700_000_000_000
TRICKY = ["a", "A", "ab", "a%b", "a_b", "it's", "back\\slash", "", 'say "hi"', "a\\_b"]


@dataclass
class Seed:
    """One run to create: everything MLflow can filter or sort on."""

    name: str
    start: int
    status: str = "FINISHED"
    end: int | None = None
    user: str = "alice"
    metrics: dict[str, list[float]] = field(default_factory=dict)  # history, last is latest
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: list[tuple[str, str, str | None]] = field(default_factory=list)
    experiment: int = 0


def seeds() -> list[Seed]:
    """~30 runs over two experiments; values chosen so every kind of edge has a run."""
    m_values = [math.nan, math.inf, -math.inf, 0.0, -1.5, 2.0, 1e-3, 1.7976931348623157e308]
    names = [
        "bert-base-1",
        "Bert-large",
        "tree_%_1",
        "resnet",
        "it's",
        "back\\slash",
        "bert-base-2",
        "café",
        "a_b",
        "a%b",
    ]
    statuses = ["FINISHED", "FAILED", "RUNNING", "KILLED", "SCHEDULED", "FINISHED"]
    users = ["alice", "bob", "Alice"]
    out = []
    for i in range(30):
        start = T0 + i * 5000
        if i in (4, 11, 20):  # ties on start_time: MLflow breaks them by run_id
            start = T0 + (i - 1) * 5000
        status = statuses[i % len(statuses)]
        end = None if status in ("RUNNING", "SCHEDULED") else start + 1000 * (1 + i % 7)
        seed = Seed(
            name=names[i % len(names)],
            start=start,
            status=status,
            end=end,
            user=users[i % len(users)],
            experiment=i % 2,
        )
        if i % 5 != 4:  # some runs have no acc at all
            seed.metrics["acc"] = [0.1, round(0.5 + (i % 6) * 0.1, 2)]  # ties on acc
        seed.metrics["loss"] = [1.0 / (i + 1)]
        seed.metrics["m"] = [m_values[i % len(m_values)]]
        if i % 3 == 0:
            seed.metrics["a.b"] = [float(i)]
            seed.metrics["with space"] = [float(-i)]
        seed.metrics["step_metric"] = [5.0, 9.0, float(i % 4)]  # latest is not the max
        seed.params["lr"] = ["0.01", "0.1", "1e-3"][i % 3]
        seed.params["model"] = ["tree", "linear", "Tree", "bert-base"][i % 4]
        seed.params["p"] = TRICKY[i % len(TRICKY)]
        if i % 4 == 0:
            seed.params["only_some"] = str(i)
        seed.tags["env"] = ["prod", "staging", "Prod"][i % 3]
        seed.tags["team"] = ["nlp", "vision"][i % 2]
        seed.tags["t"] = TRICKY[(i + 3) % len(TRICKY)]
        seed.tags["mlflow.source.type"] = ["LOCAL", "NOTEBOOK"][i % 2]
        seed.tags["note"] = ["café", "naïve 🚀", "plain"][i % 3]
        if i % 4 == 1:
            seed.tags["only_some"] = f"v{i}"
        if i % 3 == 0:
            seed.datasets.append(("train-set", "abc123", "training"))
        if i % 4 == 1:
            seed.datasets.append(("eval_set", "def456", "eval"))
        if i % 7 == 2:
            seed.datasets.append(("Train-Set", "abc123", None))
        out.append(seed)
    return out


def create(client: Any, experiment_ids: list[str], seed: Seed) -> str:
    from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag

    run = client.create_run(
        experiment_ids[seed.experiment],
        start_time=seed.start,
        tags={"mlflow.user": seed.user},
        run_name=seed.name,
    )
    run_id = run.info.run_id
    metrics = [
        Metric(key, value, seed.start + step, step)
        for key, values in seed.metrics.items()
        for step, value in enumerate(values)
    ]
    client.log_batch(
        run_id,
        metrics=metrics,
        params=[Param(k, v) for k, v in seed.params.items()],
        tags=[RunTag(k, v) for k, v in seed.tags.items()],
    )
    if seed.datasets:
        client.log_inputs(
            run_id,
            datasets=[
                DatasetInput(
                    Dataset(name, digest, "local", f"file:///data/{name}"),
                    tags=[InputTag("mlflow.data.context", ctx)] if ctx else [],
                )
                for name, digest, ctx in seed.datasets
            ],
        )
    if seed.end is not None:
        client.set_terminated(run_id, status=seed.status, end_time=seed.end)
    elif seed.status != "RUNNING":
        client.update_run(run_id, status=seed.status)
    return run_id


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A seeded real server, its client, and a workbench cache synced from it."""
    from mlflow import MlflowClient

    # MLflow answers a duplicated order_by field with HTTP 500, which its client retries with
    # backoff for minutes: a refusal is an answer here, so no retries.
    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    from mlopstui import config
    from mlopstui.workbench import Workbench

    server = MlflowServer(tmp_path_factory.mktemp("conformance-server")).start()
    bench = None
    try:
        client = MlflowClient(tracking_uri=server.url)
        experiment_ids = [client.create_experiment(n) for n in ("conf-a", "conf-b")]
        run_ids = [create(client, experiment_ids, s) for s in seeds()]
        cache = tmp_path_factory.mktemp("conformance-cache") / "c.sqlite"
        flags = {"cache": str(cache), "mlflow.tracking_uri": server.url}
        bench = Workbench(config.load(flags=flags, environ={}))
        bench.source("mlflow").run_sync.sync_once()
        conn = bench.reader()
        yield {
            "client": client,
            "experiment_ids": experiment_ids,
            "run_ids": run_ids,
            "conn": conn,
        }
    finally:
        if bench is not None:
            bench.close()
        server.stop()
        patch.undo()


def substitute(text: str, run_ids: list[str]) -> str:
    for i, run_id in enumerate(run_ids[:3]):
        text = text.replace(f"{{RUN_ID_{i}}}", run_id)
    return text


def mlflow_answer(world: dict[str, Any], filter_string: str, order_by: list[str]) -> Any:
    """Run ids in MLflow's order, or the exception MLflow refused the case with."""
    from mlflow.exceptions import MlflowException

    try:
        runs = world["client"].search_runs(
            world["experiment_ids"], filter_string, order_by=order_by, max_results=1000
        )
    except MlflowException as exc:
        return exc
    return [r.info.run_id for r in runs]


def cache_answer(world: dict[str, Any], filter_string: str, order_by: list[str]) -> Any:
    """Run ids in the cache's order, as the runs table pages them, or the FilterError it
    refused the case with.

    The filter box sends input without an operator to plain-text search by design (tested
    below); MLflow accepts such input only when it holds no comparison at all (`AND`), which
    is every run, so the window gets no filter then.
    """
    try:
        search.parse_filter(filter_string)
        window = run_store.RunsWindow(
            world["conn"],
            experiment_ids=world["experiment_ids"],
            filter_text=filter_string if search.has_operator(filter_string) else "",
            order_by=order_by,
        )
    except search.FilterError as exc:
        return exc
    ids = [r.run_id for r in window.page(0, 1000)]
    # Page by page (7 rows: segments end inside pages), and from the far end, as the runs
    # table reads at PageDown and End: the same order.
    total = window.count()
    assert total == len(ids)
    pages = [r.run_id for offset in range(0, total, 7) for r in window.page(offset, 7, total)]
    assert pages == ids, "paging changes the order"
    return ids


def test_the_seed_reached_the_cache(world: dict[str, Any]) -> None:
    """Every seeded run is cached, datasets and NaN metrics included."""
    conn = world["conn"]
    cached = {r[0] for r in conn.execute("SELECT run_id FROM runs")}
    assert cached == set(world["run_ids"])
    assert conn.execute("SELECT count(*) FROM run_datasets").fetchone()[0] > 10
    assert conn.execute("SELECT count(*) FROM metrics WHERE is_nan").fetchone()[0] >= 3


@pytest.mark.parametrize("case", CASES, ids=[f"{i:03d}" for i in range(len(CASES))])
def test_cache_answers_as_mlflow(world: dict[str, Any], case: Case) -> None:
    """Same run ids in the same order, or both refuse (ours with a reason and position)."""
    filter_string = substitute(case.filter, world["run_ids"])
    order_by = [substitute(o, world["run_ids"]) for o in case.order_by]
    theirs = mlflow_answer(world, filter_string, order_by)
    ours = cache_answer(world, filter_string, order_by)
    shown = f"filter {filter_string!r} order_by {order_by} ({case.source})"
    if isinstance(theirs, Exception):
        assert isinstance(ours, search.FilterError), (
            f"MLflow refuses {shown} ({str(theirs)[:200]}), the cache answered {len(ours)} runs"
        )
        assert ours.reason
        if filter_string.strip() and not order_by:
            assert ours.position is not None, f"no position for {shown}: {ours}"
        return
    assert not isinstance(ours, Exception), (
        f"MLflow answers {shown} with {len(theirs)} runs, the cache refuses: {ours}"
    )
    assert ours == theirs, f"{shown}: order or membership differs"
    if search.has_operator(filter_string):
        # The filter box routes it to the same MLflow-syntax path, not to plain text.
        compiled = search.compile_filter(filter_string)
        assert compiled is not None and not compiled.plain_text, shown


def test_the_corpus_has_both_answers_and_refusals(world: dict[str, Any]) -> None:
    """A corpus of only refusals (or only empty answers) would prove little."""
    answered = refused = nonempty = 0
    for case in CASES:
        theirs = mlflow_answer(
            world, substitute(case.filter, world["run_ids"]), list(case.order_by)
        )
        if isinstance(theirs, Exception):
            refused += 1
        else:
            answered += 1
            nonempty += bool(theirs)
    assert refused >= 100 and answered >= 300 and nonempty >= 200, (answered, refused, nonempty)
