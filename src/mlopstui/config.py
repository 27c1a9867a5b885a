"""One typed settings object, from defaults, the TOML file, the environment and flags.

Order (later wins): defaults, the config file (`--config`, `MLOPSTUI_CONFIG`, or
`~/.config/mlopstui/config.toml`), `MLFLOW_TRACKING_URI`, `MLOPSTUI_*` variables, then flags.
A mistake names the file (or variable), the key and what was expected; the CLI prints that one
line and exits with status 2.

Secrets are never settings: MLflow credentials stay in `MLFLOW_TRACKING_TOKEN` or
`MLFLOW_TRACKING_USERNAME`/`MLFLOW_TRACKING_PASSWORD`, which the MLflow client reads itself.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

import msgspec
from msgspec import Meta, Struct

from mlopstui import paths
from mlopstui.text import clean, redact

Seconds = Annotated[float, Meta(gt=0, description="a number of seconds greater than 0")]
Minutes = Annotated[float, Meta(gt=0, description="a number of minutes greater than 0")]
Days = Annotated[float, Meta(gt=0, description="a number of days greater than 0")]


class MlflowSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """[mlflow]: the tracking server and how it is polled."""

    tracking_uri: str | None = None
    """Tracking server URI (http(s)://, sqlite:///, file:). Default: the embedded local store."""
    poll_interval: Seconds = 15.0
    """Seconds between incremental run syncs."""
    sweep_interval: Seconds = 600.0
    """Seconds between full sweeps that notice deleted runs."""
    request_timeout: Seconds = 5.0
    """Seconds before one HTTP request to the server gives up (MLflow's own default is 120)."""
    max_retries: Annotated[int, Meta(ge=0, le=10)] = 0
    """HTTP retries per request (MLflow's own default is 7, about 4 minutes)."""
    request_deadline: Seconds | None = None
    """Seconds one whole request may take: connect, headers, body, retries and Retry-After
    waits (request_timeout bounds only each read). Default: 6 x request_timeout."""
    max_response_mb: Annotated[int, Meta(ge=1, le=4096)] = 256
    """Largest answer accepted from the server, in MiB (a 1000-run page with 200 metrics per
    run is about 43 MiB); a larger one fails the request before it is read."""
    page_size: Annotated[int, Meta(ge=1, le=50000)] = 1000
    """Runs per search request."""
    read_only: bool = False
    """Remove every write action against this source."""


class KubernetesSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """[kubernetes]: the cluster whose GPU nodes, pods and jobs are shown."""

    enabled: bool | None = None
    """Use Kubernetes at all. Default: when a kubeconfig exists."""
    kubeconfig: str | None = None
    """Kubeconfig file. Default: KUBECONFIG, else ~/.kube/config."""
    context: str | None = None
    """Context to pin for the session. Default: the kubeconfig's current context."""
    production_patterns: list[str] = msgspec.field(default_factory=lambda: ["*prod*"])
    """Context names matching these glob patterns are read-only and drawn in a danger colour."""
    allow_production_writes: bool = False
    """Allow write actions on production contexts (they stay in the danger colour)."""
    read_only: bool = False
    """Remove every write action against the cluster."""
    request_timeout: Seconds = 10.0
    """Seconds before one API request gives up."""
    watch_timeout: Seconds = 240.0
    """Seconds a watch runs before it is renewed (the server's timeoutSeconds). Each renewal
    is recorded as a sync, so keep it under the 5 minutes after which data shows as old."""


class GpuSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """[gpu]: GPU metrics (DCGM in Prometheus, NVML on this host) and their history."""

    prometheus_url: str | None = None
    """Prometheus that scrapes the DCGM exporter. Default: none (no cluster GPU metrics)."""
    dcgm_interval: Seconds = 30.0
    """Seconds between DCGM queries (the exporter collects every 30 s by default)."""
    nvml: bool = True
    """Read this host's GPUs through NVML when the library is present."""
    nvml_interval: Annotated[float, Meta(ge=1.0)] = 1.0
    """Seconds between NVML samples (NVML averages over at most 1 s; faster adds nothing)."""
    busy_threshold: Annotated[float, Meta(ge=0, le=100)] = 5.0
    """Utilisation (%) above which a GPU counts as in use."""
    idle_minutes: Minutes = 30.0
    """Minutes an allocated GPU stays below busy_threshold before it is flagged idle."""
    retention_days: Days = 7.0
    """Days of GPU samples and allocation history kept in the cache."""


class UiSettings(Struct, forbid_unknown_fields=True, kw_only=True):
    """[ui]: look and feel."""

    theme: str = "mlopstui-dark"
    """Theme name: one from styles/themes/ or a built-in Textual theme."""
    start_pane: str = "experiments"
    """Pane shown at start."""


class Settings(Struct, forbid_unknown_fields=True, kw_only=True):
    """Everything mlopstui can be told."""

    cache: str | None = None
    """Cache file. Default: one file per tracking server under the user cache directory."""
    read_only: bool = False
    """Remove every write action everywhere."""
    mlflow: MlflowSettings = msgspec.field(default_factory=MlflowSettings)
    ui: UiSettings = msgspec.field(default_factory=UiSettings)
    kubernetes: KubernetesSettings = msgspec.field(default_factory=KubernetesSettings)
    gpu: GpuSettings = msgspec.field(default_factory=GpuSettings)
    sources: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """[sources.<name>]: each plugin source's own settings, handed to it as plain values."""
    panes: dict[str, dict[str, Any]] = msgspec.field(default_factory=dict)
    """[panes.<pane_id>]: each pane's own settings, read by the pane with `ctx.config()`."""
    config_file: str | None = None
    """Where the file settings came from (set by `load`, not by users)."""

    @property
    def tracking_uri(self) -> str:
        """The tracking URI in force, the embedded local store when none is configured."""
        return self.mlflow.tracking_uri or paths.local_store_uri()

    @property
    def tracking_label(self) -> str:
        """The tracking server as shown on screen: 'local store' for the embedded default,
        the home directory as '~'."""
        if self.is_local_store:
            return "local store"
        return redact(_home_as_tilde(self.tracking_uri))

    @property
    def tracking_source(self) -> str:
        """The tracking server as named in confirmations and the audit log: the embedded
        store says which file it is."""
        uri = _home_as_tilde(self.tracking_uri)
        return f"local store ({uri})" if self.is_local_store else uri

    @property
    def is_local_store(self) -> bool:
        """True when using the embedded default store (which `mlopstui demo` seeds)."""
        return self.mlflow.tracking_uri is None

    @property
    def cache_path(self) -> Path:
        """The cache file in force."""
        if self.cache:
            return Path(self.cache).expanduser()
        return paths.default_cache_file(self.tracking_uri)

    def source_read_only(self, source: str) -> bool:
        """Whether writes against `source` are removed (global switch or the source's own)."""
        if self.read_only:
            return True
        section = getattr(self, source, None)
        return bool(getattr(section, "read_only", False))

    def is_production_context(self, context: str | None) -> bool:
        """Whether a Kubernetes context matches the configured production patterns."""
        from fnmatch import fnmatchcase

        return bool(context) and any(
            fnmatchcase(context or "", p) for p in self.kubernetes.production_patterns
        )

    def context_read_only(self, context: str | None) -> bool:
        """Whether writes to a Kubernetes context are removed (read-only switches, or a
        production context unless production writes are allowed)."""
        if self.read_only or self.kubernetes.read_only:
            return True
        return self.is_production_context(context) and not self.kubernetes.allow_production_writes


def _home_as_tilde(uri: str) -> str:
    """The home directory in a URI shown as '~'."""
    home = str(Path.home())
    return uri.replace(home, "~", 1) if home != "/" else uri


class ConfigError(Exception):
    """A settings mistake, phrased as one line: where, which key, what was expected."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# Documented environment variables -> dotted setting keys.
ENV_KEYS: dict[str, str] = {
    "MLOPSTUI_TRACKING_URI": "mlflow.tracking_uri",
    "MLOPSTUI_CACHE": "cache",
    "MLOPSTUI_READ_ONLY": "read_only",
    "MLOPSTUI_THEME": "ui.theme",
    "MLOPSTUI_POLL_INTERVAL": "mlflow.poll_interval",
    "MLOPSTUI_REQUEST_TIMEOUT": "mlflow.request_timeout",
    "MLOPSTUI_KUBE_CONTEXT": "kubernetes.context",
    "MLOPSTUI_PROMETHEUS_URL": "gpu.prometheus_url",
}


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`base` with every leaf of `overlay` set in it (nested tables merged, not replaced)."""
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        tree = tree.setdefault(part, {})
    tree[leaf] = value


def _env_value(name: str, dotted: str, raw: str) -> Any:
    if dotted.endswith("read_only"):
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(f"environment variable {name}: expected 1/0, true/false, got {raw!r}")
    if dotted.endswith(("interval", "timeout")):
        try:
            return float(raw)
        except ValueError:
            raise ConfigError(
                f"environment variable {name}: expected a number of seconds, got {raw!r}"
            ) from None
    return raw


def _read_file(path: Path, explicit: bool) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: config file not found") from None
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file ({exc})") from None
    try:
        tree = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        # tomllib recurses once per nested array or inline table: a few hundred levels of
        # `[[[...]]]` exhaust the interpreter's stack long before they are valid settings.
        raise ConfigError(
            f"{path}: not valid TOML: nested too deeply (at most {MAX_DEPTH} levels)"
        ) from None
    where = _too_deep(tree)
    if where is not None:
        raise ConfigError(
            f"{path}: {where}: nested more than {MAX_DEPTH} levels deep; no setting is"
        )
    return tree


MAX_DEPTH = 32
"""Tables and arrays nested deeper than this are refused: no setting needs it, and plugins
that walk their `[sources.<name>]` table recursively must not meet a stack-exhausting tree."""


def _too_deep(tree: Any, limit: int = MAX_DEPTH) -> str | None:
    """The dotted key where `tree` nests deeper than `limit`, or None. Iterative, so a deep
    tree cannot exhaust the stack while it is being measured."""
    stack: list[tuple[Any, str, int]] = [(tree, "", 0)]
    while stack:
        node, key, depth = stack.pop()
        if depth > limit:
            return clean(key, limit=80) or "(top level)"
        if isinstance(node, dict):
            stack += [(v, f"{key}.{k}" if key else str(k), depth + 1) for k, v in node.items()]
        elif isinstance(node, list):
            stack += [(v, f"{key}[{i}]", depth + 1) for i, v in enumerate(node)]
    return None


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def _explain(exc: msgspec.ValidationError, origin: str) -> ConfigError:
    """Turn msgspec's message into 'origin: key: expected ...'."""
    match = _AT.match(str(exc))
    msg = match.group("msg") if match else str(exc)
    key = (match.group("path") or "").lstrip(".") if match else ""
    # Key names come from the file: an escape sequence in one must not reach the terminal.
    origin, key = clean(origin), clean(key, limit=120)
    unknown = re.match(r"Object contains unknown field `(?P<f>[^`]+)`", msg, re.DOTALL)
    if unknown:
        full = clean(f"{key}.{unknown['f']}" if key else unknown["f"], limit=120)
        return ConfigError(f"{origin}: {full}: unknown setting (see the README's configuration)")
    msg = clean(msg.replace("Expected", "expected"), limit=200)
    return ConfigError(f"{origin}: {key or '(top level)'}: {msg}")


def load(
    *,
    config: str | None = None,
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build the Settings in force. Raises ConfigError with a one-line explanation."""
    env = os.environ if environ is None else environ
    explicit = config or env.get("MLOPSTUI_CONFIG")
    path = Path(explicit).expanduser() if explicit else paths.config_file()
    tree = _read_file(path, explicit=bool(explicit))
    if "config_file" in tree:
        raise ConfigError(f"{path}: config_file: unknown setting (see the README's configuration)")
    try:
        settings = msgspec.convert(tree, Settings)
    except msgspec.ValidationError as exc:
        raise _explain(exc, str(path)) from None

    overlay: dict[str, Any] = {}
    origin: dict[str, str] = {}  # dotted key -> where its value came from, for errors
    if env.get("MLFLOW_TRACKING_URI"):
        _set(overlay, "mlflow.tracking_uri", env["MLFLOW_TRACKING_URI"])
        origin["mlflow.tracking_uri"] = "environment variable MLFLOW_TRACKING_URI"
    for name, dotted in ENV_KEYS.items():
        if name in env:
            _set(overlay, dotted, _env_value(name, dotted, env[name]))
            origin[dotted] = f"environment variable {name}"
    for dotted, value in (flags or {}).items():
        if value is not None:
            _set(overlay, dotted, value)
            origin[dotted] = f"option --{dotted.split('.')[-1].replace('_', '-')}"
    if overlay:
        # One key at a time: a variable or flag never replaces the rest of its section.
        merged = _merge(msgspec.to_builtins(settings), overlay)
        try:
            settings = msgspec.convert(merged, Settings)
        except msgspec.ValidationError as exc:
            match = _AT.match(str(exc))
            key = (match.group("path") or "").lstrip(".") if match else ""
            raise _explain(exc, origin.get(key, "environment or command line")) from None
    settings.config_file = str(path) if path.exists() else None
    return settings
