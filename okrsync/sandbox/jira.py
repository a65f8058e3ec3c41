"""A simulated Jira REST API (Cloud or Data Center) that the real `jira` client can talk to.

The simulator keeps the quirks that decide whether a connector is correct on a real site,
because a friendlier fake would let those connectors pass here and fail in production:

- Cloud removed `/rest/api/{2,3}/search` (410, CHANGE-2046); its replacement `/search/jql`
  pages with single-use opaque `nextPageToken`s, returns only `id` unless `fields` is given,
  and refuses unbounded JQL. Data Center still pages `/rest/api/2/search` with `startAt` and
  `total`, has no `/search/jql` and no `/rest/api/3`.
- JQL reads a zone-less date (`updated >= "2026-11-22 10:00"`) in the **account's** timezone,
  at minute precision; an epoch-millisecond bound is exact. A connector that sends UTC
  wall-clock strings therefore misses updates when the account is not on UTC.
- `!=` and `not in` never match an empty field (`labels != x` skips unlabelled issues), and a
  value that does not exist (`fixVersion = "9.9"`) is a 400, not an empty result.
- On Data Center an epic's children carry the epic in "Epic Link" (`customfield_10014`), not
  in `parent`; `parent` there only links sub-tasks. Cloud uses `parent` for both.
- Timestamps render as `2026-11-22T05:00:00.000-0500`, in the account's timezone.

Issues are indexed per project and matched id lists are kept per page token (and cached per
JQL for `startAt` paging), so a page of 100 out of 50,000 issues costs O(page), not O(site).
Fields are rendered only when asked for.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import time as _time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from okrsync.sandbox.http import Fault, Request, Response, SimServer

__all__ = ["SEARCH_REMOVED_V2", "SEARCH_REMOVED_V3", "JiraSim", "JqlError"]

Mode = Literal["cloud", "datacenter"]

# Verbatim bodies Jira Cloud answers on the removed search (fixtures/jira/search_*_410.json).
SEARCH_REMOVED_V3: dict[str, Any] = {
    "errorMessages": [
        "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
        "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
    ],
    "errors": {},
}
SEARCH_REMOVED_V2: dict[str, Any] = {
    "errorMessages": [
        "The requested API has been removed. Please use the newer, enhanced search-based API instead. "
        "Deprecation details are available at https://developer.atlassian.com/changelog/#CHANGE-2046."
    ],
    "errors": {},
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_EPIC_LINK_FIELD = "customfield_10014"  # Data Center's "Epic Link" (Jira Software's usual id)
_TOKEN_LIMIT = 10_000  # abandoned page tokens kept before the oldest are forgotten
_CACHE_LIMIT = 64  # matched-id lists kept for startAt paging


@dataclass(frozen=True)
class _Category:
    id: int
    key: str
    color: str
    name: str


# Jira's built-in status categories (ids, keys and colours as every site has them).
_CATEGORIES = {
    c.key: c
    for c in (
        _Category(2, "new", "blue-gray", "To Do"),
        _Category(4, "indeterminate", "yellow", "In Progress"),
        _Category(3, "done", "green", "Done"),
    )
}
# status name -> (status id, category key); the names of Jira's default workflows.
_STATUSES: dict[str, tuple[str, str]] = {
    "To Do": ("10000", "new"),
    "Open": ("1", "new"),
    "Backlog": ("10003", "new"),
    "In Progress": ("3", "indeterminate"),
    "In Review": ("10004", "indeterminate"),
    "Done": ("10001", "done"),
    "Resolved": ("5", "done"),
    "Closed": ("6", "done"),
}
# issue type name -> (id, subtask, hierarchyLevel)
_ISSUE_TYPES: dict[str, tuple[str, bool, int]] = {
    "Epic": ("10000", False, 1),
    "Story": ("10001", False, 0),
    "Task": ("10002", False, 0),
    "Sub-task": ("10003", True, -1),
    "Bug": ("10004", False, 0),
}
_RESOLUTIONS: dict[str, str] = {
    "Done": "10000",
    "Won't Do": "10001",
    "Duplicate": "10002",
    "Cannot Reproduce": "10003",
    "Won't Fix": "10004",
    "Fixed": "1",
}


class JqlError(ValueError):
    """A JQL query the simulator refuses; the message is what Jira would put in errorMessages."""


def _ms(moment: datetime) -> int:
    """Return epoch milliseconds, exactly (no float rounding)."""
    if moment.tzinfo is None:
        msg = f"expected a timezone-aware datetime, got {moment!r}"
        raise ValueError(msg)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _error(status: int, *messages: str) -> Response:
    return Response(status, {"errorMessages": list(messages), "errors": {}})


# --- state -------------------------------------------------------------------------------------


@dataclass
class _Project:
    id: int
    key: str
    name: str
    issues: dict[int, None] = field(default_factory=dict)  # issue ids, creation order
    versions: dict[int, None] = field(default_factory=dict)  # version ids, creation order
    next_number: int = 1


@dataclass
class _Version:
    id: int
    project: str
    name: str
    description: str
    release_date: date | None
    released: bool
    archived: bool


@dataclass(frozen=True)
class _User:
    handle: str
    display_name: str
    email: str
    account_id: str


@dataclass
class _Issue:
    id: int
    key: str
    number: int
    project: str
    summary: str
    issuetype: str
    status: str
    resolution: str | None
    fix_versions: list[int]
    parent: int | None
    labels: list[str]
    assignee: str | None
    duedate: date | None
    story_points: float | None
    created: int  # epoch ms, like every timestamp here
    updated: int
    statuscategorychangedate: int
    resolutiondate: int | None
    # Written through the REST API only (okrsync.sandbox.jira_writes): write-back's targets.
    description: str | None = None
    comments: list[dict[str, Any]] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)

    @property
    def category(self) -> str:
        return _STATUSES[self.status][1]

    @property
    def subtask(self) -> bool:
        return _ISSUE_TYPES[self.issuetype][1]


@dataclass
class _Cursor:
    """What a Cloud `nextPageToken` stands for: the matched ids, frozen at the first page."""

    jql: str
    ids: list[int]
    offset: int


@dataclass
class _Result:
    ids: list[int]
    warnings: list[str]
    bounded: bool


# --- JQL: tokenizer ----------------------------------------------------------------------------

_OPERATORS = ("!=", ">=", "<=", "!~", "=", ">", "<", "~")
_WORD_STOP = set("()=,!<>~\"'") | {" ", "\t", "\n", "\r"}
_KEYWORDS = {
    "and": "and",
    "&&": "and",
    "&": "and",
    "or": "or",
    "||": "or",
    "|": "or",
    "not": "not",
    "!": "not",
    "in": "in",
    "is": "is",
    "empty": "empty",
    "null": "empty",
    "order": "order",
    "by": "by",
    "asc": "asc",
    "desc": "desc",
}


@dataclass(frozen=True)
class _Tok:
    kind: str  # word | string | op | ( | ) | , | eof
    text: str
    pos: int

    @property
    def keyword(self) -> str | None:
        return _KEYWORDS.get(self.text.lower()) if self.kind == "word" else None

    def shown(self) -> str:
        return "end of query" if self.kind == "eof" else self.text


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "(),":
            tokens.append(_Tok(c, c, i))
            i += 1
        elif c in "\"'":
            start, i, chars = i, i + 1, []
            while i < n and text[i] != c:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                msg = f"Error in the JQL Query: The quoted string starting at character {start + 1} is not closed."
                raise JqlError(msg)
            tokens.append(_Tok("string", "".join(chars), start))
            i += 1
        elif op := next((o for o in _OPERATORS if text.startswith(o, i)), None):
            tokens.append(_Tok("op", op, i))
            i += len(op)
        elif c == "!":
            tokens.append(_Tok("word", "!", i))
            i += 1
        else:
            start = i
            while i < n and text[i] not in _WORD_STOP:
                i += 1
            tokens.append(_Tok("word", text[start:i], start))
    tokens.append(_Tok("eof", "", n))
    return tokens


# --- JQL: syntax tree and parser ---------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    text: str
    quoted: bool = False
    args: tuple[str, ...] | None = None  # not None: a function call such as subTaskIssueTypes()


@dataclass(frozen=True)
class _Clause:
    field: str
    op: str  # = != > >= < <= ~ !~ in, not in, is, is not
    values: tuple[_Value, ...]
    pos: int


@dataclass(frozen=True)
class _Bool:
    op: str  # and | or
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Not:
    item: _Node


_Node = _Clause | _Bool | _Not


@dataclass(frozen=True)
class _Query:
    where: _Node | None
    order: tuple[tuple[str, bool], ...]  # (field, descending)


class _Parser:
    """Recursive descent over: or_expr [ORDER BY field [ASC|DESC], ...]."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    @property
    def tok(self) -> _Tok:
        return self.tokens[self.i]

    def _next(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _fail(self, expected: str) -> JqlError:
        tok = self.tok
        return JqlError(
            f"Error in the JQL Query: Expecting {expected} but got '{tok.shown()}'. "
            f"(line 1, character {tok.pos + 1})"
        )

    def parse(self) -> _Query:
        where = None
        if self.tok.kind != "eof" and self.tok.keyword != "order":
            where = self._or()
        order: list[tuple[str, bool]] = []
        if self.tok.keyword == "order":
            self._next()
            if self.tok.keyword != "by":
                raise self._fail("'by'")
            self._next()
            while True:
                tok = self._next()
                if tok.kind not in ("word", "string") or (tok.kind == "word" and tok.keyword):
                    self.i -= 1
                    raise self._fail("a field name")
                descending = False
                if self.tok.keyword in ("asc", "desc"):
                    descending = self._next().keyword == "desc"
                order.append((tok.text, descending))
                if self.tok.kind != ",":
                    break
                self._next()
        if self.tok.kind != "eof":
            raise self._fail("either 'OR' or 'AND'")
        return _Query(where, tuple(order))

    def _or(self) -> _Node:
        items = [self._and()]
        while self.tok.keyword == "or":
            self._next()
            items.append(self._and())
        return items[0] if len(items) == 1 else _Bool("or", tuple(items))

    def _and(self) -> _Node:
        items = [self._unary()]
        while self.tok.keyword == "and":
            self._next()
            items.append(self._unary())
        return items[0] if len(items) == 1 else _Bool("and", tuple(items))

    def _unary(self) -> _Node:
        if self.tok.keyword == "not":
            self._next()
            return _Not(self._unary())
        if self.tok.kind == "(":
            self._next()
            node = self._or()
            if self.tok.kind != ")":
                raise self._fail("')'")
            self._next()
            return node
        return self._clause()

    def _clause(self) -> _Clause:
        tok = self.tok
        if tok.kind not in ("word", "string") or (tok.kind == "word" and tok.keyword):
            raise self._fail("a field name")
        self._next()
        op = self._operator()
        values: tuple[_Value, ...]
        if op in ("is", "is not"):
            if self.tok.keyword != "empty":
                raise self._fail("'EMPTY'")
            self._next()
            values = ()
        elif op in ("in", "not in"):
            if self.tok.kind == "(":
                self._next()
                items = [self._value()]
                while self.tok.kind == ",":
                    self._next()
                    items.append(self._value())
                if self.tok.kind != ")":
                    raise self._fail("')'")
                self._next()
                values = tuple(items)
            else:
                value = self._value()
                if value.args is None:
                    self.i -= 1
                    raise self._fail("'('")
                values = (value,)
        elif self.tok.keyword == "empty" and op in ("=", "!="):
            self._next()
            op, values = ("is" if op == "=" else "is not"), ()
        else:
            values = (self._value(),)
        return _Clause(tok.text, op, values, tok.pos)

    def _operator(self) -> str:
        tok = self.tok
        if tok.kind == "op":
            self._next()
            return tok.text
        if tok.keyword == "in":
            self._next()
            return "in"
        if tok.keyword == "not":
            self._next()
            if self.tok.keyword != "in":
                raise self._fail("'in'")
            self._next()
            return "not in"
        if tok.keyword == "is":
            self._next()
            if self.tok.keyword == "not":
                self._next()
                return "is not"
            return "is"
        raise self._fail("operator")

    def _value(self) -> _Value:
        tok = self.tok
        if tok.kind == "string":
            self._next()
            return _Value(tok.text, quoted=True)
        if tok.kind != "word" or tok.keyword in ("and", "or", "order", "in", "is"):
            raise self._fail("a value")
        self._next()
        if self.tok.kind != "(":
            return _Value(tok.text)
        self._next()
        args: list[str] = []
        while self.tok.kind in ("word", "string"):
            args.append(self._next().text)
            if self.tok.kind != ",":
                break
            self._next()
        if self.tok.kind != ")":
            raise self._fail("')'")
        self._next()
        return _Value(tok.text, args=tuple(args))


# --- JQL: compiling to predicates --------------------------------------------------------------

_Pred = Callable[[_Issue], bool]

# clause name (lower case) -> the simulator's field; names as in /field's clauseNames.
_JQL_FIELDS = {
    "project": "project",
    "fixversion": "fixVersion",
    "parent": "parent",
    "epic link": "epicLink",
    "cf[10014]": "epicLink",
    "labels": "labels",
    "issuetype": "issuetype",
    "type": "issuetype",
    "statuscategory": "statusCategory",
    "status": "status",
    "key": "key",
    "issuekey": "key",
    "issue": "key",
    "id": "key",
    "resolution": "resolution",
    "assignee": "assignee",
    "summary": "summary",
    "updated": "updated",
    "updateddate": "updated",
    "created": "created",
    "createddate": "created",
    "resolved": "resolutiondate",
    "resolutiondate": "resolutiondate",
    "statuscategorychangeddate": "statuscategorychangedate",
    "due": "duedate",
    "duedate": "duedate",
}
_DATE_FIELDS = {"updated", "created", "resolutiondate", "statuscategorychangedate", "duedate"}
_DATE_FORMAT_HELP = (
    "Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
    "or a period format e.g. '-5d', '4w 2d'."
)
_DATE_RE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$")
_PERIOD_RE = re.compile(r"^([-+]?)\s*((?:\d+[wdhm]\s*)+)$")
_PERIOD_UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
}


