"""Quota: each team's GPU quota and use, as the gpu-quota source left it in the cache.

Config, `[panes.gpu-quota]` in the mlopstui config file (optional):

    warn_at = 0.9     # a team using this share of its quota or more is drawn in yellow

A team over its quota is drawn in bold red whatever `warn_at` says.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from mlopstui.plugin_api import API_VERSION, Pane, PaneContext, ago, clean, clock, data, now
from mlopstui_gpu_quota import RECORDS, SOURCE, TOPIC

DEFAULT_WARN_AT = 0.9
OVER = "bold red"
WARN = "yellow"
COLUMNS = ("Team", "Quota", "Used", "Free", "Used %")

HOW_TO_CONFIGURE = (
    "No GPU quotas cached yet.\n\n"
    "Point the gpu-quota source at your team's quota service in the mlopstui config file "
    "(~/.config/mlopstui/config.toml or --config FILE):\n\n"
    "    [sources.gpu-quota]\n"
    '    url = "http://quota.example.internal:8080"\n\n'
    "It syncs GET <url>/quotas every minute; `mlopstui doctor` checks it."
)


class QuotaPane(Pane):
    """Team GPU quotas: quota, used, free and used share; over-quota teams highlighted."""

    pane_id = "gpu-quota"
    title = "Quota"
    api_version = API_VERSION
    # "freshness": the scheduler records a sync (and announces it) after the job returns, so
    # the line saying when it synced (or why it fails) is redrawn then.
    topics = frozenset({TOPIC, "freshness"})

    DEFAULT_CSS = """
    QuotaPane #quota-title { height: 1; padding: 0 1; }
    QuotaPane #quota-freshness { height: 1; padding: 0 1; }
    QuotaPane #quota-table { height: 1fr; }
    QuotaPane #quota-empty { padding: 1 2; }
    """

    BINDINGS = [Binding("r", "sync", "Sync quotas")]

    def __init__(self, ctx: PaneContext) -> None:
        super().__init__(ctx)
        self.warn_at, self.config_error = _warn_at(ctx.config())
        self.teams: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        yield Static(id="quota-title")
        yield Static(id="quota-freshness")
        yield DataTable(id="quota-table", cursor_type="row")
        yield Static(id="quota-empty")

    def on_mount(self) -> None:
        table = self.query_one("#quota-table", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)
        if self.config_error:
            self.ctx.notify(self.config_error, severity="warning")
        self.reload()

    def focus_default(self) -> None:
        self.query_one("#quota-table", DataTable).focus()

    def on_topics_changed(self, topics: set[str]) -> None:
        if TOPIC in topics:
            self.reload()
        else:
            self.show_freshness()

    def action_sync(self) -> None:
        """Sync the quota service now."""
        self.ctx.request_sync(SOURCE)

    # ------------------------------------------------------------------ drawing

    def reload(self) -> None:
        """Re-read the teams from the cache and redraw."""
        self.teams = _teams(data.records(self.ctx.reader(), SOURCE, RECORDS))
        self.teams.sort(key=lambda t: (-_share(t), t["team"]))
        table = self.query_one("#quota-table", DataTable)
        table.clear()
        for team in self.teams:
            quota, used = team["quota_gpus"], team["used_gpus"]
            share = _share(team)
            over = used > quota
            style = OVER if over else (WARN if quota and share >= self.warn_at else "")
            percent = f"{share:.0%}" if quota else ("over" if over else "n/a")
            table.add_row(
                Text(clean(team["team"], limit=60), style=style),
                Text(str(quota), style=style, justify="right"),
                Text(str(used), style=style, justify="right"),
                Text(str(max(quota - used, 0)), style=style, justify="right"),
                Text(
                    f"{percent} over" if over and quota else percent, style=style, justify="right"
                ),
                key=team["team"],
            )
        table.display = bool(self.teams)
        empty = self.query_one("#quota-empty", Static)
        empty.display = not self.teams
        if not self.teams:
            empty.update(Text(self._empty_text()))
        over = sum(1 for t in self.teams if t["used_gpus"] > t["quota_gpus"])
        used = sum(t["used_gpus"] for t in self.teams)
        quota = sum(t["quota_gpus"] for t in self.teams)
        title = Text(f"GPU quota: {len(self.teams)} teams, {used}/{quota} GPUs used", "bold")
        if over:
            title.append(f"  {over} over quota", OVER)
        self.query_one("#quota-title", Static).update(title)
        self.show_freshness()

    def show_freshness(self) -> None:
        """The line saying when the quotas were synced, or why they cannot be."""
        fresh = self.ctx.freshness(SOURCE)
        line = Text(style="dim")
        if fresh.failing_since is not None:
            line.append(f"unreachable since {_clock(fresh.failing_since)}", "red")
            if fresh.last_error:
                line.append(f": {clean(fresh.last_error, limit=120)}")
            if fresh.last_ok:
                line.append(f"; showing quotas from {_clock(fresh.last_ok)}")
        elif fresh.last_ok is not None:
            line.append(f"synced {_clock(fresh.last_ok)} ({ago(now() - fresh.last_ok)})")
        else:
            line.append("not synced yet")
        self.query_one("#quota-freshness", Static).update(line)

    def _empty_text(self) -> str:
        info = self.ctx.source_info(SOURCE)
        if info.get("error"):
            return f"The gpu-quota source is misconfigured: {clean(info['error'])}"
        if info.get("configured"):
            fresh = self.ctx.freshness(SOURCE)
            where = clean(info.get("label", SOURCE))
            if fresh.last_error:
                return f"No quotas from {where} yet: {clean(fresh.last_error)}"
            if fresh.last_ok is not None:
                return f"{where} reports no teams."
            return f"Waiting for the first sync of {where}…"
        return HOW_TO_CONFIGURE


def _teams(records: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """The stored teams, leaving out any record that is not one (a damaged row)."""
    out = []
    for key, value in records:
        quota, used = value.get("quota_gpus"), value.get("used_gpus")
        if all(isinstance(v, int) and not isinstance(v, bool) for v in (quota, used)):
            out.append(
                {"team": str(value.get("team") or key), "quota_gpus": quota, "used_gpus": used}
            )
    return out


def _share(team: dict[str, Any]) -> float:
    quota, used = team["quota_gpus"], team["used_gpus"]
    if quota:
        return used / quota
    return float("inf") if used else 0.0


def _warn_at(config: dict[str, Any]) -> tuple[float, str | None]:
    value = config.get("warn_at", DEFAULT_WARN_AT)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        return DEFAULT_WARN_AT, (
            f"[panes.gpu-quota] warn_at: expected a share between 0 and 1, got {value!r}; "
            f"using {DEFAULT_WARN_AT}"
        )
    return float(value), None


def _clock(seconds: float) -> str:
    return clock(int(seconds * 1000), with_date=False)
