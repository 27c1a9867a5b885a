"""Kubernetes: switch context… — the contexts of the kubeconfig, and what switching means.

The session's context is pinned when it starts (DESIGN: a changed kubeconfig never redirects a
pending action), and the sync watches, the action pipeline and the cache rows are all tied to
it. So choosing another context here does not re-pin the running session: it says how to
start one on the chosen context. Re-pinning live would need the workbench to stop the old
watches, build a new source and pipeline, and keep pending actions on the old one.
"""

from __future__ import annotations

from typing import Any

from textual.app import App

from mlopstui.plugin_api.context import PaneContext


def context_choices(info: dict[str, Any], pinned: str | None) -> list[tuple[str, str]]:
    """(context, note) for each context of the kubeconfig: 'pinned now', 'production'."""
    out = []
    for name in info.get("contexts", []):
        notes = []
        if name == pinned:
            notes.append("pinned now")
        if name in info.get("production_contexts", []):
            notes.append("production")
        out.append((name, ", ".join(notes)))
    return out


def restart_hint(pinned: str | None, chosen: str) -> str:
    """What to do to work on another context."""
    return (
        f"This session stays pinned to {pinned} so that nothing pending is redirected. "
        f"To work on {chosen}, quit (q) and run: mlopstui --context {chosen}"
    )


def pick_context(app: App, ctx: PaneContext, pinned: str | None) -> None:
    """Show the kubeconfig's contexts (read off the UI loop); choosing another one explains
    how to switch."""
    ctx.fetch("kube_contexts", lambda info: _show_contexts(app, ctx, pinned, info))


def _show_contexts(app: App, ctx: PaneContext, pinned: str | None, info: Any) -> None:
    if isinstance(info, Exception):
        ctx.notify(f"Could not read the kubeconfig: {info}", severity="warning")
        return
    choices = context_choices(info, pinned)
    if not choices:
        ctx.notify(
            info.get("contexts_error") or "No kubeconfig with contexts found.", severity="warning"
        )
        return
    from mlopstui.ui.screens.registry_forms import ChoicePicker

    def chosen(name: str | None) -> None:
        if name and name != pinned:
            ctx.notify(restart_hint(pinned, name), severity="warning")

    app.push_screen(ChoicePicker("Kubernetes context", choices), chosen)
