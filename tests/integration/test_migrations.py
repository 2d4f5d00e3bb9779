"""The Alembic migrations, on an empty SQLite file and an empty PostgreSQL database."""

from __future__ import annotations

from contextlib import contextmanager

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, column, inspect, select, table

import factory.db
from factory.models import Base

MODEL_TABLES = set(Base.metadata.tables)


@contextmanager
def _connected(url: str):
    """A connection to the database at `url`, its engine disposed afterwards."""
    engine = factory.db.make_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    with _connected(url) as connection:
        return set(inspect(connection).get_table_names())


def _schema_diff(url: str) -> list:
    with _connected(url) as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def _current_revisions(url: str) -> set[str]:
    with _connected(url) as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def _alembic_version_rows(url: str) -> list:
    with _connected(url) as connection:
        return list(connection.execute(select(table("alembic_version", column("version_num")))))


def _head(url: str) -> str:
    return ScriptDirectory.from_config(factory.db.alembic_config(url)).get_current_head()


def test_upgrade_to_head_creates_every_model_table(empty_db_url):
    assert _tables(empty_db_url) == set()

    factory.db.upgrade(empty_db_url)

    assert _tables(empty_db_url) == MODEL_TABLES | {"alembic_version"}
    assert _current_revisions(empty_db_url) == {_head(empty_db_url)}


def test_models_match_migrations(empty_db_url):
    factory.db.upgrade(empty_db_url)

    assert _schema_diff(empty_db_url) == []


def test_check_constraints_match_models(empty_db_url):
    """Autogenerate does not compare CHECK constraints, so compare their names here."""
    factory.db.upgrade(empty_db_url)

    with _connected(empty_db_url) as connection:
        inspector = inspect(connection)
        in_database = {name: {check["name"] for check in inspector.get_check_constraints(name)}
                       for name in MODEL_TABLES}
    in_models = {name: {str(c.name) for c in Base.metadata.tables[name].constraints
                        if isinstance(c, CheckConstraint)} for name in MODEL_TABLES}
    assert in_database == in_models


def test_downgrade_to_base_drops_every_table(empty_db_url):
    factory.db.upgrade(empty_db_url)

    factory.db.downgrade(empty_db_url)

    remaining = _tables(empty_db_url)
    assert remaining <= {"alembic_version"}
    if remaining:
        assert _alembic_version_rows(empty_db_url) == []


def test_upgrade_after_downgrade_round_trips(empty_db_url):
    factory.db.upgrade(empty_db_url)
    factory.db.downgrade(empty_db_url)

    factory.db.upgrade(empty_db_url)

    assert _tables(empty_db_url) == MODEL_TABLES | {"alembic_version"}
    assert _current_revisions(empty_db_url) == {_head(empty_db_url)}
    assert _schema_diff(empty_db_url) == []
