"""`bash scripts/services`: the env file survives a second `up`, and while the service scripts
run, Debian's policy-rc.d denies every system service start (and is gone afterwards).

The real script runs in bash over a stand-in service (`MLOPSTUI_SERVICES_D`) and a policy path
in a temp directory (`MLOPSTUI_POLICY_RC_D`), so the test neither starts services nor touches
/usr/sbin.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "services"

# A service script as scripts/services.d/<name>.sh: `up` writes its variables and records what
# an apt-get postinst would meet: whether a policy exists and what invoking it answers.
FAKE_SERVICE = """#!/usr/bin/env bash
set -euo pipefail
name="$(basename "$0" .sh)"
case "$1" in
    up)
        if [[ -x "$MLOPSTUI_POLICY_RC_D" ]]; then
            "$MLOPSTUI_POLICY_RC_D" prometheus start && rc=0 || rc=$?
            echo "$rc" >"$MLOPSTUI_SERVICES_DIR/$name.policy"
        else
            echo none >"$MLOPSTUI_SERVICES_DIR/$name.policy"
        fi
        echo "${name^^}_URL=http://127.0.0.1:1234/$name" >"$MLOPSTUI_SERVICES_DIR/$name.env"
        ;;
    down) : ;;
    status) echo "$name: up" ;;
esac
"""


@pytest.fixture
def services(tmp_path: Path):
    """Run `bash scripts/services ARGS` over two stand-in services in `tmp_path`."""
    fake = tmp_path / "services.d"
    fake.mkdir()
    for name in ("alpha", "beta"):
        (fake / f"{name}.sh").write_text(FAKE_SERVICE)
    state = tmp_path / "state"
    env = {
        **os.environ,
        "MLOPSTUI_SERVICES": "alpha beta",
        "MLOPSTUI_SERVICES_D": str(fake),
        "MLOPSTUI_SERVICES_DIR": str(state),
        "MLOPSTUI_BUILD_CACHE": str(tmp_path / "build"),
        "MLOPSTUI_POLICY_RC_D": str(tmp_path / "policy-rc.d"),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    run.state = state  # type: ignore[attr-defined]
    return run


EXPECTED = {"ALPHA_URL=http://127.0.0.1:1234/alpha", "BETA_URL=http://127.0.0.1:1234/beta"}


def test_env_prints_every_service_after_a_second_up(services) -> None:
    """`*.env` matched services.env itself: the second `up` emptied it (cat: input file is
    output file), and `env` printed nothing."""
    services("up")
    assert set(services("env").stdout.splitlines()) == EXPECTED
    services("up")
    assert set(services("env").stdout.splitlines()) == EXPECTED
    services("up")
    lines = services("env").stdout.splitlines()
    assert sorted(lines) == sorted(EXPECTED), "each variable once"


def test_down_leaves_an_empty_env(services) -> None:
    services("up")
    services("down")
    assert services("env").stdout == ""


def test_no_system_service_may_start_while_up_runs(services, tmp_path: Path) -> None:
    policy = tmp_path / "policy-rc.d"
    services("up")
    for name in ("alpha", "beta"):
        # 101: "action forbidden by policy", what invoke-rc.d and deb-systemd-invoke honour.
        assert (services.state / f"{name}.policy").read_text().strip() == "101"
    assert not policy.exists(), "the policy is removed when up ends"


def test_a_policy_already_in_place_is_left_alone(services, tmp_path: Path) -> None:
    policy = tmp_path / "policy-rc.d"
    mine = "#!/bin/sh\n# the machine owner's policy\nexit 0\n"
    policy.write_text(mine)
    policy.chmod(0o755)
    services("up")
    assert (services.state / "alpha.policy").read_text().strip() == "0"
    assert policy.read_text() == mine


def test_env_survives_repeated_up_with_no_service_to_start(tmp_path: Path) -> None:
    """The env logic alone, over variables services wrote earlier: no service script runs."""
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "kube.env").write_text("KUBECONFIG=/k\n")
    (state / "docker.env").write_text("DOCKER_HOST=unix:///d\n")
    env = {**os.environ, "MLOPSTUI_SERVICES": " ", "MLOPSTUI_SERVICES_DIR": str(state)}
    env["MLOPSTUI_BUILD_CACHE"] = str(tmp_path / "build")
    for _ in range(2):
        up = subprocess.run(["bash", str(SCRIPT), "up"], env=env, capture_output=True, text=True)
        assert up.returncode == 0, up.stderr
    out = subprocess.run(["bash", str(SCRIPT), "env"], env=env, capture_output=True, text=True)
    assert sorted(out.stdout.splitlines()) == ["DOCKER_HOST=unix:///d", "KUBECONFIG=/k"]
