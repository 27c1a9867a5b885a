"""The MLflow adapter's payload parsing, page guard and Retry-After reading, on plain values
(the integration tests in tests/integration/test_trust_transport.py inject the same faults
through a proxy in front of a real server)."""

from __future__ import annotations

import email.utils
import time

import pytest

from mlopstui.adapters import SourceError
from mlopstui.adapters.mlflow import MAX_PAGES, PageGuard, _retry_after, _runs_page


def _run(run_id: str, **info: object) -> dict:
    return {
        "info": {"run_id": run_id, "experiment_id": "1", "start_time": 1700000000000, **info},
        "data": {"metrics": [{"key": "loss", "value": 0.5, "step": "3", "timestamp": 17}]},
    }


def test_a_page_keeps_the_runs_that_parse_and_names_the_rest() -> None:
    page = _runs_page(
        [
            _run("a"),
            _run("b", end_time="later"),
            "not a run",
            {"info": {"run_id": "c"}, "data": {"metrics": [{"key": "acc", "value": None}]}},
            {"info": {"run_id": "d"}, "data": {"tags": [{"value": "no key"}]}},
            {"info": {"run_id": "\x1b[31me"}, "data": []},
        ]
    )
    assert [r.run_id for r in page] == ["a"]
    assert page[0].metrics["loss"].step == 3
    assert page.skipped == [
        ("b", "run b: field 'info.end_time' is not a number ('later')"),
        ("", "run #3 of the page: field 'run' is not an object ('not a run')"),
        ("c", "run c: field 'data.metrics[0].value' is not a number (None)"),
        ("d", "run d: field 'data.tags[0].key' is missing"),
        ("\x1b[31me", "run e: field 'data' is not an object ([])"),
    ]


def test_mlflow_number_forms_still_parse() -> None:
    page = _runs_page(
        [_run("a", start_time="1700000000000", end_time=0), _run("b", start_time=1.7e12)]
    )
    assert not page.skipped
    assert [(r.start_time, r.end_time) for r in page] == [(1700000000000, None), (1.7e12, None)]
    nan = _runs_page(
        [{"info": {"run_id": "n"}, "data": {"metrics": [{"key": "x", "value": "NaN"}]}}]
    )
    assert str(nan[0].metrics["x"].value) == "nan"


def test_the_page_guard_stops_a_repeated_token_and_a_loop_that_never_ends() -> None:
    guard = PageGuard("http://mlflow", "runs/search")
    assert guard.follow("t1") == "t1"
    assert guard.follow("t2") == "t2"
    with pytest.raises(SourceError) as info:
        guard.follow("t1")
    assert str(info.value) == (
        "http://mlflow answered runs/search with the same next_page_token twice; "
        "stopped after 3 pages"
    )
    short = PageGuard("http://mlflow", "experiments/search", limit=3)
    short.follow("a")
    short.follow("b")
    with pytest.raises(SourceError, match=r"more than 3 pages; stopped"):
        short.follow("c")
    assert PageGuard("u", "e").follow("") is None
    assert MAX_PAGES == 10_000


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert _retry_after("7") == 7.0
    assert _retry_after(" 1.5 ") == 1.5
    assert _retry_after("-3") == 0.0
    assert _retry_after(None) is None
    assert _retry_after("soon") is None
    later = _retry_after(email.utils.formatdate(time.time() + 30, usegmt=True))
    assert later is not None and 28 <= later <= 31
    assert _retry_after(email.utils.formatdate(time.time() - 30, usegmt=True)) == 0.0
