# okrsync: a small, non-root image. Build: docker build -t okrsync .
# Config is read from /etc/okrsync/config.toml (mount it); secrets come from the environment
# (OKRSYNC_SOURCES__<NAME>__TOKEN, *_env) or from files (*_file, e.g. /run/secrets/...).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY okrsync ./okrsync
COPY connectors ./connectors
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
# Inside a container the server must listen beyond loopback for `docker run -p` and for probes;
# the port is only reachable where it is published. Logs are JSON lines unless a TTY is attached.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OKRSYNC_CONFIG=/etc/okrsync/config.toml \
    OKRSYNC_SERVER__LISTEN=0.0.0.0:9464 \
    OKRSYNC_LOG_FORMAT=json
COPY --from=build /install /usr/local
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
