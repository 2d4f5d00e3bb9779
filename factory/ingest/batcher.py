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
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from drivers.messages import MachineMessage
from factory.ingest.gate import Gate
from factory.models import Machine, Site, utcnow
from factory.services.telemetry import RecordResult, record_messages

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


@dataclass(frozen=True)
class _Pending:
    """A checked batch waiting to be stored: every arrival taken, the messages let in, when it was checked."""

    taken: list[Arrival]
    admitted: list[MachineMessage]
    now: datetime


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
        self._pending: _Pending | None = None

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
        """Store up to MAX_BATCH queued arrivals; returns how many were stored and acknowledged.

        A batch the database could not take (away, locked) is kept as it was checked and tried again on
        the next call, so its messages are neither checked nor counted twice, and nothing is acknowledged.
        """
        if self._pending is None:
            taken = []
            while self.queue and len(taken) < MAX_BATCH:
                taken.append(self.queue.popleft())
            if not taken:
                return 0
            now = now or utcnow()
            admitted = [m for m in (self.gate.admit(a.topic, a.payload, now) for a in taken) if m is not None]
            self._pending = _Pending(taken, admitted, now)
        pending = self._pending
        if not self._store(pending.admitted, pending.now):
            return 0
        self._pending = None
        for arrival in pending.taken:
            arrival.ack()
        if self.acknowledge is not None:
            self.acknowledge([arrival.token for arrival in pending.taken if arrival.token])
        if pending.admitted:
            self.lag_s = max(0.0, (utcnow() - max(m.ts for m in pending.admitted)).total_seconds())
        return len(pending.taken)

    def _store(self, admitted: list[MachineMessage], now: datetime) -> bool:
        if not admitted:
            return True
        try:
            result = self._record(admitted, now)
        except OperationalError as exc:  # database away or locked: keep the batch, try again
            self.store_failures += 1
            log.error("could not store a batch of %d messages, will retry: %s", len(admitted), exc.orig)
            time.sleep(0.5)
            return False
        except DBAPIError as exc:  # a message the database refuses would be refused again: find it
            log.error("the database refused a batch of %d messages (%s); storing them one by one",
                      len(admitted), exc.orig)
            result = self._record_one_by_one(admitted, now)
        self._count(result)
        return True

    def _record(self, messages: list[MachineMessage], now: datetime) -> RecordResult:
        with self.sessions() as session:
            return record_messages(session, messages, received_at=now)

    def _record_one_by_one(self, messages: list[MachineMessage], now: datetime) -> RecordResult:
        stored = duplicates = 0
        changes: list[tuple[str, str, str]] = []
        for message in messages:
            try:
                result = self._record([message], now)
            except OperationalError:
                raise
            except DBAPIError as exc:
                self.gate.refuse(message, "unstorable", f"the database refused it: {exc.orig}")
                continue
            stored, duplicates = stored + result.stored, duplicates + result.duplicates
            changes += result.state_changes
        return RecordResult(stored, duplicates, changes)

    def _count(self, result: RecordResult) -> None:
        if result.duplicates:
            self.duplicates_in_db += result.duplicates
            self.gate.dropped["duplicate"] += result.duplicates
            self.gate.accepted -= result.duplicates
        for change in result.state_changes:
            log.info("machine %s: %s -> %s", *change)
            if self.on_state_change:
                self.on_state_change(*change)

    def _newer_directory(self) -> dict[str, str] | None:
        """The machines as registered now (one may be new), read at most every few seconds."""
        if time.monotonic() - self._directory_at < DIRECTORY_REFRESH_S:
            return None
        self._directory_at = time.monotonic()
        try:
            with self.sessions() as session:
                return machine_directory(session)
        except OperationalError as exc:
            log.error("could not read the registered machines, keeping the last list: %s", exc.orig)
            return None
