"""The source catalogue: built-in sources, then plugins from the `mlopstui.sources` entry points.

Listing entry points imports nothing. A plugin source is imported when the session first needs
the plugins (after the first frame in the workbench, at once in the CLI); one that fails to
import, is not a `Source`, declares another API version, reuses a name, or raises while it
opens is reported as a `SourceFailure` (like a broken pane plugin) and skipped; the rest
carries on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from mlopstui.sources import SOURCE_API_VERSION, Source, SourceEnv

log = logging.getLogger(__name__)

GROUP = "mlopstui.sources"
BUILTIN: tuple[tuple[str, str], ...] = (
    ("mlflow", "mlopstui.sources.mlflow:MlflowSource"),
    ("kubernetes", "mlopstui.sources.kubernetes:KubernetesSource"),
    ("gpu", "mlopstui.sources.gpu:GpuSource"),
)
"""Built-in sources, in the order the status bar and `doctor` show them. They are part of
the package, so they do not depend on its install metadata."""


@dataclass(frozen=True)
class PluginFailure:
    """A plugin (a source, or a pane) that could not be loaded or opened, and why."""

    name: str
    target: str
    reason: str


SourceFailure = PluginFailure


def builtin_entry_points() -> list[EntryPoint]:
    """The built-in sources as entry points (nothing imported)."""
    return [EntryPoint(name=n, value=v, group=GROUP) for n, v in BUILTIN]


def plugin_entry_points() -> list[EntryPoint]:
    """Installed plugin sources by name (a scan of the installed distributions; nothing
    imported). A plugin under a built-in's name is listed (and later refused as a duplicate)."""
    eps = [ep for ep in entry_points(group=GROUP) if (ep.name, ep.value) not in BUILTIN]
    return sorted(eps, key=lambda ep: ep.name)


def listed() -> list[EntryPoint]:
    """Every source: built-ins first, then installed plugins by name, without importing any."""
    return builtin_entry_points() + plugin_entry_points()


def load_class(ep: EntryPoint, taken: set[str]) -> type[Source] | SourceFailure:
    """Import one source class and check it against the contract."""
    try:
        cls = ep.load()
    except Exception as exc:  # a broken plugin must not take the workbench down
        return SourceFailure(ep.name, ep.value, f"import failed: {exc!r}"[:300])
    if not (isinstance(cls, type) and issubclass(cls, Source)):
        return SourceFailure(ep.name, ep.value, "is not a mlopstui.sources.Source")
    version = getattr(cls, "api_version", None)
    if version != SOURCE_API_VERSION:
        return SourceFailure(
            ep.name,
            ep.value,
            f"declares source API {version}, this mlopstui offers {SOURCE_API_VERSION}",
        )
    if not cls.name:
        return PluginFailure(ep.name, ep.value, "declares no name (Source.name)")
    name = cls.name
    if name in taken:
        return SourceFailure(ep.name, ep.value, f"source name {name!r} already taken")
    return cls


class SourceSet:
    """The opened sources of one session, in catalogue order.

    Built-ins open at construction (cheap: they import no client). Plugins are imported and
    opened on `load_plugins()` (the workbench calls it when sync starts, after the first
    frame); `failures` lists what could not be loaded or opened.
    """

    def __init__(self, env_for: Callable[[str], SourceEnv]) -> None:
        self._env_for = env_for
        self._sources: list[Source] = []
        self.failures: list[SourceFailure] = []
        self._plugins_loaded = False
        self._loading = False
        self._lock = threading.RLock()  # the UI thread and a worker may both ask first
        self._open(builtin_entry_points())

    def _open(self, eps: list[EntryPoint]) -> None:
        taken = {s.name for s in self._sources}
        for ep in eps:
            loaded = load_class(ep, taken)
            if isinstance(loaded, SourceFailure):
                self._fail(loaded)
                continue
            name = loaded.name
            try:
                source = loaded(self._env_for(name))
            except Exception as exc:
                self._fail(SourceFailure(ep.name, ep.value, f"open failed: {exc!r}"[:300]))
                continue
            taken.add(name)
            self._sources.append(source)

    def _fail(self, failure: SourceFailure) -> None:
        # The UI and the CLI report failures themselves; the log keeps a line for later.
        log.info("source %s (%s) skipped: %s", failure.name, failure.target, failure.reason)
        self.failures.append(failure)

    def load_plugins(self) -> list[SourceFailure]:
        """Import and open the plugin sources (once); returns every failure so far."""
        with self._lock:
            if not self._plugins_loaded and not self._loading:
                self._loading = True  # a plugin asking for a source while it opens
                self._open(plugin_entry_points())
                self._plugins_loaded = True
        return self.failures

    @property
    def plugins_loaded(self) -> bool:
        """Whether `load_plugins()` has run."""
        return self._plugins_loaded

    def __iter__(self) -> Iterator[Source]:
        return iter(list(self._sources))

    def __len__(self) -> int:
        return len(self._sources)

    def get(self, name: str) -> Source | None:
        """The source of that name (plugins are loaded first if it is not a built-in)."""
        for source in self._sources:
            if source.name == name:
                return source
        if not self._plugins_loaded:
            self.load_plugins()  # waits for a load under way on another thread
            return next((s for s in self._sources if s.name == name), None)
        return None

    def fetcher_of(self, what: str) -> Source | None:
        """The source that answers that on-demand fetch."""
        return next((s for s in self._sources if what in s.fetches), None)

    def close(self) -> None:
        """Close every source; one failing never stops the rest."""
        for source in self._sources:
            try:
                source.close()
            except Exception as exc:  # logged in one line: the CLI prints no traceback
                log.warning("closing source %s failed: %r", source.name, exc)
