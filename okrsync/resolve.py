"""`okrsync validate --tracker`: resolve every mapping link against the live trackers.

A link that names a milestone the tracker does not have is reported with the mapping's
`file:line`, so a typo is caught in review instead of showing up as a broken link later.

`kr:` labels are checked against the last sync, not live: neither tracker can list the items
whose labels start with a prefix (GitHub's search matches whole labels, Jira's `labels ~` is
not supported), so finding them live would mean reading every issue, which is what a sync
does. The output says so, with when each source last synced (`LabelCheck.checked_against`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.jira.records import is_epic_type
from okrsync.errors import SourceError
from okrsync.okrs import OkrSet
from okrsync.sources import make_poller


def resolve_links(settings: Any, okrs: OkrSet, *, now: datetime) -> list[str]:
    """Return one line per link that does not resolve (or per source that cannot be asked)."""
    problems: list[str] = []
    links = [(kr, link) for kr in okrs.key_results.values() for link in kr.links]
    for name, source in settings.sources.items():
        mine = [(kr, link) for kr, link in links if link.source == name]
        fields = [kr for kr in okrs.key_results.values() if kr.value_source == name and kr.value_field]
        if not mine and not (fields and source.kind == "jira"):
            continue
        poller = make_poller(source, okrs, ca_bundle=settings.http.ca_bundle)
        try:
            if source.kind == "github":
                problems += _resolve_github(poller, mine)
            elif source.kind == "jira":
                problems += _resolve_jira(poller, mine)
                problems += _resolve_jira_fields(poller, fields)
        except SourceError as exc:
            problems.append(str(exc))
    return problems


@dataclass(frozen=True)
class LabelCheck:
    """What `validate --tracker` found of `kr:` labels, and what it checked them against."""

    problems: list[str] = field(default_factory=list)
    synced: dict[str, datetime | None] = field(default_factory=dict)  # source -> last success

    @property
    def checked_against(self) -> str:
        """Say in one line where the labels came from: the last sync of each source, or none."""
        done = {name: at for name, at in self.synced.items() if at is not None}
        if not done:
            return "kr: labels not checked: no source has synced yet (`okrsync sync` reads them)"
        when = ", ".join(
            f"{name} at {at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if at else f"{name} never"
            for name, at in self.synced.items()
        )
        return f"kr: labels checked against the last sync ({when}), not the live trackers"


def unknown_label_ids(settings: Any, okrs: OkrSet) -> LabelCheck:
    """Name `kr:` ids seen on tracker items at the last sync that match no key result.

    They come from the store (the trackers cannot be searched by label prefix), which is
    read without migrating it: validating never writes to the database.
    """
    from sqlalchemy import inspect, select
    from sqlalchemy.exc import SQLAlchemyError

    from okrsync.progress import gather, include_pull_requests
    from okrsync.store import SourceState, make_engine, session

    never: dict[str, datetime | None] = dict.fromkeys(settings.sources)
    url = settings.okrsync.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return LabelCheck(synced=never)
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("issue"):
            return LabelCheck(synced=never)
        with session(engine) as db:
            states = {s.name: s.last_success for s in db.execute(select(SourceState)).scalars()}
            gathered = gather(
                db,
                okrs,
                label_prefix=settings.okrsync.label_prefix,
                include_pull_requests=include_pull_requests(settings),
                today=datetime.now(UTC).date(),  # any day: only the unknown ids are read
            )
    except SQLAlchemyError:
        return LabelCheck(synced=never)
    finally:
        engine.dispose()
    prefix = settings.okrsync.label_prefix
    problems = [
        f"{prefix}{kr_id} on {', '.join(sorted(where))} matches no key result"
        for kr_id, where in sorted(gathered.unknown_kr_ids.items())
    ]
    return LabelCheck(problems=problems, synced={name: states.get(name) for name in settings.sources})


def _resolve_jira_fields(poller: Any, krs: list[Any]) -> list[str]:
    """Check that each summed or averaged `value_field` is a field of the Jira site."""
    return [
        f"{kr.where}: {kr.id}: value_field {kr.value_field!r} is no field of this Jira site"
        " (expected a field name, such as 'Story Points', or an id from /rest/api/2/field)"
        for kr in krs
        if poller.field_id(kr.value_field) is None
    ]


def _resolve_github(poller: Any, links: list[tuple[Any, Any]]) -> list[str]:
    problems = []
    by_repo: dict[str, list[tuple[int, str]]] = {}
    for kr, link in links:
        if link.kind != "github_milestone":
            continue
        if link.target not in by_repo:
            by_repo[link.target] = poller.milestones(link.target)
        known = by_repo[link.target]
        found = any(
            (link.number is not None and number == link.number)
            or (link.number is None and title == link.milestone)
            for number, title in known
        )
        if not found:
            titles = ", ".join(repr(t) for _n, t in known) or "none"
            problems.append(
                f"{link.where}: {kr.id}: {link.label} does not exist (milestones there: {titles})"
            )
    return problems


def _resolve_jira(poller: Any, links: list[tuple[Any, Any]]) -> list[str]:
    """Check each Jira link: the version exists in its project, the epic exists and is an epic,
    and Jira accepts the JQL (an unknown field or value is a 400 that names it)."""
    problems = []
    versions: dict[str, list[str] | None] = {}
    for kr, link in links:
        where = f"{link.where}: {kr.id}: {link.label}"
        if link.kind == "jira_version":
            project, name = link.target.split("/", 1)
            if project not in versions:
                versions[project] = poller.version_names(project)
            known = versions[project]
            if known is None:
                problems.append(f"{where} does not exist (no project {project!r})")
            elif name not in known:
                names = ", ".join(repr(n) for n in known) or "none"
                problems.append(f"{where} does not exist (versions of {project}: {names})")
        elif link.kind == "jira_epic":
            issuetype = poller.issue_type(link.target)
            if issuetype is None:
                problems.append(f"{where} does not exist")
            elif not is_epic_type(issuetype):
                problems.append(f"{where} is a {issuetype.get('name') or 'non-epic issue'}, not an epic")
        elif link.kind == "jira_jql":
            complaint = poller.jql_problem(link.target)
            if complaint:
                problems.append(f"{where}: Jira refuses the query: {complaint}")
    return problems
