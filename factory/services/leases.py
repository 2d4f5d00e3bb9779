"""Leases: a co-op proposes a standing use of a machine, a steward or admin approves or declines it, and
the lessee may give single days back to the pool. A lease stays its co-op's: nothing here moves it to
another co-op, and inside its windows only the lessee's bookings are accepted (booking_rules.conflicts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from factory.domain.booking_rules import Kind
from factory.domain.errors import BookingConflict, Conflict, Forbidden, InvalidInput, NotFound
from factory.domain.local_time import Span
from factory.domain.opening_hours import WEEKDAYS, Week, format_day
from factory.domain.vocabulary import Role
from factory.models import Booking, Lease, LeaseRelease, LeaseWindow, User, utcnow
from factory.services.bookings import check_note, may_see
from factory.services.coops import get_coop
from factory.services.machine_time import (
    approved_leases,
    is_row_id,
    lease_spans,
    lease_week,
    lock_and_refresh,
    reservations,
)
from factory.services.machines import get_machine
from factory.services.notifications import notify
from factory.services.plan_triggers import request_replan

MAX_LEASE_DAYS = 731
MAX_RENT = Decimal("10000")
LEASE_STATUSES = ("proposed", "approved", "declined", "withdrawn")


@dataclass(frozen=True)
class LeaseDraft:
    machine: str
    coop: str
    starts_on: date
    ends_on: date
    windows: Week
    rent_per_hour: Decimal | str
    note: str = ""


def propose_lease(session: Session, draft: LeaseDraft, *, viewer: User, by: str,
                  now: datetime | None = None) -> Lease:
    now = now or utcnow()
    machine, coop = get_machine(session, draft.machine), get_coop(session, draft.coop)
    if Role(viewer.role) is Role.MEMBER and viewer.coop_id != coop.id:
        raise Forbidden("a co-op proposes leases for itself only", field="coop")
    today = now.astimezone(ZoneInfo(machine.site.time_zone)).date()
    if draft.starts_on < today:
        raise InvalidInput("a lease cannot start in the past", field="starts_on")
    if draft.ends_on < draft.starts_on:
        raise InvalidInput("the lease ends before it starts", field="ends_on")
    if (draft.ends_on - draft.starts_on).days >= MAX_LEASE_DAYS:
        raise InvalidInput("a lease runs at most two years; propose a renewal later", field="ends_on")
    if not any(draft.windows.get(day) for day in range(7)):
        raise InvalidInput("give at least one weekly window, e.g. Monday 09:00-17:00", field="windows")
    rent = check_rent(draft.rent_per_hour)
    note = check_note(draft.note, field="note", max_len=2000)
    taken = overlapping_leases(session, draft.machine, draft.starts_on, draft.ends_on, draft.windows)
    if taken:
        raise lease_conflict(taken, with_ids=Role(viewer.role).manages_registry)
    lease = Lease(machine_id=machine.id, coop_id=coop.id, status="proposed", starts_on=draft.starts_on,
                  ends_on=draft.ends_on, rent_per_hour=rent, note=note, proposed_by=by[:32], proposed_at=now,
                  windows=[LeaseWindow(weekday=day, opens_min=opens, closes_min=closes)
                           for day, intervals in sorted(draft.windows.items()) for opens, closes in intervals])
    session.add(lease)
    session.commit()
    return lease


def approve_lease(session: Session, lease_id: int, *, by: str, note: str = "",
                  now: datetime | None = None) -> tuple[Lease, list[Booking]]:
    """Approve a proposed lease; returns it with the other co-ops' bookings already inside its windows,
    which are honoured (they were booked first)."""
    now = now or utcnow()
    lease = _get(session, lease_id)
    note = check_note(note, field="note", max_len=2000)
    lock_and_refresh(session, lease)
    _require_proposed(lease)
    if lease.ends_on < now.astimezone(_zone(lease)).date():
        raise Conflict("this lease would already be over; the co-op can propose new dates", field="ends_on")
    taken = overlapping_leases(session, lease.machine_id, lease.starts_on, lease.ends_on, lease_week(lease),
                               exclude_id=lease.id)
    if taken:
        raise lease_conflict(taken)
    lease.status, lease.decided_by, lease.decided_at, lease.decision_note = "approved", by[:32], now, note
    honoured = bookings_inside(session, lease, now)
    notify(session, lease.coop_id, f"Lease of {lease.machine.name} approved",
           f"{lease_summary(lease)}. {note}".strip(), f"/leases/{lease.id}")
    request_replan(session, "booking", f"lease {lease.id} of {lease.machine_id} approved", now=now)
    session.commit()
    return lease, honoured


def decline_lease(session: Session, lease_id: int, *, by: str, note: str, now: datetime | None = None) -> Lease:
    now = now or utcnow()
    lease = _get(session, lease_id)
    note = check_note(note, field="note", max_len=2000, required=True)
    lock_and_refresh(session, lease)
    _require_proposed(lease)
    lease.status, lease.decided_by, lease.decided_at, lease.decision_note = "declined", by[:32], now, note
    notify(session, lease.coop_id, f"Lease of {lease.machine.name} declined", note, f"/leases/{lease.id}")
    session.commit()
    return lease


def release_day(session: Session, lease_id: int, on_date: date, *, viewer: User, by: str, reason: str = "",
                now: datetime | None = None) -> LeaseRelease:
    """Give one day of an approved lease back to the pool: its windows that day are open to every co-op."""
    now = now or utcnow()
    lease = get_lease(session, lease_id, viewer)
    lock_and_refresh(session, lease)  # before the checks: of two releases of one day, one wins
    if lease.status != "approved":
        raise Conflict(f"only an approved lease has days to release; this one is {lease.status}", field="on_date")
    if not lease.starts_on <= on_date <= lease.ends_on:
        raise InvalidInput(f"the lease runs from {lease.starts_on} to {lease.ends_on}", field="on_date")
    if any(release.on_date == on_date for release in lease.releases):
        raise Conflict(f"{on_date} is already released", field="on_date")
    zone = _zone(lease)
    day_start = datetime.combine(on_date, datetime.min.time()).replace(tzinfo=zone)
    spans = lease_spans(lease, zone, day_start, day_start + timedelta(days=1))
    spans = [span for span in spans if span.start.astimezone(zone).date() == on_date]
    if not spans:
        raise InvalidInput(f"the lease has no window on {on_date:%A %Y-%m-%d}", field="on_date")
    if spans[-1].end <= now:
        raise InvalidInput("that day's windows are over", field="on_date")
    reason = check_note(reason, field="reason", max_len=500)
    release = LeaseRelease(on_date=on_date, released_by=by[:32], released_at=now, reason=reason)
    lease.releases.append(release)
    notify(session, lease.coop_id, f"{lease.machine.name} released to the pool on {on_date}",
           reason or f"by {by}", f"/leases/{lease.id}")
    request_replan(session, "booking", f"lease {lease.id}: {on_date} released", now=now)
    session.commit()
    return release


def list_leases(session: Session, viewer: User, *, machine: str | None = None,
                status: str | None = None) -> list[Lease]:
    """Leases the viewer may see (a member: their co-op's), newest proposal first."""
    statement = select(Lease).options(joinedload(Lease.machine), joinedload(Lease.coop),
                                      selectinload(Lease.windows)) \
        .order_by(Lease.proposed_at.desc(), Lease.id.desc())
    if Role(viewer.role) is Role.MEMBER:
        statement = statement.where(Lease.coop_id == viewer.coop_id)
    if machine:
        statement = statement.where(Lease.machine_id == machine)
    if status:
        if status not in LEASE_STATUSES:
            raise InvalidInput(f"status must be one of {', '.join(LEASE_STATUSES)}", field="status")
        statement = statement.where(Lease.status == status)
    return list(session.scalars(statement).unique())


def get_lease(session: Session, lease_id: int, viewer: User) -> Lease:
    lease = session.get(Lease, lease_id) if is_row_id(lease_id) else None
    if lease is None or not may_see(viewer, lease.coop_id):
        raise NotFound(f"no lease {lease_id}")
    return lease


def overlapping_leases(session: Session, machine_id: str, starts_on: date, ends_on: date, week: Week, *,
                       exclude_id: int | None = None) -> list[Lease]:
    """Approved leases of the machine with a window meeting one of `week`'s on a date both run."""
    found = []
    for other in approved_leases(session, machine_id, starts_on, ends_on):
        if other.id == exclude_id:
            continue
        first, last = max(starts_on, other.starts_on), min(ends_on, other.ends_on)
        theirs = lease_week(other)
        weekdays = {(first + timedelta(days=n)).weekday() for n in range(min(7, (last - first).days + 1))}
        if any(_windows_meet(week.get(day, ()), theirs.get(day, ())) for day in weekdays):
            found.append(other)
    return found


def lease_windows_text(lease: Lease) -> str:
    week = lease_week(lease)
    days = "; ".join(f"{WEEKDAYS[day].capitalize()} {format_day(week[day])}" for day in range(7) if week[day])
    return f"{days}, {lease.starts_on} to {lease.ends_on}"


def lease_summary(lease: Lease) -> str:
    """The lease's terms, for its co-op and the stewards: windows, dates and rent."""
    return f"{lease_windows_text(lease)}, {lease.rent_per_hour:.2f}/hour"


def bookings_inside(session: Session, lease: Lease, now: datetime) -> list[Booking]:
    """Other co-ops' active bookings from now on that meet the lease's windows."""
    zone = _zone(lease)
    end = datetime.combine(lease.ends_on + timedelta(days=1), datetime.min.time()).replace(tzinfo=zone)
    spans = lease_spans(lease, zone, now, end)
    return [r for r in reservations(session, [lease.machine_id], now, end)
            if r.kind == Kind.BOOKING and r.coop_id != lease.coop_id
            and any(span.overlaps(Span(r.starts_at, r.ends_at)) for span in spans)]


def lease_conflict(taken: list[Lease], *, with_ids: bool = True) -> BookingConflict:
    """The leases in the way, as the public calendar shows them (lessee, windows, dates; never the rent);
    their ids only for stewards and admins."""
    first = taken[0]
    return BookingConflict(f"{first.machine.name} is already leased to {first.coop.name} then "
                           f"({lease_windows_text(first)})", field="windows", code="lease_conflict",
                           conflicts=[{"kind": Kind.LEASE, "id": lease.id if with_ids else None,
                                       "coop": lease.coop.slug,
                                       "label": f"leased to {lease.coop.name}: {lease_windows_text(lease)}"}
                                      for lease in taken])


def check_rent(value: Decimal | str) -> Decimal:
    try:
        rent = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput("give the rent as a number such as 6.00", field="rent_per_hour") from None
    if not rent.is_finite() or rent < 0 or rent > MAX_RENT:
        raise InvalidInput(f"between 0 and {MAX_RENT:,} per hour", field="rent_per_hour")
    if rent.as_tuple().exponent < -2:
        raise InvalidInput("at most two decimals (cents)", field="rent_per_hour")
    return rent.quantize(Decimal("0.01"))


def _windows_meet(ours: tuple[tuple[int, int], ...], theirs: tuple[tuple[int, int], ...]) -> bool:
    return any(a < d and c < b for a, b in ours for c, d in theirs)


def _require_proposed(lease: Lease) -> None:
    if lease.status != "proposed":
        raise Conflict(f"this lease is already {lease.status}", field="status")


def _get(session: Session, lease_id: int) -> Lease:
    lease = session.get(Lease, lease_id) if is_row_id(lease_id) else None
    if lease is None:
        raise NotFound(f"no lease {lease_id}")
    return lease


def _zone(lease: Lease) -> ZoneInfo:
    return ZoneInfo(lease.machine.site.time_zone)
