"""The pane catalogue: listing imports nothing; bad plugins are reported and skipped."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from mlopstui.plugin_api import API_VERSION
from mlopstui.plugin_api import catalog as pane_catalog

FIXTURES = Path(__file__).parent / "plugin_fixtures"
BUILTINS = ["experiments", "registry", "gpus", "pipelines", "costs"]


def ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=pane_catalog.GROUP)


def test_listed_gives_builtins_in_order_without_importing_them() -> None:
    """listed() returns the five built-ins first, in order, and imports no pane or Textual."""
    code = """
import json, sys
from mlopstui.plugin_api import catalog
names = [ep.name for ep in catalog.listed()]
loaded = sorted(m for m in sys.modules if m.startswith(("mlopstui.ui", "textual")))
print(json.dumps({"names": names, "loaded": loaded}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["names"][:5] == BUILTINS
    assert result["loaded"] == []


def test_load_builtins_has_no_failures() -> None:
    """The installed built-in panes all load against the current API."""
    panes, failures = pane_catalog.load(API_VERSION)
    assert failures == []
    assert [p.pane_id for p in panes][:5] == BUILTINS


def test_listed_sorts_plugins_after_builtins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Built-ins come first in their order without a scan; installed plugins follow by name;
    a built-in's own entry point is not listed twice, another class under its name is."""
    own = ep("experiments", "mlopstui.ui.panes.experiments:ExperimentsPane")
    eps = [ep("zeta", "z:Z"), ep("gpus", "g:G"), ep("alpha", "a:A"), own]
    monkeypatch.setattr(pane_catalog, "entry_points", lambda group: eps)
    assert [e.name for e in pane_catalog.listed()] == [*BUILTINS, "alpha", "gpus", "zeta"]


def test_bad_plugins_are_reported_and_good_ones_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """Import errors, non-panes, other API versions and duplicate ids each become a
    PaneFailure with a readable reason; the good panes still load, in order."""
    monkeypatch.syspath_prepend(str(FIXTURES))
    entries = [
        ep("experiments", "mlopstui.ui.panes.experiments:ExperimentsPane"),
        ep("good", "fake_panes.good:GoodPane"),
        ep("broken", "fake_panes.broken:Whatever"),
        ep("missing", "fake_panes.good:NoSuchPane"),
        ep("nomodule", "fake_panes_absent.mod:Pane"),
        ep("plain", "fake_panes.good:NotAPane"),
        ep("function", "fake_panes.good:not_a_class"),
        ep("future", "fake_panes.good:FuturePane"),
        ep("dup", "fake_panes.good:DuplicatePane"),
    ]
    monkeypatch.setattr(pane_catalog, "listed", lambda: entries)
    panes, failures = pane_catalog.load(API_VERSION)

    assert [p.__name__ for p in panes] == ["ExperimentsPane", "GoodPane"]
    reasons = {f.name: f.reason for f in failures}
    assert list(reasons) == ["broken", "missing", "nomodule", "plain", "function", "future", "dup"]
    assert "import failed" in reasons["broken"]
    assert "fake plugin exploded on import" in reasons["broken"]
    assert "import failed" in reasons["missing"] and "NoSuchPane" in reasons["missing"]
    assert "import failed" in reasons["nomodule"]
    assert reasons["plain"] == reasons["function"] == "is not a mlopstui.plugin_api.Pane"
    assert reasons["future"] == f"declares plugin API 99, this mlopstui offers {API_VERSION}"
    assert reasons["dup"] == "pane id 'fake-good' already taken"
    by_name = {f.name: f for f in failures}
    assert by_name["dup"].target == "fake_panes.good:DuplicatePane"
    assert all(len(f.reason) <= 300 and "\n" not in f.reason for f in failures)


def test_a_pane_that_declares_no_api_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Pane base has no api_version to inherit: a pane must declare the one it targets."""
    from mlopstui.plugin_api import Pane

    assert not hasattr(Pane, "api_version")
    monkeypatch.syspath_prepend(str(FIXTURES))
    entries = [
        ep("good", "fake_panes.good:GoodPane"),
        ep("bare", "fake_panes.good:UnversionedPane"),
    ]
    monkeypatch.setattr(pane_catalog, "listed", lambda: entries)
    panes, failures = pane_catalog.load(API_VERSION)

    assert [p.__name__ for p in panes] == ["GoodPane"]
    assert [(f.name, f.reason) for f in failures] == [
        ("bare", f"declares plugin API None, this mlopstui offers {API_VERSION}")
    ]


def test_every_builtin_pane_declares_the_api_version_in_its_own_body() -> None:
    """No built-in relies on a version inherited from a shared base."""
    panes, _ = pane_catalog.load(API_VERSION, pane_catalog.builtin_entry_points())
    assert panes and all(vars(p).get("api_version") == API_VERSION for p in panes)


def test_plugin_api_exposes_pane_lazily() -> None:
    """`from mlopstui.plugin_api import Pane` works; unknown names raise AttributeError."""
    from mlopstui import plugin_api
    from mlopstui.plugin_api.pane import Pane, PaneCommand

    assert plugin_api.Pane is Pane
    assert plugin_api.PaneCommand is PaneCommand
    with pytest.raises(AttributeError):
        _ = plugin_api.NoSuchThing
