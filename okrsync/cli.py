"""The `okrsync` command line (SPEC §4). Exit codes: 0 ok, 1 a source or a delivery failed, 2 bad input.

"A delivery failed" means any alert that did not get through in this run: failed for good, or
refused now and left to retry (`sync` then says "N to retry"), so a cron job's monitor hears of
a dead webhook on the first run, not eight runs later. `alerts test` exits 1 when any channel
did not take its test alert.

Config and mappings are loaded and validated before the database is opened, so invalid
input never touches it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from okrsync import logs
from okrsync.cliconventions import ConventionalGroup
from okrsync.collector import quiet_start
from okrsync.errors import InputError, OkrsyncError

logger = logging.getLogger(__name__)

app = typer.Typer(
    cls=ConventionalGroup,
    help="Link OKRs to the real work in Jira and GitHub.",
    no_args_is_help=True,
    add_completion=True,
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


class ScoreFormat(StrEnum):
    """The values of `score --format`."""

    table = "table"
    markdown = "markdown"
    json = "json"


def print_version(asked: bool) -> None:
    """Print `okrsync X.Y.Z` (the installed distribution's version) and exit 0."""
    if asked:
        from importlib.metadata import version

        out.print(f"okrsync {version('okrsync')}", highlight=False)
        raise typer.Exit()


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
    _version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", is_eager=True, callback=print_version),
    ] = False,
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
    """Check config and mappings (and, with --tracker, every link live and `kr:` labels as last synced)."""
    from okrsync.credentials import missing_credentials

    settings, okrs = load(ctx)
    # A missing token is about this machine's environment, not the files: it is shown but never
    # fails --strict, which pre-commit and CI run without any tracker secret.
    for warning in [*okrs.warnings, *missing_credentials(settings, config_path(ctx))]:
        err.print(Text.assemble(("warning: ", "yellow"), str(warning)), highlight=False)
    objectives, krs = len(okrs.objectives), len(okrs.key_results)
    if strict and okrs.warnings:
        fail(f"{len(okrs.warnings)} warning(s) with --strict")
    if tracker:
        from okrsync.resolve import resolve_links, unknown_label_ids

        labels = unknown_label_ids(settings, okrs)
        out.print(f"links resolved live against the trackers; {labels.checked_against}", highlight=False)
        missing = resolve_links(settings, okrs, now=now()) + labels.problems
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
    with quiet_start():
        settings, okrs = load(ctx)
        if source is not None and source not in settings.sources:
            fail(f"--source {source!r}: no such source; configured: {', '.join(settings.sources) or 'none'}")
        from okrsync.headstart import head_start

        pollers = head_start(settings, okrs, only=source)  # before the heavy imports: see there
        from okrsync.engine import run_cycle
        from okrsync.progressview import progress_hook

        engine = open_db(settings)
    with progress_hook(out) as hook:
        report = run_cycle(
            settings,
            okrs,
            engine,
            now=now(),
            only=source,
            progress=hook,
            deliver=not no_deliver,
            pollers=pollers,
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
    for written in report.writeback.sources if report.writeback else []:
        _print_writeback(written)
    if report.failed or sent.failed or sent.retrying:
        raise typer.Exit(EXIT_FAILED)  # a failed write-back is shown, never an exit code (SPEC §10)


@app.command()
def writeback(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be written (with diffs); write nothing.")
    ] = False,
) -> None:
    """Write KR status back into the trackers now (sources with [sources.<name>.writeback] enabled)."""
    from okrsync.writeback import enabled, leading, run_writeback

    settings, okrs = load(ctx)
    if not enabled(settings):
        fail("no source has write-back enabled; add [sources.<name>.writeback] enabled = true")
    engine = open_db(settings)
    moment = now()
    if dry_run:
        report = run_writeback(settings, okrs, engine, now=moment, dry_run=True)
    else:
        with leading(settings.okrsync.database_url) as leader:
            if not leader:
                fail("another okrsync process leads and writes back; nothing written", EXIT_FAILED)
            report = run_writeback(settings, okrs, engine, now=moment)
    for written in report.sources:
        _print_writeback(written, details=True, dry_run=dry_run)
    if any(not written.ok for written in report.sources):
        raise typer.Exit(EXIT_FAILED)


