"""The database: tables for tracker data and per-source state, and how to open it.

SQLite is the embedded default; the same code runs on PostgreSQL. The schema is owned by
Alembic migrations (`okrsync/migrations`), applied by `okrsync db upgrade` and whenever a
database is opened behind the code's schema. All timestamps are stored as UTC and read back
timezone-aware (`UTCDateTime`).

Opening an up-to-date database runs no Alembic at all: `open_store` reads `alembic_version`
over a plain connection and compares it with `SCHEMA_HEADS`. Loading Alembic and its script
directory costs a short command (`okrsync status`, a cron `okrsync sync`) more than the
command itself, so Alembic is imported only when there is something to migrate.
"""

from __future__ import annotations

import logging
import weakref
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Engine, Index, event, inspect, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Session, SQLModel, create_engine

from okrsync.dbfile import ensure_private_file

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
# The head revision(s) of the scripts in MIGRATIONS/versions. Kept by hand so that the hot path
# never loads Alembic's script directory; tests/test_store.py fails when it differs from what
# Alembic itself computes, so a new migration cannot be forgotten here.
SCHEMA_HEADS = frozenset({"0006"})


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as naive UTC and give them back aware: SQLite keeps no zone."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            msg = f"naive datetime {value!r} reached the database; okrsync stores aware UTC only"
            raise ValueError(msg)
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _utc(**kwargs: Any) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), **kwargs))


def _json(default: Any) -> Any:
    return Field(default_factory=lambda: type(default)(), sa_column=Column(JSON, nullable=False))


class SourceState(SQLModel, table=True):
    """What okrsync remembers of one source between cycles: its cursor and its health."""

    __tablename__ = "source_state"

    name: str = Field(primary_key=True)
    kind: str = ""
    cursor: dict[str, Any] = _json({})
    last_attempt: datetime | None = _utc()
    last_success: datetime | None = _utc()
    last_error: str | None = None


class TrackerMilestone(SQLModel, table=True):
    """A milestone, fix version or epic as last fetched; `due` is its calendar day."""

    __tablename__ = "milestone"

    source: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    kind: str
    container: str = Field(index=True)
    number: int | None = None
    title: str
    state: str
    url: str | None = None
    description: str = ""
    due_at: datetime | None = _utc()
    due: date | None = None
    updated_at: datetime | None = _utc()
    open_issues: int | None = None
    closed_issues: int | None = None
    labels: list[str] = _json([])


class TrackerIssue(SQLModel, table=True):
    """An issue as last fetched, with its state already classified as open, done or excluded."""

    __tablename__ = "issue"
    __table_args__ = (Index("ix_issue_node_id", "source", "node_id"),)

    source: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    container: str = Field(index=True)
    number: int | None = None
    title: str
    url: str | None = None
    status: str
    is_pull_request: bool = False
    is_subtask: bool = False
    labels: list[str] = _json([])
    kr_ids: list[str] = _json([])
    has_kr_label: bool = Field(default=False, index=True)
    assignee: str | None = None
    points: float | None = None
    done_at: datetime | None = _utc()
    updated_at: datetime | None = _utc()
    node_id: str | None = None
    """GitHub's global id, kept across a transfer: how a moved issue's old copy is found."""
    in_progress: bool = False
    """Open and being worked on: Jira status category `indeterminate`, or a GitHub label named in
    the source's `in_progress_labels`. Read only by partial credit (`in_progress_weight`)."""


class IssueMilestone(SQLModel, table=True):
    """Which milestones an issue belongs to (a Jira issue may be in several fix versions)."""

    __tablename__ = "issue_milestone"
    __table_args__ = (Index("ix_issue_milestone_milestone", "source", "milestone_key"),)

    source: str = Field(primary_key=True)
    issue_key: str = Field(primary_key=True)
    milestone_key: str = Field(primary_key=True)


_engines: weakref.WeakSet[Engine] = weakref.WeakSet()  # every engine made, for dispose_engines


