"""Periods of the commune's books: a month's statement (open: computed from what happened; closed: as it was
closed), and closing a month.

A month runs from 00:00 on its first day to 00:00 on the next, in the time zone of the commune's first site.
Closing it, once it is over: the rent charges (ledger_rent.py) are stored with their line items; the bond
service is the instalments due in the month (interest and principal, domain/bonds.py); upkeep is what was
recorded with a date in the month; the result is rents − bond service − upkeep + the deficit carried in
(≤ 0). A positive result is paid out: divided equally, in exact cents, among every member who was a member
at any time in the month (joined before it ended, not left before it began), the remainder cents one each
to the lowest member numbers. A negative one is carried forward, not paid out. The journal gets the
period's balanced entries. Months close in order, none skipped after the first; a closed month never
changes (the database refuses it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from factory.domain import bonds, journal
from factory.domain.booking_rules import describe
from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.local_time import check_year
from factory.domain.money import split_equally
from factory.models import (
    BondSeries,
    Commune,
    Coop,
    Dividend,
    JournalEntry,
    JournalPosting,
    LedgerPeriod,
    Member,
    RentCharge,
    Site,
    UpkeepCost,
    utcnow,
)
from factory.services.ledger_rent import ChargeLine, period_charges
from factory.services.write_turn import take_write_turn

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_OPEN_MONTHS = 24  # open months listed at most


@dataclass(frozen=True)
class Month:
    text: str
    first_day: date
    last_day: date
    start: datetime  # UTC
    end: datetime


@dataclass
class Statement:
    month: Month
    closed: LedgerPeriod | None
    charges: list[ChargeLine]
    interest: int
    principal: int
    upkeep: int
    carried_in: int
    members: list[Member]
    dividends: dict[int, int] = field(default_factory=dict)  # member id -> cents
    coops: dict[int, Coop] = field(default_factory=dict)

    @property
    def figures(self) -> journal.PeriodFigures:
        return journal.PeriodFigures(self.rents, self.interest + self.principal, self.upkeep, self.carried_in)

    @property
    def rents(self) -> int:
        return sum(line.amount_cents for line in self.charges)

    def rent_by_coop(self) -> dict[int, int]:
        totals: dict[int, int] = {}
        for line in self.charges:
            totals[line.coop_id] = totals.get(line.coop_id, 0) + line.amount_cents
        return totals


def parse_month(text: str, session: Session) -> Month:
    match = MONTH.match(text or "")
    if not match:
        raise InvalidInput("a period is a month, written YYYY-MM", field="month")
    year, month = int(match.group(1)), int(match.group(2))
    check_year(year, field="month")
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    zone = books_zone(session)
    return Month(text, first, following - timedelta(days=1), _midnight(first, zone), _midnight(following, zone))


def books_zone(session: Session) -> ZoneInfo:
    site = session.scalars(select(Site).order_by(Site.id).limit(1)).first()
    return ZoneInfo(site.time_zone) if site else ZoneInfo("UTC")


def statement(session: Session, month: Month) -> Statement:
    """The month's statement: as closed, or as it stands now when still open."""
    closed = session.scalar(select(LedgerPeriod).where(LedgerPeriod.month == month.text))
    coops = {c.id: c for c in session.scalars(select(Coop))}
    if closed is not None:
        lines = [ChargeLine(c.coop_id, c.machine_id, c.source, c.ref_id, c.starts_at, c.ends_at, c.minutes,
                            c.rate_cents, c.amount_cents, c.note) for c in closed.charges]
        members = members_during(session, month)
        return Statement(month, closed, lines, closed.interest_cents, closed.principal_cents, closed.upkeep_cents,
                         closed.carried_in_cents, members, {d.member_id: d.amount_cents for d in closed.dividends},
                         coops)
    interest, principal = bond_service(session, month)
    found = Statement(month, None, period_charges(session, month.start, month.end), interest, principal,
                      upkeep_in(session, month), carried_in(session, month), members_during(session, month),
                      coops=coops)
    payout = found.figures.payout
    found.dividends = split_equally(payout, [m.id for m in found.members]) if found.members else {}
    return found


