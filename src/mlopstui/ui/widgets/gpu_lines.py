"""Pure rendering of the GPU nodes pane's text lines: the context header, the notes (partial
data, unreachable sources, empty states), the detail, info and sources lines.

Plain values in, inert Text out: every external string goes through `inert`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text

from mlopstui.cache.gpu_nodes import NodeRow
from mlopstui.cache.kube import WatchStatus
from mlopstui.domain import Freshness
from mlopstui.ui.inert import inert
from mlopstui.ui.screens import time_travel
from mlopstui.ui.status import freshness_text
from mlopstui.ui.widgets.gpu_cells import IDLE_MARK

NO_KUBERNETES = "No Kubernetes: set KUBECONFIG or [kubernetes] kubeconfig"
NO_PROMETHEUS = "No cluster GPU metrics: set [gpu] prometheus_url to see utilisation"
_STYLES = {"ok": "dim", "error": "bold red", "warning": "yellow", "muted": "dim"}


def _line(prefix: str, style: str, value: object, limit: int = 200) -> Text:
    out = Text(prefix, style=style)
    out.append_text(inert(value, style, limit=limit))
    return out


def context_label(kube: dict[str, Any], *, server: bool = True) -> Text:
    """'⎈ gpu-dev  https://…' — a production context in red and so labelled, read-only
    contexts labelled READ-ONLY."""
    line = Text()
    context = kube.get("context")
    if not context:
        line.append("⎈ no Kubernetes context", style="dim")
        return line
    production = bool(kube.get("production"))
    line.append("⎈ ", style="bold red" if production else "bold cyan")
    line.append_text(inert(context, "bold red" if production else "bold", limit=48))
    if production:
        line.append(" PRODUCTION", style="bold red")
    if kube.get("read_only"):
        line.append(" READ-ONLY", style="bold yellow")
    if server and kube.get("server"):
        line.append("  ")
        line.append_text(inert(kube["server"], "dim", limit=60))
    return line


def mode_label(as_of: float | None, now: float) -> Text:
    """'● live' or 'as of 11:15 (history)  ] later · 0 live'."""
    if as_of is None:
        return Text("● live", style="green")
    out = Text(f"as of {time_travel.label(as_of, now)} (history)", style="bold reverse")
    out.append("  ] later · 0 live", style="dim")
    return out


def header_line(kube: dict[str, Any], as_of: float | None, now: float) -> Text:
    """The pane's first line: the pinned context (always shown) and live or history."""
    line = context_label(kube)
    line.append("  ·  ", style="dim")
    line.append_text(mode_label(as_of, now))
    return line


def notes(
    *,
    kube: dict[str, Any],
    prometheus: bool,
    kube_fresh: Freshness | None,
    dcgm_fresh: Freshness | None,
    watch: Iterable[WatchStatus],
    total: int,
    shown: int,
    filter_text: str,
    as_of: float | None,
    now: float,
) -> Text:
    """The lines above the table that explain what is missing or old (none: '')."""
    lines: list[Text] = []
    context = kube.get("context")
    if kube.get("error"):
        lines.append(_line("✗ Kubernetes unusable: ", "bold red", kube["error"]))
    elif not context:
        lines.append(Text(NO_KUBERNETES, style="bold"))
    else:
        failing = kube_fresh is not None and kube_fresh.state == "failing"
        if failing:
            msg, _kind = freshness_text(kube_fresh, now)  # type: ignore[arg-type]
            line = Text(f"✗ Kubernetes {msg}", style="bold red")
            if kube_fresh.last_error:  # type: ignore[union-attr]
                line.append_text(inert(f" — {kube_fresh.last_error}", "dim", limit=120))  # type: ignore[union-attr]
            lines.append(line)
        for status in watch:
            if status.state == "forbidden":
                lines.append(_line("⚠ Partial data: ", "yellow", status.describe()))
            elif status.state != "watching" and not failing:
                # A failed watch while the source as a whole is fine (said once above if not).
                lines.append(_line("⚠ ", "yellow", status.describe()))
    if not prometheus:
        lines.append(Text(NO_PROMETHEUS, style="dim"))
    elif dcgm_fresh is not None and dcgm_fresh.state == "failing":
        msg, _kind = freshness_text(dcgm_fresh, now)
        lines.append(Text(f"✗ DCGM (Prometheus) {msg}", style="bold red"))
    if context and not total:
        lines.append(_empty(context, kube_fresh, as_of))
    elif total and not shown:
        lines.append(
            _line("No node matches the filter ", "yellow", repr(filter_text), 60)
            + Text(" (Esc clears it)", style="yellow")
        )
    return Text("\n").join(lines)


