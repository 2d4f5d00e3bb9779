"""Dispatch: a steward sends `start_job` for a planned operation that is due, and what the machine then
reports about the job moves the operation (DESIGN.md 4.1).

The web app does not talk MQTT: it queues a `machine_command` row, and the planner worker publishes
queued commands and records the machines' `cmd/ack`. The job id sent is `op-<operation id>`; the machine
names its job with it in `state` and `event`, so `job_started` makes the operation running, `job_finished`
done (its materials consumed) and `job_failed` planned again.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from factory.domain.booking_rules import describe
from factory.domain.errors import Conflict
from factory.models import Machine, MachineCommand, Operation, utcnow
from factory.services.order_work import complete_operation
from factory.services.orders import lock_order, move
from factory.services.plan_pins import get_operation
from factory.services.plan_triggers import request_replan

log = logging.getLogger(__name__)
EARLY = timedelta(minutes=30)  # a start may be sent this long before the planned start
JOB_ID = re.compile(r"^op-([0-9]{1,10})$")
COMMAND_EXPIRY_S = 600  # a start_job a machine has not received within this is dropped by the broker


def job_id(operation: Operation) -> str:
    return f"op-{operation.id}"


def operation_of_job(session: Session, job: str | None) -> Operation | None:
    match = JOB_ID.match(job or "")
    return session.get(Operation, int(match.group(1))) if match else None


def queue_start(session: Session, operation_id: int, *, by: str, now: datetime | None = None) -> MachineCommand:
    """Queue `start_job` for a planned operation on its planned machine, when it is due and the machine idle."""
    now = now or utcnow()
    operation = get_operation(session, operation_id)
    lock_order(session, operation.job.order)
    if operation.status != "planned" or operation.machine_id is None or operation.planned_start is None:
        raise Conflict(f"only a planned operation with a machine can be started; this one is {operation.status}",
                       field="status")
    earlier = [op for op in operation.job.operations if op.position < operation.position and op.status != "done"]
    if earlier:
        raise Conflict(f"step {earlier[0].position} of this job is not done yet", field="status")
    machine = operation.machine
    zone = ZoneInfo(machine.site.time_zone)
    if operation.planned_start - EARLY > now:
        raise Conflict(f"planned for {describe(operation.planned_start, zone)}; it can be sent from "
                       f"{describe(operation.planned_start - EARLY, zone)}", field="status")
    session.refresh(machine)  # its state as of now, under the order's turn
    if machine.state != "idle":
        raise Conflict(f"{machine.name} is {machine.state}; a job starts on an idle machine", field="status")
    pending = session.scalar(select(MachineCommand.id).where(MachineCommand.operation_id == operation.id,
                                                             MachineCommand.status.in_(("queued", "sent"))))
    if pending is not None:
        raise Conflict("a start for this operation is already on its way", field="status")
    design = operation.job.order.design
    command = MachineCommand(command_id=uuid.uuid4().hex, machine_id=machine.id, command="start_job",
                             job=job_id(operation), operation_id=operation.id, requested_by=by[:32], created_at=now,
                             args={"file": f"{design.slug}.gco", "design": design.slug,
                                   "quantity": operation.job.quantity, "step": operation.step.name})
    session.add(command)
    session.commit()
    return command


def queued_commands(session: Session) -> list[MachineCommand]:
    return list(session.scalars(select(MachineCommand).where(MachineCommand.status == "queued")
                                .order_by(MachineCommand.id)))


def command_topic(command: MachineCommand) -> str:
    return f"mf/{command.machine.site.slug}/{command.machine_id}/cmd"


def command_payload(command: MachineCommand) -> dict:
    return {"v": 1, "id": command.command_id, "cmd": command.command, "job": command.job, "args": command.args}


def mark_sent(session: Session, command: MachineCommand, *, now: datetime | None = None) -> None:
    command.status, command.sent_at = "sent", now or utcnow()
    session.commit()


def record_ack(session: Session, machine_id: str, command_id: str, ok: bool, detail: str) -> MachineCommand | None:
    """A machine's `cmd/ack`; None for an id that is not ours or another machine's (logged, ignored)."""
    command = session.scalar(select(MachineCommand).where(MachineCommand.command_id == command_id))
    if command is None:  # another console's command (the demo's director, a steward's own tool)
        log.info("cmd/ack from %s for a command not queued here (%r) ignored", machine_id, command_id)
        return None
    if command.machine_id != machine_id:
        log.warning("cmd/ack from %s for command %r of %s ignored", machine_id, command_id, command.machine_id)
        return None
    command.status, command.detail = ("acknowledged" if ok else "refused"), detail[:500]
    session.commit()
    return command


def apply_job_event(session: Session, machine_id: str, event: str, job: str | None, at: datetime) -> bool:
    """Move the operation a job event names (`op-<id>`) on the machine it was planned on; idempotent, so a
    replayed event changes nothing. Answers whether something moved. The caller commits."""
    operation = operation_of_job(session, job)
    if operation is None or operation.machine_id != machine_id:
        return False
    order = operation.job.order
    if event == "job_started" and operation.status == "planned":
        operation.status, operation.started_at = "running", at
        move(order, "in_progress", by=machine_id, now=at, note=f"job {operation.job.number} started on {machine_id}")
        request_replan(session, "operation_started", f"operation {operation.id} on {machine_id}", now=at)
        return True
    if event == "job_finished" and operation.status == "running":
        complete_operation(session, operation, by=machine_id, now=at)
        request_replan(session, "operation_finished", f"operation {operation.id} on {machine_id}", now=at)
        return True
    if event == "job_failed" and operation.status == "running":
        operation.status, operation.started_at = "planned", None
        operation.material_note = f"the run on {machine_id} failed at {at:%Y-%m-%d %H:%M} UTC; planned again"
        request_replan(session, "operation_finished", f"operation {operation.id} failed on {machine_id}", now=at)
        return True
    return False


def machine_commands(session: Session, machine: Machine, *, limit: int = 10) -> list[MachineCommand]:
    return list(session.scalars(select(MachineCommand).where(MachineCommand.machine_id == machine.id)
                                .order_by(MachineCommand.id.desc()).limit(limit)))
