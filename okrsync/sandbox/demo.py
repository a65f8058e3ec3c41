"""`okrsync demo`: a small org in the simulated trackers, one sync, the status tree.

No network and no credentials: the simulator runs on 127.0.0.1 and the demo writes its own
config and database in a temporary folder. The demo's OKRs are the files in `mappings/`
(shipped inside the package as `okrsync/sandbox/demo_mappings`).

The demo's clock is the real one while it falls inside the demo's quarter (2026-Q4); outside
it, the demo pins its clock to 2026-11-22 09:00 UTC so the story it tells stays the same.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.jira import JiraSim

DEMO_MAPPINGS = Path(__file__).parent / "demo_mappings"
DEMO_TOKEN = "demo-token-not-a-secret"
JIRA_EMAIL = "okrsync@acme.test"
QUARTER = (date(2026, 10, 1), date(2026, 12, 31))
PINNED_NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def demo_now(real: datetime | None = None) -> datetime:
    """Use the real clock inside the demo's quarter, else a fixed moment in it."""
    real = real or datetime.now(UTC)
    return real if QUARTER[0] <= real.date() <= QUARTER[1] - timedelta(days=7) else PINNED_NOW


def pacific_due(day: date) -> datetime:
    """Encode a due day the way GitHub does: Pacific midnight, 08:00Z in winter."""
    return datetime(day.year, day.month, day.day, 8, 0, tzinfo=UTC)


def seed(sim: GitHubSim, *, now: datetime) -> None:
    """Create the demo org: two repos, four milestones, issues in every state."""
    today = now.date()

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    for repo in ("acme/web", "acme/api"):
        sim.add_repo(repo)

    onboarding = sim.add_milestone(
        "acme/web", "Onboarding v2", due_on=pacific_due(today + timedelta(days=10))
    )
    titles = [
        ("Welcome screen copy", "carol", 12),
        ("Email verification step", "bob", 9),
        ("Team invite flow", "frank", 6),
        ("Progress indicator", "carol", 4),
        ("Skip-for-now option", "bob", 2),
    ]
    for title, who, days in titles:
        number = sim.add_issue("acme/web", title, milestone=onboarding, assignee=who)
        sim.close_issue("acme/web", number, at=ago(days))
    still_open: list[tuple[str, str | None]] = [
        ("SSO sign-up path", "frank"),
        ("Empty-state illustrations", "carol"),
        ("Mobile layout for step 3", None),
        ("Analytics events for funnel", "bob"),
        ("Accessibility audit fixes", "grace"),
    ]
    for title, assignee in still_open:
        sim.add_issue("acme/web", title, milestone=onboarding, assignee=assignee)
    dropped = sim.add_issue("acme/web", "Animated mascot", milestone=onboarding)
    sim.close_issue("acme/web", dropped, reason="not_planned", at=ago(8))
    sim.add_issue("acme/web", "Onboarding v2: wire the new steps", milestone=onboarding, pull_request=True)

    errors = sim.add_milestone("acme/web", "Error budget", due_on=pacific_due(today + timedelta(days=30)))
    for index, title in enumerate(["Retry failed invites", "Friendly 500 page", "Client-side validation"]):
        number = sim.add_issue("acme/web", title, milestone=errors, assignee="carol")
        if index == 0:
            sim.close_issue("acme/web", number, at=ago(3))
    sim.add_issue("acme/web", "Fix double-submit on signup", labels=["bug", "kr:ENG-1.2"], assignee="dave")
    closed = sim.add_issue("acme/web", "Log signup errors to Sentry", labels=["kr:ENG-1.2"], assignee="dave")
    sim.close_issue("acme/web", closed, at=ago(5))
    sim.add_issue("acme/web", "Tidy legacy wizard", labels=["kr:ENG-9.9"])  # an unknown KR id

    signup = sim.add_milestone("acme/api", "Signup API", due_on=pacific_due(today - timedelta(days=3)))
    for index, title in enumerate(
        ["POST /signup", "Rate-limit signups", "Domain allow-list", "Welcome webhook", "Captcha", "Audit log"]
    ):
        number = sim.add_issue(
            "acme/api", title, milestone=signup, assignee="frank" if index % 2 else "grace"
        )
        if index < 4:
            sim.close_issue("acme/api", number, at=ago(20 - index * 4))

    perf = sim.add_milestone(
        "acme/api",
        "Perf sprint",
        due_on=pacific_due(today + timedelta(days=20)),
        description="Latency work for the signup path. kr:ENG-2.1",
    )
    for title, points, done_days in [
        ("Cache plan lookups", 5, 6),
        ("Batch audit writes", 3, 2),
        ("Index signup emails", 2, None),
        ("Trim JSON payloads", 8, None),
        ("Profile cold starts", None, None),
    ]:
        labels = [f"points:{points}"] if points else []
        number = sim.add_issue("acme/api", title, milestone=perf, labels=labels, assignee="erin")
        if done_days is not None:
            sim.close_issue("acme/api", number, at=ago(done_days))

    for index in range(12):
        number = sim.add_issue("acme/api", f"Customer bug #{index + 1}", labels=["customer-bug"])
        sim.close_issue("acme/api", number, at=ago(40 + index * 7))
    for index in range(3):
        sim.add_issue("acme/api", f"Open customer bug #{index + 13}", labels=["customer-bug"])


