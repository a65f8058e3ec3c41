"""Behind a company CA: one `[http] ca_bundle` for both HTTP stacks, and clear errors without it.

Proxies need no setting: a CONNECT proxy below shows both stacks take HTTPS_PROXY and NO_PROXY
from the environment, the same way. A CA and a server certificate for 127.0.0.1 are made here with `cryptography` (installed with
PyGithub, through `pyjwt[crypto]`). The GitHub simulator and a webhook receiver serve HTTPS
with that certificate; the source goes through PyGithub (requests) and the alert through httpx,
both in a real cycle. The variables a machine may already set for one stack
(REQUESTS_CA_BUNDLE, SSL_CERT_FILE, …) point at the system store, which does not hold the test
CA, so only `[http] ca_bundle` can make these connections trusted.
"""

from __future__ import annotations

import ipaddress
import json
import select
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from okrsync.channels import Alert, make_channel
from okrsync.engine import run_cycle
from okrsync.errors import DeliveryError
from okrsync.sandbox.github import GitHubSim
from okrsync.sandbox.jira import JiraSim
from okrsync.settings import load_settings
from tests.helpers import FakeClock, write_jira_project, write_project

TOKEN = "ghp_tls_SECRET_c0a1"
START = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Pki:
    ca_pem: Path
    server_context: ssl.SSLContext


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A company CA and a certificate it signed for 127.0.0.1 and localhost."""
    folder = tmp_path_factory.mktemp("pki")
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Acme Corp Test Root CA"))
        .issuer_name(_name("Acme Corp Test Root CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = folder / "acme-ca.pem"
    ca_pem.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    chain = folder / "server.pem"
    chain.write_bytes(
        cert.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(chain)
    return Pki(ca_pem=ca_pem, server_context=context)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def github(pki: Pki, clock: FakeClock) -> Iterator[GitHubSim]:
    sim = GitHubSim(tokens={TOKEN: "okrsync"}, clock=clock)
    sim.add_repo("acme/web")
    number = sim.add_milestone("acme/web", "Onboarding v2", due_on=DUE)
    for index in range(3):
        sim.add_issue("acme/web", f"Task {index}", milestone=number, assignee="carol")
    sim.start(tls=pki.server_context)
    yield sim
    sim.stop()


@dataclass
class Receiver:
    url: str = ""
    payloads: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def receiver(pki: Pki) -> Iterator[Receiver]:
    """An HTTPS webhook endpoint with the company CA's certificate."""
    kept = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            kept.payloads.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = pki.server_context.wrap_socket(server.socket, server_side=True)
    kept.url = f"https://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield kept
    server.shutdown()
    server.server_close()


def config_extra(receiver: Receiver, ca_bundle: Path | None) -> str:
    text = f"""
[alerts]
send_backlog = true

[alerts.channels.hook]
type = "webhook"
url = "{receiver.url}"

[people.bob]
name = "Bob Stone"
"""
    if ca_bundle is not None:
        text += f'\n[http]\nca_bundle = "{ca_bundle}"\n'
    return text


def test_with_the_ca_bundle_a_github_source_and_a_webhook_alert_both_speak_tls(
    tmp_path: Path, pki: Pki, github: GitHubSim, receiver: Receiver, clock: FakeClock
) -> None:
    project = write_project(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'okrsync.db'}",
        github_url=github.url,
        token=TOKEN,
        extra=config_extra(receiver, pki.ca_pem),
    )
    assert github.url.startswith("https://") and project.settings.http.ca_bundle == pki.ca_pem

    first = run_cycle(project.settings, project.okrs, project.engine, now=clock())
    github.set_due("acme/web", 1, datetime(2026, 12, 4, 8, 0, tzinfo=UTC))
    second = run_cycle(project.settings, project.okrs, project.engine, now=clock.tick(600))

    assert [s.ok for s in first.sources + second.sources] == [True, True], first.sources + second.sources
    assert second.delivery.delivered >= 1 and not second.delivery.failed
    assert "milestone.rescheduled" in {p["type"] for p in receiver.payloads}


def test_without_the_ca_bundle_both_fail_with_an_error_naming_the_source_and_the_host(
    tmp_path: Path, github: GitHubSim, receiver: Receiver, clock: FakeClock
) -> None:
    project = write_project(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'okrsync.db'}",
        github_url=github.url,
        token=TOKEN,
        extra=config_extra(receiver, None),
    )
    report = run_cycle(project.settings, project.okrs, project.engine, now=clock())

    [source] = report.sources
    assert not source.ok and source.error is not None
    assert source.error.startswith("source 'github': GET /repos/acme/web/issues: ")
    assert "the TLS certificate of 127.0.0.1 is not trusted" in source.error
    assert "[http] ca_bundle" in source.error and TOKEN not in source.error

    hook = make_channel(project.settings.alerts.channels["hook"], ca_bundle=None)
    alert = Alert(
        id="evt-1", type="test", payload={"id": "evt-1", "type": "test", "text": "t"}, recipient=None
    )
    with pytest.raises(DeliveryError) as caught:
        hook.notify(alert)
    message = str(caught.value)
    assert message.startswith("webhook channel 'hook': the TLS certificate of 127.0.0.1 is not trusted")
    assert "[http] ca_bundle" in message and "/hook" not in message  # the host, never the URL
    assert receiver.payloads == []


