"""The daemon's HTTP server: `/livez` and `/healthz` for orchestrators, `/metrics` for
Prometheus, `/` and `/kr/<KR-ID>` for people.

A `ThreadingHTTPServer` on a thread of its own, so a slow scrape never delays a cycle and a
long cycle never makes a health check time out. `/livez` says only whether the loop still
turns (liveness.py: the liveness probe, restart when 503); `/healthz` says whether every source
synced lately (the readiness probe and monitors: a tracker outage is not cured by a restart).
Health is read from the database (`source_state`), not from the loop's memory, so a follower
answers with the same truth as the leader and a restarted leader remembers the last success.
`HEAD` answers every path as `GET` would, without the body (probes and uptime checkers use it).

`/` and `/kr/<KR-ID>` serve the HTML report (`okrsync.report`), rendered from the database
on each request, with a Content-Security-Policy that forbids every remote load.

It binds to loopback unless `[server] listen` says otherwise (SPEC §9). With `server.token`
set every path asks for `Authorization: Bearer <token>`, compared in constant time; the token
is never echoed, and nothing here reads a source's secrets.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import unquote

from pydantic import SecretStr
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError

from okrsync.errors import OkrsyncError
from okrsync.metrics import Metrics, SourceHealth
from okrsync.report.render import CONTENT_SECURITY_POLICY
from okrsync.store import SourceState, session

logger = logging.getLogger(__name__)

HEALTHY_WITHIN_INTERVALS = 3
JSON_TYPE = "application/json"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"
# The report's pages need their inline CSS and nothing else: no script, font, frame or URL load.
HTML_HEADERS = {
    "Content-Security-Policy": f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

HealthProbe = Callable[[], tuple[int, dict[str, Any]]]
PATHS = ("/livez", "/healthz", "/metrics")


class Pages(Protocol):
    """The report's pages as bytes (`okrsync.report.LivePages`); `kr` is None for an unknown KR."""

    def index(self) -> bytes: ...

    def kr(self, kr_id: str) -> bytes | None: ...


def _html_message(title: str, text: str) -> bytes:
    """A minimal page for a missing KR or an unreadable database (nothing loaded).

    `title` and `text` are okrsync's own words, never a path or tracker text: nothing is escaped.
    """
    return (
        '<!doctype html><html lang="en"><meta charset="utf-8"><title>okrsync</title>'
        f'<p><a href="/">All OKRs</a></p><h1>{title}</h1><p>{text}</p></html>'
    ).encode()


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def judge_sources(
    states: Iterable[SourceState],
    names: Iterable[str],
    *,
    now: datetime,
    interval: float,
    started_at: datetime,
) -> list[SourceHealth]:
    """Judge each configured source: healthy when it last succeeded within three intervals.

    A source that has never succeeded gets the same three intervals of grace from the
    process start, so a first sync of a large org does not read as an outage.
    """
    window = timedelta(seconds=HEALTHY_WITHIN_INTERVALS * interval)
    by_name = {s.name: s for s in states}
    judged = []
    for name in names:
        state = by_name.get(name)
        last_success = state.last_success if state is not None else None
        since = last_success if last_success is not None else started_at
        judged.append(
            SourceHealth(
                name=name,
                last_success=last_success,
                last_error=state.last_error if state is not None else None,
                healthy=now - since <= window,
            )
        )
    return judged


def health_document(sources: Iterable[SourceHealth], *, role: str) -> tuple[int, dict[str, Any]]:
    """Build the /healthz answer: 200 and "ok" when every source is healthy, else 503 "failing"."""
    listed = list(sources)
    ok = all(s.healthy for s in listed)
    document = {
        "status": "ok" if ok else "failing",
        "role": role,
        "sources": {
            s.name: {"last_success": _iso(s.last_success), "last_error": s.last_error, "healthy": s.healthy}
            for s in listed
        },
    }
    return (200 if ok else 503), document


