"""Time roll-up + slip detection over the whole org (SPEC §8: under 1 s), in a process of its own.

    python benchmarks/rollup_detect.py CONFIG --now ISO-TIME --source NAME

Run as a child by harness.py on a synced database. Only the computing part is timed, as
before issue 9: `compute` (gather the store's facts and roll every KR up) and `detect` (judge
every linked milestone against the stored watches). Loading config and mappings and opening
the store are not. Prints one JSON line with its wall and CPU (`time.process_time`) seconds;
the harness adds the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path

from okrsync.days import local_day
from okrsync.mappings import load_okrs
from okrsync.outbox import load_watches
from okrsync.progress import compute
from okrsync.settings import load_settings
from okrsync.slips import detect
from okrsync.store import open_store, session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", type=Path)
    parser.add_argument("--now", required=True, type=datetime.fromisoformat)
    parser.add_argument("--source", required=True, help="the source counted as fetched")
    args = parser.parse_args()

    settings = load_settings(args.config)
    okrs = load_okrs(settings.okrsync.mappings, settings=settings)
    engine = open_store(settings.okrsync.database_url)
    today = local_day(args.now, settings.okrsync.tz)

    started, cpu = time.perf_counter(), time.process_time()
    with session(engine) as db:
        rollup, _gathered = compute(db, okrs, settings, today=today)
        slips, _watches = detect(
            rollup, load_watches(db), today=today, fetched={args.source}, all_fetched=True
        )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu

    figures = {
        "wall": round(wall, 3),
        "cpu": round(cpu, 3),
        "key_results": len(rollup.key_results),
        "slips": len(slips),
    }
    sys.stdout.write(json.dumps(figures) + "\n")


if __name__ == "__main__":
    main()
