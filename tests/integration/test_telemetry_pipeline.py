"""The whole telemetry path with real parts: firmware simulator on a pty -> firmware bridge -> Mosquitto
-> ingest worker -> database -> JSON API and /metrics.

The broker runs the factory's own password and ACL text for the registered machines (as `factory broker`
writes it), plus a `tester` account that may publish anywhere under mf/, standing in for a misbehaving or
unregistered device. Every wait has a deadline and looks at what was stored, never at a fixed sleep.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

import factory.db
from drivers.messages import (
    COMMAND_EXPIRY_S,
    CommandMessage,
    StateMessage,
    TelemetryMessage,
    encode,
    format_ts,
    last_will,
)
from drivers.mqtt import ClientOptions, MqttClient
from drivers.simulators.grbl_sim import GrblSimulator
from drivers.simulators.kiln_sim import KilnSimulator
from drivers.simulators.marlin_sim import MarlinSimulator
from drivers.states import MachineState
from factory.app import EXTENSION, create_app
from factory.broker.config import acl_text, passwd_text
from factory.broker.passwords import hash_password
from factory.domain.capabilities import Capabilities
from factory.ingest.worker import IngestWorker, WorkerOptions
from factory.models import Machine, MachineEvent, TelemetrySample
from factory.services.machine_credentials import issue_machine_password, machine_accounts
from factory.settings import Settings
from firmware_bridge import cli as bridge_cli
from tests.integration.conftest import api_token, make_commune_with_site, make_machine, make_user
from tests.support.mosquitto import Inbox, MosquittoBroker
from tests.support.tcp_proxy import TcpRelay

pytestmark = pytest.mark.timeout(120)

MACHINES = ("printer-1", "printer-2", "mill-1", "kiln-1")
SERVICE_PASSWORD = "service-secret"
TESTER_PASSWORD = "tester-secret"
WAIT = 20.0


def eventually(condition: Callable[[], object], timeout: float = WAIT, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Plant:
    """The parts of one test's telemetry path; each is started on demand and stopped at teardown."""

    def __init__(self, db_url: str, broker_factory, tmp_path) -> None:
        self.tmp_path = tmp_path
        self.engine = factory.db.make_engine(db_url)
        self.sessions = factory.db.make_sessionmaker(self.engine)
        with self.sessions() as session:
            make_commune_with_site(session, "north")
            for machine_id in ("printer-1", "printer-2"):
                make_machine(session, id=machine_id, name=machine_id.title())
            make_machine(session, id="mill-1", name="Mill 1", kind="cnc_mill", model="Tormach 1100MX",
                         capabilities=Capabilities(457, 254, 413, ("aluminium", "steel"), None, 1500))
            make_machine(session, id="kiln-1", name="Kiln 1", kind="kiln", model="Skutt KM-1027",
                         capabilities=Capabilities(700, 700, 690, ("stoneware",), 1290, None))
            self.passwords = {m: issue_machine_password(session, m) for m in MACHINES}
            accounts = machine_accounts(session)
            make_user(session, "steward")
            self.token = api_token(session, "steward-user")
        passwd = passwd_text(accounts, hash_password(SERVICE_PASSWORD)) + f"tester:{hash_password(TESTER_PASSWORD)}\n"
        acl = acl_text(accounts) + "\nuser tester\ntopic write mf/#\n"
        self.broker = MosquittoBroker(passwd, acl)
        broker_factory.brokers.append(self.broker)  # cleaned up with the factory's brokers
        self.broker.start()
        self.app = create_app(Settings(database_url=db_url, secret_key="x" * 32, mqtt_url=self.broker.url("a", "b"),
                                       instance_dir=tmp_path / "instance"), TESTING=True)
        self._stops: list[Callable[[], None]] = []
        self._bridges: list[Callable[[], None]] = []
        self.workers: list[IngestWorker] = []
        self._threads: dict[IngestWorker, threading.Thread] = {}

    # --- parts ---

    def ingest(self, name: str = "w1", *, shared: bool = False) -> IngestWorker:
        worker = IngestWorker(self.sessions, self.broker.address("factory", SERVICE_PASSWORD),
                              WorkerOptions(name=name, client_id=f"ingest-{name}", shared=shared))
        thread = threading.Thread(target=worker.run, name=f"ingest-{name}", daemon=True)
        thread.start()
        eventually(worker.client.ready.is_set, what=f"ingest {name} subscribed")
        self.workers.append(worker)
        self._threads[worker] = thread
        self._stops.append(lambda: self.stop_ingest(worker))
        return worker

    def stop_ingest(self, worker: IngestWorker) -> None:
        """Stop a worker and wait until it has stored what it holds and left the broker."""
        worker.stop()
        self._threads[worker].join(15)

    def printer(self, **options) -> MarlinSimulator:
        simulator = MarlinSimulator(self.tmp_path / "ttyPrinter1", **{"print_seconds": 3.0, **options}).start()
        self._stops.append(simulator.stop)
        return simulator

    def mill(self) -> GrblSimulator:
        simulator = GrblSimulator(self.tmp_path / "ttyMill1", speed=1.0, home_seconds=0.2).start()
        self._stops.append(simulator.stop)
        return simulator

    def kiln(self) -> KilnSimulator:
        """The kiln speaks MQTT itself, with its own login and a retained `offline` last will."""
        client = MqttClient(self.broker.address("kiln-1", self.passwords["kiln-1"]), "kiln-north-kiln-1",
                            will=last_will("north", "kiln-1", "connection lost"))
        kiln = KilnSimulator(client, "north", "kiln-1", interval_s=0.1, speed=600.0)
        thread = threading.Thread(target=kiln.run, name="kiln", daemon=True)
        thread.start()
        self._stops.append(lambda: (kiln.stop(), thread.join(10)))
        return kiln

    def bridge(self, simulator, machine: str = "printer-1", protocol: str = "marlin", *, port: int | None = None):
        """A bridge for the simulator, to the broker or, given `port`, to a relay in front of it."""
        url = self.broker.url(machine, self.passwords[machine])
        if port is not None:
            url = url.replace(f":{self.broker.port}", f":{port}")
        args = bridge_cli.parser().parse_args([
            "--serial", simulator.path, "--protocol", protocol, "--site", "north", "--machine", machine,
            "--broker", url, "--spool", str(self.tmp_path / "spool"),
            "--interval", "0.2"])
        bridge = bridge_cli.build(args)
        thread = threading.Thread(target=bridge.run, name="bridge", daemon=True)
        thread.start()
        stop = lambda: (bridge.stop(), thread.join(30))  # noqa: E731
        self._bridges.append(stop)
        self._stops.append(stop)
        return bridge

    def stop_bridges(self) -> None:
        """Stop every bridge (each publishes `offline` and sends what its spool holds) and wait for them."""
        for stop in self._bridges:
            stop()

    def client(self, user: str, password: str, client_id: str, **subscriptions) -> MqttClient:
        client = MqttClient(self.broker.address(user, password), client_id, options=ClientOptions())
        for topic_filter, handler in subscriptions.items():
            client.subscribe(topic_filter, handler)
        client.start()
        eventually(client.ready.is_set, what=f"{client_id} connected")
        self._stops.append(client.stop)
        return client

    def tester(self) -> MqttClient:
        return self.client("tester", TESTER_PASSWORD, "tester")

    # --- what was stored ---

    def api(self, path: str):
        with self.app.test_client() as http:
            return http.get(path, headers={"Authorization": f"Bearer {self.token}"})

    def machine(self, machine_id: str = "printer-1") -> dict:
        response = self.api(f"/api/v1/machines/{machine_id}")
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    def machine_when(self, predicate: Callable[[dict], bool], what: str, machine_id: str = "printer-1") -> dict:
        """The machine's API answer, once `predicate` holds for it."""
        found: list[dict] = []

        def check() -> bool:
            found[:] = [self.machine(machine_id)]
            return predicate(found[0])

        eventually(check, what=what)
        return found[0]

    def samples(self, machine_id: str = "printer-1") -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(TelemetrySample)
                                  .where(TelemetrySample.machine_id == machine_id))

    def seqs(self, machine_id: str = "printer-1") -> list[int]:
        with self.sessions() as session:
            return list(session.scalars(select(TelemetrySample.seq).where(TelemetrySample.machine_id == machine_id)
                                        .order_by(TelemetrySample.seq)))

    def events(self, machine_id: str = "printer-1") -> list[str]:
        with self.sessions() as session:
            return list(session.scalars(select(MachineEvent.event).where(MachineEvent.machine_id == machine_id)
                                        .order_by(MachineEvent.ts)))

    def metrics_text(self) -> str:
        for worker in self.workers:
            worker.flush_counters()
        response = self.api("/metrics")
        assert response.status_code == 200
        return response.get_data(as_text=True)

    def close(self) -> None:
        for stop in reversed(self._stops):
            stop()
        self.app.extensions[EXTENSION]["engine"].dispose()
        self.engine.dispose()


