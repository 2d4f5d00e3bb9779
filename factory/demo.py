"""`factory demo-machines`: the broker, the ingest, the planner and three simulated machines beside the web app
(`make demo`).

Each demo machine of the seeded commune gets fresh broker credentials; then, as child processes:
`factory broker`, `factory ingest`, `factory planner` (re-plans on every change, sends dispatched starts), a
Marlin printer and a GRBL mill simulated on pseudo-terminals, each
joined to the broker by a real `firmware-bridge`, and a kiln that speaks MQTT itself. A director on the
factory's service account starts a print on the printer and a firing on the kiln whenever one has stood
idle for `rest_s`; the mill repeats its built-in job. Nothing is restarted: a child that exits is logged
with its exit code and log file. When `stop` is set, the machines stop first and the broker last.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from drivers.broker_url import BrokerAddress
from drivers.messages import COMMAND_EXPIRY_S, Channel, Command, CommandMessage, MessageError, decode, encode, topic
from drivers.mqtt import InboundMessage, MqttClient
from drivers.states import MachineState
from factory.broker.runner import accepts_connections, folder_closed_to_broker, wait_for_listener
from factory.broker.service_account import service_address
from factory.domain.errors import NotFound
from factory.services.machine_credentials import issue_machine_password
from factory.services.machines import get_machine
from factory.settings import Settings

logger = logging.getLogger(__name__)

RETRY_S = 30.0  # a start_job the machine did not act on is sent again after this long


class DemoError(Exception):
    """The demo cannot start; the message says what to do."""


@dataclass(frozen=True)
class DemoMachine:
    """A seeded machine and its simulator (`python -m` arguments). `serial` names the firmware protocol
    its bridge speaks, None for a machine on MQTT itself; `start_job` the arguments of the command the
    director sends when the machine is idle, None when the simulator runs its own jobs."""

    machine_id: str
    simulator: tuple[str, ...]
    serial: str | None = None
    start_job: Mapping[str, str] | None = None


DEMO_MACHINES = (
    DemoMachine("prusa-mk4-1", ("drivers.simulators.marlin_sim", "--print-seconds", "60", "--print-temps", "215/60",
                                 "--sd-file", "bottle-cage-riser.gco", "--sd-file", "spur-gear-m1-36.gco"),
                serial="marlin", start_job={"file": "benchy.gco"}),  # the files a dispatched design prints
    DemoMachine("tormach-1100", ("drivers.simulators.grbl_sim", "--job", "--job-rest", "20", "--speed", "0.25"),
                serial="grbl"),
    DemoMachine("skutt-1027", ("drivers.simulators.kiln_sim", "--interval", "1", "--speed", "300"),
                start_job={"schedule": "glaze"}),
)


@dataclass(frozen=True)
class Login:
    """A demo machine with its site and the broker password just issued to it."""

    machine: DemoMachine
    site: str
    password: str

    def url(self, broker: BrokerAddress) -> str:
        return BrokerAddress(broker.host, broker.port, self.machine.machine_id, self.password, broker.tls,
                             broker.ca_file).url(with_password=True)


@dataclass(frozen=True)
class Child:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)  # on top of the supervisor's; secrets go here, not argv


def issue_logins(session: Session, machines: Sequence[DemoMachine] = DEMO_MACHINES) -> list[Login]:
    """Rotate each demo machine's broker password; DemoError, rotating none, when one is not registered."""
    try:
        sites = [get_machine(session, machine.machine_id).site.slug for machine in machines]
    except NotFound as exc:
        raise DemoError(f"{exc.message}: load the demo commune first (factory seed-demo)") from exc
    return [Login(machine, site, issue_machine_password(session, machine.machine_id))
            for machine, site in zip(machines, sites, strict=True)]


def broker_directory(instance_dir: Path) -> Path:
    """`<instance>/broker`, unless the `mosquitto` user a root-run broker drops to cannot reach it (a
    checkout under /root): then a folder of this instance's own under the system's temporary folder."""
    preferred = instance_dir / "broker"
    closed = folder_closed_to_broker(preferred)
    if closed is None:
        return preferred
    tag = hashlib.sha256(bytes(instance_dir)).hexdigest()[:12]
    fallback = Path(tempfile.gettempdir()) / f"microfactory-broker-{tag}"
    logger.warning("the broker's user cannot enter %s: its files go to %s instead", closed, fallback)
    return fallback


def children(logins: Sequence[Login], broker: BrokerAddress, work_dir: Path, broker_dir: Path, *,
             python: str = sys.executable) -> list[Child]:
    """What to start, in order: the broker first (stopped last), then the ingest and the planner, then each
    machine."""
    made = [Child("broker", (python, "-m", "factory", "broker", "--dir", str(broker_dir))),
            Child("ingest", (python, "-m", "factory", "ingest", "--name", "demo")),
            Child("planner", (python, "-m", "factory", "planner"))]
    for login in logins:
        machine, where = login.machine, ("--site", login.site, "--machine", login.machine.machine_id)
        if machine.serial is None:
            made.append(Child(machine.machine_id, (python, "-m", *machine.simulator, "--broker", login.url(broker),
                                                   *where)))
            continue
        tty = str(work_dir / f"{machine.machine_id}.tty")
        made.append(Child(f"{machine.machine_id}-firmware", (python, "-m", *machine.simulator, "--link", tty)))
        made.append(Child(f"{machine.machine_id}-bridge", (
            python, "-m", "firmware_bridge.cli", "--serial", tty, "--protocol", machine.serial, *where,
            "--spool", str(work_dir / "spool" / machine.machine_id), "--interval", "1"),
            {"FIRMWARE_BRIDGE_BROKER": login.url(broker)}))  # firmware-bridge's own variable
    return made


