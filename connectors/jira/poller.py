"""Poll Jira incrementally: fix versions, epics, JQL sets, and the issues updated since a cursor.

How one poll works (SPEC §6):

1. Fix versions: `/project/{key}/versions` for every project, every poll. Versions have no
   changelog and editing one does not touch its issues, so the whole list is handed over as
   complete (a stored version missing from it is gone) and the store diffs `releaseDate`.
2. JQL sets (mapping links `jql = …`): each set's query, restricted to the same `updated`
   bound as the main search, names the recently changed issues that are members. An issue
   that stops matching changes its `updated` when it is edited, so it comes back in the main
   search and its memberships are recomputed from the fresh answer. Where a query can change
   its answer without any issue changing (the mapping's JQL edited, a project just added, a
   `fixVersion in unreleasedVersions()` query), the set is evaluated in full instead: when its
   text differs from the one recorded in the cursor, when a project is new, and at each
   deleted-issue check. Members outside the polled projects are fetched by id.
3. Issues: one search over every project of the source, `updated >= <epoch ms>`. A zone-less
   date would be read in the *account's* timezone, at minute precision, and silently drop
   updates; epoch milliseconds are exact. The bound is the high-water mark of the `updated`
   values seen (the server's clock, so no skew) minus an overlap, and never past the poll's
   start; repeats are harmless, the store de-duplicates by key. Epics become milestones, not
   issues; sub-tasks are left out unless the source includes them.
4. Deleted issues never show up in an `updated` search. At most once per
   `deleted_check_interval`, an id-only search per project lists what exists; stored issues
   (and remembered epics) missing from it are confirmed gone one by one, then removed. When
   most of a project is missing at once, nothing is removed and a warning says why: that is
   what a lost browse permission looks like, and emptying every KR would be worse. A project
   read in full by this very poll (the source's first sync, or a newly added project) needs
   no id-only search: the full read already listed every key it has. Its stored issues are
   diffed against what that read saw, so a first sync of an empty store asks for nothing
   more, and the check's clock starts there: the next check is one interval later.

Pages are raw JSON through the client's own request path (`json_result=True`), one page at a
time: Cloud `enhanced_search_issues` with `nextPageToken` (Cloud's `/search` answers 410),
Data Center `search_issues` with `startAt`. The cursor is a plain dict handed back to the
engine, which stores it with the data (`PollRun.cursor`).
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jira import JIRA, JIRAError
from pydantic import SecretStr

from connectors.forked import Produced, can_fork, start_all
from connectors.jira.client import (
    Caller,
    find_field,
    fresh_connections,
    is_cloud,
    make_jira,
    seed_field_cache,
    site_fields,
)
from connectors.jira.records import (
    JQL_CONTAINER,
    Classified,
    JqlSet,
    SiteFields,
    classify,
    epic_key,
    finite_number,
    jql_record,
    parse_time,
    version_record,
)
from connectors.records import Batch, KnownIssues, PollRun
from okrsync.errors import SourceError

logger = logging.getLogger(__name__)

DEFAULT_EXCLUDED_RESOLUTIONS = ("Won't Do", "Won't Fix", "Duplicate", "Cannot Reproduce")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Data Center pages by offset: an issue deleted behind the offset shifts every later one a place
# to the left, and the first item of the next page would be skipped. Starting each page a few
# items early absorbs that (the repeats are de-duplicated by key).
_STEP_BACK = 5
_ID_CHUNK = 100  # ids per `id in (...)` fetch
_MAX_UNCONFIRMED = 100  # more missing keys than this, and over half the project: a permission problem


FORK_AFTER_PAGES = 4  # a search longer than this goes on in a forked child (_classified_pages)


@dataclass(frozen=True)
class _SearchDone:
    """The last word of a search read in a child: what its requests and waits added up to."""

    requests: int
    waited: float


_Helped = list[Classified] | _SearchDone


@dataclass(frozen=True)
class _EarlySearches:
    """Searches `start_early` started, kept until the poll adopts or stops them."""

    searches: list[str]
    helpers: list[Produced[_Helped]]


def changed_issue_searches(
    steady: Sequence[str], fresh: Sequence[str], *, bound: datetime | None, shares: int
) -> list[str]:
    """Spell the JQL of the changed-issue search(es): steady projects since the bound, fresh
    projects in full; with `shares` > 1 and several fresh projects, one search per share.

    By key, not by `updated`: an issue edited while we page would jump to the end of an
    `updated` order and shift the others under the offset; a key never moves.
    """
    steady_clause = (
        [f"(project in ({_keys(steady)}) AND updated >= {epoch_ms(bound)})"]
        if steady and bound is not None
        else []
    )
    count = max(1, min(shares, len(fresh)))
    groups = [list(fresh[index::count]) for index in range(count)] if fresh else [[]]
    searches = []
    for index, group in enumerate(groups):
        clauses = (steady_clause if index == 0 else []) + ([f"project in ({_keys(group)})"] if group else [])
        searches.append(" OR ".join(clauses) + " ORDER BY key ASC")
    return searches


def _utc_now() -> datetime:
    return datetime.now(UTC)


def epoch_ms(moment: datetime) -> int:
    """Return the epoch milliseconds of an aware datetime, exactly (JQL's zone-free bound)."""
    if moment.tzinfo is None:
        msg = f"expected a timezone-aware datetime, got {moment!r}"
        raise ValueError(msg)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def quote_jql(value: str) -> str:
    """Quote a value for JQL (project keys may collide with reserved words such as `IN`)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)


def without_order_by(jql: str) -> str:
    """Drop a trailing `ORDER BY …` (outside quotes) so the query can be wrapped in parentheses."""
    cut = None
    for match in _ORDER_BY.finditer(jql):
        before = jql[: match.start()]
        if before.count('"') % 2 == 0 and before.count("'") % 2 == 0:
            cut = match.start()
    return (jql[:cut] if cut is not None else jql).strip()


@dataclass
class _Poll:
    """One poll's working state, shared by its steps."""

    run: PollRun
    known: KnownIssues
    now: datetime
    bound: datetime | None  # issues updated at or after this are "recent"; None: all are
    full: dict[str, bool]  # JQL set key -> its membership is evaluated over every issue
    members: dict[str, dict[str, tuple[str, datetime | None]]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    newest: datetime | None = None
    epics: dict[str, set[str]] = field(default_factory=dict)
    _stored_members: dict[str, set[str]] = field(default_factory=dict)
    _known_keys: dict[str, set[str]] = field(default_factory=dict)
    had_issues: dict[str, bool] = field(default_factory=dict)  # project -> stored any before this poll

    def stored_members(self, milestone_key: str) -> set[str]:
        if milestone_key not in self._stored_members:
            self._stored_members[milestone_key] = self.known.milestone_issue_keys(milestone_key)
        return self._stored_members[milestone_key]

    def known_keys(self, project: str) -> set[str]:
        if project not in self._known_keys:
            self._known_keys[project] = self.known.issue_keys(project)
        return self._known_keys[project]

    def recent(self, updated: datetime | None) -> bool:
        return self.bound is None or (updated is not None and updated >= self.bound)

    def saw(self, key: str, updated: datetime | None) -> None:
        self.seen.add(key)
        if updated is not None and (self.newest is None or updated > self.newest):
            self.newest = updated


class JiraPoller:
    """Poll the projects and JQL sets of one Jira source; knows nothing of OKRs or the database.

    The client is made on first use and kept, so a daemon reads `serverInfo` and the field
    list once, not every cycle. `sleep` and `clock` are seams for tests (rate-limit waits).
    """

    def __init__(
        self,
        name: str,
        *,
        url: str,
        email: str | None,
        token: SecretStr | None,
        projects: Sequence[str],
        jql_sets: Sequence[JqlSet] = (),
        story_points_field: str = "auto",
        excluded_resolutions: Sequence[str] = DEFAULT_EXCLUDED_RESOLUTIONS,
        include_subtasks: bool = False,
        timeout: float = 30,
        overlap: timedelta = timedelta(minutes=5),
        max_rate_limit_wait: float = 60,
        deleted_check_interval: timedelta = timedelta(hours=1),
        page_size: int = 100,
        concurrency: int = 1,
        ca_bundle: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.email = email
        self.token = token
        self.projects = sorted(set(projects))
        self.jql_sets = list(jql_sets)
        self.story_points_field = story_points_field
        self.excluded_resolutions = tuple(excluded_resolutions)
        self.include_subtasks = include_subtasks
        self.timeout = timeout
        self.overlap = overlap
        self.deleted_check_interval = deleted_check_interval
        self.page_size = page_size
        self.concurrency = max(1, concurrency)
        self.ca_bundle = ca_bundle
        self.caller = Caller(name, max_wait=max_rate_limit_wait, sleep=sleep, clock=clock)
        self._jira: JIRA | None = None
        self._fields: list[dict[str, Any]] = []  # the site's /field list, read at connect
        self._site = SiteFields()
        self._cloud = False
        self._early: _EarlySearches | None = None  # a first sync's searches started by `start_early`
        self._uncounted = 0  # requests `start_early` made, counted by the next poll

    @property
    def sleep(self) -> Callable[[float], None]:
        return self.caller.sleep

    @sleep.setter
    def sleep(self, value: Callable[[float], None]) -> None:
        self.caller.sleep = value

    @property
    def clock(self) -> Callable[[], datetime]:
        return self.caller.clock

    @clock.setter
    def clock(self, value: Callable[[], datetime]) -> None:
        self.caller.clock = value

    # --- the client --------------------------------------------------------------------------

    def connect(self) -> JIRA:
        """Make the client (once): `serverInfo` says Cloud or Data Center, `/field` the fields."""
        if self._jira is not None:
            return self._jira
        if self.email and self.token is None:
            msg = f"no API token for {self.email}: set OKRSYNC_SOURCES__{self.name.upper()}__TOKEN (or token_file)"
            raise SourceError(self.name, msg, retriable=False)
        jira = self.caller.call(
            f"connecting to {self.url} (serverInfo)",
            lambda: make_jira(
                url=self.url,
                email=self.email,
                token=self.token,
                timeout=self.timeout,
                ca_bundle=self.ca_bundle,
            ),
        )
        fields = self.caller.call("reading the field list (/rest/api/2/field)", jira.fields)
        if not isinstance(fields, list):
            raise SourceError(self.name, "/rest/api/2/field answered something other than a list")
        seed_field_cache(jira, fields)
        self._fields = fields
        self._cloud = is_cloud(jira)
        self._site = site_fields(fields, story_points=self.story_points_field, cloud=self._cloud)
        logger.info(
            "source %s: Jira %s; story points %s; epics through %s",
            self.name,
            "Cloud" if self._cloud else f"Data Center ({jira.deploymentType})",
            self._site.story_points or "not found",
            self._site.epic_link or "parent",
            extra={"source": self.name},
        )
        self._jira = jira
        return jira

    # --- the poll ----------------------------------------------------------------------------

    def poll(self, cursor: dict[str, Any], known: KnownIssues, *, now: datetime) -> PollRun:
        """Start a poll from `cursor`; nothing is requested until the batches are iterated."""
        state: dict[str, Any] = {
            "high_water": cursor.get("high_water"),
            "projects": list(cursor.get("projects", [])),
            "jql": dict(cursor.get("jql", {})),
            "epics": {p: list(keys) for p, keys in cursor.get("epics", {}).items()},
            "deleted_checked_at": cursor.get("deleted_checked_at"),
        }
        run = PollRun(cursor=state)
        run._batches = self._poll(run, known, now=now)
        return run

    def _poll(self, run: PollRun, known: KnownIssues, *, now: datetime) -> Iterator[Batch]:
        start_requests = self.caller.requests - self._uncounted
        self._uncounted = 0
        try:
            yield from self._poll_from(run, known, now=now)
        finally:
            self._drop_early()  # not adopted (another cursor), or the poll failed before its searches
        run.requests = self.caller.requests - start_requests

    def _plan(self, state: dict[str, Any]) -> tuple[list[str], list[str], datetime | None]:
        """Read a cursor's state: the steady projects, the fresh ones (read in full), the bound."""
        high_water = parse_time(state.get("high_water"))
        synced = set(state.get("projects", []))
        fresh = [p for p in self.projects if high_water is None or p not in synced]
        steady = [p for p in self.projects if p not in fresh]
        bound = high_water - self.overlap if high_water is not None else None
        return steady, fresh, bound

    def _changed_searches(self, steady: list[str], fresh: list[str], bound: datetime | None) -> list[str]:
        shares = self.concurrency if can_fork() else 1
        return changed_issue_searches(steady, fresh, bound=bound, shares=shares)

    def _poll_from(self, run: PollRun, known: KnownIssues, *, now: datetime) -> Iterator[Batch]:
        self.connect()
        state = run.cursor
        high_water = parse_time(state["high_water"])
        steady, fresh, bound = self._plan(state)
        checked = parse_time(state["deleted_checked_at"])
        check_due = checked is None or now - checked >= self.deleted_check_interval
        everything = bound is None or bool(fresh) or check_due
        poll = _Poll(
            run=run,
            known=known,
            now=now,
            bound=bound,
            full={s.key: everything or state["jql"].get(s.title) != s.jql for s in self.jql_sets},
            epics={p: set(keys) for p, keys in state["epics"].items()},
        )

        run.progress.begin(unit="projects", total=len(self.projects))
        yield from self._versions()
        yield Batch(
            milestones=[jql_record(s, site_url=self.url) for s in self.jql_sets],
            complete=[(JQL_CONTAINER, "jira_jql")],
        )
        for jql_set in self.jql_sets:
            poll.members[jql_set.key] = self._members(jql_set, poll)
        if self.projects:
            yield from self._changed_issues(poll, steady=steady, fresh=fresh)
        yield from self._jql_stragglers(poll)
        if check_due:
            yield from self._deleted(poll, read_in_full=set(fresh))
            state["deleted_checked_at"] = now.isoformat()
        run.progress.reach(len(self.projects))

        if poll.newest is not None:
            # Never past the poll's start: an issue stamped later is read again next time.
            newest = min(poll.newest, now)
            if high_water is None or newest > high_water:
                state["high_water"] = newest.astimezone(UTC).isoformat()
        state["projects"] = list(self.projects)
        state["jql"] = {s.title: s.jql for s in self.jql_sets}
        state["epics"] = {p: sorted(keys) for p, keys in sorted(poll.epics.items()) if keys}

    def _versions(self) -> Iterator[Batch]:
        """List every project's fix versions; the list is complete, so vanished ones are dropped."""
        jira = self.connect()
        for project in self.projects:
            versions = self.caller.call(
                f"listing the fix versions of project {project}",
                functools.partial(jira.project_versions, project),
            )
            records = [version_record(v.raw, project, site_url=self.url) for v in versions]
            yield Batch(milestones=records, complete=[(project, "jira_version")])

    def _members(self, jql_set: JqlSet, poll: _Poll) -> dict[str, tuple[str, datetime | None]]:
        """Return the members of a JQL set (key -> (id, updated)): the recent ones, or all."""
        jql = f"({without_order_by(jql_set.jql)})"
        if not poll.full[jql_set.key] and poll.bound is not None:
            jql += f" AND updated >= {epoch_ms(poll.bound)}"
        found: dict[str, tuple[str, datetime | None]] = {}
        what = f"searching JQL set {jql_set.title!r}"
        for page in self._search(what, jql, ["updated"], page_size=self.page_size):
            for raw in page:
                updated = parse_time((raw.get("fields") or {}).get("updated"))
                found[str(raw["key"])] = (str(raw["id"]), updated)
        return found

    def _changed_issues(self, poll: _Poll, *, steady: list[str], fresh: list[str]) -> Iterator[Batch]:
        """Search every project for issues updated since the bound (fresh projects: all of them).

        One search, or, when several fresh projects are read in full (a first sync) and there
        are processes to run them, `concurrency` searches at once, each over a share of them.
        """
        for project in fresh:  # before any of their issues is stored (see _deleted)
            poll.had_issues[project] = bool(poll.known.issue_keys(project))
        searches = self._changed_searches(steady, fresh, poll.bound)
        started = self._adopt_early(searches)
        if started is not None:
            stream = self._read_helpers(started)
        elif len(searches) == 1:
            pages = self._search(
                "searching updated issues",
                searches[0],
                self._site.search_fields(),
                page_size=self.page_size,
                on_total=poll.run.progress.expect,
            )
            stream = self._classified_pages(poll, pages)
        else:
            stream = self._classified_at_once(poll, searches)
        # In key order a search goes through its projects one after the other: every project
        # met before the current one of each search is done (for the progress shown).
        met: set[str] = set()
        for classified in stream:
            yield self._batch_of(poll, classified)
            met.update(item.project for item in classified)
            poll.run.progress.reach(max(0, len(met) - len(searches)))

    def _classified_pages(
        self, poll: _Poll, pages: Iterator[list[dict[str, Any]]]
    ) -> Iterator[list[Classified]]:
        """Classify a search's pages: the first few here, the rest in a forked child.

        A small search (a steady poll) is read here, page by page. A long one (a first sync:
        every issue of every project) is handed over after `FORK_AFTER_PAGES` pages to a child
        made by fork (`connectors.forked`), which inherits the search where it stands and
        requests, decodes and classifies the remaining pages on the other core while this
        process stores them; only their records travel back. The child gets connections of its
        own, reads nothing from the store (the stored memberships classification may need are
        read here first), and reports its request count and waits at the end.
        """
        for _ in range(FORK_AFTER_PAGES):
            page = next(pages, None)
            if page is None:
                return
            yield self._classify_page(poll, page)
        yield from self._read_by_helpers(poll, [lambda: pages])

    def _classified_at_once(self, poll: _Poll, searches: list[str]) -> Iterator[list[Classified]]:
        """Run the searches at once, each in a forked child, and take their pages in turn."""
        yield from self._read_by_helpers(poll, self._page_readers(searches))

    def _page_readers(self, searches: list[str]) -> list[Callable[[], Iterator[list[dict[str, Any]]]]]:
        """Make, per changed-issue search, what pages it when called (in its helper)."""
        fields = self._site.search_fields()

        def pages_of(jql: str) -> Callable[[], Iterator[list[dict[str, Any]]]]:
            return lambda: self._search("searching updated issues", jql, fields, page_size=self.page_size)

        return [pages_of(jql) for jql in searches]

    def _read_by_helpers(
        self, poll: _Poll, searches: list[Callable[[], Iterator[list[dict[str, Any]]]]]
    ) -> Iterator[list[Classified]]:
        """Read and classify each search's pages in a child of its own; yield pages in turn.

        The stored memberships classification may need are read here, before the fork: the
        children never touch the store.
        """
        for jql_set in self.jql_sets:
            if not poll.full[jql_set.key]:
                poll.stored_members(jql_set.key)  # the children must not touch the store
        yield from self._read_helpers(
            self._start_helpers(searches, lambda page: self._classify_page(poll, page))
        )

    def _start_helpers(
        self,
        searches: list[Callable[[], Iterator[list[dict[str, Any]]]]],
        classify_page: Callable[[list[dict[str, Any]]], list[Classified]],
    ) -> list[Produced[_Helped]]:
        """Start a child per search that requests, decodes and classifies its pages.

        Each child drops the client's pooled connections first (they are this process's
        sockets) and reports the requests and rate-limit waits it added, at the end. Without
        fork a single search runs on a thread (callers split only where fork exists).
        """
        requests, waited = self.caller.requests, self.caller.waited

        def reader(pages: Callable[[], Iterator[list[dict[str, Any]]]]) -> Callable[[], Iterator[_Helped]]:
            def produce() -> Iterator[_Helped]:
                if self._jira is not None:
                    fresh_connections(self._jira)
                for page in pages():
                    yield classify_page(page)
                yield _SearchDone(self.caller.requests - requests, self.caller.waited - waited)

            return produce

        return start_all([reader(pages) for pages in searches], name=f"okrsync-{self.name}-search")

    def _read_helpers(self, helpers: list[Produced[_Helped]]) -> Iterator[list[Classified]]:
        """Yield the helpers' pages in turn; count what their children requested and waited."""
        try:
            running = list(helpers)
            while running:
                for helper in list(running):
                    item = next(helper, None)
                    if item is None:
                        running.remove(helper)
                    elif isinstance(item, _SearchDone):
                        if helper.forked:  # on a thread the counts already moved here
                            self.caller.requests += item.requests
                            self.caller.waited += item.waited
                    else:
                        yield item
        finally:
            for helper in helpers:
                helper.close()

    def start_early(self, cursor: dict[str, Any]) -> bool:
        """Start a first sync's searches before the poll, while the store still opens.

        `okrsync.headstart` calls this at start-up, with the cursor as stored: a first sync
        spends about as long importing and opening the store as the bare client needs to
        begin its searches, and started here they run meanwhile, on the other core. Only
        searches split over forked children are started (several projects read in full, and
        `concurrency` > 1), and only for a source without JQL sets: their classification
        needs the sets' members, which the poll reads first. The poll adopts them when its
        own cursor asks for the very same searches, and stops them otherwise (another
        process polled in between). Returns whether anything was started.
        """
        steady, fresh, bound = self._plan(cursor)
        searches = self._changed_searches(steady, fresh, bound)
        if self._early is not None or self.jql_sets or steady or len(searches) < 2:
            return False
        before = self.caller.requests
        self.connect()
        self._uncounted += self.caller.requests - before
        helpers = self._start_helpers(
            self._page_readers(searches), functools.partial(self._classify_page, None)
        )
        self._early = _EarlySearches(searches, helpers)
        return True

    def _adopt_early(self, searches: list[str]) -> list[Produced[_Helped]] | None:
        """Take the helpers `start_early` started if they run exactly `searches`; else stop them."""
        early = self._early
        if early is None or early.searches != searches:
            self._drop_early()  # started for another cursor (another process polled meanwhile)
            return None
        self._early = None
        return early.helpers

    def _drop_early(self) -> None:
        early, self._early = self._early, None
        if early is not None:
            logger.debug("source %s: searches started early were not the poll's; stopped", self.name)
            for helper in early.helpers:
                helper.close()

    def _jql_stragglers(self, poll: _Poll) -> Iterator[Batch]:
        """Fetch JQL-set members the main search did not return, and stored members that left.

        These are issues of projects the source does not poll, and issues whose membership
        changed without an update (seen only by a full evaluation). Each comes back with its
        memberships recomputed; a stored member that no longer exists is removed.
        """
        wanted: dict[str, str] = {}
        leavers: set[str] = set()
        for jql_set in self.jql_sets:
            members = poll.members[jql_set.key]
            full = poll.full[jql_set.key]
            stored = poll.stored_members(jql_set.key) if full else set()
            for key, (issue_id, updated) in members.items():
                if key in poll.seen:
                    continue
                if poll.recent(updated) or (full and key not in stored):
                    wanted[key] = issue_id
            if full:
                leavers |= stored - set(members) - poll.seen
        leavers -= set(wanted)
        ids = sorted(wanted.values(), key=lambda i: (len(i), i))
        for start in range(0, len(ids), _ID_CHUNK):
            jql = f"id in ({', '.join(ids[start : start + _ID_CHUNK])})"
            for page in self._search(
                "fetching JQL-set members", jql, self._site.search_fields(), page_size=self.page_size
            ):
                yield self._batch(poll, page)
        for key in sorted(leavers):
            raw = self._get_issue(key, self._site.search_fields())
            if raw is None or raw.get("key") != key:
                batch = self._batch(poll, [raw] if raw is not None else [])
                batch.removed_issues.append(key)
                poll.seen.add(key)
                yield batch
            else:
                yield self._batch(poll, [raw])

    def _batch(self, poll: _Poll, page: list[dict[str, Any]]) -> Batch:
        """Turn one page of raw issues into a batch: epics as milestones, the rest as issues."""
        return self._batch_of(poll, self._classify_page(poll, page))

    def _classify_page(self, poll: _Poll | None, page: list[dict[str, Any]]) -> list[Classified]:
        """Classify each raw issue of a page (no store access once the memberships are read).

        `poll` is needed only by a source with JQL sets (`start_early` has none).
        """
        return [
            classify(
                raw,
                site_url=self.url,
                site=self._site,
                excluded_resolutions=self.excluded_resolutions,
                jql_keys=self._jql_keys(poll, raw) if poll is not None and self.jql_sets else (),
            )
            for raw in page
        ]

    def _batch_of(self, poll: _Poll, classified: list[Classified]) -> Batch:
        """Make the batch of classified issues, noting each as seen."""
        batch = Batch()
        for item in classified:
            poll.saw(item.key, item.updated_at)
            self._add(poll, batch, item)
        return batch

    def _add(self, poll: _Poll, batch: Batch, item: Classified) -> None:
        epics = poll.epics.setdefault(item.project, set())
        if item.is_epic and item.epic is not None:
            batch.milestones.append(item.epic)
            if item.key not in epics:
                epics.add(item.key)
                if item.key in poll.known_keys(item.project):
                    batch.removed_issues.append(item.key)  # a work item whose type became Epic
            return
        if item.key in epics:  # an epic whose type changed: no longer a milestone
            epics.discard(item.key)
            batch.removed_milestones.append(epic_key(item.key))
        if item.issue is None or (item.is_subtask and not self.include_subtasks):
            return  # a sub-task would count twice with its parent (SPEC §2)
        batch.issues.append(item.issue)

    def _jql_keys(self, poll: _Poll, raw: dict[str, Any]) -> list[str]:
        """Name the JQL sets a raw issue belongs to.

        A set's answer is exact for a recent issue (it fell under the same bound) and for
        every issue when the set was evaluated in full; for an older issue, nothing about it
        changed since the store last recorded its memberships, so those stand.
        """
        key, updated = str(raw["key"]), parse_time((raw.get("fields") or {}).get("updated"))
        found = []
        for jql_set in self.jql_sets:
            if key in poll.members.get(jql_set.key, {}):
                found.append(jql_set.key)
            elif poll.full[jql_set.key] or poll.recent(updated):
                continue
            elif key in poll.stored_members(jql_set.key):
                found.append(jql_set.key)
        return found

    def _deleted(self, poll: _Poll, *, read_in_full: set[str]) -> Iterator[Batch]:
        """List each project's issue keys (id-only, large pages) and remove the stored ones gone.

        Projects in `read_in_full` were searched without a bound in this poll, so the keys
        that search saw are the list already (a first sync would otherwise list them all a
        second time: 10 requests of 5,000 keys for a 50,000-issue site); and when such a
        project had no stored issue before the search, nothing stored can be missing.

        A key missing from the list is confirmed with a direct GET before it is removed: an
        offset page walk can miss an item when another issue is deleted meanwhile, and a
        wrongly removed issue would not come back until its next edit.
        """
        for project in self.projects:
            live = poll.seen if project in read_in_full else self._issue_keys(project)
            # Of a project read in full that had no stored issue, everything stored now came
            # from that read, so none is missing from it: no need to read its keys back.
            empty_before = project in read_in_full and not poll.had_issues.get(project, True)
            stored = set() if empty_before else poll.known.issue_keys(project)
            epics = poll.epics.get(project, set())
            candidates = sorted((stored | epics) - live)
            if len(candidates) > _MAX_UNCONFIRMED and len(candidates) * 2 > len(stored | epics):
                # Most of a project missing at once is far likelier a lost permission (Jira then
                # lists nothing and answers 404 for each issue) than a mass deletion; removing
                # them would empty the KRs. Say so and leave the store alone.
                logger.warning(
                    "source %s: the key list of %s lacks %d of %d stored issues; not removing them "
                    "(check that the account may still browse the project)",
                    self.name,
                    project,
                    len(candidates),
                    len(stored | epics),
                    extra={"source": self.name},
                )
                continue
            gone = [key for key in candidates if self._get_issue(key, ["key"], exact=True) is None]
            if not gone:
                continue
            logger.info(
                "source %s: %d issue(s) of %s deleted: %s",
                self.name,
                len(gone),
                project,
                ", ".join(gone[:10]),
                extra={"source": self.name},
            )
            batch = Batch(removed_issues=[k for k in gone if k in stored])
            batch.removed_milestones = [epic_key(k) for k in gone if k in epics]
            epics.difference_update(gone)
            yield batch

    def _issue_keys(self, project: str) -> set[str]:
        """List every issue key of a project with an id-only search in large pages."""
        page_size = 5000 if self._cloud else 1000  # id/key-only pages may be this large
        live: set[str] = set()
        what = f"listing the issue keys of project {project} (deleted-issue check)"
        for page in self._search(what, f"project = {quote_jql(project)}", ["key"], page_size=page_size):
            live.update(str(raw["key"]) for raw in page)
        return live

    # --- requests ----------------------------------------------------------------------------

    def _search(
        self,
        what: str,
        jql: str,
        fields: list[str],
        *,
        page_size: int,
        on_total: Callable[[int], None] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page of a search's raw issues (Cloud: page tokens; Data Center: offsets).

        Data Center's pages say how many issues match (`total`), told to `on_total` once;
        Cloud's `/search/jql` does not count (its count is a separate request, not made here).
        """
        jira = self.connect()
        if self._cloud:
            token: str | None = None
            used: set[str] = set()
            while True:
                call = functools.partial(
                    jira.enhanced_search_issues,
                    jql,
                    nextPageToken=token,
                    maxResults=page_size,
                    fields=list(fields),  # a copy: the client rewrites the list in place
                    json_result=True,
                )
                page = self.caller.call(what, call)
                yield _issues_of(page, self.name, what)
                token = page.get("nextPageToken") if isinstance(page, dict) else None
                if not token or page.get("isLast") is True:
                    return
                if token in used:
                    raise SourceError(self.name, f"{what}: Jira repeated a page token", retriable=True)
                used.add(token)
        start = 0
        while True:
            call = functools.partial(
                jira.search_issues,
                jql,
                startAt=start,
                maxResults=page_size,
                fields=list(fields),
                json_result=True,
            )
            page = self.caller.call(what, call)
            issues = _issues_of(page, self.name, what)
            total = int(page.get("total") or 0)
            if on_total is not None and start == 0:
                on_total(total)
            yield issues
            if not issues or start + len(issues) >= total:
                return
            start += len(issues) - (_STEP_BACK if len(issues) > _STEP_BACK else 0)

    def _get_issue(self, key: str, fields: list[str], *, exact: bool = False) -> dict[str, Any] | None:
        """Fetch one issue's raw JSON; None when Jira says it does not exist (404).

        With `exact`, an issue found under another key (it moved project) counts as gone too.
        """
        jira = self.connect()
        try:
            issue = self.caller.call(
                f"reading issue {key}",
                functools.partial(jira.issue, key, fields=",".join(fields)),
                passthrough=(404,),
            )
        except JIRAError:
            return None
        raw: dict[str, Any] = issue.raw
        if exact and raw.get("key") != key:
            return None
        return raw

    # --- metric KRs and checks ---------------------------------------------------------------

    def count(self, query: str) -> int:
        """Count the issues a JQL query matches (a metric KR's `value_query`).

        Cloud has no `total` on `/search/jql`; it answers `/search/approximate-count`, which is
        exact but for issues changed in the last few seconds. Data Center reports `total`.
        """
        jira = self.connect()
        what = f"counting {query!r}"
        if self._cloud:
            counted: Any = self.caller.call(what, functools.partial(jira.approximate_issue_count, query))
            return int(counted)
        page: Any = self.caller.call(
            what, functools.partial(jira.search_issues, query, maxResults=1, fields=["key"], json_result=True)
        )
        return int(page.get("total") or 0)

    def field_id(self, field: str) -> str | None:
        """Find a field's id by its name or id in the site's `/field` list (None: no such field)."""
        self.connect()
        return find_field(self._fields, field)

    def field_values(self, query: str, field: str) -> list[float]:
        """Read a numeric field of every issue a JQL query matches (a metric KR's sum or average).

        `field` is a field's name as users see it (`Story Points`) or its id; it is found in the
        site's `/field` list read at connect, as the story points field is. Issues where the
        field is empty or not a number give no value (the caller decides what that means).
        """
        field_id = self.field_id(field)
        if field_id is None:
            msg = f"value_field {field!r}: no such field on {self.url} (expected a field name or id from /rest/api/2/field)"
            raise SourceError(self.name, msg, retriable=False)
        values: dict[str, float | None] = {}
        for page in self._search(
            f"reading {field} of {query!r}", query, ["key", field_id], page_size=self.page_size
        ):
            for raw in page:  # a page overlap repeats keys: by key, each counts once
                values[str(raw.get("key"))] = finite_number((raw.get("fields") or {}).get(field_id))
        return [v for v in values.values() if v is not None]

    def version_names(self, project: str) -> list[str] | None:
        """List a project's fix version names, or None when the project does not exist."""
        jira = self.connect()
        try:
            versions = self.caller.call(
                f"listing the fix versions of project {project}",
                functools.partial(jira.project_versions, project),
                passthrough=(404,),
            )
        except JIRAError:
            return None
        return [str(v.raw.get("name") or "") for v in versions]

    def issue_type(self, key: str) -> dict[str, Any] | None:
        """Return an issue's raw type (to check an epic link), or None when it does not exist."""
        raw = self._get_issue(key, ["issuetype"], exact=True)
        if raw is None:
            return None
        return dict((raw.get("fields") or {}).get("issuetype") or {})

    def jql_problem(self, jql: str) -> str | None:
        """Return Jira's complaint about a JQL query (unknown field or value), or None if it runs."""
        jira = self.connect()
        call: Callable[[], Any]
        if self._cloud:
            call = functools.partial(
                jira.enhanced_search_issues, jql, maxResults=1, fields=["key"], json_result=True
            )
        else:
            call = functools.partial(jira.search_issues, jql, maxResults=1, fields=["key"], json_result=True)
        try:
            self.caller.call(f"checking JQL {jql!r}", call, passthrough=(400,))
        except JIRAError as exc:
            return str(exc.text or "Jira refused the query")
        return None


def _keys(projects: Sequence[str]) -> str:
    return ", ".join(quote_jql(p) for p in projects)


def _issues_of(page: Any, source: str, what: str) -> list[dict[str, Any]]:
    """Check a search page's shape: a JSON object with an `issues` list."""
    issues = page.get("issues") if isinstance(page, dict) else None
    if not isinstance(issues, list):
        msg = f"{what}: Jira answered {type(page).__name__} without an 'issues' list"
        raise SourceError(source, msg, retriable=True)
    return issues
