"""The daemon's HTTP server: /healthz per source, /metrics, the bearer token; a failing source seen."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine

from okrsync.engine import CycleReport, SourceOutcome
from okrsync.metrics import Metrics
from okrsync.report import LivePages
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.http import Fault
from okrsync.server import SourceHealthReader, StatusServer, health_probe, judge_sources
from okrsync.store import SourceState, make_engine, open_store, session
from tests.daemon_support import (
    TODAY,
    DaemonProcess,
    cycle_table,
    kr_table,
    seed,
    wait_for,
    write_config,
)
from tests.helpers import Project
from tests.report_support import TODAY as REPORT_DAY
from tests.report_support import TOKEN as REPORT_TOKEN
from tests.report_support import synced_org

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
INTERVAL = 300
SERVER_TOKEN = "srv-SECRET-token-4d1e"


@pytest.mark.parametrize(
    ("last_success_ago", "started_ago", "healthy"),
    [
        (0, 10_000, True),
        (3 * INTERVAL, 10_000, True),  # exactly three intervals: still within
        (3 * INTERVAL + 1, 10_000, False),
        (None, 60, True),  # never succeeded, but the process only just started
        (None, 3 * INTERVAL + 1, False),
    ],
)
def test_a_source_is_healthy_while_it_succeeded_within_three_intervals(
    last_success_ago: int | None, started_ago: int, healthy: bool
) -> None:
    last = None if last_success_ago is None else NOW - timedelta(seconds=last_success_ago)
    state = SourceState(name="github", kind="github", cursor={}, last_success=last)
    [judged] = judge_sources(
        [state], ["github"], now=NOW, interval=INTERVAL, started_at=NOW - timedelta(seconds=started_ago)
    )
    assert judged.healthy is healthy


def test_a_configured_source_missing_from_the_database_is_listed_and_one_no_longer_configured_is_not() -> (
    None
):
    old = SourceState(name="retired", kind="github", cursor={}, last_success=NOW)
    judged = judge_sources([old], ["github"], now=NOW, interval=INTERVAL, started_at=NOW)
    assert [(s.name, s.last_success, s.healthy) for s in judged] == [("github", None, True)]


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_store(f"sqlite:///{tmp_path / 'okrsync.db'}")


def serve(engine: Engine, *, token: str | None = None, role: str = "leader") -> tuple[StatusServer, Metrics]:
    metrics = Metrics()
    reader = SourceHealthReader(
        engine, ["gh1", "gh2"], interval=INTERVAL, started_at=NOW - timedelta(days=1), clock=lambda: NOW
    )
    metrics.watch_sources(reader)
    server = StatusServer(
        host="127.0.0.1",
        port=0,
        health=health_probe(reader, lambda: role),
        metrics=metrics,
        token=SecretStr(token) if token else None,
    )
    return server.start(), metrics


@pytest.fixture
def running(engine: Engine) -> Iterator[tuple[StatusServer, Metrics]]:
    server, metrics = serve(engine)
    yield server, metrics
    server.stop()


def get(url: str, *, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def store_states(engine: Engine, **last_success: datetime | None) -> None:
    with session(engine) as db:
        for name, moment in last_success.items():
            db.merge(
                SourceState(
                    name=name,
                    kind="github",
                    cursor={},
                    last_success=moment,
                    last_error=None if moment == NOW else f"source {name!r}: GET /repos answered 500",
                )
            )
        db.commit()


def test_healthz_is_200_when_every_source_synced_recently(
    engine: Engine, running: tuple[StatusServer, Metrics]
) -> None:
    server, _ = running
    store_states(engine, gh1=NOW, gh2=NOW)

    status, headers, body = get(server.url + "/healthz")

    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {
        "status": "ok",
        "role": "leader",
        "sources": {
            name: {"last_success": "2026-11-20T09:00:00Z", "last_error": None, "healthy": True}
            for name in ("gh1", "gh2")
        },
    }


def test_healthz_is_503_naming_the_source_without_a_recent_success(
    engine: Engine, running: tuple[StatusServer, Metrics]
) -> None:
    server, _ = running
    store_states(engine, gh1=NOW, gh2=NOW - timedelta(hours=1))

    status, _, body = get(server.url + "/healthz")

    document = json.loads(body)
    assert status == 503 and document["status"] == "failing"
    assert document["sources"]["gh2"]["healthy"] is False
    assert "500" in document["sources"]["gh2"]["last_error"]
    assert document["sources"]["gh1"]["healthy"] is True


def test_healthz_answers_503_rather_than_crashing_on_a_database_not_yet_migrated(tmp_path: Path) -> None:
    server, _ = serve(make_engine(f"sqlite:///{tmp_path / 'empty.db'}"), role="follower")
    try:
        status, _, body = get(server.url + "/healthz")
    finally:
        server.stop()
    document = json.loads(body)
    assert status == 503 and document["role"] == "follower"
    assert "cannot read source state" in document["error"]


def test_metrics_expose_cycles_requests_events_deliveries_and_freshness(
    engine: Engine, running: tuple[StatusServer, Metrics]
) -> None:
    server, metrics = running
    store_states(engine, gh1=NOW, gh2=NOW - timedelta(hours=1))
    report = CycleReport(
        started_at=NOW,
        sources=[
            SourceOutcome(name="gh1", ok=True, requests=4, not_modified=3, rate_remaining=4990),
            SourceOutcome(name="gh2", ok=False, error="boom"),
        ],
    )
    metrics.known_channels(["hook"])
    for outcome in ("delivered", "delivered", "retrying"):
        report.delivery.count("hook", outcome)
    metrics.record_cycle(report, duration=0.42)
    metrics.is_leader.set(1)

    status, headers, body = get(server.url + "/metrics")

    text = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    for line in (
        "okrsync_cycle_duration_seconds_count 1.0",
        'okrsync_source_requests_total{source="gh1"} 4.0',
        'okrsync_source_rate_limit_remaining{source="gh1"} 4990.0',
        'okrsync_source_polls_total{outcome="failed",source="gh2"} 1.0',
        'okrsync_deliveries_total{channel="hook",outcome="delivered"} 2.0',
        'okrsync_deliveries_total{channel="hook",outcome="retrying"} 1.0',
        'okrsync_deliveries_total{channel="hook",outcome="failed"} 0.0',
        'okrsync_source_healthy{source="gh2"} 0.0',
        "okrsync_is_leader 1.0",
        "# TYPE okrsync_events_total counter",
    ):
        assert line in text, line
    [last] = [
        ln
        for ln in text.splitlines()
        if ln.startswith('okrsync_source_last_success_timestamp_seconds{source="gh1"}')
    ]
    assert float(last.split()[-1]) == NOW.timestamp()


def test_with_a_token_every_path_asks_for_it_and_never_echoes_it(engine: Engine) -> None:
    server, _ = serve(engine, token=SERVER_TOKEN)
    try:
        for path in ("/healthz", "/metrics", "/nope"):
            status, headers, body = get(server.url + path)
            assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
            assert get(server.url + path, token="wrong")[0] == 401
            status, _, body = get(server.url + path, token=SERVER_TOKEN)
            assert status in (200, 503, 404)
            assert SERVER_TOKEN.encode() not in body
    finally:
        server.stop()


def test_an_unknown_path_is_404(running: tuple[StatusServer, Metrics]) -> None:
    server, _ = running
    assert get(server.url + "/admin")[0] == 404


def test_the_server_binds_to_loopback_by_default() -> None:
    from okrsync.settings import ServerSection

    assert ServerSection().host == "127.0.0.1"


# --- a failing source, end to end ----------------------------------------------------------------


def test_one_source_failing_for_three_cycles_turns_healthz_503_while_the_other_syncs_then_recovers(
    tmp_path: Path,
) -> None:
    interval = 1
    token = "ghp_health_SECRET_77aa"
    sim = GitHubSim(tokens={token: "okrsync"})
    seed(sim, "acme/web", "Web", due=TODAY + timedelta(days=20))
    seed(sim, "acme/api", "Api", due=TODAY + timedelta(days=20))
    sim.start()
    config = write_config(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'okrsync.db'}",
        sources={"gh1": (sim.url, ["acme/web"]), "gh2": (sim.url, ["acme/api"])},
        mapping=cycle_table()
        + kr_table("K-1", [("gh1", "acme/web", "Web")])
        + kr_table("K-2", [("gh2", "acme/api", "Api")]),
        token_in_file=token,
    )
    daemon = DaemonProcess(config, log=tmp_path / "run.log", interval=interval)
    try:
        wait_for(lambda: (daemon.healthz() or (0,))[0] == 200, timeout=10, what="a healthy start")
        sim.inject(Fault(status=500, path="/repos/acme/api"))
        ok_before = daemon.metrics().get('okrsync_source_polls_total{outcome="ok",source="gh1"}', 0)

        def failing() -> dict[str, object] | None:
            answer = daemon.healthz()
            return answer[1] if answer and answer[0] == 503 else None

        document = wait_for(failing, timeout=6 * interval + 3, what="/healthz 503")
        assert document["status"] == "failing"
        assert document["sources"]["gh2"]["healthy"] is False  # type: ignore[index]
        assert "500" in document["sources"]["gh2"]["last_error"]  # type: ignore[index]
        assert document["sources"]["gh1"]["healthy"] is True  # type: ignore[index]
        samples = wait_for(
            lambda: (
                (m := daemon.metrics())
                and m.get('okrsync_source_polls_total{outcome="failed",source="gh2"}', 0) >= 3
                and m
            ),
            timeout=6 * interval + 3,
            what="three failed polls",
        )
        assert samples['okrsync_source_polls_total{outcome="ok",source="gh1"}'] >= ok_before + 3
        assert samples['okrsync_source_healthy{source="gh2"}'] == 0

        sim.clear_faults()
        wait_for(lambda: (daemon.healthz() or (0,))[0] == 200, timeout=10 * interval + 3, what="recovery")
        _, document = daemon.healthz() or (0, {})
        assert document["sources"]["gh2"]["last_error"] is None
        code, _elapsed = daemon.terminate()
        assert code == 0
        assert token not in daemon.output()
    finally:
        daemon.stop()
        sim.stop()


# --- the report at / and /kr/<KR-ID> -------------------------------------------------------------


def serve_report(project: Project, *, token: str | None = None) -> StatusServer:
    metrics = Metrics()
    reader = SourceHealthReader(
        project.engine, ["github"], interval=INTERVAL, started_at=REPORT_DAY, clock=lambda: REPORT_DAY
    )
    server = StatusServer(
        host="127.0.0.1",
        port=0,
        health=health_probe(reader, lambda: "leader"),
        metrics=metrics,
        token=SecretStr(token) if token else None,
        pages=LivePages(project.settings, project.okrs, project.engine, clock=lambda: REPORT_DAY),
    )
    return server.start()


@pytest.fixture
def report_org(tmp_path: Path, database_url: str) -> Iterator[Project]:
    with synced_org(tmp_path, database_url) as project:
        yield project


def test_the_report_is_served_at_root_and_per_kr_with_a_policy_forbidding_remote_loads(
    report_org: Project,
) -> None:
    server = serve_report(report_org)
    try:
        status, headers, body = get(server.url + "/")
        kr_status, kr_headers, kr_body = get(server.url + "/kr/ENG-1.1")
    finally:
        server.stop()

    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src" not in policy and "http" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    index = body.decode()
    assert 'href="/kr/ENG-1.1"' in index and 'href="/kr/ENG-1.2"' in index
    assert kr_status == 200 and kr_headers["Content-Security-Policy"] == policy
    page = kr_body.decode()
    assert 'href="/"' in page and 'class="l-done"' in page


def test_served_pages_escape_tracker_text(report_org: Project) -> None:
    server = serve_report(report_org)
    try:
        _, _, body = get(server.url + "/kr/ENG-1.1")
    finally:
        server.stop()

    page = body.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page


def test_an_unknown_kr_is_a_404_page_that_does_not_echo_the_path(report_org: Project) -> None:
    server = serve_report(report_org)
    try:
        status, headers, body = get(server.url + "/kr/%3Cscript%3Ex")
    finally:
        server.stop()

    assert status == 404 and headers["Content-Type"].startswith("text/html")
    assert b"script" not in body and b"No such key result" in body


def test_with_a_token_the_report_asks_for_it_and_never_shows_it(report_org: Project) -> None:
    server = serve_report(report_org, token=SERVER_TOKEN)
    try:
        for path in ("/", "/kr/ENG-1.1"):
            status, headers, body = get(server.url + path)
            assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
            assert b"Ship onboarding" not in body
            assert get(server.url + path, token="wrong")[0] == 401
            status, _, body = get(server.url + path, token=SERVER_TOKEN)
            assert status == 200 and b"Ship onboarding" in body
            assert SERVER_TOKEN.encode() not in body and REPORT_TOKEN.encode() not in body
    finally:
        server.stop()


def test_the_report_answers_503_on_a_database_not_yet_migrated(report_org: Project, tmp_path: Path) -> None:
    empty = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    pages = LivePages(report_org.settings, report_org.okrs, empty, clock=lambda: REPORT_DAY)
    server = StatusServer(
        host="127.0.0.1", port=0, health=lambda: (200, {}), metrics=Metrics(), pages=pages
    ).start()
    try:
        status, headers, body = get(server.url + "/")
    finally:
        server.stop()
    assert status == 503 and headers["Content-Type"].startswith("text/html")
    assert b"cannot be read yet" in body
