"""Real external services for tests: skip-or-fail policy, an MLflow server, a seeded dataset.

Tests talk to the real `mlflow server` over loopback instead of mocks, because the wire format,
paging, retries and error behaviour are what the app has to cope with. Populating goes through
the embedded SQLite store (much faster than the REST API), then the server serves the same file.
Nothing here imports `mlopstui` or, at import time, `mlflow`.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REQUIRE_SERVICES_ENV = "MLOPSTUI_REQUIRE_SERVICES"


def require_service(name: str, reason: str) -> None:
    """Skip the test because a service is missing, or fail it when CI demands every service.

    A developer without (say) full MLflow still gets a green run of everything else; CI sets
    MLOPSTUI_REQUIRE_SERVICES=1 so a missing service can never silently skip coverage.
    """
    message = f"{name} unavailable: {reason}"
    if os.environ.get(REQUIRE_SERVICES_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_SERVICES_ENV}=1)", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "<no log>"
    return "\n".join(text.splitlines()[-lines:])


def _killpg(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the test process dies, even by SIGKILL (Linux only).

    `mlflow server` forwards SIGTERM to its uvicorn child, so nothing outlives pytest.
    """
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


_LIVE: set[MlflowServer] = set()


@atexit.register
def _kill_leftovers() -> None:
    for server in list(_LIVE):
        server.kill()


class MlflowServer:
    """A real `mlflow server` on 127.0.0.1 with a SQLite backend, in its own process group.

    Uses the fast settings measured in FACTS.md: one uvicorn worker, no job runner (~4-5 s to
    healthy instead of 13 processes and ~3 GB). `backend_uri` is the same database, for fast
    population through `mlflow.MlflowClient(backend_uri)`.
    """

    def __init__(self, directory: Path | str, port: int | None = None, timeout: float = 60.0):
        self.dir = Path(directory).resolve()
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.dir / "mlflow.db"
        self.backend_uri = f"sqlite:///{self.db_path}"
        self.artifact_root = self.dir / "artifacts"
        self.log_path = self.dir / "server.log"
        self.timeout = timeout
        self._fixed_port = port is not None
        self.port = port if port is not None else free_port()
        self.startup_seconds: float | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __repr__(self) -> str:
        return f"MlflowServer({self.url}, dir={self.dir}, running={self.is_running()})"

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def is_healthy(self, timeout: float = 1.0) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=timeout) as resp:
                return resp.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def start(self) -> MlflowServer:
        """Start the server and wait until `/health` answers; fail with the log tail if not."""
        if self.is_running():
            return self
        if importlib.util.find_spec("mlflow") is None:
            require_service("MLflow server", "full mlflow is not installed (pip install '.[test]')")
        # A free port can be taken between probing and binding: retry on a new one.
        for attempt in range(3):
            self._spawn()
            if self._wait_healthy():
                return self
            log = _log_tail(self.log_path)
            self.kill()
            if self._fixed_port or "address already in use" not in log.lower() or attempt == 2:
                pytest.fail(
                    f"mlflow server at {self.url} not healthy within {self.timeout:.0f} s; "
                    f"log {self.log_path} ends with:\n{log}",
                    pytrace=False,
                )
            self.port = free_port()
        raise AssertionError("unreachable")

    def _spawn(self) -> None:
        self.artifact_root.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", PYTHONUNBUFFERED="1")
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
            env.pop(name, None)
        cmd = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            self.backend_uri,
            "--default-artifact-root",
            str(self.artifact_root),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
        ]
        # prctl's death signal follows the forking *thread*: only use it from the main thread.
        on_main = threading.current_thread() is threading.main_thread()
        preexec = _die_with_parent if sys.platform == "linux" and on_main else None
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start {time.strftime('%H:%M:%S')} port {self.port} ===\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                cmd,
                cwd=self.dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=preexec,
            )
        _LIVE.add(self)

    def _wait_healthy(self) -> bool:
        began = time.monotonic()
        deadline = began + self.timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            if self.is_healthy(timeout=1.0):
                self.startup_seconds = time.monotonic() - began
                return True
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        """Terminate the whole process group gracefully; SIGKILL it after 10 s."""
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            _killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        # The leader may be gone while uvicorn lingers in its group: sweep it.
        _killpg(proc.pid, signal.SIGKILL)
        self._proc = None
        _LIVE.discard(self)

    def kill(self) -> None:
        """SIGKILL the whole process group now, as a crash would (for "server dies" tests)."""
        proc = self._proc
        if proc is None:
            return
        _killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self._proc = None
        _LIVE.discard(self)

    def restart(self) -> MlflowServer:
        """Stop (if running) and start again on the same port with the same database."""
        self.stop()
        return self.start()


