"""Turn an alert's payload into human words, once, and make tracker text safe to show.

Every channel shows the same facts (SPEC §5: the milestone, how far it slipped, the open
issues with their assignees), so `describe` is the one place that reads the payload; the
channels only render its result. Everything from a tracker is untrusted, written by anyone
who can file an issue, so `describe` already removes control characters (each value is one
line) and shortens long titles; escaping for a medium (Slack mrkdwn, HTML) is the renderer's
job, because it differs per medium.

The payload is read defensively (`.get`, any value may be missing or None): a malformed
event must still reach its owner as words rather than fail every retry.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from okrsync.channels.base import Alert

MAX_ISSUES = 10
"""Open issues listed in one alert; the rest are counted ("… and 3 more")."""
MAX_TITLE = 200
"""Characters of one tracker title shown; Slack and mail clients cut long lines anyway."""

TITLES = {
    "milestone.overdue": "Milestone overdue",
    "milestone.rescheduled": "Milestone rescheduled",
    "milestone.at_risk": "Milestone at risk",
    "link.broken": "Broken link",
    "kr.stale": "Key result stale",
    "kr.confidence_drop": "Confidence drop",
    "digest.weekly": "Weekly OKR digest",
    "test": "Test alert",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# C0/C1 controls (CR, LF, TAB, ESC, NEL ...), the Unicode line and paragraph separators, and the
# bidirectional overrides and isolates, which can make a title read backwards (Trojan Source).
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SLACK_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_SAFE_URL = re.compile(r"https?://[^\s<>|\"'`\\]+", re.IGNORECASE)
ZWJ = "\u200d"


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI


def strip_controls(value: str) -> str:
    """Replace every run of control characters by one space, so text stays on one line.

    Header injection in an email subject (`\\r\\nBcc: ...`), forged log lines and reversed
    titles all need a control character; replacing (not deleting) keeps `a\\nb` readable.
    """
    out: list[str] = []
    in_run = False
    for char in value:
        if _is_control(char):
            if not in_run:
                out.append(" ")
            in_run = True
        else:
            out.append(char)
            in_run = False
    return "".join(out).strip()


def slack_escape(value: str) -> str:
    """Escape text for Slack mrkdwn so it can neither ping nor link.

    Slack reads `<...>` as a mention, a broadcast or a link (`<!channel>`, `<@U123>`,
    `<http://x|y>`) and asks for exactly `&`, `<` and `>` to be escaped:
    https://api.slack.com/reference/surfaces/formatting#escaping. Plain `@channel`, `@here` and
    `@everyone` are turned into broadcasts too where names are linked (`link_names`), so a zero
    width joiner goes after the `@`: invisible to readers, but no longer the keyword. (A
    look-alike character or a backslash would show; removing the `@` would change the text.)
    """
    escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SLACK_BROADCAST.sub("@" + ZWJ, escaped)


def safe_url(value: Any) -> str | None:
    """Return `value` if it is a plain http(s) URL worth making a link of, else None.

    A `javascript:` URL in an href or a `|` that ends a Slack link early must never come from
    a tracker, so only whole http(s) URLs without quotes, spaces or angle brackets qualify.
    """
    if isinstance(value, str) and _SAFE_URL.fullmatch(value):
        return value
    return None


def shorten(value: str, limit: int = MAX_TITLE) -> str:
    """Cut `value` to `limit` characters, marking the cut with an ellipsis."""
    return value if len(value) <= limit else value[: limit - 1].rstrip() + "…"


def _text(value: Any, limit: int = MAX_TITLE) -> str:
    """Make any payload value one safe, short line ('' for None)."""
    if value is None:
        return ""
    return shorten(strip_controls(str(value)), limit)


@dataclass(frozen=True)
class Fact:
    """One labelled line ("Due: 20 Nov → 4 Dec"), with a link when there is one."""

    label: str
    value: str
    url: str | None = None


@dataclass(frozen=True)
class IssueLine:
    """One open issue: its key, title, link and assignee (None when unassigned)."""

    key: str
    title: str
    url: str | None
    assignee: str | None


@dataclass(frozen=True)
class AlertText:
    """An alert in words, every value one line of unescaped text."""

    title: str
    summary: str
    facts: list[Fact] = field(default_factory=list)
    issues: list[IssueLine] = field(default_factory=list)
    open_issues: int = 0
    """How many open issues the milestone has (`open_count`, else as many as the payload lists);
    more than `issues` shows when cut."""

    @property
    def more_issues(self) -> int:
        """Open issues not listed."""
        return self.open_issues - len(self.issues)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _day(value: Any, *, year: int | None) -> str:
    """Show an ISO day as '20 Nov' (the year only when it is not the alert's year)."""
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return _text(value, 40)
    shown = f"{day.day} {_MONTHS[day.month - 1]}"
    return shown if day.year == year else f"{shown} {day.year}"


def _percent(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{round(value * 100)}%"
    return ""


def _alert_year(payload: Mapping[str, Any]) -> int | None:
    try:
        return date.fromisoformat(str(payload.get("day"))[:10]).year
    except ValueError:
        return None


def _due(milestone: Mapping[str, Any], *, year: int | None) -> str:
    due, before = milestone.get("due"), milestone.get("due_before")
    now = _day(due, year=year) if due else "no due date"
    if before and before != due:
        return f"{_day(before, year=year)} → {now}"
    return now


def _named(ident: str, title: str) -> str:
    return f"{ident} {title}".strip()


def describe(alert: Alert) -> AlertText:
    """Read the alert's payload into words; the one place that knows the payload's shape."""
    payload = _mapping(alert.payload)
    milestone = _mapping(payload.get("milestone"))
    kr = _mapping(payload.get("key_result"))
    objective = _mapping(payload.get("objective"))
    owner = _mapping(payload.get("owner"))
    year = _alert_year(payload)

    ms_title = _text(milestone.get("title")) or _text(milestone.get("key"))
    kr_id, kr_title = _text(kr.get("id"), 60), _text(kr.get("title"))
    label = TITLES.get(alert.type) or _text(alert.type, 60) or "Alert"
    if alert.type == "test":
        subject = ""
    elif ms_title:
        subject = f"{ms_title} (KR {kr_id})" if kr_id else ms_title
    else:
        subject = _named(f"KR {kr_id}" if kr_id else "", kr_title)
    title = f"{label}: {subject}" if subject else label

    facts: list[Fact] = []
    if milestone:
        key = _text(milestone.get("key"), 100)
        shown = f"{ms_title} ({key})" if key and key != ms_title else ms_title
        facts.append(Fact("Milestone", shown, safe_url(milestone.get("url"))))
        facts.append(Fact("Due", _due(milestone, year=year)))
        if progress := _percent(milestone.get("progress")):
            facts.append(Fact("Progress", progress))
    if kr:
        state = ", ".join(
            part
            for part in (_percent(kr.get("progress")), _text(kr.get("status"), 40).replace("_", " "))
            if part
        )
        facts.append(Fact("Key result", _named(kr_id, kr_title) + (f" ({state})" if state else "")))
    if objective:
        facts.append(Fact("Objective", _named(_text(objective.get("id"), 60), _text(objective.get("title")))))
    if alert.recipient is not None:
        facts.append(Fact("Owner", _text(alert.recipient.display_name, 100)))
    elif owner:
        facts.append(Fact("Owner", _text(owner.get("name") or owner.get("id"), 100)))

    raw_issues = milestone.get("open_issues")
    listed = [_mapping(i) for i in raw_issues] if isinstance(raw_issues, list) else []
    issues = [
        IssueLine(
            key=_text(i.get("key"), 100),
            title=_text(i.get("title")),
            url=safe_url(i.get("url")),
            assignee=_text(i.get("assignee"), 100) or None,
        )
        for i in listed[:MAX_ISSUES]
    ]
    summary = _text(payload.get("text"), 1000) or title
    return AlertText(
        title=title, summary=summary, facts=facts, issues=issues, open_issues=_open_count(milestone, listed)
    )


def _open_count(milestone: Mapping[str, Any], listed: list[Mapping[str, Any]]) -> int:
    """Count the open issues: the payload lists at most `alerts.MAX_OPEN_ISSUES`, `open_count` all.

    A payload stored before `open_count` existed (or a malformed one) falls back to the list.
    """
    count = milestone.get("open_count")
    if isinstance(count, int) and not isinstance(count, bool) and count >= len(listed):
        return count
    return len(listed)


def alert_title(alert: Alert) -> str:
    """Return a one-line title: "Milestone rescheduled: Onboarding v2 (KR ENG-1.1)"."""
    return describe(alert).title


def issue_text(issue: IssueLine) -> str:
    """Show an issue as "acme/web#231 Fix login (carol)"; unassigned issues say so."""
    who = issue.assignee or "unassigned"
    return f"{_named(issue.key, issue.title)} ({who})"


def more_text(count: int) -> str:
    """Say how many issues were left out of a list."""
    return f"… and {count} more"


def alert_lines(alert: Alert) -> list[str]:
    """Return the alert as plain lines: summary, facts, then the open issues with assignees.

    The title is not among them: subject lines and headers show it on their own.
    """
    text = describe(alert)
    lines = [text.summary, ""]
    for fact in text.facts:
        lines.append(f"{fact.label}: {fact.value}" + (f" <{fact.url}>" if fact.url else ""))
    if text.open_issues:
        lines += ["", f"Open issues ({text.open_issues}):"]
        for issue in text.issues:
            lines.append(f"- {issue_text(issue)}" + (f" <{issue.url}>" if issue.url else ""))
        if text.more_issues > 0:
            lines.append(f"  {more_text(text.more_issues)}")
    return lines
