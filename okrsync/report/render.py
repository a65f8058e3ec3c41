"""Render the report's pages with Jinja2, to a folder (`okrsync report`) or per request (`/`).

Templates live in `okrsync/templates/` and are autoescaped: every title, name and text comes
from a tracker or a mapping, written by anyone who can file an issue, so `<script>` in a title
must show as text. Pages load nothing: CSS is inline, charts are inline SVG, the favicon is an
empty data URL (otherwise a browser asks the daemon for /favicon.ico), and each page carries a
Content-Security-Policy that forbids every remote load even if some text slipped through.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import Engine, select
from sqlmodel import Session

from okrsync import checkins
from okrsync.days import local_day
from okrsync.okrs import KeyResult, OkrSet
from okrsync.progress import compute, include_pull_requests
from okrsync.report.facts import ReportFacts, load_facts
from okrsync.report.forked import start_forked
from okrsync.report.pages import STATUS_WORDS, Links, index_page, kr_page
from okrsync.rollup import Rollup
from okrsync.statusview import status_document
from okrsync.store import SourceState, session

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "LivePages",
    "Report",
    "build",
    "render_index",
    "render_kr",
    "write_report",
]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
)
"""Allow the page's own inline CSS and data: images; forbid scripts, fonts, frames and every URL."""

