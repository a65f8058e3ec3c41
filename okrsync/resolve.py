"""`okrsync validate --tracker`: resolve every mapping link against the live trackers.

A link that names a milestone the tracker does not have is reported with the mapping's
`file:line`, so a typo is caught in review instead of showing up as a broken link later.
"""

from __future__ import annotations

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
        poller = make_poller(source, okrs)
        try:
            if source.kind == "github":
                problems += _resolve_github(poller, mine)
            elif source.kind == "jira":
                problems += _resolve_jira(poller, mine)
                problems += _resolve_jira_fields(poller, fields)
        except SourceError as exc:
            problems.append(str(exc))
    return problems


def unknown_label_ids(settings: Any, okrs: OkrSet) -> list[str]:
    """Name `kr:` ids seen on tracker items at the last sync that match no key result.

    They come from the store (the trackers cannot be searched by label prefix), which is
    read without migrating it: validating never writes to the database.
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import SQLAlchemyError

    from okrsync.progress import gather, include_pull_requests
    from okrsync.store import make_engine, session

    url = settings.okrsync.database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return []
    engine = make_engine(url)
    try:
        if not inspect(engine).has_table("issue"):
            return []
        with session(engine) as db:
            gathered = gather(
                db,
                okrs,
                label_prefix=settings.okrsync.label_prefix,
                include_pull_requests=include_pull_requests(settings),
                today=datetime.now(UTC).date(),  # any day: only the unknown ids are read
            )
    except SQLAlchemyError:
        return []
    finally:
        engine.dispose()
    prefix = settings.okrsync.label_prefix
    return [
        f"{prefix}{kr_id} on {', '.join(sorted(where))} matches no key result"
        for kr_id, where in sorted(gathered.unknown_kr_ids.items())
    ]


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
