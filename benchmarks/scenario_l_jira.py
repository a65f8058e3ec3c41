"""Scenario L of SPEC §8, Jira part: 50,000 issues in 10 projects with 200 versions.

    .venv/bin/python benchmarks/scenario_l_jira.py [--projects 10] [--issues 5000] [--json out.json]

Figures: full first sync against the `jira` client paging `/search/jql` page by page as raw
JSON with the same fields; the requests of a poll with nothing changed (target: 1 search +
1 versions call per project) and with 1 % changed; the sync process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jira import JIRA
from measure import run_measured  # noqa: E402 - benchmarks/ is the script's folder

from connectors.jira.records import BASE_FIELDS
from okrsync.sandbox.jira import JiraSim

EMAIL, TOKEN = "bench@acme.test", "bench-token"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
VERSIONS_PER_PROJECT = 20


def seed(jira: JiraSim, clock: list[datetime], *, projects: int, issues: int) -> list[str]:
    """Create the site, updates spread over 90 days; return the version links ("P0/v3")."""
    versions = []
    step = timedelta(days=90) / max(1, projects * issues)
    for p in range(projects):
        key = f"P{p}"
        jira.add_project(key)
        for v in range(VERSIONS_PER_PROJECT):
            jira.add_version(key, f"v{v}", release_date=(NOW + timedelta(days=v * 5 - 30)).date())
            versions.append(f"{key}/v{v}")
        for i in range(issues):
            clock[0] = NOW - timedelta(days=90) + step * (p * issues + i)
            done = i % 3 == 0
            jira.add_issue(
                key,
                f"Issue {i}",
                status="Done" if done else "To Do",
                resolution="Done" if done else None,
                fix_versions=[f"v{i % VERSIONS_PER_PROJECT}"],
                assignee="dev",
                story_points=float(i % 5 + 1),
            )
    clock[0] = NOW
    return versions


def bare_client(url: str, projects: list[str]) -> float:
    """Page every project's issues with `enhanced_search_issues` as raw JSON, plus versions."""
    client = JIRA(server=url, basic_auth=(EMAIL, TOKEN), max_retries=0, timeout=30)
    client.fields()  # the client's field cache, as the connector fills it
    started = time.perf_counter()
    for key in projects:
        client.project_versions(key)
        token = None
        while True:
            page = client.enhanced_search_issues(
                f"project = {key} ORDER BY key",
                nextPageToken=token,
                maxResults=100,
                fields=[*BASE_FIELDS, "customfield_10016"],
                json_result=True,
            )
            token = page.get("nextPageToken")
            if page.get("isLast", True) or not token:
                break
    return time.perf_counter() - started


def run_sync(config: Path, now: datetime) -> tuple[float, float]:
    env = {**os.environ, "OKRSYNC_NOW": now.isoformat()}
    wall, peak, code, output = run_measured(
        [sys.executable, "-m", "okrsync.cli", "--config", str(config), "sync"], env=env
    )
    if code not in (0, 1):
        raise SystemExit(f"sync failed:\n{output}")
    return wall, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--projects", type=int, default=10)
    parser.add_argument("--issues", type=int, default=5000, help="per project")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    clock = [NOW]
    jira = JiraSim("cloud", clock=lambda: clock[0])
    figures: dict[str, Any] = {"projects": args.projects, "issues": args.projects * args.issues}
    versions = seed(jira, clock, projects=args.projects, issues=args.issues)
    jira.start()
    projects = [f"P{p}" for p in range(args.projects)]
    with tempfile.TemporaryDirectory(prefix="okrsync-bench-jira-") as temp:
        folder = Path(temp)
        (folder / "mappings").mkdir()
        lines = ['[cycle]\nid = "2026-Q4"\nstart = 2026-10-01\nend = 2026-12-31\n']
        for index, version in enumerate(versions):
            if index % 6 == 0:
                lines.append(
                    f'[[objective]]\nid = "O-{index}"\ntitle = "Objective {index}"\nowner = "lead"\n'
                )
            if index % 2 == 0:
                lines.append(
                    f'[[objective.key_result]]\nid = "KR-{index}"\ntitle = "KR {index}"\nowner = "owner"\n'
                    'kind = "milestones"\nbaseline = 0\ntarget = 100\nunit = "%"\n'
                )
            lines.append(f'[[objective.key_result.link]]\nsource = "jira"\nversion = "{version}"\n')
        (folder / "mappings" / "bench.toml").write_text("\n".join(lines))
        config = folder / "config.toml"
        config.write_text(
            f'[okrsync]\ndatabase_url = "sqlite:///{folder / "bench.db"}"\nmappings = "mappings"\n'
            f'timezone = "Europe/Berlin"\n\n[sources.jira]\nkind = "jira"\nurl = "{jira.url}"\n'
            f'email = "{EMAIL}"\ntoken = "{TOKEN}"\nprojects = {json.dumps(projects)}\n'
        )
        bare_client(jira.url, projects[:1])  # warm the simulator
        figures["bare_client_seconds"] = round(bare_client(jira.url, projects), 2)
        jira.clear_log()
        wall, rss = run_sync(config, NOW)
        figures["full_sync_seconds"] = round(wall, 2)
        figures["full_sync_ratio"] = round(wall / figures["bare_client_seconds"], 2)
        figures["full_sync_peak_rss_mb"] = round(rss, 1)
        figures["full_sync_requests"] = len(jira.log())

        clock[0] = NOW + timedelta(minutes=5)
        jira.clear_log()
        run_sync(config, clock[0])
        log = jira.log()
        figures["no_change_requests"] = len(log)
        figures["no_change_by_path"] = sorted({r.path for r in log})

        changed = figures["issues"] // 100
        for index in range(changed):
            jira.update_issue(
                f"P{index % args.projects}-{index // args.projects + 1}", summary=f"Changed {index}"
            )
        clock[0] = NOW + timedelta(minutes=10)
        jira.clear_log()
        run_sync(config, clock[0])
        figures["one_percent_changed"] = changed
        figures["one_percent_requests"] = len(jira.log())
    jira.stop()
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