class SourceHealthReader:
    """Read and judge the configured sources' state from the database, for both endpoints."""

    def __init__(
        self,
        engine: Engine,
        names: list[str],
        *,
        interval: float,
        started_at: datetime,
        clock: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._names = names
        self._interval = interval
        self._started_at = started_at
        self._clock = clock

    def __call__(self) -> list[SourceHealth]:
        with session(self._engine) as db:
            states = list(db.execute(select(SourceState)).scalars())
        return judge_sources(
            states, self._names, now=self._clock(), interval=self._interval, started_at=self._started_at
        )


def health_probe(read: Callable[[], list[SourceHealth]], role: Callable[[], str]) -> HealthProbe:
    """Combine the database read and the current role into the /healthz answer."""

    def probe() -> tuple[int, dict[str, Any]]:
        try:
            sources = read()
        except SQLAlchemyError as exc:
            # No detail: a driver's message may name hosts and users; the log has the rest.
            logger.warning("healthz: cannot read source state: %s", type(exc).__name__)
            return 503, {
                "status": "failing",
                "role": role(),
                "sources": {},
                "error": f"cannot read source state from the database ({type(exc).__name__})",
            }
        return health_document(sources, role=role())

    return probe


def _always_live() -> tuple[int, dict[str, Any]]:
    return 200, {"status": "ok"}


class StatusServer:
    """Serve /livez, /healthz and /metrics on a background thread until `stop()`."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        health: HealthProbe,
        metrics: Metrics,
        live: HealthProbe = _always_live,
        token: SecretStr | None = None,
        pages: Pages | None = None,
    ) -> None:
        self._host = host
        self._health = health
        self._live = live
        self._metrics = metrics
        self._pages = pages
        self._token = token.get_secret_value().encode() if token is not None else None
        owner = self

        class Handler(_Handler):
            server_owner = owner

        try:
            self._server = ThreadingHTTPServer((host, port), Handler)
        except OSError as exc:
            msg = f"cannot listen on {host}:{port} ([server] listen): {exc.strerror or exc}"
            raise OkrsyncError(msg) from None
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._server.server_port}"

    def start(self) -> StatusServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="okrsync-http", daemon=True
        )
        self._thread.start()
        served = [*PATHS, *(["/", "/kr/<KR-ID>"] if self._pages is not None else [])]
        logger.info("serving %s on %s", ", ".join(served), self.url)
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def authorized(self, header: str | None) -> bool:
        if self._token is None:
            return True
        scheme, _, given = (header or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self._token)

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """Route one GET: (status, content type, body)."""
        if path == "/livez":
            status, document = self._live()
            return status, JSON_TYPE, json.dumps(document).encode()
        if path == "/healthz":
            status, document = self._health()
            return status, JSON_TYPE, json.dumps(document).encode()
        if path == "/metrics":
            return 200, METRICS_TYPE, self._metrics.exposition()
        if self._pages is not None and (path == "/" or path.startswith("/kr/")):
            return self._page(path)
        paths = [*PATHS] + (["/", "/kr/<KR-ID>"] if self._pages is not None else [])
        return 404, JSON_TYPE, json.dumps({"error": "not found", "paths": paths}).encode()

    def _page(self, path: str) -> tuple[int, str, bytes]:
        """Render `/` or `/kr/<KR-ID>`; a database not yet readable answers 503, not a traceback."""
        assert self._pages is not None
        try:
            if path == "/":
                return 200, HTML_TYPE, self._pages.index()
            page = self._pages.kr(unquote(path[len("/kr/") :]))
        except SQLAlchemyError as exc:
            logger.warning("report: cannot read the database: %s", type(exc).__name__)
            text = f"The database cannot be read yet ({type(exc).__name__}); the log says more."
            return 503, HTML_TYPE, _html_message("Report unavailable", text)
        if page is None:
            return 404, HTML_TYPE, _html_message("No such key result", "The mappings define no such KR.")
        return 200, HTML_TYPE, page


class _Handler(BaseHTTPRequestHandler):
    server_owner: StatusServer
    protocol_version = "HTTP/1.1"
    server_version = "okrsync"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Route access lines to debug logging: a scrape every 15 s would drown the log."""
        logger.debug("http: " + format, *args)  # noqa: G003 - the stdlib hands us a format string

    def do_GET(self) -> None:
        self._respond(body=True)

    def do_HEAD(self) -> None:
        self._respond(body=False)

    def _respond(self, *, body: bool) -> None:
        owner = self.server_owner
        path = self.path.split("?", 1)[0]
        try:
            if not owner.authorized(self.headers.get("Authorization")):
                denied = json.dumps({"error": "unauthorized: send Authorization: Bearer <server.token>"})
                self._send(
                    401,
                    JSON_TYPE,
                    denied.encode(),
                    {"WWW-Authenticate": 'Bearer realm="okrsync"'},
                    body=body,
                )
                return
            status, content_type, payload = owner.answer(path)
        except Exception:  # a bug here must answer 500, not kill the server thread
            logger.exception("http: %s failed", path)
            status, content_type, payload = 500, JSON_TYPE, b'{"error": "internal error"}'
        self._send(
            status, content_type, payload, HTML_HEADERS if content_type == HTML_TYPE else None, body=body
        )

    def _send(
        self,
        status: int,
        content_type: str,
        payload: bytes,
        headers: dict[str, str] | None = None,
        *,
        body: bool = True,
    ) -> None:
        """Answer with `payload`; for HEAD (`body=False`) its headers, Content-Length included, only."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if body:
            self.wfile.write(payload)
