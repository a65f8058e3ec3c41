"""Scenario L of SPEC §8, GitHub part: okrsync against the bare client, on growing orgs.

    .venv/bin/python benchmarks/scenario_l.py [--sizes 25000,50000,100000,200000] [--rounds 3]
        [--engines sqlite,postgresql] [--json out.json] [--markdown] [--profile]

Each size is an org of `--repos` repos (issues per repo = size / repos, 10 milestones each)
with `--krs` KRs linking every milestone, seeded once into the simulator in this process.
What is measured, and how, is told in harness.py; the bare client is bare_github.py, run
twice a round: with the library's own paging (the SPEC §8 baseline, `bare`) and with the
transport okrsync uses (repos fetched ahead on workers, orjson decoding: `bare_matched`).
`--from-json out.json --markdown` re-renders saved figures without measuring.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness  # benchmarks/ is the script's folder, so first on sys.path

from okrsync.sandbox.github import GitHubSim
from okrsync.settings import GitHubSource

TOKEN = "bench-token"
CLIENT = "okrsync"  # the simulator's name for the token, whose rate-limit points are counted
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MILESTONES_PER_REPO = 10
PER_PAGE = 100  # okrsync's default page size for GitHub sources
# Repos okrsync fetches at once by default: the matched baseline keeps as many in flight.
FETCH_WORKERS = GitHubSource.model_fields["concurrency"].default


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


def change_issues(sim: GitHubSim, repos: list[str], count: int) -> None:
    """Edit `count` issues spread over every repo (the 1 % poll)."""
    for index in range(count):
        repo = repos[index % len(repos)]
        sim.update_issue(repo, 1 + (index // len(repos)) * 2, title=f"Changed {index}")


def builder(args: argparse.Namespace) -> harness.Build:
    def build(size: int, folder: Path) -> harness.Scenario:
        per_repo = max(1, size // args.repos)
        clock = [NOW]
        sim = GitHubSim(tokens={TOKEN: CLIENT}, clock=lambda: clock[0], core_limit=10_000_000)
        started = time.perf_counter()
        pairs = seed(sim, clock, repos=args.repos, issues=per_repo)
        sim.prime()
        sim.start()
        seeded = round(time.perf_counter() - started, 2)
        repos = sorted({repo for repo, _title in pairs})
        write_mappings(folder, pairs, krs=args.krs)
        job = {"url": sim.url, "token": TOKEN, "repos": repos, "per_page": PER_PAGE}
        library, matched = folder / "bare-library.json", folder / "bare-matched.json"
        library.write_text(json.dumps({**job, "transport": "library"}))
        matched.write_text(json.dumps({**job, "transport": "matched", "workers": FETCH_WORKERS}))
        bare = [sys.executable, str(harness.BENCH_DIR / "bare_github.py")]
        return harness.Scenario(
            source="github",
            issues=args.repos * per_repo,
            sim=sim,
            clock=clock,
            folder=folder,
            source_toml=(
                f'[sources.github]\nkind = "github"\nbase_url = "{sim.url}"\ntoken = "{TOKEN}"\n'
                f"concurrency = {args.concurrency}\n"
            ),
            bare_command=[*bare, str(library)],
            baselines={"bare_matched": [*bare, str(matched)]},
            change=lambda count: change_issues(sim, repos, count),
            points=lambda: sim.rate_remaining(CLIENT),
            seed_seconds=seeded,
            facts={"repos": args.repos, "milestones": len(pairs), "krs": args.krs},
        )

    return build


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    harness.add_arguments(parser, sizes="25000,50000,100000,200000")
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--krs", type=int, default=300)
    parser.add_argument(
        "--concurrency", type=int, default=2, help="okrsync's repos fetched at once (1 = serial; default 2)"
    )
    args = parser.parse_args()
    harness.main(
        args,
        title="Scenario L, GitHub",
        build=builder(args),
    )


if __name__ == "__main__":
    main()
