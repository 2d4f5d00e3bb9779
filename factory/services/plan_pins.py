"""A steward's pin: this operation on this machine from this time. The next plan keeps it there (the snapshot
gives it to the planner as fixed); a pin that a booking or breakdown later meets is let go, and the
version's notes say so."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from factory.domain.booking_rules import span_text
from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.local_time import Span
from factory.domain.routing import why_not
from factory.models import Machine, Operation, utcnow
from factory.services.designs import step_needs
from factory.services.machine_time import is_row_id, reservations
from factory.services.orders import lock_order
from factory.services.plan_snapshot import HORIZON_DAYS
from factory.services.plan_triggers import request_replan


def get_operation(session: Session, operation_id: int) -> Operation:
    operation = session.get(Operation, operation_id) if is_row_id(operation_id) else None
    if operation is None:
        raise NotFound(f"no operation {operation_id}")
    return operation


def pin_operation(session: Session, operation_id: int, machine_id: str, start: datetime, *, by: str,
                  now: datetime | None = None) -> Operation:
    now = now or utcnow()
    operation = get_operation(session, operation_id)
    lock_order(session, operation.job.order)
    if operation.status not in ("waiting", "planned"):
        raise Conflict(f"the operation is {operation.status}; only one not yet started can be pinned", field="status")
    machine = session.get(Machine, machine_id) if machine_id else None
    if machine is None:
        raise InvalidInput(f"no machine {machine_id!r}", field="machine")
    problem = why_not(step_needs(operation.step), machine.kind, machine.capabilities)
    if problem:
        raise InvalidInput(f"{machine.name} {problem}", field="machine")
    if start.tzinfo is None:
        raise InvalidInput("the start needs a time zone", field="start")
    if start <= now:
        raise InvalidInput("a pin starts in the future", field="start")
    if start > now + timedelta(days=HORIZON_DAYS):
        raise InvalidInput(f"the plan looks {HORIZON_DAYS} days ahead; pin within them", field="start")
    end = start + timedelta(minutes=operation.duration_minutes)
    for earlier in operation.job.operations:
        if earlier.position >= operation.position or earlier.status in ("done", "running", "cancelled"):
            continue
        if earlier.pinned_start is None or earlier.pinned_start + timedelta(minutes=earlier.duration_minutes) > start:
            raise Conflict(f"step {earlier.position} of this job comes first and is not pinned to end by then; "
                           "pin it first or let the planner place this one", field="start")
    held = reservations(session, [machine.id], start, end)
    if held:
        first = held[0]
        raise Conflict(f"{machine.name} is held then ({first.kind} "
                       f"{span_text(Span(first.starts_at, first.ends_at), ZoneInfo(machine.site.time_zone))})",
                       field="start")
    taken = _fixed_work_meeting(session, operation, machine.id, start, end)
    if taken is not None:
        raise Conflict(f"{machine.name} has operation {taken.id} {'running' if taken.status == 'running' else 'pinned'}"
                       " then; pick another time or unpin it first", field="start")
    operation.pinned_machine_id, operation.pinned_start = machine.id, start
    request_replan(session, "pin", f"operation {operation.id} pinned to {machine.id} at {start:%Y-%m-%d %H:%M} UTC "
                   f"by {by}", now=now)
    session.commit()
    return operation


def _fixed_work_meeting(session: Session, operation: Operation, machine_id: str, start: datetime,
                        end: datetime) -> Operation | None:
    """Another operation pinned, or running, on the machine in [start, end), if any."""
    others = session.scalars(select(Operation).where(
        Operation.id != operation.id, Operation.status.in_(("waiting", "planned", "running")),
        or_(Operation.pinned_machine_id == machine_id,
            (Operation.machine_id == machine_id) & (Operation.status == "running"))))
    for other in others:
        begins = other.started_at if other.status == "running" else other.pinned_start
        if begins is not None and begins < end and start < begins + timedelta(minutes=other.duration_minutes):
            return other
    return None


def unpin_operation(session: Session, operation_id: int, *, by: str, now: datetime | None = None) -> Operation:
    operation = get_operation(session, operation_id)
    lock_order(session, operation.job.order)
    if operation.pinned_machine_id is None:
        return operation
    if operation.status not in ("waiting", "planned"):
        raise Conflict(f"the operation is {operation.status}; its pin no longer matters", field="status")
    operation.pinned_machine_id = operation.pinned_start = None
    request_replan(session, "pin", f"operation {operation.id} unpinned by {by}", now=now)
    session.commit()
    return operation
