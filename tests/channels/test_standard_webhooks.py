"""Standard Webhooks headers, checked by a receiver written from the specification.

The receiver below follows standard-webhooks.md (github.com/standard-webhooks/standard-webhooks,
spec/standard-webhooks.md), not okrsync's signer: the signed content is `msg_id.timestamp.payload`,
`webhook-signature` is a space-separated list of `v1,<base64 HMAC-SHA256>`, a symmetric secret is
serialised as `whsec_` + base64 of the key, the comparison is constant-time, and a timestamp
outside the tolerance or an id seen before is refused (replays).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from okrsync.channels import Alert, WebhookChannel
from okrsync.engine import run_cycle
from okrsync.settings import ChannelSettings
from tests.helpers import FakeClock, onboarding_sim, write_project

TOLERANCE = 5 * 60  # seconds; the spec's libraries use five minutes
TOKEN = "ghp_stdhooks_SECRET_9d21"
START = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
WHSEC = "whsec_" + base64.b64encode(bytes(range(32))).decode()


class Refused(Exception):
    pass


@dataclass
class Receiver:
    """A consumer as the specification describes it."""

    secret: str  # as the spec serialises it: whsec_<base64>
    seen: set[str] = field(default_factory=set)

    def verify(self, headers: dict[str, str], body: bytes, *, now: int) -> dict[str, Any]:
        msg_id, stamp, signatures = (
            headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
        )
        if not (msg_id and stamp and signatures):
            raise Refused("missing headers")
        if abs(now - int(stamp)) > TOLERANCE:
            raise Refused("timestamp outside the tolerance")
        key = base64.b64decode(self.secret.removeprefix("whsec_"))
        expected = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
        for versioned in signatures.split(" "):
            version, _, encoded = versioned.partition(",")
            if version == "v1" and hmac.compare_digest(base64.b64decode(encoded), expected):
                break
        else:
            raise Refused("no matching signature")
        if msg_id in self.seen:
            raise Refused("already processed")
        self.seen.add(msg_id)
        return dict(json.loads(body))


def as_whsec(secret: str) -> str:
    """What the README tells a receiver to give its library for a secret not written as whsec_."""
    return "whsec_" + base64.b64encode(secret.encode()).decode()


@dataclass
class Sink:
    """A real HTTP server keeping each POST's raw headers and body, answering from a script."""

    answers: list[int]
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def sink() -> Iterator[Sink]:
    kept = Sink(answers=[])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            kept.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(kept.answers.pop(0) if kept.answers else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    kept.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield kept
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("secret", "receiver_secret"), [(WHSEC, WHSEC), ("plain-secret", as_whsec("plain-secret"))]
)
def test_a_delivery_retried_keeps_its_webhook_id_and_each_attempt_verifies_by_the_spec(
    tmp_path: Path, sink: Sink, secret: str, receiver_secret: str
) -> None:
    clock = FakeClock(START)
    sink.answers = [503]  # the first attempt fails; the outbox retries the same delivery
    extra = f"""
[alerts.channels.hook]
type = "webhook"
url = "{sink.url}"
secret = "{secret}"

[people.bob]
name = "Bob Stone"
"""
    with onboarding_sim(clock, token=TOKEN, due=DUE) as sim:
        project = write_project(
            tmp_path,
            database_url=f"sqlite:///{tmp_path / 'okrsync.db'}",
            github_url=sim.url,
            token=TOKEN,
            extra=extra,
        )
        run_cycle(project.settings, project.okrs, project.engine, now=clock())
        sim.set_due("acme/web", 1, datetime(2026, 12, 4, 8, 0, tzinfo=UTC))
        report = run_cycle(project.settings, project.okrs, project.engine, now=clock.tick(600))
    assert report.delivery.delivered >= 1 and not report.delivery.failed

    by_id: dict[str, list[tuple[dict[str, str], bytes]]] = {}
    for headers, body in sink.received:
        by_id.setdefault(headers["webhook-id"], []).append((headers, body))
    [(event_id, (first, second))] = [(k, v) for k, v in by_id.items() if len(v) == 2]  # the retried one
    assert event_id == json.loads(first[1])["id"] == first[0]["x-okrsync-delivery"]
    receiver = Receiver(receiver_secret)
    now = int(datetime.now(UTC).timestamp())  # webhook-timestamp is the real time of the attempt
    payload = receiver.verify(second[0], second[1], now=now)
    assert payload["id"] == event_id
    # The first attempt carried the same id: a receiver that processed it refuses the retry.
    with pytest.raises(Refused, match="already processed"):
        receiver.verify(first[0], first[1], now=now)
    # GitHub's scheme still rides along, keyed on the secret as written.
    legacy = "sha256=" + hmac.new(secret.encode(), second[1], hashlib.sha256).hexdigest()
    assert second[0]["x-okrsync-signature-256"] == legacy


