"""`factory broker` as a real process on a migrated SQLite database, with real Mosquitto and MQTT clients.

Machines and their credentials are made through the services (or `factory machine-credentials`) on the
same database file the broker reads. Its folder is one the `mosquitto` user can enter: as root, the
broker drops to that user, who cannot pass pytest's 0700 tmp_path.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session

from drivers.broker_url import BrokerAddress, parse_broker_url
from drivers.mqtt import MqttClient
from factory.broker.passwords import verify_password
from factory.broker.runner import accepts_connections, wait_for_listener
from factory.broker.service_account import service_password
from factory.cli import cli
from factory.models import MachineCredential
from factory.services.machine_credentials import issue_machine_password
from tests.integration.conftest import make_commune_with_site, make_machine
from tests.support.commands import factory_env
from tests.support.mosquitto import Inbox, free_port, login_works, reachable_temp_dir, require_mosquitto

pytestmark = pytest.mark.timeout(90)

HOST = "127.0.0.1"
WAIT = 10.0


class BrokerCommand:
    """One `factory broker` process on a free port, its folder `<instance>/broker` (the default)."""

    def __init__(self, home: Path, database_url: str) -> None:
        self.port = free_port()
        self.instance_dir = home / "instance"
        self.log = home / "broker-command.log"
        self.env = factory_env(database_url, self.instance_dir, f"mqtt://{HOST}:{self.port}")
        self.process: subprocess.Popen | None = None

    def start(self) -> BrokerCommand:
        with open(self.log, "wb") as log:
            argv = [sys.executable, "-m", "factory", "broker", "--refresh-every", "0.2"]
            self.process = subprocess.Popen(argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, process_group=0)
        try:
            wait_for_listener(HOST, self.port, timeout_s=20, process=self.process)
        except RuntimeError as exc:
            raise AssertionError(f"factory broker {exc}:\n{self.log.read_text()}") from None
        return self

    def address(self, user: str, password: str) -> BrokerAddress:
        return BrokerAddress(HOST, self.port, user, password)

    def service(self) -> BrokerAddress:
        return self.address("factory", service_password(self.instance_dir))

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(WAIT)

    def cleanup(self) -> None:
        """Stop it as an operator would; if that fails, kill its process group (mosquitto with it)."""
        if self.process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.stop()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


@pytest.fixture
def session(sqlite_session) -> Session:
    """A session on the database file the broker command reads (SQLite only: the point is the process)."""
    return sqlite_session


@pytest.fixture
def broker_command(sqlite_url, session):
    """A `factory broker` not yet started, on site `north` with machine `printer-1`."""
    require_mosquitto()
    make_commune_with_site(session, "north")
    make_machine(session, id="printer-1")
    home = reachable_temp_dir("mf-broker-command-")
    command = BrokerCommand(home, sqlite_url)
    yield command
    command.cleanup()
    subprocess.run(["rm", "-rf", str(home)], check=False)


def published(client: MqttClient, topic: str, payload: bytes):
    result = client.publish(topic, payload)
    assert result.wait(WAIT), f"no PUBACK for {topic}"
    return result


def wait_until(condition, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.1)


def test_the_ingest_account_reads_what_an_issued_machine_publishes_under_its_own_topic(broker_command, session):
    password = issue_machine_password(session, "printer-1")
    broker_command.start()
    inbox = Inbox()
    with MqttClient(broker_command.service(), "ingest-check") as ingest, \
            MqttClient(broker_command.address("printer-1", password), "printer-1") as machine:
        ingest.subscribe("mf/#", inbox)
        assert ingest.ready.wait(WAIT) and machine.connected.wait(WAIT)
        assert published(machine, "mf/north/printer-1/telemetry", b'{"hello": 1}').ok
        assert inbox.wait_for_payload(b'{"hello": 1}', WAIT)
        assert inbox.topics == {"mf/north/printer-1/telemetry"}


def test_a_machine_without_issued_credentials_gets_no_login(broker_command, session):
    make_machine(session, id="printer-2", name="Printer 2")
    issue_machine_password(session, "printer-1")
    broker_command.start()
    passwd = (broker_command.instance_dir / "broker" / "passwd").read_text()
    assert [line.split(":")[0] for line in passwd.splitlines()] == ["factory", "printer-1"]
    assert not login_works(broker_command.address("printer-2", "any-guess"))


def test_credentials_issued_while_it_runs_work_within_seconds_and_rotated_ones_stop(broker_command, session):
    broker_command.start()
    assert not login_works(broker_command.address("printer-1", "not-issued-yet"))

    first = _issued_on_the_command_line(broker_command, "printer-1")
    wait_until(lambda: login_works(first), "the newly issued password did not start working")

    second = _issued_on_the_command_line(broker_command, "printer-1")
    wait_until(lambda: login_works(second), "the rotated password did not start working")
    assert not login_works(first)


def test_sigterm_stops_the_broker_cleanly_and_keeps_its_persistence(broker_command, session):
    broker_command.start()
    assert broker_command.stop() == 0
    assert not accepts_connections(HOST, broker_command.port), "mosquitto outlived `factory broker`"
    assert (broker_command.instance_dir / "broker" / "data" / "mosquitto.db").exists()


def _issued_on_the_command_line(broker_command: BrokerCommand, machine_id: str) -> BrokerAddress:
    """`factory machine-credentials` on the broker's database; the broker login its `bridge:` line gives."""
    result = CliRunner().invoke(cli, ["machine-credentials", machine_id], env=broker_command.env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    bridge = next(line for line in result.stdout.splitlines() if line.startswith("bridge:")).split()
    assert bridge[bridge.index("--site") + 1] == "north" and bridge[bridge.index("--machine") + 1] == machine_id
    assert "picks the new password up" in result.stderr
    return parse_broker_url(bridge[bridge.index("--broker") + 1])


# --- refused before anything starts (no broker needed) ---------------------------------------------------

@pytest.mark.parametrize(("mqtt_url", "says"), [
    ("mqtt://ingest:secret@127.0.0.1:1883", "existing broker"),
    ("mqtt://192.0.2.10:1883", "--allow-remote"),
    ("mqtts://127.0.0.1:8883", "--tls-cert"),
    ("http://127.0.0.1:1883", "mqtt://"),
])
def test_broker_refuses_a_url_it_cannot_serve_naming_the_key(sqlite_url, tmp_path, mqtt_url, says):
    result = CliRunner().invoke(cli, ["broker"], env=factory_env(sqlite_url, tmp_path / "instance", mqtt_url))
    assert result.exit_code == 2, result.output
    assert "FACTORY_MQTT_URL" in result.output and says in result.output
    assert not (tmp_path / "instance" / "broker").exists()


def test_machine_credentials_for_an_existing_broker_give_its_address_and_say_where_to_add_them(
        sqlite_url, session, tmp_path):
    make_commune_with_site(session, "north")
    make_machine(session, id="printer-1")
    env = factory_env(sqlite_url, tmp_path / "instance", "mqtts://ingest:secret@broker.example:8883")
    result = CliRunner().invoke(cli, ["machine-credentials", "printer-1"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    password = result.stdout.splitlines()[1].removeprefix("password: ")
    assert f"--broker mqtts://printer-1:{password}@broker.example:8883 --site north" in result.stdout
    assert "existing broker" in result.stderr
    session.expire_all()
    assert verify_password(password, session.get(MachineCredential, "printer-1").password_hash)
