"""The planner worker (`factory planner`): re-plans when triggers wait, and carries machine commands.

Triggers that arrive together are coalesced: the worker plans once no new trigger has come for `settle_s`
(or once the oldest has waited `max_wait_s`), taking every waiting one into the same version. A plan found
stale at publishing leaves its triggers waiting, so the next round plans again at once.

With a broker address it also publishes queued `machine_command` rows (DESIGN.md 4.1 `cmd`, with an
expiry so a start does not run hours late) and records the machines' `cmd/ack`. A failure of one round
(the database busy, the broker away) is logged and the next round tries again; nothing here stops the
worker but `stop()`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import sessionmaker

from drivers.broker_url import BrokerAddress
from drivers.mqtt import InboundMessage, MqttClient
from factory.models import PlanVersion, utcnow
from factory.services import dispatch
from factory.services.plan_triggers import waiting_triggers
from factory.services.planning import replan

log = logging.getLogger(__name__)
ACKS = "mf/+/+/cmd/ack"


@dataclass(frozen=True)
class PlannerOptions:
    settle_s: float = 1.0  # quiet time after the newest trigger before planning
    max_wait_s: float = 5.0  # ... but never longer than this after the oldest
    poll_s: float = 0.25
    time_limit_s: float = 5.0
    workers: int = 2
    client_id: str = "factory-planner"


class PlannerWorker:
    def __init__(self, sessions: sessionmaker, address: BrokerAddress | None = None,
                 options: PlannerOptions = PlannerOptions(),
                 on_version: Callable[[PlanVersion], None] | None = None) -> None:
        self.sessions = sessions
        self.options = options
        self.on_version = on_version
        self.client = MqttClient(address, options.client_id) if address is not None else None
        self._acks: list[InboundMessage] = []
        self._acks_lock = threading.Lock()
        self._stop = threading.Event()
        self.versions = 0
        self.failed_rounds = 0
        self.bad_acks = 0
        if self.client is not None:
            self.client.subscribe(ACKS, self._ack_arrived)

    def stop(self) -> None:
        self._stop.set()

    def run(self, *, plan_at_start: bool = True) -> None:
        if self.client is not None:
            self.client.start()
        log.info("planner worker started (settle %.1f s, limit %.1f s)", self.options.settle_s,
                 self.options.time_limit_s)
        try:
            if plan_at_start:
                self._guarded(lambda: self.plan(kind="manual", detail="planner started"))
            while not self._stop.wait(self.options.poll_s):
                self.step()
        finally:
            if self.client is not None:
                self.client.stop()
            log.info("planner worker stopped")

    def step(self) -> None:
        """One round: record acks, send queued commands, plan if triggers have settled."""
        self._guarded(self._record_acks)
        self._guarded(self._send_commands)
        self._guarded(self._plan_if_due)

    def plan(self, *, kind: str | None = None, detail: str = "") -> PlanVersion:
        with self.sessions() as session:
            version = replan(session, by="planner", kind=kind, detail=detail, time_limit_s=self.options.time_limit_s,
                             workers=self.options.workers, log=log.info)
            self.versions += 1
            if self.on_version is not None:
                self.on_version(version)
            return version

    def _plan_if_due(self) -> None:
        with self.sessions() as session:
            waiting = waiting_triggers(session)
        if not waiting:
            return
        now = utcnow()
        settled = now - waiting[-1].created_at >= timedelta(seconds=self.options.settle_s)
        overdue = now - waiting[0].created_at >= timedelta(seconds=self.options.max_wait_s)
        if settled or overdue:
            log.info("planning for %d trigger(s): %s", len(waiting), ", ".join(sorted({t.kind for t in waiting})))
            self.plan()

    def _send_commands(self) -> None:
        if self.client is None or not self.client.connected.is_set():
            return
        with self.sessions() as session:
            for command in dispatch.queued_commands(session):
                result = self.client.publish(dispatch.command_topic(command),
                                             json.dumps(dispatch.command_payload(command)),
                                             expiry_s=dispatch.COMMAND_EXPIRY_S)
                if not result.wait(5.0) or not result.ok:
                    log.warning("command %s to %s not accepted by the broker (%s); trying again", command.command_id,
                                command.machine_id, result.reason_code)
                    return
                dispatch.mark_sent(session, command)
                log.info("sent %s %s to %s", command.command, command.job, command.machine_id)

    def _ack_arrived(self, message: InboundMessage) -> None:
        with self._acks_lock:
            self._acks.append(message)

    def _record_acks(self) -> None:
        with self._acks_lock:
            acks, self._acks = self._acks, []
        if not acks:
            return
        with self.sessions() as session:
            for message in acks:
                try:
                    data = json.loads(message.payload)
                    machine = message.topic.split("/")[2]
                    command_id, ok, detail = data["id"], data["ok"], data.get("detail") or ""
                    if not isinstance(command_id, str) or not isinstance(ok, bool) or not isinstance(detail, str):
                        raise TypeError("id, ok or detail of the wrong type")
                except (ValueError, KeyError, TypeError, IndexError) as exc:
                    self.bad_acks += 1
                    log.warning("malformed cmd/ack on %s dropped: %s", message.topic, exc)
                    continue
                dispatch.record_ack(session, machine, command_id, ok, detail)

    def _guarded(self, action: Callable[[], object]) -> None:
        try:
            action()
        except Exception:
            self.failed_rounds += 1
            log.exception("planner round failed; trying again in the next one")
