"""A SPEC §5 alert to deliver, and a way to make its tracker text hostile."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from okrsync.channels import Alert, Recipient

PAYLOAD: dict[str, Any] = {
    "id": "evt-2026-11-22-0001",
    "type": "milestone.rescheduled",
    "detected_at": "2026-11-22T09:05:00Z",
    "day": "2026-11-22",
    "owner": {"id": "bob", "name": "Bob Stone", "email": "bob@acme.test", "slack": "U024BE7LH"},
    "objective": {"id": "ENG-1", "title": "Remove friction from onboarding"},
    "key_result": {
        "id": "ENG-1.1",
        "title": "Cut onboarding-related errors by 80%",
        "progress": 0.5,
        "status": "off_track",
    },
    "milestone": {
        "source": "github",
        "key": "acme/web#12",
        "title": "Onboarding v2",
        "url": "https://github.com/acme/web/milestone/12",
        "due_before": "2026-11-20",
        "due": "2026-12-04",
        "progress": 0.5,
        "open_issues": [
            {
                "key": "acme/web#231",
                "title": "Signup form loses input on back",
                "url": "https://github.com/acme/web/issues/231",
                "assignee": "carol",
            },
            {"key": "acme/web#232", "title": "Flaky e-mail check", "url": None, "assignee": None},
        ],
    },
    "text": "Onboarding v2 (acme/web) moved from 20 Nov to 4 Dec: 5 of 10 issues open. KR ENG-1.1 is off track.",
}

BOB = Recipient(id="bob", name="Bob Stone", email="bob@acme.test", slack="U024BE7LH")
HOSTILE = "<script>alert(1)</script> & <!channel> @channel <@U999> <http://evil.test|click>"


def make_alert(
    *, recipient: Recipient | None = BOB, type: str = "milestone.rescheduled", **milestone: Any
) -> Alert:
    """Return the sample alert, with milestone fields replaced by `milestone`."""
    payload = copy.deepcopy(PAYLOAD)
    payload["type"] = type
    payload["milestone"].update(milestone)
    return Alert(id=payload["id"], type=type, payload=payload, recipient=recipient)


def hostile_alert(*, recipient: Recipient | None = BOB) -> Alert:
    """Return the sample alert with attacker-written titles everywhere a tracker supplies text."""
    alert = make_alert(recipient=recipient, title=f"{HOSTILE}\r\nBcc: victim@evil.test")
    issues = alert.payload["milestone"]["open_issues"]
    issues[0]["title"] = HOSTILE
    issues[0]["assignee"] = "<@U777> mallory"
    issues[1]["url"] = "javascript:alert(1)"
    alert.payload["text"] = f"Milestone {HOSTILE} slipped.\nBcc: victim@evil.test"
    return alert


@pytest.fixture
def alert() -> Alert:
    return make_alert()
