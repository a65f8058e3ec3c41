"""Write KR status into Jira through the `jira` client: a dashboard per project, an epic's property and comment.

- The dashboard is an issue per project (type `writeback.issue_type`, default Task; label
  `okrsync`) whose description holds the marked section, in Jira wiki markup (what the REST
  API v2 takes). It is found before it is created: by the key the store remembers, else by
  `project = X AND labels = okrsync` and the begin marker in its description. A dashboard
  whose status a person moved to a done category is left there, never recreated.
- Each linked epic gets the issue property `okrsync` (`{"kr", "objective", "status",
  "progress", "krs"}`), which JQL searches as `issue.property[okrsync].status = "off_track"`,
  and one comment holding the marked section, found again by its marker and edited in place.
  The comment says only what changes with a KR's status, so it is edited when a status
  changes, not at every closed issue.

Jira wiki markup has no hidden comments, so the markers show as two short lines of text.

Requests go through `connectors.jira.client.Caller`: 429/503 waited out as `Retry-After`
asks, within `max_rate_limit_wait`, on the pacer's injectable sleep. A 400/403/404 on a write
names the permission Jira asks for: Create issues, Edit issues, Add comments.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from jira import JIRA, JIRAError

from connectors.jira.client import Caller, is_cloud, make_jira
from okrsync.crashpoints import crash_point
from okrsync.errors import SourceError, WriteError
from okrsync.store import WritebackTarget
from okrsync.writeback import markers
from okrsync.writeback.pacing import Pacer
from okrsync.writeback.plan import Action, Result, Target
from okrsync.writeback.render import DASHBOARD_TITLE, LABEL, canonical, dashboard_body

logger = logging.getLogger(__name__)

T = TypeVar("T")

PROPERTY = "okrsync"
REFUSED = (400, 403, 404)


def connect(source: Any, *, pacer: Pacer) -> JIRA:
    """Build a `jira` client with the source's address and credentials, as the poller does.

    Connecting reads `serverInfo`; a failure there is a WriteError naming the status, never
    the `JIRAError` text (which prints the request headers, Authorization included).
    """
    caller = Caller(source.name, max_wait=pacer.max_wait, sleep=pacer.sleep, clock=lambda: datetime.now(UTC))
    try:
        return caller.call(
            f"connecting to {source.url} (serverInfo)",
            lambda: make_jira(url=source.url, email=source.email, token=source.token, timeout=source.timeout),
        )
    except SourceError as exc:
        raise _write_error(source.name, exc) from None


class JiraWriter:
    """Apply Jira targets (dashboards, epic properties and comments) for one source."""

    def __init__(
        self,
        name: str,
        jira: JIRA,
        *,
        pacer: Pacer,
        issue_type: str,
        label_prefix: str,
        dry_run: bool = False,
    ) -> None:
        self.name = name
        self.jira = jira
        self.pacer = pacer
        self.issue_type = issue_type
        self.label_prefix = label_prefix
        self.dry_run = dry_run
        self.caller = Caller(
            name, max_wait=pacer.max_wait, sleep=pacer.sleep, clock=lambda: datetime.now(UTC)
        )

    def apply(self, target: Target, stored: WritebackTarget | None) -> Result:
        if target.kind == "dashboard":
            return self._dashboard(target, stored)
        if target.kind == "epic-property":
            return self._property(target)
        if target.kind == "epic-comment":
            return self._comment(target, stored)
        msg = f"a Jira source cannot keep a {target.kind}"
        raise WriteError(self.name, msg, stop=True)

    # --- dashboards ----------------------------------------------------------------------

    def _dashboard(self, target: Target, stored: WritebackTarget | None) -> Result:
        project = target.container
        key = stored.remote_id if stored is not None else None
        issue = self._load(key, project) if key else None
        if issue is None:
            key = self._find(project)
            issue = self._load(key, project) if key else None
        if issue is None:
            body = dashboard_body(target.content, dialect="jira", label_prefix=self.label_prefix)
            if self.dry_run:
                return Result(target, "created", after=body)
            fields = {
                "project": {"key": project},
                "summary": DASHBOARD_TITLE,
                "issuetype": {"name": self.issue_type},
                "description": body,
                "labels": [LABEL],
            }
            self.pacer.before_write()
            created = self._call(
                f"create the dashboard issue in {project}",
                f"'Create issues' permission in project {project}",
                lambda: self.jira.create_issue(fields=fields, prefetch=False),
            )
            crash_point("writeback_dashboard_created")
            logger.info("write-back %s: created dashboard %s", self.name, created.key)
            return Result(target, "created", remote_id=str(created.key), after=body)
        remote_id = str(issue.key)
        if issue.fields.status.statusCategory.key == "done":
            return Result(target, "closed", remote_id=remote_id, note=f"{remote_id} was resolved")
        before = issue.fields.description or ""
        after = markers.splice(before, target.content)
        if after == before:
            return Result(target, "unchanged", remote_id=remote_id)
        if not self.dry_run:
            self.pacer.before_write()
            self._call(
                f"update dashboard {remote_id}",
                f"'Edit issues' permission in project {project}",
                lambda: issue.update(fields={"description": after}),
            )
        return Result(target, "updated", remote_id=remote_id, before=before, after=after)

    def _load(self, key: str, project: str) -> Any:
        """Read an issue's description and status; None when it no longer exists."""
        try:
            return self.caller.call(
                f"read {key}",
                lambda: self.jira.issue(key, fields="description,status,labels"),
                passthrough=[404],
            )
        except JIRAError:
            return None
        except SourceError as exc:
            raise _write_error(self.name, exc) from None

    def _find(self, project: str) -> str | None:
        """Find the project's dashboard by label and marker: unresolved first, then the oldest."""
        jql = f'project = "{project}" AND labels = "{LABEL}" ORDER BY created ASC'
        if is_cloud(self.jira):

            def search() -> Any:
                return self.jira.enhanced_search_issues(
                    jql, fields="description,status", maxResults=50, json_result=True
                )
        else:

            def search() -> Any:
                return self.jira.search_issues(
                    jql, fields="description,status", maxResults=50, json_result=True
                )

        page = self._call(
            f"look for the dashboard of {project}",
            f"'Browse projects' permission in project {project}",
            search,
        )
        found = [
            (
                issue["fields"].get("status", {}).get("statusCategory", {}).get("key") == "done",
                index,
                issue["key"],
            )
            for index, issue in enumerate(page.get("issues", []))
            if markers.BEGIN in (issue["fields"].get("description") or "")
        ]
        return str(min(found)[2]) if found else None

    # --- epics ---------------------------------------------------------------------------

    def _property(self, target: Target) -> Result:
        epic, project = target.ref, target.container
        need = f"'Edit issues' permission in project {project}"
        try:
            current = self.caller.call(
                f"read the okrsync property of {epic}",
                lambda: self.jira.issue_property(epic, PROPERTY),
                passthrough=REFUSED,
            )
            before: str | None = canonical(current.raw.get("value"))
        except JIRAError as exc:
            if exc.status_code != 404 or "property" not in str(exc.text or "").lower():
                raise self._refused(f"read the okrsync property of {epic}", need, exc) from None
            before = None
        except SourceError as exc:
            raise _write_error(self.name, exc) from None
        if before == target.content:
            return Result(target, "unchanged", remote_id=epic)
        action: Action = "created" if before is None else "updated"
        if not self.dry_run:
            value = json.loads(target.content)
            self.pacer.before_write()
            self._call(
                f"set the okrsync property of {epic}",
                need,
                lambda: self.jira.add_issue_property(epic, PROPERTY, value),
            )
        return Result(target, action, remote_id=epic, before=before, after=target.content)

    def _comment(self, target: Target, stored: WritebackTarget | None) -> Result:
        epic, project = target.ref, target.container
        need = f"'Add comments' permission in project {project} (and 'Edit own comments')"
        comment = None
        if stored is not None and stored.remote_id:
            comment_id = stored.remote_id
            try:
                comment = self.caller.call(
                    f"read okrsync's comment on {epic}",
                    lambda: self.jira.comment(epic, comment_id),
                    passthrough=[404],
                )
            except JIRAError:
                comment = None  # deleted by a person: write a new one
            except SourceError as exc:
                raise _write_error(self.name, exc) from None
        if comment is None:
            comments = self._call(f"read the comments of {epic}", need, lambda: self.jira.comments(epic))
            comment = next((c for c in comments if markers.BEGIN in (c.body or "")), None)
        if comment is None:
            body = markers.block(target.content)
            if not self.dry_run:
                self.pacer.before_write()
                comment = self._call(f"comment on {epic}", need, lambda: self.jira.add_comment(epic, body))
            return Result(target, "created", remote_id=str(comment.id) if comment else None, after=body)
        before = comment.body or ""
        after = markers.splice(before, target.content)
        if after == before:
            return Result(target, "unchanged", remote_id=str(comment.id))
        if not self.dry_run:
            self.pacer.before_write()
            found = comment
            self._call(f"edit okrsync's comment on {epic}", need, lambda: found.update(body=after))
        return Result(target, "updated", remote_id=str(comment.id), before=before, after=after)

    # --- requests ------------------------------------------------------------------------

    def _call(self, what: str, need: str, request: Callable[[], T]) -> T:
        try:
            return self.caller.call(what, request, passthrough=REFUSED)
        except JIRAError as exc:
            raise self._refused(what, need, exc) from None
        except SourceError as exc:
            raise _write_error(self.name, exc) from None

    def _refused(self, what: str, need: str, exc: JIRAError) -> WriteError:
        # Jira's own words (its errorMessages/errors) without the request, whose headers hold the token.
        said = " ".join(str(exc.text or "").split())[:300]
        text = f"{what}: Jira answered {exc.status_code}" + (f" ({said})" if said else "")
        return WriteError(self.name, f"{text}: the account needs the {need}")


def _write_error(name: str, exc: SourceError) -> WriteError:
    """A failure the Caller classified (rate limit beyond the bound, network, 5xx): stop for this cycle."""
    return WriteError(name, str(exc).removeprefix(f"source {name!r}: "), stop=True)
