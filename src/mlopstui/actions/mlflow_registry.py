"""Model registry actions: promote, roll back and delete an alias; set and delete version tags.

MLflow keeps no history of where an alias pointed, so before an alias moves, this tool writes
the move to a model tag `mlopstui.alias.<alias>` ({"from", "to", "how", "by", "at"}): any copy
of mlopstui, on any machine, can then roll it back. The cache's alias history (moves this tool
made or the sync observed) is the fallback. A rollback targets the version the alias pointed
at before its last promotion; rolling back again is a no-op, never a flip back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from mlopstui.actions import Action, ActionRefused, AlreadyDone, Conflict, NotSent, Plan
from mlopstui.adapters import SourceError
from mlopstui.cache import registry as reg_store
from mlopstui.cache.db import Writer
from mlopstui.domain import AliasMove

SOURCE = "mlflow"
TAG_PREFIX = "mlopstui.alias."
TOPICS = frozenset({"registry"})


def alias_tag(alias: str) -> str:
    """The model tag that records an alias's last move made by this tool."""
    return f"{TAG_PREFIX}{alias}"


def _v(version: str | None) -> str:
    return f"v{version}" if version is not None else "(not set)"


def promote(model: str, version: str, alias: str) -> Action:
    """Point `alias` of `model` at `version`."""
    return Action(
        "promote",
        SOURCE,
        f"model {model} alias {alias}",
        {"model": model, "version": str(version), "alias": alias},
    )


def rollback(model: str, alias: str) -> Action:
    """Point `alias` back where it pointed before its last promotion."""
    return Action(
        "rollback", SOURCE, f"model {model} alias {alias}", {"model": model, "alias": alias}
    )


def delete_alias(model: str, alias: str) -> Action:
    """Remove an alias (dangerous: the person types the alias to confirm)."""
    return Action(
        "delete_alias",
        SOURCE,
        f"model {model} alias {alias}",
        {"model": model, "alias": alias},
        dangerous=True,
    )


def set_version_tag(model: str, version: str, key: str, value: str) -> Action:
    """Set a tag on a model version."""
    return Action(
        "set_version_tag",
        SOURCE,
        f"model {model} v{version} tag {key}",
        {"model": model, "version": str(version), "key": key, "value": value},
    )


def delete_version_tag(model: str, version: str, key: str) -> Action:
    """Delete a tag from a model version."""
    return Action(
        "delete_version_tag",
        SOURCE,
        f"model {model} v{version} tag {key}",
        {"model": model, "version": str(version), "key": key},
    )


class _RegistryExecutor:
    source = SOURCE
    topics = TOPICS
    kind = ""

    def __init__(
        self, registry: Any, writer: Writer, label: Callable[[], str], user: str = ""
    ) -> None:
        self.registry = registry
        self.writer = writer
        self.label = label
        self.user = user

    def _plan(self, action: Action, title: str, before: str, after: str, **kw: Any) -> Plan:
        return Plan(action, title, self.label(), before, after, **kw)

    def _model_exists(self, model: str) -> Any:
        found = self.registry.get_model(model)
        if found is None:
            raise ActionRefused(f"the registry has no model named {model!r}")
        return found

    def _check_alias(self, plan: Plan, model: str, alias: str, target: str | None) -> None:
        """Refuse if the alias moved since the plan was confirmed; AlreadyDone if it is done."""
        try:
            now = self.registry.alias_target(model, alias)
        except SourceError as exc:
            raise NotSent(str(exc)) from exc
        if now == target:
            raise AlreadyDone(f"{alias} already points at {_v(target)}")
        if now != plan.expected.get("current"):
            raise Conflict(
                f"{alias} moved from {_v(plan.expected.get('current'))} to {_v(now)} "
                "since you confirmed"
            )

    def _record_move(
        self, model: str, alias: str, src: str | None, dst: str | None, how: str, user: str
    ) -> None:
        self.registry.set_model_tag(
            model,
            alias_tag(alias),
            json.dumps(
                {"from": src, "to": dst, "how": how, "by": user, "at": int(time.time() * 1000)},
                sort_keys=True,
            ),
        )

    def _cache_move(self, plan: Plan, user: str) -> None:
        p = plan.action.params
        model, alias = p["model"], p["alias"]
        src, dst = plan.expected.get("current"), plan.expected.get("target")
        with self.writer.transaction() as conn:
            reg_store.set_alias(conn, model, alias, dst)
            reg_store.record_alias_move(
                conn, AliasMove(model, alias, src, dst, time.time(), user, self.kind)
            )

    def verify(self, plan: Plan) -> str | None:
        p = plan.action.params
        now = self.registry.alias_target(p["model"], p["alias"])
        target = plan.expected.get("target")
        return None if now == target else f"{p['alias']} -> {_v(now)}"

    def applied(self, plan: Plan, user: str) -> None:
        self._cache_move(plan, user)


