"""The source contract and catalogue: built-ins first, plugins through entry points, every
broken plugin reported and skipped, and the workbench, pipeline and CLI looping over them."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from mlopstui import config
from mlopstui.sources import Source, catalog
from mlopstui.workbench import Workbench

FIXTURES = Path(__file__).parent / "plugin_fixtures"
BUILTINS = ["mlflow", "kubernetes", "gpu"]


def ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=catalog.GROUP)


def settings_for(tmp_path: Path, **flags: object) -> config.Settings:
    return config.load(
        environ={},
        flags={"cache": str(tmp_path / "cache" / "c.sqlite"), **flags},
    )


PLUGINS = [
    ep("counter", "fake_sources.good:CounterSource"),
    ep("broken", "fake_sources.broken:Whatever"),
    ep("open-fails", "fake_sources.good:OpenFails"),
    ep("future", "fake_sources.good:FutureSource"),
    ep("unversioned", "fake_sources.good:Unversioned"),
    ep("dup", "fake_sources.good:DuplicateSource"),
    ep("plain", "fake_sources.good:NotASource"),
    ep("failing-jobs", "fake_sources.good:FailingJobsSource"),
]


@pytest.fixture
def with_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake plugin sources installed next to the built-ins."""
    monkeypatch.syspath_prepend(str(FIXTURES))
    monkeypatch.setattr(catalog, "entry_points", lambda group: PLUGINS)


def test_listing_imports_no_source_module_and_gives_builtins_first() -> None:
    """listed() names the built-ins first, in order, and imports no source or client."""
    code = """
import json, sys
from mlopstui.sources import catalog
names = [ep.name for ep in catalog.listed()]
loaded = sorted(m for m in sys.modules if m.startswith(("mlopstui.sources.", "mlopstui.sync",
    "mlopstui.adapters", "textual", "mlflow", "kubernetes", "pynvml", "requests")))
print(json.dumps({"names": names, "loaded": loaded}))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["names"][:3] == BUILTINS
    assert result["loaded"] == ["mlopstui.sources.catalog"]


def test_builtins_open_without_plugins_and_declare_their_feeds(tmp_path: Path) -> None:
    """A workbench opens the three built-ins at once; plugins wait for load_plugins()."""
    bench = Workbench(settings_for(tmp_path))
    try:
        assert [s.name for s in bench.sources] == BUILTINS
        assert not bench.sources.plugins_loaded
        feeds = {s.name: s.feed_names() for s in bench.sources}
        assert feeds == {
            "mlflow": ("mlflow", "mlflow-registry"),
            "kubernetes": ("kubernetes",),
            "gpu": ("dcgm", "nvml", "gpu-history"),
        }
        assert bench.sources.fetcher_of("artifacts").name == "mlflow"
        assert bench.sources.failures == []
    finally:
        bench.close()


def test_broken_plugins_are_reported_and_the_rest_carries_on(
    tmp_path: Path, with_plugins: None
) -> None:
    """Import errors, open errors, other or missing API versions, duplicate names and
    non-sources each become one failure with a readable reason; the good plugin opens."""
    bench = Workbench(settings_for(tmp_path))
    try:
        failures = bench.sources.load_plugins()
        assert [s.name for s in bench.sources] == [*BUILTINS, "counter", "failing-jobs"]
        reasons = {f.name: f.reason for f in failures}
        assert list(reasons) == ["broken", "dup", "future", "open-fails", "plain", "unversioned"]
        assert "fake source exploded on import" in reasons["broken"]
        assert reasons["open-fails"].startswith("open failed: OSError")
        assert reasons["future"] == "declares source API 99, this mlopstui offers 1"
        assert reasons["unversioned"] == "declares source API None, this mlopstui offers 1"
        assert reasons["dup"] == "source name 'counter' already taken"
        assert reasons["plain"] == "is not a mlopstui.sources.Source"
        assert bench.sources.load_plugins() is failures  # once only
    finally:
        bench.close()


def test_workbench_jobs_loop_over_sources_and_a_failing_source_gets_a_failing_job(
    tmp_path: Path, with_plugins: None
) -> None:
    """The plugin's job runs through the scheduler like a built-in's; a source whose jobs()
    raises gives one job that fails with the reason, so sync status shows it."""
    bench = Workbench(settings_for(tmp_path, **{"gpu.nvml": False}))
    announced: list[tuple[str, set[str]]] = []
    bench.scheduler.listeners.append(lambda feed, topics: announced.append((feed, topics)))
    try:
        jobs = {(j.source, j.name): j for j in bench.jobs(heartbeat=False)}
        assert ("mlflow", "runs") in jobs and ("gpu-history", "prune") in jobs
        ok = bench.scheduler.run_job(jobs[("counter", "count")])
        assert ok.ok and ok.rows == 1
        assert ("counter", {"counter"}) in announced
        broken = bench.scheduler.run_job(jobs[("failing-jobs", "setup")])
        assert not broken.ok
        assert broken.error == "failing-jobs could not start syncing: no endpoint configured"
        counter = bench.source("counter")
        assert counter is not None
    finally:
        bench.close()
    assert counter.closed


def test_plugin_source_section_reaches_the_source(tmp_path: Path, with_plugins: None) -> None:
    """[sources.<name>] from the config file reaches the source as plain values."""
    cfg = tmp_path / "config.toml"
    cfg.write_text("[sources.counter]\nstep = 5\nread_only = true\n", encoding="utf-8")
    settings = config.load(
        config=str(cfg), environ={}, flags={"cache": str(tmp_path / "c" / "c.sqlite")}
    )
    bench = Workbench(settings)
    try:
        counter = bench.source("counter")
        assert counter is not None
        assert counter.info().as_dict()["step"] == 5
        assert counter.read_only() is True
        assert bench.source("mlflow").read_only() is False
    finally:
        bench.close()


def test_pipeline_takes_each_sources_executors_and_read_only_rule(tmp_path: Path) -> None:
    """The pipeline offers the MLflow registry actions, names the store in its label, and
    refuses everything under the global read-only switch."""
    bench = Workbench(settings_for(tmp_path))
    ro_bench = Workbench(settings_for(tmp_path / "ro", read_only=True))
    try:
        assert bench.pipeline.allows("mlflow", "promote")
        assert not bench.pipeline.allows("mlflow", "no-such-kind")
        assert not bench.pipeline.allows("kubernetes", "cordon")  # no kubeconfig here
        assert not ro_bench.pipeline.allows("mlflow", "promote")
    finally:
        bench.close()
        ro_bench.close()


def test_source_base_defaults_describe_a_source_that_provides_nothing(tmp_path: Path) -> None:
    """A minimal subclass gets empty jobs/executors/status, a default info and read-only rule."""

    class Minimal(Source):
        name = "minimal"
        api_version = 1

    bench = Workbench(settings_for(tmp_path))
    try:
        env = bench._env_for("minimal")
        source = Minimal(env)
        assert source.jobs() == [] and source.executors() == [] and source.status() == []
        assert source.info().as_dict()["label"] == "minimal"
        assert source.feed_names() == ("minimal",)
        assert source.read_only() is False
        with pytest.raises(ValueError, match="minimal has no fetch 'x'"):
            source.fetch("x")
    finally:
        bench.close()


@pytest.mark.parametrize(
    "uri",
    ["notaurl", "htp://x", "sqlite:////nonexistent-dir/deeper/mlflow.db", "http://[::1"],
)
def test_doctor_never_prints_a_traceback(tmp_path: Path, uri: str) -> None:
    """Whatever the tracking URI, doctor prints one line per check and exits 1."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mlopstui",
            "--cache",
            str(tmp_path / "c" / "c.sqlite"),
            "--tracking-uri",
            uri,
            "doctor",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert proc.returncode == 1, out
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("FAIL mlflow:")]
    assert len(line) < 400
    for name in ("config", "cache", "kubernetes", "dcgm", "nvml"):
        assert any(x[5:].startswith(f"{name}:") for x in proc.stdout.splitlines()), name


