"""Read queries behind the ledger pages: which months to list, a co-op's line items, a machine's hours
charged per closed month, and amounts written as plain decimal euros for exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factory.models import LedgerPeriod, Machine, RentCharge, utcnow
from factory.services.ledger import Month, Statement, books_zone, list_periods, parse_month, statement
from factory.services.ledger_rent import ChargeLine

MAX_OPEN_MONTHS = 24  # open months listed at most, newest first


@dataclass(frozen=True)
class MonthRow:
    """One line of the months list: a closed period, or an open month's statement as it stands."""

    month: str
    closed: LedgerPeriod | None
    found: Statement | None = None  # open months only


def shift_month(text: str, months: int) -> str:
    """`2026-11` moved by whole months: shift_month("2026-12", 1) == "2027-01"."""
    index = int(text[:4]) * 12 + int(text[5:7]) - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_of(session: Session, moment: datetime) -> str:
    """The month (YYYY-MM) of the books an instant falls in, on the books' clock."""
    return f"{moment.astimezone(books_zone(session)):%Y-%m}"


def open_months(session: Session, closed: list[LedgerPeriod], *, now: datetime | None = None) -> list[str]:
    """The open months since the newest closed one up to the current month, newest first; with nothing closed,
    the current month and the one before it."""
    current = month_of(session, now or utcnow())
    if not closed:
        return [current, shift_month(current, -1)]
    months, month = [], shift_month(max(p.month for p in closed), 1)
    while month <= current and len(months) < MAX_OPEN_MONTHS:
        months.append(month)
        month = shift_month(month, 1)
    return months[::-1]


def months_list(session: Session, *, now: datetime | None = None) -> list[MonthRow]:
    """Open months (with their figures so far) above the closed ones, newest first."""
    closed = list_periods(session)
    rows = [MonthRow(text, None, statement(session, parse_month(text, session)))
            for text in open_months(session, closed, now=now)]
    return rows + [MonthRow(p.month, p) for p in closed]


def is_over(month: Month, *, now: datetime | None = None) -> bool:
    return month.end <= (now or utcnow())


def coop_lines(found: Statement, coop_id: int) -> list[ChargeLine]:
    return [line for line in found.charges if line.coop_id == coop_id]


def machine_names(session: Session) -> dict[str, str]:
    return {machine_id: name for machine_id, name in session.execute(select(Machine.id, Machine.name))}


def utilisation(session: Session, machine_id: str) -> list[tuple[str, int]]:
    """(month, minutes charged for the machine) per closed month, oldest first; 0 for a month without any."""
    rows = session.execute(select(LedgerPeriod.month, func.coalesce(func.sum(RentCharge.minutes), 0))
                           .outerjoin(RentCharge, (RentCharge.period_id == LedgerPeriod.id)
                                      & (RentCharge.machine_id == machine_id))
                           .group_by(LedgerPeriod.month).order_by(LedgerPeriod.month)).all()
    return [(month, int(minutes)) for month, minutes in rows]


def euros(cents: int) -> str:
    """Cents as plain decimal euros for exports: 1250 -> "12.50", -5 -> "-0.05"."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"
