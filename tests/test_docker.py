"""The image definition, checked without Docker: its command runs here, as a non-root user's would.

The Dockerfile is parsed (final stage only), and its ENTRYPOINT + CMD, ENV and HEALTHCHECK are
run with this checkout's console script and Python, which is what the image installs.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from okrsync.sandbox.github import GitHubSim
from tests.daemon_support import (
    TODAY,
    DaemonProcess,
    cycle_table,
    free_port,
    kr_table,
    seed,
    wait_for,
    write_config,
)

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"
TOKEN = "ghp_docker_SECRET_0b7e"


def final_stage() -> list[tuple[str, str]]:
    """The (INSTRUCTION, arguments) of the Dockerfile's last stage, continuations joined."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stage: list[tuple[str, str]] = []
    for entry in logical:
        instruction, _, arguments = entry.partition(" ")
        if instruction.upper() == "FROM":
            stage = []
        stage.append((instruction.upper(), arguments.strip()))
    return stage


def instruction(name: str) -> str:
    found = [args for inst, args in final_stage() if inst == name]
    assert found, f"the final stage has no {name}"
    return found[-1]


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value)
    return value


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for inst, args in final_stage():
        if inst == "ENV":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                env[key] = value
    return env


def image_command() -> list[str]:
    argv = exec_form(instruction("ENTRYPOINT")) + exec_form(instruction("CMD"))
    assert argv[0] == "okrsync"
    return [str(Path(sys.executable).parent / "okrsync"), *argv[1:]]  # the console script the image has


def healthcheck_command() -> list[str]:
    options, _, command = instruction("HEALTHCHECK").partition("CMD ")
    argv = exec_form(command)
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def test_the_image_runs_the_daemon_as_a_non_root_user() -> None:
    user = instruction("USER").split(":")[0]
    assert user not in ("", "root", "0")
    assert image_command()[1:] == ["run"]
    assert "9464" in instruction("EXPOSE")
    env = image_env()
    assert env["OKRSYNC_SERVER__LISTEN"] == "0.0.0.0:9464"
    assert env["OKRSYNC_LOG_FORMAT"] == "json"
    assert env["OKRSYNC_CONFIG"] == "/etc/okrsync/config.toml"


def test_the_healthcheck_calls_livez_with_python_not_curl() -> None:
    """Liveness, not health: a GitHub outage (/healthz 503) must not get the container restarted."""
    options, _, _ = instruction("HEALTHCHECK").partition("CMD ")
    argv = healthcheck_command()
    assert argv[1] == "-c" and "/livez" in argv[2] and "/healthz" not in argv[2] and "urllib" in argv[2]
    assert "curl" not in instruction("HEALTHCHECK") and "wget" not in instruction("HEALTHCHECK")
    assert "--timeout=" in options and "--interval=" in options


def test_the_entrypoint_command_runs_here() -> None:
    result = subprocess.run([*image_command(), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "Run the daemon" in result.stdout


@pytest.fixture
def sim() -> GitHubSim:
    simulator = GitHubSim(tokens={TOKEN: "okrsync"})
    seed(simulator, "acme/web", "Onboarding v2", due=TODAY + timedelta(days=14))
    return simulator


def test_the_image_command_with_the_image_env_passes_its_own_healthcheck(
    tmp_path: Path, sim: GitHubSim
) -> None:
    sim.start()
    config = write_config(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'okrsync.db'}",
        sources={"github": (sim.url, ["acme/web"])},
        mapping=cycle_table() + kr_table("ENG-1.1", [("github", "acme/web", "Onboarding v2")]),
    )
    port = free_port()  # the image's 9464 may be taken here; the healthcheck follows the variable
    env = image_env() | {
        "OKRSYNC_CONFIG": str(config),  # the file the image would have mounted
        "OKRSYNC_SERVER__LISTEN": f"0.0.0.0:{port}",
    }
    daemon = DaemonProcess(
        config, log=tmp_path / "run.log", interval=1, token=TOKEN, env=env, command=image_command(), port=port
    )
    check_env = {**os.environ, **env}

    def healthy() -> bool:
        done = subprocess.run(healthcheck_command(), env=check_env, capture_output=True, timeout=10)
        return done.returncode == 0

    try:
        wait_for(healthy, timeout=15, every=0.3, what="the HEALTHCHECK to pass")
        code, _ = daemon.terminate()
    finally:
        daemon.stop()
        sim.stop()
    assert code == 0
    assert not healthy()  # and it fails once nothing answers
    lines = [line for line in daemon.output().splitlines() if line.strip()]
    assert lines and all(json.loads(line)["logger"] for line in lines)  # JSON lines off a terminal
    assert TOKEN not in daemon.output()
