"""Settings: defaults, file, environment, flags, and one-line errors naming file and key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlopstui import config, paths
from mlopstui.config import ConfigError


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_defaults_without_file_or_environment() -> None:
    """No file (the isolated default path is absent), no env: the documented defaults."""
    s = config.load(environ={})
    assert s.mlflow.tracking_uri is None
    assert s.mlflow.poll_interval == 15.0
    assert s.mlflow.request_timeout == 5.0
    assert s.read_only is False
    assert s.ui.theme == "mlopstui-dark"
    assert s.config_file is None
    assert s.is_local_store


def test_default_config_file_location_is_read(sandbox_home: Path) -> None:
    """~/.config/mlopstui/config.toml (XDG) is read when present, and reported."""
    path = paths.config_file()
    assert sandbox_home in path.parents
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[ui]\ntheme = "from-default-file"\n')
    try:
        s = config.load(environ={})
        assert s.ui.theme == "from-default-file"
        assert s.config_file == str(path)
    finally:
        path.unlink()


def test_file_values(tmp_path: Path) -> None:
    """Values from an explicit file override the defaults, nested sections included."""
    path = write(tmp_path, 'read_only = true\n[mlflow]\npoll_interval = 2.5\n[ui]\ntheme = "x"\n')
    s = config.load(config=str(path), environ={})
    assert (s.read_only, s.mlflow.poll_interval, s.ui.theme) == (True, 2.5, "x")
    assert s.config_file == str(path)
    assert s.mlflow.request_timeout == 5.0  # untouched default


def test_mlopstui_config_variable_names_the_file(tmp_path: Path) -> None:
    """MLOPSTUI_CONFIG points at the file when --config is not given."""
    path = write(tmp_path, "[mlflow]\npage_size = 7\n")
    assert config.load(environ={"MLOPSTUI_CONFIG": str(path)}).mlflow.page_size == 7


def test_precedence_defaults_file_mlflow_env_mlopstui_env_flags(tmp_path: Path) -> None:
    """Each layer overrides the one before it for the tracking URI."""
    path = write(tmp_path, '[mlflow]\ntracking_uri = "http://file"\n')
    env: dict[str, str] = {}
    assert config.load(config=str(path), environ=env).tracking_uri == "http://file"
    env["MLFLOW_TRACKING_URI"] = "http://mlflow-env"
    assert config.load(config=str(path), environ=env).tracking_uri == "http://mlflow-env"
    env["MLOPSTUI_TRACKING_URI"] = "http://mlopstui-env"
    assert config.load(config=str(path), environ=env).tracking_uri == "http://mlopstui-env"
    s = config.load(config=str(path), environ=env, flags={"mlflow.tracking_uri": "http://flag"})
    assert s.tracking_uri == "http://flag"
    # A None flag (option not given) does not override.
    s = config.load(config=str(path), environ=env, flags={"mlflow.tracking_uri": None})
    assert s.tracking_uri == "http://mlopstui-env"


def test_env_overrides_file_for_other_keys(tmp_path: Path) -> None:
    """MLOPSTUI_POLL_INTERVAL/THEME/CACHE beat the file; flags beat the environment."""
    path = write(tmp_path, '[mlflow]\npoll_interval = 9\n[ui]\ntheme = "file"\n')
    env = {"MLOPSTUI_POLL_INTERVAL": "3", "MLOPSTUI_THEME": "env", "MLOPSTUI_CACHE": "/tmp/e"}
    s = config.load(config=str(path), environ=env)
    assert (s.mlflow.poll_interval, s.ui.theme, s.cache) == (3.0, "env", "/tmp/e")
    s = config.load(config=str(path), environ=env, flags={"cache": "/tmp/f", "read_only": True})
    assert (s.cache, s.read_only) == ("/tmp/f", True)


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("true", True), ("TRUE", True), ("0", False), ("", False)]
)
def test_read_only_variable(raw: str, expected: bool) -> None:
    """MLOPSTUI_READ_ONLY accepts 1/true/0 (any case) and empty."""
    assert config.load(environ={"MLOPSTUI_READ_ONLY": raw}).read_only is expected


@pytest.mark.parametrize(
    ("body", "key", "expected"),
    [
        ('[mlflow]\npoll_interval = "fast"\n', "mlflow.poll_interval", "expected `float`"),
        ("[mlflow]\npoll_interval = -1\n", "mlflow.poll_interval", "> 0"),
        ("[mlflow]\npage_size = 0\n", "mlflow.page_size", ">= 1"),
        ('read_only = "yes"\n', "read_only", "expected `bool`"),
        ("colour = 1\n", "colour", "unknown setting"),
        ("[mlflow]\npoll_intervall = 5\n", "mlflow.poll_intervall", "unknown setting"),
        ('[ui]\nthemes = "x"\n', "ui.themes", "unknown setting"),
    ],
)
def test_bad_file_values_name_file_key_and_expectation(
    tmp_path: Path, body: str, key: str, expected: str
) -> None:
    """A wrong value says which file, which dotted key and what was expected."""
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        config.load(config=str(path), environ={})
    msg = str(info.value)
    assert msg.startswith(f"{path}: {key}: ")
    assert expected in msg
    assert "\n" not in msg


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    """A syntax error is reported with the file, not as a traceback."""
    path = write(tmp_path, "[mlflow\npoll_interval = ")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        config.load(config=str(path), environ={})
    assert str(info.value).startswith(str(path))


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    """--config naming a missing file is a mistake (the default path may be absent)."""
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="not found") as info:
        config.load(config=str(missing), environ={})
    assert str(missing) in str(info.value)
    with pytest.raises(ConfigError, match="not found"):
        config.load(environ={"MLOPSTUI_CONFIG": str(missing)})


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"MLOPSTUI_READ_ONLY": "maybe"}, "MLOPSTUI_READ_ONLY"),
        ({"MLOPSTUI_POLL_INTERVAL": "soon"}, "MLOPSTUI_POLL_INTERVAL"),
        ({"MLOPSTUI_REQUEST_TIMEOUT": "1s"}, "MLOPSTUI_REQUEST_TIMEOUT"),
    ],
)
def test_bad_environment_values_name_the_variable(env: dict[str, str], name: str) -> None:
    """An unparsable variable names itself and what it expected."""
    with pytest.raises(ConfigError, match=f"environment variable {name}: expected"):
        config.load(environ=env)


def test_negative_interval_from_environment_names_the_key() -> None:
    """A parsable but out-of-range value is caught by the same validation as the file."""
    with pytest.raises(ConfigError, match=r"mlflow\.poll_interval: expected `float` > 0"):
        config.load(environ={"MLOPSTUI_POLL_INTERVAL": "-3"})


def test_tracking_uri_falls_back_to_the_embedded_store(sandbox_home: Path) -> None:
    """No URI configured: an sqlite store under the (isolated) data dir."""
    s = config.load(environ={})
    assert s.tracking_uri == paths.local_store_uri()
    assert s.tracking_uri.startswith("sqlite:///")
    assert str(sandbox_home) in s.tracking_uri


def test_cache_path_is_per_tracking_uri_unless_set(tmp_path: Path, sandbox_home: Path) -> None:
    """Two servers get two cache files under the cache dir; `cache` overrides."""
    a = config.load(environ={"MLFLOW_TRACKING_URI": "http://a:5000"}).cache_path
    b = config.load(environ={"MLFLOW_TRACKING_URI": "http://b:5000"}).cache_path
    again = config.load(flags={"mlflow.tracking_uri": "http://a:5000"}, environ={}).cache_path
    assert a != b
    assert a == again
    assert a.parent == b.parent == paths.cache_dir()
    assert sandbox_home in a.parents
    custom = config.load(environ={}, flags={"cache": str(tmp_path / "mine.sqlite")})
    assert custom.cache_path == tmp_path / "mine.sqlite"


def test_source_read_only(tmp_path: Path) -> None:
    """The global switch or the source's own section removes writes for that source."""
    assert not config.load(environ={}).source_read_only("mlflow")
    assert config.load(environ={"MLOPSTUI_READ_ONLY": "1"}).source_read_only("mlflow")
    path = write(tmp_path, "[mlflow]\nread_only = true\n")
    s = config.load(config=str(path), environ={})
    assert s.source_read_only("mlflow")
    assert not s.read_only
    assert not s.source_read_only("kubernetes")


