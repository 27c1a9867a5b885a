"""The action pipeline: the one way this tool changes anything. Headless; the UI and the CLI
drive the same object.

    gate      capability check -> read-only gate                        (cheap, any thread)
    prepare   the executor reads the live state -> Plan (before -> after) (network: off the UI)
    [a person confirms the Plan]
    run       claim (no double submission) -> durable audit intent -> execute in a worker
              with a timeout (the executor re-checks the confirmed state first) -> verify by
              re-reading -> audit outcome -> cache update -> resync -> Outcome

`run` never raises: every path ends in an Outcome, and every path past the intent ends in an
audit outcome ('unknown' when nobody can tell, for a person to verify later).
"""

from __future__ import annotations

import getpass
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Protocol

from mlopstui.actions import (
    Action,
    ActionRefused,
    AlreadyDone,
    Conflict,
    NotSent,
    Outcome,
    Plan,
)
from mlopstui.adapters import SourceError, SourceUnreachable
from mlopstui.cache.audit import AuditError, AuditLog, AuditRecord
from mlopstui.text import first_line

log = logging.getLogger(__name__)


class Executor(Protocol):
    """Carries out one kind of action against one source."""

    kind: str
    source: str
    topics: frozenset[str]
    """Cache topics to resync after it ran."""

    def plan(self, action: Action) -> Plan:
        """Read the live state and say exactly what would change (ActionRefused if it may not)."""
        ...

    def execute(self, plan: Plan) -> None:
        """Re-check `plan.expected` (AlreadyDone / Conflict), then write."""
        ...

    def verify(self, plan: Plan) -> str | None:
        """Re-read: None when the source shows the planned result, else what it shows."""
        ...

    def applied(self, plan: Plan, user: str) -> None:
        """After a verified change: update the cache at once (e.g. record who moved an alias)."""
        ...