def dispose_engines() -> None:
    """Close the pooled connections of every engine still alive (okrsync.quickexit, at exit)."""
    for engine in list(_engines):
        engine.dispose()


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets foreign keys and a busy timeout for the daemon's threads,
    PostgreSQL statements planned for their values."""
    engine = _make_engine(url)
    _engines.add(engine)
    return engine


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            if not parsed.database.startswith("file:"):  # a URI filename is the user's business
                ensure_private_file(Path(parsed.database))  # 0600: tracker titles and people
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    engine = create_engine(url, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _postgresql_custom_plans(dbapi_connection: Any, _record: Any) -> None:
        # psycopg prepares a statement it has run five times, and PostgreSQL may then settle on
        # a generic plan made without the parameters. For okrsync's statements over one repo,
        # a page of keys or a few milestones of a big table, those plans scanned whole tables
        # (a quadratic first sync, a roll-up reading every issue for two milestones; issue 9).
        # Planning each run for its values costs about a millisecond; committed so that it
        # holds for the whole session, not just its first transaction.
        dbapi_connection.execute("SET plan_cache_mode = force_custom_plan")
        dbapi_connection.commit()

    return engine


def upgrade(url: str) -> None:
    """Apply every pending Alembic migration to the database at `url` (`okrsync db upgrade`)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def schema_revisions(engine: Engine) -> frozenset[str] | None:
    """Read the revision(s) the database is at, or None when Alembic never ran on it.

    `has_table` looks where unqualified names resolve (PostgreSQL's search_path), which is
    where Alembic keeps its `alembic_version` table.
    """
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        return frozenset(str(row) for row in rows)


def create_new(engine: Engine) -> bool:
    """Create the current schema in an empty database at once, stamped at SCHEMA_HEADS.

    Alembic's cookbook recipe for a new database ("building an up-to-date database from
    scratch": create the tables from the models, then stamp the head) instead of replaying
    every migration, which cost about 0.7 s of a first sync. The stamp is written directly,
    as Alembic writes it, so Alembic is not even imported. Returns False, touching nothing,
    when the database already holds any okrsync table (that is for Alembic to judge).
    tests/test_store.py checks the result is the schema the migrations build.
    """
    with engine.begin() as connection:
        if set(inspect(connection).get_table_names()) & set(SQLModel.metadata.tables):
            return False
        SQLModel.metadata.create_all(connection, checkfirst=False)  # none exists: checked just above
        connection.execute(
            text(
                "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
                " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
            )
        )
        for head in sorted(SCHEMA_HEADS):
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head})
    logger.info("new database: created the schema at revision %s", ", ".join(sorted(SCHEMA_HEADS)))
    return True


def migrate_if_behind(engine: Engine, *, url: str) -> bool:
    """Run Alembic on the database at `url` unless it is exactly at SCHEMA_HEADS; say if it ran.

    Anything else, an older revision, an empty database or one a newer okrsync migrated,
    goes to Alembic, which upgrades the first two and refuses the last with its own message
    (as it always did), rather than okrsync writing to a schema it does not know.
    """
    current = schema_revisions(engine)
    if current == SCHEMA_HEADS:
        return False
    if current is None and create_new(engine):
        return True
    logger.info(
        "database schema at revision %s, this okrsync's at %s: migrating",
        ", ".join(sorted(current)) if current else "none (a new database)",
        ", ".join(sorted(SCHEMA_HEADS)),
    )
    upgrade(url)
    return True


def open_store(url: str) -> Engine:
    """Open the database at `url`, migrating it first when its schema is behind the code's."""
    engine = make_engine(url)
    migrate_if_behind(engine, url=url)
    return engine


def session(engine: Engine) -> Session:
    """Open a session that keeps loaded objects usable after commit."""
    return Session(engine, expire_on_commit=False)


class KrValue(SQLModel, table=True):
    """The latest value of a metric KR measured by a tracker count (`value_query`)."""

    __tablename__ = "kr_value"

    kr_id: str = Field(primary_key=True)
    value: float
    source: str
    measured_at: datetime | None = _utc()


class MilestoneWatch(SQLModel, table=True):
    """What slip detection last saw of a linked milestone, per KR: the due day it compares to."""

    __tablename__ = "milestone_watch"

    kr_id: str = Field(primary_key=True)
    milestone_key: str = Field(primary_key=True)
    source: str
    due: date | None = None
    title: str = ""
    found: bool = True
    seen_at: datetime | None = _utc()