def test_a_replay_later_or_a_changed_body_is_refused(sink: Sink, alert: Alert) -> None:
    sent_at = datetime(2026, 11, 22, 9, 5, tzinfo=UTC).timestamp()
    settings = ChannelSettings(name="hook", type="webhook", url=sink.url, secret=WHSEC)
    WebhookChannel(settings, clock=lambda: sent_at).notify(alert)
    [(headers, body)] = sink.received
    assert headers["webhook-timestamp"] == str(int(sent_at))

    with pytest.raises(Refused, match="tolerance"):  # the same request, replayed ten minutes on
        Receiver(WHSEC).verify(headers, body, now=int(sent_at + timedelta(minutes=10).total_seconds()))
    with pytest.raises(Refused, match="no matching signature"):
        Receiver(WHSEC).verify(headers, body.replace(b"Onboarding", b"Offboarding"), now=int(sent_at))
    with pytest.raises(Refused, match="no matching signature"):
        Receiver(as_whsec("another-secret")).verify(headers, body, now=int(sent_at))
    assert Receiver(WHSEC).verify(headers, body, now=int(sent_at))["id"] == alert.payload["id"]


def test_without_a_secret_the_id_and_timestamp_are_sent_and_no_signature(sink: Sink, alert: Alert) -> None:
    settings = ChannelSettings(name="hook", type="webhook", url=sink.url, secret=None)
    WebhookChannel(settings, clock=lambda: 1_790_000_000.7).notify(alert)
    [(headers, _body)] = sink.received
    assert (headers["webhook-id"], headers["webhook-timestamp"]) == (alert.id, "1790000000")
    assert "webhook-signature" not in headers and "x-okrsync-signature-256" not in headers


def test_a_whsec_secret_that_is_not_base64_is_refused_without_echoing_it() -> None:
    settings = ChannelSettings(
        name="hook", type="webhook", url="https://hooks.test/x", secret="whsec_not*base64!"
    )
    with pytest.raises(ValueError, match="whsec_ must continue in base64") as caught:
        WebhookChannel(settings)
    assert "not*base64" not in str(caught.value)


def readme_snippet() -> str:
    """The Python block of the README's "Verifying a webhook" section."""
    text = (Path(__file__).parents[2] / "README.md").read_text()
    section = text.split("### Verifying a webhook", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_verification_snippet_accepts_a_delivery_once_and_refuses_tampering(
    sink: Sink, alert: Alert
) -> None:
    namespace: dict[str, Any] = {}
    exec(compile(readme_snippet(), "README.md", "exec"), namespace)  # our own README, run as a reader would
    namespace["SECRET"] = WHSEC
    WebhookChannel(ChannelSettings(name="hook", type="webhook", url=sink.url, secret=WHSEC)).notify(alert)
    [(headers, body)] = sink.received

    assert namespace["verify"](headers, body.replace(b"Onboarding", b"Offboarding")) is False
    assert namespace["verify"](headers, body) is True
    assert namespace["verify"](headers, body) is False  # the same id again: a replay
