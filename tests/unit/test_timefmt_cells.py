"""Time formatting and the pure run-cell renderers (column fitting, cells, sparklines)."""

from __future__ import annotations

import math

import pytest

from mlopstui import timefmt
from mlopstui.cache.runs import RunRow
from mlopstui.ui.widgets import run_cells
from mlopstui.ui.widgets.sparkline import BARS, sparkline

T0 = 1_772_452_800_000  # 2026-03-02 12:00:00 UTC, in ms


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (-5, "0 s ago"),
        (0, "0 s ago"),
        (59.9, "59 s ago"),
        (60, "1 min ago"),
        (3599, "59 min ago"),
        (3600, "1 h ago"),
        (86399, "23 h ago"),
        (86400, "1 d ago"),
        (10 * 86400, "10 d ago"),
    ],
)
def test_ago(seconds: float, expected: str) -> None:
    """Relative ages pick the largest whole unit."""
    assert timefmt.ago(seconds) == expected


@pytest.mark.parametrize(
    ("ms", "expected"),
    [
        (None, ""),
        (-1, ""),
        (0, "0ms"),
        (850, "850ms"),
        (42_000, "42s"),
        (185_000, "3m05s"),
        (7_380_000, "2h03m"),
        (4 * 86_400_000 + 2 * 3_600_000, "4d02h"),
    ],
)
def test_duration(ms: int | None, expected: str) -> None:
    """Durations are compact and zero-padded after the first unit."""
    assert timefmt.duration(ms) == expected


def test_clock_and_frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    """clock() formats local time (UTC in tests); MLOPSTUI_FROZEN_TIME pins now()."""
    assert timefmt.clock(T0) == "2026-03-02 12:00"
    assert timefmt.clock(T0 + 61_000, with_date=False) == "12:01"
    assert timefmt.clock(None) == "" and timefmt.clock(0) == ""
    monkeypatch.setenv("MLOPSTUI_FROZEN_TIME", str(T0 / 1000))
    assert timefmt.now() == T0 / 1000
    assert timefmt.now_ms() == T0


def row(**kwargs: object) -> RunRow:
    base: dict[str, object] = {
        "id": 1,
        "run_id": "abc123",
        "experiment_id": "1",
        "name": "bert",
        "status": "FINISHED",
        "start_time": T0,
        "end_time": T0 + 42_000,
        "duration": 42_000,
        "user": "ana",
        "source": "/home/ana/project/train.py",
    }
    base.update(kwargs)
    return RunRow(**base)  # type: ignore[arg-type]


COLUMNS = ["name", "status", "start_time", "duration", "metrics.acc", "params.lr"]


@pytest.mark.parametrize("width", [40, 60, 80, 100, 200])
def test_fit_never_exceeds_the_width(width: int) -> None:
    """Chosen widths plus one space between columns fit the width (and the "+N col" hint when
    columns are left out); the columns shown are a prefix, in order."""
    layout, hidden = run_cells.fit(COLUMNS, width)
    assert [c for c, _ in layout] == COLUMNS[: len(layout)]
    assert hidden == len(COLUMNS) - len(layout)
    room = width - (run_cells.HINT if hidden else 0)
    assert sum(w for _, w in layout) + len(layout) - 1 <= room
    assert all(w >= run_cells.width(c) for c, w in layout)


def test_fit_sizes_columns_to_their_content() -> None:
    """A column is as wide as its widest value (or header), within its cap: spare width is
    not handed to the name, and a long user name is not cut when there is room."""
    natural = {"name": 14, "user": 17, "source": 40}
    layout = dict(run_cells.fit(["name", "user", "source"], 200, natural)[0])
    assert layout == {"name": 14, "user": 17, "source": run_cells.limits("source")[1]}
    assert run_cells.fit(COLUMNS, 5) == ([], len(COLUMNS))


def test_fit_keeps_the_sorted_column_when_space_is_short() -> None:
    cols = ["name", "status", "start_time", "duration", "user", "source"]
    layout, hidden = run_cells.fit(cols, 50, {"name": 30}, keep="source")
    shown = [c for c, _ in layout]
    assert hidden and shown[0] == "name" and "source" in shown
    assert shown == [c for c in cols if c in shown]  # still in the chosen order


def test_cells_for_attributes() -> None:
    """Times drop the year, durations are compact, source shows its basename, text cleaned."""
    r = row(name="\x1b[31mbert\x1b[0m\u202e")
    assert run_cells.cell(r, "name", T0) == "bert"
    assert run_cells.cell(r, "status", T0) == "FINISHED"
    assert run_cells.cell(r, "start_time", T0) == "03-02 12:00"
    assert run_cells.cell(r, "end_time", T0) == "03-02 12:00"
    assert run_cells.cell(r, "duration", T0) == "42s"
    assert run_cells.cell(r, "source", T0) == "train.py"
    assert run_cells.cell(row(source="nb"), "source", T0) == "nb"
    assert run_cells.cell(row(start_time=None, end_time=None), "start_time", T0) == ""


def test_running_duration_is_computed_from_now() -> None:
    """A running run without a stored duration shows now - start."""
    running = row(status="RUNNING", end_time=None, duration=None)
    assert run_cells.cell(running, "duration", T0 + 185_000) == "3m05s"
    assert run_cells.cell(running, "duration", T0 + 7_380_000) == "2h03m"
    stopped = row(status="KILLED", end_time=None, duration=None)
    assert run_cells.cell(stopped, "duration", T0 + 185_000) == ""


def test_cells_for_values() -> None:
    """Metrics show 4 significant digits; params/tags are cleaned; missing is blank."""
    r = row(
        values={
            "metrics.acc": 0.912345678,
            "metrics.acc.max": 0.97777,
            "metrics.loss": 12345.678,
            "metrics.steps": 7,
            "params.lr": "\x1b]52;c;QUJD\x070.01",
        }
    )
    assert run_cells.cell(r, "metrics.acc", T0) == "0.9123"
    assert run_cells.cell(r, "metrics.acc.max", T0) == "0.9778"
    assert run_cells.cell(r, "metrics.loss", T0) == "1.235e+04"
    assert run_cells.cell(r, "metrics.steps", T0) == "7"
    assert run_cells.cell(r, "params.lr", T0) == "0.01"
    assert run_cells.cell(r, "metrics.missing", T0) == ""
    assert run_cells.cell(r, "tags.team", T0) == ""


def test_labels_and_clip() -> None:
    """Headers are readable; clip pads or cuts to exactly the width with an ellipsis."""
    assert run_cells.label("start_time") == "Start"
    assert run_cells.label("metrics.val_acc") == "val_acc"
    assert run_cells.label("metrics.val_acc.max").endswith("max")
    assert run_cells.label("params.\x1b[2Jlr") == "lr"
    assert run_cells.clip("abc", 5) == "abc  "
    assert run_cells.clip("abcdef", 4) == "abc…"
    assert run_cells.clip("abc", 0) == ""


@pytest.mark.parametrize("n", [1, 5, 24, 25, 100, 1001])
@pytest.mark.parametrize("width", [1, 8, 24])
def test_sparkline_never_exceeds_its_width(n: int, width: int) -> None:
    """Any series fits the cell; short series keep one bar per point."""
    line = sparkline([math.sin(i / 3) for i in range(n)], width)
    assert 1 <= len(line) <= width
    assert len(line) == min(n, width)
    assert set(line) <= set(BARS)


def test_sparkline_shapes() -> None:
    """Rising data rises from the lowest to the highest bar; flat data is a flat line."""
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == BARS
    assert sparkline([3.0] * 5) == BARS[3] * 5
    assert sparkline([5.0]) == BARS[3]


def test_sparkline_ignores_nan_inf_and_none() -> None:
    """Non-finite points are skipped; nothing finite draws nothing."""
    nan, inf = float("nan"), float("inf")
    assert sparkline([0.0, nan, 1.0, inf, None]) == BARS[0] + BARS[7]  # type: ignore[list-item]
    assert sparkline([]) == ""
    assert sparkline([nan, -inf]) == ""
