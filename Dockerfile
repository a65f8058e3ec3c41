# okrsync: a small, non-root image. Build: `make image` (it fills VERSION and REVISION), or
#   docker build --build-arg VERSION=<version in pyproject.toml> -t okrsync .
# Config is read from /etc/okrsync/config.toml (mount it); secrets come from the environment
# (OKRSYNC_SOURCES__<NAME>__TOKEN, *_env), from files named like the variables in /run/secrets
# (Docker and Kubernetes secrets), or from *_file paths.
#
# The base is pinned by digest so a rebuild gets the same Python and Debian, not whatever the tag
# points at that day: the multi-arch index digest of python:3.11-slim-bookworm (Python 3.11.16)
# from Docker Official Images, as pinned in public Dockerfiles and checked against the official
# images' repo-info in 2026-09. To refresh it: `docker buildx imagetools inspect
# python:3.11-slim-bookworm`, copy the "Digest:" into both FROM lines and base.digest, rebuild.
FROM python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b AS build
WORKDIR /src
# Dependencies come from the hashed lock (the one `make install` uses, plus the postgres and
# apprise extras, without the dev tools) and go into their own layer before any source: editing
# okrsync does not reinstall them, and pip refuses a file whose hash is not in the lock.
# The build tool (setuptools) comes from its own hashed lock and stays in this stage.
COPY requirements/image.lock requirements/build.lock ./requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/build.lock \
    && pip install --no-cache-dir --require-hashes --prefix=/deps -r requirements/image.lock
COPY pyproject.toml README.md ./
COPY okrsync ./okrsync
COPY connectors ./connectors
RUN pip install --no-cache-dir --no-deps --no-build-isolation --prefix=/app .

FROM python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b
ARG VERSION=unknown
ARG REVISION=unknown
LABEL org.opencontainers.image.title="okrsync" \
      org.opencontainers.image.description="Link OKRs to the real work in Jira and GitHub: progress roll-up and same-day slip alerts." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm" \
      org.opencontainers.image.base.digest="sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b"
# Inside a container the server must listen beyond loopback for `docker run -p` and for probes;
# the port is only reachable where it is published. Logs are JSON lines unless a TTY is attached.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OKRSYNC_CONFIG=/etc/okrsync/config.toml \
    OKRSYNC_SERVER__LISTEN=0.0.0.0:9464 \
    OKRSYNC_LOG_FORMAT=json
# Two layers: the dependencies change only with the lock, okrsync with every commit.
COPY --from=build /deps /usr/local
COPY --from=build /app /usr/local
RUN groupadd --system --gid 10001 okrsync \
    && useradd --system --uid 10001 --gid okrsync --home-dir /var/lib/okrsync --shell /usr/sbin/nologin okrsync \
    && mkdir -p /etc/okrsync /var/lib/okrsync \
    && chown okrsync:okrsync /var/lib/okrsync
# The SQLite file lives here by default (database_url = "sqlite:////var/lib/okrsync/okrsync.db").
VOLUME ["/var/lib/okrsync"]
WORKDIR /var/lib/okrsync
USER okrsync:okrsync
EXPOSE 9464
# /livez answers 503 when the daemon's loop has not turned for two intervals; a tracker outage
# is /healthz's business and no reason to restart. Python, as the slim image has no curl. The
# port follows OKRSYNC_SERVER__LISTEN; a server token, when set in the environment, is sent as
# a Bearer token.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; port = os.environ.get('OKRSYNC_SERVER__LISTEN', ':9464').rpartition(':')[2]; r = u.Request(f'http://127.0.0.1:{port}/livez'); t = os.environ.get('OKRSYNC_SERVER__TOKEN'); t and r.add_header('Authorization', 'Bearer ' + t); u.urlopen(r, timeout=4)"]
ENTRYPOINT ["okrsync"]
CMD ["run"]
