"""The ingest benchmark's fleet: machines registered through the services with their own broker logins,
the databases they are copied from, and CPU accounting of processes."""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from benchmarks.ingest_common import CLK_TCK, MACHINES, SITES
from factory import db as database
from factory.broker.config import acl_text, passwd_text
from factory.broker.passwords import hash_password, new_password
from factory.domain.capabilities import Capabilities
from factory.domain.opening_hours import parse_day
from factory.services.machine_credentials import issue_machine_password, machine_accounts
from factory.services.machines import MachineDraft, create_machine
from factory.services.sites import SiteDraft, create_site, ensure_commune
from tests.support.postgres import PostgresServer

# --- the fleet: machines registered through the services, each with its own broker login ----------------------

@dataclass(frozen=True)
class Machine:
    site: str
    id: str
    kind: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Fleet:
    machines: tuple[Machine, ...]
    passwd: str
    acl: str
    service_password: str = field(repr=False)


def _kind(n: int) -> str:
    return "kiln" if n % 10 == 9 else "cnc_mill" if n % 10 >= 6 else "fdm_printer"


_CAPABILITIES = {
    "fdm_printer": Capabilities(250, 210, 220, ("pla", "petg"), 290),
    "cnc_mill": Capabilities(400, 300, 120, ("aluminium", "wood"), None, 1500),
    "kiln": Capabilities(500, 500, 600, (), 1300),
}


def register_fleet(url: str) -> Fleet:
    """Sites and machines through the factory services, a broker password per machine, the broker's files."""
    sessions = database.make_sessionmaker(database.make_engine(url))
    every_day = {day: parse_day("00:00-24:00", field="hours") for day in range(7)}
    machines = []
    with sessions() as session:
        ensure_commune(session, "Bench Commune")
        for slug in SITES:
            create_site(session, SiteDraft(slug, f"{slug.capitalize()} Works", "Europe/Berlin", every_day))
        for n in range(MACHINES):
            kind, site, machine_id = _kind(n), SITES[n % len(SITES)], f"{_kind(n).split('_')[0]}-{n:02d}"
            create_machine(session, MachineDraft(machine_id, f"Bench {machine_id}", kind, site, _CAPABILITIES[kind],
                                                 "Bench", True, Decimal("1000.00")), by="bench")
            machines.append(Machine(site, machine_id, kind, issue_machine_password(session, machine_id)))
        accounts = machine_accounts(session)
    sessions.kw["bind"].dispose()
    service = new_password()
    return Fleet(tuple(machines), passwd_text(accounts, hash_password(service)), acl_text(accounts), service)


class SqliteDatabases:
    """A migrated SQLite file with the fleet registered; every round works on a copy of it."""

    name = "SQLite"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template = directory / "template.sqlite3"
        url = f"sqlite:///{self.template}"
        database.upgrade(url)
        self.fleet = register_fleet(url)  # the engine is disposed, so the WAL is checkpointed into the file
        self._copies = 0

    def fresh(self) -> str:
        self._copies += 1
        path = self.directory / f"round-{self._copies}.sqlite3"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)

    def server_pids(self) -> list[int]:
        return []

    def version(self) -> str:
        return f"SQLite {sqlite3.sqlite_version}"

    def close(self) -> None:
        pass


class PostgresDatabases:
    """A throwaway PostgreSQL cluster (fsync off, as the test clusters); rounds use `CREATE DATABASE ... TEMPLATE`."""

    name = "PostgreSQL"
    TEMPLATE = "bench_template"

    def __init__(self) -> None:
        self.server = PostgresServer().start()
        try:
            url = self.server.create_database(self.TEMPLATE)
            database.upgrade(url)
            self.fleet = register_fleet(url)
        except BaseException:
            self.server.stop()
            raise
        self._copies = 0

    def fresh(self) -> str:
        self._copies += 1
        return self.server.create_database(f"bench_{self._copies}", template=self.TEMPLATE)

    def drop(self, url: str) -> None:
        self.server.drop_database(url.rsplit("/", 1)[1])

    def server_pids(self) -> list[int]:
        """The postmaster and its children (backends, writers): their CPU is the database's share."""
        pid_file = self.server.data / "postmaster.pid"
        master = int(pid_file.read_text().split()[0])
        children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent_of(int(p)) == master]
        return [master, *children]

    def version(self) -> str:
        engine = database.make_engine(self.server.url("postgres"))
        with engine.connect() as connection:
            version = connection.execute(text("SHOW server_version")).scalar()
        engine.dispose()
        return f"PostgreSQL {version.split()[0]}"

    def close(self) -> None:
        self.server.stop()


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # the fields after `pid (comm)`, starting at state


def _parent_of(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def cpu_of(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) each live process of `pids` has used."""
    seconds = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields:
            seconds[pid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return seconds


def cpu_since(before: dict[int, float], pids: list[int]) -> float:
    now = cpu_of(pids)
    return sum(value - before.get(pid, 0.0) for pid, value in now.items())


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
