"""The plugin contract: a plugin's own code and its tests (plugins/*/src, plugins/*/tests)
import nothing of mlopstui but `mlopstui.plugin_api` and its submodules, so the core can change
behind that surface without breaking plugins.

Checked by parsing the sources (every plugin is found, installed or not), not with
import-linter, which would need each plugin named as a root package and on the path.
"""

from __future__ import annotations

import ast
from pathlib import Path

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
ALLOWED = "mlopstui.plugin_api"
KNOWN: set[tuple[str, str]] = set()
"""Violations that exist today, each to be removed when its plugin is fixed (none now)."""
SCOPES = ("src", "tests")
"""What of a plugin is checked: its code and its tests (which show authors how to test)."""


def plugin_sources() -> list[Path]:
    """Every Python file of every plugin's code and tests."""
    return sorted(p for scope in SCOPES for p in PLUGINS.glob(f"*/{scope}/**/*.py"))


def mlopstui_imports(tree: ast.AST) -> set[str]:
    """Every mlopstui module a source imports (`from mlopstui import x` counts as x)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "mlopstui":
                found |= {f"mlopstui.{alias.name}" for alias in node.names}
            else:
                found.add(node.module)
    return {name for name in found if name == "mlopstui" or name.startswith("mlopstui.")}


def violations() -> set[tuple[str, str]]:
    out = set()
    for source in plugin_sources():
        plugin = source.relative_to(PLUGINS).parts[0]
        for name in mlopstui_imports(ast.parse(source.read_text(), str(source))):
            if name != ALLOWED and not name.startswith(ALLOWED + "."):
                out.add((plugin, name))
    return out


def test_plugins_import_only_the_plugin_api() -> None:
    assert violations() - KNOWN == set()


def test_known_violations_are_still_there() -> None:
    """A fixed violation leaves KNOWN, so it cannot come back unnoticed."""
    assert KNOWN - violations() == set()


def test_the_check_sees_imports() -> None:
    tree = ast.parse("from mlopstui import text\nimport mlopstui.cache.db\nimport os")
    assert mlopstui_imports(tree) == {"mlopstui.text", "mlopstui.cache.db"}
    assert list(PLUGINS.glob("*/src/**/*.py")), "no plugin sources found"
    assert list(PLUGINS.glob("*/tests/**/*.py")), "no plugin tests found"
    assert PLUGINS / "failed-runs" / "tests" / "test_failures_pane.py" in plugin_sources()