class _Compiler:
    """Turn a parsed query into a predicate, resolving names to ids once, not per issue."""

    def __init__(self, sim: JiraSim, *, lenient: bool) -> None:
        self.sim = sim
        self.lenient = lenient  # Data Center validateQuery=warn: unknown values warn, match nothing
        self.warnings: list[str] = []
        self.uses_clock = False

    def compile(self, node: _Node) -> _Pred:
        if isinstance(node, _Not):
            inner = self.compile(node.item)
            return lambda issue: not inner(issue)
        if isinstance(node, _Bool):
            preds = [self.compile(item) for item in node.items]
            if node.op == "and":
                return lambda issue: all(p(issue) for p in preds)
            return lambda issue: any(p(issue) for p in preds)
        return self._clause(node)

    def _missing(self, message: str) -> set[Any]:
        if not self.lenient:
            raise JqlError(message)
        self.warnings.append(message)
        return set()

    def _clause(self, clause: _Clause) -> _Pred:
        name = _JQL_FIELDS.get(clause.field.lower())
        if name is None:
            msg = f"Field '{clause.field}' does not exist or you do not have permission to view it."
            raise JqlError(msg)
        if name in _DATE_FIELDS:
            return self._date_clause(name, clause)
        if name == "summary":
            return self._text_clause(clause)
        getter = self._getter(name)
        if clause.op in ("is", "is not"):
            empty = clause.op == "is"
            return lambda issue: (not getter(issue)) == empty
        if clause.op not in ("=", "!=", "in", "not in"):
            msg = f"The operator '{clause.op}' is not supported by the '{clause.field}' field."
            raise JqlError(msg)
        wanted: set[Any] = set()
        for value in clause.values:
            wanted |= self._resolve(name, clause.field, value)
        match_empty = name == "resolution" and "unresolved" in wanted  # resolution = Unresolved
        if clause.op in ("=", "in"):
            return lambda issue: (
                bool(wanted.intersection(getter(issue))) or (match_empty and not getter(issue))
            )

        # Jira's negative operators never match an empty field.
        def negative(issue: _Issue) -> bool:
            got = getter(issue)
            return bool(got) and not wanted.intersection(got)

        return negative

    def _getter(self, name: str) -> Callable[[_Issue], Iterable[Any]]:
        sim = self.sim
        if name == "project":
            return lambda issue: (issue.project,)
        if name == "fixVersion":
            return lambda issue: issue.fix_versions
        if name == "parent":
            if sim.mode == "datacenter":  # DC's parent links sub-tasks only; epics use Epic Link
                return lambda issue: (issue.parent,) if issue.parent is not None and issue.subtask else ()
            return lambda issue: (issue.parent,) if issue.parent is not None else ()
        if name == "epicLink":
            return lambda issue: (issue.parent,) if issue.parent is not None and not issue.subtask else ()
        if name == "labels":
            return lambda issue: [label.lower() for label in issue.labels]
        if name == "issuetype":
            return lambda issue: (issue.issuetype.lower(),)
        if name == "statusCategory":
            return lambda issue: (issue.category,)
        if name == "status":
            return lambda issue: (issue.status.lower(),)
        if name == "key":
            return lambda issue: (issue.id,)
        if name == "resolution":
            return lambda issue: (issue.resolution.lower(),) if issue.resolution else ()
        if name == "assignee":
            return lambda issue: (issue.assignee,) if issue.assignee else ()
        msg = f"no getter for {name}"
        raise AssertionError(msg)

    def _resolve(self, name: str, shown: str, value: _Value) -> set[Any]:
        """Return the internal ids a JQL value stands for (a 400 when it names nothing)."""
        sim, text, low = self.sim, value.text, value.text.lower()
        not_found = f"The value '{text}' does not exist for the field '{shown}'."
        if value.args is not None:
            return self._function(name, shown, value)
        found: set[Any]
        if name == "project":
            found = {
                p.key for p in sim._projects.values() if low in (p.key.lower(), p.name.lower(), str(p.id))
            }
            return found or self._missing(not_found)
        if name == "fixVersion":
            found = {v.id for v in sim._versions.values() if low in (v.name.lower(), str(v.id))}
            return found or self._missing(not_found)
        if name in ("parent", "epicLink", "key"):
            issue = sim._find_issue(text)
            if issue is None:
                if text.isdigit() and name == "key":
                    return set()
                return self._missing(f"An issue with key '{text}' does not exist for field '{shown}'.")
            return {issue.id}
        if name == "labels":
            return {low}
        if name == "issuetype":
            found = {n.lower() for n, (tid, _, _) in _ISSUE_TYPES.items() if low in (n.lower(), tid)}
            return found or self._missing(not_found)
        if name == "statusCategory":
            found = {c.key for c in _CATEGORIES.values() if low in (c.key, c.name.lower(), str(c.id))}
            return found or self._missing(not_found)
        if name == "status":
            found = {n.lower() for n, (sid, _) in _STATUSES.items() if low in (n.lower(), sid)}
            return found or self._missing(not_found)
        if name == "resolution":
            if low == "unresolved":
                return {"unresolved"}
            found = {n.lower() for n, rid in _RESOLUTIONS.items() if low in (n.lower(), rid)}
            return found or self._missing(not_found)
        if name == "assignee":
            found = {
                u.handle
                for u in sim._users.values()
                if low in (u.handle.lower(), u.account_id.lower(), u.email.lower(), u.display_name.lower())
            }
            return found or self._missing(not_found)
        msg = f"no resolver for {name}"
        raise AssertionError(msg)

    def _function(self, name: str, shown: str, value: _Value) -> set[Any]:
        fn, args = value.text.lower(), value.args or ()
        if name == "issuetype" and fn == "subtaskissuetypes":
            return {n.lower() for n, (_, sub, _) in _ISSUE_TYPES.items() if sub}
        if name == "issuetype" and fn == "standardissuetypes":
            return {n.lower() for n, (_, sub, _) in _ISSUE_TYPES.items() if not sub}
        if name == "fixVersion" and fn in ("releasedversions", "unreleasedversions"):
            want_released = fn == "releasedversions"
            projects = {a.lower() for a in args}
            return {
                v.id
                for v in self.sim._versions.values()
                if v.released == want_released
                and not (v.archived and not want_released)
                and (not projects or v.project.lower() in projects)
            }
        msg = (
            f"Error in the JQL Query: the function '{value.text}()' is not supported for the field '{shown}'."
        )
        raise JqlError(msg)

    def _text_clause(self, clause: _Clause) -> _Pred:
        if clause.op not in ("~", "!~"):
            msg = f"The operator '{clause.op}' is not supported by the '{clause.field}' field."
            raise JqlError(msg)
        needle = clause.values[0].text.lower().strip("*")
        contains = clause.op == "~"
        return lambda issue: (needle in issue.summary.lower()) == contains

    def _date_clause(self, name: str, clause: _Clause) -> _Pred:
        sim = self.sim
        if name == "duedate":

            def getter(issue: _Issue) -> int | None:
                return sim._day_start_ms(issue.duedate) if issue.duedate else None

        else:

            def getter(issue: _Issue) -> int | None:
                return getattr(issue, name)  # type: ignore[no-any-return]

        op = clause.op
        if op in ("is", "is not"):
            empty = op == "is"
            return lambda issue: (getter(issue) is None) == empty
        if op in ("in", "not in", "~", "!~"):
            msg = f"The operator '{op}' is not supported by the '{clause.field}' field."
            raise JqlError(msg)
        bound = self._date_value(clause.field, clause.values[0])
        compare: dict[str, Callable[[int], bool]] = {
            "=": lambda v: v == bound,
            "!=": lambda v: v != bound,
            ">": lambda v: v > bound,
            ">=": lambda v: v >= bound,
            "<": lambda v: v < bound,
            "<=": lambda v: v <= bound,
        }
        test = compare[op]

        def pred(issue: _Issue) -> bool:
            got = getter(issue)
            return got is not None and test(got)

        return pred

    def _date_value(self, shown: str, value: _Value) -> int:
        """Read a JQL date: epoch ms exactly; a zone-less date in the account's timezone."""
        sim, text = self.sim, value.text.strip()
        if value.args is not None:
            fn = text.lower()
            now = sim._now()
            self.uses_clock = True
            if fn == "now":
                return _ms(now)
            local = now.astimezone(sim.tz)
            start = datetime.combine(local.date(), time(0), tzinfo=sim.tz)
            if fn == "startofday":
                return _ms(start)
            if fn == "endofday":
                return _ms(start.replace(hour=23, minute=59, second=59, microsecond=999000))
            msg = f"Error in the JQL Query: the function '{value.text}()' is not supported for the field '{shown}'."
            raise JqlError(msg)
        if text.isdigit():
            return int(text)
        if m := _DATE_RE.match(text):
            year, month, day, hour, minute = (int(g) if g else 0 for g in m.groups())
            try:
                local = datetime(year, month, day, hour, minute, tzinfo=sim.tz)
            except ValueError:
                pass
            else:
                return _ms(local)
        elif m := _PERIOD_RE.match(text):
            self.uses_clock = True
            span = sum(
                (int(n) * _PERIOD_UNITS[u] for n, u in re.findall(r"(\d+)([wdhm])", m.group(2))), timedelta()
            )
            return _ms(sim._now() - span if m.group(1) == "-" else sim._now() + span)
        msg = f"Date value '{value.text}' for field '{shown}' is invalid. {_DATE_FORMAT_HELP}"
        raise JqlError(msg)


def _candidates(sim: JiraSim, node: _Node | None) -> list[int] | None:
    """Narrow a search to the projects (or keys) a query is bound to; None means every issue."""
    if isinstance(node, _Clause) and node.op in ("=", "in"):
        name = _JQL_FIELDS.get(node.field.lower())
        if name == "project" and all(v.args is None for v in node.values):
            keys = []
            for value in node.values:
                low = value.text.lower()
                keys += [
                    p.key for p in sim._projects.values() if low in (p.key.lower(), p.name.lower(), str(p.id))
                ]
            out: list[int] = []
            for key in dict.fromkeys(keys):
                out += sim._projects[key].issues
            return out
        if name == "key":
            found = [sim._find_issue(v.text) for v in node.values]
            return sorted({issue.id for issue in found if issue is not None})
        return None
    if isinstance(node, _Bool) and node.op == "and":
        narrowed = [c for c in (_candidates(sim, item) for item in node.items) if c is not None]
        return min(narrowed, key=len) if narrowed else None
    if isinstance(node, _Bool) and node.op == "or":
        parts = [_candidates(sim, item) for item in node.items]
        if any(p is None for p in parts):
            return None
        return sorted({i for p in parts for i in p or ()})
    return None


# --- the simulator -----------------------------------------------------------------------------

