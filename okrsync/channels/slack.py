"""The Slack channel: a Block Kit message to an incoming webhook, mentioning the KR owner.

All tracker text goes through `slack_escape`, so an issue titled `<!channel>` cannot ping a
channel and `<http://x|y>` cannot plant a link; the only mention is the owner's, built here
from a `[people]` Slack member id. Links are made only from plain http(s) URLs (`safe_url`).
Everything is mrkdwn in section blocks rather than a plain_text header, because Slack documents
escaping for mrkdwn text and a header would need a second set of rules.

Block Kit limits (https://api.slack.com/reference/block-kit/blocks#section): a section's text
holds at most 3,000 characters and a field 2,000, so the issue list stops before that.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from okrsync.channels.base import USER_AGENT, Alert, post
from okrsync.channels.text import Fact, IssueLine, describe, more_text, slack_escape
from okrsync.settings import ChannelSettings

if TYPE_CHECKING:
    import httpx

_MEMBER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_SECTION_LIMIT = 2900


def _link(url: str | None, label: str) -> str:
    """Make a mrkdwn link `<url|label>`, or the escaped label when there is no safe URL."""
    shown = slack_escape(label)
    if url is None:
        return shown
    # `safe_url` allows no `<`, `>` or `|`; `&` is escaped like text and Slack decodes it.
    return f"<{slack_escape(url)}|{shown}>"


def mention(slack_id: str | None) -> str | None:
    """Return `<@U024BE7LH>` for a Slack member id, or None for anything else."""
    if slack_id and _MEMBER_ID.fullmatch(slack_id):
        return f"<@{slack_id}>"
    return None


def _field(fact: Fact, *, owner_mention: str | None) -> dict[str, str]:
    if fact.label == "Owner" and owner_mention is not None:
        value = owner_mention
    else:
        value = _link(fact.url, fact.value)
    return {"type": "mrkdwn", "text": f"*{fact.label}*\n{value}"}


def _issue(issue: IssueLine) -> str:
    parts = [_link(issue.url, issue.key)] if issue.key else []
    if issue.title:
        parts.append(slack_escape(issue.title))
    parts.append(f"({slack_escape(issue.assignee or 'unassigned')})")
    return "• " + " ".join(parts)


def blocks(alert: Alert) -> dict[str, Any]:
    """Build the webhook body: Block Kit blocks plus the `text` fallback for notifications."""
    text = describe(alert)
    owner = mention(alert.recipient.slack if alert.recipient is not None else None)
    head = f"*{slack_escape(text.title)}*\n{slack_escape(text.summary)}"
    body: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": head}}]
    if text.facts:
        # A section takes at most 10 fields.
        fields = [_field(f, owner_mention=owner) for f in text.facts[:10]]
        body.append({"type": "section", "fields": fields})
    if text.open_issues:
        lines = [f"*Open issues ({text.open_issues})*"]
        shown = 0
        for issue in text.issues:
            line = _issue(issue)
            if sum(len(x) + 1 for x in lines) + len(line) > _SECTION_LIMIT:
                break
            lines.append(line)
            shown += 1
        if text.open_issues > shown:
            lines.append(more_text(text.open_issues - shown))
        body.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    context = f"okrsync · {slack_escape(alert.type)}"
    body.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    fallback = f"{slack_escape(text.title)}: {slack_escape(text.summary)}"
    if owner is not None:
        fallback = f"{owner} {fallback}"
    return {"text": fallback, "blocks": body}


class SlackChannel:
    """Post each alert to a Slack incoming webhook."""

    def __init__(
        self, settings: ChannelSettings, *, client: httpx.Client | None = None, ca_bundle: Path | None = None
    ) -> None:
        if settings.url is None:
            msg = f"slack channel {settings.name!r}: expected a url"
            raise ValueError(msg)
        self.name = settings.name
        self._url = settings.url
        self._client = client
        self._ca_bundle = ca_bundle

    def notify(self, alert: Alert) -> None:
        """Deliver the message; Slack's own error codes decide whether a retry can help.

        Slack answers 200 `ok`; 400 `invalid_payload`, 403 `invalid_token` or
        `action_prohibited`, 404 `no_service` / `channel_not_found` and 410
        `channel_is_archived` mean the webhook or the message is wrong and will stay wrong, so
        they are permanent; 429 and 5xx are retriable
        (https://api.slack.com/messaging/webhooks#handling_errors).
        """
        content = json.dumps(blocks(alert), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
        post(
            f"slack channel {self.name!r}",
            self._url.get_secret_value(),
            content=content,
            headers=headers,
            client=self._client,
            detail=True,
            ca_bundle=self._ca_bundle,
        )
