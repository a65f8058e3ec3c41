"""The `okrsync` command line (SPEC §4). Exit codes: 0 ok, 1 a source failed, 2 bad input.

Config and mappings are loaded and validated before the database is opened, so invalid
input never touches it.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from okrsync import logs
from okrsync.errors import InputError, OkrsyncError

logger = logging.getLogger(__name__)

app = typer.Typer(
    help="Link OKRs to the real work in Jira and GitHub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console()
err = Console(stderr=True, soft_wrap=True)  # a message is never cut at 80 columns

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


class LogFormatChoice(StrEnum):
    """The values of `--log-format` (logs.LogFormat)."""

    auto = "auto"
    text = "text"
    json = "json"


class Context:
    """What every command needs: where the config is."""

    def __init__(self, config: Path | None) -> None:
        self.config = config


@app.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="config.toml (default ./config.toml or $OKRSYNC_CONFIG)"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
    log_format: Annotated[
        LogFormatChoice,
        typer.Option(
            "--log-format",
            help="auto: Rich on a terminal, else JSON lines when OKRSYNC_LOG_FORMAT=json, else text.",
        ),
    ] = LogFormatChoice.auto,
) -> None:
    logs.configure(verbose=verbose, fmt=log_format.value)
    ctx.obj = Context(config)


def now() -> datetime:
    """Read the clock once; `OKRSYNC_NOW` (ISO 8601) pins it for reproducible runs and tests."""
    pinned = os.environ.get("OKRSYNC_NOW")
    if pinned:
        moment = datetime.fromisoformat(pinned)
        if moment.tzinfo is None:
            fail(f"OKRSYNC_NOW={pinned!r}: expected an ISO 8601 time with a zone, e.g. 2026-11-22T10:00:00Z")
        return moment
    return datetime.now(UTC)


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    err.print(Text.assemble(("error: ", "red"), message), highlight=False)
    raise typer.Exit(code)


def config_path(ctx: typer.Context) -> Path:
    given = ctx.obj.config or (
        Path(os.environ["OKRSYNC_CONFIG"]) if os.environ.get("OKRSYNC_CONFIG") else None
    )
    path = given or Path("config.toml")
    if not path.is_file():
        fail(f"{path}: no such config file; `okrsync init` writes one")
    return path


def load(ctx: typer.Context) -> tuple[Any, Any]:
    """Load and validate config and mappings, or exit 2 listing every problem."""
    from okrsync.mappings import load_okrs
    from okrsync.settings import load_settings

    try:
        settings = load_settings(config_path(ctx))
        okrs = load_okrs(settings.okrsync.mappings, settings=settings)
    except InputError as exc:
        for problem in exc.problems:
            err.print(Text.assemble(("error: ", "red"), str(problem)), highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    return settings, okrs


def open_db(settings: Any) -> Any:
    from okrsync.store import open_store

    return open_store(settings.okrsync.database_url)


# --- commands --------------------------------------------------------------------------------


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to write config.toml and mappings/")] = Path("."),
) -> None:
    """Write a commented config.toml and mappings/example.toml."""
    from okrsync.scaffold import init_project

    try:
        written = init_project(directory)
    except InputError as exc:
        fail(str(exc))
    for path in written:
        out.print(f"wrote {path}", highlight=False)


@app.command()
def validate(
    ctx: typer.Context,
    strict: Annotated[bool, typer.Option("--strict", help="Treat best-practice warnings as errors.")] = False,
    tracker: Annotated[
        bool, typer.Option("--tracker", help="Also resolve every link against the trackers.")
    ] = False,
) -> None:
    """Check config and mappings (and, with --tracker, every link)."""
    settings, okrs = load(ctx)
    for warning in okrs.warnings:
        err.print(Text.assemble(("warning: ", "yellow"), str(warning)), highlight=False)
    objectives, krs = len(okrs.objectives), len(okrs.key_results)
    if strict and okrs.warnings:
        fail(f"{len(okrs.warnings)} warning(s) with --strict")
    if tracker:
        from okrsync.resolve import resolve_links, unknown_label_ids

        missing = resolve_links(settings, okrs, now=now()) + unknown_label_ids(settings, okrs)
        for line in missing:
            err.print(Text.assemble(("error: ", "red"), line), highlight=False)
        if missing:
            raise typer.Exit(EXIT_INVALID)
    out.print(
        f"ok: {len(okrs.cycles)} cycle(s), {objectives} objective(s), {krs} key result(s)", highlight=False
    )


@app.command()
def sync(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option("--source", help="Poll only this source.")] = None,
    no_deliver: Annotated[
        bool, typer.Option("--no-deliver", help="Detect alerts but do not send them.")
    ] = False,
) -> None:
    """Run one cycle: poll, roll up, and print a one-screen summary."""
    from okrsync.engine import run_cycle

    settings, okrs = load(ctx)
    if source is not None and source not in settings.sources:
        fail(f"--source {source!r}: no such source; configured: {', '.join(settings.sources) or 'none'}")
    engine = open_db(settings)
    report = _with_progress(
        lambda hook: run_cycle(
            settings, okrs, engine, now=now(), only=source, progress=hook, deliver=not no_deliver
        )
    )
    for outcome in report.sources:
        if outcome.ok:
            line = (
                f"{outcome.name}: {outcome.issues} issue(s), {outcome.milestones} milestone(s) updated,"
                f" {outcome.removed} removed; {outcome.requests} request(s),"
                f" {outcome.not_modified} not modified"
            )
            out.print(Text.assemble(("✓ ", "green"), line), highlight=False)
        else:
            out.print(Text.assemble(("✗ ", "red"), outcome.error or "failed"), highlight=False)
    _print_summary(report.rollup)
    sent = report.delivery
    line = f"{len(report.events)} new alert(s); {sent.delivered} delivered"
    if sent.retrying:
        line += f", {sent.retrying} to retry"
    if sent.failed:
        line += f", {sent.failed} failed (okrsync alerts --failed)"
    out.print(line, highlight=False)
    if report.failed or sent.failed:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def run(ctx: typer.Context) -> None:
    """Run the daemon: a cycle every poll_interval, plus /healthz and /metrics on server.listen."""
    from okrsync.daemon import serve

    settings, okrs = load(ctx)
    now()  # a bad OKRSYNC_NOW stops here, with exit 2, not at every cycle
    serve(settings, okrs, clock=now)


def _with_progress(work: Any) -> Any:
    """Show a progress line per source on a terminal; plain log lines elsewhere."""
    if not out.is_terminal:
        return work(None)
    from rich.progress import Progress, SpinnerColumn, TextColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=out, transient=True) as bar:
        tasks: dict[str, Any] = {}

        def hook(name: str, items: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name)
            bar.update(tasks[name], description=f"{name}: {items} issue(s) fetched")

        return work(hook)


def _print_summary(rollup: Any) -> None:
    """Count key results by status, from the roll-up the cycle already made."""
    if rollup is None:
        return
    counts: dict[str, int] = {}
    for kr in rollup.key_results.values():
        counts[kr.status] = counts.get(kr.status, 0) + 1
    summary = ", ".join(f"{n} {status.replace('_', ' ')}" for status, n in sorted(counts.items()))
    out.print(f"{len(rollup.key_results)} key result(s): {summary or 'none'}", highlight=False)


@app.command()
def status(
    ctx: typer.Context,
    cycle: Annotated[str | None, typer.Option("--cycle", help="Only this cycle.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the stable JSON document (SPEC §4).")
    ] = False,
) -> None:
    """Show objectives → key results → milestones with progress, status, due and forecast."""
    from okrsync.progress import status_for

    settings, okrs = load(ctx)
    if cycle is not None and cycle not in okrs.cycles:
        fail(f"--cycle {cycle!r}: no such cycle; known: {', '.join(okrs.cycles)}")
    engine = open_db(settings)
    document = status_for(settings, okrs, engine, moment=now(), cycle=cycle)
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        from okrsync.statusview import render

        out.print(render(document))


def known_kr(okrs: Any, kr_id: str) -> str:
    """Return `kr_id` if the mappings define it, else exit 2 naming it and the nearest id."""
    from okrsync.checkins import unknown_kr_message

    if kr_id not in okrs.key_results:
        fail(unknown_kr_message(kr_id, okrs.key_results))
    return kr_id


@app.command()
def checkin(
    ctx: typer.Context,
    kr_id: Annotated[str, typer.Argument(metavar="KR-ID", help="The key result, e.g. ENG-1.1.")],
    confidence: Annotated[
        str, typer.Option("--confidence", help="How sure you are the KR will be met: 1 (no) to 10 (certain).")
    ],
    value: Annotated[
        float | None, typer.Option("--value", help="The metric's current value (metric KRs).")
    ] = None,
    blocker: Annotated[str | None, typer.Option("--blocker", help="What stands in the way.")] = None,
    next_action: Annotated[str | None, typer.Option("--next", help="The next action.")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Anything else worth keeping.")] = None,
    by: Annotated[
        str | None, typer.Option("--by", help="Who is checking in (default: not recorded).")
    ] = None,
) -> None:
    """Record a weekly check-in: confidence 1–10, and optionally a value, blocker and next action."""
    from okrsync import checkins
    from okrsync.store import session

    settings, okrs = load(ctx)
    known_kr(okrs, kr_id)
    try:
        level = checkins.parse_confidence(confidence)
    except ValueError as exc:
        fail(str(exc))
    kr = okrs.key_results[kr_id]
    engine = open_db(settings)
    with session(engine) as db:
        before = checkins.latest(db).get(kr_id)
        record = checkins.add(
            db,
            kr_id,
            confidence=level,
            value=value,
            blocker=blocker,
            next_action=next_action,
            note=note,
            author=by,
            now=now(),
            tz=settings.okrsync.tz,
        )
    was = f" (was {before.confidence})" if before is not None else ""
    out.print(f"check-in stored for {kr_id}: confidence {record.confidence}{was}", highlight=False)
    if value is not None and kr.kind != "metric":
        err.print(
            f"note: {kr_id} takes its progress from its milestones; the value is kept with the check-in"
        )
    elif value is not None and kr.value_query:
        err.print(
            f"note: {kr_id} is measured by its value_query; the value counts only until a count is measured"
        )


@app.command()
def explain(
    ctx: typer.Context,
    kr_id: Annotated[str, typer.Argument(metavar="KR-ID", help="The key result, e.g. ENG-1.1.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
) -> None:
    """Explain a KR: milestones, open issues and assignees, latest check-in, the last 14 days."""
    from okrsync.explain import explain_for, render

    settings, okrs = load(ctx)
    known_kr(okrs, kr_id)
    engine = open_db(settings)
    document = explain_for(settings, okrs, engine, kr_id, moment=now())
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        out.print(render(document), highlight=False)


@app.command()
def score(
    ctx: typer.Context,
    cycle: Annotated[str | None, typer.Option("--cycle", help="Only this cycle.")] = None,
    output: Annotated[
        str, typer.Option("--format", help="table, markdown or json (json: see the README).")
    ] = "table",
    notes: Annotated[
        list[str] | None,
        typer.Option("--note", metavar="KR-ID=TEXT", help="Store a KR's reasoning (empty TEXT removes it)."),
    ] = None,
) -> None:
    """Score KRs and objectives with grading bands, call-outs and reasoning notes."""
    from okrsync import scoring
    from okrsync.days import local_day
    from okrsync.progress import compute
    from okrsync.store import session

    settings, okrs = load(ctx)
    if output not in ("table", "markdown", "json"):
        fail(f"--format {output!r}: expected table, markdown or json")
    if cycle is not None and cycle not in okrs.cycles:
        fail(f"--cycle {cycle!r}: no such cycle; known: {', '.join(okrs.cycles)}")
    parsed = []
    for item in notes or []:
        kr_id, sep, text = item.partition("=")
        if not sep:
            fail(f"--note {item!r}: expected KR-ID=TEXT, e.g. --note 'ENG-1.1=Shipped late but complete'")
        parsed.append((known_kr(okrs, kr_id.strip()), text))
    moment = now()
    engine = open_db(settings)
    with session(engine) as db:
        for kr_id, text in parsed:
            scoring.set_note(db, kr_id, text, now=moment)
        db.commit()
        rollup, _ = compute(db, okrs, settings, today=local_day(moment, settings.okrsync.tz))
        sheet = scoring.score_sheet(okrs, rollup, notes=scoring.load_notes(db), cycle=cycle)
    if output == "json":
        sys.stdout.write(json.dumps(scoring.to_json(sheet, generated_at=moment), indent=2) + "\n")
    elif output == "markdown":
        sys.stdout.write(scoring.to_markdown(sheet))
    else:
        out.print(scoring.to_table(sheet))


@app.command()
def report(
    ctx: typer.Context,
    folder: Annotated[Path, typer.Option("--out", help="Folder to write index.html and kr/<KR-ID>.html to.")],
    cycle: Annotated[str | None, typer.Option("--cycle", help="Only this cycle.")] = None,
) -> None:
    """Write a static HTML report with burn-up charts; print the path of its index.html."""
    from okrsync.report import write_report

    settings, okrs = load(ctx)
    if cycle is not None and cycle not in okrs.cycles:
        fail(f"--cycle {cycle!r}: no such cycle; known: {', '.join(okrs.cycles)}")
    if folder.exists() and not folder.is_dir():
        fail(f"--out {folder}: expected a folder, found a file")
    engine = open_db(settings)
    index = write_report(settings, okrs, engine, folder, moment=now(), cycle=cycle)
    out.print(str(index.resolve()), highlight=False, soft_wrap=True)


alerts_app = typer.Typer(help="The alert outbox.", invoke_without_command=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    pending: Annotated[bool, typer.Option("--pending", help="Only alerts still to be delivered.")] = False,
    failed: Annotated[bool, typer.Option("--failed", help="Only alerts whose delivery failed.")] = False,
    show_all: Annotated[bool, typer.Option("--all", help="Every alert, backlog included (default).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List alerts and their deliveries (default: all)."""
    if ctx.invoked_subcommand is not None:
        return
    from okrsync.outbox import listing
    from okrsync.store import session

    if sum([pending, failed, show_all]) > 1:
        fail("choose one of --pending, --failed, --all")
    which = "pending" if pending else "failed" if failed else "all"
    settings, _okrs = load(ctx)
    engine = open_db(settings)
    with session(engine) as db:
        rows = listing(db, which=which)
    if as_json:
        document = [
            {
                "id": e.id,
                "type": e.type,
                "kr": e.kr_id,
                "milestone": e.milestone_key,
                "owner": e.owner,
                "day": e.day.isoformat(),
                "backlog": e.backlog,
                "text": e.payload.get("text"),
                "deliveries": [
                    {"channel": d.channel, "status": d.status, "attempts": d.attempts, "error": d.last_error}
                    for d in deliveries
                ],
            }
            for e, deliveries in rows
        ]
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    from rich.table import Table

    table = Table(show_edge=False)
    for column in ("day", "type", "kr", "text", "deliveries"):
        table.add_column(column)
    for e, deliveries in rows:
        states = ", ".join(
            f"{d.channel}: {d.status}" + (f" ({d.last_error})" if d.last_error else "") for d in deliveries
        )
        table.add_row(
            e.day.isoformat(),
            e.type,
            e.kr_id or "",
            e.payload.get("text", ""),
            states or ("backlog" if e.backlog else "—"),
        )
    out.print(table if rows else Text(f"no {which if which != 'all' else ''} alerts".replace("  ", " ")))


