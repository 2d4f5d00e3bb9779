"""The parts of a telemetry test with real components, started on demand and stopped at teardown: a
database with registered machines and their broker logins, Mosquitto with the factory's password and ACL
text (plus a `tester` login that may publish anywhere under mf/, standing in for a misbehaving or
unregistered device), ingest workers, simulated firmware, bridges, MQTT clients, and the JSON API.

Test modules make their fixture with `yield from running_plant(url, mosquitto_factory, tmp_path)`.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, select

import factory.db
from drivers.messages import (
    COMMAND_EXPIRY_S,
    CommandMessage,
    TelemetryMessage,
    encode,
    last_will,
)
from drivers.mqtt import ClientOptions, MqttClient
from drivers.simulators.grbl_sim import GrblSimulator
from drivers.simulators.kiln_sim import KilnSimulator
from drivers.simulators.marlin_sim import MarlinSimulator
from factory.app import EXTENSION, create_app
from factory.broker.config import acl_text, passwd_text
from factory.broker.passwords import hash_password
from factory.domain.capabilities import Capabilities
from factory.ingest.worker import IngestWorker, WorkerOptions
from factory.models import MachineEvent, TelemetrySample
from factory.services.machine_credentials import issue_machine_password, machine_accounts
from factory.settings import Settings
from firmware_bridge import cli as bridge_cli
from tests.integration.conftest import api_token, make_commune_with_site, make_machine, make_user
from tests.support.mosquitto import Inbox, MosquittoBroker
from tests.support.waits import eventually as wait_for

MACHINES = ("printer-1", "printer-2", "mill-1", "kiln-1")
SERVICE_PASSWORD = "service-secret"
TESTER_PASSWORD = "tester-secret"
WAIT = 20.0


def eventually(condition: Callable[[], object], timeout: float = WAIT, what: str = "condition") -> object:
    return wait_for(condition, timeout, what)


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


def acknowledgement(acks: Inbox, command_id: str) -> dict:
    assert acks.wait_for(lambda ms: any(json.loads(m.payload)["id"] == command_id for m in ms), WAIT), "no ack"
    return next(json.loads(m.payload) for m in acks.messages if json.loads(m.payload)["id"] == command_id)


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




def running_plant(db_url: str, mosquitto_factory, tmp_path):
    plant = Plant(db_url, mosquitto_factory, tmp_path)
    yield plant
    plant.close()
