"""Write KR status into GitHub through PyGithub: one dashboard issue per repo, a section per milestone.

The dashboard is found before it is ever created: first by the issue number the store
remembers, else by listing the repo's issues labelled `okrsync` (open and closed) for one
titled `OKR dashboard` whose body holds the begin marker. So a process killed between
creating the issue and recording its number finds it again, and a repo keeps exactly one.
A dashboard a person closed is left closed and never recreated (`closed`).

Each write reads the current text first and splices only the marked section, so a person's
edits outside the markers survive even when they were made a second before. Writes are paced
(`Pacer`, at most one a second by default); a rate-limit answer (403/429 with `Retry-After`,
or `X-RateLimit-Remaining: 0`) is waited out within `max_rate_limit_wait`. PyGithub's own
retry is off for this client: urllib3 would not retry a PATCH anyway, and waiting on the
injected pacer keeps tests free of sleeps.

A 403 or 404 that is not a rate limit means the token may read but not write (or not see)
the repo: the error names the permission GitHub asks for.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException
from github.Issue import Issue
from github.Milestone import Milestone

from connectors.github import GitHubAuth
from connectors.net import network_problem
from okrsync.crashpoints import crash_point
from okrsync.errors import WriteError
from okrsync.store import WritebackTarget
from okrsync.writeback import markers
from okrsync.writeback.pacing import Pacer
from okrsync.writeback.plan import Result, Target
from okrsync.writeback.render import DASHBOARD_TITLE, LABEL, dashboard_body

logger = logging.getLogger(__name__)

T = TypeVar("T")

PERMISSION = "the token needs the 'Issues: read and write' permission on {repo} (classic token: 'repo' scope)"
MAX_LIMIT_RETRIES = 3


def make_client(source: Any) -> Github:
    """Build a PyGithub client for writing: same auth and address as the poller, no auto-retry."""
    auth = GitHubAuth(
        token=source.token,
        app_id=source.app_id,
        app_private_key=source.app_private_key,
        installation_id=source.installation_id,
    ).to_pygithub()
    return Github(
        auth=auth if isinstance(auth, Auth.Auth) else None,
        base_url=source.base_url.rstrip("/"),
        timeout=max(1, int(source.timeout)),
        retry=None,
        lazy=True,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


class GitHubWriter:
    """Apply GitHub targets (dashboards and milestone sections) for one source."""

    def __init__(
        self,
        name: str,
        github: Github,
        *,
        pacer: Pacer,
        label_prefix: str,
        dry_run: bool = False,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.github = github
        self.pacer = pacer
        self.label_prefix = label_prefix
        self.dry_run = dry_run
        self.wall_clock = wall_clock

    def apply(self, target: Target, stored: WritebackTarget | None) -> Result:
        if target.kind == "dashboard":
            return self._dashboard(target, stored)
        if target.kind == "milestone":
            return self._milestone(target)
        msg = f"a GitHub source cannot keep a {target.kind}"
        raise WriteError(self.name, msg, stop=True)

    # --- dashboards ----------------------------------------------------------------------

    def _dashboard(self, target: Target, stored: WritebackTarget | None) -> Result:
        repo_name = target.container
        repo = self.github.get_repo(repo_name)
        issue: Issue | None = None
        if stored is not None and stored.remote_id is not None:
            number = int(stored.remote_id)
            issue = self._call(
                f"read dashboard issue #{number} of {repo_name}", repo_name, lambda: _load(repo, number)
            )
        if issue is None:
            issue = self._call(f"look for the dashboard of {repo_name}", repo_name, lambda: self._find(repo))
        if issue is None:
            body = dashboard_body(target.content, dialect="markdown", label_prefix=self.label_prefix)
            if self.dry_run:
                return Result(target, "created", after=body)
            self.pacer.before_write()
            created = self._call(
                f"create the dashboard issue in {repo_name}",
                repo_name,
                lambda: repo.create_issue(title=DASHBOARD_TITLE, body=body, labels=[LABEL]),
            )
            crash_point("writeback_dashboard_created")  # tests: killed before the number is recorded
            logger.info(
                "write-back %s: created dashboard issue #%d in %s", self.name, created.number, repo_name
            )
            return Result(target, "created", remote_id=str(created.number), after=body)
        remote_id = str(issue.number)
        if issue.state == "closed":
            return Result(target, "closed", remote_id=remote_id, note=f"issue #{issue.number} was closed")
        before = issue.body or ""
        after = markers.splice(before, target.content)
        if after == before:
            return Result(target, "unchanged", remote_id=remote_id)
        if self.dry_run:
            return Result(target, "updated", remote_id=remote_id, before=before, after=after)
        self.pacer.before_write()
        self._call(
            f"update dashboard issue #{issue.number} of {repo_name}",
            repo_name,
            lambda: issue.edit(body=after),
        )
        return Result(target, "updated", remote_id=remote_id, before=before, after=after)

    def _find(self, repo: Any) -> Issue | None:
        """Find an existing dashboard: labelled `okrsync` and holding the begin marker.

        An open one wins over a closed one, then the oldest: a person who closed a duplicate
        made by hand should not make okrsync write into it.
        """
        found = [
            issue
            for issue in repo.get_issues(state="all", labels=[LABEL], sort="created", direction="asc")
            if issue.pull_request is None and markers.BEGIN in (issue.body or "")
        ]
        found.sort(key=lambda issue: (issue.state != "open", issue.number))
        return found[0] if found else None

    # --- milestones ----------------------------------------------------------------------

    def _milestone(self, target: Target) -> Result:
        repo_name, number = target.container, int(target.ref)
        repo = self.github.get_repo(repo_name)
        try:
            milestone = self._call(
                f"read milestone {number} of {repo_name}", repo_name, lambda: _read_milestone(repo, number)
            )
        except WriteError as exc:
            if target.remove and not exc.stop:
                return Result(target, "unchanged", note="gone")  # deleted or out of reach: forget it
            raise
        before = milestone.description or ""
        after = markers.remove(before) if target.remove else markers.splice(before, target.content)
        if after == before:
            return Result(target, "unchanged", remote_id=str(number))
        if self.dry_run:
            return Result(target, "updated", remote_id=str(number), before=before, after=after)
        self.pacer.before_write()
        self._call(
            f"update milestone {number} of {repo_name}",
            repo_name,
            lambda: milestone.edit(milestone.title, description=after),
        )
        return Result(target, "updated", remote_id=str(number), before=before, after=after)

    # --- requests ------------------------------------------------------------------------

    def _call(self, what: str, repo: str, request: Callable[[], T]) -> T:
        """Run one request; wait out rate limits within bounds; turn failures into WriteError."""
        for _attempt in range(MAX_LIMIT_RETRIES + 1):
            try:
                return request()
            except GithubException as exc:
                wait = self._limit_wait(exc)
                if wait is None:
                    raise self._error(what, repo, exc) from None
                if not self.pacer.wait_out(wait):
                    msg = (
                        f"{what}: GitHub rate limit lifts in {wait:.0f} s, longer than max_rate_limit_wait;"
                        " the rest waits for the next cycle"
                    )
                    raise WriteError(self.name, msg, stop=True) from None
            except requests.RequestException as exc:
                raise WriteError(self.name, f"{what}: {network_problem(exc)}", stop=True) from None
        msg = f"{what}: still rate limited after {MAX_LIMIT_RETRIES} waits; the rest waits for the next cycle"
        raise WriteError(self.name, msg, stop=True)

    def _limit_wait(self, exc: GithubException) -> float | None:
        """Seconds to wait when `exc` is a rate limit (primary or secondary), else None."""
        if exc.status not in (403, 429):
            return None
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        retry_after = headers.get("retry-after")
        if retry_after is not None and retry_after.strip().isdigit():
            return float(retry_after)
        if headers.get("x-ratelimit-remaining") == "0":
            reset = headers.get("x-ratelimit-reset", "")
            if reset.isdigit():
                return max(0.0, float(reset) - self.wall_clock()) + 1
            return 60.0
        return None

    def _error(self, what: str, repo: str, exc: GithubException) -> WriteError:
        message = exc.data.get("message") if isinstance(exc.data, dict) else None
        detail = f"GitHub answered {exc.status}" + (f" ({message})" if message else "")
        if exc.status == 401:
            return WriteError(self.name, f"{what}: {detail}: the token was refused", stop=True)
        if exc.status in (403, 404):
            return WriteError(self.name, f"{what}: {detail}: {PERMISSION.format(repo=repo)}")
        return WriteError(self.name, f"{what}: {detail}")


def _read_milestone(repo: Any, number: int) -> Milestone:
    """Read a milestone now: a lazy client would otherwise read it at the first attribute."""
    milestone: Milestone = repo.get_milestone(number)
    milestone.description  # noqa: B018 - completes a lazy object inside the caller's error handling
    return milestone


def _load(repo: Any, number: int) -> Issue | None:
    """Read a dashboard issue by number; None when it is gone (deleted, moved or never there)."""
    try:
        issue: Issue = repo.get_issue(number)
        issue.state  # noqa: B018 - a lazy client reads the issue here
    except GithubException as exc:
        if exc.status in (404, 410):
            return None
        raise
    # A person may rename the dashboard; it stays the one (a pull request never is).
    return None if issue.pull_request is not None else issue
