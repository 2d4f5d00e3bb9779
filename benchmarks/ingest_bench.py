"""Telemetry ingest throughput: one `IngestWorker` persisting beside a bare `mosquitto_sub`, same publisher, one run.

`python -m benchmarks.ingest_bench [--messages N] [--rate R] [--out docs/benchmarks.md]`. A throwaway Mosquitto
with the factory's own config, password file and ACL (20 registered machines, each publishing with its own
account); a publisher in a separate process sends N telemetry messages (QoS 1, `ts` now, increasing `seq`) as
fast as the broker takes them. The consumers take turns on `$share/ingest/mf/#`, each round on a fresh broker:
a bare `mosquitto_sub -q 1`, a `drivers.mqtt.MqttClient` (paho) that only acknowledges, the
`drivers.mqtt_subscriber.BulkSubscriber` the worker uses, acknowledging each batch at once (the worker's MQTT
side alone), and one `IngestWorker` storing into a fresh copy of the database. Then a paced run at R messages/s
checks that nothing is lost at the target rate. SQLite always, PostgreSQL when a throwaway cluster can be started here.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import multiprocessing
import os
import platform
import resource
import selectors
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import text

from drivers.messages import Channel, decode, format_ts, topic
from drivers.mqtt import ClientOptions, MqttClient
from drivers.mqtt_subscriber import BulkSubscriber, SubscriberOptions
from drivers.mqtt_wire import varint
from factory import db as database
from factory.broker.config import SERVICE_USERNAME, BrokerLimits, acl_text, passwd_text
from factory.broker.passwords import hash_password, new_password
from factory.domain.capabilities import Capabilities
from factory.domain.opening_hours import parse_day
from factory.ingest.worker import SUBSCRIPTION, IngestWorker, WorkerOptions
from factory.services.machine_credentials import issue_machine_password, machine_accounts
from factory.services.machines import MachineDraft, create_machine
from factory.services.sites import SiteDraft, create_site, ensure_commune
from factory.services.telemetry import sample_count
from tests.support.mosquitto import HOST, MosquittoBroker, mosquitto_available
from tests.support.postgres import PostgresServer, postgres_available

SECTION = "## Telemetry ingest"
MACHINES = 20
SITES = ("north", "south")
MESSAGES = 30_000
REPEATS = 3
TARGET_RATE = 10_000
PACED_S = 8
STALL_S = 20.0  # a round gives up when nothing more arrives for this long
LIMITS = BrokerLimits()  # the broker limits the factory runs with (max_inflight_messages 100)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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


# --- the publisher (its own process, so it does not share the ingest's interpreter lock) -----------------------

_METRICS = {
    "fdm_printer": '"hotend_c":{a:.1f},"bed_c":{b:.1f},"x_mm":{x:.2f},"y_mm":{y:.2f},"z_mm":{z:.2f},'
                   '"feed_mm_min":{f:.0f}',
    "cnc_mill": '"spindle_rpm":{r:.0f},"feed_mm_min":{f:.0f},"x_mm":{x:.2f},"y_mm":{y:.2f},"z_mm":{z:.2f},'
                '"power_w":{p:.0f}',
    "kiln": '"chamber_c":{c:.1f},"power_w":{p:.0f}',
}


def payload(machine: Machine, seq: int, ts: str) -> bytes:
    """A telemetry message as a bridge sends it (DESIGN.md 4.1), with readings that move with `seq`."""
    wave = (seq % 200) / 200
    metrics = _METRICS[machine.kind].format(a=209.5 + wave, b=60.0 + wave / 2, x=(seq * 1.7) % 250,
                                            y=(seq * 2.3) % 210, z=(seq // 400) * 0.2 % 220, f=1800 + seq % 600,
                                            r=12000 + seq % 50, p=850 + seq % 40, c=980 + wave * 3)
    return (f'{{"v":1,"machine":"{machine.id}","ts":"{ts}","seq":{seq},"metrics":{{{metrics}}}}}').encode()


# A minimal MQTT 5 publisher, one connection per machine, all driven from one thread: CONNECT with the machine's
# account, then QoS 1 PUBLISH packets, as many in flight as the broker's Receive Maximum allows. Twenty threaded
# paho clients in one process cost about 0.4 ms of CPU per message and were the bottleneck of the first version.

_PROPERTY_SIZES = {**dict.fromkeys((0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A), 1),
                   **dict.fromkeys((0x13, 0x21, 0x22, 0x23), 2), **dict.fromkeys((0x02, 0x11, 0x18, 0x27), 4)}
_STRING_PROPERTIES = {0x03, 0x08, 0x09, 0x12, 0x15, 0x16, 0x1A, 0x1C, 0x1F}
RECEIVE_MAXIMUM = 0x21


def _readvarint(data, at: int) -> tuple[int, int] | None:
    """(value, next offset), or None when `data` ends inside the number."""
    value, shift = 0, 0
    while at < len(data):
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if not byte & 0x80:
            return value, at
    return None


def _text(value: str) -> bytes:
    raw = value.encode()
    return len(raw).to_bytes(2, "big") + raw


def _properties(data: bytes) -> dict[int, int | bytes]:
    """A CONNACK's properties: numbers as ints, strings and binaries as bytes (user properties skipped)."""
    length, at = _readvarint(data, 0)
    found, end = {}, at + length
    while at < end:
        ident, at = _readvarint(data, at)
        if ident in _PROPERTY_SIZES:
            size = _PROPERTY_SIZES[ident]
            found[ident], at = int.from_bytes(data[at:at + size], "big"), at + size
        elif ident == 0x0B:
            found[ident], at = _readvarint(data, at)
        elif ident in _STRING_PROPERTIES:
            size = int.from_bytes(data[at:at + 2], "big")
            found[ident], at = data[at + 2:at + 2 + size], at + 2 + size
        elif ident == 0x26:
            for _ in range(2):
                at += 2 + int.from_bytes(data[at:at + 2], "big")
        else:
            raise RuntimeError(f"unknown MQTT property {ident:#x} in CONNACK")
    return found


