"""/metrics as Prometheus reads it: build info, process and Python collectors, deliveries by
channel, and per-KR gauges that follow the mappings, parsed with prometheus_client's parser."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import pytest
from prometheus_client.parser import text_string_to_metric_families

from okrsync import __version__
from okrsync.engine import CycleReport, run_cycle
from okrsync.mappings import load_okrs
from okrsync.metrics import Metrics
from okrsync.okrs import OkrSet
from okrsync.rollup import Status
from okrsync.sandbox.github import GitHubSim
from okrsync.server import StatusServer
from tests.helpers import MAPPING, FakeClock, onboarding_sim, write_project

TOKEN = "ghp_metrics_SECRET_31f0"
START = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

SECOND_KR = """
[[objective.key_result]]
id = "ENG-1.2"
title = "Docs for onboarding"
owner = "alice"
kind = "milestones"
baseline = 0
target = 100
unit = "%"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Onboarding v2"
"""

CHANNELS = """
[alerts]
send_backlog = true

[alerts.channels.team-log]
type = "log"

[people.bob]
name = "Bob Stone"

[people.alice]
name = "Alice Ng"
"""

Samples = dict[str, list[tuple[dict[str, str], float]]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[GitHubSim]:
    with onboarding_sim(clock, token=TOKEN, due=DUE, tasks=4, done=1) as simulator:
        yield simulator


@pytest.fixture
def served() -> Iterator[tuple[Metrics, StatusServer]]:
    metrics = Metrics()
    server = StatusServer(host="127.0.0.1", port=0, health=lambda: (200, {}), metrics=metrics).start()
    yield metrics, server
    server.stop()


def scrape(server: StatusServer) -> tuple[set[str], Samples]:
    """GET /metrics and parse it: the family names and every sample by sample name."""
    with urllib.request.urlopen(server.url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    families, samples = set(), {}  # type: ignore[var-annotated]
    for family in text_string_to_metric_families(text):
        families.add(family.name)
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    return families, samples


def record(metrics: Metrics, report: CycleReport, okrs: OkrSet) -> None:
    """What the daemon does after each cycle (Daemon._finish)."""
    assert report.rollup is not None
    metrics.record_rollup(report.rollup, okrs)
    metrics.record_cycle(report, duration=0.1)


def test_metrics_carry_build_info_process_and_python_collectors(
    served: tuple[Metrics, StatusServer],
) -> None:
    _, server = served
    families, samples = scrape(server)

    assert samples["okrsync_build_info"] == [({"version": __version__}, 1.0)]
    assert {"process_cpu_seconds", "process_resident_memory_bytes", "process_open_fds"} <= families
    assert {"python_info", "python_gc_objects_collected"} <= families


def test_kr_gauges_and_deliveries_by_channel_follow_each_roll_up_and_drop_removed_krs(
    tmp_path: Path, sim: GitHubSim, clock: FakeClock, database_url: str, served: tuple[Metrics, StatusServer]
) -> None:
    metrics, server = served
    project = write_project(
        tmp_path,
        database_url=database_url,
        github_url=sim.url,
        token=TOKEN,
        mapping=MAPPING + SECOND_KR,
        extra=CHANNELS,
    )
    metrics.known_channels(project.settings.alerts.channels)
    first = run_cycle(project.settings, project.okrs, project.engine, now=clock())
    record(metrics, first, project.okrs)
    clock.tick(600)
    sim.set_due("acme/web", 1, datetime(2026, 12, 4, 8, 0, tzinfo=UTC))
    second = run_cycle(project.settings, project.okrs, project.engine, now=clock.tick(600))
    record(metrics, second, project.okrs)

    _, samples = scrape(server)
    assert second.rollup is not None
    rolled = second.rollup.key_results
    progress = {labels["kr"]: (labels, value) for labels, value in samples["okrsync_kr_progress"]}
    assert progress == {
        "ENG-1.1": ({"kr": "ENG-1.1", "objective": "ENG-1", "owner": "bob"}, rolled["ENG-1.1"].progress),
        "ENG-1.2": ({"kr": "ENG-1.2", "objective": "ENG-1", "owner": "alice"}, rolled["ENG-1.2"].progress),
    }
    assert rolled["ENG-1.1"].progress == 0.25  # 1 of 4 issues done in the simulator
    expected = {labels["kr"]: value for labels, value in samples["okrsync_kr_expected_progress"]}
    assert expected == {kr: rolled[kr].expected for kr in ("ENG-1.1", "ENG-1.2")}
    assert 0 < expected["ENG-1.1"] < 1  # mid-cycle
    for kr in ("ENG-1.1", "ENG-1.2"):
        states = {
            labels["status"]: value for labels, value in samples["okrsync_kr_status"] if labels["kr"] == kr
        }
        assert set(states) == set(get_args(Status))  # one series per possible status
        assert [s for s, v in states.items() if v == 1.0] == [rolled[kr].status]
        assert sum(states.values()) == 1.0
    deliveries = {
        (labels["channel"], labels["outcome"]): value for labels, value in samples["okrsync_deliveries_total"]
    }
    assert second.delivery.delivered >= 1
    assert deliveries[("team-log", "delivered")] == first.delivery.delivered + second.delivery.delivered
    assert deliveries[("team-log", "failed")] == 0.0

    # ENG-1.2 leaves the mappings (and the daemon restarts with them): its series go.
    (project.folder / "mappings" / "okrs.toml").write_text(MAPPING)
    okrs = load_okrs(project.settings.okrsync.mappings, settings=project.settings)
    third = run_cycle(project.settings, okrs, project.engine, now=clock.tick(600))
    record(metrics, third, okrs)

    _, samples = scrape(server)
    for name in ("okrsync_kr_progress", "okrsync_kr_expected_progress", "okrsync_kr_status"):
        assert {labels["kr"] for labels, _ in samples[name]} == {"ENG-1.1"}, name
