"""The UI side of the action pipeline: gate -> prepare off the loop -> confirm -> run off the
loop -> a toast saying how it ended.

Every write a key or a palette command asks for goes through `ActionFlow.request` (panes reach
it as `ctx.request_action`). The flow never blocks the UI: reading the live state and carrying
out the change run in threads, and their results come back with `call_from_thread`. While an
action with the same `Action.key` is being prepared, confirmed or run, a second request for it
is turned away ("already in progress"), so a doubled key press can never send two writes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlopstui import text
from mlopstui.actions import Action, ActionRefused, Outcome, Plan
from mlopstui.adapters import SourceError

if TYPE_CHECKING:
    from mlopstui.ui.app import MlopsApp

OnDone = Callable[[Outcome | None], None]

UNKNOWN_HINT = "outcome unknown - verify in the Audit screen (A)"
_SEVERITY = {
    "ok": "information",
    "noop": "information",
    "refused": "error",
    "failed": "error",
    "unknown": "warning",
}


def outcome_message(outcome: Outcome) -> str:
    """What the toast says about an Outcome (the plan's title first, so it stands alone)."""
    title = outcome.plan.title if outcome.plan else ""
    message = outcome.message
    if outcome.status == "unknown":
        return f"{title}: {UNKNOWN_HINT}. {message}".lstrip(": ")
    if title and not message.startswith(title) and outcome.status != "noop":
        return f"{title}: {message}"
    return message


class ActionFlow:
    """Drives Actions through the app's pipeline for panes and screens."""

    def __init__(self, app: MlopsApp) -> None:
        self._app = app
        self._busy: dict[tuple[str, str, str], str] = {}

    # ------------------------------------------------------------------ state

    def busy_note(self) -> str | None:
        """One line for the status bar while actions are being prepared or run."""
        if not self._busy:
            return None
        return "⋯ " + "; ".join(self._busy.values())

    def in_progress(self, action: Action) -> bool:
        """Whether an action with the same key is being prepared, confirmed or run."""
        return action.key in self._busy

    def _set_busy(self, action: Action, label: str | None) -> None:
        if label is None:
            self._busy.pop(action.key, None)
        else:
            self._busy[action.key] = label
        self._app.refresh_status()

    def _toast(self, message: str, severity: str = "information", timeout: float = 6) -> None:
        self._app.notify(text.clean(message), severity=severity, timeout=timeout, markup=False)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ the flow

    def request(self, action: Action, on_done: OnDone | None = None) -> None:
        """Gate, prepare, confirm and run `action`; `on_done(outcome)` is called on the UI
        thread at the end (None when nothing was run: refused, cancelled, not prepared)."""
        done = on_done or (lambda outcome: None)
        if self.in_progress(action):
            self._toast(f"{text.clean(action.target)}: already in progress", "warning", 4)
            return
        pipeline = self._app.pipeline
        try:
            pipeline.gate(action)
        except ActionRefused as exc:
            self._toast(f"Refused: {exc}", "error", 10)
            done(None)
            return
        self._set_busy(action, f"checking {action.target}…")

        def prepare() -> None:
            try:
                result: Plan | Exception = pipeline.prepare(action)
            except (ActionRefused, SourceError) as exc:
                result = exc
            except Exception as exc:  # a bug must still end the flow and free the key
                result = exc
            self._call(self._prepared, action, result, done)

        threading.Thread(target=prepare, name=f"prepare-{action.kind}", daemon=True).start()

    def _prepared(self, action: Action, result: Plan | Exception, done: OnDone) -> None:
        if isinstance(result, Exception):
            self._set_busy(action, None)
            prefix = "Refused" if isinstance(result, ActionRefused) else "Could not prepare"
            self._toast(f"{prefix}: {result}", "error", 10)
            done(None)
            return
        plan = result
        if plan.noop:
            self._set_busy(action, None)
            self._toast(f"Nothing to do: {plan.noop}", "information", 8)
            done(Outcome("noop", plan.noop, plan))
            return
        from mlopstui.ui.screens.confirm import ConfirmActionScreen

        self._set_busy(action, f"confirm: {plan.title}")
        self._app.push_screen(
            ConfirmActionScreen(plan), lambda ok: self._confirmed(plan, bool(ok), done)
        )

    def _confirmed(self, plan: Plan, ok: bool, done: OnDone) -> None:
        action = plan.action
        if not ok:
            self._set_busy(action, None)
            self._toast("Cancelled; nothing was changed.", "information", 3)
            done(None)
            return
        self._set_busy(action, f"{plan.title}…")
        self._toast(f"{plan.title}…", "information", 3)
        pipeline = self._app.pipeline

        def run() -> None:
            outcome = pipeline.run(plan)  # never raises
            self._call(self._finished, outcome, done)

        threading.Thread(target=run, name=f"action-ui-{action.kind}", daemon=True).start()

    def _finished(self, outcome: Outcome, done: OnDone) -> None:
        if outcome.plan is not None:
            self._set_busy(outcome.plan.action, None)
        timeout = 6 if outcome.ok else 15
        self._toast(outcome_message(outcome), _SEVERITY.get(outcome.status, "warning"), timeout)
        done(outcome)

    def _call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Hand a result to the UI thread (nothing to do once the app has gone)."""
        with contextlib.suppress(RuntimeError):
            self._app.call_from_thread(fn, *args)

    # ------------------------------------------------------------------ at start

    def check_unresolved(self) -> None:
        """In a thread: warn about audit intents whose outcome nobody knows."""

        def check() -> None:
            try:
                pipeline = self._app.pipeline
                found = pipeline.unresolved()
                note = pipeline.audit.note
            except Exception as exc:  # the audit log cannot be read: say so, carry on
                self._call(self._toast, f"The audit log cannot be read: {exc}", "warning", 15)
                return
            if note:
                self._call(self._toast, note, "warning", 15)
            if found:
                n = len(found)
                noun = "action has" if n == 1 else "actions have"
                message = f"{n} {noun} an unknown outcome - press A to review"
                self._call(self._toast, message, "warning", 15)

        threading.Thread(target=check, name="audit-unresolved", daemon=True).start()
