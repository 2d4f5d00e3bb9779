"""`factory ingest`: the MQTT worker that stores what machines report.

Subscribes to `mf/#` with a persistent session, or, with `shared=True`, to `$share/ingest/mf/#` so several
workers split the load (the broker gives each message to one). Mosquitto 2.0 does not restore shared
subscriptions from its persistence file: after a broker restart, messages published before the shared
workers have subscribed again reach no one. A single worker on the plain subscription loses nothing across
broker restarts, so that is the default (docs/telemetry.md).

The worker hands arrivals to the Batcher, stores a batch at least every `FLUSH_S` or every `MAX_BATCH`
messages, and acknowledges messages only once their batch is committed. Every few seconds it writes its counters for
`GET /metrics`, and every few minutes it downsamples and prunes old samples.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from drivers.broker_url import BrokerAddress
from drivers.mqtt_subscriber import BulkSubscriber, SubscriberOptions
from factory.ingest.batcher import Batcher
from factory.services.telemetry import Retention, downsample_and_prune, flush_counters

log = logging.getLogger(__name__)

SUBSCRIPTION = "mf/#"
SHARED_SUBSCRIPTION = "$share/ingest/mf/#"
FLUSH_S = 0.05
COUNTERS_EVERY_S = 2.0
RETENTION_EVERY_S = 600.0


@dataclass(frozen=True)
class WorkerOptions:
    name: str = ""
    client_id: str = ""
    retention: Retention = Retention()
    max_inflight: int = 10_000  # the Receive Maximum: unacknowledged messages the broker may send at once
    shared: bool = False  # join the `ingest` share group (several workers) instead of a plain subscription


def default_worker_name() -> str:
    """The host's name: stable across restarts, so the worker resumes its broker session and its queue."""
    return socket.gethostname()


class IngestWorker:
    def __init__(self, sessions: sessionmaker, address: BrokerAddress, options: WorkerOptions = WorkerOptions()):
        self.name = options.name or default_worker_name()
        self.sessions = sessions
        self.retention = options.retention
        client_id = options.client_id or f"factory-ingest-{self.name}"
        self.subscription = SHARED_SUBSCRIPTION if options.shared else SUBSCRIPTION
        self.client = BulkSubscriber(address, client_id, self.subscription, self._arrive,
                                     SubscriberOptions(receive_maximum=options.max_inflight))
        self.batcher = Batcher(sessions, acknowledge=self.client.ack)
        self._stop = threading.Event()
        self._counters_at = 0.0
        self._retention_at = time.monotonic()

    def _arrive(self, deliveries) -> None:
        self.batcher.arrive_many(deliveries)

    def run(self) -> None:
        """Work until `stop()`; the caller's thread does the storing, the subscriber's thread the receiving."""
        self.client.start()
        log.info("ingest worker %s subscribing to %s", self.name, self.subscription)
        try:
            while not self._stop.is_set():
                self.step()
        finally:
            self.step()  # store and acknowledge what already arrived
            self.client.stop()
            self.flush_counters()
            log.info("ingest worker %s stopped", self.name)

    def step(self) -> None:
        self.batcher.wakeup.wait(FLUSH_S)
        self.batcher.wakeup.clear()
        while self.batcher.drain():
            pass
        now = time.monotonic()
        if now - self._counters_at >= COUNTERS_EVERY_S:
            self.flush_counters()
            self._counters_at = now
        if now - self._retention_at >= RETENTION_EVERY_S:
            self._retention_at = now
            self.apply_retention()

    def apply_retention(self) -> None:
        try:
            with self.sessions() as session:
                folded, pruned = downsample_and_prune(session, self.retention)
        except OperationalError as exc:  # busy or away: the next round does it
            log.error("telemetry retention skipped this round: %s", exc.orig)
            return
        if folded or pruned:
            log.info("telemetry retention: %d samples folded into means, %d deleted", folded, pruned)

    def flush_counters(self) -> None:
        gate = self.batcher.gate
        values = {"accepted": gate.accepted, "lag_seconds": self.batcher.lag_s,
                  **{f"dropped:{reason}": count for reason, count in gate.dropped.items()},
                  **{f"ignored:{channel}": count for channel, count in gate.ignored.items()}}
        try:
            with self.sessions() as session:
                flush_counters(session, self.name, values)
        except Exception:  # counters are worth less than the messages: never stop the worker for them
            log.exception("could not write the ingest counters")

    def stop(self) -> None:
        self._stop.set()
        self.batcher.wakeup.set()
