"""Turn Jira's raw issue and version JSON into okrsync's plain records.

Everything here is pure: the poller hands in raw dicts from `/search/jql`, `/search` and
`/project/{key}/versions`, plus what it learned about the site (`SiteFields`), and gets
records back. Keys follow SPEC §4: `ONB-123` for an issue, `jira:ONB/2.0` for a fix
version, `jira:ONB-12` for an epic, `jira:jql:<title>` for a JQL set.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, NamedTuple
from urllib.parse import quote

from connectors.records import IssueRecord, IssueStatus, MilestoneRecord, storable

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

JQL_CONTAINER = "jql"
"""The container of every JQL-set milestone: a set spans projects, so it belongs to none."""

# The fields every issue search asks for (SPEC §6: only the fields needed). `duedate` is an
# epic's due day; the story points and Epic Link fields are added per site.
BASE_FIELDS = (
    "summary",
    "status",
    "resolution",
    "resolutiondate",
    "statuscategorychangedate",
    "issuetype",
    "parent",
    "fixVersions",
    "labels",
    "assignee",
    "updated",
    "project",
    "duedate",
)


@dataclass(frozen=True)
class SiteFields:
    """What differs per site: the story points field, the Epic Link field (Data Center only)."""

    story_points: str | None = None
    epic_link: str | None = None

    def search_fields(self) -> list[str]:
        """List the fields a search asks for, in a fresh list (the jira client edits it in place)."""
        extra = [f for f in (self.story_points, self.epic_link) if f]
        return [*BASE_FIELDS, *extra]


@dataclass(frozen=True)
class JqlSet:
    """A milestone defined by a JQL query in the mappings, with its due day from there."""

    title: str
    jql: str
    due: date | None = None

    @property
    def key(self) -> str:
        return jql_key(self.title)


class Classified(NamedTuple):
    """One raw issue, read once: either an epic (a milestone) or a work item (an issue).

    A named tuple for the same reason as `IssueRecord`: one per issue crosses the helper's pipe.
    """

    key: str
    project: str
    is_epic: bool
    is_subtask: bool
    updated_at: datetime | None
    issue: IssueRecord | None = None
    epic: MilestoneRecord | None = None


def version_key(project: str, name: str) -> str:
    return f"jira:{project}/{name}"


def epic_key(issue_key: str) -> str:
    return f"jira:{issue_key}"


def jql_key(title: str) -> str:
    return f"jira:jql:{title}"


def project_of(issue_key: str) -> str:
    """Name the project from an issue key (`ONB-12` → `ONB`); keys are PROJECT-NUMBER."""
    return issue_key.rsplit("-", 1)[0]


def parse_time(value: str | None) -> datetime | None:
    """Parse Jira's `2026-11-22T05:00:00.000-0500` (any offset) into an aware datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value)


def parse_day(value: str | None) -> date | None:
    """Parse a Jira day (`duedate`, `releaseDate`: `2026-11-30`); it has no time and no zone."""
    if not value:
        return None
    return date.fromisoformat(value[:10])


def issue_status(fields: dict[str, Any], excluded_resolutions: Collection[str]) -> IssueStatus:
    """Classify an issue (SPEC §2): status category done is done, unless its resolution is one
    of `excluded_resolutions` (compared case-insensitively): then it is out of scope."""
    status = fields.get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    if category != "done":
        return "open"
    resolution = (fields.get("resolution") or {}).get("name")
    excluded = {name.casefold() for name in excluded_resolutions}
    if resolution and resolution.casefold() in excluded:
        return "excluded"
    return "done"


def _status_category(fields: dict[str, Any]) -> str | None:
    """Jira's status category key: `new` (to do), `indeterminate` (in progress) or `done`."""
    return ((fields.get("status") or {}).get("statusCategory") or {}).get("key")


def is_epic_type(issuetype: dict[str, Any] | None) -> bool:
    """Say whether an issue type is epic-level.

    Cloud reports `hierarchyLevel` (1 is the epic level, whatever the type is called there);
    Data Center does not, and its Jira Software epic type is named "Epic".
    """
    if not issuetype:
        return False
    level = issuetype.get("hierarchyLevel")
    if level is not None:
        return bool(level == 1)
    return issuetype.get("name") == "Epic"