class MachineLink:
    """One machine's connection to the broker, publishing its telemetry at QoS 1."""

    def __init__(self, machine: Machine, port: int) -> None:
        self.machine = machine
        self.topic = _text(topic(machine.site, machine.id, Channel.TELEMETRY))
        self.sock = socket.create_connection((HOST, port), timeout=10)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.out, self.incoming = bytearray(), bytearray()
        self.sent = self.inflight = 0
        self.next_id = 1
        self.limit = self._connect()
        self.sock.setblocking(False)

    def _connect(self) -> int:
        body = (_text("MQTT") + bytes([5, 0xC2]) + (300).to_bytes(2, "big") + b"\x00"  # user, password, clean start
                + _text(f"bench-{self.machine.id}") + _text(self.machine.id) + _text(self.machine.password))
        self.sock.sendall(b"\x10" + varint(len(body)) + body)
        data = bytearray()
        while (packet := self._packet(data)) is None:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError(f"broker closed the connection of {self.machine.id}")
            data += chunk
        kind, payload = packet
        if kind != 0x20 or payload[1] != 0:
            raise RuntimeError(f"broker refused {self.machine.id}: packet {kind:#x}, reason {payload[1]}")
        return int(_properties(bytes(payload[2:])).get(RECEIVE_MAXIMUM, 65_535))

    @staticmethod
    def _packet(data: bytearray) -> tuple[int, bytes] | None:
        """Take one whole packet (type byte, body) off the front of `data`, if there is one."""
        header = _readvarint(data, 1) if data else None
        if header is None or len(data) < header[1] + header[0]:
            return None
        length, start = header
        kind, body = data[0] & 0xF0, bytes(data[start:start + length])
        del data[:start + length]
        return kind, body

    def queue(self, payload: bytes) -> None:
        body = self.topic + self.next_id.to_bytes(2, "big") + b"\x00" + payload
        self.out += b"\x32" + varint(len(body)) + body
        self.next_id = self.next_id % 65_535 + 1
        self.sent += 1
        self.inflight += 1

    def flush(self) -> None:
        if self.out:
            try:
                sent = self.sock.send(self.out)
            except BlockingIOError:
                return
            del self.out[:sent]

    def receive(self, tally: dict[str, int]) -> None:
        """Read what arrived and count the PUBACKs by outcome."""
        try:
            chunk = self.sock.recv(65_536)
        except BlockingIOError:
            return
        if not chunk:
            raise RuntimeError(f"broker closed the connection of {self.machine.id}")
        self.incoming += chunk
        while (packet := self._packet(self.incoming)) is not None:
            kind, body = packet
            if kind == 0x40:
                reason = body[2] if len(body) > 2 else 0
                self.inflight -= 1
                tally["ok" if reason < 0x80 else "refused"] += 1
                tally["no_subscribers"] += reason == 0x10
            elif kind == 0xE0:
                raise RuntimeError(f"broker disconnected {self.machine.id}, reason {body[0] if body else 0}")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.setblocking(True)
            self.sock.sendall(b"\xe0\x00")
        self.sock.close()


def publish(port: int, machines: tuple[Machine, ...], count: int, rate: float | None, pipe) -> None:
    """Connect every machine, wait for "go", publish `count` messages round-robin over the machines, report."""
    try:
        links = [MachineLink(machine, port) for machine in machines]
    except (OSError, RuntimeError) as exc:
        pipe.send(f"not connected: {exc}")
        return
    selector = selectors.DefaultSelector()
    for link in links:
        selector.register(link.sock, selectors.EVENT_READ, link)
    pipe.send("ready")
    pipe.recv()
    tally = {"ok": 0, "no_subscribers": 0, "refused": 0, "failed": 0}
    cpu_before, ms, ts, last, deadline = own_cpu(), -1, "", 0.0, 0.0
    first, started, size = time.time(), time.perf_counter(), len(links)
    while True:
        elapsed = time.perf_counter() - started
        due = count if not rate else min(count, int(elapsed * rate) + 1)
        for k, link in enumerate(links):
            wanted = (due - k + size - 1) // size  # how many of machine k's messages are due by now
            while link.sent < wanted and link.inflight < link.limit:
                now = time.time()
                if int(now * 1000) != ms:
                    ms, ts = int(now * 1000), format_ts(datetime.fromtimestamp(now, UTC))
                link.queue(payload(link.machine, link.sent + 1, ts))
            link.flush()
        waiting = sum(link.inflight for link in links)
        if not last and sum(link.sent for link in links) == count:
            last, deadline = time.time(), time.monotonic() + 60
        if last and not waiting:
            break
        if last and time.monotonic() > deadline:
            tally["failed"] += waiting
            break
        pending = any(link.out for link in links)
        timeout = 0 if pending else 0.001 if rate and due < count else 0.1
        for key, _ in selector.select(timeout):
            key.data.receive(tally)
    acked = time.time()
    pipe.send({"first": first, "last": last, "acked": acked, "cpu_s": own_cpu() - cpu_before, **tally})
    for link in links:
        link.close()


class Publisher:
    """The publisher process: `start()` returns once every client is connected, `go()` sets it off."""

    def __init__(self, port: int, fleet: Fleet, count: int, rate: float | None) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.process = context.Process(target=publish, args=(port, fleet.machines, count, rate, child), daemon=True)

    def start(self) -> Publisher:
        self.process.start()
        if not self.pipe.poll(60) or self.pipe.recv() != "ready":
            self.stop()
            raise RuntimeError("the publisher's clients could not connect to the broker")
        return self

    def go(self) -> None:
        self.pipe.send("go")

    def result(self, timeout: float) -> dict | None:
        return self.pipe.recv() if self.pipe.poll(timeout) else None

    def stop(self) -> None:
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)


# --- rounds: one publisher run into one consumer, on a fresh broker ---------------------------------------------

@dataclass
class Round:
    consumer: str
    published: int = 0  # answered PUBACK "success" by the broker
    received: int = 0  # lines printed, messages handled, or rows stored
    first_publish: float = 0.0
    last_publish: float = 0.0
    last_arrival: float = 0.0  # last line printed, message handled, or commit
    publisher: dict = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # part -> CPU seconds during the round
    dropped: dict[str, int] = field(default_factory=dict)
    max_lag_s: float = 0.0

    @property
    def rate(self) -> float:
        """Messages per second from the first publish to the last arrival."""
        span = self.last_arrival - self.first_publish
        return self.received / span if span > 0 else 0.0

    @property
    def publish_rate(self) -> float:
        span = self.last_publish - self.first_publish
        return self.published / span if span > 0 else 0.0

    @property
    def lost(self) -> int:
        return self.published - self.received

    @property
    def drain_s(self) -> float:
        """How long after the last publish the last message arrived."""
        return max(0.0, self.last_arrival - self.last_publish)

    def cpu_us(self, part: str) -> float | None:
        seconds = self.cpu.get(part)
        return None if seconds is None or not self.received else seconds / self.received * 1e6


class BareSubscriber:
    """`mosquitto_sub -q 1` on the ingest's shared subscription, printing a timestamp and topic per message."""

    name = "mosquitto_sub"

    def __init__(self, fleet: Fleet, workdir: Path, number: int) -> None:
        self.fleet, self.number = fleet, number
        self.out = workdir / f"mosquitto_sub-{number}.txt"
        self.process: subprocess.Popen | None = None
        self._seen, self._reader = 0, None
        self.usage = None

    def start(self, broker: MosquittoBroker) -> None:
        with open(self.out, "wb") as sink:
            self.process = subprocess.Popen(
                ["mosquitto_sub", "-h", HOST, "-p", str(broker.port), "-u", SERVICE_USERNAME,
                 "-P", self.fleet.service_password, "-i", f"bench-sub-{self.number}", "-q", "1",
                 "-t", SUBSCRIPTION, "-F", "%U %t"], stdout=sink, stderr=subprocess.DEVNULL)
        self._probe_until_subscribed(broker)
        self._reader = open(self.out, "rb")  # noqa: SIM115 - read as it grows, closed in stop()

    def _probe_until_subscribed(self, broker: MosquittoBroker) -> None:
        """mosquitto_sub says nothing once subscribed: send probes (a `cmd`, which the service account may
        publish) until one is printed, then let stragglers land before the publisher starts."""
        machine = self.fleet.machines[0]
        probe = MqttClient(broker.address(SERVICE_USERNAME, self.fleet.service_password), "bench-probe").start()
        try:
            deadline = time.monotonic() + 15
            while self.out.stat().st_size == 0:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"mosquitto_sub printed nothing:\n{broker.log_tail()}")
                probe.publish(topic(machine.site, machine.id, Channel.CMD), b"{}").wait(1)
                time.sleep(0.1)
        finally:
            probe.stop()
        time.sleep(0.3)

    def begin(self) -> None:
        pass

    def progress(self) -> int:
        self._seen += self._reader.read().count(b"/telemetry\n")
        return self._seen

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            _, _, self.usage = os.wait4(self.process.pid, 0)
            self.process.returncode = 0
        if self._reader is not None:
            self._reader.close()

    def report(self, run: Round) -> None:
        stamps = [float(line.split(b" ", 1)[0]) for line in self.out.read_bytes().splitlines()
                  if line.endswith(b"/telemetry")]
        run.received, run.last_arrival = len(stamps), max(stamps, default=0.0)
        if self.usage is not None:
            run.cpu["consumer"] = self.usage.ru_utime + self.usage.ru_stime

    def cleanup(self) -> None:
        self.out.unlink(missing_ok=True)


class ClientSubscriber:
    """`drivers.mqtt.MqttClient` as the worker configures it, with a handler that only acknowledges."""

    name = "MqttClient"

    def __init__(self, fleet: Fleet, number: int) -> None:
        self.fleet, self.number = fleet, number
        self.count, self.last = 0, 0.0
        self.client: MqttClient | None = None
        self._cpu = 0.0

    def _handle(self, message) -> None:  # the network thread only: no lock needed
        message.ack()
        self.count += 1
        self.last = time.time()

    def start(self, broker: MosquittoBroker) -> None:
        self.client = MqttClient(broker.address(SERVICE_USERNAME, self.fleet.service_password),
                                 f"bench-client-{self.number}", options=WORKER_CLIENT)
        self.client.subscribe(SUBSCRIPTION, self._handle)
        self.client.start()
        if not self.client.ready.wait(15):
            raise RuntimeError(f"MqttClient did not subscribe:\n{broker.log_tail()}")

    def begin(self) -> None:
        self._cpu = own_cpu()

    def progress(self) -> int:
        return self.count

    def stop(self) -> None:
        self._cpu = own_cpu() - self._cpu
        if self.client is not None:
            self.client.stop()

    def report(self, run: Round) -> None:
        run.received, run.last_arrival, run.cpu["consumer"] = self.count, self.last, self._cpu

    def cleanup(self) -> None:
        pass


# paho with the options the worker gave it before it had its own subscriber.
WORKER_CLIENT = ClientOptions(max_inflight=2000, session_expiry_s=7 * 86_400, manual_ack=True)


class BulkConsumer:
    """`drivers.mqtt_subscriber.BulkSubscriber` as the worker configures it, acknowledging each batch at once."""

    name = "BulkSubscriber"

    def __init__(self, fleet: Fleet, number: int) -> None:
        self.fleet, self.number = fleet, number
        self.count, self.last = 0, 0.0
        self.client: BulkSubscriber | None = None
        self._cpu = 0.0

    def _handle(self, batch) -> None:  # the network thread only: no lock needed
        self.client.ack([delivery.token for delivery in batch])
        self.count += len(batch)
        self.last = time.time()

    def start(self, broker: MosquittoBroker) -> None:
        self.client = BulkSubscriber(broker.address(SERVICE_USERNAME, self.fleet.service_password),
                                     f"bench-bulk-{self.number}", SUBSCRIPTION, self._handle,
                                     SubscriberOptions(receive_maximum=WorkerOptions().max_inflight))
        self.client.start()
        if not self.client.ready.wait(15):
            raise RuntimeError(f"BulkSubscriber did not subscribe:\n{broker.log_tail()}")

    def begin(self) -> None:
        self._cpu = own_cpu()

    def progress(self) -> int:
        return self.count

    def stop(self) -> None:
        self._cpu = own_cpu() - self._cpu
        if self.client is not None:
            self.client.stop()

    def report(self, run: Round) -> None:
        run.received, run.last_arrival, run.cpu["consumer"] = self.count, self.last, self._cpu

    def cleanup(self) -> None:
        pass


