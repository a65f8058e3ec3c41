"""Reading the stored cursors before SQLAlchemy is loaded (okrsync.headstart.stored_cursors)."""

from __future__ import annotations

from pathlib import Path

import pytest

from okrsync.headstart import stored_cursors
from okrsync.store import SourceState, open_store, session
from tests.conftest import fresh_pg_schema

CURSOR = {"high_water": "2026-11-22T10:00:00+00:00", "projects": ["ONB", "OPS"], "epics": {"ONB": ["ONB-1"]}}


def test_the_cursors_read_are_the_ones_the_store_holds(database_url: str) -> None:
    engine = open_store(database_url)
    assert stored_cursors(database_url) == {}  # the tables exist, no source has polled yet
    with session(engine) as db:
        db.add(SourceState(name="jira", kind="jira", cursor=CURSOR))
        db.add(SourceState(name="github", kind="github", cursor={}))
        db.commit()
    engine.dispose()

    assert stored_cursors(database_url) == {"jira": CURSOR, "github": {}}


def test_a_store_not_made_yet_has_no_cursors(tmp_path: Path) -> None:
    assert stored_cursors(f"sqlite:///{tmp_path / 'not-yet.db'}") == {}
    assert not (tmp_path / "not-yet.db").exists()  # reading never creates the file
    for url in fresh_pg_schema():
        assert stored_cursors(url) == {}  # an empty schema


@pytest.mark.parametrize(
    "url",
    [
        "sqlite://",  # in memory: a new, empty database for every connection
        "sqlite:///file:okrsync.db?mode=ro&uri=true",  # a URI filename, the user's business
        "mysql+pymysql://okrsync@127.0.0.1/okrsync",  # no such engine here
        "postgresql+psycopg://okrsync@127.0.0.1:1/okrsync",  # nothing listens there
    ],
)
def test_what_cannot_be_read_for_sure_gets_no_head_start(url: str) -> None:
    assert stored_cursors(url) is None
