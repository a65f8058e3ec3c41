"""The Slack channel against respx: Block Kit body, the owner's mention, escaping, errors."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from okrsync.channels import Alert, Recipient, SlackChannel, make_channel
from okrsync.channels.text import ZWJ
from okrsync.errors import DeliveryError
from okrsync.settings import ChannelSettings
from tests.channels.conftest import hostile_alert, make_alert

URL = "https://hooks.slack.com/services/T000/B000/XXXXSECRETXXXX"


def channel() -> SlackChannel:
    made = make_channel(ChannelSettings(name="team-slack", type="slack", url=URL))
    assert isinstance(made, SlackChannel)
    return made


def send(respx_mock: respx.MockRouter, alert: Alert) -> dict[str, Any]:
    route = respx_mock.post(URL).mock(return_value=httpx.Response(200, text="ok"))
    channel().notify(alert)
    assert route.call_count == 1
    body: dict[str, Any] = json.loads(route.calls.last.request.content)
    return body


def all_text(body: dict[str, Any]) -> str:
    """Every mrkdwn string of the message, joined."""
    texts = [body["text"]]
    for block in body["blocks"]:
        if "text" in block:
            texts.append(block["text"]["text"])
        texts += [f["text"] for f in block.get("fields", [])]
        texts += [e["text"] for e in block.get("elements", [])]
    return "\n".join(texts)


def test_message_has_blocks_facts_issues_and_fallback(respx_mock: respx.MockRouter, alert: Alert) -> None:
    body = send(respx_mock, alert)
    blocks = body["blocks"]
    assert [b["type"] for b in blocks] == ["section", "section", "section", "context"]
    assert blocks[0]["text"] == {
        "type": "mrkdwn",
        "text": "*Milestone rescheduled: Onboarding v2 (KR ENG-1.1)*\n" + alert.payload["text"],
    }
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert "*Milestone*\n<https://github.com/acme/web/milestone/12|Onboarding v2 (acme/web#12)>" in fields
    assert "*Due*\n20 Nov → 4 Dec" in fields
    assert "*Progress*\n50%" in fields
    issues = blocks[2]["text"]["text"].splitlines()
    assert issues == [
        "*Open issues (2)*",
        "• <https://github.com/acme/web/issues/231|acme/web#231> Signup form loses input on back (carol)",
        "• acme/web#232 Flaky e-mail check (unassigned)",
    ]
    assert body["text"].startswith("<@U024BE7LH> Milestone rescheduled: Onboarding v2")


def test_owner_is_mentioned_by_slack_id(respx_mock: respx.MockRouter, alert: Alert) -> None:
    body = send(respx_mock, alert)
    assert "*Owner*\n<@U024BE7LH>" in [f["text"] for f in body["blocks"][1]["fields"]]


@pytest.mark.parametrize(
    "recipient",
    [Recipient(id="bob", name="Bob Stone"), Recipient(id="bob", slack="<!channel>"), None],
)
def test_no_mention_without_a_valid_slack_id(
    respx_mock: respx.MockRouter, recipient: Recipient | None
) -> None:
    body = send(respx_mock, make_alert(recipient=recipient))
    assert "<@" not in all_text(body)
    assert "<!" not in all_text(body)


def test_tracker_text_cannot_ping_link_or_inject(respx_mock: respx.MockRouter) -> None:
    body = send(respx_mock, hostile_alert())
    text = all_text(body)
    # The only live mention is the owner's; nothing from the tracker opens a <...>.
    assert text.count("<@") == text.count("<@U024BE7LH>") == 2  # fallback + owner field
    for forbidden in ("<!channel>", "<script>", "<@U999>", "<@U777>", "<http://evil.test", "javascript:"):
        assert forbidden not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt; @\u200dchannel" in text
    assert f"@{ZWJ}channel" in body["blocks"][2]["text"]["text"]
    assert "&lt;@U777&gt; mallory" in text
    head = body["blocks"][0]["text"]["text"].splitlines()
    assert len(head) == 2  # the title and the summary stay one line each despite their CR/LF


def test_long_issue_lists_stay_inside_block_kit_limits(respx_mock: respx.MockRouter) -> None:
    issues = [
        {"key": f"acme/web#{n}", "title": "x" * 500, "url": f"https://github.com/acme/web/issues/{n}"}
        for n in range(40)
    ]
    body = send(respx_mock, make_alert(open_issues=issues))
    listing = body["blocks"][2]["text"]["text"]
    assert len(listing) <= 3000
    assert listing.count("\n• ") == 10
    assert listing.endswith("… and 30 more")


@pytest.mark.parametrize(
    ("status", "answer", "permanent"),
    [
        (404, "no_service", True),
        (410, "channel_is_archived", True),
        (403, "invalid_token", True),
        (403, "action_prohibited", True),
        (400, "invalid_payload", True),
        (429, "rate_limited", False),
        (500, "rollup_error", False),
        (503, "", False),
    ],
)
def test_slack_answers_are_classified(
    respx_mock: respx.MockRouter, alert: Alert, status: int, answer: str, permanent: bool
) -> None:
    respx_mock.post(URL).mock(return_value=httpx.Response(status, text=answer))
    with pytest.raises(DeliveryError) as caught:
        channel().notify(alert)
    assert caught.value.permanent is permanent
    assert answer in str(caught.value)
    assert "team-slack" in str(caught.value)
    assert "SECRET" not in str(caught.value) and "hooks.slack.com" not in str(caught.value)


def test_network_error_is_retriable_and_hides_the_url(respx_mock: respx.MockRouter, alert: Alert) -> None:
    respx_mock.post(URL).mock(side_effect=httpx.ConnectError(f"cannot reach {URL}"))
    with pytest.raises(DeliveryError) as caught:
        channel().notify(alert)
    assert caught.value.permanent is False
    assert "SECRET" not in str(caught.value)