_API_PATH = re.compile(r"^/rest/api/(2|3|latest)(/.*)?$")
_SORTABLE = {"updated", "created", "resolutiondate", "statuscategorychangedate", "duedate", "key"}
_SORTABLE |= {"project", "summary", "status", "issuetype"}


class JiraSim(SimServer):
    """A Jira site on 127.0.0.1: projects, fix versions, issues, and the REST calls okrsync makes.

    `mode` picks the deployment: "cloud" (basic auth with email:api_token, `/search/jql`, v2 and
    v3 paths) or "datacenter" (bearer personal access token, `/rest/api/2/search`, v2 only).
    `users` maps an accepted credential ("email:token" on Cloud, the PAT on Data Center) to the
    client's name; None accepts any credential of the right scheme. `clock` stands in for now,
    so tests decide what `updated` says.
    """

    def __init__(
        self,
        mode: Mode = "cloud",
        *,
        account_timezone: str = "UTC",
        users: dict[str, str] | None = None,
        story_points_field: str = "customfield_10016",
        story_points_name: str = "Story Points",
        clock: Callable[[], datetime] | None = None,
        deployment_type: Literal["Server", "DataCenter"] = "Server",
    ) -> None:
        super().__init__()
        if mode not in ("cloud", "datacenter"):
            msg = f"mode must be 'cloud' or 'datacenter', got {mode!r}"
            raise ValueError(msg)
        self.mode: Mode = mode
        self.account_timezone = account_timezone
        self.tz = ZoneInfo(account_timezone)
        self.users = users
        self.story_points_field = story_points_field
        self.story_points_name = story_points_name
        self.deployment_type = deployment_type  # what Data Center's serverInfo says
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._projects: dict[str, _Project] = {}
        self._versions: dict[int, _Version] = {}
        self._issues: dict[int, _Issue] = {}
        self._keys: dict[str, int] = {}
        self._users: dict[str, _User] = {}
        self._next_issue_id = 10000
        self._next_version_id = 10000
        self._rev = 0  # bumped on every change; keys the JQL result cache
        self._tokens: OrderedDict[str, _Cursor] = OrderedDict()
        self._cache: OrderedDict[tuple[str, bool], tuple[int, _Result]] = OrderedDict()
        self._offsets: dict[int, int] = {}  # quarter hour since the epoch -> UTC offset, seconds
        # Clients that may browse but not edit, comment or create (okrsync.sandbox.jira_writes).
        self.read_only: set[str] = set()

    # --- Python API: building the site --------------------------------------------------------

    def add_project(self, key: str, name: str | None = None) -> str:
        """Create a project; return its id."""
        with self.lock:
            if key in self._projects:
                msg = f"project {key} already exists"
                raise ValueError(msg)
            project = _Project(id=10000 + len(self._projects), key=key, name=name or key)
            self._projects[key] = project
            self._touch()
            return str(project.id)

    def add_user(self, handle: str, *, display_name: str | None = None, email: str | None = None) -> None:
        """Register an assignee (issues may also name one that was never added: it is created)."""
        with self.lock:
            self._user(handle, display_name=display_name, email=email)

    def add_version(
        self,
        project: str,
        name: str,
        *,
        release_date: date | None = None,
        released: bool = False,
        archived: bool = False,
        description: str = "",
    ) -> str:
        """Create a fix version in a project; return its id."""
        with self.lock:
            proj = self._project(project)
            if self._version_named(proj, name, missing_ok=True) is not None:
                msg = f"version {name!r} already exists in {project}"
                raise ValueError(msg)
            version = _Version(
                self._next_version_id, project, name, description, release_date, released, archived
            )
            self._next_version_id += 1
            self._versions[version.id] = version
            proj.versions[version.id] = None
            self._touch()
            return str(version.id)

    def set_release_date(self, project: str, name: str, release_date: date | None) -> None:
        """Move (or clear) a version's release date; issues are not touched, as in Jira."""
        self.update_version(project, name, release_date=release_date)

    def update_version(
        self,
        project: str,
        name: str,
        *,
        release_date: date | None | Literal["keep"] = "keep",
        released: bool | None = None,
        archived: bool | None = None,
        description: str | None = None,
    ) -> None:
        """Change a version's attributes (versions have no changelog: clients diff them)."""
        with self.lock:
            version = self._version_named(self._project(project), name)
            assert version is not None
            if release_date != "keep":
                version.release_date = release_date
            if released is not None:
                version.released = released
            if archived is not None:
                version.archived = archived
            if description is not None:
                version.description = description
            self._touch()

    def rename_version(self, project: str, name: str, new_name: str) -> None:
        """Rename a version (its id stays; a link by name breaks)."""
        with self.lock:
            proj = self._project(project)
            version = self._version_named(proj, name)
            assert version is not None
            if self._version_named(proj, new_name, missing_ok=True) is not None:
                msg = f"version {new_name!r} already exists in {project}"
                raise ValueError(msg)
            version.name = new_name
            self._touch()

    def delete_version(self, project: str, name: str) -> None:
        """Delete a version and drop it from every issue's fix versions (`updated` stays, as in Jira)."""
        with self.lock:
            proj = self._project(project)
            version = self._version_named(proj, name)
            assert version is not None
            del self._versions[version.id]
            del proj.versions[version.id]
            for issue_id in proj.issues:
                issue = self._issues[issue_id]
                if version.id in issue.fix_versions:
                    issue.fix_versions.remove(version.id)
            self._touch()

    def add_issue(
        self,
        project: str,
        summary: str,
        *,
        issuetype: str = "Task",
        status: str = "To Do",
        resolution: str | None = None,
        fix_versions: Iterable[str] = (),
        parent: str | None = None,
        labels: Iterable[str] = (),
        assignee: str | None = None,
        duedate: date | None = None,
        story_points: float | None = None,
    ) -> str:
        """Create an issue now (by the clock); return its key (ONB-1, ONB-2, ...)."""
        with self.lock:
            proj = self._project(project)
            self._check_status(status, resolution)
            if issuetype not in _ISSUE_TYPES:
                msg = f"issuetype must be one of {sorted(_ISSUE_TYPES)}, got {issuetype!r}"
                raise ValueError(msg)
            now = _ms(self._now())
            issue = _Issue(
                id=self._next_issue_id,
                key=f"{project}-{proj.next_number}",
                number=proj.next_number,
                project=project,
                summary=summary,
                issuetype=issuetype,
                status=status,
                resolution=resolution,
                fix_versions=self._version_ids(proj, fix_versions),
                parent=None,
                labels=list(labels),
                assignee=self._user(assignee).handle if assignee else None,
                duedate=duedate,
                story_points=story_points,
                created=now,
                updated=now,
                statuscategorychangedate=now,
                resolutiondate=now if resolution else None,
            )
            issue.parent = self._check_parent(issue, parent)
            self._next_issue_id += 1
            proj.next_number += 1
            self._issues[issue.id] = issue
            self._keys[issue.key] = issue.id
            proj.issues[issue.id] = None
            self._touch()
            return issue.key

    def transition(self, key: str, status: str, resolution: str | None = None) -> None:
        """Move an issue to a status; the resolution (and its date) is set as given, or cleared."""
        with self.lock:
            issue = self._issue(key)
            self._check_status(status, resolution)
            now = _ms(self._now())
            if _STATUSES[status][1] != issue.category:
                issue.statuscategorychangedate = now
            if resolution != issue.resolution:
                issue.resolutiondate = now if resolution else None
            issue.status, issue.resolution, issue.updated = status, resolution, now
            self._touch()

    def update_issue(self, key: str, **fields: Any) -> None:
        """Change some fields and stamp `updated`, as any edit in Jira does.

        Settable: summary, issuetype, fix_versions (names), parent (a key or None), labels,
        assignee, duedate, story_points. Status and resolution go through `transition`.
        """
        allowed = {
            "summary",
            "issuetype",
            "fix_versions",
            "parent",
            "labels",
            "assignee",
            "duedate",
            "story_points",
        }
        unknown = set(fields) - allowed
        if unknown:
            msg = f"update_issue() cannot set {sorted(unknown)}; allowed: {sorted(allowed)} (status: transition())"
            raise TypeError(msg)
        with self.lock:
            issue = self._issue(key)
            proj = self._projects[issue.project]
            if "issuetype" in fields and fields["issuetype"] not in _ISSUE_TYPES:
                msg = f"issuetype must be one of {sorted(_ISSUE_TYPES)}, got {fields['issuetype']!r}"
                raise ValueError(msg)
            for name, value in fields.items():
                if name == "fix_versions":
                    issue.fix_versions = self._version_ids(proj, value)
                elif name == "labels":
                    issue.labels = list(value)
                elif name == "assignee":
                    issue.assignee = self._user(value).handle if value else None
                elif name != "parent":
                    setattr(issue, name, value)
            if "parent" in fields:
                issue.parent = self._check_parent(issue, fields["parent"])
            issue.updated = _ms(self._now())
            self._touch()

    def delete_issue(self, key: str) -> None:
        """Delete an issue with its sub-tasks; an epic's children lose their parent."""
        with self.lock:
            issue = self._issue(key)
            now = _ms(self._now())
            for other in list(self._issues.values()):
                if other.parent == issue.id:
                    if other.subtask:
                        self._forget(other)
                    else:
                        other.parent, other.updated = None, now
            self._forget(issue)
            self._touch()

    def search(self, jql: str) -> list[str]:
        """Return the keys a JQL query matches, in order (the engine behind both searches)."""
        with self.lock:
            return [self._issues[i].key for i in self._run(jql).ids]

    def throttle(self, retry_after: str, *, status: int = 429, times: int = 1, path: str = "") -> Fault:
        """Answer the next `times` matching requests with `status` and `Retry-After` as given.

        `retry_after` is sent verbatim: seconds ("2") or an HTTP date. A 429 also carries
        Jira Cloud's other rate-limit headers (X-RateLimit-Reset, RateLimit-Reason).
        """
        headers = {"Retry-After": retry_after}
        if status == 429:
            if retry_after.strip().isdigit():
                reset = self._now() + timedelta(seconds=int(retry_after))
            else:
                reset = parsedate_to_datetime(retry_after)
            headers["X-RateLimit-Reset"] = reset.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
            headers["X-RateLimit-Limit"] = "100"
            headers["X-RateLimit-Remaining"] = "0"
            headers["RateLimit-Reason"] = "jira-burst-based"
            body: dict[str, Any] = {"errorMessages": ["Rate limit exceeded."], "errors": {}}
        else:
            body = {"errorMessages": ["Service Unavailable"], "errors": {}}
        return self.inject(Fault(status=status, path=path, times=times, body=body, headers=headers))

    # --- internals: state ----------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            msg = f"the simulator's clock must return an aware datetime, got {now!r}"
            raise ValueError(msg)
        return now

    def _touch(self) -> None:
        self._rev += 1

    def _project(self, key: str) -> _Project:
        try:
            return self._projects[key]
        except KeyError:
            msg = f"no project {key!r} (known: {sorted(self._projects)})"
            raise KeyError(msg) from None

    def _version_named(self, proj: _Project, name: str, *, missing_ok: bool = False) -> _Version | None:
        for vid in proj.versions:
            if self._versions[vid].name == name:
                return self._versions[vid]
        if missing_ok:
            return None
        msg = f"no version {name!r} in {proj.key}"
        raise KeyError(msg)

    def _version_ids(self, proj: _Project, names: Iterable[str]) -> list[int]:
        out = []
        for name in names:
            version = self._version_named(proj, name)
            assert version is not None
            out.append(version.id)
        return out

    def _issue(self, key: str) -> _Issue:
        issue = self._find_issue(key)
        if issue is None:
            msg = f"no issue {key!r}"
            raise KeyError(msg)
        return issue

    def _find_issue(self, key_or_id: str) -> _Issue | None:
        if key_or_id.isdigit():
            return self._issues.get(int(key_or_id))
        issue_id = self._keys.get(key_or_id.upper())
        return self._issues.get(issue_id) if issue_id is not None else None

    def _forget(self, issue: _Issue) -> None:
        del self._issues[issue.id]
        del self._keys[issue.key]
        del self._projects[issue.project].issues[issue.id]

    def _check_status(self, status: str, resolution: str | None) -> None:
        if status not in _STATUSES:
            msg = f"status must be one of {sorted(_STATUSES)}, got {status!r}"
            raise ValueError(msg)
        if resolution is not None and resolution not in _RESOLUTIONS:
            msg = f"resolution must be one of {sorted(_RESOLUTIONS)} or None, got {resolution!r}"
            raise ValueError(msg)

    def _check_parent(self, issue: _Issue, parent: str | None) -> int | None:
        """Keep Jira's hierarchy: sub-tasks under standard issues, standard issues under epics."""
        if parent is None:
            if issue.subtask:
                msg = f"a Sub-task needs a parent ({issue.key})"
                raise ValueError(msg)
            return None
        target = self._issue(parent)
        wanted = "a standard issue (Task, Story, Bug)" if issue.subtask else "an Epic"
        ok = (
            (not target.subtask and target.issuetype != "Epic")
            if issue.subtask
            else target.issuetype == "Epic"
        )
        if not ok or target.id == issue.id:
            msg = f"the parent of {issue.issuetype} {issue.key} must be {wanted}, got {target.key}"
            raise ValueError(msg)
        return target.id

    def _user(self, handle: str, *, display_name: str | None = None, email: str | None = None) -> _User:
        user = self._users.get(handle)
        if user is None or display_name or email:
            account_id = "712020:" + hashlib.sha1(handle.encode()).hexdigest()[:24]
            user = _User(handle, display_name or handle, email or f"{handle}@example.com", account_id)
            self._users[handle] = user
        return user

    def _day_start_ms(self, day: date) -> int:
        return _ms(datetime.combine(day, time(0), tzinfo=self.tz))

    def _run(self, jql: str, *, lenient: bool = False) -> _Result:
        """Match and order a query; results are cached until the site changes."""
        cached = self._cache.get((jql, lenient))
        if cached is not None and cached[0] == self._rev:
            return cached[1]
        query = _Parser(jql).parse()
        compiler = _Compiler(self, lenient=lenient)
        pred = compiler.compile(query.where) if query.where is not None else None
        sorters = [self._sorter(name, descending) for name, descending in query.order]
        candidates = _candidates(self, query.where)
        pool: Iterable[int] = self._issues if candidates is None else candidates
        ids = [i for i in pool if i in self._issues and (pred is None or pred(self._issues[i]))]
        if not query.order:
            ids.sort(reverse=True)  # no ORDER BY: newest issue first
        else:
            ids.sort()
            for key, descending in reversed(sorters):
                ids.sort(key=key, reverse=descending)
        result = _Result(ids, compiler.warnings, bounded=query.where is not None)
        if not compiler.uses_clock:
            self._cache[(jql, lenient)] = (self._rev, result)
            while len(self._cache) > _CACHE_LIMIT:
                self._cache.popitem(last=False)
        return result

    def _sorter(self, field_name: str, descending: bool) -> tuple[Callable[[int], Any], bool]:
        name = _JQL_FIELDS.get(field_name.lower())
        if name is None:
            msg = f"Field '{field_name}' does not exist or you do not have permission to view it."
            raise JqlError(msg)
        if name not in _SORTABLE:
            msg = f"Not able to sort using field '{field_name}'."
            raise JqlError(msg)
        issues = self._issues

        def key(issue_id: int) -> tuple[bool, Any]:
            issue = issues[issue_id]
            value: Any
            if name == "key":
                value = (issue.project, issue.number)
            elif name == "duedate":
                value = issue.duedate
            elif name == "status":
                value = issue.status
            else:
                value = getattr(issue, name)
            return (value is None, value if value is not None else 0)

        return key, descending

    # --- internals: HTTP -----------------------------------------------------------------------

    def authenticate(self, request: Request) -> str | None:
        """Accept Basic email:token on Cloud and Bearer PAT on Data Center, nothing else."""
        scheme, _, credential = request.authorization.partition(" ")
        if self.mode == "cloud":
            if scheme.lower() != "basic":
                return None
            try:
                decoded = base64.b64decode(credential, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                return None
            email, sep, token = decoded.partition(":")
            if not sep or not email or not token:
                return None
            return email if self.users is None else self.users.get(decoded)
        if scheme.lower() != "bearer" or not credential:
            return None
        return "pat-user" if self.users is None else self.users.get(credential)

    def unauthorized(self, request: Request) -> Response:
        """Answer 401 as each deployment does (Cloud's gateway body; DC's Seraph header)."""
        if self.mode == "cloud":
            return Response(
                401,
                {"message": "Client must be authenticated to access this resource.", "status-code": 401},
                {"WWW-Authenticate": 'Basic realm="protected-area"'},
            )
        return Response(
            401,
            {
                "errorMessages": [
                    "You are not authenticated. Authentication required to perform this operation."
                ],
                "errors": {},
            },
            {"X-Seraph-LoginReason": "AUTHENTICATED_FAILED", "WWW-Authenticate": 'OAuth realm="jira"'},
        )

    def route(self, request: Request) -> Response:
        m = _API_PATH.match(request.path)
        if m is None:
            return self._not_found(request)
        version = "2" if m.group(1) == "latest" else m.group(1)
        if version == "3" and self.mode == "datacenter":
            return self._not_found(request)  # Data Center has no REST v3
        rest = (m.group(2) or "/").rstrip("/") or "/"
        from okrsync.sandbox.jira_writes import WRITE_ROUTES

        allowed = False
        for methods, pattern, handler in [*self._ROUTES, *WRITE_ROUTES]:
            hit = pattern.match(rest)
            if hit is None:
                continue
            if request.method not in methods:
                allowed = True  # the path exists, for other methods (one path, several routes)
                continue
            return handler(self, request, version, *hit.groups())
        if allowed:
            return Response(405, {"message": f"Method {request.method} not allowed", "status-code": 405})
        return self._not_found(request)

    def _not_found(self, request: Request) -> Response:
        # Jira's REST layer (Jersey) answers unknown resources like this.
        return Response(404, {"message": f"null for uri: {self.url}{request.path}", "status-code": 404})

    # handlers ---------------------------------------------------------------------------------

    def _h_server_info(self, request: Request, version: str) -> Response:
        now = self._stamp(_ms(self._now()))
        if self.mode == "cloud":
            return Response(
                200,
                {
                    "baseUrl": self.url,
                    "displayUrl": self.url,
                    "version": "1001.0.0-SNAPSHOT",
                    "versionNumbers": [1001, 0, 0],
                    "deploymentType": "Cloud",
                    "buildNumber": 100289,
                    "buildDate": "2026-11-20T00:00:00.000+0000",
                    "serverTime": now,
                    "scmInfo": "1f51473f5c7b75c1a69a0090f4832cdc5053702a",
                    "serverTitle": "Jira",
                    "defaultLocale": {"locale": "en_US"},
                },
            )
        return Response(
            200,
            {
                "baseUrl": self.url,
                "version": "9.12.2",
                "versionNumbers": [9, 12, 2],
                "deploymentType": self.deployment_type,
                "buildNumber": 9120002,
                "buildDate": "2026-01-09T00:00:00.000+0000",
                "databaseBuildNumber": 9120002,
                "serverTime": now,
                "scmInfo": "b4933e02eaff29a49114274fe59e1f99d9d963d7",
                "serverTitle": "Jira",
            },
        )

    def _h_myself(self, request: Request, version: str) -> Response:
        name = request.client or "anonymous"
        user = self._users.get(name) or self._user(name, email=name if "@" in name else None)
        body: dict[str, Any] = {"self": f"{self.url}/rest/api/{version}/myself"}
        if self.mode == "cloud":
            body |= {"accountId": user.account_id, "accountType": "atlassian"}
        else:
            body |= {"key": user.handle, "name": user.handle}
        body |= {
            "emailAddress": user.email,
            "displayName": user.display_name,
            "active": True,
            "timeZone": self.account_timezone,  # the zone JQL reads zone-less dates in
            "locale": "en_US",
        }
        return Response(200, body)

    def _h_fields(self, request: Request, version: str) -> Response:
        return Response(200, self._field_list())

    def _h_status_categories(self, request: Request, version: str) -> Response:
        render = _Render(self, version)
        return Response(200, [render.category(c) for c in _CATEGORIES.values()])

    def _h_project(self, request: Request, version: str, key: str) -> Response:
        proj = self._projects.get(key) or next((p for p in self._projects.values() if str(p.id) == key), None)
        if proj is None:
            return _error(404, f"No project could be found with key '{key}'.")
        render = _Render(self, version)
        body = dict(render.project(proj.key))
        body["versions"] = [render.version(v) for v in proj.versions]
        body["issueTypes"] = [render.issuetype(name) for name in _ISSUE_TYPES]
        return Response(200, body)

    def _h_project_versions(self, request: Request, version: str, key: str) -> Response:
        proj = self._projects.get(key) or next((p for p in self._projects.values() if str(p.id) == key), None)
        if proj is None:
            return _error(404, f"No project could be found with key '{key}'.")
        render = _Render(self, version)
        return Response(200, [render.version(v) for v in proj.versions])

    def _h_version(self, request: Request, version: str, version_id: str) -> Response:
        found = self._versions.get(int(version_id))
        if found is None:
            return _error(404, f"Could not find version for id '{version_id}'")
        return Response(200, _Render(self, version).version(found.id))

    def _h_issue(self, request: Request, version: str, key: str) -> Response:
        issue = self._find_issue(key)
        if issue is None:
            return _error(404, "Issue does not exist or you do not have permission to see it.")
        selection = self._selection(request.query.get("fields"), default="*all")
        return Response(200, _Render(self, version).issue(issue, selection))

    def _h_search_jql(self, request: Request, version: str) -> Response:
        """Cloud's enhanced search: single-use page tokens over a frozen list of matched ids."""
        if self.mode == "datacenter":
            return self._not_found(request)
        params = self._search_params(request)
        if isinstance(params, Response):
            return params
        jql = str(params.get("jql") or "")
        token = params.get("nextPageToken")
        if token:
            cursor = self._tokens.pop(str(token), None)
            if cursor is None or (jql and jql != cursor.jql):
                return _error(400, "The provided next page token is invalid or expired.")
            ids, offset, jql = cursor.ids, cursor.offset, cursor.jql
        else:
            try:
                result = self._run(jql)
            except JqlError as exc:
                return _error(400, str(exc))
            if not result.bounded:
                return _error(
                    400,
                    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
                )
            ids, offset = result.ids, 0
        selection = self._selection(params.get("fields"), default="id")
        size = self._int(params.get("maxResults"), 50)
        if size is None:
            return _error(400, "maxResults must be an integer.")
        size = min(size if size > 0 else 50, 5000 if selection.light else 100)
        render = _Render(self, version)
        page: list[dict[str, Any]] = []
        while offset < len(ids) and len(page) < size:
            issue = self._issues.get(ids[offset])
            offset += 1
            if issue is not None:  # deleted since the first page
                page.append(render.issue(issue, selection))
        body: dict[str, Any] = {"issues": page}
        if offset < len(ids):
            new_token = secrets.token_urlsafe(32)
            self._tokens[new_token] = _Cursor(jql, ids, offset)
            while len(self._tokens) > _TOKEN_LIMIT:
                self._tokens.popitem(last=False)
            body["nextPageToken"] = new_token
            body["isLast"] = False
        else:
            body["isLast"] = True
        return Response(200, body)

    def _h_approximate_count(self, request: Request, version: str) -> Response:
        if self.mode == "datacenter":
            return self._not_found(request)
        params = self._search_params(request)
        if isinstance(params, Response):
            return params
        try:
            result = self._run(str(params.get("jql") or ""))
        except JqlError as exc:
            return _error(400, str(exc))
        if not result.bounded:
            return _error(
                400,
                "Unbounded JQL queries are not allowed here. Please add a search restriction to your query.",
            )
        return Response(200, {"count": len(result.ids)})

    def _h_search(self, request: Request, version: str) -> Response:
        """Data Center's offset search; Cloud removed it (410 with Atlassian's own words)."""
        if self.mode == "cloud":
            return Response(410, SEARCH_REMOVED_V3 if version == "3" else SEARCH_REMOVED_V2)
        params = self._search_params(request)
        if isinstance(params, Response):
            return params
        validate = str(params.get("validateQuery", "strict")).lower()
        lenient = validate in ("false", "warn", "none")
        try:
            result = self._run(str(params.get("jql") or ""), lenient=lenient)
        except JqlError as exc:
            return _error(400, str(exc))
        start = self._int(params.get("startAt"), 0)
        size = self._int(params.get("maxResults"), 50)
        if start is None or size is None or start < 0:
            return _error(400, "startAt and maxResults must be non-negative integers.")
        size = max(0, min(size, 1000))
        selection = self._selection(params.get("fields"), default="*navigable")
        render = _Render(self, version)
        page = [render.issue(self._issues[i], selection) for i in result.ids[start : start + size]]
        body: dict[str, Any] = {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(result.ids),
            "issues": page,
        }
        if result.warnings:
            body["warningMessages"] = result.warnings
        return Response(200, body)

    _ROUTES: list[tuple[tuple[str, ...], re.Pattern[str], Callable[..., Response]]] = [
        (("GET",), re.compile(r"^/serverInfo$"), _h_server_info),
        (("GET",), re.compile(r"^/field$"), _h_fields),
        (("GET",), re.compile(r"^/myself$"), _h_myself),
        (("GET",), re.compile(r"^/statuscategory$"), _h_status_categories),
        (("GET",), re.compile(r"^/project/([^/]+)/versions$"), _h_project_versions),
        (("GET",), re.compile(r"^/project/([^/]+)$"), _h_project),
        (("GET",), re.compile(r"^/version/(\d+)$"), _h_version),
        (("GET",), re.compile(r"^/issue/([^/]+)$"), _h_issue),
        (("GET", "POST"), re.compile(r"^/search/jql$"), _h_search_jql),
        (("POST",), re.compile(r"^/search/approximate-count$"), _h_approximate_count),
        (("GET", "POST"), re.compile(r"^/search$"), _h_search),
    ]

    # request parsing ----------------------------------------------------------------------------

    def _search_params(self, request: Request) -> dict[str, Any] | Response:
        """Read search parameters from the query string (GET) or the JSON body (POST)."""
        if request.method == "GET":
            out: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
            if "fields" in request.query:
                out["fields"] = request.query["fields"]  # repeated or comma-separated
            return out
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError) as exc:
            return _error(400, f"Unexpected character in the request body: {exc}")
        if not isinstance(body, dict):
            return _error(400, "The request body must be a JSON object.")
        return {k: v for k, v in body.items() if v is not None}

    @staticmethod
    def _int(raw: Any, default: int) -> int | None:
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except (TypeError, ValueError):
            return None

    def _selection(self, raw: Any, *, default: str) -> _Selection:
        """Parse `fields` (comma lists, repeated params or a JSON array; *all, *navigable, -x)."""
        items = [raw] if isinstance(raw, str) else list(raw or [])
        names = [part.strip() for item in items for part in str(item).split(",") if part.strip()]
        if not names:
            names = [default]
        known = self._renderable()
        star = any(n in ("*all", "*navigable") for n in names)
        excluded = {n[1:] for n in names if n.startswith("-")}
        wanted = known if star else {n for n in names if not n.startswith(("-", "*"))}
        chosen = frozenset((wanted & known) - excluded)
        plain = {n for n in names if not n.startswith("-")}
        light = not star and plain <= {"id", "key", "issuekey"}
        return _Selection(chosen, id_only=self.mode == "cloud" and plain == {"id"}, light=light)

    # rendering ----------------------------------------------------------------------------------

    def _stamp(self, ms: int) -> str:
        """Render epoch ms as Jira does: ISO local time in the account's zone, ms, ±hhmm.

        A page of 100 issues renders hundreds of these, so the zone's offset is looked up once
        per quarter hour (every zone changes offset on a quarter-hour boundary) and the rest is
        C-level formatting.
        """
        bucket = ms // 900_000
        offset = self._offsets.get(bucket)
        if offset is None:
            instant = _EPOCH + timedelta(milliseconds=bucket * 900_000)
            delta = instant.astimezone(self.tz).utcoffset() or timedelta()
            offset = self._offsets[bucket] = int(delta.total_seconds())
        seconds, millis = divmod(ms, 1000)
        sign, minutes = ("-", -offset // 60) if offset < 0 else ("+", offset // 60)
        local = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(seconds + offset))
        return f"{local}.{millis:03d}{sign}{minutes // 60:02d}{minutes % 60:02d}"

    def _renderable(self) -> frozenset[str]:
        names = {
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
            "duedate",
            "updated",
            "created",
            "project",
            "description",
            self.story_points_field,
        }
        if self.mode == "datacenter":
            names.add(_EPIC_LINK_FIELD)
        return frozenset(names)

    def _field_list(self) -> list[dict[str, Any]]:
        """List fields as /field does; clauseNames matter: the jira client maps names through them."""

        def system(
            fid: str, name: str, clauses: list[str], schema_type: str | None, **extra: Any
        ) -> dict[str, Any]:
            entry: dict[str, Any] = {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": False,
                "orderable": extra.pop("orderable", True),
                "navigable": True,
                "searchable": extra.pop("searchable", True),
                "clauseNames": clauses,
            }
            if schema_type is not None:
                entry["schema"] = {"type": schema_type, "system": fid, **extra}
            return entry

        def custom(fid: str, name: str, schema: dict[str, Any]) -> dict[str, Any]:
            number = fid.removeprefix("customfield_")
            return {
                "id": fid,
                "key": fid,
                "name": name,
                "untranslatedName": name,
                "custom": True,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [f"cf[{number}]", name],
                "schema": {**schema, "customId": int(number) if number.isdigit() else number},
            }

        fields = [
            system(
                "issuekey", "Key", ["id", "issue", "issuekey", "key"], None, orderable=False, searchable=False
            ),
            system("summary", "Summary", ["summary"], "string"),
            system("description", "Description", ["description"], "string"),
            system("issuetype", "Issue Type", ["issuetype", "type"], "issuetype"),
            system("parent", "Parent", ["parent"], None, orderable=False, searchable=False),
            system("project", "Project", ["project"], "project", orderable=False),
            system("fixVersions", "Fix versions", ["fixVersion"], "array", items="version"),
            system("status", "Status", ["status"], "status", orderable=False),
            system("resolution", "Resolution", ["resolution"], "resolution"),
            system("resolutiondate", "Resolved", ["resolutiondate", "resolved"], "datetime", orderable=False),
            system(
                "statuscategorychangedate",
                "Status Category Changed",
                ["statusCategoryChangedDate"],
                "datetime",
                orderable=False,
            ),
            system("labels", "Labels", ["labels"], "array", items="string"),
            system("assignee", "Assignee", ["assignee"], "user"),
            system("duedate", "Due date", ["due", "duedate"], "date"),
            system("created", "Created", ["created", "createdDate"], "datetime", orderable=False),
            system("updated", "Updated", ["updated", "updatedDate"], "datetime", orderable=False),
            custom(
                self.story_points_field,
                self.story_points_name,
                {"type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float"},
            ),
        ]
        if self.mode == "datacenter":
            fields.append(
                custom(
                    _EPIC_LINK_FIELD,
                    "Epic Link",
                    {"type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link"},
                )
            )
        return fields


