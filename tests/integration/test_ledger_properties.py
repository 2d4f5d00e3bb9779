"""Whatever a month held, closing it keeps the books' rules, on both databases: random bookings, operations,
bonds, upkeep and members (seeded, so a failure repeats), then every journal entry balances, the dividends sum
exactly to what was paid out and differ by at most a cent, no machine-minute is charged twice, a deficit is
carried and not paid, and the closed month's rows refuse any change."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from factory.models import Dividend, JournalEntry, Member, RentCharge
from factory.services.bookings import BookingDraft, create_booking
from factory.services.coops import add_member
from factory.services.designs import DesignDraft, StepDraft, create_design
from factory.services.finance import BondDraft, UpkeepDraft, add_bond, record_upkeep, set_rate
from factory.services.ledger import close_period
from factory.services.orders import OrderDraft, operations_of, place_order
from tests.integration.conftest import make_commune_with_site, make_coop, make_machine, make_user

MONTH_START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # the first Monday of November, 09:00 in Berlin
PROTECTED = ("ledger_period", "rent_charge", "dividend", "journal_entry", "journal_posting")


def random_month(session, rng: random.Random) -> None:
    make_commune_with_site(session, "north")
    for n in (1, 2):
        make_machine(session, id=f"printer-{n}", name=f"Printer {n}", state="idle", unattended_ok=True)
        set_rate(session, f"printer-{n}", f"{rng.randint(100, 2500) / 100:.2f}", 5)
    coops = ["spokes", "gears", "clay"]
    for slug in coops:
        make_coop(session, slug)
    for n in range(rng.randint(1, 7)):
        add_member(session, f"Member {n}", f"m{n}@example.org", rng.choice(coops))
    session.execute(update(Member).values(joined_at=datetime(2026, 10, 1, tzinfo=UTC)))
    session.commit()
    sam = make_user(session, "steward", login="sam")
    create_design(session, DesignDraft("part", "Part", "CC0-1.0", "https://example.org/p", "1", max_batch=10,
                                       steps=(StepDraft("print", "fdm_printer", "30", 0),)))
    for n in range(rng.randint(0, 12)):  # bookings on weekdays, never overlapping on one machine (the rule)
        day = MONTH_START + timedelta(days=7 * (n // 4) + n % 4)
        start = day + timedelta(hours=rng.randint(0, 4))
        create_booking(session, BookingDraft(f"printer-{1 + n % 2}", rng.choice(coops), start,
                                             start + timedelta(minutes=30 * rng.randint(1, 8))),
                       by="steward:sam", now=start - timedelta(days=1))
    for _ in range(rng.randint(0, 6)):  # operations that may overlap bookings and each other
        order = place_order(session, OrderDraft("part", rng.choice(coops), 2, date(2026, 12, 20)), viewer=sam,
                            by="steward:sam", now=MONTH_START - timedelta(days=1))
        op = operations_of(order)[0]
        op.status, op.machine_id = "done", f"printer-{rng.randint(1, 2)}"
        op.started_at = MONTH_START + timedelta(days=rng.randint(0, 20), minutes=rng.randint(0, 600))
        op.finished_at = op.started_at + timedelta(minutes=rng.randint(1, 300))
        session.commit()
    if rng.random() < 0.6:
        add_bond(session, "printer-1", BondDraft("Bonds", f"{rng.randint(100, 300000) / 100:.2f}",
                                                 f"{rng.randint(0, 80) / 1000}", rng.randint(6, 60),
                                                 date(2026, 11, rng.randint(1, 28)), date(2026, 10, 1)), by="admin")
    for _ in range(rng.randint(0, 3)):
        record_upkeep(session, "printer-2", UpkeepDraft(date(2026, 11, rng.randint(1, 30)), "parts",
                                                        f"{rng.randint(1, 20000) / 100:.2f}"), by="steward:sam")


@pytest.mark.parametrize("seed", range(6))
def test_a_closed_month_balances_pays_exactly_and_charges_no_minute_twice(session, seed):
    random_month(session, random.Random(seed))

    period = close_period(session, "2026-11", by="admin:ada", now=datetime(2026, 12, 1, 8, tzinfo=UTC))

    for entry in session.scalars(select(JournalEntry)):
        assert sum(p.debit_cents for p in entry.postings) == sum(p.credit_cents for p in entry.postings), entry.memo
    paid = list(session.scalars(select(Dividend.amount_cents)))
    assert sum(paid) == period.payout_cents
    assert not paid or max(paid) - min(paid) <= 1
    result = period.rents_cents - period.interest_cents - period.principal_cents - period.upkeep_cents
    assert (period.payout_cents, period.carried_out_cents) == (max(result, 0), min(result, 0))
    by_machine = defaultdict(list)
    for charge in session.scalars(select(RentCharge)):
        by_machine[charge.machine_id].append((charge.starts_at, charge.ends_at))
        assert charge.minutes <= (charge.ends_at - charge.starts_at).total_seconds() / 60
    for spans in by_machine.values():
        spans.sort()
        assert all(end <= next_start for (_s, end), (next_start, _e) in zip(spans, spans[1:], strict=False))
    for table in PROTECTED:  # a table with rows refuses to lose or change any (an empty one has none to refuse)
        if session.scalar(text(f"SELECT count(*) FROM {table}")):
            for change in (f"DELETE FROM {table}", f"UPDATE {table} SET id = id"):
                with pytest.raises(DBAPIError):
                    session.execute(text(change))
                session.rollback()