# --- the seeded dataset ------------------------------------------------------------------------

VISION = "vision-resnet"
NLP = "nlp-bert"
HOSTILE_RUN_NAME = "\x1b]52;c;cHduZWQ=\x07evil\x1b[31m[link=http://x]click[/link]\u202egnp.exe"
HOSTILE_TAG_KEY = "note"
HOSTILE_TAG_VALUE = "clear\x9b2Jscreen"
BASE_TIME_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
METRIC_STEPS = 5


@dataclass(frozen=True)
class SeededRun:
    """One run as written: what a test should see come back through the server."""

    run_id: str
    name: str
    experiment: str
    experiment_id: str
    status: str
    start_time: int
    end_time: int | None
    params: dict[str, str]
    metrics: dict[str, float]  # latest value of each metric (step METRIC_STEPS - 1)
    tags: dict[str, str]


@dataclass
class SeededDataset:
    """Everything `seed_mlflow_store` created. Runs are listed oldest first.

    Searching experiments also returns MLflow's own "Default" experiment (id "0", no runs).
    """

    experiment_ids: dict[str, str] = field(default_factory=dict)
    runs: list[SeededRun] = field(default_factory=list)
    hostile_run_id: str = ""
    hostile_run_name: str = HOSTILE_RUN_NAME
    hostile_tag_key: str = HOSTILE_TAG_KEY
    hostile_tag_value: str = HOSTILE_TAG_VALUE

    @property
    def experiment_names(self) -> list[str]:
        return list(self.experiment_ids)

    def runs_in(self, experiment: str) -> list[SeededRun]:
        return [r for r in self.runs if r.experiment == experiment]

    def run_ids(self, experiment: str) -> list[str]:
        return [r.run_id for r in self.runs_in(experiment)]

    def count(self, experiment: str, status: str | None = None) -> int:
        return sum(1 for r in self.runs_in(experiment) if status in (None, r.status))

    @property
    def expected_counts(self) -> dict[str, dict[str, int]]:
        """{experiment: {status: count}}, e.g. vision-resnet: 30 FINISHED, 2 FAILED, 1 RUNNING."""
        out: dict[str, dict[str, int]] = {}
        for r in self.runs:
            by_status = out.setdefault(r.experiment, {})
            by_status[r.status] = by_status.get(r.status, 0) + 1
        return out

    def by_id(self, run_id: str) -> SeededRun:
        return next(r for r in self.runs if r.run_id == run_id)


def seed_mlflow_store(backend_uri: str, artifact_root: Path) -> SeededDataset:
    """Populate an MLflow store with the deterministic dataset that integration tests share.

    vision-resnet: 30 FINISHED + 2 FAILED + 1 RUNNING runs; nlp-bert: 20 FINISHED runs, the
    last of which has a hostile name (OSC 52, BEL, CSI, Rich markup, bidi override) and a tag
    holding a C1 CSI. Runs start one minute apart from BASE_TIME_MS, so ordering is fixed.
    """
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(backend_uri)
    data = SeededDataset()
    plan = [(VISION, "vision", "resnet", ["FINISHED"] * 30 + ["FAILED"] * 2 + ["RUNNING"])]
    plan.append((NLP, "nlp", "bert", ["FINISHED"] * 20))
    minute = 0
    for experiment, team, prefix, statuses in plan:
        location = (Path(artifact_root) / experiment).resolve().as_uri()
        exp_id = client.create_experiment(experiment, artifact_location=location)
        data.experiment_ids[experiment] = exp_id
        for i, status in enumerate(statuses):
            hostile = experiment == NLP and i == len(statuses) - 1
            name = HOSTILE_RUN_NAME if hostile else f"{prefix}-{i:03d}"
            start = BASE_TIME_MS + minute * 60_000
            minute += 1
            tags = {
                "team": team,
                "mlflow.source.name": f"train_{prefix}.py",
                "mlflow.user": ("alice", "bob")[i % 2],
            }
            if hostile:
                tags[HOSTILE_TAG_KEY] = HOSTILE_TAG_VALUE
            params = {
                "lr": ("0.1", "0.01", "0.001")[i % 3],
                "batch_size": ("32", "64", "128")[i % 3],
                "optimizer": ("sgd", "adam")[i % 2],
            }
            val_acc = round(0.5 + 0.01 * i, 4)
            loss = round(1.0 - 0.02 * i, 4)
            metrics: list[Metric] = []
            for step in range(METRIC_STEPS):
                frac = (step + 1) / METRIC_STEPS
                ts = start + (step + 1) * 1_000
                metrics.append(Metric("val_acc", round(val_acc * frac, 4), ts, step))
                metrics.append(Metric("loss", round(loss / frac, 4), ts, step))
            run = client.create_run(exp_id, start_time=start, tags=tags, run_name=name)
            run_id = run.info.run_id
            client.log_batch(
                run_id, metrics=metrics, params=[Param(k, v) for k, v in params.items()]
            )
            end = None if status == "RUNNING" else start + 30_000
            if end is not None:
                client.set_terminated(run_id, status, end_time=end)
            if hostile:
                data.hostile_run_id = run_id
            data.runs.append(
                SeededRun(
                    run_id=run_id,
                    name=name,
                    experiment=experiment,
                    experiment_id=exp_id,
                    status=status,
                    start_time=start,
                    end_time=end,
                    params=params,
                    metrics={"val_acc": val_acc, "loss": loss},
                    tags=tags,
                )
            )
    return data