def close_period(session: Session, text: str, *, by: str, now: datetime | None = None) -> LedgerPeriod:
    now = now or utcnow()
    month = parse_month(text, session)
    take_write_turn(session, select(Commune.id))
    if month.end > now:
        raise Conflict(f"{month.text} is not over yet; it can be closed from "
                       f"{describe(month.end, books_zone(session))}", field="month")
    if session.scalar(select(LedgerPeriod.id).where(LedgerPeriod.month == month.text)) is not None:
        raise Conflict(f"{month.text} is closed already; correct it in a later period", field="month",
                       code="period_closed")
    later = session.scalar(select(LedgerPeriod.month).where(LedgerPeriod.month > month.text).limit(1))
    if later is not None:
        raise Conflict(f"{later} is closed already: months close in order", field="month")
    newest = session.scalar(select(LedgerPeriod.month).order_by(LedgerPeriod.month.desc()).limit(1))
    if newest is not None and newest != shift_month(month.text, -1):
        raise Conflict(f"close {shift_month(newest, 1)} first: months close in order, none is skipped",
                       field="month")
    found = statement(session, month)
    if found.figures.payout and not found.members:
        raise Conflict("there is a surplus but no member to pay it to", field="month")
    period = LedgerPeriod(month=month.text, closed_at=now, closed_by=by[:32], rents_cents=found.rents,
                          interest_cents=found.interest, principal_cents=found.principal, upkeep_cents=found.upkeep,
                          carried_in_cents=found.carried_in, payout_cents=found.figures.payout,
                          carried_out_cents=found.figures.carried_out, members=len(found.members))
    session.add(period)
    session.flush()
    for line in found.charges:
        session.add(RentCharge(period_id=period.id, coop_id=line.coop_id, machine_id=line.machine_id,
                               source=line.source, ref_id=line.ref_id, starts_at=line.starts_at, ends_at=line.ends_at,
                               minutes=line.minutes, rate_cents=line.rate_cents, amount_cents=line.amount_cents,
                               note=line.note))
    for member_id, cents in found.dividends.items():
        if cents:
            session.add(Dividend(period_id=period.id, member_id=member_id, amount_cents=cents))
    by_slug = {found.coops[coop_id].slug: cents for coop_id, cents in found.rent_by_coop().items() if cents}
    for entry in journal.close_entries(found.figures, by_slug, found.interest, found.principal, found.upkeep,
                                       {k: v for k, v in found.dividends.items() if v}):
        row = JournalEntry(period_id=period.id, memo=entry.memo[:300], created_at=now)
        row.postings = [JournalPosting(account=p.account, debit_cents=p.debit, credit_cents=p.credit)
                        for p in entry.postings]
        session.add(row)
    try:
        session.commit()
    except IntegrityError:  # another close of the same month won
        session.rollback()
        raise Conflict(f"{month.text} was closed a moment ago", field="month", code="period_closed") from None
    return period


def shift_month(text: str, months: int) -> str:
    """`2026-11` moved by whole months: shift_month("2026-12", 1) == "2027-01"."""
    index = int(text[:4]) * 12 + int(text[5:7]) - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_of(session: Session, moment: datetime) -> str:
    """The month (YYYY-MM) of the books an instant falls in, on the books' clock."""
    return f"{moment.astimezone(books_zone(session)):%Y-%m}"


def open_months(session: Session, *, now: datetime | None = None) -> list[str]:
    """The months not closed from the one after the newest closed one to the current one, newest first (at most
    MAX_OPEN_MONTHS); with none closed, the current month and the one before."""
    current = month_of(session, now or utcnow())
    newest = session.scalar(select(LedgerPeriod.month).order_by(LedgerPeriod.month.desc()).limit(1))
    if newest is None:
        return [current, shift_month(current, -1)]
    months, month = [], shift_month(newest, 1)
    while month <= current and len(months) < MAX_OPEN_MONTHS:
        months.append(month)
        month = shift_month(month, 1)
    return months[::-1]


def list_periods(session: Session) -> list[LedgerPeriod]:
    return list(session.scalars(select(LedgerPeriod).order_by(LedgerPeriod.month.desc())))


def get_period(session: Session, text: str) -> LedgerPeriod:
    period = session.scalar(select(LedgerPeriod).where(LedgerPeriod.month == text))
    if period is None:
        raise NotFound(f"{text} is not closed")
    return period


def bond_service(session: Session, month: Month) -> tuple[int, int]:
    """(interest, principal) of every bond instalment due in the month."""
    interest = principal = 0
    for series in session.scalars(select(BondSeries)):
        for due in bonds.due_in(schedule_of(series), month.first_day, month.last_day):
            interest, principal = interest + due.interest, principal + due.principal
    return interest, principal


def schedule_of(series: BondSeries) -> list[bonds.Instalment]:
    return bonds.schedule(series.principal_cents, series.interest_rate, series.term_months, series.first_due)


def upkeep_in(session: Session, month: Month) -> int:
    return sum(session.scalars(select(UpkeepCost.amount_cents).where(
        UpkeepCost.on_date >= month.first_day, UpkeepCost.on_date <= month.last_day)))


def carried_in(session: Session, month: Month) -> int:
    """The deficit the newest closed month before this one carried out (0 when none)."""
    before = session.scalar(select(LedgerPeriod.carried_out_cents).where(LedgerPeriod.month < month.text)
                            .order_by(LedgerPeriod.month.desc()).limit(1))
    return before or 0


def members_during(session: Session, month: Month) -> list[Member]:
    return list(session.scalars(select(Member).where(
        Member.joined_at < month.end, (Member.left_at.is_(None)) | (Member.left_at >= month.start))
        .order_by(Member.id)))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone).astimezone(UTC)