def _empty(context: str, fresh: Freshness | None, as_of: float | None) -> Text:
    where = inert(context, "bold", limit=48)
    if as_of is not None:
        return Text("No GPU nodes in ") + where + Text(" at that time (no history cached).")
    if fresh is None or fresh.state == "never":
        return Text("No nodes cached yet for ") + where + Text("; syncing…")
    return (
        Text("No GPU nodes in ")
        + where
        + Text(" (no node has nvidia.com/gpu capacity and no pod requests GPUs).")
    )


def info_line(
    rows: list[NodeRow],
    total: int,
    filter_text: str,
    sort: str,
    descending: bool,
    *,
    cluster: str | None = "",
) -> Text:
    """'4 nodes · 28 GPUs · 13 allocated · 8 in use · ⚑ 1 idle · sort node ↑'."""
    info = Text()
    if cluster is None:
        info.append("No cluster: this host's GPUs only", style="dim")
        return info
    known = [r.allocatable for r in rows if r.allocatable is not None]
    gpus = f"{sum(known)}{'+?' if len(known) < len(rows) else ''}" if known else "?"
    allocated = sum(r.allocated for r in rows)
    in_use = sum(r.in_use or 0 for r in rows)
    idle = sum(1 for r in rows if r.idle_but_allocated)
    n = len(rows)
    info.append(f"{n} node{'' if n == 1 else 's'}")
    if filter_text:
        info.append(f" of {total} (filtered)", style="yellow")
    info.append(f" · {gpus} GPUs · {allocated} allocated · {in_use} in use")
    if idle:
        info.append(f" · {IDLE_MARK} {idle} idle", style="bold yellow")
    arrow = "↓" if descending else "↑"
    info.append(f" · sort {sort} {arrow}", style="dim")
    return info


def sources_line(entries: list[tuple[str, Freshness]], now: float) -> Text:
    """'● Kubernetes live · ✗ DCGM failing since 10:42 · ● NVML synced 11:58 (7 min ago)':
    healthy sources say "live", so the line only changes when a source's state does."""
    line = Text()
    for name, fresh in entries:
        msg, kind = freshness_text(fresh, now)
        msg = msg.split(",")[0]  # the notes above say what is shown instead
        if kind == "ok":
            # A clock here would repaint the line every minute while nothing else changes
            # (the pane's budget is 0 B/s when no value does); "live" says the same.
            msg = "live"
        if line:
            line.append(" · ", style="dim")
        line.append(
            "✗ " if kind == "error" else "● ", style="green" if kind == "ok" else _STYLES[kind]
        )
        line.append(f"{name} ", style="bold")
        line.append(msg, style=_STYLES[kind])
    if not line:
        line.append("no GPU sources configured", style="dim")
    return line


def detail_line(row: NodeRow | None, busy: float, idle_minutes: float) -> Text:
    """Under the table: who holds the selected node's GPUs, and why it is flagged."""
    line = Text()
    if row is None:
        return line
    style = "bold yellow" if row.idle_but_allocated else "bold"
    line.append_text(inert(row.name, style, limit=40))
    if row.idle_but_allocated:
        line.append(
            f" {IDLE_MARK} {row.allocated} GPUs allocated, idle "
            f"(≤{busy:g}% for {idle_minutes:g} min)",
            style="yellow",
        )
    if row.holders:
        line.append(": " if row.idle_but_allocated else " held by ")
        for i, hold in enumerate(row.holders[:3]):
            if i:
                line.append(", ")
            line.append_text(inert(f"{hold.namespace}/{hold.name}", limit=50))
            line.append(f" ({hold.gpus})", style="dim")
        if len(row.holders) > 3:
            line.append(f" +{len(row.holders) - 3}", style="dim")
    else:
        line.append(" · no pod holds its GPUs", style="dim")
    line.append(" · Enter: detail", style="dim")
    return line


def local_title(
    hosts: list[str],
    *,
    note: str | None,
    nvml_on: bool,
    as_of: float | None,
    samples: bool,
    processes: bool,
) -> Text:
    """The local GPUs' title, or the one quiet line saying why there are none."""
    title = Text()
    # A note means NVML is not usable now: cached devices are from an earlier session.
    if not hosts or (note and (as_of is None or not samples)):
        title.append("Local GPUs: ", style="dim")
        if note:
            title.append_text(inert(note, "dim", limit=120))
        elif not nvml_on:
            title.append("NVML is off ([gpu] nvml = false)", style="dim")
        else:
            title.append("none seen on this host (NVML not synced yet)", style="dim")
        return title
    title.append("Local GPUs ", style="bold")
    title.append_text(inert(", ".join(hosts), limit=40))
    title.append(" (NVML)", style="dim")
    if as_of is not None and not samples:
        title.append(" · no samples cached for that time", style="dim")
    elif as_of is not None:
        title.append(" · processes: live only", style="dim")
    elif not processes:
        title.append(" · no GPU processes", style="dim")
    return title