def _print_writeback(written: Any, *, details: bool = False, dry_run: bool = False) -> None:
    """Print one source's write-back: a summary line, and with `details` each target."""
    mark = Text("✓ ", "green") if written.ok else Text("✗ ", "red")
    out.print(Text.assemble(mark, f"write-back {written.name}: {written.summary()}"), highlight=False)
    for error in written.errors:
        err.print(Text.assemble(("error: ", "red"), error), highlight=False)
    if not details:
        return
    said = {"unchanged": "unchanged", "closed": "closed by a person; left closed"}
    for result in written.results:
        where = f" (#{result.remote_id})" if result.remote_id and result.target.kind == "dashboard" else ""
        action = said.get(result.action) or (f"would be {result.action}" if dry_run else result.action)
        out.print(f"  {result.target.label}{where}: {action}", highlight=False, markup=False)
        if result.action == "created" and result.after:
            out.print(result.after, highlight=False, markup=False)
        elif result.action == "updated":
            out.print(result.diff(), highlight=False, markup=False)


@app.command()
def run(ctx: typer.Context) -> None:
    """Run the daemon: a cycle every poll_interval, plus /healthz and /metrics on server.listen."""
    with quiet_start():  # and each cycle's collections then skip the start-up's objects
        from okrsync.daemon import serve
        from okrsync.interrupts import Interrupted

        settings, okrs = load(ctx)
        now()  # a bad OKRSYNC_NOW stops here, with exit 2, not at every cycle
    if serve(settings, okrs, clock=now) == signal.SIGINT:
        raise Interrupted  # stopped cleanly, but at Ctrl-C: say so and exit 130 (SIGTERM: 0)


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
    with quiet_start():
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
    """Return the mappings' spelling of `kr_id` (case ignored), else exit 2 naming the nearest id."""
    from okrsync.checkins import resolve_kr_id, unknown_kr_message

    found = resolve_kr_id(kr_id, okrs.key_results)
    if found is None:
        fail(unknown_kr_message(kr_id, okrs.key_results))
    return found


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
    kr_id = known_kr(okrs, kr_id)
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
    kr_id = known_kr(okrs, kr_id)
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
        ScoreFormat, typer.Option("--format", help="How to print the scores (json: see the README).")
    ] = ScoreFormat.table,
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
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the stable JSON document (see the README).")
    ] = False,
) -> None:
    """List alerts and their deliveries, newest day first (default: all)."""
    if ctx.invoked_subcommand is not None:
        return
    from okrsync.alertsview import alerts_document, alerts_table
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
        sys.stdout.write(json.dumps(alerts_document(rows), indent=2) + "\n")
        return
    out.print(
        alerts_table(rows)
        if rows
        else Text(f"no {which if which != 'all' else ''} alerts".replace("  ", " "))
    )


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
            make_channel(channel_settings, ca_bundle=settings.http.ca_bundle).notify(
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


class DiffFormat(StrEnum):
    """The outputs of `okrsync diff`."""

    text = "text"
    markdown = "markdown"
    json = "json"


@app.command()
def diff(
    ctx: typer.Context,
    before: Annotated[
        str, typer.Argument(metavar="A", help="A git revision of the mappings repo, or a folder.")
    ],
    after: Annotated[
        str, typer.Argument(metavar="B", help="A git revision of the mappings repo, or a folder.")
    ],
    output: Annotated[
        DiffFormat, typer.Option("--format", help="text, markdown (a pull-request comment) or json.")
    ] = DiffFormat.text,
    progress: Annotated[
        bool, typer.Option("--progress/--no-progress", help="Roll up both sides over the config's database.")
    ] = True,
) -> None:
    """Show what a change to the mappings does to the OKRs, and to each changed KR's progress."""
    import tempfile

    from okrsync.ascode import render
    from okrsync.ascode.diff import compare, read_only_store, with_progress, without_progress
    from okrsync.ascode.revisions import load_side
    from okrsync.days import local_day
    from okrsync.settings import load_settings
    from okrsync.store import session

    try:
        settings = load_settings(config_path(ctx))
        with tempfile.TemporaryDirectory(prefix="okrsync-diff-") as scratch:
            old = load_side(before, settings=settings, scratch=Path(scratch))
            new = load_side(after, settings=settings, scratch=Path(scratch))
    except InputError as exc:
        for problem in exc.problems:
            err.print(Text.assemble(("error: ", "red"), str(problem)), highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    result = compare(old, new, before_name=before, after_name=after)
    if not progress:
        result = without_progress(result, "--no-progress")
    elif not result.empty:
        engine, reason = read_only_store(settings.okrsync.database_url)
        if engine is None:
            result = without_progress(result, reason or "no database")
        else:
            today = local_day(now(), settings.okrsync.tz)
            with session(engine) as db:
                result = with_progress(result, old, new, session=db, settings=settings, today=today)
            engine.dispose()
    if output == DiffFormat.json:
        sys.stdout.write(json.dumps(render.to_json(result), indent=2) + "\n")
    elif output == DiffFormat.markdown:
        sys.stdout.write(render.to_markdown(result))
    else:
        sys.stdout.write(render.to_text(result))


class SchemaChoice(StrEnum):
    """The files `okrsync schema` describes."""

    mappings = "mappings"
    config = "config"


@app.command()
def schema(
    which: Annotated[SchemaChoice, typer.Argument(help="mappings (a mappings/*.toml file) or config.")] = (
        SchemaChoice.mappings
    ),
) -> None:
    """Print the JSON Schema of a mappings file or of config.toml, for editors and CI."""
    from okrsync.ascode.schema import json_schema

    sys.stdout.write(json.dumps(json_schema(which.value), indent=2) + "\n")


@app.command()
def demo(
    keep: Annotated[
        Path | None, typer.Option("--keep", help="Write the demo's files here and keep them.")
    ] = None,
    serve: Annotated[
        bool,
        typer.Option("--serve", help="Keep the simulated trackers running and run the daemon on them."),
    ] = False,
    listen: Annotated[
        str, typer.Option("--listen", metavar="HOST:PORT", help="With --serve: the daemon's HTTP server.")
    ] = "127.0.0.1:9464",
) -> None:
    """Run the sandbox: simulated trackers, a sync, the status tree. No network, no credentials."""
    from okrsync.sandbox.demo import run_demo

    if not logging.getLogger("okrsync").isEnabledFor(logging.DEBUG):
        for name in ("okrsync", "connectors"):
            logging.getLogger(name).setLevel(logging.WARNING)  # the demo tells its own story
    if serve:
        from okrsync.interrupts import Interrupted
        from okrsync.sandbox.serve import serve_demo

        if serve_demo(out, workdir=keep, listen=listen) == signal.SIGINT:
            raise Interrupted
        return
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
    from okrsync import collector, interrupts, quickexit

    quickexit.install()  # first: its atexit handler then runs after every other
    collector.install()
    interrupts.install()
    try:
        _run_app()
    except SystemExit as exc:
        quickexit.record(exc.code)
        raise


def _run_app() -> None:
    """Run the command; Ctrl-C and okrsync's own errors end in one line and an exit status."""
    from okrsync import interrupts

    try:
        app()
    except interrupts.Interrupted:
        err.print(interrupts.MESSAGE, markup=False, highlight=False)
        sys.exit(interrupts.EXIT_INTERRUPTED)
    except OkrsyncError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
