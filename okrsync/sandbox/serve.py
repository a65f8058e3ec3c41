"""`okrsync demo --serve`: the demo's trackers kept running, with `okrsync run` polling them.

`okrsync demo` tells its story and stops, and the config it leaves (`--keep DIR`) points at
trackers that are gone. With `--serve` the simulated GitHub and Jira keep running, the
config written points at them, and the daemon runs on it — cycles every `poll_interval`,
`/healthz` and `/metrics` on `--listen` — so a newcomer can try the live loop by hand: check
in, move a due date in the simulated GitHub (a printed `curl`, the same PATCH that
api.github.com takes), and watch the `milestone.rescheduled` alert arrive within an interval.

The simulators and the daemon read one clock: the real one inside the demo's quarter, else
the demo's pinned moment moving forward in real time (`demo.demo_now`), so the story is the
same on any date and time still passes.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from okrsync.sandbox.demo import DEMO_TOKEN, demo_now, demo_workspace, write_config
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.jira import JiraSim

SERVE_POLL_INTERVAL = 10  # seconds: an alert arrives while the newcomer still watches
MOVED_MILESTONE = ("acme/web", "Onboarding v2")
MOVE_DAYS = 14


def moving_clock(start: datetime) -> Callable[[], datetime]:
    """Return a clock that reads `start` now and runs forward with the real one."""
    offset = start - datetime.now(UTC)
    return lambda: datetime.now(UTC) + offset


def move_due_command(sim: GitHubSim, *, repo: str, number: int, due: datetime) -> str:
    """Spell the `curl` that moves a milestone's due date in the simulated GitHub."""
    body = '{"due_on": "' + due.strftime("%Y-%m-%dT%H:%M:%SZ") + '"}'
    return shlex.join(
        [
            "curl",
            "-sS",
            "-X",
            "PATCH",
            "-H",
            f"Authorization: token {DEMO_TOKEN}",
            f"{sim.url}/repos/{repo}/milestones/{number}",
            "-d",
            body,
        ]
    )


def serve_demo(console: Console, *, workdir: Path | None, listen: str) -> int | None:
    """Seed and start the simulators, write the config, run the daemon until a signal.

    Return the signal that stopped the daemon (SIGINT or SIGTERM), as `daemon.serve` does.
    """
    from okrsync.daemon import serve
    from okrsync.mappings import load_okrs
    from okrsync.settings import load_settings

    clock = moving_clock(demo_now())
    with demo_workspace(workdir, clock()) as (folder, sim, jira, _seeded_at):
        # The simulators are seeded afresh each time: a database kept from an earlier run holds
        # cursors past what they now hold, and would miss it.
        (folder / "okrsync.db").unlink(missing_ok=True)
        sim.clock = jira.clock = clock  # seeded on a hand-moved clock; from now on, real time
        sim.start()
        jira.start()
        config = write_config(
            folder,
            github_url=sim.url,
            jira_url=jira.url,
            poll_interval=SERVE_POLL_INTERVAL,
            listen=listen,
        )
        settings = load_settings(config)
        okrs = load_okrs(settings.okrsync.mappings, settings=settings)
        _print_guide(console, sim=sim, jira=jira, config=config, settings=settings)
        return serve(settings, okrs, clock=clock)


def _print_guide(console: Console, *, sim: GitHubSim, jira: JiraSim, config: Path, settings: Any) -> None:
    """Print what runs where, and what to try, each as a command to copy."""
    server = settings.server
    interval = settings.okrsync.poll_interval
    repo, title = MOVED_MILESTONE
    milestone = next(m for m in sim.repo(repo).milestones.values() if m.title == title)
    assert milestone.due_on is not None  # the demo seeds it with a due date
    new_due = milestone.due_on + timedelta(days=MOVE_DAYS)
    cli = f"okrsync -c {shlex.quote(str(config))}"
    if abs(sim.now() - datetime.now(UTC)) > timedelta(minutes=1):
        # Outside the demo's quarter its clock is pinned (demo.demo_now): commands run by hand
        # must read the same day, or `status` judges the OKRs on another date.
        cli = f"OKRSYNC_NOW={sim.now():%Y-%m-%dT%H:%M:%SZ} {cli}"
    lines = [
        ("okrsync demo --serve", "bold"),
        (f"  simulated GitHub: {sim.url}   simulated Jira: {jira.url}", ""),
        (f"  config and database: {config.parent}", ""),
        (f"  okrsync run polls them every {interval} s; its server: http://{server.listen}", ""),
        ("", ""),
        ("Try, in another terminal:", "bold"),
        (f"  curl http://{server.listen}/healthz", ""),
        (f"  {cli} status", ""),
        (f"  {cli} checkin ENG-1.1 --confidence 3 --blocker 'SSO vendor is late'", ""),
        (
            f"Move '{title}' ({repo}) {MOVE_DAYS} days later in the simulated GitHub (GitHub's own REST call):",
            "bold",
        ),
        (f"  {move_due_command(sim, repo=repo, number=milestone.number, due=new_due)}", ""),
        (
            f"Within {interval} s the milestone.rescheduled alert is delivered (logged below); list it with:",
            "bold",
        ),
        (f"  {cli} alerts", ""),
        ("", ""),
        ("Ctrl-C stops the daemon and the simulators.", "dim"),
    ]
    for text, style in lines:
        console.print(Text(text, style=style), soft_wrap=True)
