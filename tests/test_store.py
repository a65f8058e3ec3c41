"""Opening the store: Alembic runs only when the schema is behind, on SQLite and PostgreSQL.

Whether Alembic ran is read from outside: a fresh Python process opens the database and
reports which `alembic` modules it imported, so nothing of okrsync is patched.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import inspect, text

from okrsync.store import MIGRATIONS, SCHEMA_HEADS, make_engine, open_store, schema_revisions

# Opens the database the way every command does, uses a table of the newest migration, and
# prints the alembic modules the process loaded (none at all when no migration ran).
PROBE = """
import sys
from sqlalchemy import text
from okrsync.store import open_store
engine = open_store(sys.argv[1])
with engine.connect() as connection:
    connection.execute(text("SELECT count(*) FROM score_note")).scalar_one()
print(" ".join(sorted(m for m in sys.modules if m.partition(".")[0] == "alembic")))
"""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def alembic_loaded_by_open(url: str) -> list[str]:
    """Open the store at `url` in a fresh process; return the alembic modules it imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, url], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_schema_heads_name_the_head_alembic_computes_from_the_scripts() -> None:
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert frozenset(heads) == SCHEMA_HEADS, "a new migration: set okrsync.store.SCHEMA_HEADS to its revision"


def test_opening_a_database_never_imports_alembic_when_new_or_current(database_url: str) -> None:
    first = alembic_loaded_by_open(database_url)
    second = alembic_loaded_by_open(database_url)

    assert first == []  # a new database gets the models' schema, stamped at the head
    assert second == []  # up to date: not even imported
    engine = make_engine(database_url)
    assert schema_revisions(engine) == SCHEMA_HEADS
    engine.dispose()


def describe(url: str) -> dict[str, object]:
    """Every table's columns, primary key, indexes and unique constraints, as the engine reports them."""
    engine = make_engine(url)
    try:
        found = inspect(engine)
        return {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
                found.get_pk_constraint(table)["constrained_columns"],
                sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table)
                ),
                sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table)),
            )
            for table in sorted(found.get_table_names())
        }
    finally:
        engine.dispose()


def test_a_new_database_gets_exactly_the_schema_the_migrations_build(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    open_store(database_url).dispose()  # the models' schema, stamped
    if database_url.startswith("sqlite"):
        replayed = f"sqlite:///{tmp_path_factory.mktemp('alembic') / 'replayed.db'}"
        command.upgrade(alembic_config(replayed), "head")
        assert describe(replayed) == describe(database_url)
    else:
        created = describe(database_url)
        engine = make_engine(database_url)
        with engine.begin() as connection:
            for table in created:
                connection.execute(text(f'DROP TABLE "{table}" CASCADE'))
        engine.dispose()
        command.upgrade(alembic_config(database_url), "head")
        assert describe(database_url) == created
    command.upgrade(alembic_config(database_url), "head")  # Alembic agrees it is at the head


def test_a_database_one_revision_behind_is_migrated_on_open(database_url: str) -> None:
    open_store(database_url).dispose()
    command.downgrade(alembic_config(database_url), "0002")
    behind = make_engine(database_url)
    assert schema_revisions(behind) == {"0002"}
    assert "score_note" not in tables(database_url)
    behind.dispose()

    loaded = alembic_loaded_by_open(database_url)

    assert "alembic.command" in loaded
    engine = open_store(database_url)
    assert schema_revisions(engine) == SCHEMA_HEADS
    assert {"checkin", "progress_point", "score_note"} <= tables(database_url)
    engine.dispose()


def test_a_database_migrated_by_a_newer_okrsync_is_refused_not_used(database_url: str) -> None:
    engine = open_store(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()

    with pytest.raises(CommandError, match="0099"):
        open_store(database_url)
