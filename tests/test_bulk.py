"""Rows written through the driver (okrsync.bulk) read back exactly as SQLAlchemy stores them.

On PostgreSQL a page travels as one JSON text turned back into rows by `json_to_recordset`;
these rows carry what such a path could bend: quotes, backslashes, JSON-looking text, line
breaks, non-ASCII, microseconds, nulls, floats, booleans and label lists.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from connectors.records import IssueRecord
from okrsync.bulk import COPY_ROWS, Bulk
from okrsync.ingest import IssueWriter
from okrsync.store import IssueMilestone, Meta, TrackerIssue, open_store, session

TRICKY = [
    'He said "ship it"',
    "C:\\path\\to\\file \\n not a newline",
    '{"not": "json", "but": [1, 2]}',
    "two\nlines\tand a tab",
    "Grüße, 日本語, emoji 🚀",
    "trailing backslash \\",
]


def records() -> list[IssueRecord]:
    moment = datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=UTC)
    return [
        IssueRecord(
            key=f"acme/web#{n}",
            container="acme/web",
            number=n,
            title=title,
            url=f"https://github.com/acme/web/issues/{n}" if n % 2 else None,
            status="done" if n % 2 else "open",
            updated_at=moment,
            labels=(title, "kr:ENG-1.1", 'quote"label') if n % 2 else (),
            assignee=title if n % 3 else None,
            points=2.5 if n % 2 else None,
            done_at=moment if n % 2 else None,
            milestone_keys=("acme/web#1",),
            node_id=f"I_{n}",
            in_progress=False,
        )
        for n, title in enumerate(TRICKY, start=1)
    ]


def test_tricky_rows_read_back_exactly_on_both_engines(database_url: str) -> None:
    engine = open_store(database_url)
    written = records()
    with session(engine) as db:
        writer = IssueWriter(db, "github", label_prefix="kr:")
        assert writer.save(written) == len(written)
        writer.save(written[:2])  # a repeat in the same poll: an update, not a duplicate
        db.commit()  # PostgreSQL writes one statement behind: the commit waits for them
        writer.close()
    with session(engine) as db:
        stored = {i.key: i for i in db.execute(select(TrackerIssue)).scalars()}
        memberships = db.execute(select(IssueMilestone.issue_key)).scalars().all()
    assert sorted(memberships) == sorted(r.key for r in written)
    for record in written:
        row = stored[record.key]
        assert row.title == record.title
        assert row.url == record.url
        assert row.assignee == record.assignee
        assert row.labels == list(record.labels)
        assert row.kr_ids == (["ENG-1.1"] if record.labels else [])
        assert row.has_kr_label is bool(record.labels)
        assert row.points == record.points
        assert row.status == record.status
        assert row.updated_at == record.updated_at
        assert row.done_at == record.done_at
        assert row.node_id == record.node_id
        assert row.in_progress is False


def test_a_page_of_new_and_stored_keys_writes_each_once_on_both_engines(database_url: str) -> None:
    """New keys go in without conflict checks (PostgreSQL: COPY), stored ones are updated, and
    the memberships of the stored ones are replaced, not added to."""
    engine = open_store(database_url)
    first = records()[:3]
    with session(engine) as db:
        writer = IssueWriter(db, "github", label_prefix="kr:")
        writer.save(first)
        db.commit()
        writer.close()
    later = timedelta(minutes=1)
    moved = [
        r._replace(
            title=f"{r.title} (edited)", updated_at=r.updated_at + later, milestone_keys=("acme/web#2",)
        )
        for r in first
    ]
    newcomers = records()[3:]
    with session(engine) as db:
        writer = IssueWriter(db, "github", label_prefix="kr:")
        assert writer.save([*moved, *newcomers]) == len(moved) + len(newcomers)
        db.commit()
        writer.close()
    with session(engine) as db:
        titles = {key: title for key, title in db.execute(select(TrackerIssue.key, TrackerIssue.title))}
        memberships = sorted(
            (key, milestone)
            for key, milestone in db.execute(select(IssueMilestone.issue_key, IssueMilestone.milestone_key))
        )
    assert titles == {r.key: r.title for r in [*moved, *newcomers]}
    assert memberships == sorted(
        [(r.key, "acme/web#2") for r in moved] + [(r.key, "acme/web#1") for r in newcomers]
    )


def test_every_other_use_of_the_session_waits_for_the_writes_running_behind(database_url: str) -> None:
    """The write-behind thread belongs to the session: the session's own queries, and any other
    Bulk on it (as `save_milestones` makes), see what was handed to it, with no flush called.

    Each write here is slow to start (PostgreSQL; SQLite writes at once): a read that did not
    wait for it would run first and miss its row.
    """
    engine = open_store(database_url)
    with session(engine) as db:
        writer = IssueWriter(db, "github", label_prefix="kr:")
        cursor = writer.bulk.cursor()

        def slow_write(key: str) -> None:
            def write() -> None:
                time.sleep(0.3)
                cursor.execute(f"INSERT INTO meta (key, value) VALUES ({writer.bulk.mark}, 'x')", (key,))

            if writer.bulk.behind is not None:
                writer.bulk.behind.submit(write)
            else:
                write()

        slow_write("first")
        through_orm = db.execute(select(Meta.key)).scalars().all()
        slow_write("second")
        through_other_bulk = [key for (key,) in Bulk(db).execute("SELECT key FROM meta")]
        slow_write("third")
        db.commit()  # before_commit: the third write is in the transaction committed
        writer.close()
    with session(engine) as db:
        committed = db.execute(select(Meta.key)).scalars().all()
    assert through_orm == ["first"]
    assert sorted(through_other_bulk) == ["first", "second"]
    assert sorted(committed) == ["first", "second", "third"]


def many_records(first: int, count: int) -> list[IssueRecord]:
    """`count` new issues of one repo, numbered from `first`, each in one milestone."""
    template = records()[1]
    return [
        template._replace(key=f"acme/web#{n}", number=n, node_id=f"I_{n}", milestone_keys=("acme/web#1",))
        for n in range(first, first + count)
    ]


def _inserted_in_this_transaction(writer: IssueWriter) -> int:
    """Rows PostgreSQL has inserted into `issue` in the open transaction, asked past the session
    (whose own uses would send the gathered rows first)."""
    assert writer.bulk.behind is not None
    writer.bulk.behind.flush()  # what was handed over has run; nothing else uses the connection
    cursor = writer.bulk.cursor()
    cursor.execute("SELECT n_tup_ins FROM pg_stat_xact_user_tables WHERE relid = 'issue'::regclass")
    (count,) = cursor.fetchone()
    return int(count)


def test_fresh_rows_are_seen_by_every_later_use_of_the_session_on_both_engines(database_url: str) -> None:
    """On PostgreSQL a first sync's fresh rows are gathered into larger COPYs: whatever uses the
    session next (a query, another Bulk, the commit) still sees every row given before it."""
    engine = open_store(database_url)
    with session(engine) as db:
        writer = IssueWriter(db, "github", label_prefix="kr:")
        writer.save(many_records(1, 150))
        through_orm = len(db.execute(select(TrackerIssue.key)).scalars().all())
        writer.save(many_records(151, 150))
        through_other_bulk = Bulk(db).execute("SELECT count(*) FROM issue_milestone")[0][0]
        writer.save(many_records(301, 150))
        db.commit()
        writer.close()
    with session(engine) as db:
        committed = len(db.execute(select(TrackerIssue.key)).scalars().all())
        memberships = len(db.execute(select(IssueMilestone.issue_key)).scalars().all())
    assert (through_orm, through_other_bulk, committed, memberships) == (150, 300, 450, 450)


def test_pages_of_fresh_rows_go_in_as_one_copy_per_table_on_postgresql(pg_url: str) -> None:
    engine = open_store(pg_url)
    with session(engine) as db:
        writer = IssueWriter(db, "github", label_prefix="kr:")
        for page in range(3):
            writer.save(many_records(1 + page * 100, 100))
        assert _inserted_in_this_transaction(writer) == 0  # gathered, not yet sent
        writer.save(many_records(301, COPY_ROWS))  # reaches COPY_ROWS: sent without being asked
        assert _inserted_in_this_transaction(writer) == 300 + COPY_ROWS
        writer.save(many_records(301 + COPY_ROWS, 100))
        writer.close()  # sends what is still gathered before the thread stops
        db.commit()
    with session(engine) as db:
        assert len(db.execute(select(TrackerIssue.key)).scalars().all()) == 400 + COPY_ROWS


def test_rows_gathered_after_a_failed_write_are_dropped_by_close_without_raising(pg_url: str) -> None:
    """The transaction is lost once a write behind failed: close sends nothing more, raises nothing."""
    engine = open_store(pg_url)
    with session(engine) as db:
        writer = IssueWriter(db, "github", label_prefix="kr:")
        behind = writer.bulk.behind
        assert behind is not None
        behind.submit(lambda: writer.bulk.cursor().execute("SELECT * FROM no_such_table"))
        behind._jobs.join()  # let it fail
        writer.save(many_records(1, 100))  # gathered: nothing is handed over, so nothing raises yet
        writer.close()
        assert not writer.bulk._gathered
        db.rollback()
    with session(engine) as db:
        assert db.execute(select(TrackerIssue.key)).scalars().all() == []