class Pipeline:
    """Gates, confirms (through the caller), audits, executes and verifies actions."""

    def __init__(
        self,
        executors: Iterable[Executor],
        *,
        read_only: Callable[[str], bool],
        source_label: Callable[[str], str],
        audit: Callable[[], AuditLog],
        resync: Callable[[str, set[str]], None] = lambda source, topics: None,
        timeout: float = 30.0,
        user: str | None = None,
    ) -> None:
        self._executors = {(e.source, e.kind): e for e in executors}
        self._read_only = read_only
        self._source_label = source_label
        self._audit_factory = audit
        self._audit: AuditLog | None = None
        self._resync = resync
        self.timeout = timeout
        self.user = user or getpass.getuser()
        self._lock = threading.Lock()
        self._in_flight: set[tuple[str, str, str]] = set()

    # ------------------------------------------------------------------ gate and plan

    @property
    def audit(self) -> AuditLog:
        """The audit log (opened on first use)."""
        if self._audit is None:
            try:
                self._audit = self._audit_factory()
            except AuditError:
                raise
            except Exception as exc:  # an unsafe folder, a bug: no action may run unaudited
                raise AuditError(f"cannot open the audit log: {exc}") from None
        return self._audit

    def allows(self, source: str, kind: str) -> bool:
        """Whether an action kind is offered at all (UI keys, palette, CLI)."""
        return (source, kind) in self._executors and not self._read_only(source)

    def gate(self, action: Action) -> Executor:
        """Capability check, then the read-only gate. Raises ActionRefused."""
        executor = self._executors.get((action.source, action.kind))
        if executor is None:
            raise ActionRefused(f"{action.source} does not support {action.kind!r} here")
        if self._read_only(action.source):
            raise ActionRefused(
                f"read-only mode: {action.kind} is disabled "
                "(started with --read-only, MLOPSTUI_READ_ONLY or read_only in the config)"
            )
        return executor

    def prepare(self, action: Action) -> Plan:
        """Gate and read the live state. Raises ActionRefused or SourceError. Off the UI loop."""
        return self.gate(action).plan(action)

    # ------------------------------------------------------------------ run

    def run(self, plan: Plan) -> Outcome:
        """Carry out a confirmed plan; always returns an Outcome (see the module doc)."""
        action = plan.action
        try:
            executor = self.gate(action)
        except ActionRefused as exc:
            return Outcome("refused", str(exc), plan)
        if plan.noop:
            return Outcome("noop", plan.noop, plan)
        with self._lock:
            if action.key in self._in_flight:
                return Outcome("refused", f"{plan.title}: already in progress", plan)
            self._in_flight.add(action.key)
        try:
            return self._run(executor, plan)
        finally:
            with self._lock:
                self._in_flight.discard(action.key)

    def _run(self, executor: Executor, plan: Plan) -> Outcome:
        action = plan.action
        try:
            audit_id = self.audit.intent(
                source=plan.source_label,
                action=action.kind,
                target=action.target,
                before=plan.before,
                after=plan.after,
                params={
                    "source": action.source,
                    "params": action.params,
                    "expected": plan.expected,
                },
                user=self.user,
            )
        except AuditError as exc:
            return Outcome("refused", f"{exc}; nothing was sent", plan)

        done = threading.Event()
        result: dict[str, BaseException | None] = {}

        def work() -> None:
            try:
                executor.execute(plan)
                result["error"] = None
            except BaseException as exc:  # handed to the caller's thread
                result["error"] = exc
            done.set()
            if late.is_set():  # the caller gave up waiting: record the real end now
                self._finish(executor, plan, audit_id, result["error"], late=True)

        late = threading.Event()
        threading.Thread(target=work, name=f"action-{action.kind}", daemon=True).start()
        if not done.wait(self.timeout):
            late.set()
            if not done.is_set():
                message = (
                    f"no answer within {self.timeout:g} s; the change may or may not have been "
                    "made - verify it in the Audit screen or with `mlopstui audit`"
                )
                message += self._record(audit_id, "unknown", message)
                self._resync(action.source, set(executor.topics))
                return Outcome("unknown", message, plan, audit_id)
        return self._finish(executor, plan, audit_id, result["error"])

    def _finish(
        self,
        executor: Executor,
        plan: Plan,
        audit_id: int,
        error: BaseException | None,
        *,
        late: bool = False,
    ) -> Outcome:
        status, message = self._judge(executor, plan, error)
        if late:
            message += " (answered after the timeout)"
        message += self._record(audit_id, status, message)
        if status == "ok":
            try:
                executor.applied(plan, self.user)
            except Exception as exc:  # the cache catches up at the resync
                log.warning("cache update after %s failed: %s", plan.action.kind, exc)
        self._resync(plan.action.source, set(executor.topics))
        return Outcome(status, message, plan, audit_id)

    def _record(self, audit_id: int, status: str, message: str) -> str:
        """Write an outcome; '' when written, else the words to add to the message (the
        intent is there, shown as 'unknown' until someone verifies it)."""
        try:
            self.audit.outcome(audit_id, status, message)
        except Exception as exc:
            log.error("audit outcome %s for #%s not written: %s", status, audit_id, exc)
            return f" (the audit outcome could not be written: {exc})"
        return ""

    def _judge(
        self, executor: Executor, plan: Plan, error: BaseException | None
    ) -> tuple[str, str]:
        """Turn the execution result and a verifying re-read into (status, message)."""
        if isinstance(error, AlreadyDone):
            return "noop", str(error) or "already done"
        if isinstance(error, Conflict | ActionRefused):
            return "refused", f"{error}; nothing was changed"
        if isinstance(error, NotSent):
            return "failed", f"{error}; nothing was changed"
        if error is not None and not isinstance(error, SourceError | Exception):
            return "unknown", f"interrupted: {type(error).__name__}"
        try:
            shows = executor.verify(plan)
        except Exception as exc:
            if error is None:
                return "unknown", f"sent, but the re-read failed ({first_line(exc)}); verify it"
            if _not_sent(error):
                return "failed", f"{first_line(error)}; nothing was changed"
            return (
                "unknown",
                f"{first_line(error)}; the re-read failed too ({first_line(exc)}); verify it",
            )
        if shows is None:
            if error is not None:
                return (
                    "ok",
                    f"{plan.title}: done (verified; the reply was lost: {first_line(error)})",
                )
            return "ok", f"{plan.title}: done (verified)"
        if error is not None and _maybe_sent(error):
            # The request may be on its way or queued at the source: the old state now says
            # nothing about the state in a second. 'failed' here was a lie when it landed.
            return "unknown", (
                f"{first_line(error)}; the request was sent and the source still shows {shows}, "
                "but the change may yet be made - verify it in the Audit screen or with "
                "`mlopstui audit`"
            )
        if error is not None:
            return "failed", f"{first_line(error)}; the source still shows {shows}"
        return "failed", f"the source accepted the change but now shows {shows}"

    # ------------------------------------------------------------------ unknown outcomes

    def unresolved(self) -> list[AuditRecord]:
        """Intents whose outcome is unknown (killed mid-action, timed out)."""
        return self.audit.unresolved()

    def verify_record(self, record: AuditRecord) -> Outcome:
        """Re-read the source for an intent of unknown outcome and record what it shows."""
        executor = self._executors.get((_source_of(record), record.action))
        if executor is None:
            return Outcome("refused", f"cannot verify {record.action!r}: no such action here")
        plan = Plan(
            action=Action(
                record.action,
                _source_of(record),
                record.target,
                dict(record.params.get("params", {})),
            ),
            title=f"{record.action} {record.target}",
            source_label=record.source,
            before=record.before,
            after=record.after,
            expected=dict(record.params.get("expected", {})),
        )
        try:
            shows = executor.verify(plan)
        except Exception as exc:
            return Outcome("unknown", f"cannot verify now: {first_line(exc)}", plan, record.id)
        if shows is None:
            status, message = "ok", f"verified later: {record.after} is in place"
        else:
            status, message = "failed", f"verified later: not applied; the source shows {shows}"
        message += self._record(record.id, status, message)
        self._resync(plan.action.source, set(executor.topics))
        return Outcome(status, message, plan, record.id)

    def close(self) -> None:
        """Close the audit log."""
        if self._audit is not None:
            self._audit.close()


def _source_of(record: AuditRecord) -> str:
    """The source an audit record's action went to (every intent records it)."""
    return str(record.params.get("source", ""))


def _not_sent(error: BaseException) -> bool:
    """Whether an error proves the request never reached the source (or the source refused
    it without acting): the adapter's `not_sent`, or, from adapters that do not set it, a
    refused connection or an unknown host."""
    if getattr(error, "not_sent", False):
        return True
    text = str(error).lower()
    return isinstance(error, SourceUnreachable) and (
        "connection refused" in text or "host name not found" in text
    )


# A gateway answered for a source that may have got the request: 502 (bad answer from it),
# 504 (no answer from it in time).
_GATEWAY_LOST = (502, 504)


def _maybe_sent(error: BaseException) -> bool:
    """Whether the request may have reached the source although no answer says it did: a
    timeout or a connection lost after sending (not a refusal before it), or a gateway that
    lost the source's answer. Such a write can still land after a re-read shows the old state.
    """
    if _not_sent(error):
        return False
    if isinstance(error, SourceUnreachable):
        return True
    return isinstance(error, SourceError) and error.status in _GATEWAY_LOST