@pytest.fixture
def plant(sqlite_url, mosquitto_factory, tmp_path):
    plant = Plant(sqlite_url, mosquitto_factory, tmp_path)
    yield plant
    plant.close()


@pytest.fixture
def plant_on_both(db_url, mosquitto_factory, tmp_path):
    plant = Plant(db_url, mosquitto_factory, tmp_path)
    yield plant
    plant.close()


def now() -> datetime:
    return datetime.now(UTC)


def telemetry(seq: int, machine: str = "printer-1", *, at: datetime | None = None) -> bytes:
    return encode(TelemetryMessage(machine, at or now(), seq, {"hotend_c": 200.0 + seq % 10}))


def send(client: MqttClient, topic: str, payload: bytes) -> None:
    assert client.publish(topic, payload).wait(WAIT), f"no PUBACK for {topic}"


def command(service: MqttClient, cmd: str, args: dict | None = None, machine: str = "printer-1",
            job: str | None = None):
    message = CommandMessage(f"c-{cmd}-{time.monotonic_ns()}", cmd, job=job, args=args or {})
    assert service.publish(f"mf/north/{machine}/cmd", encode(message), expiry_s=COMMAND_EXPIRY_S).wait(WAIT)
    return message.id


# --- the path from the firmware to the API --------------------------------------------------------------