class PromoteExecutor(_RegistryExecutor):
    """promote: point an alias at a READY version."""

    kind = "promote"

    def plan(self, action: Action) -> Plan:
        p = action.params
        model, version, alias = p["model"], p["version"], p["alias"]
        title = f"Promote {model} v{version} to {alias}"
        self._model_exists(model)
        mv = self.registry.get_version(model, version)
        if mv is None:
            raise ActionRefused(f"model {model!r} has no version {version}")
        if mv.status != "READY":
            raise ActionRefused(
                f"{model} v{version} is {mv.status}, not READY; only a READY version can be "
                "promoted"
            )
        current = self.registry.alias_target(model, alias)
        return self._plan(
            action,
            title,
            f"{alias} -> {_v(current)}",
            f"{alias} -> {_v(version)}",
            expected={"current": current, "target": version},
            details=(f"source run: {mv.run_id or '(none)'}", f"version status: {mv.status}"),
            noop=(
                f"{alias} already points at {model} v{version}; nothing to do"
                if current == version
                else None
            ),
        )

    def execute(self, plan: Plan) -> None:
        p = plan.action.params
        self._check_alias(plan, p["model"], p["alias"], p["version"])
        self._record_move(
            p["model"],
            p["alias"],
            plan.expected.get("current"),
            p["version"],
            "promote",
            self.user,
        )
        self.registry.set_alias(p["model"], p["alias"], p["version"])


class RollbackExecutor(_RegistryExecutor):
    """rollback: point an alias back where it was before its last promotion."""

    kind = "rollback"

    def __init__(
        self,
        registry: Any,
        writer: Writer,
        label: Callable[[], str],
        *,
        reader: Callable[[], Any],
        user: str = "",
    ) -> None:
        super().__init__(registry, writer, label, user)
        self.reader = reader

    def _last_move(self, model: Any, alias: str, current: str) -> tuple[dict[str, Any], str] | None:
        """The recorded move that put the alias where it is: from the model tag, else the
        cache's history."""
        raw = model.tags.get(alias_tag(alias))
        if raw:
            try:
                tag = json.loads(raw)
            except ValueError:
                tag = None
            if isinstance(tag, dict) and tag.get("to") == current:
                return tag, f"recorded on the model by {tag.get('by') or 'someone'}"
        conn = self.reader()
        for move in reg_store.alias_history(conn, model.name, alias, limit=50):
            if move.to_version == current and move.how != "seen":
                return (
                    {
                        "from": move.from_version,
                        "to": move.to_version,
                        "how": move.how,
                        "by": move.who,
                        "at": int(move.at * 1000),
                    },
                    "from this cache's alias history",
                )
            if move.to_version != current:
                break
        return None

    def plan(self, action: Action) -> Plan:
        p = action.params
        model_name, alias = p["model"], p["alias"]
        title = f"Roll back {model_name} {alias}"
        model = self._model_exists(model_name)
        current = self.registry.alias_target(model_name, alias)
        if current is None:
            raise ActionRefused(f"{model_name} has no alias {alias!r}; nothing to roll back")
        found = self._last_move(model, alias, current)
        if found is None:
            raise ActionRefused(
                f"no recorded move of {alias} to v{current} (MLflow keeps no alias history and "
                "this tool has not seen it move); promote the version you want instead"
            )
        move, origin = found
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime((move.get("at") or 0) / 1000))
        by = move.get("by") or "someone"
        if move.get("how") == "rollback":
            return self._plan(
                action,
                title,
                f"{alias} -> {_v(current)}",
                f"{alias} -> {_v(current)}",
                noop=(
                    f"{alias} was already rolled back from {_v(move.get('from'))} to "
                    f"{_v(current)} by {by} at {when}; promote a version to move it further"
                ),
                expected={"current": current, "target": current},
            )
        target = move.get("from")
        if target is None:
            raise ActionRefused(
                f"{alias} pointed at nothing before {_v(current)}; delete the alias instead"
            )
        mv = self.registry.get_version(model_name, target)
        if mv is None or mv.status != "READY":
            state = "gone" if mv is None else mv.status
            raise ActionRefused(f"the previous target {model_name} v{target} is {state}")
        return self._plan(
            action,
            title,
            f"{alias} -> {_v(current)}",
            f"{alias} -> {_v(target)}",
            expected={"current": current, "target": target},
            details=(f"{_v(current)} was promoted by {by} at {when} ({origin})",),
        )

    def execute(self, plan: Plan) -> None:
        p = plan.action.params
        target = plan.expected["target"]
        self._check_alias(plan, p["model"], p["alias"], target)
        self._record_move(
            p["model"], p["alias"], plan.expected["current"], target, "rollback", self.user
        )
        self.registry.set_alias(p["model"], p["alias"], target)


