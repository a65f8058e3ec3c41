"""What the GitHub reconcile (issue 15) costs at scenario L: requests, rate-limit points, seconds.

    .venv/bin/python benchmarks/reconcile_cost.py [--repos 200] [--issues 500] [--json out.json]

Each figure is one `okrsync sync` in a child process (wall time includes the process start,
as in scenario_l.py), against the simulator seeded like scenario L, on SQLite:

- first sync: the newest-first paging and, at its end, the first reconcile of every repo;
- baseline: a poll with nothing changed, inside the interval (no reconcile): all 304;
- (a) unchanged: the same an interval later, so every repo is reconciled: still all 304;
- (b) first listing: the reconcile state dropped from the cursor, so every page is read
  again (what the first sync's own reconcile costs, the store already complete);
- (c) after an upgrade: as (b) with every stored node id emptied, as a database written
  before node ids were kept: each row is written again from the list pages.

A figure's reconcile share is its wall time minus the baseline's. Rate-limit points are what
the simulator charged (a 304 costs none).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from measure import run_measured  # noqa: E402 - benchmarks/ is the script's folder
from scenario_l import NOW, TOKEN, seed  # the same org as the first-sync figures
from sqlalchemy import create_engine, text

from okrsync.sandbox.github import GitHubSim

MAPPING = """[cycle]
id = "2026-Q4"
start = 2026-10-01
end = 2026-12-31

[[objective]]
id = "O-1"
title = "Objective"
owner = "lead"

[[objective.key_result]]
id = "KR-1"
title = "Key result"
owner = "owner"
kind = "milestones"
baseline = 0
target = 100
unit = "%"

[[objective.key_result.link]]
source = "github"
repo = "acme/repo000"
milestone = "Milestone 0"
"""


def sync(sim: GitHubSim, clock: list[datetime], config: Path, at: datetime) -> dict[str, Any]:
    """Run one `okrsync sync` at `at`; return its wall time, requests and rate-limit points."""
    clock[0] = at
    before = sim.rate_remaining("okrsync")  # after moving the clock: the hourly window may roll
    sim.clear_log()
    env = {**os.environ, "OKRSYNC_NOW": at.isoformat()}
    wall, peak, code, output = run_measured(
        [sys.executable, "-m", "okrsync.cli", "--config", str(config), "sync", "--no-deliver"], env=env
    )
    if code != 0:
        raise SystemExit(f"sync failed:\n{output}")
    log = sim.log()
    listing = [r for r in log if r.param("sort") == "created"]
    return {
        "seconds": round(wall, 2),
        "peak_rss_mb": round(peak, 1),
        "requests": len(log),
        "not_modified": sum(1 for r in log if r.status == 304),
        "rate_points": before - sim.rate_remaining("okrsync"),
        "reconcile_requests": len(listing) + sum(1 for r in log if "/issues/" in r.path),
        "reconcile_points": sum(1 for r in listing if r.status != 304)
        + sum(1 for r in log if "/issues/" in r.path and r.status != 304),
    }


def forget_reconciles(database_url: str, *, node_ids: bool) -> None:
    """Drop every repo's reconcile state (and, for an upgrade, the stored node ids)."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        row = connection.execute(text("SELECT cursor FROM source_state WHERE name = 'github'")).one()
        cursor = json.loads(row[0]) if isinstance(row[0], str) else row[0]
        cursor.pop("reconciled_at", None)
        for state in cursor["repos"].values():
            state.pop("reconcile_pages", None)
            state.pop("reconciled_at", None)
        connection.execute(
            text("UPDATE source_state SET cursor = :cursor WHERE name = 'github'"),
            {"cursor": json.dumps(cursor)},
        )
        if node_ids:
            connection.execute(text("UPDATE issue SET node_id = NULL"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repos", type=int, default=200)
    parser.add_argument("--issues", type=int, default=500)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    clock = [NOW]
    sim = GitHubSim(tokens={TOKEN: "okrsync"}, clock=lambda: clock[0], core_limit=10_000_000)
    started = time.perf_counter()
    repos = sorted({repo for repo, _title in seed(sim, clock, repos=args.repos, issues=args.issues)})
    sim.prime()
    sim.start()
    figures: dict[str, Any] = {
        "repos": args.repos,
        "issues": args.repos * args.issues,
        "seed_seconds": round(time.perf_counter() - started, 2),
    }
    with tempfile.TemporaryDirectory(prefix="okrsync-reconcile-") as temp:
        folder = Path(temp)
        (folder / "mappings").mkdir()
        (folder / "mappings" / "bench.toml").write_text(MAPPING)
        database_url = f"sqlite:///{folder / 'bench.db'}"
        listed = ", ".join(f'"{r}"' for r in repos)
        config = folder / "config.toml"
        config.write_text(
            f'[okrsync]\ndatabase_url = "{database_url}"\nmappings = "mappings"\ntimezone = "Europe/Berlin"\n\n'
            f'[sources.github]\nkind = "github"\nbase_url = "{sim.url}"\ntoken = "{TOKEN}"\nrepos = [{listed}]\n'
        )
        figures["first_sync"] = sync(sim, clock, config, NOW)
        sync(sim, clock, config, NOW + timedelta(minutes=5))  # the cursor settles on its overlap URL
        figures["baseline_no_change"] = sync(sim, clock, config, NOW + timedelta(minutes=10))
        # The first sync starts the reconcile clock; the first reconcile, an interval later,
        # lists every page (and keeps their ETags); the next one finds nothing changed.
        figures["b_first_listing"] = sync(sim, clock, config, NOW + timedelta(minutes=65))
        figures["a_unchanged"] = sync(sim, clock, config, NOW + timedelta(minutes=130))
        forget_reconciles(database_url, node_ids=True)
        figures["c_after_upgrade"] = sync(sim, clock, config, NOW + timedelta(minutes=195))
    sim.stop()
    baseline = figures["baseline_no_change"]["seconds"]
    for name in ("a_unchanged", "b_first_listing", "c_after_upgrade"):
        figures[name]["seconds_over_baseline"] = round(figures[name]["seconds"] - baseline, 2)
    sys.stdout.write(json.dumps(figures, indent=2) + "\n")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