def services_dir() -> Path:
    """Where `bash scripts/services up` keeps its state and the <name>.env files."""
    explicit = os.environ.get("MLOPSTUI_SERVICES_DIR")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"mlopstui-services-{os.getuid()}"


def service_env(name: str) -> dict[str, str]:
    """The variables a running service published (scripts/services.d/<name>.sh writes
    `<name>.env` as KEY=VALUE lines); skips (fails under MLOPSTUI_REQUIRE_SERVICES=1) when
    the service is not up."""
    path = services_dir() / f"{name}.env"
    if not path.exists():
        require_service(name, f"not started ({path} missing): run `bash scripts/services up`")
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            values[key.strip()] = value.strip().strip("'\"")
    return values


REPO_ROOT = Path(__file__).resolve().parents[1]
_REVIVED: set[str] = set()


def service_diagnosis(name: str, lines: int = 12) -> str:
    """What `scripts/services.d/<name>.sh status` says, and the end of each of its logs."""
    parts = []
    try:
        status = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / "services.d" / f"{name}.sh"), "status"],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "MLOPSTUI_SERVICES_DIR": str(services_dir())},
        )
        parts.append((status.stdout + status.stderr).strip())
    except (OSError, subprocess.TimeoutExpired) as exc:
        parts.append(f"status: {exc}")
    for log in sorted((services_dir() / name).glob("*.log")):
        parts.append(f"--- {log.name} ends with:\n{_log_tail(log, lines)}")
    return "\n".join(parts)


def revive_service(name: str, why: str) -> dict[str, str]:
    """A service `scripts/services up` started is gone mid-run: say why, start it again once.

    Test services are our test bench, not the code under test; one that died (killed by the
    machine, or never came up) would fail every later test for a reason that is not ours. The
    first time, its diagnosis is kept as a warning in the summary and `up` runs for that one
    service; a second death, or an `up` that fails, fails the test with the diagnosis.
    Returns the service's new variables.
    """
    import warnings

    diagnosis = service_diagnosis(name)
    if name in _REVIVED:
        require_service(name, f"{why}, again after a restart:\n{diagnosis}")
    _REVIVED.add(name)
    env = {
        **os.environ,
        "MLOPSTUI_SERVICES": name,
        "MLOPSTUI_SERVICES_DIR": str(services_dir()),
    }
    try:
        up = subprocess.run(
            ["bash", str(REPO_ROOT / "scripts" / "services"), "up"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        ok, out = up.returncode == 0, up.stdout + up.stderr
    except (OSError, subprocess.TimeoutExpired) as exc:
        ok, out = False, str(exc)
    if not ok:
        require_service(name, f"{why}; restarting it failed:\n{out[-2000:]}\n{diagnosis}")
    warnings.warn(
        f"test service {name} was down mid-run ({why}) and was restarted; before that:\n"
        f"{diagnosis}",
        stacklevel=2,
    )
    return service_env(name)
