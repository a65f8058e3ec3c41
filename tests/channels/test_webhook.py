"""The webhook channel against respx: exact headers, GitHub-style signature, classified errors."""

from __future__ import annotations

import hashlib
import hmac
import json

import httpx
import pytest
import respx

from okrsync import __version__
from okrsync.channels import Alert, WebhookChannel, make_channel
from okrsync.errors import DeliveryError
from okrsync.settings import ChannelSettings

URL = "https://hooks.example.test/okr/T0KEN-s3cr3t-in-path?key=QUERYTOKEN"
SECRET = "webhook-signing-secret"


def channel(*, secret: str | None = SECRET) -> WebhookChannel:
    settings = ChannelSettings(name="okr-hook", type="webhook", url=URL, secret=secret)
    made = make_channel(settings)
    assert isinstance(made, WebhookChannel)
    return made


def test_posts_the_payload_with_event_headers_and_valid_signature(
    respx_mock: respx.MockRouter, alert: Alert
) -> None:
    route = respx_mock.post(URL).mock(return_value=httpx.Response(204))
    channel().notify(alert)

    assert route.call_count == 1
    request = route.calls.last.request
    assert json.loads(request.content) == alert.payload
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == f"okrsync/{__version__}"
    assert request.headers["X-Okrsync-Event"] == "milestone.rescheduled"
    assert request.headers["X-Okrsync-Delivery"] == alert.id
    expected = "sha256=" + hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request.headers["X-Okrsync-Signature-256"], expected)


def test_signature_covers_non_ascii_bytes_as_sent(respx_mock: respx.MockRouter, alert: Alert) -> None:
    alert.payload["text"] = "Änderung – 20 Nov → 4 Dec 🚀"
    route = respx_mock.post(URL).mock(return_value=httpx.Response(200))
    channel().notify(alert)
    request = route.calls.last.request
    digest = hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers["X-Okrsync-Signature-256"] == f"sha256={digest}"
    assert json.loads(request.content.decode("utf-8"))["text"] == alert.payload["text"]


def test_no_signature_header_without_a_secret(respx_mock: respx.MockRouter, alert: Alert) -> None:
    route = respx_mock.post(URL).mock(return_value=httpx.Response(200))
    channel(secret=None).notify(alert)
    assert "X-Okrsync-Signature-256" not in route.calls.last.request.headers


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (500, False),
        (502, False),
        (503, False),
        (408, False),
        (429, False),
        (400, True),
        (401, True),
        (403, True),
        (404, True),
        (410, True),
        (301, True),
    ],
)
def test_http_status_is_classified(
    respx_mock: respx.MockRouter, alert: Alert, status: int, permanent: bool
) -> None:
    respx_mock.post(URL).mock(return_value=httpx.Response(status, text=f"echo {URL}"))
    with pytest.raises(DeliveryError) as caught:
        channel().notify(alert)
    assert caught.value.permanent is permanent
    assert str(status) in str(caught.value)
    assert "okr-hook" in str(caught.value)


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectTimeout(f"timed out connecting to {URL}"),
        httpx.ReadTimeout(f"timed out reading {URL}"),
        httpx.ConnectError(f"connection refused by {URL}"),
        httpx.RemoteProtocolError(f"server hung up on {URL}"),
    ],
)
def test_network_errors_and_timeouts_are_retriable(
    respx_mock: respx.MockRouter, alert: Alert, error: Exception
) -> None:
    respx_mock.post(URL).mock(side_effect=error)
    with pytest.raises(DeliveryError) as caught:
        channel().notify(alert)
    assert caught.value.permanent is False
    assert caught.value.__cause__ is None  # the library's message (with the URL) is not chained


@pytest.mark.parametrize("status", [404, 429, 500])
def test_url_and_its_tokens_never_appear_in_errors(
    respx_mock: respx.MockRouter, alert: Alert, status: int
) -> None:
    respx_mock.post(URL).mock(return_value=httpx.Response(status, text=f"bad hook {URL}"))
    with pytest.raises(DeliveryError) as caught:
        channel().notify(alert)
    shown = f"{caught.value} {caught.value!r} {caught.value.args}"
    for secret in (URL, "T0KEN-s3cr3t-in-path", "QUERYTOKEN", "hooks.example.test", SECRET):
        assert secret not in shown


def test_timeout_message_hides_the_url(respx_mock: respx.MockRouter, alert: Alert) -> None:
    respx_mock.post(URL).mock(side_effect=httpx.ReadTimeout(f"timed out reading {URL}"))
    with pytest.raises(DeliveryError) as caught:
        channel().notify(alert)
    assert "T0KEN" not in str(caught.value)
    assert "timed out" in str(caught.value)


def test_unsupported_scheme_is_permanent(alert: Alert) -> None:
    settings = ChannelSettings(name="okr-hook", type="webhook", url="ftp://files.example.test/T0KEN")
    with pytest.raises(DeliveryError) as caught:
        make_channel(settings).notify(alert)
    assert caught.value.permanent is True
    assert "T0KEN" not in str(caught.value)


def test_a_real_local_receiver_can_verify_the_signature(alert: Alert) -> None:
    """Through a transport instead of respx: the seam a receiver test would use."""
    seen: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        sent = request.headers["X-Okrsync-Signature-256"].removeprefix("sha256=")
        good = hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
        return httpx.Response(200 if hmac.compare_digest(sent, good) else 401)

    settings = ChannelSettings(name="okr-hook", type="webhook", url=URL, secret=SECRET)
    with httpx.Client(transport=httpx.MockTransport(receiver)) as client:
        WebhookChannel(settings, client=client).notify(alert)
    assert len(seen) == 1
