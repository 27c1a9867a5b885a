"""A metric's history as a line chart: one run, or several marked runs overlaid.

Drawn by plotext through textual-plotext (Textualize's widget for it), so axes, ticks and the
legend are the library's, not ours. Histories are read from the cache first and fetched in the
background (`ctx.fetch("metric_history")`, which stores what it gets) when the cache has none or
the run is still running; `h` fetches them all again. Step is on x; a metric logged without
steps (every point at the same step) is drawn against its point number instead.
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual_plotext import PlotextPlot

from mlopstui import text
from mlopstui.cache import runs as run_store
from mlopstui.domain import Run
from mlopstui.ui.background import readable

MAX_RUNS = 10
"""The most runs overlaid on one chart (more lines than colours tell apart)."""
MAX_POINTS = 2000
"""Points drawn per line; a longer history is thinned evenly (its last point kept)."""
LABEL_LIMIT = 20


def thin(points: list[tuple[float, float]], limit: int = MAX_POINTS) -> list[tuple[float, float]]:
    """At most `limit` points spread evenly over `points`, the last one always among them:
    braille cells are 2 dots wide, so a 25,000-step history drawn whole only costs time."""
    if len(points) <= limit:
        return points
    stride = math.ceil(len(points) / limit)
    kept = points[::stride]
    return kept if kept[-1] == points[-1] else [*kept, points[-1]]


DRAWABLE = 1e300
"""Values at or beyond this magnitude are left out of a chart (plotext overflows on them)."""


def series(points: list[tuple[int, float]]) -> tuple[list[tuple[float, float]], int, bool]:
    """(x, y) to draw, how many points were left out as not finite (NaN, infinity, or
    MLflow's stand-in for infinity), and
    whether x is the point number because every point has the same step."""
    # MLflow stores an infinity as +-1.797e308 and sends that back: as unplottable as inf.
    finite = [(s, v) for s, v in points if math.isfinite(v) and abs(v) < DRAWABLE]
    dropped = len(points) - len(finite)
    by_index = len(finite) > 1 and len({s for s, _ in finite}) == 1
    if by_index:
        return [(float(i), v) for i, (_s, v) in enumerate(finite)], dropped, True
    return [(float(s), v) for s, v in finite], dropped, False


class ChartScreen(Screen[None]):
    """The history of one metric for one or more runs."""

    DEFAULT_CSS = """
    ChartScreen #chart-title { height: 1; padding: 0 1; }
    ChartScreen PlotextPlot { height: 1fr; }
    ChartScreen #chart-status { height: auto; max-height: 4; padding: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q", "app.pop_screen", "Back"),
        Binding("n", "metric(1)", "Next metric"),
        Binding("N", "metric(-1)", "Previous metric", show=False),
        Binding("h", "refetch", "Refetch"),
    ]

    def __init__(self, ctx: Any, run_ids: list[str], key: str | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        reader = ctx.reader()
        found = [r for i in dict.fromkeys(run_ids) if (r := run_store.get_run(reader, i))]
        self.left_out = max(0, len(found) - MAX_RUNS)
        self.runs: list[Run] = found[:MAX_RUNS]
        self.missing = len(dict.fromkeys(run_ids)) - len(found)
        self.keys = self._keys()
        self.key = key if key in self.keys else (self.keys[0] if self.keys else "")
        self.histories: dict[tuple[str, str], list[tuple[int, float]]] = {}
        self.errors: dict[tuple[str, str], str] = {}
        self.fetching: set[tuple[str, str]] = set()

    def _keys(self) -> list[str]:
        """Metric keys of the runs: those every run has first, then the rest, each sorted."""
        every = [set(r.metrics) for r in self.runs]
        common = set.intersection(*every) if every else set()
        rest = set().union(*every) - common if every else set()
        return sorted(common) + sorted(rest)

    def compose(self) -> ComposeResult:
        yield Static(id="chart-title")
        yield PlotextPlot(id="chart")
        yield Static(id="chart-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load()

    # ------------------------------------------------------------------ data

    def load(self, *, refetch: bool = False) -> None:
        """Read the current metric's histories from the cache; fetch those it lacks (all of
        them when `refetch`), then draw."""
        reader = self.ctx.reader()
        for run in self.runs:
            if self.key not in run.metrics:
                continue
            slot = (run.run_id, self.key)
            if slot not in self.histories:
                cached = run_store.metric_history(reader, run.run_id, self.key)
                if cached:
                    self.histories[slot] = [(int(s), float(v)) for s, v in cached]
            stale = run.status == "RUNNING" and slot not in self.fetching
            if (refetch or slot not in self.histories or stale) and slot not in self.fetching:
                self._fetch(run.run_id, self.key)
        self.draw()

    def _fetch(self, run_id: str, key: str) -> None:
        slot = (run_id, key)
        self.fetching.add(slot)
        self.ctx.fetch(
            "metric_history",
            lambda result: self._fetched(slot, result),
            run_id=run_id,
            key=key,
        )

    def _fetched(self, slot: tuple[str, str], result: Any) -> None:
        self.fetching.discard(slot)
        if isinstance(result, Exception):
            self.errors[slot] = f"history unavailable: {readable(result, limit=80)}"
        else:
            self.errors.pop(slot, None)
            self.histories[slot] = [(int(s), float(v)) for s, _t, v in result]
        if self.is_mounted and slot[1] == self.key:
            self.draw()

    def points(self, run: Run) -> list[tuple[int, float]]:
        """The history to draw for a run: fetched or cached, else the latest value alone."""
        found = self.histories.get((run.run_id, self.key))
        if found:
            return found
        metric = run.metrics.get(self.key)
        return [] if metric is None else [(metric.step, metric.value)]

    def labels(self) -> dict[str, str]:
        """A legend label per run: its cleaned name, with a short id where names repeat."""
        names = {r.run_id: text.clean(r.name, limit=LABEL_LIMIT) or r.run_id[:8] for r in self.runs}
        seen = list(names.values())
        return {
            rid: f"{name} {rid[:6]}" if seen.count(name) > 1 else name
            for rid, name in names.items()
        }

    # ------------------------------------------------------------------ drawing

    def draw(self) -> None:
        """Draw the chart and the lines around it from what is known now."""
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        key = text.clean(self.key, limit=60)
        title = Text(overflow="ellipsis", no_wrap=True)
        if not self.runs:
            title.append("No runs to chart: they are no longer in the cache.", style="bold")
        elif not self.key:
            title.append("These runs have logged no metrics.", style="bold")
        else:
            title.append(key, style="bold")
            title.append(f"  ({self.keys.index(self.key) + 1} of {len(self.keys)} metrics)")
        self.query_one("#chart-title", Static).update(title)

        notes: list[tuple[str, str]] = []
        by_index = False
        dropped = 0
        drawn = 0
        labels = self.labels()
        for run in self.runs:
            if self.key not in run.metrics:
                notes.append((f"{labels[run.run_id]}: has no metric {key}", "dim"))
                continue
            xy, lost, indexed = series(self.points(run))
            dropped += lost
            by_index = by_index or indexed
            xy = thin(xy)
            if not xy:
                continue
            drawn += 1
            xs, ys = [x for x, _ in xy], [y for _, y in xy]
            if len(self.runs) > 1:
                plt.plot(xs, ys, label=labels[run.run_id], marker="braille")
            else:
                plt.plot(xs, ys, marker="braille")
        if self.runs and self.key:
            plt.xlabel("point" if by_index else "step")
        if len(self.runs) == 1 and self.runs[0].name:
            plt.title(labels[self.runs[0].run_id])
        plot.refresh()

        for run in self.runs:
            slot = (run.run_id, self.key)
            if slot in self.errors:
                notes.append((f"{labels[run.run_id]}: {self.errors[slot]}", "red"))
        status = Text(overflow="ellipsis")
        if self.runs and self.key:
            waiting = sum(1 for r in self.runs if (r.run_id, self.key) in self.fetching)
            status.append(f"{drawn} of {len(self.runs)} runs drawn")
            if waiting:
                status.append(f" · fetching {waiting} histories…", style="dim")
            if dropped:
                status.append(f" · {dropped} points not finite, left out", style="yellow")
            if self.left_out:
                status.append(f" · {self.left_out} more marked runs not drawn", style="yellow")
            if self.missing:
                status.append(f" · {self.missing} runs no longer cached", style="yellow")
        for note, style in notes:
            status.append("\n" + note, style=style)
        self.query_one("#chart-status", Static).update(status)

    # ------------------------------------------------------------------ actions

    def action_metric(self, step: int) -> None:
        """Chart the next (or previous) metric key of these runs."""
        if len(self.keys) < 2:
            self.notify("These runs have no other metric.", severity="warning")
            return
        self.key = self.keys[(self.keys.index(self.key) + step) % len(self.keys)]
        self.load()

    def action_refetch(self) -> None:
        """Fetch this metric's histories again (a running run has logged more since)."""
        self.load(refetch=True)
