"""Panes whose data sources are not built yet: an honest empty state, never made-up data."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import Center, Middle
from textual.widgets import Static

from mlopstui.plugin_api import API_VERSION
from mlopstui.plugin_api.pane import Pane


class PendingPane(Pane):
    """Says what this pane will show and what it needs, and shows nothing else."""

    DEFAULT_CSS = """
    PendingPane .pending { width: auto; max-width: 70; padding: 1 2; border: round $panel; }
    """
    will_show: ClassVar[str] = ""
    needs: ClassVar[str] = ""

    def compose(self) -> ComposeResult:
        with Middle(), Center():
            yield Static(
                f"[b]{self.title}[/b]\n\nNot built yet. {self.will_show}\n\n[dim]{self.needs}[/dim]",
                classes="pending",
            )


class PipelinesPane(PendingPane):
    """Kubernetes Jobs/CronJobs — coming."""

    pane_id = "pipelines"
    title = "Pipelines"
    api_version = API_VERSION
    will_show = "Kubernetes Jobs and CronJobs with their runs and logs."
    needs = "Will read KUBECONFIG."


class CostsPane(PendingPane):
    """Costs — coming."""

    pane_id = "costs"
    title = "Costs"
    api_version = API_VERSION
    will_show = "GPU hours and cost per team, experiment and model."
    needs = "Will read allocation history from the cache and a price table from the config."