def test_printer_readings_reach_the_api_through_bridge_broker_and_ingest(plant):
    plant.ingest()
    plant.bridge(plant.printer())
    machine = plant.machine_when(lambda m: m["state"] == "idle" and "hotend_c" in m["metrics"],
                                 "printer-1 idle with a hotend reading in the API")
    assert machine["available"] is True
    assert machine["last_seen"] is not None
    eventually(lambda: plant.samples() >= 3, what="samples stored")
    response = plant.api("/api/v1/machines/printer-1/telemetry?metric=hotend_c")
    assert response.status_code == 200
    body = response.get_json()
    assert len(body["samples"]) >= 3
    assert all(set(s["metrics"]) == {"hotend_c"} for s in body["samples"])


def test_a_print_started_by_command_runs_to_done_and_its_events_are_stored(plant):
    plant.ingest()
    simulator = plant.printer(print_seconds=1.5)
    plant.bridge(simulator)
    acks = Inbox()
    service = plant.client("factory", SERVICE_PASSWORD, "steward-console", **{"mf/north/printer-1/cmd/ack": acks})
    eventually(lambda: plant.machine()["state"] == "idle", what="printer idle")
    command_id = command(service, "start_job", {"file": "benchy.gco"}, job="job-42")
    assert acknowledgement(acks, command_id)["ok"] is True
    machine = plant.machine_when(lambda m: m["state"] == "running", "printer running")
    assert machine["job"] == "job-42", "the factory's job id, not the file name"
    eventually(lambda: "job_finished" in plant.events(), what="job_finished event stored")
    eventually(lambda: plant.machine()["state"] == "idle", what="printer idle again")
    assert plant.events().index("job_started") < plant.events().index("job_finished")
    with plant.sessions() as session:
        jobs = dict(session.execute(select(MachineEvent.event, MachineEvent.job)
                                    .where(MachineEvent.machine_id == "printer-1")).all())
    assert jobs == {"job_started": "job-42", "job_finished": "job-42"}


