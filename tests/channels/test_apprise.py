"""The Apprise channel: a json:// URL against a real HTTP server on 127.0.0.1.

Apprise posts with `requests`, which respx cannot see, so a tiny `http.server` in a thread
plays the service.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from okrsync.channels import Alert, AppriseChannel, make_channel
from okrsync.errors import DeliveryError
from okrsync.settings import ChannelSettings

# Apprise imports the deprecated `imghdr` lazily, on its first notification.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


class Service(ThreadingHTTPServer):
    """Keeps each POSTed JSON body; answers with `status`."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.status = 200

    @property
    def port(self) -> int:
        return int(self.server_address[1])


class _Handler(BaseHTTPRequestHandler):
    server: Service

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length", 0))
        self.server.bodies.append(json.loads(self.rfile.read(length)))
        self.server.paths.append(self.path)
        reply = b"{}"
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def service() -> Iterator[Service]:
    server = Service()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def channel(url: str) -> AppriseChannel:
    made = make_channel(ChannelSettings(name="ops-apprise", type="apprise", url=url))
    assert isinstance(made, AppriseChannel)
    return made


def test_one_notification_arrives_with_title_and_body(service: Service, alert: Alert) -> None:
    channel(f"json://127.0.0.1:{service.port}/okr-hook").notify(alert)

    assert service.paths == ["/okr-hook"]
    (body,) = service.bodies
    assert body["title"] == "Milestone rescheduled: Onboarding v2 (KR ENG-1.1)"
    assert body["message"].splitlines()[0] == alert.payload["text"]
    assert "- acme/web#231 Signup form loses input on back (carol)" in body["message"]
    assert body["type"] == "warning"


def test_a_failing_service_is_retriable_and_the_url_is_not_shown(
    service: Service, alert: Alert, caplog: pytest.LogCaptureFixture
) -> None:
    service.status = 500
    url = f"json://hookuser:PA55WORD@127.0.0.1:{service.port}/T0KEN-PATH"
    caplog.set_level(logging.WARNING)
    with pytest.raises(DeliveryError) as caught:
        channel(url).notify(alert)
    assert caught.value.permanent is False
    assert "ops-apprise" in str(caught.value)
    for secret in ("PA55WORD", "T0KEN-PATH", url):
        assert secret not in str(caught.value)
        assert secret not in caplog.text


@pytest.mark.parametrize("url", ["nosuchservice://token@host", "not a url at all"])
def test_a_url_apprise_cannot_parse_is_permanent(url: str, alert: Alert) -> None:
    with pytest.raises(DeliveryError) as caught:
        channel(url).notify(alert)
    assert caught.value.permanent is True
    assert "token@host" not in str(caught.value)
