"""Loading what holds a machine's time, and taking the machine's write turn before changing it.

Every change to a machine's reservations or leases first calls `lock_machines` (services/write_turn.py: on
PostgreSQL it locks the machines' rows with `SELECT ... FOR UPDATE`, on SQLite it starts the transaction
with `BEGIN IMMEDIATE`, the database's one write lock). The checks that follow therefore see every booking
committed before them, and the database's own no-overlap constraint (migration 0003) is the backstop if any
code path forgets.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, selectinload

from factory.domain.booking_rules import FOREVER, BookingRules, Busy, Kind, MachineCalendar, describe
from factory.domain.errors import Conflict
from factory.domain.local_time import Span, weekly_spans
from factory.domain.opening_hours import Week, week_of
from factory.models import Lease, Machine, Reservation
from factory.models.bookings import OVERLAP_CONSTRAINT
from factory.services.machines import OUT_OF_USE
from factory.services.sites import site_week
from factory.services.write_turn import take_write_turn

MAX_ROW_ID = 2**31 - 1


def lock_machines(session: Session, machine_ids: Iterable[str]) -> None:
    """Take the write turn for these machines (in id order, so two writers never wait on each other)."""
    ids = sorted(set(machine_ids))
    take_write_turn(session, select(Machine.id).where(Machine.id.in_(ids)).order_by(Machine.id))


def lock_and_refresh(session: Session, row: Reservation | Lease) -> None:
    """Take the write turn of `row`'s machine, then read `row` again: a check after this sees what any
    write committed before it did to the row (another steward cancelling it a moment ago)."""
    lock_machines(session, [row.machine_id])
    session.refresh(row)


def is_row_id(value: int) -> bool:
    """Whether `value` can be a row's id at all (a 32-bit serial); larger numbers are simply not found."""
    return 0 < value <= MAX_ROW_ID


def is_overlap_violation(exc: IntegrityError) -> bool:
    """Whether the database refused a write for the no-overlap rule (exclusion constraint or trigger)."""
    return OVERLAP_CONSTRAINT in str(exc.orig)


def overlap_refused() -> Conflict:
    return Conflict("another reservation took this time a moment ago; reload and pick another slot",
                    field="starts_at")


def machine_rules(machine: Machine) -> BookingRules:
    return BookingRules(machine.booking_min_minutes, machine.booking_max_minutes, machine.booking_notice_minutes,
                        machine.booking_horizon_days, machine.unattended_ok)


def machine_calendar(session: Session, machine: Machine, start: datetime, end: datetime, *,
                     exclude_id: int | None = None) -> MachineCalendar:
    """What holds `machine`'s time between `start` and `end` (with a day's margin either side)."""
    zone = ZoneInfo(machine.site.time_zone)
    lo, hi = start - timedelta(days=1), end + timedelta(days=1)
    return MachineCalendar(
        machine_id=machine.id, machine_name=machine.name, zone=zone, rules=machine_rules(machine),
        opening=site_week(machine.site),
        reservations=tuple(reservation_busy(r) for r in reservations(session, [machine.id], lo, hi)
                           if r.id != exclude_id),
        lease_windows=tuple(lease_busy(session, machine, lo, hi)),
        breakdown=breakdown(machine))


def reservations(session: Session, machine_ids: list[str], start: datetime, end: datetime) -> list[Reservation]:
    """Active reservations of these machines that meet `[start, end)`, by start."""
    return list(session.scalars(
        select(Reservation).options(joinedload(Reservation.coop))
        .where(Reservation.machine_id.in_(machine_ids), Reservation.status == "active",
               Reservation.starts_at < end, Reservation.ends_at > start)
        .order_by(Reservation.starts_at)))


def reservation_busy(reservation: Reservation) -> Busy:
    span = Span(reservation.starts_at, reservation.ends_at)
    if reservation.kind == Kind.MAINTENANCE:
        label = f"maintenance: {reservation.purpose}" if reservation.purpose else "maintenance"
        return Busy(span, Kind.MAINTENANCE, label, reservation.id)
    return Busy(span, Kind.BOOKING, f"booked for {reservation.coop.name}", reservation.id, reservation.coop_id)


def approved_leases(session: Session, machine_id: str, first_day, last_day) -> list[Lease]:
    return list(session.scalars(
        select(Lease).options(joinedload(Lease.coop), selectinload(Lease.windows), selectinload(Lease.releases))
        .where(Lease.machine_id == machine_id, Lease.status == "approved",
               Lease.starts_on <= last_day, Lease.ends_on >= first_day)
        .order_by(Lease.starts_on)))


def lease_busy(session: Session, machine: Machine, start: datetime, end: datetime) -> list[Busy]:
    """The windows of the machine's approved leases in `[start, end)`, without the days given back."""
    zone = ZoneInfo(machine.site.time_zone)
    found: list[Busy] = []
    for lease in approved_leases(session, machine.id, start.astimezone(zone).date(), end.astimezone(zone).date()):
        found += [Busy(span, Kind.LEASE, f"leased to {lease.coop.name}", lease.id, lease.coop_id)
                  for span in lease_spans(lease, zone, start, end)]
    return found


def lease_spans(lease: Lease, zone: ZoneInfo, start: datetime, end: datetime) -> list[Span]:
    return weekly_spans(lease_week(lease), zone, start, end, first_day=lease.starts_on, last_day=lease.ends_on,
                        skip_days=[release.on_date for release in lease.releases])


def lease_week(lease: Lease) -> Week:
    return week_of(lease.windows)


def breakdown(machine: Machine) -> Busy | None:
    """A machine in fault or maintenance is out of use from then until it is expected back (or indefinitely)."""
    if machine.state not in {state.value for state in OUT_OF_USE}:
        return None
    zone = ZoneInfo(machine.site.time_zone)
    until = machine.expected_back_at or FOREVER
    since = f"{machine.state} since {describe(machine.state_since, zone)}"
    back = (f"expected back {describe(until, zone)}" if machine.expected_back_at
            else "no return time given yet (a steward can set one on the machine's page)")
    return Busy(Span(machine.state_since, until), Kind.BREAKDOWN, f"{since}; {back}")
