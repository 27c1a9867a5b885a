"""What a person sees when something breaks: one sentence and a non-zero status, never a
traceback. Malformed configs (nested past the parser's stack, escape sequences in key names,
unreadable files), a command that raises something unforeseen, and the workbench itself
crashing, each run as `python -m mlopstui` in a subprocess, as a person would."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlopstui import cli

ESCAPES = ("\x1b", "\x9b", "\x9d", "\x07", "\r")
HEADLESS = "textual.drivers.headless_driver:HeadlessDriver"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("CONFIG", "DATA", "CACHE", "STATE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / "xdg" / name.lower())
    env.pop("MLOPSTUI_CONFIG", None)
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(extra)
    return env


def mlopstui(
    tmp_path: Path, *args: str, script: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m mlopstui ARGS` (or `python -c SCRIPT ARGS`) with private XDG directories."""
    head = ["-c", script] if script else ["-m", "mlopstui"]
    return subprocess.run(
        [sys.executable, *head, *args],
        env=_env(tmp_path, **env),
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=120,
        stdin=subprocess.DEVNULL,
        cwd=tmp_path,
    )


def assert_one_sentence(result: subprocess.CompletedProcess[str], status: int) -> str:
    """Exit `status`, nothing on stdout, one `mlopstui: ...` line on stderr, no escapes."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == status, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("mlopstui: "), result.stderr
    for ch in ESCAPES:
        assert ch not in result.stderr.strip(), f"{ch!r} reached the terminal"
    return lines[0]


# --- configs ------------------------------------------------------------------------------------


DEEP = 2000
MALFORMED = {
    # tomllib recurses per nested array / inline table: RecursionError before the fix.
    "nested-arrays": "x = " + "[" * DEEP + "]" * DEEP + "\n",
    "nested-inline-tables": "[sources.a]\nx = " + "{a = " * DEEP + "1" + "}" * DEEP + "\n",
    # Parses (dotted headers do not recurse) but is 2000 levels deep: refused before a plugin
    # that walks its [sources.<name>] table recursively meets it.
    "nested-headers": "[sources." + ".".join(["a"] * DEEP) + "]\nx = 1\n",
    "not-toml": "[mlflow\ntracking_uri = 1\n",
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_malformed_config_is_one_sentence_and_exit_2(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MALFORMED[kind], encoding="utf-8")
    line = assert_one_sentence(mlopstui(tmp_path, "--config", str(path), "plugins"), 2)
    assert str(path) in line and "config error" in line


def test_escapes_in_config_key_names_do_not_reach_the_terminal(tmp_path: Path) -> None:
    """Key names are echoed in the error: an OSC 52 clipboard write and an 8-bit CSI in one
    arrived raw on the terminal before the fix."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[mlflow]\n"\\u001b]52;c;cHduZWQ=\\u0007evil\\u001b[2J\\u009b2J" = 1\n', encoding="utf-8"
    )
    line = assert_one_sentence(mlopstui(tmp_path, "--config", str(path), "plugins"), 2)
    assert "mlflow.evil" in line and "unknown setting" in line
    assert "cHduZWQ=" not in line  # the clipboard payload went with its escape


