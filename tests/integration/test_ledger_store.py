"""Closing the commune's months through the services, on both databases: rent from bookings, operations and
leases with no machine-minute charged twice; bond service and upkeep; the surplus divided equally in exact
cents among the members of the month; a deficit carried forward; a closed month that cannot change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from factory.domain.errors import Conflict, InvalidInput
from factory.models import Dividend, JournalPosting, LedgerPeriod, Member, Operation, RentCharge
from factory.services.bookings import BookingDraft, create_booking
from factory.services.coops import add_member
from factory.services.designs import DesignDraft, StepDraft, create_design
from factory.services.finance import BondDraft, UpkeepDraft, add_bond, record_upkeep, set_rate
from factory.services.leases import LeaseDraft, approve_lease, propose_lease
from factory.services.ledger import close_period, parse_month, statement
from factory.services.orders import OrderDraft, operations_of, place_order
from tests.integration.conftest import make_commune_with_site, make_coop, make_machine, make_user

NOVEMBER = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Berlin
CLOSING = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def books(session):
    """Site north (Berlin), printer-1 at €10.00 an hour, co-ops spokes and gears, three members since October."""
    make_commune_with_site(session, "north")
    make_machine(session, id="printer-1", name="Printer 1", state="idle", unattended_ok=True)
    set_rate(session, "printer-1", "10.00", 5)
    make_coop(session, "spokes"), make_coop(session, "gears")
    for n, coop in enumerate(("spokes", "spokes", "gears"), start=1):
        add_member(session, f"Member {n}", f"m{n}@example.org", coop)
    session.execute(update(Member).values(joined_at=datetime(2026, 10, 1, tzinfo=UTC)))
    session.commit()
    create_design(session, DesignDraft("bracket", "Bracket", "CC0-1.0", "https://example.org/b", "1", max_batch=10,
                                       steps=(StepDraft("print", "fdm_printer", "30", 0),)))
    return {"sam": make_user(session, "steward", login="sam"), "mia": make_user(session, "member", coop="spokes",
                                                                                   login="mia")}


def book(session, coop: str, start: datetime, hours: float):
    return create_booking(session, BookingDraft("printer-1", coop, start, start + timedelta(hours=hours)),
                          by="steward:sam", now=start - timedelta(days=1))


def worked(session, books, coop: str, start: datetime, hours: float) -> Operation:
    order = place_order(session, OrderDraft("bracket", coop, 2, date(2026, 12, 20)), viewer=books["sam"],
                        by="steward:sam", now=start - timedelta(days=1))
    op = operations_of(order)[0]
    op.status, op.machine_id, op.started_at, op.finished_at = "done", "printer-1", start, start + timedelta(hours=hours)
    session.commit()
    return op


def close(session, month: str = "2026-11") -> LedgerPeriod:
    return close_period(session, month, by="admin:ada", now=CLOSING)


def test_bookings_and_operations_are_charged_once_per_machine_minute_and_the_surplus_is_paid_equally(session, books):
    book(session, "spokes", NOVEMBER, 2)  # 10:00-12:00 Berlin: €20.00
    worked(session, books, "gears", NOVEMBER + timedelta(hours=1), 2)  # 11:00-13:00, only 12:00-13:00 is new: €10.00

    period = close(session)

    charges = session.scalars(select(RentCharge).order_by(RentCharge.starts_at)).all()
    assert [(c.source, c.minutes, c.amount_cents) for c in charges] == [("booking", 120, 2000), ("operation", 60, 1000)]
    assert (period.rents_cents, period.payout_cents, period.carried_out_cents, period.members) == (3000, 3000, 0, 3)
    assert sorted(session.scalars(select(Dividend.amount_cents))) == [1000, 1000, 1000]


def test_the_remainder_cents_go_to_the_lowest_member_numbers_and_the_parts_sum_exactly(session, books):
    book(session, "spokes", NOVEMBER, 1)  # €10.00 among three

    close(session)

    paid = session.execute(select(Dividend.member_id, Dividend.amount_cents).order_by(Dividend.member_id)).all()
    assert [cents for _member, cents in paid] == [334, 333, 333]


def test_bond_service_and_upkeep_come_out_first_and_a_deficit_is_carried_forward_not_paid_out(session, books):
    add_bond(session, "printer-1", BondDraft("Printer bonds 2026", "12000.00", "0.06", 12, date(2026, 11, 15),
                                             date(2026, 10, 20)), by="admin:ada")
    record_upkeep(session, "printer-1", UpkeepDraft(date(2026, 11, 20), "parts", "45.50", "nozzle"), by="steward:sam")
    book(session, "spokes", NOVEMBER, 3)

    november = close(session)

    assert (november.interest_cents, november.principal_cents) == (6000, 97280)
    assert november.upkeep_cents == 4550 and november.rents_cents == 3000
    assert november.payout_cents == 0 and november.carried_out_cents == 3000 - 103280 - 4550
    assert session.scalars(select(Dividend)).all() == []
    december = statement(session, parse_month("2026-12", session))
    assert december.carried_in == november.carried_out_cents


def test_every_closed_month_balances_in_the_journal(session, books):
    add_bond(session, "printer-1", BondDraft("Small bonds", "120.00", "0", 12, date(2026, 11, 15),
                                             date(2026, 10, 20)), by="admin:ada")
    book(session, "spokes", NOVEMBER, 4)
    book(session, "gears", NOVEMBER + timedelta(days=1), 2)

    close(session)

    postings = session.scalars(select(JournalPosting)).all()
    assert postings and sum(p.debit_cents for p in postings) == sum(p.credit_cents for p in postings)
    assert sum(session.scalars(select(Dividend.amount_cents))) == 6000 - 1000


def test_a_member_who_joined_in_the_month_shares_and_one_who_left_before_it_does_not(session, books):
    late = add_member(session, "Late joiner", "late@example.org", "gears")
    late.joined_at = datetime(2026, 11, 28, tzinfo=UTC)
    gone = add_member(session, "Gone", "gone@example.org", "gears")
    gone.joined_at, gone.left_at = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 31, tzinfo=UTC)
    session.commit()
    book(session, "spokes", NOVEMBER, 4)  # €40.00 among four

    period = close(session)

    assert period.members == 4
    shares = dict(session.execute(select(Dividend.member_id, Dividend.amount_cents)).all())
    assert shares[late.id] == 1000 and gone.id not in shares


def test_a_lease_charges_its_windows_at_its_rent_and_the_lessees_own_use_inside_them_is_not_charged_again(
        session, books):
    lease = propose_lease(session, LeaseDraft("printer-1", "gears", date(2026, 11, 9), date(2026, 11, 15),
                                              {1: ((8 * 60, 12 * 60),)}, Decimal("6.00")),
                          viewer=books["sam"], by="steward:sam", now=NOVEMBER - timedelta(days=5))
    approve_lease(session, lease.id, by="steward:sam", now=NOVEMBER - timedelta(days=4))
    # the window is Tuesdays 08:00-12:00 in Berlin: 07:00-11:00 UTC on the 10th
    worked(session, books, "gears", NOVEMBER, 1)  # inside gears' own window: paid by the lease
    worked(session, books, "spokes", NOVEMBER + timedelta(hours=1), 1)  # spokes in gears' window: charged to spokes

    close(session)

    charges = {(c.source, c.coop_id): (c.minutes, c.amount_cents) for c in session.scalars(select(RentCharge))}
    assert len(charges) == 2
    lease_minutes, lease_cents = next(v for (source, _coop), v in charges.items() if source == "lease")
    assert (lease_minutes, lease_cents) == (240, 2400)
    assert next(v for (source, _coop), v in charges.items() if source == "operation") == (60, 1000)


def test_a_closed_month_cannot_change_and_is_not_closed_twice(session, books):
    book(session, "spokes", NOVEMBER, 1)
    period = close(session)

    with pytest.raises(Conflict) as again:
        close(session)
    assert again.value.code == "period_closed"
    for statement_text in (f"UPDATE ledger_period SET payout_cents = 0 WHERE id = {period.id}",
                           "DELETE FROM dividend", "UPDATE rent_charge SET amount_cents = 1"):
        with pytest.raises(DBAPIError):
            session.execute(text(statement_text))
        session.rollback()
    assert session.scalar(select(LedgerPeriod.payout_cents)) == 1000


@pytest.mark.parametrize(("month", "error", "field"), [
    ("2026-13", InvalidInput, "month"), ("November", InvalidInput, "month"), ("2026-12", Conflict, "month"),
])
def test_a_month_that_cannot_close_says_why_on_its_field(session, books, month, error, field):
    with pytest.raises(error) as refused:
        close(session, month)
    assert refused.value.field == field


def test_months_close_in_order_and_upkeep_cannot_be_dated_in_a_closed_one(session, books):
    close(session, "2026-11")
    with pytest.raises(Conflict):
        close(session, "2026-10")
    with pytest.raises(Conflict) as refused:
        record_upkeep(session, "printer-1", UpkeepDraft(date(2026, 11, 30), "parts", "5.00"), by="steward:sam")
    assert refused.value.field == "on_date"


def test_no_month_is_skipped_once_one_is_closed(session, books):
    close(session, "2026-09")

    with pytest.raises(Conflict) as refused:
        close(session, "2026-11")

    assert refused.value.field == "month" and "close 2026-10 first" in refused.value.message
    assert close(session, "2026-10").month == "2026-10"
