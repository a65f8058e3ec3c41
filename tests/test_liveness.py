"""/livez apart from /healthz: a tracker outage is not a stuck loop, a hung loop is; HEAD everywhere."""

from __future__ import annotations

import http.client
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from okrsync.liveness import LIVE_WITHIN_INTERVALS, STEP_MARGIN, Heartbeat, longest_step
from okrsync.metrics import Metrics
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.http import Fault
from okrsync.server import SourceHealthReader, StatusServer, health_probe
from okrsync.settings import GitHubSource, JiraSource
from okrsync.store import open_store
from tests.daemon_support import TODAY, DaemonProcess, cycle_table, kr_table, seed, wait_for, write_config

TOKEN = "ghp_livez_SECRET_5e1a"
INTERVAL = 10.0


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize(
    ("since_beat", "grace", "status", "word"),
    [
        (0.0, 0.0, 200, "ok"),
        (LIVE_WITHIN_INTERVALS * INTERVAL, 0.0, 200, "ok"),  # exactly two intervals: still alive
        (LIVE_WITHIN_INTERVALS * INTERVAL + 0.5, 0.0, 503, "stuck"),
        (LIVE_WITHIN_INTERVALS * INTERVAL + 0.5, 100.0, 200, "ok"),  # one request may take longer
        (100.5, 100.0, 503, "stuck"),
    ],
)
def test_the_loop_is_live_while_it_beat_within_two_intervals_or_one_request(
    since_beat: float, grace: float, status: int, word: str
) -> None:
    ticks = Ticks()
    heartbeat = Heartbeat(interval=INTERVAL, grace=grace, monotonic=ticks)
    ticks.t += 500
    heartbeat.beat()
    ticks.t += since_beat

    answer, document = heartbeat.probe()

    assert (answer, document["status"]) == (status, word)
    assert document["stuck_after_seconds"] == max(LIVE_WITHIN_INTERVALS * INTERVAL, grace)


def test_the_longest_request_is_every_try_timing_out_then_the_longest_rate_limit_wait() -> None:
    github = GitHubSource(name="gh", timeout=30, max_rate_limit_wait=60)
    jira = JiraSource(name="jira", url="https://jira.test", timeout=50, max_rate_limit_wait=0)
    assert longest_step([github, jira]) == 3 * 50 + STEP_MARGIN
    assert longest_step([github]) == 3 * 30 + 60 + STEP_MARGIN
    assert longest_step([]) == 0.0
    # With the defaults (300 s interval) the two intervals are the limit, as /livez promises.
    assert Heartbeat(interval=300, grace=longest_step([GitHubSource(name="gh")])).limit == 600


def head(url: str, path: str, *, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """Send HEAD; return status, headers and whatever body bytes arrived (there must be none)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("HEAD", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = connection.getresponse()
        body = response.read()
        return response.status, dict(response.headers), body
    finally:
        connection.close()


def get(url: str, path: str, *, token: str | None = None) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"} if token else {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("token", [None, "srv-head-SECRET"])
def test_head_answers_every_path_like_get_without_a_body(tmp_path: Path, token: str | None) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'okrsync.db'}")
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    reader = SourceHealthReader(engine, ["github"], interval=60, started_at=now, clock=lambda: now)
    server = StatusServer(
        host="127.0.0.1",
        port=0,
        health=health_probe(reader, lambda: "leader"),
        live=Heartbeat(interval=60).probe,
        metrics=Metrics(),
        token=SecretStr(token) if token else None,
    ).start()
    try:
        for path in ("/livez", "/healthz", "/metrics", "/nope"):
            got_status, got_body = get(server.url, path, token=token)
            status, headers, body = head(server.url, path, token=token)
            assert status == got_status, path
            assert body == b"", path
            assert int(headers["Content-Length"]) > 0, path
            if token is not None:
                assert head(server.url, path)[0] == 401
        assert head(server.url, "/livez", token=token)[0] == 200
    finally:
        server.stop()


def test_a_tracker_outage_fails_healthz_not_livez_and_a_frozen_loop_fails_livez(tmp_path: Path) -> None:
    """The daemon as a real process: GitHub answering 500 is a readiness problem (healthz 503,
    livez 200: a restart cannot help); the loop blocked for real inside a step (the freeze
    point, as a call that never returns would) is stuck (livez 503), and turns again once
    released (livez 200)."""
    interval = 1
    freeze = tmp_path / "freeze"
    sim = GitHubSim(tokens={TOKEN: "okrsync"})
    seed(sim, "acme/web", "Web", due=TODAY + timedelta(days=20))
    sim.start()
    config = write_config(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'okrsync.db'}",
        sources={"github": (sim.url, ["acme/web"])},
        mapping=cycle_table() + kr_table("K-1", [("github", "acme/web", "Web")]),
    )
    daemon = DaemonProcess(
        config,
        log=tmp_path / "run.log",
        interval=interval,
        token=TOKEN,
        env={
            # Short request bounds, so the limit is seconds: max(two intervals, one request).
            "OKRSYNC_SOURCES__GITHUB__TIMEOUT": "1",
            "OKRSYNC_SOURCES__GITHUB__MAX_RATE_LIMIT_WAIT": "0",
            "OKRSYNC_FREEZE_AT": "daemon.step",
            "OKRSYNC_FREEZE_WHILE": str(freeze),
        },
    )

    def livez() -> tuple[int, dict[str, Any]] | None:
        try:
            status, body = daemon.get("/livez")
        except OSError:
            return None
        return status, json.loads(body)

    try:
        wait_for(
            lambda: daemon.cycles() >= 1 and (livez() or (0,))[0] == 200, timeout=15, what="a live start"
        )
        limit = float((livez() or (0, {}))[1]["stuck_after_seconds"])
        assert limit == 3 * 1 + 0 + STEP_MARGIN

        sim.inject(Fault(status=500, path="/repos/acme/web"))
        wait_for(lambda: (daemon.healthz() or (0,))[0] == 503, timeout=6 * interval + 5, what="healthz 503")
        status, document = livez() or (0, {})
        assert (status, document["status"]) == (200, "ok")
        sim.clear_faults()
        wait_for(lambda: (daemon.healthz() or (0,))[0] == 200, timeout=12 * interval + 5, what="recovery")

        freeze.touch()
        stuck = wait_for(
            lambda: (answer := livez()) is not None and answer[0] == 503 and answer,
            timeout=limit + 10,
            what="livez 503",
        )
        assert stuck[1]["status"] == "stuck"
        assert head(daemon.base, "/livez")[0] == 503
        freeze.unlink()
        wait_for(lambda: (livez() or (0,))[0] == 200, timeout=10, what="livez 200 once released")
        code, _elapsed = daemon.terminate(timeout=10)
        assert code == 0
    finally:
        daemon.stop()
        sim.stop()
    assert TOKEN not in daemon.output()