@alerts_app.command("test")
def alerts_test(ctx: typer.Context) -> None:
    """Send a test alert to every channel."""
    from okrsync.channels import Alert, Recipient, make_channel

    settings, _okrs = load(ctx)
    if not settings.alerts.channels:
        fail("no channels configured under [alerts.channels]")
    moment = now()
    payload = {
        "id": "test",
        "type": "test",
        "detected_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "day": moment.date().isoformat(),
        "text": "okrsync test alert: this channel is configured correctly.",
    }
    failures = 0
    for name, channel_settings in settings.alerts.channels.items():
        try:
            make_channel(channel_settings).notify(
                Alert(
                    id=f"test-{moment:%Y%m%d%H%M%S}",
                    type="test",
                    payload=payload,
                    recipient=Recipient(id="test"),
                )
            )
            out.print(Text.assemble(("✓ ", "green"), name))
        except OkrsyncError as exc:
            failures += 1
            out.print(Text.assemble(("✗ ", "red"), f"{name}: {exc}"))
    if failures:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def demo(
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Write the demo's files here and keep them.")
    ] = None,
) -> None:
    """Run the sandbox: simulated trackers, a sync, the status tree. No network, no credentials."""
    from okrsync.sandbox.demo import run_demo

    if not logging.getLogger("okrsync").isEnabledFor(logging.DEBUG):
        for name in ("okrsync", "connectors"):
            logging.getLogger(name).setLevel(logging.WARNING)  # the demo tells its own story
    code = run_demo(out, workdir=keep)
    raise typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context) -> None:
    """Apply pending schema migrations."""
    from okrsync.store import upgrade

    settings, _okrs = load(ctx)
    upgrade(settings.okrsync.database_url)
    out.print("database is up to date", highlight=False)


def main() -> None:
    """Entry point of the `okrsync` console script."""
    try:
        app()
    except OkrsyncError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
