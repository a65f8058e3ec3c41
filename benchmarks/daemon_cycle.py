"""Time a nothing-changed cycle inside one long-running process, as `okrsync run` has it.

    python benchmarks/daemon_cycle.py CONFIG --warm-up ISO-TIME --timed ISO-TIME

Run as a child by harness.py. A daemon keeps its database engine and its tracker clients
across cycles (the Jira client reads serverInfo and /field once; PyGithub keeps its
connection pool), so its steady cycle costs less than an `okrsync sync` process, which starts
Python, imports everything and connects afresh. This script builds what the daemon builds,
with the same functions (`load_settings`, `load_okrs`, `make_engine` then `migrate_if_behind`
as `okrsync.daemon.serve` does, pollers kept in a dict across cycles as `Daemon` keeps them),
runs one `run_cycle` to warm up, then times a second one with nothing changed.

Prints one JSON line: the timed cycle's wall and CPU seconds (this process's, plus the helper
processes a GitHub poll forks to fetch and that it reaped during the cycle: `os.times`), its
requests and 304s as the cycle reported them, and the warm-up's wall for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from okrsync.engine import run_cycle
from okrsync.mappings import load_okrs
from okrsync.settings import load_settings
from okrsync.sources import Poller
from okrsync.store import make_engine, migrate_if_behind


def cpu_with_helpers() -> float:
    """CPU seconds of this process and of the children it has reaped (the fetch helpers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", type=Path)
    parser.add_argument("--warm-up", required=True, type=datetime.fromisoformat)
    parser.add_argument("--timed", required=True, type=datetime.fromisoformat)
    args = parser.parse_args()

    settings = load_settings(args.config)
    okrs = load_okrs(settings.okrsync.mappings, settings=settings)
    url = settings.okrsync.database_url
    engine = make_engine(url)
    migrate_if_behind(engine, url=url)
    pollers: dict[str, Poller] = {}

    started = time.perf_counter()
    run_cycle(settings, okrs, engine, now=args.warm_up, pollers=pollers)
    warm_wall = time.perf_counter() - started

    started, cpu = time.perf_counter(), cpu_with_helpers()
    report = run_cycle(settings, okrs, engine, now=args.timed, pollers=pollers)
    wall, cpu = time.perf_counter() - started, cpu_with_helpers() - cpu

    failed = [s.error for s in report.sources if not s.ok]
    if failed:
        sys.stderr.write(f"a source failed in the timed cycle: {failed}\n")
        raise SystemExit(1)
    figures: dict[str, Any] = {
        "wall": round(wall, 3),
        "cpu": round(cpu, 3),
        "requests": sum(s.requests for s in report.sources),
        "not_modified": sum(s.not_modified for s in report.sources),
        "issues_written": sum(s.issues for s in report.sources),
        "warm_up_wall": round(warm_wall, 3),
    }
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
