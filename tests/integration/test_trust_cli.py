"""The command line under a broken cache and a hostile server, as a person runs it.

1. Thirteen kinds of unreadable cache (and audit log), each made for real on disk: `runs`,
   `gpus`, `audit` and `sync --once` (against the real MLflow server) either work or print one
   sentence on stderr and exit non-zero; never a traceback.
2. A hostile server: run names, tags, params and experiment names seeded through the real
   server's API carry terminal escapes, and a fault proxy rewrites the real server's replies so
   the run's status and id carry them too. Every subcommand's output (tables, JSON, CSV, doctor,
   plugins, gpus, audit, sync, config errors) holds no escape byte; JSON keeps the values
   \\u-escaped and intact.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fault_proxy import MODELS_SEARCH, RUNS_SEARCH, FaultProxy, Rewrite, Status
from services import MlflowServer, SeededDataset

from mlopstui.cache import db

pytestmark = pytest.mark.mlflow_server
pytest_plugins = ["helpers"]

Seeded = tuple[MlflowServer, SeededDataset]
REPO_ROOT = Path(__file__).resolve().parents[2]
ROOT = os.geteuid() == 0
# As root, chmod does not stop a read: run the CLI as root without the two capabilities that
# override file permissions, so a mode-000 file is as unreadable as for anyone else.
NO_DAC = [
    "setpriv",
    "--inh-caps=-dac_override,-dac_read_search",
    "--bounding-set=-dac_override,-dac_read_search",
]


def cli(
    *args: str, env: dict[str, str], prefix: list[str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """`python -m mlopstui ARGS` with `env` over this environment (bytes kept raw)."""
    full = {**os.environ, "PYTHONIOENCODING": "utf-8", **env}
    full.pop("MLOPSTUI_CONFIG", None)
    return subprocess.run(
        [*(prefix or []), sys.executable, "-m", "mlopstui", *args],
        env=full,
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=REPO_ROOT,
    )


def xdg(home: Path) -> dict[str, str]:
    """Private XDG directories (the audit log and the app log live under them)."""
    return {f"XDG_{n}_HOME": str(home / n.lower()) for n in ("CONFIG", "DATA", "CACHE", "STATE")}


def out(result: subprocess.CompletedProcess[bytes]) -> tuple[str, str]:
    return result.stdout.decode("utf-8", "replace"), result.stderr.decode("utf-8", "replace")


def assert_works_or_one_sentence(result: subprocess.CompletedProcess[bytes], what: str) -> str:
    """Status 0, or non-zero with one `mlopstui: ...` sentence on stderr; no traceback."""
    stdout, stderr = out(result)
    assert "Traceback" not in stdout + stderr, f"{what}:\n{stderr}"
    if result.returncode != 0:
        lines = stderr.strip().splitlines()
        assert len(lines) == 1, f"{what}: exit {result.returncode}, stderr:\n{stderr}"
        assert lines[0].startswith("mlopstui: "), f"{what}: {lines[0]}"
        return lines[0]
    return stderr.strip()


# --- 1. unreadable caches -----------------------------------------------------------------------

KINDS = [
    "zero-length",
    "empty-sqlite",
    "truncated-half",
    "random-bytes",
    "text-file",
    "directory",
    "no-read-permission",
    "directory-without-permission",
    "newer-schema",
    "another-program",
    "garbage-wal",
    "locked",
    "symlink-loop",
]
NEEDS_NO_DAC = {"no-read-permission", "directory-without-permission"}


@pytest.fixture(scope="module")
def good_cache(seeded_mlflow_server: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real cache, synced once from the seeded server (the base of the damaged copies)."""
    server, _ = seeded_mlflow_server
    home = tmp_path_factory.mktemp("good")
    cache = home / "cache.sqlite"
    result = cli(
        "--cache", str(cache), "--tracking-uri", server.url, "sync", "--once", env=xdg(home)
    )
    assert result.returncode == 0, out(result)
    conn = sqlite3.connect(cache)  # fold the WAL in: copies of one file are whole caches
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return cache


