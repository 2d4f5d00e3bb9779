"""Checking a wanted stretch of machine time, and the answer when it is taken: what holds it and which
free slots of the same machine and of equivalent ones (same kind, this site first) could do instead."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from drivers.messages import format_ts
from factory.domain.booking_rules import (
    SEARCH_DAYS,
    Busy,
    MachineCalendar,
    conflicts,
    free_slots,
    request_problems,
    span_text,
)
from factory.domain.errors import BookingConflict, InvalidInput
from factory.domain.local_time import Span
from factory.models import Machine
from factory.services.machine_time import machine_calendar

SAME_MACHINE_SLOTS = 3
EQUIVALENT_MACHINES = 3


def check_booking(session: Session, machine: Machine, span: Span, coop_id: int, now: datetime, *,
                  exclude_id: int | None = None, start_unchanged: bool = False,
                  suggest: bool = True) -> MachineCalendar:
    """Raise InvalidInput for a rule the request breaks, BookingConflict (with suggestions unless not
    `suggest`) when the time is held; return the calendar that was checked."""
    calendar = machine_calendar(session, machine, span.start, span.end, exclude_id=exclude_id)
    problems = request_problems(span, calendar.rules, calendar.opening, calendar.zone, now)
    if start_unchanged:  # a booking under way keeps its start, however close or past it is
        problems = [p for p in problems if p.code not in ("in_past", "short_notice")]
    if problems:
        raise InvalidInput(problems[0].message, field=problems[0].field, code=problems[0].code)
    held = conflicts(calendar, span, coop_id)
    if held:
        raise BookingConflict(conflict_message(machine, held, calendar),
                              conflicts=[busy_json(busy) for busy in held],
                              suggestions=suggestions(session, machine, span, coop_id, now, exclude_id=exclude_id)
                              if suggest else [])
    return calendar


def conflict_message(machine: Machine, held: list[Busy], calendar: MachineCalendar) -> str:
    first = held[0]
    more = f" (and {len(held) - 1} more)" if len(held) > 1 else ""
    return f"{machine.name} is not free then: {first.label}, {span_text(first.span, calendar.zone)}{more}"


def suggestions(session: Session, machine: Machine, span: Span, coop_id: int | None, now: datetime, *,
                exclude_id: int | None = None) -> list[dict]:
    """Free slots as long as `span`: the next few on `machine`, then one or two on equivalent machines."""
    found = [slot_json(machine, slot) for slot in
             _slots(session, machine, span, coop_id, now, SAME_MACHINE_SLOTS, exclude_id)]
    for other in equivalent_machines(session, machine):
        found += [slot_json(other, slot) for slot in _slots(session, other, span, coop_id, now, 2, None)]
    return found


def equivalent_machines(session: Session, machine: Machine) -> list[Machine]:
    """Machines of the same kind, this machine's site first, then by name; at most EQUIVALENT_MACHINES."""
    others = session.scalars(select(Machine).where(Machine.kind == machine.kind, Machine.id != machine.id)
                             .order_by(Machine.name)).all()
    return sorted(others, key=lambda other: other.site_id != machine.site_id)[:EQUIVALENT_MACHINES]


def _slots(session: Session, machine: Machine, span: Span, coop_id: int | None, now: datetime, limit: int,
           exclude_id: int | None) -> list[Span]:
    calendar = search_calendar(session, machine, span.start, span.duration, now, exclude_id=exclude_id)
    return free_slots(calendar, span.duration, span.start, coop_id, now, limit=limit)


def search_calendar(session: Session, machine: Machine, after: datetime, duration: timedelta, now: datetime, *,
                    exclude_id: int | None = None) -> MachineCalendar:
    """The machine's calendar over every span `free_slots` may try from `after` (its notice included)."""
    first = max(after, now + timedelta(minutes=machine.booking_notice_minutes))
    return machine_calendar(session, machine, min(after, now), first + timedelta(days=SEARCH_DAYS) + duration,
                            exclude_id=exclude_id)


def busy_json(busy: Busy) -> dict:
    return {"kind": busy.kind, "id": busy.ref, "starts_at": format_ts(busy.span.start),
            "ends_at": None if busy.span.end.year >= 9999 else format_ts(busy.span.end), "label": busy.label}


def slot_json(machine: Machine, slot: Span) -> dict:
    return {"machine": machine.id, "machine_name": machine.name, "site": machine.site.slug,
            "starts_at": format_ts(slot.start), "ends_at": format_ts(slot.end)}
