"""Fresh databases per test, fast: migrate a template once, then copy it for every test.

SQLite copies the migrated template file; PostgreSQL uses `CREATE DATABASE ... TEMPLATE`. Empty
(unmigrated) databases are available too, for tests of the migrations themselves.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

from sqlalchemy.engine import make_url

import factory.db
from tests.support.postgres import PostgresServer


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


class SqliteTemplate:
    """Migrates `directory/template.sqlite3` to head once; `fresh(path)` copies it."""

    def __init__(self, directory: Path, revision: str = "head") -> None:
        self.path = Path(directory) / "template.sqlite3"
        # env.py disposes its engine, so the last connection closed has checkpointed the WAL into the file.
        factory.db.upgrade(sqlite_url(self.path), revision)
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size:
            raise RuntimeError(f"{wal} is not empty after migrating: a connection was left open")

    def fresh(self, path: Path) -> str:
        path = Path(path)
        if path.exists():
            raise FileExistsError(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.path, path)
        return sqlite_url(path)


class PostgresTemplate:
    """Databases on one PostgresServer: `fresh()` copies a migrated `mf_template`, `empty()` has no tables.

    The template is migrated on the first `fresh()`. Every database made here is dropped by `drop(url)`
    or, at the latest, by `cleanup()`.
    """

    NAME = "mf_template"

    def __init__(self, server: PostgresServer, revision: str = "head") -> None:
        self.server = server
        self.revision = revision
        self._migrated = False
        self._numbers = itertools.count(1)
        self._created: set[str] = set()

    def _ensure_template(self) -> None:
        if not self._migrated:
            self.server.drop_database(self.NAME)
            factory.db.upgrade(self.server.create_database(self.NAME), self.revision)
            self._migrated = True  # upgrade() disposes its engine: nobody is left connected to the template

    def fresh(self) -> str:
        self._ensure_template()
        return self._create(f"t_{next(self._numbers)}", template=self.NAME)

    def empty(self) -> str:
        return self._create(f"e_{next(self._numbers)}", template=None)

    def _create(self, name: str, template: str | None) -> str:
        url = self.server.create_database(name, template=template)
        self._created.add(name)
        return url

    def drop(self, url: str) -> None:
        """Drop a database made here; open connections are ended (dispose your engines first anyway)."""
        name = make_url(url).database
        if name not in self._created:
            raise ValueError(f"{url} was not created by this PostgresTemplate")
        self.server.drop_database(name)
        self._created.discard(name)

    def cleanup(self) -> None:
        for name in sorted(self._created):
            self.server.drop_database(name)
        self._created.clear()
        if self._migrated:
            self.server.drop_database(self.NAME)
            self._migrated = False
