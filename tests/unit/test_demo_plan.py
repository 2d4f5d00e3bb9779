"""What `factory demo-machines` starts and when its director hands out jobs (no processes, no broker)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from drivers.broker_url import BrokerAddress, parse_broker_url
from drivers.messages import Channel, Command, StateMessage, decode, encode
from drivers.mqtt import InboundMessage
from drivers.states import MachineState
from factory.broker.serve import listener_address
from factory.demo import DEMO_MACHINES, RETRY_S, Director, Login, children
from factory.seed_production import DESIGNS
from firmware_bridge.cli import parser as bridge_parser

BROKER = BrokerAddress("127.0.0.1", 1884)
LOGINS = [Login(machine, "leipzig", f"pw-{machine.machine_id}") for machine in DEMO_MACHINES]


def argv_value(argv: tuple[str, ...], option: str) -> str:
    return argv[argv.index(option) + 1]


def test_broker_starts_first_then_the_ingest_and_the_planner_and_every_bridge_reads_its_own_simulators_port():
    made = children(LOGINS, BROKER, Path("/srv/demo"), Path("/srv/broker"), python="py")
    assert [child.name for child in made[:3]] == ["broker", "ingest", "planner"]
    assert made[2].argv[-1] == "planner"
    assert argv_value(made[0].argv, "--dir") == "/srv/broker"
    by_name = {child.name: child for child in made}
    for login in LOGINS[:2]:  # the printer and the mill sit behind firmware bridges
        machine_id = login.machine.machine_id
        firmware, child = by_name[f"{machine_id}-firmware"].argv, by_name[f"{machine_id}-bridge"]
        assert login.password not in " ".join(child.argv), "no password in the process list"
        args = bridge_parser(dict(child.env)).parse_args(child.argv[child.argv.index("firmware_bridge.cli") + 1:])
        assert args.serial == argv_value(firmware, "--link")
        assert (args.site, args.machine, args.protocol) == ("leipzig", machine_id, login.machine.serial)
        assert (args.broker.username, args.broker.password, args.broker.port) == (machine_id, login.password, 1884)


def test_the_kiln_logs_in_to_the_broker_itself_with_its_own_password():
    kiln = {child.name: child.argv for child in children(LOGINS, BROKER, Path("/d"), Path("/b"))}["skutt-1027"]
    assert parse_broker_url(argv_value(kiln, "--broker")) == BrokerAddress("127.0.0.1", 1884, "skutt-1027",
                                                                           "pw-skutt-1027")
    assert argv_value(kiln, "--machine") == "skutt-1027" and argv_value(kiln, "--site") == "leipzig"


class RecordingClient:
    """Stands in for the MqttClient: keeps the handlers it is given and what is published."""

    def __init__(self) -> None:
        self.handlers: dict[str, object] = {}
        self.sent: list[tuple[str, bytes]] = []

    def subscribe(self, topic_filter, handler) -> None:
        self.handlers[topic_filter] = handler

    def publish(self, topic, payload, retain=False, expiry_s=None) -> None:
        assert expiry_s is not None, "a command must not wait in the broker for a machine that is away"
        self.sent.append((topic, payload))

    def report(self, machine_id: str, state: MachineState) -> None:
        topic = f"mf/leipzig/{machine_id}/state"
        payload = encode(StateMessage(machine_id, datetime.now(UTC), 1, state))
        self.handlers[topic](InboundMessage(topic, payload, retain=False, duplicate=False))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def director(clock):
    client = RecordingClient()
    return Director(client, LOGINS, rest_s=10.0, clock=clock), client


def test_director_listens_only_to_machines_it_gives_jobs_to(director):
    _, client = director
    assert set(client.handlers) == {"mf/leipzig/prusa-mk4-1/state", "mf/leipzig/skutt-1027/state"}


def test_an_idle_machine_gets_start_job_after_its_rest_and_not_again_while_it_runs(director, clock):
    director, client = director
    clock.now = 100.0
    client.report("prusa-mk4-1", MachineState.IDLE)
    clock.now = 105.0
    director.tick()
    assert client.sent == []
    clock.now = 110.0
    director.tick()
    [(topic, payload)] = client.sent
    command = decode(Channel.CMD, payload)
    assert topic == "mf/leipzig/prusa-mk4-1/cmd"
    assert (command.cmd, dict(command.args)) == (Command.START_JOB, {"file": "benchy.gco"})
    client.report("prusa-mk4-1", MachineState.RUNNING)
    clock.now += RETRY_S + 1
    director.tick()
    assert len(client.sent) == 1


def test_a_start_job_the_machine_ignored_is_sent_again_after_a_while(director, clock):
    director, client = director
    client.report("skutt-1027", MachineState.IDLE)
    for now in (10.0, 10.0 + RETRY_S / 2, 10.0 + RETRY_S):
        clock.now = now
        director.tick()
    assert [decode(Channel.CMD, payload).args["schedule"] for _, payload in client.sent] == ["glaze", "glaze"]


def test_a_faulted_machine_is_given_no_job(director, clock):
    director, client = director
    client.report("skutt-1027", MachineState.FAULT)
    clock.now = 1e9
    director.tick()
    assert client.sent == []


# --- where the factory's own broker may listen ----------------------------------------------------------

@pytest.mark.parametrize("url", ["mqtt://127.0.0.1:1884", "mqtt://localhost", "mqtt://[::1]:1883",
                                 "mqtts://127.0.0.1:8883"])
def test_a_loopback_url_without_a_user_is_where_the_broker_listens(url):
    address = parse_broker_url(url)
    assert listener_address(url) == BrokerAddress(address.host, address.port, tls=address.tls)


@pytest.mark.parametrize(("url", "allow_remote", "says"), [
    ("mqtt://factory:pw@127.0.0.1:1883", True, "existing broker"),
    ("mqtt://10.0.0.5:1883", False, "--allow-remote"),
    ("mqtt://broker.example:1883", False, "--allow-remote"),
    ("mqtt://127.0.0.1:1883/path", False, "path"),
])
def test_a_url_the_factorys_broker_cannot_serve_is_refused_naming_the_key(url, allow_remote, says):
    with pytest.raises(ValueError, match="FACTORY_MQTT_URL") as refused:
        listener_address(url, allow_remote=allow_remote)
    assert says in str(refused.value)


def test_a_remote_host_is_served_when_allowed():
    assert listener_address("mqtt://10.0.0.5:1883", allow_remote=True) == BrokerAddress("10.0.0.5", 1883)


def test_the_demo_printer_holds_a_file_for_every_printed_demo_design_so_a_dispatched_start_can_print():
    printed = {d.slug for d in DESIGNS if any(step.machine_kind == "fdm_printer" for step in d.steps)}
    argv = next(m.simulator for m in DEMO_MACHINES if m.serial == "marlin")
    files = {argv[i + 1] for i, word in enumerate(argv) if word == "--sd-file"}
    assert printed and files == {f"{slug}.gco" for slug in printed}
