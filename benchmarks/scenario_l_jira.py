"""Scenario L of SPEC §8, Jira Cloud part: okrsync against the bare `jira` client, on growing sites.

    .venv/bin/python benchmarks/scenario_l_jira.py [--sizes 50000,100000] [--rounds 3]
        [--engines sqlite,postgresql] [--json out.json] [--markdown] [--profile]

Each size is a site of `--projects` projects (issues per project = size / projects) with
`--versions` fix versions each and a KR for every two versions, seeded once into the
simulator in this process. What is measured, and how, is told in harness.py; the bare client
is bare_jira.py, and its requests are spelled here from okrsync's own Jira connector.
`--from-json out.json --markdown` re-renders saved figures without measuring.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness  # benchmarks/ is the script's folder, so first on sys.path

from connectors.forked import can_fork
from connectors.jira.poller import changed_issue_searches
from connectors.jira.records import SiteFields
from okrsync.sandbox.jira import JiraSim
from okrsync.settings import JiraSource

EMAIL, TOKEN = "bench@acme.test", "bench-token"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PAGE_SIZE = 100  # JiraPoller's page_size
# Searches okrsync runs at once on a first sync by default: the bare client makes the same ones.
SHARES = JiraSource.model_fields["concurrency"].default
KEY_PAGE_SIZE = 5000  # JiraPoller._deleted on Cloud: key-only pages may be this large


def seed(jira: JiraSim, clock: list[datetime], *, projects: int, issues: int, versions: int) -> list[str]:
    """Create the site, updates spread over 90 days; return the version links ("P0/v3")."""
    links = []
    step = timedelta(days=90) / max(1, projects * issues)
    for p in range(projects):
        key = f"P{p}"
        jira.add_project(key)
        for v in range(versions):
            jira.add_version(key, f"v{v}", release_date=(NOW + timedelta(days=v * 5 - 30)).date())
            links.append(f"{key}/v{v}")
        for i in range(issues):
            clock[0] = NOW - timedelta(days=90) + step * (p * issues + i)
            done = i % 3 == 0
            jira.add_issue(
                key,
                f"Issue {i}",
                status="Done" if done else "To Do",
                resolution="Done" if done else None,
                fix_versions=[f"v{i % versions}"],
                assignee="dev",
                story_points=float(i % 5 + 1),
            )
    clock[0] = NOW
    return links


def write_mappings(folder: Path, versions: list[str]) -> int:
    """Write an objective per 6 versions and a KR per 2; return the number of KRs."""
    lines = ['[cycle]\nid = "2026-Q4"\nstart = 2026-10-01\nend = 2026-12-31\n']
    krs = 0
    for index, version in enumerate(versions):
        if index % 6 == 0:
            lines.append(f'[[objective]]\nid = "O-{index}"\ntitle = "Objective {index}"\nowner = "lead"\n')
        if index % 2 == 0:
            krs += 1
            lines.append(
                f'[[objective.key_result]]\nid = "KR-{index}"\ntitle = "KR {index}"\nowner = "owner"\n'
                'kind = "milestones"\nbaseline = 0\ntarget = 100\nunit = "%"\n'
            )
        lines.append(f'[[objective.key_result.link]]\nsource = "jira"\nversion = "{version}"\n')
    (folder / "mappings").mkdir()
    (folder / "mappings" / "bench.toml").write_text("\n".join(lines))
    return krs


def bare_job(jira: JiraSim, projects: list[str]) -> dict[str, object]:
    """Spell the first sync's requests as okrsync's JiraPoller makes them (a fresh cursor)."""
    return {
        "url": jira.url,
        "email": EMAIL,
        "token": TOKEN,
        "projects": projects,
        # JiraPoller._changed_issues with every project fresh: by key, one search per share of
        # the projects (the source's default `concurrency`, where fork lets okrsync run them at once).
        "searches": changed_issue_searches([], projects, bound=None, shares=SHARES if can_fork() else 1),
        "search_fields": SiteFields(story_points=jira.story_points_field).search_fields(),
        "page_size": PAGE_SIZE,
        # JiraPoller._deleted runs on a first sync but skips the key-only listing of a project
        # read in full (`read_in_full`), so none is made; were one made, it would be
        # f"project = {quote_jql(p)}" in pages of KEY_PAGE_SIZE.
        "key_searches": [],
        "key_page_size": KEY_PAGE_SIZE,
    }


def change_issues(jira: JiraSim, projects: int, count: int) -> None:
    """Edit `count` issues spread over every project (the 1 % poll)."""
    for index in range(count):
        jira.update_issue(f"P{index % projects}-{index // projects + 1}", summary=f"Changed {index}")


def builder(args: argparse.Namespace) -> harness.Build:
    def build(size: int, folder: Path) -> harness.Scenario:
        per_project = max(1, size // args.projects)
        clock = [NOW]
        jira = JiraSim("cloud", clock=lambda: clock[0])
        started = time.perf_counter()
        versions = seed(jira, clock, projects=args.projects, issues=per_project, versions=args.versions)
        jira.start()
        seeded = round(time.perf_counter() - started, 2)
        projects = [f"P{p}" for p in range(args.projects)]
        krs = write_mappings(folder, versions)
        job = folder / "bare-job.json"
        job.write_text(json.dumps(bare_job(jira, projects)))
        return harness.Scenario(
            source="jira",
            issues=args.projects * per_project,
            sim=jira,
            clock=clock,
            folder=folder,
            source_toml=(
                f'[sources.jira]\nkind = "jira"\nurl = "{jira.url}"\nemail = "{EMAIL}"\n'
                f'token = "{TOKEN}"\nprojects = {json.dumps(projects)}\n'
            ),
            bare_command=[sys.executable, str(harness.BENCH_DIR / "bare_jira.py"), str(job)],
            change=lambda count: change_issues(jira, args.projects, count),
            seed_seconds=seeded,
            facts={"projects": args.projects, "versions": len(versions), "krs": krs},
        )

    return build


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    harness.add_arguments(parser, sizes="50000,100000")
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--versions", type=int, default=20, help="fix versions per project")
    args = parser.parse_args()
    harness.main(args, title="Scenario L, Jira Cloud", build=builder(args))


if __name__ == "__main__":
    main()
