"""Slip alerts end to end: simulator → sync → outbox → webhook, Slack and email channels."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from aiosmtpd.controller import Controller
from sqlalchemy import select
from typer.testing import CliRunner

from okrsync.cli import app
from okrsync.engine import run_cycle
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.http import Fault
from okrsync.store import Delivery, Event, session
from tests.helpers import FakeClock, Project, write_project

TOKEN = "ghp_alerts_token_77"
SECRET = "hook-signing-secret"
START = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # Pacific midnight: the day is 2026-11-20
HOOK = "https://hooks.acme.test/okr/T0KEN-IN-URL"
SLACK = "https://hooks.slack.test/services/T000/B000/XXXX"

PEOPLE = """
[people.bob]
name = "Bob Stone"
email = "bob@acme.test"
slack = "U024BE7LH"
"""


class Mailbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session_: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def sim(clock: FakeClock) -> Iterator[GitHubSim]:
    simulator = GitHubSim(tokens={TOKEN: "okrsync"}, clock=clock)
    simulator.add_repo("acme/web")
    number = simulator.add_milestone("acme/web", "Onboarding v2", due_on=DUE)
    for index in range(4):
        issue = simulator.add_issue(
            "acme/web",
            f"Task {index} <script>alert(1)</script> & @channel",
            milestone=number,
            assignee="carol",
        )
        if index == 0:
            simulator.close_issue("acme/web", issue, at=START - timedelta(days=30))
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with socket.socket() as probe:  # aiosmtpd needs a real port number to check it started
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def channels(smtp_port: int | None = None) -> str:
    text = f"""
[alerts.channels.okr-hook]
type = "webhook"
url = "{HOOK}"
secret = "{SECRET}"

[alerts.channels.team-slack]
type = "slack"
url = "{SLACK}"
"""
    if smtp_port is not None:
        text += f"""