def finite_number(value: Any) -> float | None:
    """Read a field's value as a number; anything but a finite number (None, text, NaN) is none.

    The JSON decoder accepts `NaN` and `Infinity`; stored or summed, one would turn every sum
    it is in into NaN or infinity.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def points_of(fields: dict[str, Any], story_points: str | None) -> float | None:
    """Read story points; an issue without a finite number there is unestimated."""
    return finite_number(fields.get(story_points)) if story_points else None


def assignee_name(user: dict[str, Any] | None) -> str | None:
    """Name an assignee for people to read: the display name, which Cloud and DC both give."""
    if not user:
        return None
    return user.get("displayName") or user.get("name") or user.get("emailAddress")


def epic_of(fields: dict[str, Any], site: SiteFields) -> str | None:
    """Find the epic an issue belongs to: Cloud's `parent` when it is epic-level, else DC's Epic Link."""
    parent = fields.get("parent")
    if isinstance(parent, dict) and parent.get("key"):
        parent_type = (parent.get("fields") or {}).get("issuetype")
        if is_epic_type(parent_type):
            return str(parent["key"])
    if site.epic_link:
        link = fields.get(site.epic_link)
        if isinstance(link, str) and link:
            return link
        if isinstance(link, dict) and link.get("key"):  # some plugins render the epic as an object
            return str(link["key"])
    return None


def classify(
    raw: dict[str, Any],
    *,
    site_url: str,
    site: SiteFields,
    excluded_resolutions: Collection[str],
    jql_keys: Iterable[str] = (),
) -> Classified:
    """Read one raw issue into an epic milestone or an issue record.

    `jql_keys` are the JQL-set milestone keys the caller found the issue to belong to; fix
    versions and the epic come from the issue's own fields.
    """
    key = str(raw["key"])
    fields = raw.get("fields") or {}
    project = str((fields.get("project") or {}).get("key") or project_of(key))
    issuetype = fields.get("issuetype") or {}
    updated = parse_time(fields.get("updated"))
    url = f"{site_url.rstrip('/')}/browse/{key}"
    raw_labels = fields.get("labels")
    labels = tuple(storable(str(label)) for label in raw_labels) if raw_labels else ()
    if is_epic_type(issuetype):
        category = ((fields.get("status") or {}).get("statusCategory") or {}).get("key")
        epic = MilestoneRecord(
            key=epic_key(key),
            kind="jira_epic",
            container=project,
            title=storable(str(fields.get("summary") or "")),
            state="closed" if category == "done" else "open",
            url=url,
            number=_number(key),
            due_day=parse_day(fields.get("duedate")),
            updated_at=updated,
            labels=labels,
        )
        return Classified(key, project, is_epic=True, is_subtask=False, updated_at=updated, epic=epic)
    status = issue_status(fields, excluded_resolutions)
    milestones = [version_key(project, str(v.get("name"))) for v in fields.get("fixVersions") or []]
    parent_epic = epic_of(fields, site)
    if parent_epic:
        milestones.append(epic_key(parent_epic))
    if jql_keys:
        milestones += sorted(set(jql_keys))
    done_at = None
    if status == "done":
        done_at = parse_time(fields.get("resolutiondate")) or parse_time(
            fields.get("statuscategorychangedate")
        )
    subtask = bool(issuetype.get("subtask"))
    record = IssueRecord(
        key=key,
        container=project,
        number=_number(key),
        title=storable(str(fields.get("summary") or "")),
        url=url,
        status=status,
        updated_at=updated or parse_time(fields.get("created")) or _EPOCH,
        is_subtask=subtask,
        labels=labels,
        assignee=_storable_or_none(assignee_name(fields.get("assignee"))),
        points=points_of(fields, site.story_points),
        done_at=done_at,
        in_progress=status == "open" and _status_category(fields) == "indeterminate",
        milestone_keys=tuple(dict.fromkeys(milestones)),
    )
    return Classified(key, project, is_epic=False, is_subtask=subtask, updated_at=updated, issue=record)


def version_record(raw: dict[str, Any], project: str, *, site_url: str) -> MilestoneRecord:
    """Make a fix version's milestone: due on its release day, closed once released.

    The description is kept whole: a `kr:ENG-1.1` token in it links the version to a KR.
    """
    name = str(raw.get("name") or "")
    version_id = raw.get("id")
    url = f"{site_url.rstrip('/')}/projects/{quote(project)}/versions/{version_id}" if version_id else None
    return MilestoneRecord(
        key=version_key(project, name),
        kind="jira_version",
        container=project,
        title=name,
        state="closed" if raw.get("released") else "open",
        url=url,
        number=int(str(version_id)) if str(version_id or "").isdigit() else None,
        description=storable(str(raw.get("description") or "")),
        due_day=parse_day(raw.get("releaseDate")),
    )


def jql_record(jql_set: JqlSet, *, site_url: str) -> MilestoneRecord:
    """Make a JQL set's milestone; it has no state in Jira, so it stays open.

    The query is not copied into the description: a `labels = "kr:ENG-1.1"` query would read
    as a `kr:` token there and link the set a second time.
    """
    return MilestoneRecord(
        key=jql_set.key,
        kind="jira_jql",
        container=JQL_CONTAINER,
        title=jql_set.title,
        state="open",
        url=f"{site_url.rstrip('/')}/issues/?jql={quote(jql_set.jql)}",
        due_day=jql_set.due,
    )


def _storable_or_none(text: str | None) -> str | None:
    return storable(text) if text is not None else None


def _number(key: str) -> int | None:
    tail = key.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else None
