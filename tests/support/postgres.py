"""A throwaway PostgreSQL 15 cluster for one test session (recipe: ../shared/TESTING.md).

The cluster lives in a fresh temporary directory, listens on a free port of 127.0.0.1 only (plus a Unix
socket in that directory) and trusts the user `app`. As root, initdb and pg_ctl run as the `postgres`
system user, since initdb refuses to run as root.
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USER = "app"


def postgres_available() -> str | None:
    """None when a cluster can be started here, else why not."""
    initdb = PG_BIN / "initdb"
    if not initdb.exists():
        return f"{initdb} not found (apt-get install -y postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, but there is no `postgres` system user to run initdb as"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    def __init__(self, bin_dir: Path = PG_BIN) -> None:
        self.bin_dir = bin_dir
        self.directory: Path | None = None
        self.port: int | None = None

    @property
    def data(self) -> Path:
        assert self.directory is not None, "server not started"
        return self.directory / "data"

    @property
    def log(self) -> Path:
        assert self.directory is not None, "server not started"
        return self.directory / "log"

    def start(self) -> PostgresServer:
        if self.directory is not None:
            raise RuntimeError("PostgresServer already started")
        self.directory = Path(tempfile.mkdtemp(prefix="mf-pg-"))
        try:
            if os.geteuid() == 0:
                shutil.chown(self.directory, "postgres")
            self._run("initdb", "-D", self.data, "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync")
            for attempt in range(1, 4):  # a free port can be taken between probing and binding
                self.port = _free_port()
                options = (f"-p {self.port} -k {shlex.quote(str(self.directory))} "
                           "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                           "-c full_page_writes=off")
                result = self._run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
                                   "-o", options, "start", check=False)
                if result.returncode == 0:
                    return self
                if attempt == 3 or "could not bind" not in self.log_tail(lines=5):
                    break
            raise RuntimeError(f"pg_ctl start failed (exit {result.returncode}):\n{result.stdout}"
                               f"\n--- server log tail ---\n{self.log_tail()}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory; safe to call twice."""
        if self.directory is None:
            return
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "60", "stop", check=False)
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = self.port = None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError as error:
            return f"(no server log: {error})"

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str, template: str | None = None) -> str:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        self._admin(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop it even if connections are open (PG 13+ `WITH (FORCE)` ends them)."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composable) -> None:
        if self.port is None:
            raise RuntimeError("PostgresServer not started")
        with psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres",
                             autocommit=True, connect_timeout=10) as connection:
            connection.execute(statement)

    def _run(self, program: str, *args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin_dir / program), *map(str, args)]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        # pg_ctl start leaves the server holding stdout/stderr if they are pipes: send them to files.
        with tempfile.TemporaryFile("w+") as out:
            result = subprocess.run(command, cwd=self.directory, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, text=True, timeout=180)
            out.seek(0)
            output = out.read()
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} failed (exit {result.returncode}):\n{output}")
        return subprocess.CompletedProcess(command, result.returncode, output, "")

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
