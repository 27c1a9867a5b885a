"""The Registry pane's writes: each key collects what its action needs (an alias, a tag) in a
small modal, then hands an `Action` to the pipeline through `ctx.request_action`, which reads
the live state, asks for confirmation, audits, executes and verifies. A write key exists only
where the pipeline offers the action (`ctx.allows`): never in read-only mode.
"""

from __future__ import annotations

from typing import Any

from mlopstui import text
from mlopstui.actions import Outcome
from mlopstui.actions import mlflow_registry as reg_actions
from mlopstui.domain import ModelVersion, RegisteredModel
from mlopstui.plugin_api.pane import PaneCommand
from mlopstui.ui.widgets import registry_cells as cells

SOURCE = reg_actions.SOURCE
# Pane action -> the pipeline's action kind.
WRITES = {
    "promote": "promote",
    "rollback": "rollback",
    "delete_alias": "delete_alias",
    "set_tag": "set_version_tag",
    "delete_tag": "delete_version_tag",
}


class RegistryWrites:
    """Mixed into RegistryPane: `check_action`, the write actions and their commands."""

    ctx: Any
    app: Any
    is_mounted: bool

    def selected_model(self) -> RegisteredModel | None: ...
    def selected_version(self) -> ModelVersion | None: ...
    def load(self) -> None: ...
    def _catch_up(self) -> None: ...

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        kind = WRITES.get(action)
        if kind is None:
            return True
        return self.allows(kind)

    def allows(self, kind: str) -> bool:
        """Whether the pipeline offers this action kind now (never in read-only mode)."""
        return not self.ctx.read_only and self.ctx.allows(SOURCE, kind)

    def _target(self, *, version: bool) -> tuple[RegisteredModel, ModelVersion | None] | None:
        self._catch_up()
        model = self.selected_model()
        if model is None:
            self.ctx.notify("No model selected.", severity="warning")
            return None
        found = self.selected_version() if version else None
        if version and found is None:
            self.ctx.notify("Pick a version first.", severity="warning")
            return None
        return model, found

    def _request(self, action: Any) -> None:
        self.ctx.request_action(action, self._action_done)

    def _action_done(self, outcome: Outcome | None) -> None:
        if outcome is not None and self.is_mounted:
            self.load()

    def action_promote(self) -> None:
        if not self.allows("promote") or (got := self._target(version=True)) is None:
            return
        model, version = got
        assert version is not None
        choices: list[tuple[str, str]] = []
        for alias in cells.ordered_aliases(list(model.aliases) + ["champion", "challenger"]):
            if any(alias == c for c, _ in choices):
                continue
            now = model.aliases.get(alias)
            note = (
                "new"
                if now is None
                else ("already here" if now == version.version else f"now v{now}")
            )
            choices.append((alias, note))
        from mlopstui.ui.screens.registry_forms import ChoicePicker

        def chosen(alias: str | None) -> None:
            if alias:
                self._request(reg_actions.promote(model.name, version.version, alias))

        prompt = f"Promote {text.clean(model.name, limit=40)} v{version.version} to which alias?"
        picker = ChoicePicker(
            prompt, choices, allow_new=True, new_placeholder="or type a new alias, Enter"
        )
        self.app.push_screen(picker, chosen)

    def _pick_alias(self, verb: str, make: Any) -> None:
        if (got := self._target(version=False)) is None:
            return
        model, _ = got
        if not model.aliases:
            self.ctx.notify(f"{model.name} has no aliases to {verb}.", severity="warning")
            return
        from mlopstui.ui.screens.registry_forms import ChoicePicker

        choices = [(a, f"→ v{model.aliases[a]}") for a in cells.ordered_aliases(model.aliases)]

        def chosen(alias: str | None) -> None:
            if alias:
                self._request(make(model.name, alias))

        prompt = f"{verb.capitalize()} which alias of {text.clean(model.name, limit=40)}?"
        self.app.push_screen(ChoicePicker(prompt, choices), chosen)

    def action_rollback(self) -> None:
        if self.allows("rollback"):
            self._pick_alias("roll back", reg_actions.rollback)

    def action_delete_alias(self) -> None:
        if self.allows("delete_alias"):
            self._pick_alias("delete", reg_actions.delete_alias)

    def action_set_tag(self) -> None:
        if not self.allows("set_version_tag") or (got := self._target(version=True)) is None:
            return
        model, version = got
        assert version is not None
        from mlopstui.ui.screens.registry_forms import TagForm

        def chosen(pair: tuple[str, str] | None) -> None:
            if pair:
                action = reg_actions.set_version_tag(model.name, version.version, *pair)
                self._request(action)

        prompt = f"Set a tag on {text.clean(model.name, limit=40)} v{version.version}"
        self.app.push_screen(TagForm(prompt), chosen)

    def action_delete_tag(self) -> None:
        if not self.allows("delete_version_tag") or (got := self._target(version=True)) is None:
            return
        model, version = got
        assert version is not None
        if not version.tags:
            self.ctx.notify(f"v{version.version} has no tags.", severity="warning")
            return
        from mlopstui.ui.screens.registry_forms import ChoicePicker

        choices = [(k, f"= {text.clean(v, limit=40)}") for k, v in sorted(version.tags.items())]

        def chosen(key: str | None) -> None:
            if key:
                self._request(reg_actions.delete_version_tag(model.name, version.version, key))

        prompt = f"Delete which tag of {text.clean(model.name, limit=40)} v{version.version}?"
        self.app.push_screen(ChoicePicker(prompt, choices), chosen)

    def write_commands(self) -> list[PaneCommand]:
        """Palette commands for the writes the pipeline offers now (none in read-only mode)."""
        writes = [
            ("promote", "Promote version", "Point an alias at the selected version (p)",
             self.action_promote),
            ("rollback", "Roll back alias", "Point an alias back where it was (b)",
             self.action_rollback),
            ("delete_alias", "Delete alias", "Remove an alias; asks you to type it (d)",
             self.action_delete_alias),
            ("set_version_tag", "Set version tag", "Set a tag on the selected version (t)",
             self.action_set_tag),
            ("delete_version_tag", "Delete version tag", "Remove a tag of the selected version (T)",
             self.action_delete_tag),
        ]  # fmt: skip
        return [
            PaneCommand(title, help, fn) for kind, title, help, fn in writes if self.allows(kind)
        ]