class Broken:
    """One unreadable file at `path` (a cache or an audit log), made for real, and what it
    takes to run the CLI against it (a lock holder to stop, a capability to drop)."""

    def __init__(self, kind: str, path: Path, good: Path) -> None:
        self.kind, self.path = kind, path
        self.prefix: list[str] = []
        self.holder: subprocess.Popen[bytes] | None = None
        self._restore: list[Path] = []
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        getattr(self, "_" + kind.replace("-", "_"))(good)

    def _copy(self, good: Path) -> None:
        shutil.copyfile(good, self.path)
        self.path.chmod(0o600)

    def _zero_length(self, good: Path) -> None:
        self.path.write_bytes(b"")

    def _empty_sqlite(self, good: Path) -> None:
        sqlite3.connect(self.path).close()
        self.path.write_bytes(self.path.read_bytes())  # make sure the file exists

    def _truncated_half(self, good: Path) -> None:
        data = good.read_bytes()
        self.path.write_bytes(data[: len(data) // 2])

    def _random_bytes(self, good: Path) -> None:
        self.path.write_bytes(os.urandom(64 * 1024))

    def _text_file(self, good: Path) -> None:
        self.path.write_text("# not a database\n" * 200)

    def _directory(self, good: Path) -> None:
        self.path.mkdir()
        (self.path / "inside").write_text("x")

    def _no_read_permission(self, good: Path) -> None:
        self._copy(good)
        self.path.chmod(0)
        self._restore.append(self.path)
        self._no_dac()

    def _directory_without_permission(self, good: Path) -> None:
        self._copy(good)
        self.path.parent.chmod(0)
        self._restore.append(self.path.parent)
        self._no_dac()

    def _no_dac(self) -> None:
        if ROOT:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: chmod does not stop root's reads")
            self.prefix = NO_DAC

    def _newer_schema(self, good: Path) -> None:
        self._copy(good)
        conn = sqlite3.connect(self.path)
        conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 7}")
        conn.close()

    def _another_program(self, good: Path) -> None:
        conn = sqlite3.connect(self.path)
        conn.execute("PRAGMA application_id = 1234")
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
        conn.commit()
        conn.close()

    def _garbage_wal(self, good: Path) -> None:
        self._copy(good)
        Path(f"{self.path}-wal").write_bytes(os.urandom(32 * 1024))

    def _locked(self, good: Path) -> None:
        self._copy(good)
        hold = (
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(600)\n"
        )
        self.holder = subprocess.Popen(
            [sys.executable, "-c", hold, str(self.path)], stdout=subprocess.PIPE
        )
        assert self.holder.stdout is not None
        assert self.holder.stdout.readline().strip() == b"locked"

    def _symlink_loop(self, good: Path) -> None:
        other = self.path.with_name("loop-b")
        self.path.symlink_to(other)
        other.symlink_to(self.path)

    def close(self) -> None:
        if self.holder is not None:
            self.holder.kill()
            self.holder.wait()
        for p in self._restore:
            p.chmod(0o700)


@pytest.fixture
def broken(tmp_path: Path, good_cache: Path) -> Iterator[Callable[[str, Path], Broken]]:
    made: list[Broken] = []

    def make(kind: str, path: Path) -> Broken:
        b = Broken(kind, path, good_cache)
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


def _kubeconfig(home: Path, context: str = "trust-test") -> Path:
    """A kubeconfig naming a cluster on a closed port: `gpus` (without --sync) reads only
    the cache, so it needs a context, not a cluster."""
    path = home / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
                "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}],
                "current-context": context,
            }
        )
    )
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_runs_gpus_and_sync_on_an_unreadable_cache(
    kind: str, broken, tmp_path: Path, seeded_mlflow_server: Seeded
) -> None:
    server, dataset = seeded_mlflow_server
    home = tmp_path / "home"
    cache = tmp_path / "caches" / "cache.sqlite"
    bad = broken(kind, cache)
    env = {**xdg(home), "KUBECONFIG": str(_kubeconfig(tmp_path))}
    base = ["--cache", str(cache), "--tracking-uri", server.url]

    said = {}
    for command in (["runs"], ["runs", "--format", "json"], ["gpus"], ["sync", "--once"]):
        # The kubeconfig is for `gpus`: `sync` would also try its cluster (on a closed port).
        run_env = env if command == ["gpus"] else xdg(home)
        result = cli(*base, *command, env=run_env, prefix=bad.prefix)
        said[" ".join(command)] = line = assert_works_or_one_sentence(result, f"{kind}: {command}")
        if result.returncode != 0:
            assert str(cache) in line, f"{kind}: {command}: the sentence names the cache: {line}"
        if command == ["sync", "--once"] and result.returncode == 0:
            # It worked: the cache was rebuilt from the server, and `runs` now reads it whole.
            listing = cli(*base, "runs", "--format", "json", "--limit", "0", env=env)
            assert listing.returncode == 0, out(listing)
            assert len(json.loads(listing.stdout)) == len(dataset.runs)
    if kind in ("locked", "directory", "directory-without-permission", "symlink-loop"):
        # Nothing can rebuild these in place: sync says why, and does not claim success.
        assert said["sync --once"], said


