"""The ingest's unit of work: take what arrived, validate it, store it in one transaction, then acknowledge.

Messages are acknowledged to the broker only after their batch is committed (manual QoS 1 acks), so a
worker that dies mid-batch loses nothing: the broker redelivers, and the database's unique keys stop the
part that had been stored from being stored twice.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from factory.ingest.gate import Gate
from factory.models import Machine, Site, utcnow
from factory.services.telemetry import record_messages

log = logging.getLogger(__name__)

MAX_BATCH = 5000
DIRECTORY_REFRESH_S = 5.0


def _nothing() -> None:
    """The `ack` of an arrival acknowledged by token instead."""


class Arrival(NamedTuple):
    """A received message: acknowledged by calling `ack`, or by handing `token` to the Batcher's `acknowledge`."""

    topic: str
    payload: bytes
    ack: Callable[[], object] = _nothing
    token: int = 0


def machine_directory(session: Session) -> dict[str, str]:
    """Every registered machine's id -> its site's slug."""
    return dict(session.execute(select(Machine.id, Site.slug).join(Machine.site)).all())


class Batcher:
    """Queue of arrivals fed by the MQTT thread, drained by the worker thread in batches."""

    def __init__(self, sessions: sessionmaker, *, on_state_change: Callable[[str, str, str], None] | None = None,
                 acknowledge: Callable[[list[int]], None] | None = None):
        """`acknowledge(tokens)` is told the tokens of each stored batch's arrivals (those that have one)."""
        self.sessions = sessions
        self.acknowledge = acknowledge
        self.queue: deque[Arrival] = deque()
        self.wakeup = threading.Event()
        with sessions() as session:
            self.gate = Gate(machine_directory(session), refresh=self._newer_directory)
        self._directory_at = time.monotonic()
        self.on_state_change = on_state_change
        self.duplicates_in_db = 0
        self.lag_s = 0.0
        self.store_failures = 0

    def arrive(self, arrival: Arrival) -> None:
        self.queue.append(arrival)
        if len(self.queue) >= MAX_BATCH or len(self.queue) == 1:
            self.wakeup.set()

    def arrive_many(self, deliveries) -> None:
        """(topic, payload, token) triples, as drivers.mqtt_subscriber hands them over."""
        was_empty = not self.queue
        self.queue.extend([Arrival(topic, payload, _nothing, token) for topic, payload, token in deliveries])
        if was_empty or len(self.queue) >= MAX_BATCH:
            self.wakeup.set()

    def drain(self, *, now: datetime | None = None) -> int:
        """Process up to MAX_BATCH queued arrivals; returns how many were taken off the queue."""
        taken = []
        while self.queue and len(taken) < MAX_BATCH:
            taken.append(self.queue.popleft())
        if not taken:
            return 0
        now = now or utcnow()
        admitted = []
        for arrival in taken:
            message = self.gate.admit(arrival.topic, arrival.payload, now)
            if message is not None:
                admitted.append(message)
        if not self._store(admitted, now):
            self.queue.extendleft(reversed(taken))  # keep order; the broker has not been told anything
            return 0
        for arrival in taken:
            arrival.ack()
        if self.acknowledge is not None:
            self.acknowledge([arrival.token for arrival in taken if arrival.token])
        if admitted:
            self.lag_s = max(0.0, (utcnow() - max(m.ts for m in admitted)).total_seconds())
        return len(taken)

    def _store(self, admitted, now: datetime) -> bool:
        if not admitted:
            return True
        try:
            with self.sessions() as session:
                result = record_messages(session, admitted, received_at=now)
        except OperationalError as exc:  # database away or locked: keep the batch, try again
            self.store_failures += 1
            for message in admitted:
                self.gate.forget(message)
            self.gate.accepted -= len(admitted)
            log.error("could not store a batch of %d messages, will retry: %s", len(admitted), exc.orig)
            time.sleep(0.5)
            return False
        if result.duplicates:
            self.duplicates_in_db += result.duplicates
            self.gate.dropped["duplicate"] += result.duplicates
            self.gate.accepted -= result.duplicates
        for change in result.state_changes:
            log.info("machine %s: %s -> %s", *change)
            if self.on_state_change:
                self.on_state_change(*change)
        return True

    def _newer_directory(self) -> dict[str, str] | None:
        """The machines as registered now (one may be new), read at most every few seconds."""
        if time.monotonic() - self._directory_at < DIRECTORY_REFRESH_S:
            return None
        self._directory_at = time.monotonic()
        with self.sessions() as session:
            return machine_directory(session)
