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


def test_upgrading_a_database_with_data_keeps_every_machines_history(empty_db_url):
    """0003 rebuilds the machine table on SQLite (batch mode); no row that points at a machine may go."""
    factory.db.upgrade(empty_db_url, "0002")
    engine = factory.db.make_engine(empty_db_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO commune (id, name, currency, created_at) "
                                   "VALUES (1, 'C', 'EUR', '2026-01-01 00:00:00')")
        connection.exec_driver_sql("INSERT INTO site (id, commune_id, slug, name, time_zone, address) "
                                   "VALUES (1, 1, 'north', 'North', 'Europe/Berlin', '')")
        connection.exec_driver_sql(
            "INSERT INTO machine (id, name, kind, site_id, model, materials, unattended_ok, state, state_since, "
            "state_detail, metrics, notes, created_at) VALUES ('printer-1', 'P', 'other', 1, '', '[]', false, "
            "'idle', '2026-01-01 00:00:00', '', '{}', '', '2026-01-01 00:00:00')")
        connection.exec_driver_sql("INSERT INTO machine_state_change (machine_id, to_state, at, source, reason) "
                                   "VALUES ('printer-1', 'idle', '2026-01-01 00:00:00', 'test', '')")
        connection.exec_driver_sql("INSERT INTO telemetry_sample (machine_id, ts, seq, resolution_s, metrics) "
                                   "VALUES ('printer-1', '2026-01-01 00:00:00', 1, 0, '{}')")
    engine.dispose()

    factory.db.upgrade(empty_db_url)

    with _connected(empty_db_url) as connection:
        counts = [connection.exec_driver_sql(f"SELECT count(*) FROM {name}").scalar()
                  for name in ("machine", "machine_state_change", "telemetry_sample")]
        rules = connection.exec_driver_sql("SELECT booking_min_minutes, booking_max_minutes FROM machine").one()
    assert counts == [1, 1, 1]
    assert tuple(rules) == (30, 480)