@pytest.mark.parametrize("kind", KINDS)
def test_audit_on_an_unreadable_audit_log(kind: str, broken, tmp_path: Path) -> None:
    home = tmp_path / "home"
    log = home / "data" / "mlopstui" / "audit.sqlite"
    bad = broken(kind, log)
    for fmt in ("table", "json"):
        result = cli(
            "--cache", str(tmp_path / "c.sqlite"), "audit", "--format", fmt,
            env=xdg(home), prefix=bad.prefix,
        )  # fmt: skip
        assert_works_or_one_sentence(result, f"audit {fmt} on {kind}")


def test_the_permission_cases_are_really_unreadable(broken, tmp_path: Path) -> None:
    """The two permission kinds stop reads for the process the CLI runs as (as root, without
    its override capabilities): otherwise their tests would prove nothing."""
    for kind in sorted(NEEDS_NO_DAC):
        path = tmp_path / kind / "x" / "cache.sqlite"
        bad = broken(kind, path)
        probe = subprocess.run(
            [*bad.prefix, sys.executable, "-c", f"open({str(path)!r}, 'rb').read(1)"],
            capture_output=True,
        )
        assert probe.returncode != 0 and b"PermissionError" in probe.stderr, kind


# --- 2. a hostile server ------------------------------------------------------------------------

OSC52 = "\x1b]52;c;cHduZWQ=\x07"
HOSTILE = {
    "experiment": f"exp{OSC52}\x1b[2J\u202eevil",
    "run_name": f"{OSC52}run\x1b[31m[link=http://x]click[/link]\r\u202egnp.exe",
    "param": "lr\x9b2J\x1b]8;;http://x\x1b\\link",
    "tag": "note\x9d52;c;cHduZWQ=\x9cend\x1b[H",
    "status": f"FAILED{OSC52}\x1b[2J\x9b1;1H",
    "run_id": f"\x1b[2Jdeadbeef\x9d0;title\x07{'0' * 8}",
    "error": f"quota{OSC52}\x1b[2J exceeded",
    "context": f"ctx{OSC52}\x1b[2Jprod",
}
FORBIDDEN = (
    [chr(c) for c in range(0x00, 0x20) if chr(c) not in "\n"]
    + [chr(c) for c in range(0x7F, 0xA0)]
    + ["\u202e"]
)


def assert_no_escapes(data: bytes, what: str) -> str:
    """No control character in `data`; where values are cleaned (not JSON, which keeps them
    whole and \\u-escaped, nor an error quoting the person's own setting as a repr), not even
    the payload of the OSC 52 clipboard write."""
    shown = data.decode("utf-8", "strict")
    if "csv" in what:  # CSV ends its rows with CRLF (RFC 4180): a \r anywhere else is hostile
        shown = shown.replace("\r\n", "\n")
    for ch in FORBIDDEN:
        assert ch not in shown, f"{what}: {ch!r} reached the terminal: {shown[:400]!r}"
    if "json" not in what and "env error" not in what:
        assert "cHduZWQ=" not in shown, f"{what}: the OSC 52 clipboard payload survived"
    return shown


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MlflowServer, str]]:
    """A private real server with one experiment and two runs whose name, param and tag
    values carry escapes (seeded through the server's own REST API)."""
    from mlflow import MlflowClient

    server = MlflowServer(tmp_path_factory.mktemp("mlflow-hostile")).start()
    try:
        client = MlflowClient(server.url)
        exp = client.create_experiment(HOSTILE["experiment"])
        # The client prints "View run <name> at ..." on stdout: the test log stays inert too.
        with contextlib.redirect_stdout(io.StringIO()):
            run_ids = [_seed_run(client, exp, i) for i in range(2)]
        yield server, run_ids[0]
    finally:
        server.stop()


def _seed_run(client: Any, exp: str, i: int) -> str:
    """One finished run whose name, param value and tag value are hostile; its id."""
    run_id = client.create_run(exp, run_name=HOSTILE["run_name"] + str(i)).info.run_id
    client.log_param(run_id, "optimizer", HOSTILE["param"])
    client.set_tag(run_id, "note", HOSTILE["tag"])
    client.log_metric(run_id, "acc", 0.5 + i / 10)
    client.set_terminated(run_id, "FINISHED")
    return str(run_id)


def _hostile_runs(request: dict, response: dict) -> dict:
    """The real server's runs/search reply, with the first run's status and id hostile."""
    runs = response.get("runs") or []
    if runs:
        info = runs[0]["info"]
        info["status"] = HOSTILE["status"]
        info["run_id"] = info["run_uuid"] = HOSTILE["run_id"]
    return response


