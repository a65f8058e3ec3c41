"""Time `okrsync report` on a large org (issue 10: the whole report in < 2 s, no page over 300 KB).

    python benchmarks/report_speed.py                       # 300 KRs, 2,000 milestones, 13 weeks
    python benchmarks/report_speed.py --rounds 7 --json report.json

The org is written straight into a SQLite store (no tracker is polled: the report only reads
the store): 300 KRs in 30 objectives, 2,000 GitHub milestones of 50 issues each (100,000
issues, as scenario L), and 13 weeks of history, one point per milestone and KR on each
weekday it moved, weekly check-ins and a few alerts per KR. The store is built once.

Each round is a child process of its own (`harness.run_checked`): it loads config and mappings
and opens the store untimed, then times `write_report` (roll-up, facts, rendering, writing
every page) with `time.perf_counter` and `os.times`, and prints one JSON line. The benchmark
also gives the child's whole wall time (start-up and imports included), as a user waits for
`okrsync report`. Figures: median (min–max) over the rounds, and the largest page.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import last_json_line, machine, run_checked, spread  # benchmarks/ is the script's folder
from sqlalchemy import insert

from okrsync.store import (
    Checkin,
    Event,
    IssueMilestone,
    ProgressPoint,
    TrackerIssue,
    TrackerMilestone,
    open_store,
    session,
)

START, END = date(2026, 10, 1), date(2026, 12, 31)
PEOPLE = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
TARGET_SECONDS = 2.0
TARGET_PAGE_BYTES = 300 * 1024


def _weekdays(first: date, last: date) -> list[date]:
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    return [d for d in days if d.weekday() < 5]


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 17, 0, tzinfo=UTC)


def write_mappings(folder: Path, *, krs: int, milestones: int) -> dict[int, list[int]]:
    """Write 30 objectives of KRs, each KR linked to its share of the milestones; return the links."""
    per_objective = max(1, krs // 30)
    links = {k: list(range(k * milestones // krs, (k + 1) * milestones // krs)) for k in range(krs)}
    text = f'[cycle]\nid = "2026-Q4"\nstart = {START}\nend = {END}\n'
    for o in range((krs + per_objective - 1) // per_objective):
        parent = f'parent = "O-{o % 3}"\n' if o >= 3 else ""
        text += f'\n[[objective]]\nid = "O-{o}"\ntitle = "Objective {o}"\nowner = "{PEOPLE[o % 8]}"\n{parent}'
        for k in range(o * per_objective, min(krs, (o + 1) * per_objective)):
            metric = k % 10 == 9
            text += f'\n[[objective.key_result]]\nid = "KR-{k}"\ntitle = "Key result {k}"\n'
            text += f'owner = "{PEOPLE[k % 8]}"\n'
            text += (
                'kind = "metric"\nbaseline = 0\ntarget = 100\nunit = "%"\n'
                if metric
                else 'kind = "milestones"\n'
            )
            for m in links[k]:
                text += f'\n[[objective.key_result.link]]\nsource = "github"\nrepo = "acme/r{m // 10:03d}"\nnumber = {m % 10 + 1}\n'
    (folder / "mappings").mkdir(parents=True, exist_ok=True)
    (folder / "mappings" / "okrs.toml").write_text(text)
    return links


def build(folder: Path, *, krs: int, milestones: int, issues: int, today: date) -> Path:
    """Write mappings, config and a store holding the whole org and its history; return the config."""
    links = write_mappings(folder, krs=krs, milestones=milestones)
    url = f"sqlite:///{folder / 'okrsync.db'}"
    config = folder / "config.toml"
    config.write_text(
        f'[okrsync]\ndatabase_url = "{url}"\nmappings = "mappings"\ntimezone = "UTC"\n\n'
        '[sources.github]\nkind = "github"\ntoken = "not-used"\nrepos = []\n'
    )
    days = _weekdays(START, today)
    engine = open_store(url)
    ms_rows, issue_rows, member_rows, points = [], [], [], []
    final: dict[int, float] = {}
    for m in range(milestones):
        repo, number = f"acme/r{m // 10:03d}", m % 10 + 1
        key = f"{repo}#{number}"
        ms_rows.append(
            {
                "source": "github",
                "key": key,
                "kind": "github_milestone",
                "container": repo,
                "number": number,
                "title": f"Milestone {m} <b>of</b> {repo}",
                "state": "open",
                "url": f"https://github.com/{repo}/milestone/{number}",
                "description": "",
                "due": START + timedelta(days=20 + m % 75),
                "labels": [],
            }
        )
        done_now = (m * 7) % issues
        final[m] = done_now / issues
        for i in range(issues):
            done_on = days[min(len(days) - 1, i * len(days) // max(1, done_now))] if i < done_now else None
            issue_key = f"{repo}#{100 + number * issues + i}"
            issue_rows.append(
                {
                    "source": "github",
                    "key": issue_key,
                    "container": repo,
                    "number": 100 + number * issues + i,
                    "title": f"Issue {i} of milestone {m}: make the sign-up step faster",
                    "url": f"https://github.com/{repo}/issues/{100 + number * issues + i}",
                    "status": "done" if done_on else "open",
                    "labels": [],
                    "kr_ids": [],
                    "has_kr_label": False,
                    "assignee": None if i % 9 == 0 else PEOPLE[i % 8],
                    "done_at": _at(done_on) if done_on else None,
                }
            )
            member_rows.append({"source": "github", "issue_key": issue_key, "milestone_key": key})
        previous = None
        for n, day in enumerate(days):
            share = (n + 1) / len(days)
            total = issues - (issues // 5) + round(issues // 5 * share)  # scope grows by a fifth
            done = min(total, round(done_now * share))
            if (done, total) != previous:
                points.append(("milestone", "github", key, day, done / total, None, done, total))
                previous = (done, total)
    for k, linked in links.items():
        for n, day in enumerate(days):
            share = (n + 1) / len(days)
            progress = sum(final[m] for m in linked) / max(1, len(linked)) * share
            value = round(100 * progress, 1) if k % 10 == 9 else None
            points.append(("kr", "", f"KR-{k}", day, progress, value, None, None))
    checkins = [
        {
            "kr_id": f"KR-{k}",
            "at": _at(day),
            "day": day,
            "confidence": 3 + (k + n) % 7,
            "value": None,
            "blocker": "Waiting on the <vendor> contract" if (k + n) % 4 == 0 else None,
            "next_action": "Review with the team" if n % 2 else None,
        }
        for k in range(krs)
        for n, day in enumerate(days[::5])
    ]
    events = [
        {
            "id": f"ev-{k}-{n}",
            "type": kind,
            "dedupe_key": f"{kind}:KR-{k}:{n}",
            "kr_id": f"KR-{k}",
            "owner": PEOPLE[k % 8],
            "day": days[max(0, len(days) - 1 - n * 10)],
            "detected_at": _at(days[max(0, len(days) - 1 - n * 10)]),
            "backlog": False,
            "payload": {"text": f"Milestone {links[k][0]} slipped: an alert text of a typical length."},
        }
        for k in range(krs)
        for n, kind in enumerate(("milestone.at_risk", "milestone.overdue"))
    ]
    with session(engine) as db:
        db.execute(insert(TrackerMilestone), ms_rows)
        for start in range(0, len(issue_rows), 20_000):
            db.execute(insert(TrackerIssue), issue_rows[start : start + 20_000])
            db.execute(insert(IssueMilestone), member_rows[start : start + 20_000])
        columns = ("kind", "source", "key", "day", "progress", "value", "done", "total")
        db.execute(
            insert(ProgressPoint), [dict(zip(columns, p, strict=True)) | {"at": _at(p[3])} for p in points]
        )
        db.execute(insert(Checkin), checkins)
        db.execute(insert(Event), events)
        db.commit()
    engine.dispose()
    return config


def child(config: Path, out: Path, now: datetime) -> None:
    """Write the report once, timing only `write_report`; print the figures as one JSON line."""
    from okrsync.mappings import load_okrs
    from okrsync.report import write_report
    from okrsync.settings import load_settings

    settings = load_settings(config)
    okrs = load_okrs(settings.okrsync.mappings, settings=settings)
    engine = open_store(settings.okrsync.database_url)
    before, started = os.times(), time.perf_counter()
    write_report(settings, okrs, engine, out, moment=now)
    wall, after = time.perf_counter() - started, os.times()
    sizes = [p.stat().st_size for p in out.rglob("*.html")]
    figures = {
        "wall": round(wall, 3),
        "cpu": round((after.user - before.user) + (after.system - before.system), 3),
        "pages": len(sizes),
        "largest_page_bytes": max(sizes),
        "total_bytes": sum(sizes),
    }
    sys.stdout.write(json.dumps(figures) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--krs", type=int, default=300)
    parser.add_argument("--milestones", type=int, default=2000)
    parser.add_argument("--issues", type=int, default=50, help="issues per milestone")
    parser.add_argument("--weeks", type=int, default=13, help="weeks of history before today")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    parser.add_argument("--child", nargs=3, metavar=("CONFIG", "OUT", "NOW"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), Path(args.child[1]), datetime.fromisoformat(args.child[2]))
        return

    today = START + timedelta(weeks=args.weeks) - timedelta(days=1)
    now = datetime(today.year, today.month, today.day, 9, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="okrsync-report-bench-", dir=args.workdir) as temp:
        folder = Path(temp)
        sys.stderr.write(f"building {args.krs} KRs, {args.milestones} milestones, {args.weeks} weeks…\n")
        config = build(folder, krs=args.krs, milestones=args.milestones, issues=args.issues, today=today)
        runs: list[dict[str, Any]] = []
        for round_ in range(args.rounds):
            command = [
                sys.executable,
                __file__,
                "--child",
                str(config),
                str(folder / "report"),
                now.isoformat(),
            ]
            run = run_checked(command, what=f"report round {round_ + 1}")
            figures = last_json_line(run.output)
            figures["process_wall"] = round(run.wall, 3)
            figures["peak_rss_mb"] = round(run.peak_rss_mb, 1)
            runs.append(figures)
            sys.stderr.write(f"round {round_ + 1}: {figures}\n")
    result = {
        "machine": machine(),
        "org": {
            "krs": args.krs,
            "milestones": args.milestones,
            "issues": args.milestones * args.issues,
            "weeks": args.weeks,
        },
        "write_report_wall": spread(r["wall"] for r in runs),
        "write_report_cpu": spread(r["cpu"] for r in runs),
        "process_wall": spread(r["process_wall"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "pages": runs[-1]["pages"],
        "largest_page_bytes": max(r["largest_page_bytes"] for r in runs),
        "total_bytes": runs[-1]["total_bytes"],
        "targets": {"write_report_wall": TARGET_SECONDS, "largest_page_bytes": TARGET_PAGE_BYTES},
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
