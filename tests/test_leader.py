"""Leader election: one of several `okrsync run` polls and delivers; another takes over when it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from okrsync.leader import LOCK_NAMESPACE, AlwaysLeader, FileLock, PostgresLock, make_elector
from okrsync.sandbox.github import GitHubSim
from tests.conftest import PG_URL, fresh_pg_schema
from tests.daemon_support import (
    TODAY,
    DaemonProcess,
    clients,
    cycle_table,
    due_at,
    kr_table,
    seed,
    wait_for,
    webhook_sink,
    write_config,
)

TOKENS = {"tokA": "a", "tokB": "b"}


def test_exactly_one_of_two_electors_on_a_database_leads_until_it_lets_go(database_url: str) -> None:
    first, second = make_elector(database_url), make_elector(database_url)
    try:
        assert first.acquire() is True
        assert second.acquire() is False
        assert first.acquire() is True  # asking again while leading keeps the lock
        assert second.acquire() is False
        first.release()
        assert second.acquire() is True
        assert first.acquire() is False
    finally:
        first.release()
        second.release()


def test_the_lock_follows_the_database_kind(tmp_path: Path) -> None:
    assert isinstance(make_elector(f"sqlite:///{tmp_path / 'okrsync.db'}"), FileLock)
    assert isinstance(make_elector("sqlite:///:memory:"), AlwaysLeader)
    assert isinstance(make_elector("postgresql+psycopg://u@127.0.0.1:1/db"), PostgresLock)
    with pytest.raises(ValueError, match="PostgreSQL and SQLite"):
        make_elector("mysql://u@localhost/db")


def test_the_sqlite_lock_file_sits_next_to_the_database(tmp_path: Path) -> None:
    elector = make_elector(f"sqlite:///{tmp_path / 'data' / 'okrsync.db'}")
    try:
        assert elector.acquire()
        assert (tmp_path / "data" / "okrsync.db.lock").is_file()
    finally:
        elector.release()


@pytest.fixture
def other_pg_url() -> Iterator[str]:
    yield from fresh_pg_schema()


def test_installations_in_two_schemas_of_one_postgres_database_each_elect_their_own(
    pg_url: str, other_pg_url: str
) -> None:
    ours, theirs = PostgresLock(pg_url), PostgresLock(other_pg_url)
    try:
        assert ours.acquire() and theirs.acquire()
    finally:
        ours.release()
        theirs.release()


def test_a_postgres_leader_whose_session_dies_steps_down_and_the_lock_is_free(pg_url: str) -> None:
    assert PG_URL
    leader, other = PostgresLock(pg_url), PostgresLock(pg_url)
    key = zlib.crc32(pg_url.rsplit("search_path%3D", 1)[1].encode()) - 2**31
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        assert leader.acquire()
        with admin.connect() as connection:
            killed = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND classid = :namespace AND objid = :objid AND granted"
                ),
                {"namespace": LOCK_NAMESPACE, "objid": key % 2**32},
            ).all()
        assert killed == [(True,)]
        wait_for(lambda: other.acquire(), timeout=5, what="the lock to be free")
        assert leader.acquire() is False  # it notices its session is gone and does not claim to lead
    finally:
        leader.release()
        other.release()
        admin.dispose()


# --- two real processes ------------------------------------------------------------------------


def test_two_daemons_elect_one_leader_and_the_follower_takes_over_when_it_is_killed(
    tmp_path: Path, database_url: str
) -> None:
    interval = 2  # seconds; the takeover bound (SPEC §9: two intervals) leaves room for a busy machine
    sim = GitHubSim(tokens=TOKENS)
    number = seed(sim, "acme/web", "Onboarding v2", due=TODAY + timedelta(days=14))
    sim.start()
    started: list[DaemonProcess] = []
    try:
        with webhook_sink() as sink:
            config = write_config(
                tmp_path,
                database_url=database_url,
                sources={"github": (sim.url, ["acme/web"])},
                mapping=cycle_table() + kr_table("ENG-1.1", [("github", "acme/web", "Onboarding v2")]),
                hook_url=sink.url,
            )
            # Both start at once on a database nobody has migrated: only the leader migrates.
            for token in TOKENS:
                started.append(
                    DaemonProcess(config, log=tmp_path / f"{token}.log", interval=interval, token=token)
                )
            first = wait_for(lambda: clients(sim), timeout=15, what="a first poll")
            assert len(first) == 1
            leader_name = next(iter(first))
            by_name = dict(zip(TOKENS.values(), started, strict=True))
            leader = by_name[leader_name]
            follower_name, follower = next((n, p) for n, p in by_name.items() if n != leader_name)

            wait_for(lambda: leader.cycles() >= 3, timeout=20, what="three cycles")
            assert clients(sim) == {leader_name}  # the follower never polled
            assert leader.role() == "leader"
            status, health = follower.healthz() or (0, {})
            assert health["role"] == "follower"
            assert status == 200 and health["sources"]["github"]["healthy"] is True  # read from the DB
            assert follower.metrics()["okrsync_is_leader"] == 0

            sim.set_due("acme/web", number, due_at(TODAY + timedelta(days=28)))
            wait_for(lambda: sink.of_type("milestone.rescheduled"), timeout=5, what="the alert")
            # Kill only once the delivery is acknowledged: a kill between the POST and its
            # acknowledgement is the one window where the outbox sends again (same delivery id).
            wait_for(
                lambda: (
                    leader.metrics().get('okrsync_deliveries_total{channel="hook",outcome="delivered"}', 0)
                    >= 1
                ),
                timeout=5,
                what="the acknowledgement",
            )

            leader.kill()
            killed_at = time.monotonic()
            sim.clear_log()
            wait_for(lambda: follower_name in clients(sim), timeout=10, what="the follower to poll")
            assert time.monotonic() - killed_at <= 2 * interval
            assert clients(sim) == {follower_name}
            wait_for(lambda: follower.cycles() >= 2, timeout=20, what="cycles of the new leader")
            assert follower.role() == "leader"
            ids = [r.headers["x-okrsync-delivery"] for r in sink.received]
            code, _elapsed = follower.terminate()
        assert code == 0, follower.output()
        assert len(sink.of_type("milestone.rescheduled")) == 1
        assert len(ids) == len(set(ids)), "an alert was delivered twice"
    finally:
        for process in started:
            process.stop()
        sim.stop()


LEADER_WITH_A_FORKED_HELPER = """
import os, sys, time
from pathlib import Path
from okrsync.leader import FileLock, PostgresLock
lock = FileLock(Path(sys.argv[2])) if sys.argv[1] == "file" else PostgresLock(sys.argv[2])
assert lock.acquire()
helper = os.fork()
if helper == 0:  # a fetch helper, still busy when its parent dies
    time.sleep(30)
    os._exit(0)
