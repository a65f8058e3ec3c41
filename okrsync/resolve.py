"""`okrsync validate --tracker`: resolve every mapping link against the live trackers.

A link that names a milestone the tracker does not have is reported with the mapping's
`file:line`, so a typo is caught in review instead of showing up as a broken link later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from okrsync.errors import SourceError
from okrsync.okrs import OkrSet
from okrsync.sources import make_poller


def resolve_links(settings: Any, okrs: OkrSet, *, now: datetime) -> list[str]:
    """Return one line per link that does not resolve (or per source that cannot be asked)."""
    problems: list[str] = []
    links = [(kr, link) for kr in okrs.key_results.values() for link in kr.links]
    for name, source in settings.sources.items():
        mine = [(kr, link) for kr, link in links if link.source == name]
        if not mine:
            continue
        poller = make_poller(source, okrs)
        try:
            if source.kind == "github":
                problems += _resolve_github(poller, mine)
        except SourceError as exc:
            problems.append(str(exc))
    return problems


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
