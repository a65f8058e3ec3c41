"""The email channel against a real SMTP server (aiosmtpd) on 127.0.0.1."""

from __future__ import annotations

import email
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from okrsync.channels import Alert, EmailChannel, Recipient, make_channel
from okrsync.errors import DeliveryError
from okrsync.settings import ChannelSettings
from tests.channels.conftest import hostile_alert, make_alert

PASSWORD = "smtp-pa55word"


@dataclass
class Inbox:
    """An SMTP handler that keeps what it accepts and refuses what it is told to."""

    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    refuse_rcpt: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse_rcpt:
            return self.refuse_rcpt[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(raw, policy=default) for _, _, raw in self.received]

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        # handled=False: aiosmtpd then answers 535 itself (True would mean "already answered").
        return AuthResult(success=data.password == PASSWORD.encode(), handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box = Inbox()
    port = free_port()
    controller = Controller(
        box, hostname="127.0.0.1", port=port, authenticator=box.authenticate, auth_require_tls=False
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def channel(port: int, **extra: Any) -> EmailChannel:
    settings = ChannelSettings(
        name="mail",
        type="email",
        smtp_host="127.0.0.1",
        smtp_port=port,
        sender="okrsync <okrsync@acme.test>",
        **extra,
    )
    made = make_channel(settings)
    assert isinstance(made, EmailChannel)
    return made


def test_one_message_per_recipient_with_text_and_html(inbox: tuple[Inbox, int], alert: Alert) -> None:
    box, port = inbox
    channel(port, to=["ops@acme.test", "Bob <BOB@acme.test>"]).notify(alert)

    assert [(sender, rcpts) for sender, rcpts, _ in box.received] == [
        ("okrsync@acme.test", ["bob@acme.test"]),
        ("okrsync@acme.test", ["ops@acme.test"]),
    ]
    owner, ops = box.messages()
    assert owner["To"] == "Bob Stone <bob@acme.test>"
    assert ops["To"] == "ops@acme.test"
    for message in (owner, ops):
        assert message["From"] == "okrsync <okrsync@acme.test>"
        assert message["Subject"] == "[okrsync] Milestone rescheduled: Onboarding v2 (KR ENG-1.1)"
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["X-Okrsync-Delivery"] == alert.id
        assert message.get_content_type() == "multipart/alternative"
        plain = message.get_body(("plain",))
        rich = message.get_body(("html",))
        assert plain is not None and rich is not None
        text = plain.get_content()
        assert "Due: 20 Nov → 4 Dec" in text
        assert "acme/web#231 Signup form loses input on back (carol)" in text
        assert '<a href="https://github.com/acme/web/issues/231">acme/web#231</a>' in rich.get_content()


def test_message_id_is_derived_from_the_alert_and_stable_across_retries(
    inbox: tuple[Inbox, int], alert: Alert
) -> None:
    box, port = inbox
    mail = channel(port)
    mail.notify(alert)
    mail.notify(alert)
    first, again = box.messages()
    assert first["Message-ID"] == again["Message-ID"] == f"<okrsync.{alert.id}@acme.test>"


def test_odd_alert_ids_still_give_a_valid_message_id(inbox: tuple[Inbox, int]) -> None:
    box, port = inbox
    alert = make_alert()
    odd = Alert(id="a b<c>@d", type=alert.type, payload=alert.payload, recipient=alert.recipient)
    channel(port).notify(odd)
    (message,) = box.messages()
    assert message["Message-ID"].startswith("<") and " " not in message["Message-ID"]


def test_hostile_titles_inject_no_header_no_recipient_and_no_html(inbox: tuple[Inbox, int]) -> None:
    box, port = inbox
    channel(port).notify(hostile_alert())

    ((_, rcpts, raw),) = box.received
    assert rcpts == ["bob@acme.test"]
    head = raw.split(b"\r\n\r\n", 1)[0]
    header_lines = re.sub(rb"\r\n[ \t]", b" ", head).split(b"\r\n")  # unfold, then one per header
    assert [line.split(b":")[0] for line in header_lines if b"victim@evil.test" in line] == [b"Subject"]
    (message,) = box.messages()
    assert "Bcc" not in message
    assert sorted(set(message.keys())) == sorted(
        {
            "Subject",
            "From",
            "To",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "X-Okrsync-Event",
            "X-Okrsync-Delivery",
            "Content-Type",
            "MIME-Version",
        }
    )
    assert "Bcc: victim@evil.test" in message["Subject"]  # shown as text, on the subject's one line
    rich = message.get_body(("html",))
    assert rich is not None
    page = rich.get_content()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt;" in page
    assert "javascript:" not in page


def test_no_address_is_permanent(inbox: tuple[Inbox, int]) -> None:
    _, port = inbox
    with pytest.raises(DeliveryError, match="no address") as caught:
        channel(port).notify(make_alert(recipient=Recipient(id="bob", name="Bob Stone")))
    assert caught.value.permanent is True


def test_fixed_recipients_get_alerts_of_owners_without_email(inbox: tuple[Inbox, int]) -> None:
    box, port = inbox
    channel(port, to=["ops@acme.test"]).notify(make_alert(recipient=None))
    assert [rcpts for _, rcpts, _ in box.received] == [["ops@acme.test"]]


@pytest.mark.parametrize(
    ("rcpt_reply", "data_reply", "permanent"),
    [
        ("550 5.1.1 Mailbox unavailable", None, True),
        ("451 4.3.0 Try again later", None, False),
        (None, "554 5.6.0 Message rejected", True),
        (None, "451 4.7.1 Greylisted, try again", False),
    ],
)
def test_smtp_replies_are_classified(
    inbox: tuple[Inbox, int], alert: Alert, rcpt_reply: str | None, data_reply: str | None, permanent: bool
) -> None:
    box, port = inbox
    if rcpt_reply is not None:
        box.refuse_rcpt["bob@acme.test"] = rcpt_reply
    box.data_reply = data_reply
    with pytest.raises(DeliveryError) as caught:
        channel(port).notify(alert)
    assert caught.value.permanent is permanent
    assert (rcpt_reply or data_reply or "")[:3] in str(caught.value)


def test_one_bounced_address_does_not_stop_the_others(inbox: tuple[Inbox, int], alert: Alert) -> None:
    box, port = inbox
    box.refuse_rcpt["bob@acme.test"] = "550 5.1.1 Mailbox unavailable"
    with pytest.raises(DeliveryError) as caught:
        channel(port, to=["ops@acme.test"]).notify(alert)
    assert caught.value.permanent is True
    assert "1 of 2" in str(caught.value)
    assert [rcpts for _, rcpts, _ in box.received] == [["ops@acme.test"]]


def test_a_temporary_failure_among_permanent_ones_is_retriable(
    inbox: tuple[Inbox, int], alert: Alert
) -> None:
    box, port = inbox
    box.refuse_rcpt["bob@acme.test"] = "550 5.1.1 Mailbox unavailable"
    box.refuse_rcpt["ops@acme.test"] = "452 4.2.2 Mailbox full"
    with pytest.raises(DeliveryError) as caught:
        channel(port, to=["ops@acme.test"]).notify(alert)
    assert caught.value.permanent is False


def test_refused_connection_is_retriable(alert: Alert) -> None:
    with pytest.raises(DeliveryError) as caught:
        channel(free_port()).notify(alert)
    assert caught.value.permanent is False


def test_starttls_on_a_server_without_it_is_permanent(inbox: tuple[Inbox, int], alert: Alert) -> None:
    box, port = inbox
    with pytest.raises(DeliveryError) as caught:
        channel(port, starttls=True).notify(alert)
    assert caught.value.permanent is True
    assert box.received == []


def test_logs_in_when_configured(inbox: tuple[Inbox, int], alert: Alert) -> None:
    box, port = inbox
    channel(port, smtp_user="okrsync", smtp_password=PASSWORD).notify(alert)
    assert box.logins == [(b"okrsync", PASSWORD.encode())]
    assert len(box.received) == 1


def test_wrong_password_is_permanent_and_not_shown(inbox: tuple[Inbox, int], alert: Alert) -> None:
    box, port = inbox
    with pytest.raises(DeliveryError) as caught:
        channel(port, smtp_user="okrsync", smtp_password="wrong-secret").notify(alert)
    assert caught.value.permanent is True
    assert "535" in str(caught.value)
    assert "wrong-secret" not in str(caught.value)
    assert box.received == []
