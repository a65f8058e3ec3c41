"""The email channel: one message per recipient per alert, plain text with an HTML alternative.

Recipients are the KR owner's `[people]` email and the channel's fixed `to` list, each getting
their own message (their own `To`), over one SMTP connection.

Why it is safe with hostile issue titles:

- the Subject is built from `strip_controls` text, so no CR or LF can start a new header; the
  message also uses `email.policy.SMTP`, which refuses a header with a line break, as a second
  wall rather than the first (it would raise instead of sending);
- envelope recipients come only from config (`[people]`, `to`), never from a header;
- every tracker value in the HTML part goes through `html.escape`, and links only to plain
  http(s) URLs.

`Message-ID` is derived from the alert id, so a retried delivery is the same message to mail
clients that de-duplicate, and `Auto-Submitted: auto-generated` (RFC 3834) keeps vacation
responders from answering.

SMTP replies are classified by their code (RFC 5321 §4.2.1): 5xx is a permanent failure
(550 mailbox unavailable, 535 bad credentials), 4xx a transient one (451 try again later), and
a refused or dropped connection is retriable, and so is a TLS failure (a renewed certificate
fixes it with no change to okrsync's config). A server without STARTTLS or AUTH, when the
channel asks for them, is a permanent configuration error.
"""

from __future__ import annotations

import hashlib
import html
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate, parseaddr

from okrsync.channels.base import Alert
from okrsync.channels.text import AlertText, alert_lines, describe, more_text, strip_controls
from okrsync.errors import DeliveryError
from okrsync.settings import ChannelSettings

SMTP_TIMEOUT = 30.0
"""Seconds for one SMTP command; a hung server must not stall the delivery loop."""
_ATOMS = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def message_id(alert: Alert, *, sender: str) -> str:
    """Return a Message-ID that is the same for every delivery attempt of `alert`."""
    local = (
        f"okrsync.{alert.id}"
        if _ATOMS.fullmatch(alert.id)
        else hashlib.sha256(alert.id.encode()).hexdigest()[:32]
    )
    domain = parseaddr(sender)[1].rpartition("@")[2]
    if not _DOMAIN.fullmatch(domain):
        domain = "okrsync.invalid"
    return f"<{local}@{domain}>"


def subject(alert: Alert) -> str:
    """Return the Subject: the alert's title on one line, whatever the tracker wrote."""
    return strip_controls(f"[okrsync] {describe(alert).title}")


def text_body(alert: Alert) -> str:
    """Return the plain-text part."""
    lines = [describe(alert).title, "", *alert_lines(alert), "", "-- ", "okrsync"]
    return "\n".join(lines) + "\n"


def _a(url: str | None, label: str) -> str:
    if url is None:
        return html.escape(label)
    return f'<a href="{html.escape(url)}">{html.escape(label)}</a>'


def html_body(text: AlertText) -> str:
    """Return the HTML part; every value from the payload is escaped here."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html><body style="font-family: sans-serif">',
        f"<h2>{e(text.title)}</h2>",
        f"<p>{e(text.summary)}</p>",
    ]
    if text.facts:
        parts.append("<table>")
        for fact in text.facts:
            parts.append(f'<tr><th align="left">{e(fact.label)}</th><td>{_a(fact.url, fact.value)}</td></tr>')
        parts.append("</table>")
    if text.open_issues:
        parts.append(f"<h3>Open issues ({text.open_issues})</h3>")
        parts.append("<ul>")
        for issue in text.issues:
            key = f"{_a(issue.url, issue.key)} " if issue.key else ""
            who = issue.assignee or "unassigned"
            parts.append(f"<li>{key}{e(issue.title)} ({e(who)})</li>")
        if text.more_issues > 0:
            parts.append(f"<li>{e(more_text(text.more_issues))}</li>")
        parts.append("</ul>")
    parts.append('<p style="color: #888">okrsync</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _smtp_error(channel: str, what: str, exc: smtplib.SMTPResponseException) -> DeliveryError:
    """Classify an SMTP reply: 5xx permanent, anything else retriable."""
    reply = (
        exc.smtp_error.decode("utf-8", "replace")
        if isinstance(exc.smtp_error, bytes)
        else str(exc.smtp_error)
    )
    permanent = 500 <= exc.smtp_code < 600
    msg = f"{channel}: {what}: the server answered {exc.smtp_code} {strip_controls(reply)[:200]}"
    return DeliveryError(msg, permanent=permanent)


def _quit(smtp: smtplib.SMTP) -> None:
    """End the session politely; what the server says to QUIT changes nothing already sent."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


