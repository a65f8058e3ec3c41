"""The HTTP plumbing shared by the simulated trackers: routing, request log, injected faults.

Each response is written in a single send: a server that writes headers and body separately
stalls about 40 ms per small response on loopback (delayed ACK, SPEC §8), and would then
measure itself instead of okrsync.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One request as the simulator saw it (the Authorization value is never kept)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    status: int = 0
    client: str | None = None  # who authenticated (the simulator's name for the token)
    authorization: str = field(default="", repr=False)  # cleared once the request is answered

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    """What to answer: a status, a JSON-able body (or raw bytes) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


@dataclass
class Fault:
    """An injected failure: answer `status` (or stall `delay` seconds) for matching requests.

    `path` is a substring of the request path ("" matches every request); `times` is how
    many requests it hits (None: until cleared). `raw` sends a malformed body as is.
    """

    status: int = 500
    path: str = ""
    method: str | None = None
    times: int | None = None
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    delay: float = 0.0

    def matches(self, request: Request) -> bool:
        if self.method and self.method != request.method:
            return False
        return self.path in request.path


class SimServer:
    """A threaded HTTP server on 127.0.0.1 with a request log and fault injection.

    Subclasses implement `route(request) -> Response` and `authenticate(request) -> str | None`.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self._server: ThreadingHTTPServer | None = None
        self._scheme = "http"
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self, port: int = 0, *, tls: ssl.SSLContext | None = None) -> SimServer:
        """Start serving on 127.0.0.1 (a free port unless one is given); HTTPS when given `tls`.

        `tls` (a server-side context with a certificate) lets tests play a tracker behind a
        company CA, the case `[http] ca_bundle` exists for.
        """
        sim = self

        class Handler(_Handler):
            simulator = sim

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        # A short poll interval: stop() waits for the serve loop to notice, 0.5 s by default,
        # which would dominate every test that starts and stops a simulator.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name=type(self).__name__
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the simulator first"
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host!s}:{port}"

    # --- faults and log --------------------------------------------------------------------

    def inject(self, fault: Fault) -> Fault:
        """Add a fault; it applies to matching requests until used up or cleared."""
        with self.lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def clear_log(self) -> None:
        with self.lock:
            self.requests.clear()

    def log(self) -> list[Request]:
        with self.lock:
            return list(self.requests)

    def _take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(request):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    # --- for subclasses --------------------------------------------------------------------

    def authenticate(self, request: Request) -> str | None:
        """Return a name for the caller, or None to answer 401."""
        return "anonymous"

    def unauthorized(self, request: Request) -> Response:
        return Response(401, {"message": "Bad credentials"})

    def route(self, request: Request) -> Response:
        raise NotImplementedError

    def dispatch(self, request: Request) -> Response:
        """Apply faults, then auth, then the route; never let an exception kill the server."""
        fault = self._take_fault(request)
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status:
                return Response(fault.status, fault.body, dict(fault.headers), fault.raw)
        client = self.authenticate(request)
        if client is None:
            return self.unauthorized(request)
        request.client = client
        try:
            with self.lock:
                return self.route(request)
        except Exception as exc:  # a bug in the simulator must show up as a 500, not a hang
            return Response(500, {"message": f"simulator error: {exc!r}"})


class _Handler(BaseHTTPRequestHandler):
    simulator: SimServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Keep the simulator quiet; the request log is the record."""

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items() if k.lower() != "authorization"}
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=headers,
            body=body,
        )
        request.authorization = self.headers.get("Authorization", "")
        response = self.simulator.dispatch(request)
        request.authorization = ""
        request.status = response.status
        with self.simulator.lock:
            self.simulator.requests.append(request)
        payload = response.encode() if response.status != 304 else b""
        reason = (
            HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
        )
        lines = [f"HTTP/1.1 {response.status} {reason}"]
        out_headers = {"Content-Type": "application/json; charset=utf-8", **response.headers}
        out_headers["Content-Length"] = str(len(payload))
        lines += [f"{k}: {v}" for k, v in out_headers.items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve
