"""The ingest benchmark's rounds: one publisher run into one consumer (mosquitto_sub, paho, the bulk
subscriber, the ingest worker), each on a fresh broker."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.ingest_common import LIMITS, STALL_S
from benchmarks.ingest_fleet import Fleet, cpu_of, cpu_since, own_cpu
from benchmarks.ingest_publisher import Publisher
from drivers.messages import Channel, topic
from drivers.mqtt import ClientOptions, MqttClient
from drivers.mqtt_subscriber import BulkSubscriber, SubscriberOptions
from factory import db as database
from factory.broker.config import SERVICE_USERNAME
from factory.ingest.worker import SUBSCRIPTION, IngestWorker, WorkerOptions
from factory.services.telemetry import sample_count
from tests.support.mosquitto import HOST, MosquittoBroker

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


class _InProcessConsumer:
    """A consumer running in this process: counts what its client hands it and this process's CPU."""

    def __init__(self, fleet: Fleet, number: int) -> None:
        self.fleet, self.number = fleet, number
        self.count, self.last = 0, 0.0
        self.client = None
        self._cpu = 0.0

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


class ClientSubscriber(_InProcessConsumer):
    """`drivers.mqtt.MqttClient` as the worker configures it, with a handler that only acknowledges."""

    name = "MqttClient"

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


# paho with the options the worker gave it before it had its own subscriber.
WORKER_CLIENT = ClientOptions(max_inflight=2000, session_expiry_s=7 * 86_400, manual_ack=True)


class BulkConsumer(_InProcessConsumer):
    """`drivers.mqtt_subscriber.BulkSubscriber` as the worker configures it, acknowledging each batch at once."""

    name = "BulkSubscriber"

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


CONSUMERS = ("mosquitto_sub", "MqttClient", "BulkSubscriber", "ingest")


@dataclass
class Result:
    database: str
    version: str
    flat: list[dict[str, Round]]  # per repetition: consumer -> its round
    paced: dict[str, Round]
