"""Root conftest: isolate every test from the machine it runs on.

Runs in pytest_configure, before any test module is imported, so code that reads the
environment at import time (platformdirs paths, MLflow settings) already sees the sandbox.
It must not import `mlopstui`: the package has to be importable by tests, not by this file.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

# Make `import services` work from any test, whether or not tests/ is a package.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

_CLEARED = (
    "KUBECONFIG",  # a developer's cluster must never reach a test (tests pass their own)
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_EXPERIMENT_NAME",
    "MLFLOW_EXPERIMENT_ID",
)
_KEPT_MLOPSTUI = {"MLOPSTUI_REQUIRE_SERVICES", "MLOPSTUI_SERVICES_DIR"}
_saved_env: dict[str, str | None] = {}
_sandbox: Path | None = None


def _set(name: str, value: str | None) -> None:
    _saved_env.setdefault(name, os.environ.get(name))
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def pytest_configure(config: pytest.Config) -> None:
    """Point HOME and XDG dirs at a fresh temp dir, force UTC, drop user credentials/config."""
    global _sandbox
    _sandbox = Path(tempfile.mkdtemp(prefix="mlopstui-tests-"))
    home = _sandbox / "home"
    for sub in ("", ".config", ".local/share", ".cache", ".local/state"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    _set("HOME", str(home))
    _set("XDG_CONFIG_HOME", str(home / ".config"))
    _set("XDG_DATA_HOME", str(home / ".local/share"))
    _set("XDG_CACHE_HOME", str(home / ".cache"))
    _set("XDG_STATE_HOME", str(home / ".local/state"))
    _set("TZ", "UTC")
    time.tzset()
    for name in _CLEARED:
        _set(name, None)
    for name in list(os.environ):
        if name.startswith("MLOPSTUI_") and name not in _KEPT_MLOPSTUI:
            _set(name, None)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Restore the environment (matters when pytest runs in-process, e.g. pytester)."""
    for name, value in _saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _saved_env.clear()
    time.tzset()
    if _sandbox is not None:
        shutil.rmtree(_sandbox, ignore_errors=True)


@pytest.fixture(scope="session")
def sandbox_home() -> Path:
    """The isolated HOME every test runs with."""
    return Path(os.environ["HOME"])
