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
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OKRSYNC_CONFIG=/etc/okrsync/config.toml
COPY --from=build /install /usr/local
RUN groupadd --system --gid 10001 okrsync \
    && useradd --system --uid 10001 --gid okrsync --home-dir /var/lib/okrsync --shell /usr/sbin/nologin okrsync \
    && mkdir -p /etc/okrsync /var/lib/okrsync \
    && chown okrsync:okrsync /var/lib/okrsync
# The SQLite file lives here by default (database_url = "sqlite:////var/lib/okrsync/okrsync.db").
VOLUME ["/var/lib/okrsync"]
WORKDIR /var/lib/okrsync
USER okrsync:okrsync
ENTRYPOINT ["okrsync"]
CMD ["sync"]