def test_escapes_in_a_wrong_value_key_do_not_reach_the_terminal(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[sources]\n"\\u001b[2Jq" = 5\n', encoding="utf-8")
    line = assert_one_sentence(mlopstui(tmp_path, "--config", str(path), "plugins"), 2)
    assert "sources" in line


@pytest.mark.parametrize("kind", ["directory", "not-utf8", "symlink-loop"])
def test_an_unreadable_config_file_is_one_sentence(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "config.toml"
    if kind == "directory":
        path.mkdir()
    elif kind == "not-utf8":
        path.write_bytes(b"[ui]\ntheme = '\xff\xfe'\n")
    else:
        path.symlink_to(tmp_path / "loop")
        (tmp_path / "loop").symlink_to(path)
    assert_one_sentence(mlopstui(tmp_path, "--config", str(path), "plugins"), 2)


# --- the last line of defence --------------------------------------------------------------------


def test_an_unforeseen_error_in_a_command_is_a_sentence_and_a_logged_traceback(
    tmp_path: Path,
) -> None:
    """A bug in a command prints what broke and where the traceback went; status 1."""
    script = textwrap.dedent(
        """
        import sys
        from mlopstui import cli

        def broken(settings, args):
            raise KeyError("a bug \\x1b[2J")

        cli.COMMANDS["plugins"] = broken
        raise SystemExit(cli.main(sys.argv[1:]))
        """
    )
    line = assert_one_sentence(mlopstui(tmp_path, "plugins", script=script), 1)
    assert "unexpected error (KeyError" in line and "report" in line
    log = tmp_path / "xdg" / "state" / "mlopstui" / "mlopstui.log"
    assert log.exists(), line
    assert str(log) in line
    logged = log.read_text(encoding="utf-8")
    assert "Traceback" in logged and "in broken" in logged


@pytest.mark.parametrize(
    ("exc", "status", "words"),
    [
        (OSError(40, "Too many levels of symbolic links", "/x/cache.sqlite"), 2, "/x/cache"),
        (PermissionError(13, "Permission denied", "/x/c"), 2, "permissions"),
        (RecursionError("maximum recursion depth exceeded"), 2, "nested too deeply"),
        (ValueError("x"), 1, "unexpected error (ValueError: x)"),
    ],
)
def test_explain_maps_each_kind_to_a_status_and_a_sentence(
    exc: BaseException, status: int, words: str
) -> None:
    got, sentence = cli.explain(exc)
    assert got == status
    assert words in sentence
    assert "\n" not in sentence


def test_explain_a_locked_and_a_damaged_cache() -> None:
    import sqlite3

    status, sentence = cli.explain(sqlite3.OperationalError("database is locked"))
    assert status == 2 and "locked by another program" in sentence
    status, sentence = cli.explain(sqlite3.DatabaseError("file is not a database"))
    assert status == 2 and "sync --once" in sentence


# --- the workbench crashing ---------------------------------------------------------------------


def test_a_crash_in_the_workbench_exits_1_with_one_sentence(tmp_path: Path) -> None:
    """An unhandled exception in the app (here: the hook that runs after the first frame, where
    plugin panes load) ends the process with status 1 - it was 0 - and one sentence instead of
    Textual's traceback with local values; the traceback is in the private log."""
    script = textwrap.dedent(
        """
        import sys
        from mlopstui.ui import app as ui_app

        def explode(self):
            raise RuntimeError("pane exploded token=s3cret")

        ui_app.MlopsApp._after_first_frame = explode
        from mlopstui import cli
        raise SystemExit(cli.main(sys.argv[1:]))
        """
    )
    result = mlopstui(
        tmp_path,
        "--cache",
        str(tmp_path / "cache.sqlite"),
        "--tracking-uri",
        "http://127.0.0.1:9",
        script=script,
        TEXTUAL_DRIVER=HEADLESS,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr, result.stderr
    said = " ".join(result.stderr.split())  # the console wraps at its width
    assert said.startswith("mlopstui: the workbench stopped on an unexpected error"), said
    assert "RuntimeError: pane exploded token=***" in said
    log = tmp_path / "xdg" / "state" / "mlopstui" / "mlopstui.log"
    assert "pane exploded" in log.read_text(encoding="utf-8")


def test_a_reader_that_stops_early_gets_no_error(tmp_path: Path) -> None:
    """`mlopstui runs | head -1`: the pipe closes mid-print. It said 'Broken pipe; check the
    path and its permissions' (or a traceback before that): now it exits as `yes | head`
    does, 141, and says nothing."""
    from mlopstui.cache import db

    cache = tmp_path / "cache" / "c.sqlite"
    opened = db.open_writer(cache)
    opened.conn.executemany(
        "INSERT INTO runs (run_id, experiment_id, name, status, start_time) VALUES (?,?,?,?,?)",
        [(f"run{i:06d}", "1", f"name-{i}", "FINISHED", i) for i in range(5000)],
    )
    opened.conn.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlopstui", "--cache", str(cache), "runs", "--limit", "0"],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"RUN_ID")
    proc.stdout.close()  # the reader goes away with most of the table unread
    stderr = proc.stderr.read().decode()
    assert proc.wait(60) == 141, stderr
    assert stderr == ""
