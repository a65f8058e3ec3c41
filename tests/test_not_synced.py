"""A source that has never synced gives no verdicts (issue 12 point 1).

With no network (a tracker on a closed port) the first `sync` fails; every view must then say
the KRs it feeds are `unknown`, "not synced yet: <the source's last error>", with no progress,
no score, no `link.broken` and no "renamed or deleted?". Once the source syncs, the verdicts
come back. Run through the CLI on both engines, with the real PyGithub client.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from okrsync.cli import app
from okrsync.digest import build_digests, digest_text
from okrsync.rollup import IssueFacts, MilestoneFacts, RollupInputs, roll_up
from okrsync.sandbox.github import GitHubSim
from okrsync.store import ProgressPoint, session
from tests.daemon_support import free_port
from tests.helpers import FakeClock, onboarding_sim, write_project

TOKEN = "ghp_SECRET_not_synced_7c1d"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    with onboarding_sim(FakeClock(NOW), token=TOKEN, due=datetime(2026, 12, 4, 8, tzinfo=UTC)) as simulator:
        yield simulator


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("OKRSYNC_NOW", NOW.isoformat())
    monkeypatch.delenv("OKRSYNC_CONFIG", raising=False)
    return CliRunner()


def dead_url() -> str:
    """A GitHub API address nothing listens on: what a laptop without network sees."""
    return f"http://127.0.0.1:{free_port()}/api/v3"


def invoke_json(runner: CliRunner, config: list[str], *args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, [*config, *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_a_source_that_never_synced_makes_every_view_say_unknown(
    runner: CliRunner, sim: GitHubSim, tmp_path: Path, database_url: str
) -> None:
    project = write_project(tmp_path, database_url=database_url, github_url=dead_url(), token=TOKEN)
    config = ["--config", str(project.config)]
    fresh = invoke_json(runner, config, "status", "--json")["objectives"][0]["key_results"][0]
    assert (fresh["status"], fresh["score"]) == ("unknown", None)
    assert fresh["reason"] == "not synced yet: source 'github' was never polled (okrsync sync)"

    synced = runner.invoke(app, [*config, "sync"])
    assert synced.exit_code == 1
    assert "1 key result(s): 1 unknown" in synced.output

    document = invoke_json(runner, config, "status", "--json")
    error = document["sources"][0]["last_error"]
    assert error.startswith("source 'github': ")
    objective = document["objectives"][0]
    kr = objective["key_results"][0]
    milestone = kr["milestones"][0]
    assert (kr["status"], kr["progress"], kr["score"]) == ("unknown", None, None)
    assert kr["reason"] == f"not synced yet: {error}"
    assert (objective["status"], objective["progress"], objective["score"]) == ("unknown", None, None)
    assert objective["reason"] == kr["reason"]
    assert (milestone["status"], milestone["missing"], milestone["progress"]) == ("unknown", False, None)

    tree = runner.invoke(app, [*config, "status"])
    assert tree.exit_code == 0
    assert "unknown" in tree.output and "not synced yet" in tree.output
    assert "off track" not in tree.output and "not found in the tracker" not in tree.output

    explained = invoke_json(runner, config, "explain", "ENG-1.1", "--json")
    assert explained["key_result"]["status"] == "unknown"
    assert explained["key_result"]["progress"] is None and explained["key_result"]["score"] is None
    assert explained["reasons"] == [
        f"not synced yet: {error}; no verdict until every source it reads has synced"
    ]
    text = runner.invoke(app, [*config, "explain", "ENG-1.1"])
    assert "not synced yet" in text.output and "unknown" in text.output
    assert "not in the tracker any more" not in text.output and "off track" not in text.output

    sheet = invoke_json(runner, config, "score", "--format", "json")
    scored = sheet["cycles"][0]["objectives"][0]
    assert (scored["score"], scored["band"], scored["status"]) == (None, None, "unknown")
    assert scored["key_results"][0]["score"] is None and scored["key_results"][0]["callout"] is None
    assert scored["key_results"][0]["basis"] == kr["reason"]
    markdown = runner.invoke(app, [*config, "score", "--format", "markdown"])
    assert "| — | — |" in markdown.output

    assert invoke_json(runner, config, "alerts", "--json") == []  # no link.broken
    with session(project.engine) as db:  # nor a history point of a progress never read
        assert db.execute(select(func.count()).select_from(ProgressPoint)).scalar_one() == 0

    # The network is back: the same source syncs and the verdicts come back.
    project.config.write_text(
        project.config.read_text().replace(project.settings.sources["github"].base_url, sim.url)
    )
    assert runner.invoke(app, [*config, "sync"]).exit_code == 0
    kr = invoke_json(runner, config, "status", "--json")["objectives"][0]["key_results"][0]
    assert (kr["status"], kr["score"], kr["reason"]) == ("off_track", 0.25, None)


SECOND_SOURCE = """
[sources.ghe]
kind = "github"
base_url = "{url}"
token = "{token}"
"""

MIXED_MAPPING = """
[cycle]
id = "2026-Q4"
start = 2026-10-01
end = 2026-12-31

[[objective]]
id = "ENG-1"
title = "Remove friction from onboarding"
owner = "bob"

[[objective.key_result]]
id = "ENG-1.1"
title = "Ship onboarding on github.com"
owner = "bob"
kind = "milestones"
baseline = 0
target = 100
unit = "%"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Onboarding v2"