class TimedWorker(IngestWorker):
    """The ingest worker as it is, noting when each step that took messages had committed them."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.last_commit = 0.0
        self.max_lag_s = 0.0
        self.failure: BaseException | None = None

    def step(self) -> None:
        accepted = self.batcher.gate.accepted
        super().step()
        if self.batcher.gate.accepted != accepted:
            self.last_commit = time.time()
            self.max_lag_s = max(self.max_lag_s, self.batcher.lag_s)

    def processed(self) -> int:
        gate = self.batcher.gate
        return gate.accepted + sum(gate.dropped.values()) + sum(getattr(gate, "ignored", {}).values())

    def run_catching(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # reported by the round, not lost in a thread
            self.failure = exc


class IngestConsumer:
    """One IngestWorker in this process (its MQTT thread receives, its own thread stores) on a fresh database."""

    name = "ingest"

    def __init__(self, databases, number: int) -> None:
        self.databases, self.number = databases, number
        self.url = databases.fresh()
        self.engine = database.make_engine(self.url)
        self.sessions = database.make_sessionmaker(self.engine)
        self.worker: TimedWorker | None = None
        self.thread: threading.Thread | None = None
        self._cpu, self._server_cpu, self._server_pids = 0.0, {}, []

    def start(self, broker: MosquittoBroker) -> None:
        fleet = self.databases.fleet
        self.worker = TimedWorker(self.sessions, broker.address(SERVICE_USERNAME, fleet.service_password),
                                  WorkerOptions(name=f"bench-{self.number}"))
        self.thread = threading.Thread(target=self.worker.run_catching, name="ingest-worker")
        self.thread.start()
        if not self.worker.client.ready.wait(15):
            raise RuntimeError(f"the ingest worker did not subscribe:\n{broker.log_tail()}")

    def begin(self) -> None:
        self._server_pids = self.databases.server_pids()
        self._cpu, self._server_cpu = own_cpu(), cpu_of(self._server_pids)

    def progress(self) -> int:
        if self.worker.failure is not None:
            raise RuntimeError("the ingest worker failed") from self.worker.failure
        return self.worker.processed()

    def stop(self) -> None:
        self._cpu = own_cpu() - self._cpu
        if self._server_pids:
            self._server_cpu = cpu_since(self._server_cpu, self.databases.server_pids())
        if self.worker is not None:
            self.worker.stop()
            self.thread.join(60)

    def report(self, run: Round) -> None:
        worker = self.worker
        if worker.failure is not None:
            raise RuntimeError("the ingest worker failed") from worker.failure
        run.last_arrival, run.max_lag_s = worker.last_commit, worker.max_lag_s
        run.dropped = {reason: n for reason, n in worker.batcher.gate.dropped.items() if n}
        run.cpu["consumer"] = self._cpu
        if self._server_pids:
            run.cpu["database"] = self._server_cpu
        with self.sessions() as session:
            run.received = sample_count(session)

    def cleanup(self) -> None:
        self.engine.dispose()
        self.databases.drop(self.url)


def run_round(fleet: Fleet, consumer, count: int, rate: float | None) -> Round:
    """A fresh broker; the publisher connects, the consumer subscribes, then `count` messages go through."""
    broker = MosquittoBroker(fleet.passwd, fleet.acl, limits=LIMITS).start()
    run = Round(consumer.name)
    try:
        publisher = Publisher(broker.port, fleet, count, rate).start()
        try:
            consumer.start(broker)
            pids = [broker.process.pid]
            broker_cpu = cpu_of(pids)
            consumer.begin()
            publisher.go()
            result = publisher.result(600)
            if result is None:
                raise RuntimeError("the publisher did not finish")
            run.publisher, run.published = result, result["ok"]
            run.first_publish, run.last_publish = result["first"], result["last"]
            run.cpu["publisher"] = result["cpu_s"]
            seen, moved_at = -1, time.monotonic()
            while (now_seen := consumer.progress()) < run.published:
                if now_seen != seen:
                    seen, moved_at = now_seen, time.monotonic()
                elif time.monotonic() - moved_at > STALL_S:
                    break
                time.sleep(0.02)
            run.cpu["broker"] = cpu_since(broker_cpu, pids)
        finally:
            consumer.stop()
            publisher.stop()
        consumer.report(run)
    finally:
        broker.cleanup()
        consumer.cleanup()
    return run


# --- the whole run -------------------------------------------------------------------------------------------

CONSUMERS = ("mosquitto_sub", "MqttClient", "BulkSubscriber", "ingest")


@dataclass
class Result:
    database: str
    version: str
    flat: list[dict[str, Round]]  # per repetition: consumer -> its round
    paced: dict[str, Round]


def check_payloads(fleet: Fleet) -> None:
    """The publisher's payloads are what the ingest accepts (else the benchmark would measure drops)."""
    for machine in fleet.machines:
        message = decode(Channel.TELEMETRY, payload(machine, 7, format_ts(datetime.now(UTC))))
        if message.machine != machine.id or not message.metrics:
            raise RuntimeError(f"the benchmark's payload for {machine.id} does not decode as intended")