print(helper, flush=True)
time.sleep(60)
"""


def assert_freed_though_a_forked_helper_lives_on(
    kind: str, where: str, follower: FileLock | PostgresLock
) -> None:
    """Kill a leader whose forked helper lives on: the follower gets the lock within 5 s."""
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER_WITH_A_FORKED_HELPER, kind, where], stdout=subprocess.PIPE, text=True
    )
    assert leader.stdout is not None
    helper = int(leader.stdout.readline())
    try:
        assert not follower.acquire()  # the leader holds it
        leader.kill()
        leader.wait()
        deadline = time.monotonic() + 5
        while not follower.acquire():
            assert time.monotonic() < deadline, "the helper's inherited copy kept the lock"
            time.sleep(0.05)
    finally:
        follower.release()
        os.kill(helper, signal.SIGKILL)


def test_a_killed_sqlite_leader_frees_the_lock_though_a_helper_it_forked_lives_on(tmp_path: Path) -> None:
    path = tmp_path / "okrsync.db.lock"
    assert_freed_though_a_forked_helper_lives_on("file", str(path), FileLock(path))


def test_a_killed_postgres_leader_frees_the_lock_though_a_helper_it_forked_lives_on(pg_url: str) -> None:
    assert_freed_though_a_forked_helper_lives_on("postgres", pg_url, PostgresLock(pg_url))