[alerts.channels.mail]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
sender = "okrsync@acme.test"
"""
    return text + PEOPLE


def make_project(tmp_path: Path, database_url: str, sim: GitHubSim, extra: str) -> Project:
    return write_project(tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN, extra=extra)


def cycle(project: Project, clock: FakeClock):  # noqa: ANN201 - the engine's report
    return run_cycle(project.settings, project.okrs, project.engine, now=clock())


def deliveries(project: Project) -> list[tuple[str, str, str]]:
    with session(project.engine) as db:
        rows = db.execute(
            select(Event.type, Delivery.channel, Delivery.status).join(Event, Event.id == Delivery.event_id)
        )
        return sorted(tuple(r) for r in rows)


def test_a_due_date_moved_later_is_delivered_once_to_webhook_slack_and_email(
    sim: GitHubSim, clock: FakeClock, tmp_path: Path, database_url: str, mailbox: tuple[Mailbox, int]
) -> None:
    box, port = mailbox
    project = make_project(tmp_path, database_url, sim, channels(port))
    with respx.mock(assert_all_called=False) as mock:
        hook = mock.post(HOOK).mock(return_value=httpx.Response(200))
        slack = mock.post(SLACK).mock(return_value=httpx.Response(200, text="ok"))
        first = cycle(project, clock)
        assert first.events == [] and not hook.called  # nothing slipped yet

        clock.tick(600)
        sim.set_due("acme/web", 1, datetime(2026, 12, 4, 8, 0, tzinfo=UTC))
        clock.tick(600)
        second = cycle(project, clock)

        assert [e.type for e in second.events] == ["milestone.rescheduled"]
        assert second.delivery.delivered == 3
        assert hook.call_count == 1
        request = hook.calls[0].request
        body = request.content
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert request.headers["X-Okrsync-Signature-256"] == expected
        assert request.headers["X-Okrsync-Event"] == "milestone.rescheduled"
        payload = json.loads(body)
        assert request.headers["X-Okrsync-Delivery"] == payload["id"]
        assert payload["type"] == "milestone.rescheduled"
        assert payload["owner"] == {
            "id": "bob",
            "name": "Bob Stone",
            "email": "bob@acme.test",
            "slack": "U024BE7LH",
        }
        assert payload["key_result"]["id"] == "ENG-1.1"
        assert payload["objective"] == {"id": "ENG-1", "title": "Remove friction from onboarding"}
        milestone = payload["milestone"]
        assert (milestone["key"], milestone["due_before"], milestone["due"]) == (
            "acme/web#1",
            "2026-11-20",
            "2026-12-04",
        )
        assert len(milestone["open_issues"]) == 3
        assert {i["assignee"] for i in milestone["open_issues"]} == {"carol"}
        assert payload["text"].startswith(
            "Onboarding v2 (acme/web) moved from 20 Nov to 4 Dec: 3 of 4 issues open."
        )

        slack_body = json.loads(slack.calls[0].request.content)
        flat = json.dumps(slack_body, ensure_ascii=False)
        assert "<@U024BE7LH>" in flat  # the owner is mentioned
        assert "<script>" not in flat and "&lt;script&gt;" in flat  # tracker text escaped
        assert "@channel" not in flat and "@\u200dchannel" in flat  # no broadcast from a title

        assert len(box.messages) == 1
        message = box.messages[0]
        assert message.rcpt_tos == ["bob@acme.test"]
        parsed = email.message_from_bytes(message.content, policy=email.policy.default)
        html = parsed.get_body(("html",)).get_content()
        assert "&lt;script&gt;" in html and "<script>" not in html
        assert "Onboarding v2" in parsed.get_body(("plain",)).get_content()

        third = cycle(project, clock)
        assert third.events == [] and third.delivery.delivered == 0
        assert hook.call_count == 1 and slack.call_count == 1 and len(box.messages) == 1


def test_webhook_500_then_200_is_delivered_once_and_a_404_fails_without_stopping_others(
    sim: GitHubSim, clock: FakeClock, tmp_path: Path, database_url: str
) -> None:
    project = make_project(tmp_path, database_url, sim, channels())
    cycle(project, clock)
    sim.set_due("acme/web", 1, datetime(2026, 12, 4, 8, 0, tzinfo=UTC))
    clock.tick(60)
    with respx.mock() as mock:
        hook = mock.post(HOOK).mock(side_effect=[httpx.Response(500), httpx.Response(200)])
        slack = mock.post(SLACK).mock(return_value=httpx.Response(200, text="ok"))
        report = cycle(project, clock)
    assert report.delivery.delivered == 2 and report.delivery.failed == 0
    assert hook.call_count == 2 and slack.call_count == 1
    assert deliveries(project) == [
        ("milestone.rescheduled", "okr-hook", "delivered"),
        ("milestone.rescheduled", "team-slack", "delivered"),
    ]

    sim.set_due("acme/web", 1, datetime(2026, 12, 18, 8, 0, tzinfo=UTC))
    clock.tick(60)
    with respx.mock() as mock:
        hook = mock.post(HOOK).mock(return_value=httpx.Response(404))
        slack = mock.post(SLACK).mock(return_value=httpx.Response(200, text="ok"))
        report = cycle(project, clock)
    assert report.delivery.failed == 1 and report.delivery.delivered == 1
    assert hook.call_count == 1  # a permanent error is not retried
    result = CliRunner().invoke(app, ["--config", str(project.config), "alerts", "--failed", "--json"])
    listed = json.loads(result.stdout)
    assert [(e["type"], [d["status"] for d in e["deliveries"]]) for e in listed] == [
        ("milestone.rescheduled", ["failed", "delivered"])
    ]
    assert HOOK not in result.stdout  # the URL carries a token


def test_a_failing_source_raises_no_event(
    sim: GitHubSim, clock: FakeClock, tmp_path: Path, database_url: str
) -> None:
    project = make_project(tmp_path, database_url, sim, "")
    cycle(project, clock)
    clock.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # well past the due day, work still open
    sim.inject(Fault(status=500))
    report = cycle(project, clock)
    assert report.failed and report.events == []
    sim.clear_faults()
    report = cycle(project, clock)
    assert [e.type for e in report.events] == ["milestone.overdue"]


def test_first_sync_records_the_backlog_without_sending_it(
    sim: GitHubSim, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = FakeClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))  # due 20 Nov: overdue since 21 Nov
    project = make_project(tmp_path, database_url, sim, channels())
    with respx.mock(assert_all_called=False) as mock:
        hook = mock.post(HOOK).mock(return_value=httpx.Response(200))
        slack = mock.post(SLACK).mock(return_value=httpx.Response(200, text="ok"))
        report = cycle(project, late)
    assert [(e.type, e.backlog) for e in report.events] == [("milestone.overdue", True)]
    assert not hook.called and not slack.called
    monkeypatch.setenv("OKRSYNC_NOW", late().isoformat())
    listed = json.loads(
        CliRunner().invoke(app, ["--config", str(project.config), "alerts", "--all", "--json"]).stdout
    )
    assert [(e["type"], e["backlog"]) for e in listed] == [("milestone.overdue", True)]
    assert all(d["status"] == "skipped" for d in listed[0]["deliveries"])


def test_send_backlog_sends_it(sim: GitHubSim, tmp_path: Path, database_url: str) -> None:
    late = FakeClock(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    project = make_project(
        tmp_path,
        database_url,
        sim,
        channels().replace(
            "[alerts.channels.okr-hook]", "[alerts]\nsend_backlog = true\n\n[alerts.channels.okr-hook]"
        ),
    )
    with respx.mock() as mock:
        hook = mock.post(HOOK).mock(return_value=httpx.Response(200))
        mock.post(SLACK).mock(return_value=httpx.Response(200, text="ok"))
        cycle(project, late)
    assert hook.call_count == 1


# --- crash safety: a real process killed with SIGKILL, a counting sink ----------------------


class CountingSink:
    """A local webhook receiver that counts deliveries by their X-Okrsync-Delivery id."""

    def __init__(self) -> None:
        self.received: list[str] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                sink.received.append(self.headers.get("X-Okrsync-Delivery", ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def okrsync(
    config: Path, *args: str, crash_at: str | None = None, now: datetime
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OKRSYNC_NOW": now.isoformat()}
    env.pop("OKRSYNC_CRASH_AT", None)
    if crash_at:
        env["OKRSYNC_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "okrsync.cli", "--config", str(config), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("crash_at", ["after_events_recorded", "after_delivery_acknowledged"])
def test_a_killed_process_neither_loses_nor_repeats_an_alert(
    sim: GitHubSim, clock: FakeClock, tmp_path: Path, database_url: str, crash_at: str
) -> None:
    sink = CountingSink()
    try:
        extra = f'\n[alerts.channels.sink]\ntype = "webhook"\nurl = "{sink.url}"\n' + PEOPLE
        project = make_project(tmp_path, database_url, sim, extra)
        assert okrsync(project.config, "sync", now=clock()).returncode == 0
        sim.set_due("acme/web", 1, datetime(2026, 12, 4, 8, 0, tzinfo=UTC))
        clock.tick(60)

        crashed = okrsync(project.config, "sync", crash_at=crash_at, now=clock())
        assert crashed.returncode == -signal.SIGKILL
        assert len(sink.received) == (0 if crash_at == "after_events_recorded" else 1)

        restarted = okrsync(project.config, "sync", now=clock.tick(60))
        assert restarted.returncode == 0, restarted.stderr
        again = okrsync(project.config, "sync", now=clock.tick(60))
        assert again.returncode == 0
        assert len(sink.received) == 1
        assert deliveries(project) == [("milestone.rescheduled", "sink", "delivered")]
    finally:
        sink.close()


def test_the_link_breaks_when_the_mapped_milestone_is_renamed(
    sim: GitHubSim, clock: FakeClock, tmp_path: Path, database_url: str
) -> None:
    project = make_project(tmp_path, database_url, sim, "")
    cycle(project, clock)
    sim.rename_milestone("acme/web", 1, "Onboarding v3")
    clock.tick(60)
    assert [e.type for e in cycle(project, clock).events] == ["link.broken"]
    clock.tick(60)
    assert cycle(project, clock).events == []


def test_the_link_breaks_when_the_mapped_milestone_is_deleted(
    sim: GitHubSim, clock: FakeClock, tmp_path: Path, database_url: str
) -> None:
    project = make_project(tmp_path, database_url, sim, "")
    cycle(project, clock)
    sim.delete_milestone("acme/web", 1)
    clock.tick(60)
    assert [e.type for e in cycle(project, clock).events] == ["link.broken"]


def test_alerts_test_sends_one_test_alert_to_every_channel(
    sim: GitHubSim, tmp_path: Path, database_url: str
) -> None:
    project = make_project(tmp_path, database_url, sim, channels())
    with respx.mock() as mock:
        hook = mock.post(HOOK).mock(return_value=httpx.Response(200))
        slack = mock.post(SLACK).mock(return_value=httpx.Response(200, text="ok"))
        result = CliRunner().invoke(app, ["--config", str(project.config), "alerts", "test"])
    assert result.exit_code == 0, result.output
    assert hook.call_count == 1 and slack.call_count == 1
    assert hook.calls[0].request.headers["X-Okrsync-Event"] == "test"
    with respx.mock() as mock:
        mock.post(HOOK).mock(return_value=httpx.Response(404))
        mock.post(SLACK).mock(return_value=httpx.Response(200, text="ok"))
        result = CliRunner().invoke(app, ["--config", str(project.config), "alerts", "test"])
    assert result.exit_code == 1
    assert "okr-hook" in result.output and HOOK not in result.output


def test_sync_no_deliver_records_the_alert_and_the_next_sync_sends_it(
    sim: GitHubSim, clock: FakeClock, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path, database_url, sim, channels())
    config = ["--config", str(project.config)]
    monkeypatch.setenv("OKRSYNC_NOW", clock().isoformat())
    with respx.mock(assert_all_called=False) as mock:
        hook = mock.post(HOOK).mock(return_value=httpx.Response(200))
        mock.post(SLACK).mock(return_value=httpx.Response(200, text="ok"))
        assert CliRunner().invoke(app, [*config, "sync"]).exit_code == 0
        sim.set_due("acme/web", 1, datetime(2026, 12, 4, 8, 0, tzinfo=UTC))
        monkeypatch.setenv("OKRSYNC_NOW", clock.tick(60).isoformat())
        held = CliRunner().invoke(app, [*config, "sync", "--no-deliver"])
        assert held.exit_code == 0 and "1 new alert(s); 0 delivered" in held.output
        assert not hook.called
        sent = CliRunner().invoke(app, [*config, "sync"])
        assert "0 new alert(s); 2 delivered" in sent.output
        assert hook.call_count == 1
