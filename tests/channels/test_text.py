"""Payload → words, and the escaping every channel relies on."""

from __future__ import annotations

import pytest

from okrsync.channels import Alert, Recipient
from okrsync.channels.text import (
    MAX_ISSUES,
    ZWJ,
    alert_lines,
    alert_title,
    describe,
    safe_url,
    slack_escape,
    strip_controls,
)
from tests.channels.conftest import make_alert


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("plain title", "plain title"),
        ("a\r\nBcc: victim@evil.test", "a Bcc: victim@evil.test"),
        ("a\nb\rc\td", "a b c d"),
        ("tail\r\n", "tail"),
        ("esc\x1b[31mred", "esc [31mred"),
        ("nel\x85line\u2028sep\u2029para", "nel line sep para"),
        ("bidi \u202eevil\u202c", "bidi  evil"),
        ("emoji 👩\u200d💻 stays", "emoji 👩\u200d💻 stays"),
        ("", ""),
    ],
)
def test_strip_controls_leaves_one_line(raw: str, clean: str) -> None:
    assert strip_controls(raw) == clean


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a & b", "a &amp; b"),
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<http://x|y>", "&lt;http://x|y&gt;"),
        ("@channel please", f"@{ZWJ}channel please"),
        ("@Here and @everyone", f"@{ZWJ}Here and @{ZWJ}everyone"),
        ("mail @channels-team or a@here.test", f"mail @channels-team or a@{ZWJ}here.test"),
        ("&amp;", "&amp;amp;"),
    ],
)
def test_slack_escape_neutralises_mentions_and_links(raw: str, escaped: str) -> None:
    assert slack_escape(raw) == escaped


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://github.com/acme/web/issues/1", True),
        ("http://jira.local/browse/ONB-1?a=1&b=2", True),
        ("javascript:alert(1)", False),
        ("https://x.test/a|b", False),
        ('https://x.test/"onmouseover=', False),
        ("https://x.test/<script>", False),
        ("https://x.test/a b", False),
        (None, False),
        (42, False),
    ],
)
def test_safe_url_accepts_only_plain_http_links(url: object, safe: bool) -> None:
    assert (safe_url(url) is not None) is safe


@pytest.mark.parametrize(
    ("type_", "title"),
    [
        ("milestone.rescheduled", "Milestone rescheduled: Onboarding v2 (KR ENG-1.1)"),
        ("milestone.overdue", "Milestone overdue: Onboarding v2 (KR ENG-1.1)"),
        ("milestone.at_risk", "Milestone at risk: Onboarding v2 (KR ENG-1.1)"),
        ("link.broken", "Broken link: Onboarding v2 (KR ENG-1.1)"),
        ("something.new", "something.new: Onboarding v2 (KR ENG-1.1)"),
    ],
)
def test_alert_title_names_event_and_milestone(type_: str, title: str) -> None:
    assert alert_title(make_alert(type=type_)) == title


def test_kr_alert_without_milestone_is_titled_by_kr(alert: Alert) -> None:
    del alert.payload["milestone"]
    stale = Alert(id="e1", type="kr.stale", payload=alert.payload, recipient=None)
    assert alert_title(stale) == "Key result stale: KR ENG-1.1 Cut onboarding-related errors by 80%"
    assert not any(line.startswith("Milestone") for line in alert_lines(stale))


def test_alert_lines_give_slip_progress_and_open_issues_with_assignees(alert: Alert) -> None:
    lines = alert_lines(alert)
    assert lines[0] == alert.payload["text"]
    assert "Milestone: Onboarding v2 (acme/web#12) <https://github.com/acme/web/milestone/12>" in lines
    assert "Due: 20 Nov → 4 Dec" in lines
    assert "Progress: 50%" in lines
    assert "Key result: ENG-1.1 Cut onboarding-related errors by 80% (50%, off track)" in lines
    assert "Owner: Bob Stone" in lines
    assert "Open issues (2):" in lines
    assert (
        "- acme/web#231 Signup form loses input on back (carol) <https://github.com/acme/web/issues/231>"
        in lines
    )
    assert "- acme/web#232 Flaky e-mail check (unassigned)" in lines


def test_due_shows_year_only_when_it_differs_and_removed_due_dates() -> None:
    assert "Due: 20 Nov → 5 Jan 2027" in alert_lines(make_alert(due="2027-01-05"))
    assert "Due: 20 Nov → no due date" in alert_lines(make_alert(due=None))
    overdue = make_alert(type="milestone.overdue", due_before=None, due="2026-11-20")
    assert "Due: 20 Nov" in alert_lines(overdue)


def test_long_issue_lists_are_cut_and_counted() -> None:
    issues = [{"key": f"acme/web#{n}", "title": f"t{n}", "url": None, "assignee": "a"} for n in range(25)]
    text = describe(make_alert(open_issues=issues))
    assert len(text.issues) == MAX_ISSUES
    assert text.more_issues == 25 - MAX_ISSUES
    assert "  … and 15 more" in alert_lines(make_alert(open_issues=issues))


def test_every_line_is_one_line_whatever_the_tracker_wrote() -> None:
    alert = make_alert(
        title="two\nlines", open_issues=[{"key": "k\r\n1", "title": "a\nb", "assignee": "c\nd"}]
    )
    for line in [alert_title(alert), *alert_lines(alert)]:
        assert "\n" not in line and "\r" not in line


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"milestone": None, "key_result": "nonsense", "text": None},
        {"milestone": {"open_issues": "nope", "progress": "half", "due": "soon"}},
        {"milestone": {"open_issues": [None, 3]}, "day": 20261122},
    ],
)
def test_malformed_payload_still_gives_words(payload: dict[str, object]) -> None:
    alert = Alert(id="e1", type="milestone.overdue", payload=payload, recipient=Recipient(id="bob"))
    assert alert_title(alert).startswith("Milestone overdue")
    assert alert_lines(alert)[0]
