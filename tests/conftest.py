"""Shared fixtures. Database fixtures hand every test its own freshly migrated database.

- `postgres_server` (session): a throwaway PostgreSQL 15 cluster, started on first request only.
  Missing PostgreSQL skips those tests loudly, or fails them when CI=true.
- `db_url`: a migrated database URL, once on SQLite and once on PostgreSQL (ids `sqlite`, `postgres`).
- `sqlite_url`: a migrated SQLite database URL, for tests that need not run on both; `sqlite_sessions`
  (a session factory) and `sqlite_session` on it, for tests that share the file with a `factory` process.
- `empty_db_url`: an empty (unmigrated) database URL on both, for migration tests.
- `engine` / `session`: built on `db_url`, disposed / closed after the test.
- `mosquitto_factory`: makes real Mosquitto brokers on free loopback ports, removed after the test.
  Missing Mosquitto skips those tests loudly, or fails them when CI=true.
"""

from __future__ import annotations

import os

import pytest

import factory.db
import factory.services.users
from tests.support.databases import PostgresTemplate, SqliteTemplate
from tests.support.databases import sqlite_url as _sqlite_file_url
from tests.support.mosquitto import MOSQUITTO_MISSING, BrokerFactory, require_mosquitto
from tests.support.postgres import PostgresServer, postgres_available

POSTGRES_MISSING = "PostgreSQL 15 NOT AVAILABLE"

BOTH_DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes():
    """scrypt costs about 0.15 s per hash and the suite creates thousands of logins: tests hash with one
    PBKDF2 round instead. Checking a password reads the method from the stored hash, so logins behave the
    same; only the cost differs."""
    production = factory.services.users.PASSWORD_METHOD
    factory.services.users.PASSWORD_METHOD = "pbkdf2:sha256:1"
    yield
    factory.services.users.PASSWORD_METHOD = production


@pytest.fixture(scope="session")
def postgres_server():
    reason = postgres_available()
    if reason is not None:
        message = f"{POSTGRES_MISSING} ({reason}) — install package postgresql; these tests did NOT run"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}. CI=true: PostgreSQL is required.", pytrace=False)
        pytest.skip(message)
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(scope="session")
def postgres_template(postgres_server):
    template = PostgresTemplate(postgres_server)
    yield template
    template.cleanup()


@pytest.fixture
def sqlite_url(sqlite_template, tmp_path) -> str:
    return sqlite_template.fresh(tmp_path / "sqlite_url.sqlite3")


@pytest.fixture
def sqlite_sessions(sqlite_url):
    engine = factory.db.make_engine(sqlite_url)
    yield factory.db.make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def sqlite_session(sqlite_sessions):
    with sqlite_sessions() as session:
        yield session


@pytest.fixture(params=BOTH_DATABASES)
def db_url(request, tmp_path):
    if request.param == "sqlite":
        yield request.getfixturevalue("sqlite_template").fresh(tmp_path / "db_url.sqlite3")
        return
    template: PostgresTemplate = request.getfixturevalue("postgres_template")
    url = template.fresh()
    yield url
    template.drop(url)


@pytest.fixture(params=BOTH_DATABASES)
def empty_db_url(request, tmp_path):
    if request.param == "sqlite":
        yield _sqlite_file_url(tmp_path / "empty.sqlite3")
        return
    template: PostgresTemplate = request.getfixturevalue("postgres_template")
    url = template.empty()
    yield url
    template.drop(url)


@pytest.fixture
def engine(db_url):
    engine = factory.db.make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    session = factory.db.make_sessionmaker(engine)()
    yield session
    session.close()


@pytest.fixture
def mosquitto_factory():
    require_mosquitto()
    factory = BrokerFactory()
    yield factory
    factory.cleanup()


# Skips that mean a real part of the system went untested: (marker in the skip reason, what to install).
MISSING_SERVICES = [(POSTGRES_MISSING, "install package postgresql"),
                    ("CHROMIUM NOT INSTALLED", "apt-get install chromium"),
                    (MOSQUITTO_MISSING, "apt-get install mosquitto mosquitto-clients")]


def pytest_terminal_summary(terminalreporter) -> None:
    """A red banner per missing service, so a green run with skipped real-part tests is not missed."""
    reasons = [str(report.longrepr) for report in terminalreporter.stats.get("skipped", [])]
    for marker, remedy in MISSING_SERVICES:
        count = sum(marker in reason for reason in reasons)
        if count:
            terminalreporter.write_sep("!", f"{count} tests SKIPPED: {marker} — {remedy}", red=True, bold=True)