def _consumer(name: str, databases, workdir: Path, number: int):
    if name == "mosquitto_sub":
        return BareSubscriber(databases.fleet, workdir, number)
    if name == "MqttClient":
        return ClientSubscriber(databases.fleet, number)
    if name == "BulkSubscriber":
        return BulkConsumer(databases.fleet, number)
    return IngestConsumer(databases, number)


def _line(databases, label: str, run: Round) -> str:
    extra = f", dropped {run.dropped}" if run.dropped else ""
    return (f"{databases.name} {label} {run.consumer}: {run.received:,}/{run.published:,} in "
            f"{run.last_arrival - run.first_publish:.2f} s = {run.rate:,.0f}/s (published at "
            f"{run.publish_rate:,.0f}/s, drain {run.drain_s:.2f} s){extra}")


def measure(databases, count: int, rate: float, repeats: int, paced_s: float, workdir: Path) -> Result:
    fleet = databases.fleet
    check_payloads(fleet)
    flat, number = [], 0
    for n in range(1, repeats + 1):
        rounds = {}
        for name in CONSUMERS:
            number += 1
            rounds[name] = run_round(fleet, _consumer(name, databases, workdir, number), count, None)
            _say(_line(databases, f"#{n}", rounds[name]))
        flat.append(rounds)
    paced = {}
    if paced_s > 0:
        for name in ("mosquitto_sub", "ingest"):
            number += 1
            paced[name] = run_round(fleet, _consumer(name, databases, workdir, number), int(rate * paced_s), rate)
            _say(_line(databases, f"paced {rate:,.0f}/s", paced[name]) + f", max lag {paced[name].max_lag_s:.2f} s")
    return Result(databases.name, databases.version(), flat, paced)


def calibration() -> str:
    """How fast Python runs here: one payload through json.loads and through the full decode, median µs."""
    machine = Machine("north", "fdm-00", "fdm_printer", "x")
    raw = payload(machine, 7, format_ts(datetime.now(UTC)))
    figures = []
    for action in (lambda: json.loads(raw), lambda: decode(Channel.TELEMETRY, raw)):
        timings = []
        for _ in range(7):
            started = time.perf_counter()
            for _ in range(2000):
                action()
            timings.append((time.perf_counter() - started) / 2000 * 1e6)
        figures.append(statistics.median(timings))
    return f"`json.loads` {figures[0]:.1f} µs, `drivers.messages.decode` {figures[1]:.1f} µs per payload"


# --- the report ----------------------------------------------------------------------------------------------

def machine_line(results: list[Result]) -> str:
    cpuinfo = Path("/proc/cpuinfo")
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")), "?") if cpuinfo.exists() else platform.processor()
    help_text = subprocess.run(["mosquitto_sub", "--help"], capture_output=True, text=True).stdout
    mosquitto = help_text.split("version ", 1)[-1].split(" ", 1)[0] if "version " in help_text else "?"
    return (f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, Mosquitto {mosquitto}, "
            f"paho-mqtt {version('paho-mqtt')}, SQLAlchemy {version('sqlalchemy')}, "
            + ", ".join(r.version for r in results))


def _median(values) -> float:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def _verdict(ok: bool) -> str:
    return "**holds**" if ok else "**fails**"


def _rates(result: Result, consumer: str) -> list[float]:
    return [rounds[consumer].rate for rounds in result.flat]


def targets(results: list[Result], rate: float) -> list[str]:
    lines = []
    for r in results:
        ingest, bare = _median(_rates(r, "ingest")), _median(_rates(r, "mosquitto_sub"))
        runs = [rounds["ingest"] for rounds in r.flat]
        lost = sum(run.lost for run in runs)
        lines.append(f"{r.database}: one ingest worker persists {ingest:,.0f} messages/s (median of {len(runs)} "
                     f"rounds), {ingest / bare:.2f}× what a bare mosquitto_sub receives ({bare:,.0f}/s); "
                     f"at least 10,000/s: {_verdict(ingest >= TARGET_RATE)}. Lost {lost:,} of "
                     f"{sum(run.published for run in runs):,}: {_verdict(lost == 0)}.")
        if "ingest" in r.paced:
            p = r.paced["ingest"]
            kept_up = p.publish_rate >= 0.97 * rate and p.drain_s <= 1.0
            lines.append(f"{r.database}, paced at {rate:,.0f}/s for {p.published / rate:.0f} s (published at "
                         f"{p.publish_rate:,.0f}/s): {p.received:,} of {p.published:,} stored, lost {p.lost:,}: "
                         f"{_verdict(p.lost == 0)}; keeping up (last commit within 1 s of the last publish): "
                         f"{p.drain_s:.1f} s, data up to {p.max_lag_s:.1f} s old when committed: "
                         f"{_verdict(kept_up)}.")
    return lines


