"""Bookings: a steward books a machine for a co-op; edit and cancel with a reason; who may see which.

Every write takes the machine's write turn (`lock_machines`) before it checks, so of two stewards
booking the same slot at once exactly one succeeds and the other gets the conflict with suggestions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from factory.domain.booking_rules import span_text
from factory.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from factory.domain.local_time import Span
from factory.domain.vocabulary import Role
from factory.models import Booking, Coop, Machine, ReservationChange, Site, User, utcnow
from factory.services.booking_checks import check_booking
from factory.services.coops import get_coop
from factory.services.machine_time import (
    is_overlap_violation,
    is_row_id,
    lock_and_refresh,
    lock_machines,
    overlap_refused,
)
from factory.services.machines import get_machine
from factory.services.notifications import notify
from factory.services.plan_triggers import request_replan

MAX_PURPOSE = 500
MAX_REASON = 500


@dataclass(frozen=True)
class BookingDraft:
    machine: str
    coop: str
    starts_at: datetime
    ends_at: datetime
    purpose: str = ""


@dataclass(frozen=True)
class BookingQuery:
    machine: str | None = None
    coop: str | None = None
    site: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    include_cancelled: bool = False


def create_booking(session: Session, draft: BookingDraft, *, by: str, now: datetime | None = None,
                   series_id: int | None = None, commit: bool = True) -> Booking:
    now = now or utcnow()
    machine = get_machine(session, draft.machine)
    coop = get_coop(session, draft.coop)
    span = Span(draft.starts_at, draft.ends_at)
    purpose = check_note(draft.purpose, field="purpose", max_len=MAX_PURPOSE)
    lock_machines(session, [machine.id])
    check_booking(session, machine, span, coop.id, now)
    booking = Booking(machine_id=machine.id, coop_id=coop.id, starts_at=span.start, ends_at=span.end,
                      purpose=purpose, created_by=by[:32], created_at=now, updated_at=now, series_id=series_id)
    booking.changes.append(ReservationChange(at=now, by=by[:32], action="created", starts_at=span.start,
                                             ends_at=span.end))
    session.add(booking)
    request_replan(session, "booking", f"booked {machine.id} {span.start:%Y-%m-%d %H:%M}", now=now)
    if commit:
        commit_reservations(session)
    return booking


def update_booking(session: Session, booking_id: int, *, starts_at: datetime, ends_at: datetime, purpose: str,
                   reason: str, by: str, now: datetime | None = None) -> Booking:
    """Move or re-word a booking that has not ended; a booking under way keeps its start."""
    now = now or utcnow()
    booking = _get(session, booking_id)
    reason = check_note(reason, field="reason", max_len=MAX_REASON, required=True)
    purpose = check_note(purpose, field="purpose", max_len=MAX_PURPOSE)
    lock_and_refresh(session, booking)
    if not booking.active:
        raise Conflict("this booking is cancelled; book again instead", field="starts_at")
    if booking.ends_at <= now:
        raise Conflict("this booking is over and stays as it was", field="starts_at")
    if booking.starts_at <= now and starts_at != booking.starts_at:
        raise InvalidInput("the booking has started; only its end can change", field="starts_at")
    if ends_at <= now:
        raise InvalidInput("the end cannot be in the past", field="ends_at")
    span = Span(starts_at, ends_at)
    if span != Span(booking.starts_at, booking.ends_at):
        check_booking(session, booking.machine, span, booking.coop_id, now, exclude_id=booking.id,
                      start_unchanged=starts_at == booking.starts_at)
    before = span_text(Span(booking.starts_at, booking.ends_at), _zone(booking))
    booking.starts_at, booking.ends_at, booking.purpose, booking.updated_at = span.start, span.end, purpose, now
    booking.changes.append(ReservationChange(at=now, by=by[:32], action="edited", reason=reason,
                                             starts_at=span.start, ends_at=span.end))
    notify(session, booking.coop_id, f"Booking of {booking.machine.name} changed",
           f"Was {before}, now {span_text(span, _zone(booking))}. Reason: {reason}", f"/bookings/{booking.id}")
    request_replan(session, "booking", f"booking {booking.id} moved", now=now)
    commit_reservations(session)
    return booking


def cancel_booking(session: Session, booking_id: int, *, reason: str, by: str, now: datetime | None = None,
                   commit: bool = True, tell: bool = True) -> Booking:
    """Cancel a booking not yet over, with a reason; its co-op is told unless not `tell` (the caller tells)."""
    now = now or utcnow()
    booking = _get(session, booking_id)
    reason = check_note(reason, field="reason", max_len=MAX_REASON, required=True)
    lock_and_refresh(session, booking)
    if not booking.active:
        raise Conflict("this booking is already cancelled", field="reason")
    if booking.ends_at <= now:
        raise Conflict("this booking is over; there is nothing left to cancel", field="reason")
    booking.status, booking.cancel_reason = "cancelled", reason
    booking.cancelled_at, booking.cancelled_by, booking.updated_at = now, by[:32], now
    booking.changes.append(ReservationChange(at=now, by=by[:32], action="cancelled", reason=reason,
                                             starts_at=booking.starts_at, ends_at=booking.ends_at))
    if tell:
        notify(session, booking.coop_id, f"Booking of {booking.machine.name} cancelled",
               f"{span_text(Span(booking.starts_at, booking.ends_at), _zone(booking))}. Reason: {reason}",
               f"/bookings/{booking.id}")
    request_replan(session, "booking", f"booking {booking.id} cancelled", now=now)
    if commit:
        session.commit()
    return booking


def list_bookings(session: Session, viewer: User, query: BookingQuery = BookingQuery()) -> list[Booking]:
    """Bookings the viewer may see (a member: their co-op's only), by start."""
    statement = (select(Booking).join(Booking.machine).join(Machine.site).join(Booking.coop)
                 .options(joinedload(Booking.machine).joinedload(Machine.site), joinedload(Booking.coop))
                 .order_by(Booking.starts_at, Booking.id))
    if Role(viewer.role) is Role.MEMBER:
        statement = statement.where(Booking.coop_id == viewer.coop_id)
    if query.machine:
        statement = statement.where(Booking.machine_id == query.machine)
    if query.coop:
        statement = statement.where(Coop.slug == query.coop)
    if query.site:
        statement = statement.where(Site.slug == query.site)
    if query.since:
        statement = statement.where(Booking.ends_at > query.since)
    if query.until:
        statement = statement.where(Booking.starts_at < query.until)
    if not query.include_cancelled:
        statement = statement.where(Booking.status == "active")
    return list(session.scalars(statement))


def get_booking(session: Session, booking_id: int, viewer: User) -> Booking:
    """A booking the viewer may see; another co-op's booking reads as not found, as if it did not exist."""
    booking = session.get(Booking, booking_id) if is_row_id(booking_id) else None
    if booking is None or not may_see(viewer, booking.coop_id):
        raise NotFound(f"no booking {booking_id}")
    return booking


def may_see(viewer: User, coop_id: int | None) -> bool:
    return Role(viewer.role) is not Role.MEMBER or viewer.coop_id == coop_id


def require_booker(viewer: User) -> None:
    """Stewards and admins book; members follow their co-op's bookings read-only."""
    if not Role(viewer.role).manages_registry:
        raise Forbidden("only stewards and admins book machine time; ask a steward")


def commit_reservations(session: Session) -> None:
    """Commit, turning the database's own no-overlap refusal into the same 409 the checks give."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        if is_overlap_violation(exc):
            raise overlap_refused() from None
        raise


def check_note(text: str | None, *, field: str, max_len: int, required: bool = False) -> str:
    text = (text or "").strip()
    if required and not text:
        raise InvalidInput("say why, for the co-op and the next steward", field=field)
    if len(text) > max_len:
        raise InvalidInput(f"at most {max_len} characters", field=field)
    return text


def _get(session: Session, booking_id: int) -> Booking:
    booking = session.get(Booking, booking_id) if is_row_id(booking_id) else None
    if booking is None:
        raise NotFound(f"no booking {booking_id}")
    return booking


def _zone(booking: Booking) -> ZoneInfo:
    return ZoneInfo(booking.machine.site.time_zone)
