"""Actions: every write to the world is an `Action` value that goes through the pipeline.

key/palette/CLI -> Action -> Pipeline.gate (capability, read-only) -> Pipeline.prepare (reads
the live state: a Plan with the exact before -> after) -> a person confirms the Plan ->
Pipeline.run (durable audit intent -> execute off the UI loop with a timeout -> verify by
re-reading -> audit outcome -> resync of the touched topics) -> Outcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OUTCOMES = ("ok", "noop", "refused", "failed", "unknown")


@dataclass(frozen=True)
class Action:
    """What a person asked for, before anything was read from the source.

    `kind` names the executor ('promote', 'rollback', 'delete_alias', 'set_version_tag',
    'delete_version_tag'); `target` says what it touches in words ("model fraud, alias
    champion"); `params` are the executor's arguments; `dangerous` asks the person to type
    the target's name to confirm.
    """

    kind: str
    source: str
    target: str
    params: dict[str, str] = field(default_factory=dict)
    dangerous: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        """Two actions with the same key may not run at once (double submission)."""
        return (self.source, self.kind, self.target)


@dataclass(frozen=True)
class Plan:
    """An action with the live state it will change, captured when it was prepared.

    `expected` is what the executor checks again just before it writes: the change happens
    only if the target is still as it was confirmed, so a repeated action is a no-op, never
    a flip back. `noop` is set when there is nothing to do (say why, ask nothing).
    """

    action: Action
    title: str
    source_label: str
    before: str
    after: str
    expected: dict[str, Any] = field(default_factory=dict)
    details: tuple[str, ...] = ()
    noop: str | None = None
    confirm_phrase: str | None = None


@dataclass(frozen=True)
class Outcome:
    """How a run of the pipeline ended: 'ok', 'noop', 'refused', 'failed' or 'unknown'."""

    status: str
    message: str
    plan: Plan | None = None
    audit_id: int | None = None

    @property
    def ok(self) -> bool:
        """True when the world is as the person asked (changed now, or already so)."""
        return self.status in ("ok", "noop")


class ActionRefused(Exception):
    """The pipeline will not do this (read-only, unsupported, not allowed now); nothing was
    sent. The message says why and what to do."""


class AlreadyDone(Exception):
    """Raised by an executor when the target is already as asked: a no-op."""


class NotSent(Exception):
    """Raised by an executor when a step before its first write failed (e.g. re-reading the
    confirmed state): the write never went out, so nothing changed."""


class Conflict(ActionRefused):
    """The target changed between confirmation and execution; nothing was sent."""
