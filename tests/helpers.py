"""Test helpers: a controllable clock and a small project (config + mappings) on disk."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from okrsync.mappings import load_okrs
from okrsync.sandbox.github import GitHubSim
from okrsync.settings import load_settings
from okrsync.store import open_store


class FakeClock:
    """A clock the test moves by hand; the simulator and the engine both read it."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@contextmanager
def onboarding_sim(
    clock: Callable[[], datetime],
    *,
    token: str,
    due: datetime,
    tasks: int = 4,
    done: int = 1,
    done_at: datetime | None = None,
) -> Iterator[GitHubSim]:
    """Serve acme/web with milestone #1 "Onboarding v2": `tasks` issues for carol, the first
    `done` of them closed (at `done_at`, else now). The org most tests start from."""
    simulator = GitHubSim(tokens={token: "okrsync"}, clock=clock)
    simulator.add_repo("acme/web")
    number = simulator.add_milestone("acme/web", "Onboarding v2", due_on=due)
    for index in range(tasks):
        issue = simulator.add_issue("acme/web", f"Task {index}", milestone=number, assignee="carol")
        if index < done:
            simulator.close_issue("acme/web", issue, at=done_at)
    simulator.start()
    try:
        yield simulator
    finally:
        simulator.stop()


MAPPING = """
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
title = "Ship onboarding"
owner = "bob"
kind = "milestones"
baseline = 0
target = 100
unit = "%"

[[objective.key_result.link]]
source = "github"
repo = "acme/web"
milestone = "Onboarding v2"
"""


@dataclass
class Project:
    """A config and mappings written to a folder, loaded the way the CLI loads them."""

    folder: Path
    config: Path
    settings: Any
    okrs: Any
    engine: Any


def write_project(
    folder: Path,
    *,
    database_url: str,
    github_url: str,
    token: str,
    mapping: str = MAPPING,
    extra: str = "",
    timezone: str = "Europe/Berlin",
    repos: Sequence[str] = ("acme/web",),
) -> Project:
    """Write config.toml and mappings/okrs.toml, then load them and open the store."""
    (folder / "mappings").mkdir(parents=True, exist_ok=True)
    (folder / "mappings" / "okrs.toml").write_text(mapping)
    config = folder / "config.toml"
    config.write_text(
        f"""[okrsync]
database_url = "{database_url}"
mappings = "mappings"
timezone = "{timezone}"

[sources.github]
kind = "github"
base_url = "{github_url}"
token = "{token}"
repos = {json.dumps(list(repos))}
{extra}
"""
    )
    settings = load_settings(config)
    okrs = load_okrs(settings.okrsync.mappings, settings=settings)
    return Project(folder, config, settings, okrs, open_store(settings.okrsync.database_url))


JIRA_MAPPING = """
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
title = "Ship onboarding"
owner = "bob"
kind = "milestones"
baseline = 0
target = 100
unit = "%"

[[objective.key_result.link]]
source = "jira"
version = "ONB/2.0"

[[objective.key_result.link]]
source = "jira"
epic = "ONB-1"

[[objective.key_result.link]]
source = "jira"
jql = "project = ONB AND labels = perf"
title = "Perf fixes"
due = 2026-12-15
"""


def write_jira_project(
    folder: Path,
    *,
    database_url: str,
    jira_url: str,
    token: str,
    email: str | None = None,
    mapping: str = JIRA_MAPPING,
    extra: str = "",
    timezone: str = "Europe/Berlin",
    projects: tuple[str, ...] = ("ONB",),
) -> Project:
    """Write a config with one `[sources.jira]` table (Cloud when `email` is given, else a PAT)."""
    (folder / "mappings").mkdir(parents=True, exist_ok=True)
    (folder / "mappings" / "okrs.toml").write_text(mapping)
    config = folder / "config.toml"
    email_line = f'email = "{email}"' if email else ""
    config.write_text(
        f"""[okrsync]
database_url = "{database_url}"
mappings = "mappings"
timezone = "{timezone}"

[sources.jira]
kind = "jira"
url = "{jira_url}"
{email_line}
token = "{token}"
projects = {json.dumps(list(projects))}
{extra}
"""
    )
    settings = load_settings(config)
    okrs = load_okrs(settings.okrsync.mappings, settings=settings)
    return Project(folder, config, settings, okrs, open_store(settings.okrsync.database_url))