def limits(results: list[Result]) -> list[str]:
    """The worker's CPU per message split into its MQTT side (BulkSubscriber alone) and the rest (gate, store)."""
    lines = []
    for r in results:
        def cpu(consumer: str, part: str = "consumer", r: Result = r) -> float:
            return _median(rounds[consumer].cpu_us(part) for rounds in r.flat)

        bare, client = _median(_rates(r, "mosquitto_sub")), _median(_rates(r, "MqttClient"))
        bulk = _median(_rates(r, "BulkSubscriber"))
        ingest_cpu = cpu("ingest") + (cpu("ingest", "database") if r.database == "PostgreSQL" else 0.0)
        lines.append(f"{r.database}: BulkSubscriber alone receives {bulk:,.0f}/s ({bulk / bare:.2f}× mosquitto_sub) "
                     f"at {cpu('BulkSubscriber'):,.0f} µs of CPU per message, against {cpu('mosquitto_sub'):,.0f} µs "
                     f"for mosquitto_sub and {cpu('MqttClient'):,.0f} µs for paho's MqttClient ({client:,.0f}/s); the "
                     f"worker spends {ingest_cpu:,.0f} µs per message (with the database server's share), so "
                     f"receiving and acknowledging is {cpu('BulkSubscriber') / ingest_cpu:.0%} of it, validating and "
                     "storing the rest. The worker's two threads share one interpreter lock, so it can use one core "
                     "at most.")
    return lines


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _n(value: float | None, digits: int = 0) -> str:
    return "–" if value is None or value != value else f"{value:,.{digits}f}"


def _throughput_rows(r: Result, rate: float) -> list[list[str]]:
    rows = []
    for n, rounds in enumerate(r.flat, 1):
        bare, client, bulk, ingest = (rounds[c] for c in CONSUMERS)
        rows.append([r.database, str(n), f"{ingest.published:,}", _n(ingest.publish_rate),
                     _n(bare.rate), _n(client.rate), _n(bulk.rate), _n(ingest.rate), f"{ingest.rate / bare.rate:.2f}",
                     " / ".join(f"{x.lost:,}" for x in (bare, client, bulk, ingest)), f"{ingest.drain_s:.1f}"])
    medians = [_median(_rates(r, c)) for c in CONSUMERS]
    rows.append([f"**{r.database}**", "**median**", "", "", *(f"**{_n(m)}**" for m in medians),
                 f"**{medians[3] / medians[0]:.2f}**", "", ""])
    if r.paced:
        bare, ingest = r.paced.get("mosquitto_sub"), r.paced.get("ingest")
        rows.append([r.database, f"paced {rate:,.0f}/s", f"{ingest.published:,}", _n(ingest.publish_rate),
                     _n(bare.rate), "–", "–", _n(ingest.rate), f"{ingest.rate / bare.rate:.2f}",
                     f"{bare.lost:,} / – / – / {ingest.lost:,}", f"{ingest.drain_s:.1f}"])
    return rows


def _cpu_rows(r: Result) -> list[list[str]]:
    rows = []
    for consumer in CONSUMERS:
        runs = [rounds[consumer] for rounds in r.flat]
        rows.append([r.database, consumer, *(_n(_median(run.cpu_us(part) for run in runs))
                                             for part in ("publisher", "broker", "consumer", "database"))])
    return rows