class Event(SQLModel, table=True):
    """A detected slip (or other alert), written with the state that produced it (the outbox).

    `dedupe_key` is unique: an event is raised once per key (SPEC §5) even when detection
    runs again after a crash. `backlog` events were recorded on a new database's first sync
    with an onset before today; they are listed but not sent (unless `send_backlog`).
    """

    __tablename__ = "event"

    id: str = Field(primary_key=True)
    type: str = Field(index=True)
    dedupe_key: str = Field(unique=True)
    kr_id: str | None = Field(default=None, index=True)
    milestone_key: str | None = None
    owner: str | None = None
    day: date
    detected_at: datetime | None = _utc()
    backlog: bool = False
    payload: dict[str, Any] = _json({})


class Delivery(SQLModel, table=True):
    """One event to one channel: claimed with a conditional UPDATE, then acknowledged.

    status: pending → sending (claimed by `claimed_by`) → delivered | failed; `skipped` for
    backlog. A claim whose process is gone is released on the next dispatch, so a crash
    between claim and send neither loses the alert nor sends it twice once acknowledged.
    """

    __tablename__ = "delivery"
    __table_args__ = (Index("ix_delivery_event_channel", "event_id", "channel", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(index=True)
    channel: str
    status: str = Field(default="pending", index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = _utc()
    claimed_by: str | None = None
    claimed_at: datetime | None = _utc()
    delivered_at: datetime | None = _utc()
    last_error: str | None = None


class Meta(SQLModel, table=True):
    """Small facts about this database (e.g. whether slip detection has ever run)."""

    __tablename__ = "meta"

    key: str = Field(primary_key=True)
    value: str


class Checkin(SQLModel, table=True):
    """A KR owner's weekly check-in: confidence 1–10, maybe a value, a blocker and a next action.

    Rows are never updated: the sequence of confidences is what `kr.confidence_drop` reads,
    and a check-in's id is part of that event's key. `day` is the local calendar day of `at`
    in the configured zone, fixed when the row is written, so "this week" never shifts when
    the zone setting changes later.
    """

    __tablename__ = "checkin"
    __table_args__ = (Index("ix_checkin_kr_at", "kr_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    kr_id: str
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    day: date
    confidence: int
    value: float | None = None
    blocker: str | None = None
    next_action: str | None = None
    note: str | None = None
    author: str | None = None


class ProgressPoint(SQLModel, table=True):
    """One change of a KR's or milestone's progress: the compact history (okrsync.history).

    A row is written only when progress (or a milestone's done/total) changes, and at most one
    row per subject and day is kept, so an unchanged org adds nothing however often it polls.
    `kind` is "kr" (key: the KR id, source "") or "milestone" (key and source of the milestone).
    """

    __tablename__ = "progress_point"
    __table_args__ = (Index("ix_progress_point_subject", "kind", "source", "key", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    source: str = ""
    key: str
    day: date
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    progress: float
    value: float | None = None
    done: int | None = None
    total: int | None = None


class ScoreNote(SQLModel, table=True):
    """The one sentence of reasoning an OKR lead gives a KR's score (`okrsync score --note`)."""

    __tablename__ = "score_note"

    kr_id: str = Field(primary_key=True)
    text: str
    updated_at: datetime | None = _utc()


class WritebackTarget(SQLModel, table=True):
    """One thing write-back keeps in a tracker: what was last written there and where (SPEC §10).

    `target` names it within its source (`dashboard:acme/web`, `milestone:acme/web#12`,
    `epic-comment:ONB-12`, ...); `remote_id` is the tracker's id for it (an issue number, a
    Jira key, a comment id); `content_hash` is the hash of the last rendering written, so an
    unchanged rendering costs no request. `state` is "closed" for a dashboard a person closed:
    it is left alone, and not recreated, until it is reopened.
    """

    __tablename__ = "writeback_target"

    source: str = Field(primary_key=True)
    target: str = Field(primary_key=True)
    remote_id: str | None = None
    content_hash: str | None = None
    state: str = "active"
    written_at: datetime | None = _utc()


class WritebackState(SQLModel, table=True):
    """How write-back into one source last went: shown by `status` under the source."""

    __tablename__ = "writeback_state"

    source: str = Field(primary_key=True)
    last_attempt: datetime | None = _utc()
    last_success: datetime | None = _utc()
    last_error: str | None = None
