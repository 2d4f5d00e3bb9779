"""Read queries behind the ledger pages: which months to list, a co-op's line items, a machine's hours
charged per closed month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factory.models import LedgerPeriod, Machine, RentCharge, utcnow
from factory.services.ledger import Month, Statement, list_periods, open_months, parse_month, statement
from factory.services.ledger_rent import ChargeLine


@dataclass(frozen=True)
class MonthRow:
    """One line of the months list: a closed period, or an open month's statement as it stands."""

    month: str
    closed: LedgerPeriod | None
    found: Statement | None = None  # open months only


def months_list(session: Session, *, now: datetime | None = None) -> list[MonthRow]:
    """Open months (with their figures so far) above the closed ones, newest first."""
    closed = list_periods(session)
    rows = [MonthRow(text, None, statement(session, parse_month(text, session)))
            for text in open_months(session, now=now)]
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