def seed_jira(jira: JiraSim, sim_time: list[datetime], *, now: datetime) -> None:
    """Create the Jira project: fix version ONB/2.0 (linked to ENG-1.1 beside a GitHub
    milestone) and an epic labelled `kr:ENG-1.2` (linked from inside Jira)."""
    today = now.date()
    jira.add_project("ONB", "Onboarding")
    jira.add_version(
        "ONB", "2.0", release_date=today + timedelta(days=12), description="Self-serve onboarding"
    )
    work = [
        ("Plan picker on sign-up", "carol", 9, None),
        ("Trial banner", "frank", 4, None),
        ("Invite teammates step", "bob", 1, None),
        ("Legacy wizard parity", None, 6, "Won't Do"),
        ("Seat-based pricing page", "frank", None, None),
        ("Usage tour", "carol", None, None),
    ]
    for summary, who, done_days, resolution in work:
        sim_time[0] = now - timedelta(days=done_days or 0)
        key = jira.add_issue("ONB", summary, fix_versions=["2.0"], assignee=who, story_points=3)
        if done_days is not None:
            jira.transition(key, "Done", resolution or "Done")
    jira.add_issue(
        "ONB", "Write copy for the banner", issuetype="Sub-task", parent="ONB-2", fix_versions=["2.0"]
    )
    sim_time[0] = now
    epic = jira.add_issue("ONB", "Error tracking for sign-up", issuetype="Epic", labels=["kr:ENG-1.2"])
    jira.add_issue("ONB", "Alert on sign-up 5xx", parent=epic, assignee="dave")
    sim_time[0] = now - timedelta(days=2)
    done = jira.add_issue("ONB", "Dashboard of sign-up errors", parent=epic, assignee="dave")
    jira.transition(done, "Done", "Done")
    sim_time[0] = now


def write_config(
    folder: Path, *, github_url: str, jira_url: str, poll_interval: int = 60, listen: str | None = None
) -> Path:
    """Write the demo's config.toml and copy its mappings; return the config path.

    The sources point at the simulators, which live only as long as the demo: after a plain
    `okrsync demo --keep DIR` the database can still be read (`status`, `alerts`), while
    `sync` and `run` need `okrsync demo --serve`, which keeps them running.
    """
    mappings = folder / "mappings"
    if mappings.exists():
        shutil.rmtree(mappings)
    shutil.copytree(DEMO_MAPPINGS, mappings)
    config = folder / "config.toml"
    server = f'\n[server]\nlisten = "{listen}"\n' if listen else ""
    config.write_text(
        f"""# Written by `okrsync demo`: the simulated GitHub and Jira on 127.0.0.1, alive only while
# the demo runs (`okrsync demo --serve` keeps them running, with `okrsync run` on this file).
[okrsync]
database_url = "sqlite:///{(folder / "okrsync.db").as_posix()}"
mappings = "mappings"
timezone = "Europe/Berlin"
poll_interval = {poll_interval}
{server}
[sources.github]
kind = "github"
base_url = "{github_url}"
token = "{DEMO_TOKEN}"
repos = ["acme/web", "acme/api"]

[sources.github.writeback]
enabled = true
min_interval = 0  # the simulated GitHub is ours: no need to pace writes at one a second

[sources.jira]
kind = "jira"
url = "{jira_url}"
email = "{JIRA_EMAIL}"
token = "{DEMO_TOKEN}"
projects = ["ONB"]

[alerts.channels.console]
type = "log"

[people.alice]
name = "Alice Moreau"
[people.bob]
name = "Bob Stone"
email = "bob@acme.test"
[people.carol]
name = "Carol Diaz"
[people.dana]
name = "Dana Okafor"
[people.erin]
name = "Erin Lind"
"""
    )
    return config


def show_alerts(console: Console, engine: Any, event_ids: list[str]) -> None:
    """Print the alerts this sync raised, with each delivery's state."""
    from sqlalchemy import select
    from sqlmodel import col

    from okrsync.store import Delivery, Event, session

    with session(engine) as db:
        events = list(db.execute(select(Event).where(col(Event.id).in_(event_ids))).scalars())
        deliveries = list(db.execute(select(Delivery).where(col(Delivery.event_id).in_(event_ids))).scalars())
    for event in events:
        states = ", ".join(f"{d.channel}: {d.status}" for d in deliveries if d.event_id == event.id)
        console.print(
            Text.assemble(
                (f"{event.type} ", "bold yellow"), event.payload["text"], (f"  [{states}]", "green")
            )
        )