class _Render:
    """Render one response's JSON; shared parts (statuses, versions, users) are built once.

    A page of 100 issues mostly repeats the same few statuses, types, versions and the project,
    so memoising them per response keeps a page cheap without any cache to invalidate.
    """

    def __init__(self, sim: JiraSim, version: str) -> None:
        self.sim = sim
        self.site = sim.url
        self.api = f"{self.site}/rest/api/{version}"
        self.cloud = sim.mode == "cloud"
        self.memo: dict[tuple[Any, ...], Any] = {}

    def issue(self, issue: _Issue, selection: _Selection) -> dict[str, Any]:
        if selection.id_only:
            return {"id": str(issue.id)}
        sim = self.sim
        fields: dict[str, Any] = {}
        for name in selection.fields:
            if name == "summary":
                fields[name] = issue.summary
            elif name == "status":
                fields[name] = self.status(issue.status)
            elif name == "resolution":
                fields[name] = self.resolution(issue.resolution) if issue.resolution else None
            elif name in ("resolutiondate", "statuscategorychangedate", "updated", "created"):
                value = getattr(issue, name)
                fields[name] = None if value is None else sim._stamp(value)
            elif name == "issuetype":
                fields[name] = self.issuetype(issue.issuetype)
            elif name == "fixVersions":
                fields[name] = [self.version(v, brief=True) for v in issue.fix_versions]
            elif name == "labels":
                fields[name] = list(issue.labels)
            elif name == "assignee":
                fields[name] = self.user(issue.assignee) if issue.assignee else None
            elif name == "duedate":
                fields[name] = issue.duedate.isoformat() if issue.duedate else None
            elif name == "project":
                fields[name] = self.project(issue.project)
            elif name == "description":
                fields[name] = issue.description
            elif name == sim.story_points_field:
                fields[name] = issue.story_points
            elif name == "parent":
                # DC: an epic's children point at it through Epic Link, and have no parent.
                if issue.parent is not None and (self.cloud or issue.subtask):
                    fields[name] = self.parent(issue.parent)
            elif name == _EPIC_LINK_FIELD and not self.cloud:
                epic = (
                    sim._issues.get(issue.parent) if issue.parent is not None and not issue.subtask else None
                )
                fields[name] = epic.key if epic else None
        expand = "" if self.cloud else "operations,versionedRepresentations,editmeta,changelog,renderedFields"
        return {
            "expand": expand,
            "id": str(issue.id),
            "self": f"{self.api}/issue/{issue.id}",
            "key": issue.key,
            "fields": fields,
        }

    def _memo(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        try:
            return self.memo[key]
        except KeyError:
            value = self.memo[key] = build()
            return value

    def parent(self, parent_id: int) -> dict[str, Any] | None:
        def build() -> dict[str, Any] | None:
            parent = self.sim._issues.get(parent_id)
            if parent is None:
                return None
            return {
                "id": str(parent.id),
                "key": parent.key,
                "self": f"{self.api}/issue/{parent.id}",
                "fields": {
                    "summary": parent.summary,
                    "status": self.status(parent.status),
                    "issuetype": self.issuetype(parent.issuetype),
                },
            }

        return self._memo(("parent", parent_id), build)  # type: ignore[no-any-return]

    def status(self, status: str) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            sid, category = _STATUSES[status]
            return {
                "self": f"{self.api}/status/{sid}",
                "description": "",
                "iconUrl": f"{self.site}/",
                "name": status,
                "id": sid,
                "statusCategory": self.category(_CATEGORIES[category]),
            }

        return self._memo(("status", status), build)  # type: ignore[no-any-return]

    def category(self, category: _Category) -> dict[str, Any]:
        return {
            "self": f"{self.api}/statuscategory/{category.id}",
            "id": category.id,
            "key": category.key,
            "colorName": category.color,
            "name": category.name,
        }

    def resolution(self, name: str) -> dict[str, Any]:
        rid = _RESOLUTIONS[name]
        return {"self": f"{self.api}/resolution/{rid}", "id": rid, "description": "", "name": name}

    def issuetype(self, name: str) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            tid, subtask, level = _ISSUE_TYPES[name]
            body: dict[str, Any] = {
                "self": f"{self.api}/issuetype/{tid}",
                "id": tid,
                "description": "",
                "iconUrl": f"{self.site}/images/icons/issuetypes/{name.lower()}.svg",
                "name": name,
                "subtask": subtask,
            }
            if self.cloud:
                body["hierarchyLevel"] = level
            return body

        return self._memo(("issuetype", name), build)  # type: ignore[no-any-return]

    def user(self, handle: str) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            user = self.sim._users[handle]
            body: dict[str, Any]
            if self.cloud:
                body = {"self": f"{self.api}/user?accountId={user.account_id}", "accountId": user.account_id}
            else:
                body = {
                    "self": f"{self.api}/user?username={user.handle}",
                    "name": user.handle,
                    "key": user.handle,
                }
            body |= {
                "emailAddress": user.email,
                "displayName": user.display_name,
                "active": True,
                "timeZone": self.sim.account_timezone,
            }
            if self.cloud:
                body["accountType"] = "atlassian"
            return body

        return self._memo(("user", handle), build)  # type: ignore[no-any-return]

    def project(self, key: str) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            proj = self.sim._projects[key]
            return {
                "self": f"{self.api}/project/{proj.id}",
                "id": str(proj.id),
                "key": proj.key,
                "name": proj.name,
                "projectTypeKey": "software",
                "simplified": False,
            }

        return self._memo(("project", key), build)  # type: ignore[no-any-return]

    def version(self, version_id: int, *, brief: bool = False) -> dict[str, Any]:
        def build() -> dict[str, Any]:
            sim, found = self.sim, self.sim._versions[version_id]
            body: dict[str, Any] = {
                "self": f"{self.api}/version/{found.id}",
                "id": str(found.id),
                "description": found.description,
                "name": found.name,
                "archived": found.archived,
                "released": found.released,
            }
            if found.release_date is not None:
                body["releaseDate"] = found.release_date.isoformat()
            if brief:
                return body
            if found.release_date is not None:
                d = found.release_date
                body["overdue"] = not found.released and d < sim._now().astimezone(sim.tz).date()
                body["userReleaseDate"] = f"{d.day}/{_MONTHS[d.month - 1]}/{d.year % 100:02d}"
            body["projectId"] = sim._projects[found.project].id
            if self.cloud:
                body["releaseDateSet"] = found.release_date is not None
                body["startDateSet"] = False
            return body

        return self._memo(("version", version_id, brief), build)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Selection:
    """Which fields to render: `id_only` is Cloud's default (`{"id": ...}` and nothing else)."""

    fields: frozenset[str]
    id_only: bool
    light: bool  # only ids or keys asked for: Cloud allows 5000 per page instead of 100