_ENV = Environment(
    loader=PackageLoader("okrsync", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.globals.update(csp=CONTENT_SECURITY_POLICY, status_words=STATUS_WORDS)
# An `unknown` KR or objective has no progress and no score (None): shown as a dash, never 0.
_ENV.filters["pct"] = lambda value: "—" if value is None else f"{round(float(value) * 100)} %"
_ENV.filters["score"] = lambda value: "—" if value is None else f"{value:.2f}"


def tracker_link(url: str | None) -> str | None:
    """Keep a tracker URL as a link only when it is http(s).

    Trackers hand out https URLs, but a `javascript:` or `data:` URL in a self-hosted tracker's
    answer would be a click away from running; the CSP forbids it too, this makes it plain text.
    """
    return url if url is not None and url.lower().startswith(("https://", "http://")) else None


_ENV.filters["link"] = tracker_link


FORK_FROM = 40
"""KRs from which half of the KR pages (their facts read and rendered) are made by a forked
child: below it, starting one costs more than it saves."""
NO_FACTS = ReportFacts(milestones={}, values={}, checkins={}, alerts={}, open_issues={})


@dataclass(frozen=True)
class Report:
    """What the report knows on one day: the status document, the roll-up and the facts."""

    okrs: OkrSet
    document: dict[str, Any]
    rollup: Rollup
    today: date
    people: dict[str, Any]
    facts: ReportFacts
    kr_ids: tuple[str, ...]
    definitions: dict[str, KeyResult]
    since: date  # the first day the facts are read from (the earliest cycle start in the report)

    @cached_property
    def kr_docs(self) -> dict[str, dict[str, Any]]:
        """Each KR's part of the status document, by id."""
        return {kr["id"]: kr for o in self.document["objectives"] for kr in o["key_results"]}

    def index(self, links: Links) -> dict[str, Any]:
        return index_page(self.document, people=self.people, links=links)

    def kr(self, kr_id: str, links: Links) -> dict[str, Any]:
        return kr_page(
            self.okrs,
            self.definitions[kr_id],
            self.kr_docs[kr_id],
            self.rollup.key_results[kr_id],
            self.facts,
            today=self.today,
            people=self.people,
            links=links,
            generated_at=self.document["generated_at"],
        )


def _sources(db: Session, settings: Any) -> list[SourceState]:
    """List every configured source's state, as `status` does (one never polled has an empty one)."""
    states = {s.name: s for s in db.execute(select(SourceState)).scalars()}
    return [
        states.get(name) or SourceState(name=name, kind=s.kind, cursor={})
        for name, s in settings.sources.items()
    ]


def build(
    db: Session,
    okrs: OkrSet,
    settings: Any,
    *,
    moment: datetime,
    cycle: str | None = None,
    only: Collection[str] | None = None,
    read_facts: bool = True,
) -> Report:
    """Roll up from the store and read the facts of the report's KRs (all, or `only`).

    Without `read_facts` the facts are left empty, for `with_facts` to read a share of them.
    """
    today = local_day(moment, settings.okrsync.tz)
    rollup, gathered = compute(db, okrs, settings, today=today)
    latest = {kr_id: checkins.checkin_json(c) for kr_id, c in checkins.latest(db).items()}
    document = status_document(
        okrs,
        rollup,
        _sources(db, settings),
        now=moment,
        cycle=cycle,
        unknown_kr_ids=gathered.unknown_kr_ids,
        checkins=latest,
    )
    in_report = [kr["id"] for o in document["objectives"] for kr in o["key_results"]]
    kr_ids = tuple(k for k in in_report if only is None or k in only)
    cycles = {
        o["cycle"] for o in document["objectives"] if any(kr["id"] in kr_ids for kr in o["key_results"])
    }
    since = min((okrs.cycles[c].start for c in cycles), default=today)
    facts = (
        load_facts(
            db,
            rollup,
            kr_ids=kr_ids,
            since=since,
            include_pull_requests=include_pull_requests(settings),
            whole_org=only is None,
        )
        if kr_ids and read_facts
        else NO_FACTS
    )
    return Report(
        okrs, document, rollup, today, dict(settings.people), facts, kr_ids, okrs.key_results, since
    )


def with_facts(report: Report, db: Session, settings: Any, kr_ids: list[str]) -> Report:
    """The report with the facts of `kr_ids` read: a forked child reads its own share."""
    facts = load_facts(
        db,
        report.rollup,
        kr_ids=kr_ids,
        since=report.since,
        include_pull_requests=include_pull_requests(settings),
        whole_org=len(kr_ids) == len(report.kr_ids),
    )
    return replace(report, facts=facts)


def render_index(page: dict[str, Any]) -> str:
    return _ENV.get_template("index.html").render(page)


def render_kr(page: dict[str, Any]) -> str:
    return _ENV.get_template("kr.html").render(page)


def write_report(
    settings: Any, okrs: OkrSet, engine: Engine, out: Path, *, moment: datetime, cycle: str | None = None
) -> Path:
    """Write `out/index.html` and `out/kr/<KR-ID>.html`; return the index's path.

    The `kr/` folder is the report's own: pages of KRs no longer in the report (a KR removed
    from the mappings, or outside `--cycle`) are deleted, so no link-less stale page lingers.
    """
    with session(engine) as db:
        report = build(db, okrs, settings, moment=moment, cycle=cycle, read_facts=False)
    pages = out / "kr"
    pages.mkdir(parents=True, exist_ok=True)
    ids = list(report.kr_ids)

    def share(kr_ids: list[str], *, forked: bool = False) -> None:
        if forked:
            engine.dispose(close=False)  # the parent's pooled connections stay the parent's
        with session(engine) as db:
            part = with_facts(report, db, settings, kr_ids)
        _write_kr_pages(part, pages, kr_ids)

    if len(ids) >= FORK_FROM:  # half the KRs read and rendered in a forked child
        helper = start_forked(lambda: share(ids[1::2], forked=True))
        share(ids[0::2])
        helper.wait("writing the report's KR pages")
    elif ids:
        share(ids)
    written = {f"{kr_id}.html" for kr_id in ids}
    for stale in pages.glob("*.html"):
        if stale.name not in written:
            stale.unlink()
    index = out / "index.html"
    _replace(index, render_index(report.index(Links(live=False))))
    return index


def _write_kr_pages(report: Report, pages: Path, kr_ids: list[str]) -> None:
    links = Links(live=False, prefix="../")
    for kr_id in kr_ids:
        _replace(pages / f"{kr_id}.html", render_kr(report.kr(kr_id, links)))


def _replace(path: Path, text: str) -> None:
    """Write a page as a new file, removing the old one first rather than truncating it.

    On ext4 (`auto_da_alloc`, the default) truncating a file and writing it again makes the
    close wait for the data to reach the disk; 301 such closes took most of a report's time
    when it was rewritten. A new file is written back lazily, like any other.
    """
    path.unlink(missing_ok=True)
    path.write_text(text, encoding="utf-8")


class LivePages:
    """The daemon's `/` and `/kr/<KR-ID>`: rendered from the database on each request.

    Each request rolls up afresh in its own session, so a follower shows the leader's latest
    cycle, and nothing is cached that could go stale between cycles.
    """

    def __init__(self, settings: Any, okrs: OkrSet, engine: Engine, *, clock: Callable[[], datetime]) -> None:
        self._settings = settings
        self._okrs = okrs
        self._engine = engine
        self._clock = clock
        self._links = Links(live=True)

    def index(self) -> bytes:
        with session(self._engine) as db:
            report = build(db, self._okrs, self._settings, moment=self._clock(), only=())
        return render_index(report.index(self._links)).encode()

    def kr(self, kr_id: str) -> bytes | None:
        """Render one KR's page, or None when the mappings have no such KR."""
        if kr_id not in self._okrs.key_results:
            return None
        with session(self._engine) as db:
            report = build(db, self._okrs, self._settings, moment=self._clock(), only={kr_id})
        return render_kr(report.kr(kr_id, self._links)).encode()
