"""The `factory` command, driven in-process with click's CliRunner against a real SQLite file.

Configuration comes from the environment, as in production: each test points FACTORY_DATABASE_URL and
FACTORY_INSTANCE_DIR at its own tmp_path. What the commands did is checked through the services on a
separate engine. One test runs the installed console script as a real process.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import factory.db
from factory.cli import cli
from factory.domain.errors import Unauthorized
from factory.models import Machine
from factory.seed import DEMO_LOGINS
from factory.services.tokens import user_for_token
from factory.services.users import authenticate
from tests.integration.conftest import PASSWORD, count, make_coop
from tests.support.databases import sqlite_url as sqlite_file_url

TOKEN = re.compile(r"^mf_[A-Za-z0-9_-]{20,}$")


def cli_env(database_url: str, instance_dir: Path) -> dict[str, str | None]:
    """The environment `factory` reads its settings from; unrelated FACTORY_* keys are unset."""
    return {"FACTORY_DATABASE_URL": database_url, "FACTORY_INSTANCE_DIR": str(instance_dir),
            "FACTORY_SECRET_KEY": "s" * 32, "FACTORY_MQTT_URL": None, "FACTORY_DISPLAY_TIME_ZONE": None}


@pytest.fixture
def run(sqlite_url, tmp_path):
    """`run("create-user", "ana", ...)` invokes the CLI on this test's migrated SQLite database."""
    env = cli_env(sqlite_url, tmp_path / "instance")

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def check_session(sqlite_session) -> Session:
    """A session of our own on the CLI's database, to see what the commands wrote."""
    return sqlite_session


def ok(result: Result) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    return result.output


def create_steward(run, login: str = "ana") -> None:
    ok(run("create-user", login, "--role", "steward", "--name", "Ana Sousa", "--password", PASSWORD))


def issued_token(run, login: str, name: str = "nightly export") -> str:
    token = ok(run("create-token", login, "--name", name)).strip()
    assert TOKEN.match(token), f"create-token printed {token!r}, not just a token"
    return token


def token_id_listed(run, login: str, name: str) -> int:
    lines = [line for line in ok(run("list-tokens", login)).splitlines() if line.rstrip().endswith(name)]
    assert len(lines) == 1, lines
    return int(lines[0].split()[0])


# --- init-db and seed-demo -------------------------------------------------------------------------------

def test_init_db_then_seed_demo_loads_the_demo_commune_only_once(tmp_path):
    database_url = sqlite_file_url(tmp_path / "fresh.sqlite3")
    env = cli_env(database_url, tmp_path / "instance")
    runner = CliRunner()

    migrated = ok(runner.invoke(cli, ["init-db"], env=env, catch_exceptions=False))
    first = ok(runner.invoke(cli, ["seed-demo"], env=env, catch_exceptions=False))
    engine = factory.db.make_engine(database_url)
    try:
        with Session(engine) as session:
            machines_after_first = count(session, Machine)
        second = ok(runner.invoke(cli, ["seed-demo"], env=env, catch_exceptions=False))
        with Session(engine) as session:
            machines_after_second = count(session, Machine)
    finally:
        engine.dispose()

    assert "is at the newest schema" in migrated
    assert "demo commune loaded" in first
    for login, password, _role in DEMO_LOGINS:
        assert re.search(rf"^\s+{login}\s+{re.escape(password)}\s", first, re.MULTILINE), first
    assert "a commune exists already: demo data not loaded" in second
    assert machines_after_first >= 10
    assert machines_after_second == machines_after_first


def test_init_db_on_a_migrated_database_changes_nothing(run):
    assert "is at the newest schema" in ok(run("init-db"))
    assert "is at the newest schema" in ok(run("init-db"))


# --- create-user -----------------------------------------------------------------------------------------

def test_created_user_can_log_in_with_the_given_password(run, check_session):
    output = ok(run("create-user", "ana", "--role", "steward", "--name", "Ana Sousa", "--password", PASSWORD))

    assert "user ana (steward) created" in output
    user = authenticate(check_session, "ana", PASSWORD)
    assert user is not None
    assert (user.role, user.display_name) == ("steward", "Ana Sousa")
    assert authenticate(check_session, "ana", "not-the-password") is None


def test_member_is_created_in_the_given_coop(run, check_session):
    make_coop(check_session, "spokes")

    ok(run("create-user", "mia", "--role", "member", "--coop", "spokes", "--password", PASSWORD))

    user = authenticate(check_session, "mia", PASSWORD)
    assert user is not None and user.coop.slug == "spokes"


