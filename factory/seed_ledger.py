"""The demo commune's books: an hourly rate and a five-year life for every machine, bonds on the big machines,
last month's upkeep and bookings, and last month closed, so the statement, the dividends and the machines'
payback have something to show."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from factory.models import Machine, Member
from factory.services.bookings import BookingDraft, create_booking
from factory.services.finance import BondDraft, UpkeepDraft, add_bond, record_upkeep, set_rate
from factory.services.ledger import books_zone, close_period

HOURS_OF_LIFE = 1000  # a machine's cost spread over this many rented hours gives its demo rate
BONDS = (("tormach-1100", "Mill bonds 2024", "7000.00", "0.03", 60), ("nova-35", "Laser bonds 2024", "4500.00",
                                                                        "0.025", 48),
         ("skutt-1027", "Kiln bonds 2024", "2000.00", "0.02", 36))
UPKEEP = (("tormach-1100", 4, "parts", "38.90", "end mills"), ("skutt-1027", 12, "maintenance", "65.00",
                                                                 "element check"),
          ("prusa-mk4-1", 20, "parts", "12.40", "nozzle"))
LAST_MONTH_BOOKINGS = (("tormach-1100", "spokes", 3, 9, 6), ("tormach-1100", "open-furniture", 10, 8, 8),
                       ("nova-35", "open-furniture", 5, 9, 6), ("nova-35", "open-furniture", 17, 9, 7),
                       ("skutt-1027", "clayworks", 11, 8, 8), ("skutt-1027", "clayworks", 25, 8, 8),
                       ("prusa-mk4-1", "spokes", 18, 9, 8), ("induction-1", "foundry-friends", 19, 9, 5))
STEWARD = "steward:steward"


def seed_demo_ledger(session: Session, now: datetime) -> None:
    session.execute(update(Member).values(joined_at=now - timedelta(days=400)))
    session.commit()
    for machine in session.scalars(select(Machine)):
        cost = machine.acquisition_cost or Decimal("1000")
        rate = max(Decimal("2.00"), (cost / HOURS_OF_LIFE).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        set_rate(session, machine.id, rate, 5)
    for machine_id, name, principal, rate, months in BONDS:
        acquired = session.get(Machine, machine_id).acquired_on
        add_bond(session, machine_id, BondDraft(name, principal, rate, months, _month_later(acquired), acquired),
                 by="seed")
    zone = books_zone(session)
    first = _first_of_last_month(now, zone)
    for machine_id, coop, day, hour, hours in LAST_MONTH_BOOKINGS:
        start = datetime(first.year, first.month, day, hour, tzinfo=zone)
        if start.weekday() >= 5:  # the demo site is closed at weekends: the Monday after
            start += timedelta(days=7 - start.weekday())
        create_booking(session, BookingDraft(machine_id, coop, start, start + timedelta(hours=hours), "last month"),
                       by=STEWARD, now=start - timedelta(days=2))
    for machine_id, day, kind, amount, note in UPKEEP:
        record_upkeep(session, machine_id, UpkeepDraft(date(first.year, first.month, day), kind, amount, note),
                      by=STEWARD)
    close_period(session, f"{first:%Y-%m}", by="seed", now=now)


def _first_of_last_month(now: datetime, zone: ZoneInfo) -> date:
    this_month = now.astimezone(zone).date().replace(day=1)
    return (this_month - timedelta(days=1)).replace(day=1)


def _month_later(day: date) -> date:
    month = day.month % 12 + 1
    year = day.year + (day.month == 12)
    return date(year, month, min(day.day, 28))
