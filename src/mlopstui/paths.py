"""Where mlopstui keeps its config, data and cache, and how those files are protected.

Locations follow the platform's conventions (XDG on Linux) through platformdirs. The cache and
the local store may hold run names and parameters that are nobody else's business, so the
directories are 0700 and the files 0600, and a cache another user could tamper with is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from pathlib import Path

from platformdirs import PlatformDirs

_DIRS = PlatformDirs("mlopstui", appauthor=False)


class UnsafePathError(Exception):
    """A file or directory is owned by someone else or writable by others."""


def config_file() -> Path:
    """The default config file (`~/.config/mlopstui/config.toml` on Linux)."""
    return Path(_DIRS.user_config_dir) / "config.toml"


def data_dir() -> Path:
    """Where the embedded local MLflow store lives."""
    return Path(_DIRS.user_data_dir)


def cache_dir() -> Path:
    """Where the SQLite caches live (one per tracking server)."""
    return Path(_DIRS.user_cache_dir)


def log_file() -> Path:
    """The app's log (errors of background work, library warnings), 0600."""
    return ensure_private_dir(Path(_DIRS.user_state_dir)) / "mlopstui.log"


def audit_file() -> Path:
    """The audit log of every write this tool made (data, not cache: it is never rebuilt)."""
    return data_dir() / "audit.sqlite"


def local_store_uri() -> str:
    """The embedded default tracking URI: an MLflow SQLite store under the data directory."""
    return f"sqlite:///{data_dir() / 'mlruns' / 'mlflow.db'}"


def local_artifact_root() -> Path:
    """Artifact root for the embedded default store."""
    return data_dir() / "mlruns" / "artifacts"


def default_cache_file(tracking_uri: str) -> Path:
    """A cache file per tracking server, so two servers' runs never mix."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", tracking_uri.split("://", 1)[-1]).strip("-")[:40]
    digest = hashlib.sha256(tracking_uri.encode()).hexdigest()[:10]
    return cache_dir() / f"{slug or 'default'}-{digest}.sqlite"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) as 0700 if missing; refuse one others can write to."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    check_not_shared(path)
    return path


def check_not_shared(path: Path) -> None:
    """Raise UnsafePathError if `path` is owned by another user or writable by group/others."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise UnsafePathError(f"{path} is owned by uid {st.st_uid}, not by you; refusing to use it")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafePathError(
            f"{path} is writable by other users (mode {stat.S_IMODE(st.st_mode):o}); "
            f"run `chmod go-w {path}` or choose another --cache"
        )


def make_private_file(path: Path) -> None:
    """Set a file we created to 0600."""
    if path.exists():
        os.chmod(path, 0o600)