[[objective.key_result]]
id = "ENG-1.2"
title = "Ship onboarding everywhere"
owner = "bob"
kind = "milestones"
baseline = 0
target = 100
unit = "%"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Onboarding v2"

[[objective.key_result.link]]
source = "ghe"
repo = "acme/enterprise"
milestone = "Onboarding v2"
"""


def test_a_kr_fed_by_a_synced_and_a_never_synced_source_is_unknown(
    runner: CliRunner, sim: GitHubSim, tmp_path: Path, database_url: str
) -> None:
    project = write_project(
        tmp_path,
        database_url=database_url,
        github_url=sim.url,
        token=TOKEN,
        mapping=MIXED_MAPPING,
        extra=SECOND_SOURCE.format(url=dead_url(), token=TOKEN),
    )
    config = ["--config", str(project.config)]
    assert runner.invoke(app, [*config, "sync"]).exit_code == 1  # ghe cannot be reached

    document = invoke_json(runner, config, "status", "--json")
    ghe_error = next(s["last_error"] for s in document["sources"] if s["name"] == "ghe")
    objective = document["objectives"][0]
    alone, mixed = objective["key_results"]
    assert (alone["status"], alone["score"]) == ("off_track", 0.25)  # read in full: a verdict
    assert (mixed["status"], mixed["score"], mixed["progress"]) == ("unknown", None, None)
    assert mixed["reason"] == f"not synced yet: {ghe_error}"
    read, unread = mixed["milestones"]
    assert (read["status"], read["done"], read["total"]) == ("at_risk", 1, 4)  # its own numbers stand
    assert (unread["status"], unread["missing"], unread["reason"]) == ("unknown", False, mixed["reason"])
    assert (objective["status"], objective["score"]) == ("unknown", None)

    # Only the milestone that was read can raise alerts; the unread one is not a broken link.
    alerts = invoke_json(runner, config, "alerts", "--json")
    assert "link.broken" not in {a["type"] for a in alerts}


def test_a_source_never_polled_says_so_and_a_checked_in_value_still_counts(tmp_path: Path) -> None:
    """Pure roll-up: no source_state row at all, and a metric KR measured by a tracker count."""
    metric = """
[[objective.key_result]]
id = "ENG-1.3"
title = "Signups"
owner = "bob"
kind = "metric"
baseline = 0
target = 100
unit = "signups"
value_query = "label:signup"
value_source = "ghe"
"""
    okrs = write_project(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
        github_url="http://127.0.0.1:9/api/v3",
        token=TOKEN,
        mapping=MIXED_MAPPING + metric,
        extra=SECOND_SOURCE.format(url="http://127.0.0.1:9/api/v3", token=TOKEN),
    ).okrs
    today = date(2026, 11, 20)
    read = MilestoneFacts(
        "github",
        "acme/web#1",
        "Onboarding v2",
        "open",
        date(2026, 12, 4),
        (IssueFacts("acme/web#1", "Task", "done"), IssueFacts("acme/web#2", "Task", "open")),
    )
    unread = MilestoneFacts(
        "ghe", "acme/enterprise:Onboarding v2", "Onboarding v2", "open", None, (), found=False
    )
    never = "source 'ghe' was never polled (okrsync sync)"
    inputs = RollupInputs(
        milestones={"ENG-1.1": [(read, 1.0)], "ENG-1.2": [(read, 1.0), (unread, 1.0)]},
        not_synced={"ghe": never},
    )
    rollup = roll_up(okrs, inputs, today=today)
    assert rollup.key_results["ENG-1.1"].score == 0.5
    assert [(m.status, m.missing) for m in rollup.key_results["ENG-1.2"].milestones] == [
        ("at_risk", False),  # read: its own verdict (stalled before its due day)
        ("unknown", False),  # not read: not missing
    ]
    assert (rollup.key_results["ENG-1.2"].status, rollup.key_results["ENG-1.2"].reason) == (
        "unknown",
        f"not synced yet: {never}",
    )
    assert rollup.key_results["ENG-1.3"].status == "unknown"  # its count was never taken, nobody reported one

    checked_in = roll_up(
        okrs,
        RollupInputs(milestones=inputs.milestones, values={"ENG-1.3": 40.0}, not_synced={"ghe": never}),
        today=today,
    )
    assert (checked_in.key_results["ENG-1.3"].status, checked_in.key_results["ENG-1.3"].score) == (
        "at_risk",
        0.4,
    )

    digests = build_digests(
        okrs,
        rollup,
        week="2026-W47",
        moment=datetime(2026, 11, 20, 9, tzinfo=UTC),
        tz=ZoneInfo("UTC"),
        latest={},
        week_ago={"ENG-1.2": 0.3},
    )
    text = digest_text(digests[0], name="Bob")
    assert "ENG-1.2 has no score yet (a source it reads has not synced), unknown" in text
    assert "ENG-1.1 0.50" in text
    assert [i.score for i in digests[0].items if i.kr_id == "ENG-1.2"] == [None]

    # Both sources unread: each reason once, behind one "not synced yet:", up to the objective.
    down = "source 'github': cannot connect"
    neither = roll_up(
        okrs,
        RollupInputs(milestones=inputs.milestones, not_synced={"ghe": never, "github": down}),
        today=today,
    )
    assert neither.key_results["ENG-1.2"].reason == f"not synced yet: {down}; {never}"
    assert neither.objectives["ENG-1"].reason == f"not synced yet: {down}; {never}"
    assert neither.objectives["ENG-1"].score is None