def test_doctor_on_a_fresh_install_creates_nothing_and_passes(tmp_path: Path) -> None:
    """The embedded store not created yet is not a failure, and doctor does not create it."""
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("XDG_", "HOME"))}
    env["HOME"] = str(home)
    proc = subprocess.run(
        [sys.executable, "-m", "mlopstui", "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (line,) = [x for x in proc.stdout.splitlines() if x[5:].startswith("mlflow:")]
    assert line.startswith("--   mlflow:") and "created on first sync" in line, line
    assert not list(home.rglob("mlflow.db"))


def test_kubernetes_contexts_are_an_on_demand_fetch(tmp_path: Path) -> None:
    """The context picker's list comes from a fetch (off the UI loop), not from info():
    every context of the kubeconfig, the production ones marked."""
    kubeconfig = tmp_path / "kubeconfig"
    contexts = ["dev", "prod-eu", "staging"]
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "dev",
                "clusters": [
                    {"name": c, "cluster": {"server": "https://127.0.0.1:9"}} for c in contexts
                ],
                "users": [{"name": "u", "user": {"token": "secret-token"}}],
                "contexts": [{"name": c, "context": {"cluster": c, "user": "u"}} for c in contexts],
            }
        )
    )
    bench = Workbench(settings_for(tmp_path, **{"kubernetes.kubeconfig": str(kubeconfig)}))
    try:
        source = bench.sources.fetcher_of("kube_contexts")
        assert source is not None and source.name == "kubernetes"
        got = source.fetch("kube_contexts")
        assert got == {
            "contexts": contexts,
            "production_contexts": ["prod-eu"],
            "contexts_error": None,
        }
        info = source.info().as_dict()
        assert info["context"] == "dev" and "contexts" not in info
        assert "secret-token" not in json.dumps(info)
    finally:
        bench.close()
