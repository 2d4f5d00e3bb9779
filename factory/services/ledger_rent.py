"""What machine time a period charges to whom: bookings (the hours booked), completed operations (the hours
the machine measured, else the hours planned) and approved leases (their windows at the lease's rent, used or
not). A minute of a machine is charged once (domain/rent.py): a booking's minutes before an operation's, and
a lessee's own use inside its windows is paid by the lease.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from factory.domain.money import cents_for_minutes
from factory.domain.rent import Use, chargeable
from factory.models import Booking, Job, Lease, Machine, Operation, ProductionOrder
from factory.services.machine_time import lease_spans

SOURCES = ("booking", "operation", "lease")


@dataclass(frozen=True)
class ChargeLine:
    coop_id: int
    machine_id: str
    source: str
    ref_id: int
    starts_at: datetime
    ends_at: datetime
    minutes: int
    rate_cents: int
    amount_cents: int
    note: str = ""


def period_charges(session: Session, start: datetime, end: datetime) -> list[ChargeLine]:
    """Every charge of machine time in [start, end), by machine and start."""
    machines = {m.id: m for m in session.scalars(select(Machine).options(joinedload(Machine.site)))}
    leases = _leases(session, start, end)
    covered, lines = [], []
    for lease in leases:
        zone = ZoneInfo(lease.machine.site.time_zone)
        spans = lease_spans(lease, zone, start, end)
        covered += [(lease.machine_id, lease.coop_id, s.start, s.end) for s in spans]
        minutes = sum(int((s.end - s.start).total_seconds() // 60) for s in spans)
        if minutes:
            rate = rate_cents(lease.rent_per_hour)
            lines.append(ChargeLine(lease.coop_id, lease.machine_id, "lease", lease.id, spans[0].start, spans[-1].end,
                                    minutes, rate, cents_for_minutes(rate, minutes),
                                    f"lease windows, {len(spans)} in the period"))
    for piece in chargeable(_uses(session, start, end), covered, period_start=start, period_end=end):
        rate = machines[piece.machine].hourly_rate_cents
        lines.append(ChargeLine(piece.coop_id, piece.machine, piece.source, piece.ref, piece.start, piece.end,
                                piece.minutes, rate, cents_for_minutes(rate, piece.minutes)))
    return sorted(lines, key=lambda line: (line.machine_id, line.starts_at, line.source))


def _uses(session: Session, start: datetime, end: datetime) -> list[Use]:
    uses = [Use(b.machine_id, b.coop_id, b.starts_at, b.ends_at, "booking", b.id) for b in session.scalars(
        select(Booking).where(Booking.status == "active", Booking.starts_at < end, Booking.ends_at > start))]
    done = session.scalars(select(Operation).options(joinedload(Operation.job).joinedload(Job.order))
                           .join(Job).join(ProductionOrder)
                           .where(Operation.status == "done", Operation.machine_id.is_not(None),
                                  or_(Operation.finished_at > start, Operation.planned_end > start)))
    for op in done:
        began, ended = measured_or_planned(op)
        if began is not None and ended is not None and began < end and ended > start and began < ended:
            uses.append(Use(op.machine_id, op.job.order.coop_id, began, ended, "operation", op.id))
    return uses


def measured_or_planned(operation: Operation) -> tuple[datetime | None, datetime | None]:
    """The hours the machine worked on it (its start and finish, from its job events or a steward), else planned."""
    if operation.started_at is not None and operation.finished_at is not None:
        return operation.started_at, operation.finished_at
    return operation.planned_start, operation.planned_end


def _leases(session: Session, start: datetime, end: datetime) -> list[Lease]:
    return list(session.scalars(
        select(Lease).options(joinedload(Lease.machine).joinedload(Machine.site), selectinload(Lease.windows),
                              selectinload(Lease.releases))
        .where(Lease.status == "approved", Lease.starts_on <= end.date(), Lease.ends_on >= start.date())
        .order_by(Lease.id)))


def rate_cents(value: Decimal) -> int:
    return int((value * 100).to_integral_value(rounding=ROUND_HALF_UP))