def test_a_thermal_runaway_marks_the_machine_unavailable(plant):
    plant.ingest()
    simulator = plant.printer()
    plant.bridge(simulator)
    eventually(lambda: plant.machine()["state"] == "idle", what="printer idle")
    simulator.inject_thermal_runaway()
    machine = plant.machine_when(lambda m: m["state"] == "fault", "fault stored")
    assert machine["available"] is False
    assert "fault" in plant.events()


def test_the_serial_port_vanishing_shows_offline_and_coming_back_shows_idle(plant):
    plant.ingest()
    simulator = plant.printer()
    bridge = plant.bridge(simulator)
    eventually(lambda: plant.machine()["state"] == "idle", what="printer idle")
    simulator.unplug()
    machine = plant.machine_when(lambda m: m["state"] == "offline", "offline")
    assert machine["available"] is False
    assert bridge.port_losses == 1
    simulator.replug()
    eventually(lambda: plant.machine()["state"] == "idle", what="idle after the cable is back")


def test_garbage_and_truncated_serial_lines_neither_stop_the_bridge_nor_reach_the_database(plant, caplog):
    worker = plant.ingest()
    bridge = plant.bridge(plant.printer(garbage_every=3, truncate_every=4))
    eventually(lambda: plant.samples() >= 10, what="samples from a noisy line")
    assert plant.machine()["state"] == "idle"
    assert bridge.malformed_lines > 0
    assert any("malformed serial line" in r.message for r in caplog.records)
    with plant.sessions() as session:
        readings = [s.metrics for s in session.scalars(select(TelemetrySample))]
    assert all(0 < value < 400 for metrics in readings for value in metrics.values())
    assert sum(worker.batcher.gate.dropped.values()) == 0, "the bridge publishes nothing malformed"


def acknowledgement(acks: Inbox, command_id: str) -> dict:
    assert acks.wait_for(lambda ms: any(json.loads(m.payload)["id"] == command_id for m in ms), WAIT), "no ack"
    return next(json.loads(m.payload) for m in acks.messages if json.loads(m.payload)["id"] == command_id)


def test_a_command_while_the_cable_is_out_is_refused_at_once_with_the_reason(plant):
    plant.ingest()
    simulator = plant.printer()
    plant.bridge(simulator)
    acks = Inbox()
    service = plant.client("factory", SERVICE_PASSWORD, "console", **{"mf/north/printer-1/cmd/ack": acks})
    eventually(lambda: plant.machine()["state"] == "idle", what="printer idle")
    simulator.unplug()
    plant.machine_when(lambda m: m["state"] == "offline", "offline")
    ack = acknowledgement(acks, command(service, "home"))
    assert ack["ok"] is False and "not connected" in ack["detail"]


def test_a_mill_reports_spindle_and_position_and_obeys_feed_hold(plant):
    plant.ingest()
    mill = plant.mill()
    plant.bridge(mill, "mill-1", "grbl")
    acks = Inbox()
    service = plant.client("factory", SERVICE_PASSWORD, "console", **{"mf/north/mill-1/cmd/ack": acks})
    plant.machine_when(lambda m: m["state"] == "idle", "mill idle", "mill-1")
    mill.run_job()
    machine = plant.machine_when(lambda m: m["state"] == "running" and m["metrics"].get("spindle_rpm", 0) > 0,
                                 "mill running with the spindle on", "mill-1")
    assert {"x_mm", "y_mm", "z_mm", "feed_mm_min"} <= set(machine["metrics"])
    assert acknowledgement(acks, command(service, "pause", machine="mill-1"))["ok"] is True
    plant.machine_when(lambda m: m["state"] == "paused", "mill in feed hold", "mill-1")
    assert acknowledgement(acks, command(service, "resume", machine="mill-1"))["ok"] is True
    plant.machine_when(lambda m: m["state"] == "running", "mill going on after the hold", "mill-1")
    mill.speed = 50.0
    plant.machine_when(lambda m: m["state"] == "idle", "the job done", "mill-1")
    assert acknowledgement(acks, command(service, "start_job", machine="mill-1"))["ok"] is False