class EmailChannel:
    """Send each alert by SMTP to the KR owner and the channel's fixed recipients."""

    def __init__(self, settings: ChannelSettings, *, timeout: float = SMTP_TIMEOUT) -> None:
        if settings.smtp_host is None or settings.sender is None:
            msg = f"email channel {settings.name!r}: expected smtp_host and sender"
            raise ValueError(msg)
        self.name = settings.name
        self._settings = settings
        self._host = settings.smtp_host
        self._sender = settings.sender
        self._timeout = timeout
        self._label = f"email channel {settings.name!r}"

    def recipients(self, alert: Alert) -> list[str]:
        """Return the `To` of each message: the owner first, then `to`, without repeats."""
        found: list[str] = []
        seen: set[str] = set()
        owner = alert.recipient
        candidates = list(self._settings.to)
        if owner is not None and owner.email:
            candidates.insert(0, formataddr((owner.name or "", owner.email)) if owner.name else owner.email)
        for candidate in candidates:
            key = parseaddr(candidate)[1].lower()
            if key and key not in seen:
                seen.add(key)
                found.append(candidate)
        return found

    def message(self, alert: Alert, *, to: str) -> EmailMessage:
        """Build the message for one recipient; a bad address is a permanent error."""
        text = describe(alert)
        msg = EmailMessage(policy=SMTP)
        try:
            msg["Subject"] = subject(alert)
            msg["From"] = self._sender
            msg["To"] = to
            msg["Date"] = formatdate(usegmt=True)
            msg["Message-ID"] = message_id(alert, sender=self._sender)
            msg["Auto-Submitted"] = "auto-generated"
            msg["X-Okrsync-Event"] = strip_controls(alert.type)
            msg["X-Okrsync-Delivery"] = strip_controls(alert.id)
        except (ValueError, TypeError) as exc:
            error = f"{self._label}: cannot build a message for {strip_controls(to)!r}: {strip_controls(str(exc))}"
            raise DeliveryError(error, permanent=True) from None
        msg.set_content(text_body(alert))
        msg.add_alternative(html_body(text), subtype="html")
        return msg

    def notify(self, alert: Alert) -> None:
        """Send one message per recipient; fail when any recipient did not get one.

        Each address is tried even when another failed. The error is permanent only when every
        failure was: a retry then resends to those already served (same Message-ID), which is
        better than an owner never hearing of a slip because a fixed address bounced.
        """
        addresses = self.recipients(alert)
        if not addresses:
            owner = alert.recipient.id if alert.recipient is not None else "none"
            msg = f"{self._label}: no address: the KR owner ({owner}) has no email in [people] and the channel has no `to`"
            raise DeliveryError(msg, permanent=True)
        messages = [(to, self.message(alert, to=to)) for to in addresses]
        delivered: list[str] = []
        failures: list[tuple[str, DeliveryError]] = []
        try:
            smtp = self._connect()
            try:
                for to, message in messages:
                    envelope_to = parseaddr(to)[1]
                    try:
                        smtp.send_message(message, to_addrs=[envelope_to])
                    except smtplib.SMTPRecipientsRefused as exc:
                        code, reply = next(iter(exc.recipients.values()), (-1, b""))
                        refused = smtplib.SMTPResponseException(code, reply)
                        failures.append((envelope_to, _smtp_error(self._label, envelope_to, refused)))
                    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
                        failures.append((envelope_to, _smtp_error(self._label, envelope_to, exc)))
                    else:
                        delivered.append(envelope_to)
            finally:
                _quit(smtp)
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(self._label, self._progress(delivered, addresses), exc) from None
        except smtplib.SMTPNotSupportedError as exc:
            msg = f"{self._label}: the server does not support what the channel asks for ({exc})"
            raise DeliveryError(msg, permanent=True) from None
        except (smtplib.SMTPException, OSError) as exc:
            where = f"{self._host}:{self._settings.smtp_port}"
            msg = f"{self._label}: {self._progress(delivered, addresses)}: connection to {where} failed ({type(exc).__name__}: {strip_controls(str(exc))[:200]})"
            raise DeliveryError(msg) from None
        if failures:
            permanent = all(error.permanent for _, error in failures)
            reasons = "; ".join(str(error).removeprefix(f"{self._label}: ") for _, error in failures)
            served = f" (delivered to {len(delivered)} other address(es))" if delivered else ""
            msg = f"{self._label}: {len(failures)} of {len(addresses)} address(es) failed{served}: {reasons}"
            raise DeliveryError(msg, permanent=permanent)

    @staticmethod
    def _progress(delivered: list[str], addresses: list[str]) -> str:
        return f"after {len(delivered)} of {len(addresses)} message(s)"

    def _connect(self) -> smtplib.SMTP:
        """Open the SMTP session: connect, STARTTLS and log in as configured."""
        settings = self._settings
        smtp = smtplib.SMTP(self._host, settings.smtp_port, timeout=self._timeout)
        try:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                smtp.login(settings.smtp_user, password)
        except BaseException:
            smtp.close()
            raise
        return smtp