def test_every_command_output_is_free_of_escapes(
    hostile_server: tuple[MlflowServer, str], tmp_path: Path
) -> None:
    server, _ = hostile_server
    home = tmp_path / "home"
    kube = _kubeconfig(tmp_path, HOSTILE["context"])
    env = {**xdg(home), "KUBECONFIG": str(kube)}
    cache = tmp_path / "cache.sqlite"
    outputs: dict[str, subprocess.CompletedProcess[bytes]] = {}
    with FaultProxy(server.url) as proxy:
        proxy.on("POST", RUNS_SEARCH, Rewrite(_hostile_runs))
        proxy.on(
            "GET", MODELS_SEARCH,
            Status(500, {"error_code": "INTERNAL_ERROR", "message": HOSTILE["error"]}),
        )  # fmt: skip
        proxy.on(
            "POST", MODELS_SEARCH,
            Status(500, {"error_code": "INTERNAL_ERROR", "message": HOSTILE["error"]}),
        )  # fmt: skip
        base = ["--cache", str(cache), "--tracking-uri", proxy.url]
        outputs["sync --once"] = cli(*base, "sync", "--once", env=env)
        assert any(path == RUNS_SEARCH for _m, path, _r in proxy.log), "the sync went through"
        outputs["doctor"] = cli(*base, "doctor", env=env)
        outputs["promote"] = cli(
            *base, "promote", HOSTILE["run_name"], "1", "--alias", "champion", "--yes", env=env
        )
    cols = "params.optimizer,tags.note,metrics.acc"
    for fmt in ("table", "json", "csv"):
        outputs[f"runs {fmt}"] = cli(
            *base, "runs", "--format", fmt, "--columns", cols, "--limit", "0", env=env
        )
    outputs["runs --experiment"] = cli(
        *base, "runs", "--experiment", HOSTILE["experiment"], env=env
    )
    outputs["runs --filter"] = cli(*base, "runs", "--filter", HOSTILE["tag"], env=env)
    for fmt in ("table", "json"):
        outputs[f"gpus {fmt}"] = cli(*base, "gpus", "--format", fmt, env=env)
        outputs[f"audit {fmt}"] = cli(*base, "audit", "--format", fmt, env=env)
    outputs["plugins"] = cli(*base, "plugins", env=env)
    config = tmp_path / "config.toml"
    config.write_text(
        '[mlflow]\n"\\u001b]52;c;cHduZWQ=\\u0007k\\u001b[2J\\u009b2J" = 1\n', encoding="utf-8"
    )
    outputs["config error"] = cli("--config", str(config), "runs", env=env)
    outputs["env error"] = cli("runs", env={**env, "MLOPSTUI_POLL_INTERVAL": HOSTILE["status"]})

    for what, result in outputs.items():
        assert b"Traceback" not in result.stdout + result.stderr, (what, out(result))
        assert_no_escapes(result.stdout, f"{what} (stdout)")
        assert_no_escapes(result.stderr, f"{what} (stderr)")

    # The hostile values made it through (so the scan above saw them), made inert:
    table = outputs["runs table"].stdout.decode()
    assert "FAILED" in table and "deadbeef"[:6] in table, table
    assert "run[link=http://x]click[/link]" in table
    sync = outputs["sync --once"].stdout.decode()
    assert "quota exceeded" in sync, sync
    assert "ctxprod" in outputs["gpus table"].stdout.decode()
    # JSON keeps the data whole, every control character \u-escaped.
    records = json.loads(outputs["runs json"].stdout)
    hostile = next(r for r in records if r["status"] == HOSTILE["status"])
    assert hostile["run_id"] == HOSTILE["run_id"]
    assert hostile["params.optimizer"] == HOSTILE["param"]
    assert hostile["tags.note"] == HOSTILE["tag"]
    assert {r["experiment"] for r in records} == {HOSTILE["experiment"]}
    assert "\\u001b" in outputs["runs json"].stdout.decode()
    assert json.loads(outputs["gpus json"].stdout)["context"] == HOSTILE["context"]
    # CSV is for spreadsheets and scripts that print it: cleaned, like the table.
    rows = list(csv.DictReader(io.StringIO(outputs["runs csv"].stdout.decode())))
    assert len(rows) == 2 and {r["status"] for r in rows} >= {"FAILED"}
    assert outputs["config error"].returncode == 2
    assert outputs["env error"].returncode == 2