class DeleteAliasExecutor(_RegistryExecutor):
    """delete_alias: remove an alias (recorded first, so it can be promoted back)."""

    kind = "delete_alias"

    def plan(self, action: Action) -> Plan:
        p = action.params
        model, alias = p["model"], p["alias"]
        self._model_exists(model)
        current = self.registry.alias_target(model, alias)
        title = f"Delete alias {alias} of {model}"
        expected = {"current": current, "target": None}
        if current is None:
            return self._plan(
                action,
                title,
                f"{alias} (not set)",
                f"{alias} (not set)",
                noop=f"{model} has no alias {alias!r}",
                expected=expected,
            )
        return self._plan(
            action,
            title,
            f"{alias} -> {_v(current)}",
            f"{alias} (not set)",
            expected=expected,
            confirm_phrase=alias,
            details=(f"Anything that loads models:/{model}@{alias} will fail to resolve.",),
        )

    def execute(self, plan: Plan) -> None:
        p = plan.action.params
        self._check_alias(plan, p["model"], p["alias"], None)
        self._record_move(
            p["model"], p["alias"], plan.expected["current"], None, "delete", self.user
        )
        self.registry.delete_alias(p["model"], p["alias"])


class _TagExecutor(_RegistryExecutor):
    def _current(self, p: dict[str, str]) -> str | None:
        mv = self.registry.get_version(p["model"], p["version"])
        if mv is None:
            raise ActionRefused(f"model {p['model']!r} has no version {p['version']}")
        return mv.tags.get(p["key"])

    def verify(self, plan: Plan) -> str | None:
        p = plan.action.params
        now = self._current(p)
        want = plan.expected.get("target")
        return None if now == want else f"{p['key']} = {now!r}"

    def applied(self, plan: Plan, user: str) -> None:
        p = plan.action.params
        mv = self.registry.get_version(p["model"], p["version"])
        if mv is not None:
            with self.writer.transaction() as conn:
                reg_store.set_version_tags(conn, p["model"], p["version"], dict(mv.tags))

    def _check(self, plan: Plan) -> None:
        p = plan.action.params
        try:
            now = self._current(p)
        except SourceError as exc:
            raise NotSent(str(exc)) from exc
        if now == plan.expected.get("target"):
            raise AlreadyDone(
                f"{p['key']} is already {now!r}"
                if now is not None
                else f"{p['key']} is already unset"
            )
        if now != plan.expected.get("current"):
            raise Conflict(f"{p['key']} changed to {now!r} since you confirmed")


class SetVersionTagExecutor(_TagExecutor):
    """set_version_tag: set one tag of a model version."""

    kind = "set_version_tag"

    def plan(self, action: Action) -> Plan:
        p = action.params
        current = self._current(p)
        title = f"Tag {p['model']} v{p['version']}"
        before = f"{p['key']} = {current!r}" if current is not None else f"{p['key']} (not set)"
        after = f"{p['key']} = {p['value']!r}"
        noop = f"{p['key']} is already {current!r}" if current == p["value"] else None
        return self._plan(
            action,
            title,
            before,
            after,
            expected={"current": current, "target": p["value"]},
            noop=noop,
        )

    def execute(self, plan: Plan) -> None:
        p = plan.action.params
        self._check(plan)
        self.registry.set_version_tag(p["model"], p["version"], p["key"], p["value"])


class DeleteVersionTagExecutor(_TagExecutor):
    """delete_version_tag: remove one tag of a model version."""

    kind = "delete_version_tag"

    def plan(self, action: Action) -> Plan:
        p = action.params
        current = self._current(p)
        title = f"Delete tag of {p['model']} v{p['version']}"
        expected = {"current": current, "target": None}
        if current is None:
            return self._plan(
                action,
                title,
                f"{p['key']} (not set)",
                f"{p['key']} (not set)",
                expected=expected,
                noop=f"{p['key']} is not set",
            )
        return self._plan(
            action, title, f"{p['key']} = {current!r}", f"{p['key']} (not set)", expected=expected
        )

    def execute(self, plan: Plan) -> None:
        p = plan.action.params
        self._check(plan)
        self.registry.delete_version_tag(p["model"], p["version"], p["key"])


def executors(
    registry: Any, writer: Writer, reader: Callable[[], Any], label: Callable[[], str], user: str
) -> list[Any]:
    """Every registry executor, sharing one adapter."""
    args = (registry, writer, label)
    return [
        PromoteExecutor(*args, user),
        RollbackExecutor(*args, reader=reader, user=user),
        DeleteAliasExecutor(*args, user),
        SetVersionTagExecutor(*args, user),
        DeleteVersionTagExecutor(*args, user),
    ]