def render(results: list[Result], rate: float, command: str, minutes: float, skipped: list[str],
           speed: str, load: tuple[float, float]) -> str:
    return "\n".join([
        SECTION, "",
        f"Command: `{command}` ({minutes:.1f} min)  ", f"Machine: {machine_line(results)}  ",
        f"Python speed here: {speed}; load average {load[0]:.2f} before the run, {load[1]:.2f} after  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
        f"A throwaway Mosquitto with the factory's config (`BrokerLimits()`), password file and ACL; {MACHINES} "
        "machines registered through the services, each publishing with its own broker account (a minimal MQTT 5 "
        "client per machine, all in one publisher process, QoS 1, `ts` now, increasing `seq`, 2 to 6 metrics, "
        "about 150 bytes, as fast as the broker acknowledges; twenty threaded paho clients in one process cost "
        "about 0.4 ms of CPU per message here, slower than the worker they were to load). Every round gets a fresh "
        "broker and, for the ingest, a fresh copy of the database, and has one consumer alone on "
        f"`{SUBSCRIPTION}`, the consumers taking turns: "
        "*mosquitto_sub*: `mosquitto_sub -q 1 -F '%U %t'`, one line per message into a file; *MqttClient*: "
        "`drivers.mqtt.MqttClient` (paho, one callback a message) with the options the worker used to give it and "
        "a handler that only acknowledges; *BulkSubscriber*: `drivers.mqtt_subscriber.BulkSubscriber` as the "
        "worker configures it, acknowledging each batch as it arrives (what the worker's MQTT side costs before "
        "any work); *ingest*: one `IngestWorker`, validating, storing and acknowledging after each commit. "
        "Rate: messages received (lines printed, messages handled, rows in "
        "`telemetry_sample`) over the time from the first publish to the last line, message or commit. "
        "Ratio: ingest / mosquitto_sub. Lost: published (PUBACK success) minus received, per consumer. Drain: "
        "seconds from the last publish to the ingest's last commit.",
        "", "### Targets", "", *(f"- {line}" for line in targets(results, rate)),
        *(f"- Not measured: {reason}." for reason in skipped), "",
        "### Throughput (messages/s)", "",
        *_table(["database", "round", "messages", "published/s (ingest round)", "mosquitto_sub", "MqttClient",
                 "BulkSubscriber", "ingest", "ratio", "lost sub / client / bulk / ingest", "drain s"],
                [row for r in results for row in _throughput_rows(r, rate)]),
        "", "### What limits the worker", "", *(f"- {line}" for line in limits(results)),
        "", "### Where the CPU goes (µs of CPU per message, median of the rounds)", "",
        "The two cores are shared by the publisher, the broker, the consumer and the database server. *consumer*: "
        "the mosquitto_sub process, or the benchmark process holding a client or the worker (the worker's MQTT "
        "thread and its storing thread; SQLite runs inside it); *database*: the PostgreSQL server processes.", "",
        *_table(["database", "consumer", "publisher", "broker", "consumer", "database"],
                [row for r in results for row in _cpu_rows(r)]), ""])


def write_section(path: Path, section: str) -> None:
    """Replace this benchmark's section of `path` (up to the next `## ` heading), or append it."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    start = old.find(f"\n{SECTION}")
    if start < 0:
        path.write_text(f"{old.rstrip()}\n\n{section}")
        return
    end = old.find("\n## ", start + 1)
    tail = old[end:] if end >= 0 else ""
    path.write_text(f"{old[:start].rstrip()}\n\n{section.rstrip()}\n{tail}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="replace the telemetry ingest section of this Markdown file")
    parser.add_argument("--messages", type=int, default=MESSAGES, help=f"per round (default {MESSAGES:,})")
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="messages/s of the paced run (default 10,000)")
    parser.add_argument("--paced-seconds", type=float, default=PACED_S,
                        help=f"length of the paced run (default {PACED_S}); 0 skips it")
    parser.add_argument("--repeats", type=int, default=REPEATS, help=f"rounds per consumer (default {REPEATS})")
    parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # MqttClient warns at each connect that its max_inflight (2000, for its outgoing publishes) exceeds the
    # broker's Receive Maximum (100); no subscriber here publishes, so it says nothing about this run.
    logging.getLogger("drivers.mqtt").setLevel(logging.ERROR)
    missing = mosquitto_available() or (None if shutil.which("mosquitto_sub") else "no mosquitto_sub")
    if missing:
        sys.exit(f"ingest_bench: MOSQUITTO NOT AVAILABLE ({missing}); nothing measured")
    started, load_before, speed = time.perf_counter(), os.getloadavg()[0], calibration()
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="mf-ingest-bench-") as tmp:
        for name in (name.strip() for name in args.databases.split(",") if name.strip()):
            if name == "postgres" and (reason := postgres_available()):
                skipped.append(f"PostgreSQL ({reason})")
                _say(f"PostgreSQL skipped: {reason}")
                continue
            databases = SqliteDatabases(Path(tmp)) if name == "sqlite" else PostgresDatabases()
            try:
                results.append(measure(databases, args.messages, args.rate, args.repeats, args.paced_seconds,
                                       Path(tmp)))
            finally:
                databases.close()
    defaults = {"--messages": MESSAGES, "--rate": float(TARGET_RATE), "--paced-seconds": float(PACED_S),
                "--repeats": REPEATS, "--databases": "sqlite,postgres"}
    given = {"--messages": args.messages, "--rate": args.rate, "--paced-seconds": args.paced_seconds,
             "--repeats": args.repeats, "--databases": args.databases}
    command = "python -m benchmarks.ingest_bench" + "".join(
        f" {flag} {value:g}" if isinstance(value, float) else f" {flag} {value}"
        for flag, value in given.items() if value != defaults[flag])
    report = render(results, args.rate, command, (time.perf_counter() - started) / 60, skipped, speed,
                    (load_before, os.getloadavg()[0]))
    print(report)
    if args.out:
        write_section(args.out, report)


if __name__ == "__main__":
    main()
