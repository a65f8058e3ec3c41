"""Exit codes agree with SPEC §4 and the README (issue 12 point 7).

0 ok; 1 a source or a delivery failed; 2 invalid input. A delivery that did not get through in
this run fails the run whether it failed for good or is left to retry; `alerts test` names the
host and port it could not reach, and never the secret parts of a URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx
from typer.testing import CliRunner

from okrsync.cli import app
from okrsync.sandbox.github import GitHubSim
from tests.daemon_support import free_port
from tests.helpers import FakeClock, onboarding_sim, write_project

TOKEN = "ghp_SECRET_exit_codes_4b2e"
HOOK_SECRET = "hook-path-SECRET-91f0"
HOOK = f"https://hooks.acme.test/services/{HOOK_SECRET}"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    # 1 of 4 done today, due in two weeks: forecast late, so the first sync raises
    # milestone.at_risk with today's onset, which is sent (not backlog).
    with onboarding_sim(FakeClock(NOW), token=TOKEN, due=datetime(2026, 12, 4, 8, tzinfo=UTC)) as simulator:
        yield simulator


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OKRSYNC_NOW", NOW.isoformat())
    monkeypatch.delenv("OKRSYNC_CONFIG", raising=False)
    return CliRunner()


WEBHOOK = f"""
[alerts.channels.okr-hook]
type = "webhook"
url = "{HOOK}"
"""


@pytest.mark.parametrize(
    ("answer", "summary"),
    [(503, "1 new alert(s); 0 delivered, 1 to retry"), (404, "1 new alert(s); 0 delivered, 1 failed")],
)
def test_sync_exits_1_when_an_alert_did_not_get_through(
    runner: CliRunner, sim: GitHubSim, tmp_path: Path, database_url: str, answer: int, summary: str
) -> None:
    project = write_project(
        tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN, extra=WEBHOOK
    )
    with respx.mock() as mock:
        hook = mock.post(HOOK).mock(return_value=httpx.Response(answer))
        result = runner.invoke(app, ["--config", str(project.config), "sync"])

    assert hook.called
    assert "✓ github" in result.output  # the source was fine: the delivery alone fails the run
    assert summary in result.output
    assert result.exit_code == 1


def test_sync_exits_0_when_every_alert_was_delivered(
    runner: CliRunner, sim: GitHubSim, tmp_path: Path, database_url: str
) -> None:
    project = write_project(
        tmp_path, database_url=database_url, github_url=sim.url, token=TOKEN, extra=WEBHOOK
    )
    with respx.mock() as mock:
        mock.post(HOOK).mock(return_value=httpx.Response(204))
        result = runner.invoke(app, ["--config", str(project.config), "sync"])
    assert "1 new alert(s); 1 delivered" in result.output
    assert result.exit_code == 0


def test_alerts_test_names_the_host_and_port_it_could_not_reach(
    runner: CliRunner, sim: GitHubSim, tmp_path: Path
) -> None:
    hook_port, smtp_port = free_port(), free_port()
    channels = f"""
[alerts.channels.okr-hook]
type = "webhook"
url = "http://user:pw-{HOOK_SECRET}@127.0.0.1:{hook_port}/services/{HOOK_SECRET}?token={HOOK_SECRET}"

[alerts.channels.mail]
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
sender = "okrsync@acme.test"
to = ["team@acme.test"]
"""
    project = write_project(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        github_url=sim.url,
        token=TOKEN,
        extra=channels,
    )

    result = runner.invoke(app, ["--config", str(project.config), "alerts", "test"])

    assert result.exit_code == 1
    assert f"webhook channel 'okr-hook': cannot reach 127.0.0.1:{hook_port}" in result.output
    assert "email channel 'mail'" in result.output and f"127.0.0.1:{smtp_port}" in result.output
    assert HOOK_SECRET not in result.output
