"""Maintenance windows: a steward takes a machine out of use for a while.

Bookings the window would hit are listed first (a 409 with them, code `displaces_bookings`); the steward
then chooses what happens to them: `move` each to the machine's next free slot after the window (cancelled
when there is none in the next two weeks), `cancel` them, or `defer` the window until the machine is free
for its whole length. The co-ops whose bookings move or go are told in the app, and so is a lessee whose
lease window the maintenance takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from factory.domain.booking_rules import Busy, Kind, free_slots, span_text
from factory.domain.errors import BookingConflict, Conflict, InvalidInput, NotFound
from factory.domain.local_time import Span
from factory.models import Booking, MaintenanceWindow, Reservation, ReservationChange, utcnow
from factory.services.booking_checks import busy_json, search_calendar
from factory.services.bookings import cancel_booking, check_note, commit_reservations
from factory.services.machine_time import (
    is_overlap_violation,
    is_row_id,
    lock_and_refresh,
    lock_machines,
    machine_calendar,
    overlap_refused,
    reservation_busy,
    reservations,
)
from factory.services.machines import get_machine
from factory.services.notifications import notify
from factory.services.plan_triggers import request_replan

RESOLUTIONS = ("move", "cancel", "defer")
MAX_WINDOW = timedelta(days=31)
MAX_DEFER_STEPS = 500


@dataclass(frozen=True)
class MaintenanceDraft:
    machine: str
    starts_at: datetime
    ends_at: datetime
    purpose: str


@dataclass
class MaintenanceResult:
    window: MaintenanceWindow | None = None
    moved: list[tuple[Booking, Span]] = field(default_factory=list)  # with the span each had before
    cancelled: list[Booking] = field(default_factory=list)
    deferred_from: Span | None = None


def schedule_maintenance(session: Session, draft: MaintenanceDraft, *, by: str, resolution: str | None = None,
                         now: datetime | None = None) -> MaintenanceResult:
    now = now or utcnow()
    machine = get_machine(session, draft.machine)
    span = Span(draft.starts_at, draft.ends_at)
    purpose = check_note(draft.purpose, field="purpose", max_len=500, required=True)
    _check_span(span, now)
    if resolution is not None and resolution not in RESOLUTIONS:
        raise InvalidInput(f"resolution must be one of {', '.join(RESOLUTIONS)}", field="resolution")
    lock_machines(session, [machine.id])
    zone = ZoneInfo(machine.site.time_zone)
    result = MaintenanceResult()
    held = _held(session, machine, span)
    others = [r for r in held if r.kind == Kind.MAINTENANCE]
    if others:
        raise BookingConflict(f"{machine.name} already has maintenance then "
                              f"({span_text(Span(others[0].starts_at, others[0].ends_at), zone)})",
                              conflicts=[_json(r) for r in others], code="maintenance_overlap")
    hit = [r for r in held if r.kind == Kind.BOOKING]
    if hit and resolution is None:
        raise BookingConflict(f"{len(hit)} booking(s) fall in this window; choose to move them, cancel them, "
                              f"or start the maintenance after them", conflicts=[_json(r) for r in hit],
                              code="displaces_bookings", field="resolution")
    if hit and resolution == "defer":
        result.deferred_from, span = span, _first_free(session, machine, span)
    reason = f"maintenance of {machine.name}: {purpose}"
    try:
        if hit and resolution == "cancel":
            result.cancelled = [cancel_booking(session, r.id, reason=reason, by=by, now=now, commit=False)
                                for r in hit]
        if hit and resolution == "move":
            _move_all(session, result, hit, span, reason=reason, by=by, now=now)
        session.flush()  # the bookings leave the window before it is stored: the database refuses overlaps
    except IntegrityError as exc:
        session.rollback()
        if is_overlap_violation(exc):
            raise overlap_refused() from None
        raise
    window = MaintenanceWindow(machine_id=machine.id, starts_at=span.start, ends_at=span.end, purpose=purpose,
                               created_by=by[:32], created_at=now, updated_at=now)
    window.changes.append(ReservationChange(at=now, by=by[:32], action="created", starts_at=span.start,
                                            ends_at=span.end, reason="deferred until the machine is free"
                                            if result.deferred_from else ""))
    session.add(window)
    result.window = window
    _tell_lessees(session, machine, span, purpose)
    request_replan(session, "maintenance", f"maintenance of {machine.id} {span.start:%Y-%m-%d %H:%M}", now=now)
    commit_reservations(session)
    return result


def list_maintenance(session: Session, *, machine: str | None = None, since: datetime | None = None,
                     until: datetime | None = None) -> list[MaintenanceWindow]:
    statement = select(MaintenanceWindow).where(MaintenanceWindow.status == "active") \
        .order_by(MaintenanceWindow.starts_at)
    if machine:
        statement = statement.where(MaintenanceWindow.machine_id == machine)
    if since:
        statement = statement.where(MaintenanceWindow.ends_at > since)
    if until:
        statement = statement.where(MaintenanceWindow.starts_at < until)
    return list(session.scalars(statement))


def get_maintenance(session: Session, window_id: int) -> MaintenanceWindow:
    window = session.get(MaintenanceWindow, window_id) if is_row_id(window_id) else None
    if window is None:
        raise NotFound(f"no maintenance window {window_id}")
    return window


def cancel_maintenance(session: Session, window_id: int, *, reason: str, by: str,
                       now: datetime | None = None) -> MaintenanceWindow:
    now = now or utcnow()
    window = get_maintenance(session, window_id)
    reason = check_note(reason, field="reason", max_len=500, required=True)
    lock_and_refresh(session, window)
    if not window.active:
        raise Conflict("this maintenance window is already cancelled", field="reason")
    if window.ends_at <= now:
        raise Conflict("this maintenance window is over", field="reason")
    window.status, window.cancel_reason, window.cancelled_at, window.cancelled_by = "cancelled", reason, now, by[:32]
    window.changes.append(ReservationChange(at=now, by=by[:32], action="cancelled", reason=reason,
                                            starts_at=window.starts_at, ends_at=window.ends_at))
    request_replan(session, "maintenance", f"maintenance {window.id} cancelled", now=now)
    session.commit()
    return window


def _check_span(span: Span, now: datetime) -> None:
    for name, moment in (("starts_at", span.start), ("ends_at", span.end)):
        if moment.second or moment.microsecond:
            raise InvalidInput("times are to the minute", field=name)
    if span.end <= span.start:
        raise InvalidInput("the end must be after the start", field="ends_at")
    if span.end <= now:
        raise InvalidInput("the window is already over", field="ends_at")
    if span.start < now - timedelta(minutes=1):
        raise InvalidInput("the start is in the past; start it now instead", field="starts_at")
    if span.duration > MAX_WINDOW:
        raise InvalidInput("at most 31 days; a machine out of use for longer is better set to maintenance",
                           field="ends_at")


def _held(session: Session, machine, span: Span) -> list[Reservation]:
    return [r for r in reservations(session, [machine.id], span.start, span.end)
            if Span(r.starts_at, r.ends_at).overlaps(span)]


def _first_free(session: Session, machine, wanted: Span) -> Span:
    """The first span of the wanted length, from the wanted start on, that no reservation holds."""
    span = wanted
    for _ in range(MAX_DEFER_STEPS):
        held = _held(session, machine, span)
        if not held:
            return span
        start = max(r.ends_at for r in held)
        span = Span(start, start + wanted.duration)
    raise Conflict("the machine has no free stretch that long soon; choose another time", field="starts_at")


def _move_all(session: Session, result: MaintenanceResult, hit: list[Reservation], window: Span, *,
              reason: str, by: str, now: datetime) -> None:
    """Move each hit booking to its machine's next free slot after the window (not yet stored, so added to
    the calendar by hand); cancel it when there is none."""
    blocker = Busy(window, Kind.MAINTENANCE, reason)
    for booking in hit:
        machine, before = booking.machine, Span(booking.starts_at, booking.ends_at)
        zone = ZoneInfo(machine.site.time_zone)
        loaded = search_calendar(session, machine, window.end, before.duration, now, exclude_id=booking.id)
        calendar = replace(loaded, reservations=(*loaded.reservations, blocker))
        slots = free_slots(calendar, before.duration, window.end, booking.coop_id, now, limit=1)
        if not slots:
            result.cancelled.append(cancel_booking(
                session, booking.id, reason=f"{reason}; no free slot in the next two weeks", by=by, now=now,
                commit=False))
            continue
        booking.starts_at, booking.ends_at, booking.updated_at = slots[0].start, slots[0].end, now
        booking.changes.append(ReservationChange(at=now, by=by[:32], action="moved", reason=reason,
                                                 starts_at=slots[0].start, ends_at=slots[0].end))
        notify(session, booking.coop_id, f"Booking of {machine.name} moved for maintenance",
               f"Was {span_text(before, zone)}, now {span_text(slots[0], zone)}. {reason}", f"/bookings/{booking.id}")
        session.flush()
        result.moved.append((booking, before))


def _tell_lessees(session: Session, machine, span: Span, purpose: str) -> None:
    zone = ZoneInfo(machine.site.time_zone)
    calendar = machine_calendar(session, machine, span.start, span.end)
    told = set()
    for lease in calendar.lease_windows:
        if lease.span.overlaps(span) and lease.coop_id not in told:
            told.add(lease.coop_id)
            notify(session, lease.coop_id, f"Maintenance of {machine.name} in your lease window",
                   f"{span_text(span, zone)}: {purpose}", f"/machines/{machine.id}/calendar")


def _json(reservation: Reservation) -> dict:
    return busy_json(reservation_busy(reservation))
