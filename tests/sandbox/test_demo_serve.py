"""`okrsync demo --serve`, tried as a newcomer would: healthz, a moved due date, the alert, Ctrl-C."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from okrsync.cli import app
from tests.daemon_support import free_port, wait_for


def _printed_command(output: str, prefix: str) -> list[str] | None:
    for line in output.splitlines():
        if line.strip().startswith(prefix):
            return shlex.split(line.strip())
    return None


def _send_like_curl(argv: list[str]) -> int:
    """Do what the printed `curl -sS -X PATCH -H … URL -d BODY` does, without needing curl."""
    method, headers, data, url = "GET", {}, None, None
    words = iter(argv[1:])
    for word in words:
        if word == "-X":
            method = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            data = next(words).encode()
        elif word.startswith("http"):
            url = word
    assert url is not None, argv
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def _healthz(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            return dict(json.loads(response.read()))
    except OSError:
        return None


def _alerts(config: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(app, ["--config", str(config), "alerts", "--json"])
    return list(json.loads(result.stdout)) if result.exit_code == 0 else []


def test_demo_serve_runs_the_daemon_on_live_simulators_until_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "demo.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OKRSYNC_")}
    environment["OKRSYNC_OKRSYNC__POLL_INTERVAL"] = "1"  # the written config says 10 s
    argv = [sys.executable, "-m", "okrsync.cli", "demo", "--serve", "--keep", str(tmp_path / "demo")]
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [*argv, "--listen", f"127.0.0.1:{port}"], env=environment, stdout=sink, stderr=subprocess.STDOUT
        )
        try:
            health = wait_for(
                lambda: (h := _healthz(port)) and h["sources"]["github"]["last_success"] and h,
                timeout=60,
                what="/healthz after the first cycle",
            )
            assert health["status"] == "ok" and health["sources"]["jira"]["healthy"]
            output = log.read_text()
            config = tmp_path / "demo" / "config.toml"
            assert f"okrsync -c {config} checkin ENG-1.1" in output
            move = _printed_command(output, "curl -sS -X PATCH")
            assert move is not None, output

            assert _send_like_curl(move) == 200

            # Recorded, then delivered a moment later: wait for the delivery, not only the record.
            rescheduled = wait_for(
                lambda: [
                    a
                    for a in _alerts(config)
                    if a["type"] == "milestone.rescheduled"
                    and all(d["status"] not in ("pending", "sending") for d in a["deliveries"])
                ],
                timeout=60,
                what="the milestone.rescheduled alert, delivered",
            )
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)
    output = log.read_text()
    alert = rescheduled[0]
    assert alert["milestone"] == "acme/web#1" and not alert["backlog"]
    assert json.loads(move[move.index("-d") + 1])["due_on"][:10] == alert["payload"]["milestone"]["due"]
    assert [d["status"] for d in alert["deliveries"]] == ["delivered"]
    assert "alert milestone.rescheduled" in output  # the log channel, on the demo's terminal
    assert code == 130 and "Traceback" not in output
    assert output.strip().splitlines()[-1].startswith("interrupted: stopped")