def test_a_kiln_on_mqtt_fires_and_an_over_temperature_makes_it_unavailable(plant):
    plant.ingest()
    kiln = plant.kiln()
    acks = Inbox()
    service = plant.client("factory", SERVICE_PASSWORD, "console", **{"mf/north/kiln-1/cmd/ack": acks})
    plant.machine_when(lambda m: m["state"] == "idle", "kiln idle", "kiln-1")
    assert acknowledgement(acks, command(service, "start_job", {"schedule": "bisque"}, machine="kiln-1"))["ok"]
    plant.machine_when(lambda m: m["state"] == "running" and m["metrics"].get("chamber_c", 0) > 60,
                       "kiln ramping up", "kiln-1")
    kiln.inject_stuck_relay()
    machine = plant.machine_when(lambda m: m["state"] == "fault", "over-temperature fault", "kiln-1")
    assert machine["available"] is False
    assert "fault" in plant.events("kiln-1")


def test_a_kiln_whose_controller_dies_is_marked_offline_by_its_last_will(plant):
    plant.ingest()
    url = plant.broker.url("kiln-1", plant.passwords["kiln-1"])
    controller = subprocess.Popen([sys.executable, "-m", "drivers.simulators.kiln_sim", "--broker", url,
                                   "--site", "north", "--machine", "kiln-1", "--interval", "0.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        plant.machine_when(lambda m: m["state"] == "idle", "kiln idle", "kiln-1")
    finally:
        controller.kill()  # no goodbye: only the broker can tell
        controller.wait(10)
    machine = plant.machine_when(lambda m: m["state"] == "offline", "offline from the last will", "kiln-1")
    assert machine["available"] is False
    assert machine["state_detail"] == "connection lost"


def test_after_a_network_blip_the_bridge_says_its_state_again_over_its_last_will(plant):
    plant.ingest()
    relay = TcpRelay(plant.broker.port)
    try:
        bridge = plant.bridge(plant.printer(), port=relay.port)
        plant.machine_when(lambda m: m["state"] == "idle", "printer idle")
        connections = bridge.client.connections
        assert relay.cut() == 1  # the Wi-Fi drops: the broker publishes the bridge's retained `offline` will
        plant.machine_when(lambda m: m["state"] == "offline" and m["state_detail"] == "bridge connection lost",
                           "offline from the last will")
        eventually(lambda: bridge.client.connections > connections, what="the bridge reconnected")
        machine = plant.machine_when(lambda m: m["state"] == "idle", "idle again without any change on the printer")
        assert machine["available"] is True
    finally:
        relay.close()


def test_firmware_output_no_message_can_carry_is_skipped_and_the_bridge_goes_on(plant):
    plant.ingest()
    simulator = plant.printer(print_seconds=1.0)
    bridge = plant.bridge(simulator)
    plant.machine_when(lambda m: m["state"] == "idle", "printer idle")
    simulator.inject_line("ok T:" + "9" * 400 + " /0.0 B:21.0 /0.0")  # a corrupted reading: inf
    simulator.files["x" * 600 + ".gco"] = 1000
    simulator.inject_line(f"File opened: {'x' * 600}.gco Size: 1000")  # a file name longer than a job may be
    simulator.inject_line("File selected")
    simulator.inject_line("Done printing file")
    before = plant.samples()
    eventually(lambda: plant.samples() > before + 5, what="readings still arriving")
    machine = plant.machine_when(lambda m: "hotend_c" in m["metrics"], "a hotend reading after the bad one")
    assert machine["metrics"]["hotend_c"] < 400, "the infinite reading was never published"
    assert machine["state"] == "idle"
    assert bridge.port_losses == 0


# --- the broker going away ------------------------------------------------------------------------------


def kill_when_all_acknowledged_is_delivered(plant: Plant, worker: IngestWorker, bridge, tries: int = 20) -> None:
    """SIGKILL the broker mid-stream, at a moment when it holds nothing it acknowledged but did not deliver.

    Mosquitto acknowledges a publish before it has forwarded or saved it, so a SIGKILL in that instant loses
    the message whatever the clients do (docs/telemetry.md). The test is about everything else: the bridge
    spooling through the outage, the ingest's session coming back, nothing stored twice. So the broker is
    frozen, and killed only once the ingest holds every message the bridge was told was received.
    """
    for _ in range(tries):
        plant.broker.freeze()
        try:
            eventually(lambda: worker.batcher.gate.accepted == bridge.sender.sent, timeout=1.0, what="delivered")
        except AssertionError:
            plant.broker.thaw()
            time.sleep(0.1)
            continue
        plant.broker.kill()
        return
    raise AssertionError("the broker never caught up with the bridge")


def test_a_broker_killed_mid_stream_loses_no_bridge_message(plant):
    first = plant.ingest("w1")
    bridge = plant.bridge(plant.printer())
    eventually(lambda: plant.samples() >= 3, what="first samples")
    plant.broker.save()  # a broker up for a while has autosaved the ingest's session (60 s in production)
    kill_when_all_acknowledged_is_delivered(plant, first, bridge)
    plant.stop_ingest(first)  # and the ingest is the last to come back: the broker must queue the backlog for it
    eventually(lambda: len(bridge.spool) >= 10, what="the bridge spooling while the broker is away")
    plant.broker.start()
    eventually(lambda: len(bridge.spool) == 0, what="the bridge's backlog acknowledged by the restarted broker")
    second = plant.ingest("w1")  # same name, same broker session
    eventually(lambda: plant.samples() > 13, what="the backlog stored")
    plant.stop_bridges()
    assert len(bridge.spool) == 0
    accepted = lambda: first.batcher.gate.accepted + second.batcher.gate.accepted  # noqa: E731
    eventually(lambda: accepted() == bridge.sender.sent, what="every message the broker acknowledged stored")
    for worker in (first, second):
        assert set(worker.batcher.gate.dropped) <= {"duplicate"}, "a redelivery after the crash is no loss"
    seqs = plant.seqs()
    assert seqs == sorted(set(seqs)), "stored once each, in the order they were taken"


def test_messages_queued_for_a_stopped_ingest_survive_a_broker_restart(plant):
    tester = plant.tester()
    plant.stop_ingest(plant.ingest("w1"))
    base = 1_000
    for seq in range(base, base + 200):
        send(tester, "mf/north/printer-1/telemetry", telemetry(seq))
    plant.broker.restart()
    plant.ingest("w1")  # the same client id: its persistent session kept the queue
    eventually(lambda: plant.samples() == 200, what="all 200 queued messages stored after the restart")
    assert plant.seqs() == list(range(base, base + 200))


# --- what the broker and the ingest refuse --------------------------------------------------------------


def test_a_machine_publishing_under_another_machines_topic_is_refused_by_the_broker(plant):
    plant.ingest()
    intruder = plant.client("printer-2", plant.passwords["printer-2"], "printer-2")
    refused = intruder.publish("mf/north/printer-1/telemetry", telemetry(1, "printer-1"))
    assert refused.wait(WAIT) and refused.refused
    send(intruder, "mf/north/printer-2/telemetry", telemetry(2, "printer-2"))  # arrives after the refused one
    eventually(lambda: plant.samples("printer-2") == 1, what="printer-2's own message stored")
    assert plant.samples("printer-1") == 0


def test_each_kind_of_bad_message_is_dropped_counted_and_the_good_ones_kept(plant):
    plant.ingest()
    tester = plant.tester()
    own = plant.client("printer-1", plant.passwords["printer-1"], "printer-1")
    good = telemetry(1)
    send(own, "mf/north/printer-1/telemetry", good)
    send(own, "mf/north/printer-1/telemetry", good)  # a duplicate (a spool replay)
    send(own, "mf/north/printer-1/telemetry", b'{"v":1,"machine":"printer-1","ts":')  # truncated JSON
    send(own, "mf/north/printer-1/telemetry", b"\xff\xfe not json")
    send(own, "mf/north/printer-1/telemetry", telemetry(2, "printer-2"))  # spoofed payload, own topic
    send(own, "mf/north/printer-1/telemetry", telemetry(3, at=now() + timedelta(minutes=10)))
    send(own, "mf/north/printer-1/state", json.dumps({"v": 1, "machine": "printer-1", "ts": format_ts(now()),
                                                       "seq": 4, "state": "exploded"}).encode())
    send(tester, "mf/north/ghost-9/telemetry", telemetry(5, "ghost-9"))
    send(tester, "mf/south/printer-1/telemetry", telemetry(6))
    last = telemetry(7)
    send(own, "mf/north/printer-1/telemetry", last)
    eventually(lambda: plant.samples() == 2, what="the two good samples")
    eventually(lambda: sum(plant.workers[0].batcher.gate.dropped.values()) == 8, what="eight drops counted")
    assert dict(plant.workers[0].batcher.gate.dropped) == {
        "duplicate": 1, "json": 2, "spoofed": 1, "future": 1, "schema": 1, "unknown_machine": 1, "wrong_site": 1}
    text = plant.metrics_text()
    assert 'factory_ingest_messages_accepted_total{worker="w1"} 2' in text
    for reason, count in {"json": 2, "spoofed": 1, "future": 1, "unknown_machine": 1, "duplicate": 1}.items():
        assert f'factory_ingest_messages_dropped_total{{worker="w1",reason="{reason}"}} {count}' in text
    assert plant.machine()["state"] == "offline", "the invalid state message changed nothing"


def test_commands_and_their_answers_on_mf_are_passed_over_not_counted_as_drops(plant):
    worker = plant.ingest()
    own = plant.client("printer-1", plant.passwords["printer-1"], "printer-1")
    service = plant.client("factory", SERVICE_PASSWORD, "console")
    command(service, "home")
    send(own, "mf/north/printer-1/cmd/ack", json.dumps(
        {"v": 1, "machine": "printer-1", "ts": format_ts(now()), "id": "c-1", "ok": True, "detail": ""}).encode())
    eventually(lambda: sum(worker.batcher.gate.ignored.values()) == 2, what="command and answer seen")
    assert sum(worker.batcher.gate.dropped.values()) == 0
    assert 'factory_ingest_messages_ignored_total{worker="w1",channel="cmd"} 1' in plant.metrics_text()


def test_a_state_message_drives_availability_both_ways(plant):
    plant.ingest()
    own = plant.client("printer-1", plant.passwords["printer-1"], "printer-1")
    for seq, state in enumerate([MachineState.IDLE, MachineState.FAULT, MachineState.IDLE], start=1):
        send(own, "mf/north/printer-1/state", encode(StateMessage("printer-1", now(), seq, state)))
        eventually(lambda s=state: plant.machine()["state"] == s.value, what=f"state {state}")
        assert plant.machine()["available"] is (state is MachineState.IDLE)
    with plant.sessions() as session:
        assert session.get(Machine, "printer-1").state == "idle"


# --- several workers ------------------------------------------------------------------------------------


def test_two_ingest_workers_split_the_stream_and_store_each_message_once(plant_on_both):
    plant = plant_on_both
    first, second = plant.ingest("w1", shared=True), plant.ingest("w2", shared=True)
    publishers = [plant.client(m, plant.passwords[m], f"pub-{m}") for m in ("printer-1", "printer-2")]
    count = 300
    for seq in range(count):
        for publisher, machine in zip(publishers, ("printer-1", "printer-2"), strict=True):
            publisher.publish(f"mf/north/{machine}/telemetry", telemetry(seq, machine))
    for publisher in publishers:
        assert publisher.flush(WAIT)
    eventually(lambda: plant.samples("printer-1") + plant.samples("printer-2") == 2 * count, what="all stored")
    time.sleep(0.5)  # a duplicate delivery, were there one, would have arrived by now
    assert plant.samples("printer-1") == plant.samples("printer-2") == count
    accepted = first.batcher.gate.accepted, second.batcher.gate.accepted
    assert sum(accepted) == 2 * count
    assert min(accepted) > 0, f"one worker took everything: {accepted}"