def test_cli_config_error_is_one_line_and_exit_status_2(tmp_path: Path) -> None:
    """`mlopstui --config BAD runs`: status 2, one stderr line, no traceback."""
    path = write(tmp_path, "[mlflow]\npoll_intervall = 5\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mlopstui", "--config", str(path), "runs"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mlopstui: config error:")
    assert "mlflow.poll_intervall" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


def test_an_out_of_range_environment_value_names_the_variable() -> None:
    """A value that parses but is out of range still points at the variable it came from."""
    with pytest.raises(ConfigError, match="environment variable MLOPSTUI_POLL_INTERVAL"):
        config.load(environ={"MLOPSTUI_POLL_INTERVAL": "-3"})


def test_config_file_is_not_a_setting(tmp_path: Path) -> None:
    """`config_file` records where settings came from; the file itself cannot set it."""
    path = tmp_path / "c.toml"
    path.write_text('config_file = "/elsewhere"\n')
    with pytest.raises(ConfigError, match="config_file: unknown setting"):
        config.load(config=str(path), environ={})


def test_a_variable_or_flag_changes_one_key_and_keeps_the_rest_of_its_section(
    tmp_path: Path,
) -> None:
    """MLOPSTUI_KUBE_CONTEXT and --tracking-uri set one key each; the file's other keys in
    [kubernetes] and [mlflow] stay as the file says."""
    path = write(
        tmp_path,
        '[kubernetes]\nproduction_patterns = ["live-*"]\ncontext = "from-file"\n'
        "[mlflow]\npoll_interval = 42\n",
    )
    s = config.load(
        config=str(path),
        environ={"MLOPSTUI_KUBE_CONTEXT": "from-env"},
        flags={"mlflow.tracking_uri": "http://example.invalid"},
    )
    assert s.kubernetes.context == "from-env"
    assert s.kubernetes.production_patterns == ["live-*"]
    assert s.mlflow.tracking_uri == "http://example.invalid"
    assert s.mlflow.poll_interval == 42


def test_plugin_tables_for_panes_and_sources_are_accepted_as_plain_values(
    tmp_path: Path,
) -> None:
    """[panes.<id>] and [sources.<name>] are the plugins' own: any keys, kept as written."""
    path = write(
        tmp_path,
        '[panes.quota]\nwarn_at = 0.9\nteams = ["a", "b"]\n[sources.quota]\nurl = "http://q"\n',
    )
    s = config.load(config=str(path), environ={"MLOPSTUI_READ_ONLY": "1"})
    assert s.panes == {"quota": {"warn_at": 0.9, "teams": ["a", "b"]}}
    assert s.sources == {"quota": {"url": "http://q"}}
    assert s.read_only is True


def test_a_plugin_table_that_is_not_a_table_names_its_key(tmp_path: Path) -> None:
    """panes = 3 is a mistake named with its key, like any other."""
    path = write(tmp_path, "panes = 3\n")
    with pytest.raises(ConfigError, match=r"panes: expected `object`"):
        config.load(config=str(path), environ={})