class Supervisor:
    """Child processes, each in its own process group with its output in `log_dir/NAME.log`."""

    def __init__(self, log_dir: Path, env: Mapping[str, str]) -> None:
        self.log_dir, self.env = log_dir, dict(env)
        self.started: list[tuple[Child, subprocess.Popen]] = []
        self._reported: set[int] = set()

    def log_file(self, child: Child) -> Path:
        return self.log_dir / f"{child.name}.log"

    def start(self, child: Child) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file(child), "wb") as log:
            process = subprocess.Popen(child.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                       env={**self.env, **child.env}, process_group=0)  # Ctrl-C reaches us
        self.started.append((child, process))
        logger.info("started %s (pid %d), log in %s", child.name, process.pid, self.log_file(child))
        return process

    def check(self) -> list[Child]:
        """Children that exited since the last check, each logged with its exit code; none is restarted."""
        exited = []
        for child, process in self.started:
            if process.poll() is not None and process.pid not in self._reported:
                self._reported.add(process.pid)
                exited.append(child)
                logger.error("%s exited with code %d and is not restarted; see %s", child.name, process.returncode,
                             self.log_file(child))
        return exited

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM each child, last started first, and wait for it; SIGKILL the process group of one that
        does not stop in time (with `factory broker`, its mosquitto too), and of each, whatever it left."""
        for child, process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    logger.warning("%s did not stop within %g s: killed", child.name, timeout_s)
                    _kill_group(process.pid)
                    process.wait()
                logger.info("stopped %s (exit code %d)", child.name, process.returncode)
            _kill_group(process.pid)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


class Director:
    """Sends `start_job` to each demo machine that takes one once it has stood idle `rest_s` seconds."""

    def __init__(self, client: MqttClient, logins: Sequence[Login], rest_s: float, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.rest_s, self.clock = client, rest_s, clock
        self.logins = {login.machine.machine_id: login for login in logins if login.machine.start_job is not None}
        self._idle_since: dict[str, float] = {}
        self._asked_at: dict[str, float] = {}
        self._jobs = itertools.count(1)
        self._lock = threading.Lock()
        for login in self.logins.values():
            client.subscribe(topic(login.site, login.machine.machine_id, Channel.STATE), self._on_state)

    def _on_state(self, message: InboundMessage) -> None:
        try:
            state = decode(Channel.STATE, message.payload)
        except MessageError as exc:
            logger.warning("state on %s dropped: %s", message.topic, exc)
            return
        with self._lock:
            if state.state is MachineState.IDLE:
                self._idle_since.setdefault(state.machine, self.clock())
            else:
                self._idle_since.pop(state.machine, None)

    def due(self, now: float) -> list[Login]:
        with self._lock:
            return [login for machine_id, login in self.logins.items()
                    if now - self._idle_since.get(machine_id, math.inf) >= self.rest_s
                    and now - self._asked_at.get(machine_id, -math.inf) >= RETRY_S]

    def tick(self) -> None:
        now = self.clock()
        for login in self.due(now):
            machine = login.machine
            command = CommandMessage(uuid.uuid4().hex, Command.START_JOB, f"demo-{next(self._jobs)}",
                                     dict(machine.start_job or {}))
            self.client.publish(topic(login.site, machine.machine_id, Channel.CMD), encode(command),
                                expiry_s=COMMAND_EXPIRY_S)
            self._asked_at[machine.machine_id] = now
            logger.info("asked %s to start job %s %s", machine.machine_id, command.job, dict(command.args))


def child_env(settings: Settings) -> dict[str, str]:
    """The children read the same settings as this process, and write their logs unbuffered."""
    return {**os.environ, "FACTORY_INSTANCE_DIR": str(settings.instance_dir),
            "FACTORY_DATABASE_URL": settings.database_url, "FACTORY_MQTT_URL": settings.mqtt_url,
            "PYTHONUNBUFFERED": "1"}


def run(settings: Settings, sessions: sessionmaker[Session], broker: BrokerAddress, stop: threading.Event, *,
        rest_s: float = 20.0, machines: Sequence[DemoMachine] = DEMO_MACHINES) -> None:
    """Start everything, watch it until `stop` is set, then stop it all."""
    if accepts_connections(broker.host, broker.port):
        raise DemoError(f"something listens on {broker.host}:{broker.port} already (a system Mosquitto, or an "
                        "earlier demo?): stop it, or point FACTORY_MQTT_URL at a free port")
    with sessions() as session:
        logins = issue_logins(session, machines)
    work_dir = settings.instance_dir / "demo"
    supervisor = Supervisor(work_dir / "logs", child_env(settings))
    director = Director(MqttClient(service_address(settings.mqtt_url, settings.instance_dir), "factory-demo-director"),
                        logins, rest_s)
    broker_child, *others = children(logins, broker, work_dir, broker_directory(settings.instance_dir))
    try:
        try:
            wait_for_listener(broker.host, broker.port, process=supervisor.start(broker_child))
        except RuntimeError as exc:
            raise DemoError(f"the broker {exc}; see {supervisor.log_file(broker_child)}") from exc
        for child in others:
            supervisor.start(child)
        director.client.start()
        while not stop.wait(1.0):
            supervisor.check()
            director.tick()
    finally:
        director.client.stop()
        supervisor.stop()
