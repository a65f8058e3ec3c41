"""Test kit for `okrsync run`: a project on disk, the daemon as a real process, a webhook sink.

The daemon runs as a subprocess (`python -m okrsync.cli run`) against the GitHub simulator in
the test process, with its secrets and its port given through the environment, the way an
operator gives them. Its stderr goes to a file, so a chatty daemon never blocks on a full pipe.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from okrsync.sandbox.github import GitHubSim

T = TypeVar("T")
TODAY = datetime.now(UTC).date()


def free_port() -> int:
    """Ask the kernel for a free port on loopback (closed again: a small race, fine in tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def due_at(day: date) -> datetime:
    """A GitHub `due_on` for `day`: 08:00 UTC, Pacific midnight, as github.com stores it."""
    return datetime.combine(day, dtime(8, 0), tzinfo=UTC)


def cycle_table() -> str:
    """A cycle around today, so the tests mean the same whenever they run."""
    start, end = TODAY - timedelta(days=30), TODAY + timedelta(days=60)
    return f'[cycle]\nid = "C"\nstart = {start.isoformat()}\nend = {end.isoformat()}\n'


def kr_table(kr_id: str, links: list[tuple[str, str, str]]) -> str:
    """An objective with one milestones KR owned by bob, linked to (source, repo, milestone)."""
    text = f"""
[[objective]]
id = "O-{kr_id}"
title = "Objective {kr_id}"
owner = "bob"

[[objective.key_result]]
id = "{kr_id}"
title = "Key result {kr_id}"
owner = "bob"
kind = "milestones"
baseline = 0
target = 100
unit = "%"
"""
    for source, repo, milestone in links:
        text += f"""
[[objective.key_result.link]]
source = "{source}"
repo = "{repo}"
milestone = "{milestone}"
"""
    return text


def write_config(
    folder: Path,
    *,
    database_url: str,
    sources: dict[str, tuple[str, list[str]]],
    mapping: str,
    hook_url: str | None = None,
    token_in_file: str | None = None,
) -> Path:
    """Write config.toml and mappings/okrs.toml; no database is opened (the daemon migrates).

    `sources` maps a source name to (simulator url, repos). A token goes in the file only when
    `token_in_file` is given; otherwise each process gets its own through the environment.
    """
    (folder / "mappings").mkdir(parents=True, exist_ok=True)
    (folder / "mappings" / "okrs.toml").write_text(mapping)
    text = f'[okrsync]\ndatabase_url = "{database_url}"\nmappings = "mappings"\ntimezone = "UTC"\n'
    for name, (url, repos) in sources.items():
        text += f'\n[sources.{name}]\nkind = "github"\nbase_url = "{url}"\nrepos = {json.dumps(repos)}\n'
        if token_in_file is not None:
            text += f'token = "{token_in_file}"\n'
    text += '\n[people.bob]\nname = "Bob Stone"\nemail = "bob@acme.test"\n'
    if hook_url is not None:
        text += f'\n[alerts.channels.hook]\ntype = "webhook"\nurl = "{hook_url}"\n'
    config = folder / "config.toml"
    config.write_text(text)
    return config


def seed(sim: GitHubSim, repo: str, milestone: str, *, due: date, issues: int = 3) -> int:
    """Add a repo with one milestone and a few open issues; return the milestone's number."""
    sim.add_repo(repo)
    number = sim.add_milestone(repo, milestone, due_on=due_at(due))
    for index in range(issues):
        sim.add_issue(repo, f"{milestone} task {index}", milestone=number, assignee="carol")
    return number


def wait_for(check: Callable[[], T | None], *, timeout: float, every: float = 0.1, what: str = "") -> T:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(every)


def clients(sim: GitHubSim) -> set[str]:
    """The names of the clients the simulator has served (tokens map to names)."""
    return {r.client for r in sim.log() if r.client}


# --- a webhook sink ----------------------------------------------------------------------------


@dataclass
class Received:
    headers: dict[str, str]
    payload: dict[str, Any]
    at: float


@dataclass
class Sink:
    """A tiny HTTP server that keeps every webhook POST it receives."""

    received: list[Received] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def of_type(self, event_type: str) -> list[Received]:
        return [r for r in list(self.received) if r.headers.get("x-okrsync-event") == event_type]


@contextmanager
def webhook_sink() -> Iterator[Sink]:
    sink = Sink()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            sink.received.append(
                Received({k.lower(): v for k, v in self.headers.items()}, json.loads(body), time.monotonic())
            )
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()


# --- the daemon as a process -------------------------------------------------------------------


class DaemonProcess:
    """One `okrsync run` subprocess with its own port, token and log file."""

    def __init__(
        self,
        config: Path,
        *,
        log: Path,
        interval: int,
        token: str | None = None,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.log_path = log
        environment = {k: v for k, v in os.environ.items() if not k.startswith("OKRSYNC_")}
        environment |= {
            "OKRSYNC_OKRSYNC__POLL_INTERVAL": str(interval),
            "OKRSYNC_SERVER__LISTEN": f"127.0.0.1:{self.port}",
        }
        if token is not None:
            environment["OKRSYNC_SOURCES__GITHUB__TOKEN"] = token
        environment |= env or {}
        argv = command or [sys.executable, "-m", "okrsync.cli", "--config", str(config), "run"]
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(argv, env=environment, stdout=self._log, stderr=subprocess.STDOUT)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, *, token: str | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base + path)
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def healthz(self) -> tuple[int, dict[str, Any]] | None:
        """The /healthz answer, or None while the server is not up yet."""
        try:
            status, body = self.get("/healthz")
        except OSError:
            return None
        return status, json.loads(body)

    def metrics(self) -> dict[str, float]:
        """Every sample of /metrics, keyed `name{label="value",...}` (labels sorted)."""
        try:
            status, body = self.get("/metrics")
        except OSError:
            return {}
        assert status == 200
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return samples

    def cycles(self) -> int:
        return int(self.metrics().get("okrsync_cycle_duration_seconds_count", 0))

    def role(self) -> str | None:
        answer = self.healthz()
        return answer[1]["role"] if answer else None

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def terminate(self, *, timeout: float = 5.0) -> tuple[int, float]:
        """Send SIGTERM; return the exit code and how long the process took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        elapsed = time.monotonic() - started
        self._log.close()
        return code, elapsed

    def kill(self) -> None:
        """SIGKILL, and reap at once: a zombie still answers `kill(pid, 0)` as if alive."""
        self.process.kill()
        self.process.wait(timeout=5)
        self._log.close()

    def stop(self) -> None:
        """Clean up whatever state the test left the process in."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)
        if not self._log.closed:
            self._log.close()
