"""Scenario L of SPEC §8, GitHub part: measure okrsync against the bare client on the simulator.

    .venv/bin/python benchmarks/scenario_l.py [--repos 200] [--issues 500] [--json out.json]

Figures: full first sync wall time against PyGithub's own requester paging the same lists
with no processing; the requests of a poll with nothing changed and with 1 % changed; the
roll-up + slip detection time over the whole org; the sync process's peak RSS. The simulator
runs in this process and okrsync in a child, so the child's peak RSS is okrsync's alone.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from github import Auth, Github
from measure import run_measured  # noqa: E402 - benchmarks/ is the script's folder

from okrsync.sandbox.github import GitHubSim

TOKEN = "bench-token"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MILESTONES_PER_REPO = 10


def seed(sim: GitHubSim, clock: list[datetime], *, repos: int, issues: int) -> list[tuple[str, str]]:
    """Create the org, its updates spread over 90 days as in a real one; return (repo, title) pairs."""
    pairs = []
    total = repos * issues
    step = timedelta(days=90) / max(1, total)
    for r in range(repos):
        repo = f"acme/repo{r:03d}"
        sim.add_repo(repo)
        numbers = []
        for m in range(MILESTONES_PER_REPO):
            title = f"Milestone {m}"
            due = NOW + timedelta(days=(m * 7) - 20)
            numbers.append(sim.add_milestone(repo, title, due_on=due))
            pairs.append((repo, title))
        for i in range(issues):
            clock[0] = NOW - timedelta(days=90) + step * (r * issues + i)
            number = sim.add_issue(
                repo, f"Issue {i}", milestone=numbers[i % MILESTONES_PER_REPO], assignee="dev"
            )
            if i % 3 == 0:
                sim.close_issue(repo, number, at=clock[0])
    clock[0] = NOW
    return pairs


def write_mappings(folder: Path, pairs: list[tuple[str, str]], *, krs: int) -> None:
    lines = ['[cycle]\nid = "2026-Q4"\nstart = 2026-10-01\nend = 2026-12-31\n']
    per_kr = math.ceil(len(pairs) / krs)
    for k in range(krs):
        if k % 3 == 0:
            lines.append(f'[[objective]]\nid = "O-{k // 3}"\ntitle = "Objective {k // 3}"\nowner = "lead"\n')
        lines.append(
            f'[[objective.key_result]]\nid = "KR-{k}"\ntitle = "Key result {k}"\nowner = "owner{k % 7}"\n'
            'kind = "milestones"\nbaseline = 0\ntarget = 100\nunit = "%"\n'
        )
        for repo, title in pairs[k * per_kr : (k + 1) * per_kr]:
            lines.append(
                f'[[objective.key_result.link]]\nsource = "github"\nrepo = "{repo}"\nmilestone = "{title}"\n'
            )
    (folder / "mappings").mkdir()
    (folder / "mappings" / "bench.toml").write_text("\n".join(lines))


def bare_client_paging(url: str, repos: list[str]) -> float:
    """Page every repo's milestones and issues as raw JSON through PyGithub's requester."""
    github = Github(auth=Auth.Token(TOKEN), base_url=url, per_page=100, seconds_between_requests=0, retry=0)
    started = time.perf_counter()
    for repo in repos:
        for path, params in (
            (f"/repos/{repo}/milestones", {"state": "all", "per_page": 100}),
            (
                f"/repos/{repo}/issues",
                {"state": "all", "sort": "updated", "direction": "desc", "per_page": 100},
            ),
        ):
            headers, data = github.requester.requestJsonAndCheck("GET", path, parameters=params)
            while True:
                link = headers.get("link", "")
                next_url = next(
                    (p.split(";")[0].strip("<> ") for p in link.split(",") if 'rel="next"' in p), None
                )
                if not next_url:
                    break
                headers, data = github.requester.requestJsonAndCheck("GET", next_url)
    return time.perf_counter() - started


def run_sync(config: Path, now: datetime) -> tuple[float, float, str]:
    """Run `okrsync sync` in a child; return (wall seconds, peak RSS MB, output)."""
    env = {**os.environ, "OKRSYNC_NOW": now.isoformat()}
    wall, peak, code, output = run_measured(
        [sys.executable, "-m", "okrsync.cli", "--config", str(config), "sync"], env=env
    )
    if code not in (0, 1):
        raise SystemExit(f"sync failed:\n{output}")
    return wall, peak, output


def rollup_and_detection_seconds(config: Path, now: datetime) -> float:
    from okrsync.days import local_day
    from okrsync.mappings import load_okrs
    from okrsync.outbox import load_watches
    from okrsync.progress import compute
    from okrsync.settings import load_settings
    from okrsync.slips import detect
    from okrsync.store import open_store, session

    settings = load_settings(config)
    okrs = load_okrs(settings.okrsync.mappings, settings=settings)
    engine = open_store(settings.okrsync.database_url)
    today = local_day(now, settings.okrsync.tz)
    started = time.perf_counter()
    with session(engine) as db:
        rollup, _ = compute(db, okrs, settings, today=today)
        detect(rollup, load_watches(db), today=today, fetched={"github"}, all_fetched=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--issues", type=int, default=500)
    parser.add_argument("--krs", type=int, default=300)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    clock = [NOW]
    sim = GitHubSim(tokens={TOKEN: "okrsync"}, clock=lambda: clock[0], core_limit=10_000_000)
    figures: dict[str, Any] = {"repos": args.repos, "issues": args.repos * args.issues}
    started = time.perf_counter()
    pairs = seed(sim, clock, repos=args.repos, issues=args.issues)
    sim.prime()
    sim.start()
    figures["seed_seconds"] = round(time.perf_counter() - started, 2)
    repos = sorted({repo for repo, _title in pairs})
    with tempfile.TemporaryDirectory(prefix="okrsync-bench-") as temp:
        folder = Path(temp)
        write_mappings(folder, pairs, krs=args.krs)
        database_url = args.database_url or f"sqlite:///{folder / 'bench.db'}"
        config = folder / "config.toml"
        config.write_text(
            f'[okrsync]\ndatabase_url = "{database_url}"\nmappings = "mappings"\ntimezone = "Europe/Berlin"\n\n'
            f'[sources.github]\nkind = "github"\nbase_url = "{sim.url}"\ntoken = "{TOKEN}"\n'
        )
        bare_client_paging(sim.url, repos[:5])  # warm the simulator's caches
        figures["bare_client_seconds"] = round(bare_client_paging(sim.url, repos), 2)

        sim.clear_log()
        wall, rss, _out = run_sync(config, NOW)
        figures["full_sync_seconds"] = round(wall, 2)
        figures["full_sync_ratio"] = round(wall / figures["bare_client_seconds"], 2)
        figures["full_sync_peak_rss_mb"] = round(rss, 1)
        figures["full_sync_requests"] = len(sim.log())

        clock[0] = NOW + timedelta(minutes=5)
        run_sync(config, clock[0])  # settles the cursor on the overlap window's URL
        sim.clear_log()
        before = sim.rate_remaining("okrsync")
        clock[0] = NOW + timedelta(minutes=10)
        run_sync(config, clock[0])
        log = sim.log()
        figures["no_change_requests"] = len(log)
        figures["no_change_304"] = sum(1 for r in log if r.status == 304)
        figures["no_change_rate_points"] = before - sim.rate_remaining("okrsync")

        changed = figures["issues"] // 100
        for index in range(changed):
            repo = repos[index % len(repos)]
            sim.update_issue(repo, 1 + (index // len(repos)) * 2, title=f"Changed {index}")
        clock[0] = NOW + timedelta(minutes=15)
        sim.clear_log()
        run_sync(config, clock[0])
        figures["one_percent_changed"] = changed
        figures["one_percent_requests"] = len(sim.log())
        if os.environ.get("BENCH_DEBUG"):
            for r in sim.log():
                sys.stderr.write(f"{r.status} {r.path} {r.query}\n")

        figures["rollup_and_detection_seconds"] = round(rollup_and_detection_seconds(config, clock[0]), 3)
    sim.stop()
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