def test_a_ca_bundle_that_is_missing_or_relative_is_a_config_error_naming_the_line(tmp_path: Path) -> None:
    from okrsync.errors import ConfigError

    for value, expected in (
        (str(tmp_path / "nope.pem"), "no file at"),
        ("certs/acme.pem", "expected an absolute path"),
    ):
        config = tmp_path / "config.toml"
        config.write_text(f'[okrsync]\ntimezone = "UTC"\n\n[http]\nca_bundle = "{value}"\n')
        with pytest.raises(ConfigError) as caught:
            load_settings(config, environ={})
        text = str(caught.value)
        assert f"{config}:5: http.ca_bundle: " in text and expected in text, text


@dataclass
class Proxy:
    url: str = ""
    tunnels: list[str] = field(default_factory=list)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    """A forward proxy for HTTPS: it answers CONNECT host:port and pipes bytes, as Squid would."""
    kept = Proxy()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_CONNECT(self) -> None:
            kept.tunnels.append(self.path)
            host, _, port = self.path.rpartition(":")
            upstream = socket.create_connection((host, int(port)), timeout=10)
            self.send_response(200, "Connection established")
            self.end_headers()
            self.close_connection = True
            ends = [self.connection, upstream]
            try:
                while True:
                    readable, _, _ = select.select(ends, [], [], 10)
                    if not readable:
                        return
                    for end in readable:
                        data = end.recv(65536)
                        if not data:
                            return
                        (upstream if end is self.connection else self.connection).sendall(data)
            finally:
                upstream.close()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    kept.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield kept
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("bypass", [False, True])
def test_https_proxy_and_no_proxy_from_the_environment_apply_to_the_source_and_the_alert(
    tmp_path: Path,
    pki: Pki,
    github: GitHubSim,
    receiver: Receiver,
    clock: FakeClock,
    proxy: Proxy,
    monkeypatch: pytest.MonkeyPatch,
    bypass: bool,
) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    if bypass:
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    project = write_project(
        tmp_path,
        database_url=f"sqlite:///{tmp_path / 'okrsync.db'}",
        github_url=github.url,
        token=TOKEN,
        extra=config_extra(receiver, pki.ca_pem),
    )
    run_cycle(project.settings, project.okrs, project.engine, now=clock())
    github.set_due("acme/web", 1, datetime(2026, 12, 4, 8, 0, tzinfo=UTC))
    report = run_cycle(project.settings, project.okrs, project.engine, now=clock.tick(600))

    assert [s.ok for s in report.sources] == [True] and report.delivery.delivered >= 1
    github_at, hook_at = (
        github.url.removeprefix("https://"),
        receiver.url.removeprefix("https://").split("/")[0],
    )
    if bypass:
        assert proxy.tunnels == []
    else:
        assert github_at in proxy.tunnels and hook_at in proxy.tunnels  # requests and httpx alike


@pytest.mark.parametrize("with_bundle", [True, False])
def test_a_jira_source_trusts_the_same_ca_bundle(
    tmp_path: Path, pki: Pki, clock: FakeClock, with_bundle: bool
) -> None:
    sim = JiraSim("cloud", users={f"okrsync@acme.test:{TOKEN}": "okrsync"}, clock=clock)
    sim.add_project("ONB", "Onboarding")
    sim.add_version("ONB", "2.0", release_date=DUE.date())
    sim.start(tls=pki.server_context)
    try:
        project = write_jira_project(
            tmp_path,
            database_url=f"sqlite:///{tmp_path / 'okrsync.db'}",
            jira_url=sim.url,
            token=TOKEN,
            email="okrsync@acme.test",
            extra=f'\n[http]\nca_bundle = "{pki.ca_pem}"\n' if with_bundle else "",
        )
        [source] = run_cycle(project.settings, project.okrs, project.engine, now=clock()).sources
    finally:
        sim.stop()
    if with_bundle:
        assert source.ok, source.error
    else:
        assert not source.ok and source.error is not None
        assert source.error.startswith("source 'jira': connecting to https://127.0.0.1:")
        assert "the TLS certificate of 127.0.0.1 is not trusted" in source.error