def test_create_user_with_a_taken_login_fails_with_exit_1(run, check_session):
    create_steward(run, "ana")

    result = run("create-user", "ana", "--role", "admin", "--password", "another-password")

    assert result.exit_code == 1
    assert "Error: the login 'ana' is taken (login)" in result.output
    assert authenticate(check_session, "ana", "another-password") is None


def test_member_without_a_coop_is_refused_naming_the_coop(run, check_session):
    result = run("create-user", "mia", "--role", "member", "--password", PASSWORD)

    assert result.exit_code == 1
    assert "Error: a member belongs to a co-op (coop)" in result.output
    assert authenticate(check_session, "mia", PASSWORD) is None


def test_create_user_with_a_short_password_is_refused_naming_the_password(run, check_session):
    result = run("create-user", "ana", "--role", "steward", "--password", "short")

    assert result.exit_code == 1
    assert "Error: at least 8 characters (password)" in result.output
    assert authenticate(check_session, "ana", "short") is None


# --- tokens ----------------------------------------------------------------------------------------------

def test_created_token_authenticates_its_user_and_is_listed(run, check_session):
    create_steward(run, "ana")

    token = issued_token(run, "ana", "nightly export")

    assert user_for_token(check_session, token).login == "ana"
    listing = ok(run("list-tokens", "ana"))
    assert re.search(rf"{re.escape(token[:10])}…\s+active\s+last used \S", listing), listing
    assert "nightly export" in listing
    assert token not in listing, "the full token is printed once, by create-token only"


def test_revoked_token_no_longer_authenticates(run, check_session):
    create_steward(run, "ana")
    token = issued_token(run, "ana", "nightly export")
    token_id = token_id_listed(run, "ana", "nightly export")

    output = ok(run("revoke-token", str(token_id)))

    assert f"token {token_id} (nightly export) of ana is revoked" in output
    with pytest.raises(Unauthorized):
        user_for_token(check_session, token)
    assert re.search(r"…\s+revoked\s", ok(run("list-tokens", "ana")))


def test_revoking_an_unknown_token_fails_with_exit_1(run):
    result = run("revoke-token", "4242")

    assert result.exit_code == 1
    assert "Error: no token 4242" in result.output


def test_create_token_for_an_unknown_login_fails_with_exit_1(run):
    result = run("create-token", "nobody")

    assert result.exit_code == 1
    assert "Error: no user 'nobody' (login)" in result.output


def test_a_command_closes_its_database_connections_when_it_ends(run, sqlite_url):
    create_steward(run, "ana")

    # SQLite removes the write-ahead log when the last connection closes; a pooled one left open keeps it.
    database_file = Path(make_url(sqlite_url).database)
    assert not database_file.with_name(database_file.name + "-wal").exists()


# --- configuration ---------------------------------------------------------------------------------------

def test_a_malformed_database_url_is_a_usage_error_naming_the_key(tmp_path):
    env = cli_env("not a database url", tmp_path / "instance")

    result = CliRunner().invoke(cli, ["init-db"], env=env, catch_exceptions=False)

    assert result.exit_code == 2
    assert "FACTORY_DATABASE_URL" in result.output


# --- the installed console script ------------------------------------------------------------------------

def installed_factory_script() -> str:
    script = shutil.which("factory") or shutil.which("factory", path=str(Path(sys.executable).parent))
    assert script, f"no `factory` console script on PATH or next to {sys.executable}: pip install -e ."
    return script


def test_installed_factory_script_initialises_and_seeds_a_database(tmp_path):
    script = installed_factory_script()
    env = {key: value for key, value in os.environ.items() if not key.startswith("FACTORY_")}
    env.update({key: value for key, value in
                cli_env(sqlite_file_url(tmp_path / "script.sqlite3"), tmp_path / "instance").items() if value})

    def factory_command(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([script, *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)

    migrated = factory_command("init-db")
    seeded = factory_command("seed-demo")

    assert migrated.returncode == 0, migrated.stderr
    assert "is at the newest schema" in migrated.stdout
    assert seeded.returncode == 0, seeded.stderr
    assert "demo commune loaded" in seeded.stdout
    for login, password, _role in DEMO_LOGINS:
        assert re.search(rf"^\s+{login}\s+{re.escape(password)}\s", seeded.stdout, re.MULTILINE), seeded.stdout
