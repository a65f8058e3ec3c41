"""`okrsync run`: cycles on the interval, per-source backoff, alerts within an interval, clean stops."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from okrsync.daemon import MAX_BACKOFF_INTERVALS, Daemon, backoff_intervals
from okrsync.leader import AlwaysLeader
from okrsync.logs import JsonFormatter, resolve_format
from okrsync.mappings import load_okrs
from okrsync.metrics import Metrics
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.http import Fault
from okrsync.settings import load_settings
from okrsync.store import Delivery, SourceState, TrackerIssue, make_engine, open_store, session
from tests.daemon_support import (
    TODAY,
    DaemonProcess,
    cycle_table,
    due_at,
    kr_table,
    seed,
    wait_for,
    webhook_sink,
    write_config,
)

TOKEN = "ghp_daemon_token_SECRET_91c2"


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    simulator = GitHubSim(tokens={TOKEN: "okrsync"})
    simulator.start()
    yield simulator
    simulator.stop()


# --- the schedule, in microseconds -------------------------------------------------------------


@pytest.mark.parametrize(
    ("failures", "intervals"),
    [(0, 1), (1, 1), (2, 2), (3, 4), (4, 8), (5, MAX_BACKOFF_INTERVALS), (40, MAX_BACKOFF_INTERVALS)],
)
def test_a_failing_source_waits_exponentially_longer_up_to_a_cap(failures: int, intervals: int) -> None:
    assert backoff_intervals(failures) == intervals


def make_daemon(tmp_path: Path, sim: GitHubSim, *, clock_now: datetime) -> Daemon:
    config = write_config(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'okrsync.db'}",
        sources={"gh1": (sim.url, ["acme/web"]), "gh2": (sim.url, ["acme/api"])},
        mapping=cycle_table()
        + kr_table("K-1", [("gh1", "acme/web", "Web")])
        + kr_table("K-2", [("gh2", "acme/api", "Api")]),
        token_in_file=TOKEN,
    )
    settings = load_settings(config)
    okrs = load_okrs(settings.okrsync.mappings, settings=settings)
    engine = open_store(settings.okrsync.database_url)
    return Daemon(settings, okrs, engine, elector=AlwaysLeader(), metrics=Metrics(), clock=lambda: clock_now)


REPOS = {"gh1": "/repos/acme/web", "gh2": "/repos/acme/api"}


def run_tick(daemon: Daemon, sim: GitHubSim, intervals: float) -> list[str]:
    """Drive the loop's steps at `intervals` intervals until its cycle is done; return who polled."""
    sim.clear_log()
    cycles = daemon.cycles
    while True:
        daemon.step(intervals * daemon.interval)
        if daemon.cycle is None and daemon.cycles > cycles:
            break
    paths = [r.path for r in sim.log()]
    return [name for name, prefix in REPOS.items() if any(p.startswith(prefix) for p in paths)]


def test_a_failing_source_backs_off_while_the_other_keeps_its_interval(
    tmp_path: Path, sim: GitHubSim
) -> None:
    seed(sim, "acme/web", "Web", due=TODAY + timedelta(days=20))
    seed(sim, "acme/api", "Api", due=TODAY + timedelta(days=20))
    daemon = make_daemon(tmp_path, sim, clock_now=datetime.now(UTC))
    sim.inject(Fault(status=401, path="/repos/acme/api"))  # fails fast: no retries for a 401

    polled = {t: run_tick(daemon, sim, t) for t in range(9)}

    assert [t for t, names in polled.items() if "gh1" in names] == list(range(9))
    # Failures after 1, 2 and 4 intervals: polled at 0, 1, 3 and 7.
    assert [t for t, names in polled.items() if "gh2" in names] == [0, 1, 3, 7]
    assert daemon.cycles == 9  # detection and delivery ran every interval, due source or not

    sim.clear_faults()
    assert run_tick(daemon, sim, 14) == ["gh1"]
    assert run_tick(daemon, sim, 15) == ["gh1", "gh2"]  # 7 + 8 intervals
    assert run_tick(daemon, sim, 16) == ["gh1", "gh2"]  # healthy again: back to every interval
    with session(daemon.engine) as db:
        states = {s.name: s for s in db.execute(select(SourceState)).scalars()}
    assert states["gh2"].last_error is None and states["gh1"].last_error is None


def test_the_loop_stops_within_a_slice_of_the_shutdown_flag(tmp_path: Path, sim: GitHubSim) -> None:
    seed(sim, "acme/web", "Web", due=TODAY + timedelta(days=20))
    seed(sim, "acme/api", "Api", due=TODAY + timedelta(days=20))
    daemon = make_daemon(tmp_path, sim, clock_now=datetime.now(UTC))
    runner = threading.Thread(target=daemon.run)
    runner.start()
    wait_for(lambda: daemon.cycles >= 1, timeout=10, what="a first cycle")

    started = time.monotonic()
    daemon.request_shutdown()
    runner.join(timeout=5)

    assert not runner.is_alive()
    assert time.monotonic() - started < 1.0
    assert daemon.metrics.is_leader._value.get() == 0