def show_dashboard(
    console: Console, settings: Any, okrs: Any, engine: Any, sim: GitHubSim, *, now: datetime
) -> None:
    """Write back to the simulated GitHub (unpaced: it is ours) and print acme/web's dashboard."""
    from okrsync.writeback import run_writeback

    run_writeback(settings, okrs, engine, now=now, sleep=lambda _seconds: None)
    dashboard = next((i for i in sim.repo("acme/web").issues.values() if "okrsync" in i.labels), None)
    if dashboard is not None:
        console.print(
            Text(
                f"\nWrite-back: the 'OKR dashboard' issue #{dashboard.number} in acme/web says", style="bold"
            )
        )
        console.print(Text(dashboard.body or ""))


def write_demo_report(
    settings: Any, okrs: Any, engine: Any, *, workdir: Path | None, moment: datetime
) -> Path:
    """Write the demo org's HTML report where it outlives the demo; return its index.html.

    Beside the kept files with `--keep`; else in a folder of its own under the system's temp
    folder, which the demo does not remove (the rest of its files are).
    """
    from okrsync.report import write_report

    folder = (
        workdir / "report" if workdir is not None else Path(tempfile.mkdtemp(prefix="okrsync-demo-report-"))
    )
    return write_report(settings, okrs, engine, folder, moment=moment).resolve()


@contextmanager
def demo_workspace(
    workdir: Path | None, moment: datetime
) -> Iterator[tuple[Path, GitHubSim, JiraSim, list[datetime]]]:
    """The demo's folder (`workdir`, or a temporary one removed at the end) and its simulators.

    Both simulators are seeded at `moment` on a clock the caller moves by hand (the yielded
    one-item list), not started; they are stopped at the end whatever happened.
    """
    temp = None
    if workdir is None:
        temp = tempfile.TemporaryDirectory(prefix="okrsync-demo-")
        folder = Path(temp.name)
    else:
        folder = workdir
        folder.mkdir(parents=True, exist_ok=True)
    sim_time = [moment]
    sim = GitHubSim(tokens={DEMO_TOKEN: "okrsync-demo"}, clock=lambda: sim_time[0])
    jira = JiraSim("cloud", users={f"{JIRA_EMAIL}:{DEMO_TOKEN}": "okrsync-demo"}, clock=lambda: sim_time[0])
    try:
        seed(sim, now=moment)
        seed_jira(jira, sim_time, now=moment)
        yield folder, sim, jira, sim_time
    finally:
        sim.stop()
        jira.stop()
        if temp is not None:
            temp.cleanup()


def run_demo(
    console: Console, *, workdir: Path | None = None, clock: Callable[[], datetime] | None = None
) -> int:
    """Seed the simulator, sync once, print the tree; return the exit code."""
    from okrsync.engine import run_cycle
    from okrsync.mappings import load_okrs
    from okrsync.progress import status_for
    from okrsync.settings import load_settings
    from okrsync.statusview import render
    from okrsync.store import open_store

    started = time.monotonic()
    moment = (clock or demo_now)()
    with demo_workspace(workdir, moment) as (folder, sim, jira, sim_time):
        sim.start()
        jira.start()
        config = write_config(folder, github_url=sim.url, jira_url=jira.url)
        settings = load_settings(config)
        okrs = load_okrs(settings.okrsync.mappings, settings=settings)
        engine = open_store(settings.okrsync.database_url)
        console.print(
            Text(
                f"okrsync demo: simulated GitHub at {sim.url} and Jira at {jira.url}; files in {folder}",
                style="bold",
            )
        )
        report = run_cycle(settings, okrs, engine, now=moment, write_back=False)
        for outcome in report.sources:
            line = (
                outcome.error
                or f"{outcome.name}: {outcome.issues} issues, {outcome.milestones} milestones synced"
            )
            console.print(Text(("✗ " if outcome.error else "✓ ") + line))
        document = status_for(settings, okrs, engine, moment=moment, cycle=None)
        console.print(render(document))
        show_dashboard(console, settings, okrs, engine, sim, now=moment)
        failed = bool(report.failed)

        # The slip: the onboarding milestone's due date moves two weeks later in GitHub.
        sim_time[0] = moment + timedelta(minutes=5)
        onboarding = next(m for m in sim.repo("acme/web").milestones.values() if m.title == "Onboarding v2")
        new_due = (onboarding.due_on or sim_time[0]) + timedelta(days=14)
        sim.set_due("acme/web", onboarding.number, new_due)
        console.print(
            Text(f"\nIn GitHub, 'Onboarding v2' moves to {new_due:%d %b}. Syncing again…", style="bold")
        )
        report = run_cycle(settings, okrs, engine, now=sim_time[0], write_back=False)
        failed = failed or bool(report.failed) or bool(report.delivery.failed)
        show_alerts(console, engine, [e.id for e in report.events])
        index = write_demo_report(settings, okrs, engine, workdir=workdir, moment=sim_time[0])
        console.print(Text(f"done in {time.monotonic() - started:.1f} s", style="dim"))
        console.print(Text.assemble("HTML report: ", (str(index), "bold")), soft_wrap=True)
        return 1 if failed else 0
