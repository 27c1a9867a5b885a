"""The UI side of the action pipeline: gate -> prepare off the loop -> confirm -> run off the
loop -> a toast saying how it ended.

Every write a key or a palette command asks for goes through `ActionFlow.request` (panes reach
it as `ctx.request_action`). The flow never blocks the UI: reading the live state and carrying
out the change run off the loop (`ui.background`), and their results come back on it. While an
action with the same `Action.key` is being prepared, confirmed or run, a second request for it
is turned away ("already in progress"), so a doubled key press can never send two writes.

From the key press on, a modal owns the keyboard: `PreparingActionScreen` while the plan is
read, then the confirmation. Keys typed ahead (the target's name for a typed confirmation)
never reach the pane behind, even when the preparation fails or finds nothing to do: then the
modal says why in one line and takes keys until it is closed with Esc or Enter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mlopstui import text
from mlopstui.actions import Action, ActionRefused, Outcome, Plan
from mlopstui.ui import background

if TYPE_CHECKING:
    from mlopstui.ui.app import MlopsApp
    from mlopstui.ui.screens.confirm import PreparingActionScreen

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


SHORT_REASON = 160
"""The most characters a failure to prepare an action takes in its one line."""


def short_reason(exc: BaseException) -> str:
    """Why an action could not be prepared, as one short line: the first line of the error,
    sanitised, without the client library's nested reprs, cut at SHORT_REASON."""
    line = background.readable(exc, limit=10_000)
    for noise in (" (Caused by ", ": HTTPConnectionPool(", ": HTTPSConnectionPool("):
        if noise in line:
            line = line.split(noise, 1)[0]
    return text.clean(line, limit=SHORT_REASON)


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
        from mlopstui.ui.screens.confirm import PreparingActionScreen

        self._set_busy(action, f"checking {action.target}…")
        # At once, before the next key is read: from here on a modal takes the keys.
        preparing = PreparingActionScreen(action)
        self._app.push_screen(
            preparing, lambda how: self._preparing_closed(action, preparing, how, done)
        )
        background.run_off_loop(
            self._app,
            lambda: pipeline.prepare(action),
            lambda plan: self._prepared(action, plan, done, preparing),
            name=f"prepare-{action.kind}",
            # Refused, the source failing, or a bug: each must end the flow and free the key.
            on_error=lambda exc: self._not_prepared(action, exc, done, preparing),
        )

    def _preparing_closed(
        self, action: Action, preparing: PreparingActionScreen, how: str | None, done: OnDone
    ) -> None:
        """Esc while the plan was being read: the flow ends here (the plan is dropped)."""
        if how == preparing.CANCELLED:
            self._set_busy(action, None)
            self._toast("Cancelled; nothing was changed.", "information", 3)
            done(None)

    def _not_prepared(
        self, action: Action, exc: BaseException, done: OnDone, preparing: PreparingActionScreen
    ) -> None:
        if not preparing.waiting:  # cancelled with Esc: already ended
            return
        self._set_busy(action, None)
        prefix = "Refused" if isinstance(exc, ActionRefused) else "Could not prepare"
        message = f"{prefix}: {short_reason(exc)}"
        preparing.show_result(message, "error")
        self._toast(message, "error", 10)
        done(None)

    def _prepared(
        self, action: Action, plan: Plan, done: OnDone, preparing: PreparingActionScreen
    ) -> None:
        if not preparing.waiting:  # cancelled with Esc: already ended
            return
        if plan.noop:
            self._set_busy(action, None)
            message = f"Nothing to do: {plan.noop}"
            preparing.show_result(message, "information")
            self._toast(message, "information", 8)
            done(Outcome("noop", plan.noop, plan))
            return
        from mlopstui.ui.screens.confirm import ConfirmActionScreen

        self._set_busy(action, f"confirm: {plan.title}")
        # In one step on the loop: no key is read between the two modals.
        preparing.hand_over()
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
        background.run_off_loop(
            self._app,
            lambda: pipeline.run(plan),
            lambda outcome: self._finished(outcome, done),
            name=f"action-ui-{action.kind}",
            # run() never raises; if a bug makes it, the write may have happened: say unknown.
            on_error=lambda exc: self._finished(
                Outcome("unknown", background.readable(exc), plan), done
            ),
        )

    def _finished(self, outcome: Outcome, done: OnDone) -> None:
        if outcome.plan is not None:
            self._set_busy(outcome.plan.action, None)
        timeout = 6 if outcome.ok else 15
        self._toast(outcome_message(outcome), _SEVERITY.get(outcome.status, "warning"), timeout)
        done(outcome)

    # ------------------------------------------------------------------ at start

    def check_unresolved(self) -> None:
        """Off the loop: warn about audit intents whose outcome nobody knows."""

        def check() -> tuple[int, str | None]:
            pipeline = self._app.pipeline
            return len(pipeline.unresolved()), pipeline.audit.note

        def checked(result: tuple[int, str | None]) -> None:
            n, note = result
            if note:
                self._toast(note, "warning", 15)
            if n:
                noun = "action has" if n == 1 else "actions have"
                self._toast(f"{n} {noun} an unknown outcome - press A to review", "warning", 15)

        background.run_off_loop(
            self._app,
            check,
            checked,
            name="audit-unresolved",
            # The audit log cannot be read: say so, carry on.
            on_error=lambda exc: self._toast(
                f"The audit log cannot be read: {background.readable(exc)}", "warning", 15
            ),
        )