# --- logs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "tty", "env", "chosen"),
    [
        ("auto", True, None, "rich"),
        ("auto", True, "json", "rich"),  # docker run -it: a person is watching
        ("auto", False, "json", "json"),  # the container
        ("auto", False, None, "text"),
        ("json", True, None, "json"),
        ("text", False, "json", "text"),
    ],
)
def test_the_log_format_follows_the_flag_then_the_terminal_then_the_environment(
    requested: str, tty: bool, env: str | None, chosen: str
) -> None:
    assert resolve_format(requested, tty=tty, env=env) == chosen  # type: ignore[arg-type]


def test_a_json_log_line_is_one_object_with_the_exception_text() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "okrsync.daemon", logging.ERROR, __file__, 1, "step %s failed", ("x",), sys.exc_info()
        )
    line = JsonFormatter().format(record)

    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "ERROR" and entry["logger"] == "okrsync.daemon"
    assert entry["message"] == "step x failed"
    assert "ValueError: boom" in entry["exception"]
    assert datetime.fromisoformat(entry["time"]).tzinfo is not None


# --- the real process ----------------------------------------------------------------------------

REQUIRED_METRICS = (
    "okrsync_cycle_duration_seconds",
    "okrsync_source_requests_total",
    "okrsync_source_rate_limit_remaining",
    "okrsync_events_total",
    "okrsync_deliveries_total",
    "okrsync_source_last_success_timestamp_seconds",
    "okrsync_is_leader",
    "okrsync_kr_progress",  # the roll-up of each cycle reaches the KR gauges
    "okrsync_kr_status",
)


def test_run_cycles_serves_health_alerts_within_an_interval_and_stops_cleanly_mid_poll(
    tmp_path: Path, sim: GitHubSim
) -> None:
    interval = 2
    number = seed(sim, "acme/web", "Onboarding v2", due=TODAY + timedelta(days=14))
    database_url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    with webhook_sink() as sink:
        config = write_config(
            tmp_path,
            database_url=database_url,
            sources={"github": (sim.url, ["acme/web"])},
            mapping=cycle_table() + kr_table("ENG-1.1", [("github", "acme/web", "Onboarding v2")]),
            hook_url=sink.url,
        )
        daemon = DaemonProcess(config, log=tmp_path / "run.log", interval=interval, token=TOKEN)
        try:
            wait_for(lambda: daemon.cycles() >= 3, timeout=8 + 3 * interval, what="three cycles")

            status, health = daemon.healthz() or (0, {})
            assert status == 200, health
            assert health["status"] == "ok" and health["role"] == "leader"
            assert health["sources"]["github"]["healthy"] is True
            assert health["sources"]["github"]["last_error"] is None
            exposition = daemon.get("/metrics")[1].decode()
            for name in REQUIRED_METRICS:
                assert f"# TYPE {name} " in exposition, name
            samples = daemon.metrics()
            assert samples['okrsync_source_requests_total{source="github"}'] >= 3
            assert samples["okrsync_is_leader"] == 1
            assert samples['okrsync_source_last_success_timestamp_seconds{source="github"}'] > 0

            # A due date moved in the tracker is alerted within one interval.
            moved = time.monotonic()
            sim.set_due("acme/web", number, due_at(TODAY + timedelta(days=28)))
            alert = wait_for(
                lambda: sink.of_type("milestone.rescheduled"), timeout=interval + 3, what="the alert"
            )[0]
            assert alert.at - moved <= interval + 1.0
            assert alert.payload["milestone"]["due"] == (TODAY + timedelta(days=28)).isoformat()

            # SIGTERM while a poll waits on the tracker: the poll is abandoned and rolled back.
            engine = make_engine(database_url)
            # The poller reads issues, then milestones: hold the milestones answer, so a poll
            # that has fetched the new issue is still in flight when SIGTERM comes.
            sim.inject(Fault(status=0, path="/milestones", delay=3.0))
            sim.clear_log()
            sim.add_issue("acme/web", "Late task", milestone=number)
            wait_for(lambda: any("/issues" in r.path for r in sim.log()), timeout=interval + 2, what="a poll")
            with session(engine) as db:
                cursor_before = db.get(SourceState, "github").cursor  # type: ignore[union-attr]
            code, elapsed = daemon.terminate()
        finally:
            daemon.stop()
    output = daemon.output()
    assert code == 0, output
    assert elapsed < 5
    assert "poll abandoned for shutdown" in output
    assert TOKEN not in output
    with session(engine) as db:
        state = db.get(SourceState, "github")
        assert state is not None and state.cursor == cursor_before and state.last_error is None
        assert state.last_success is not None
        titles = set(db.execute(select(TrackerIssue.title)).scalars())
        assert "Late task" not in titles and "Onboarding v2 task 0" in titles
        statuses = set(db.execute(select(Delivery.status)).scalars())
    assert "sending" not in statuses and "delivered" in statuses
    # Exactly one delivery of the alert: the daemon never sends an acknowledged alert again.
    assert len(sink.of_type("milestone.rescheduled")) == 1
