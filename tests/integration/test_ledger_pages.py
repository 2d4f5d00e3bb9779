"""The ledger pages through Flask's test client on both databases, CSRF on: the months and the commune's
statement for every role, a co-op's line items kept from other co-ops' members, closing a month (admins only),
the CSV exports and their sums, and the finance and proposal forms' errors on their fields."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from factory.models import AcquisitionProposal, BondSeries, LedgerPeriod, Member, UpkeepCost
from factory.services.bookings import BookingDraft, create_booking
from factory.services.coops import add_member
from factory.services.finance import set_rate
from factory.services.ledger import shift_month
from tests.integration.conftest import (
    count,
    field_errors,
    logged_in,
    make_commune_with_site,
    make_coop,
    make_machine,
    make_user,
    submit,
)
from tests.integration.test_booking_pages import text

BERLIN = ZoneInfo("Europe/Berlin")
BERLIN_NOW = datetime.now(UTC).astimezone(BERLIN)
THIS_MONTH = f"{BERLIN_NOW:%Y-%m}"
LAST_MONTH = shift_month(THIS_MONTH, -1)
IN_LAST_MONTH = datetime(int(LAST_MONTH[:4]), int(LAST_MONTH[5:]), 10, 9, 0, tzinfo=UTC)  # 10:00 or 11:00 Berlin


@pytest.fixture
def books(session, app):
    """Site north (Berlin), printer-1 at €10.00 an hour; co-ops spokes (member mia) and gears (member gus);
    admin ada, steward sam; three commune members since long ago; last month spokes booked 2 h, gears 1 h."""
    make_commune_with_site(session, "north")
    make_machine(session, id="printer-1", name="Printer 1", state="idle", unattended_ok=True)
    set_rate(session, "printer-1", "10.00", 5)
    make_coop(session, "spokes"), make_coop(session, "gears")
    for name, coop in (("Anna Spokes", "spokes"), ("Bert Spokes", "spokes"), ("Gina Gears", "gears")):
        add_member(session, name, f"{name.split()[0].lower()}@example.org", coop)
    session.execute(update(Member).values(joined_at=IN_LAST_MONTH - timedelta(days=90)))
    session.commit()
    for coop, start, hours in (("spokes", IN_LAST_MONTH, 2), ("gears", IN_LAST_MONTH + timedelta(days=1), 1)):
        create_booking(session, BookingDraft("printer-1", coop, start, start + timedelta(hours=hours)),
                       by="steward:sam", now=start - timedelta(days=1))
    make_user(session, "admin", login="ada"), make_user(session, "steward", login="sam")
    make_user(session, "member", coop="spokes", login="mia"), make_user(session, "member", coop="gears", login="gus")
    return {login: logged_in(app.test_client(), login) for login in ("ada", "sam", "mia", "gus")}


def rows_of(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text(response))))


@pytest.mark.parametrize("login", ["ada", "sam", "mia", "gus"])
def test_every_role_sees_the_months_and_the_commune_statement_with_each_members_dividend(books, login):
    client = books[login]

    months = client.get("/ledger")
    assert months.status_code == 200
    assert f'data-month="{LAST_MONTH}"' in text(months) and f'data-month="{THIS_MONTH}"' in text(months)

    page = text(client.get(f"/ledger/{LAST_MONTH}"))
    assert "open: figures so far" in page
    assert 'data-figure="rents">€30.00' in page and 'data-figure="payout">€30.00' in page
    assert "€10.00</strong> to each of 3 members" in page
    for name in ("Anna Spokes", "Bert Spokes", "Gina Gears"):
        assert name in page
    assert "<svg" in page and "Money in and out" in page
    assert ("Close this month" in page) == (login == "ada")


def test_a_coops_line_items_are_its_members_and_the_stewards_but_not_another_coops(books):
    url = f"/ledger/{LAST_MONTH}/coops/spokes"
    for login in ("mia", "sam", "ada"):
        page = books[login].get(url)
        assert page.status_code == 200, login
        assert 'data-source="booking"' in text(page) and "120" in text(page) and "€20.00" in text(page)
    assert books["gus"].get(url).status_code == 404
    assert books["gus"].get(f"{url}.csv").status_code == 404

    statement = text(books["gus"].get(f"/ledger/{LAST_MONTH}"))
    assert f"/ledger/{LAST_MONTH}/coops/gears" in statement
    assert f"/ledger/{LAST_MONTH}/coops/spokes" not in statement
    assert "Spokes Co-op" in statement  # the totals per co-op are everyone's


def test_an_admin_closes_a_month_that_is_over_and_a_steward_or_member_cannot(books, session):
    statement_url = f"/ledger/{LAST_MONTH}"
    for login in ("sam", "mia"):
        assert submit(books[login], f"{statement_url}/close", {}, form_page=statement_url).status_code == 403
    assert count(session, LedgerPeriod) == 0

    assert "Close this month" in text(books["ada"].get(statement_url))
    closed = submit(books["ada"], f"{statement_url}/close", {}, form_page=statement_url)

    assert closed.status_code == 302
    period = session.scalar(select(LedgerPeriod))
    assert (period.month, period.rents_cents, period.payout_cents, period.members) == (LAST_MONTH, 3000, 3000, 3)
    page = text(books["mia"].get(statement_url))
    assert "closed by admin:ada at" in page and "€10.00</strong> to each of 3 members" in page
    assert "Close this month" not in text(books["ada"].get(statement_url))
    again = submit(books["ada"], f"{statement_url}/close", {}, form_page=statement_url)
    assert again.status_code == 409 and "closed already" in text(again)


def test_the_current_month_has_no_close_button_and_closing_it_is_refused(books, session):
    url = f"/ledger/{THIS_MONTH}"
    assert "Close this month" not in text(books["ada"].get(url))

    refused = submit(books["ada"], f"{url}/close", {}, form_page=url)

    assert refused.status_code == 409 and "is not over yet" in text(refused)
    assert count(session, LedgerPeriod) == 0


def test_the_commune_csv_has_a_header_and_its_parts_sum_to_its_totals(books):
    response = books["gus"].get(f"/ledger/{LAST_MONTH}.csv")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="ledger-{LAST_MONTH}.csv"'
    rows = rows_of(response)
    assert rows[0] == ["item", "name", "amount_eur"]
    by_item: dict[str, list[tuple[str, str]]] = {}
    for item, name, amount in rows[1:]:
        by_item.setdefault(item, []).append((name, amount))
    assert by_item["rents"] == [("all co-ops", "30.00")]
    assert sorted(by_item["rent"]) == [("Gears Co-op", "10.00"), ("Spokes Co-op", "20.00")]
    assert sorted(amount for _name, amount in by_item["dividend"]) == ["10.00", "10.00", "10.00"]
    assert by_item["paid_out"] == [("", "30.00")] and by_item["carried_forward"] == [("", "0.00")]


def test_a_coops_csv_lists_its_line_items_in_site_time_summing_to_its_rent(books):
    response = books["mia"].get(f"/ledger/{LAST_MONTH}/coops/spokes.csv")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    header, *lines = rows_of(response)
    assert header[:4] == ["machine", "machine_name", "source", "ref"] and "Europe/Berlin" in header[4]
    assert [(line[0], line[2], line[6], line[7], line[8]) for line in lines] == [
        ("printer-1", "booking", "120", "10.00", "20.00")]
    local = IN_LAST_MONTH.astimezone(BERLIN)
    assert lines[0][4] == f"{local:%Y-%m-%d %H:%M}"


def test_the_finance_page_shows_rate_and_break_even_and_forms_only_to_those_who_may_use_them(books):
    member_page = text(books["mia"].get("/machines/printer-1/finance"))
    assert 'data-figure="rate">€10.00 an hour' in member_page and "Break-even rate" in member_page
    assert "Save the rate" not in member_page and "Add the bonds" not in member_page
    steward_page = text(books["sam"].get("/machines/printer-1/finance"))
    assert "Save the rate" in steward_page and "Record upkeep" in steward_page and "Add the bonds" not in steward_page
    assert "Add the bonds" in text(books["ada"].get("/machines/printer-1/finance"))
    assert "/machines/printer-1/finance" in text(books["mia"].get("/machines/printer-1"))


def test_finance_forms_show_the_field_and_the_reason(books, session):
    url = "/machines/printer-1/finance"
    bad_rate = submit(books["sam"], f"{url}/rate", {"hourly_rate": "12.345", "expected_life_years": "5"},
                      form_page=url)
    assert bad_rate.status_code == 422
    assert field_errors(text(bad_rate))["hourly_rate"] == ["use at most 2 decimals (whole cents)"]
    assert submit(books["sam"], f"{url}/rate", {"hourly_rate": "12.50"}, form_page=url).status_code == 302
    assert "€12.50 an hour" in text(books["mia"].get(url))

    bond = {"name": "Printer bonds", "principal": "1200.00", "interest_rate": "0.06", "term_months": "12",
            "issued_on": "2026-01-20", "first_due": "2026-01-10"}
    assert submit(books["sam"], f"{url}/bonds", bond, form_page=url).status_code == 403
    early = submit(books["ada"], f"{url}/bonds", bond, form_page=url)
    assert early.status_code == 422 and "first_due" in field_errors(text(early))
    assert submit(books["ada"], f"{url}/bonds", {**bond, "first_due": "2026-02-15"}, form_page=url).status_code == 302
    page = text(books["mia"].get(url))
    assert count(session, BondSeries) == 1 and "Repayment schedule (12 instalments)" in page

    missing = submit(books["sam"], f"{url}/upkeep", {"on_date": "", "kind": "parts", "amount": "x"}, form_page=url)
    assert missing.status_code == 422 and {"on_date", "amount"} <= set(field_errors(text(missing)))
    today = BERLIN_NOW.date().isoformat()
    assert submit(books["sam"], f"{url}/upkeep", {"on_date": today, "kind": "parts", "amount": "45.50",
                                                   "note": "nozzle"}, form_page=url).status_code == 302
    assert count(session, UpkeepCost) == 1 and "nozzle" in text(books["mia"].get(url))
    assert submit(books["mia"], f"{url}/upkeep", {"on_date": today, "kind": "parts", "amount": "1"},
                  form_page=url).status_code == 403


def test_after_a_close_the_machine_shows_payback_and_utilisation_for_the_month(books):
    statement_url = f"/ledger/{LAST_MONTH}"
    assert submit(books["ada"], f"{statement_url}/close", {}, form_page=statement_url).status_code == 302

    page = text(books["mia"].get("/machines/printer-1/finance"))

    assert f'data-month="{LAST_MONTH}" data-minutes="180"' in page
    assert 'data-series="Cumulative rent"' in page


PROPOSAL = {"machine_kind": "laser_cutter", "description": "A 60 W laser for acrylic signs",
            "estimated_cost": "4200.00", "lease_hours_per_week": "10", "lease_months": "24", "lease_rate": "6.00",
            "demand": "we turned down four sign orders"}


def test_a_member_proposes_for_their_own_coop_and_an_admin_decides(books, session):
    url = "/ledger/proposals"
    other = submit(books["mia"], url, {**PROPOSAL, "coop": "gears"})
    assert other.status_code == 422 and "coop" in field_errors(text(other))
    no_hours = submit(books["mia"], url, {**PROPOSAL, "coop": "spokes", "lease_hours_per_week": "500"})
    assert field_errors(text(no_hours))["lease_hours_per_week"] == ["1 to 168 hours a week"]

    assert submit(books["mia"], url, {**PROPOSAL, "coop": "spokes"}).status_code == 302
    proposal = session.scalar(select(AcquisitionProposal))
    assert "A 60 W laser" in text(books["mia"].get(url)) and "A 60 W laser" not in text(books["gus"].get(url))

    decide = f"{url}/{proposal.id}/decide"
    prefix = f"p{proposal.id}"
    assert submit(books["sam"], decide, {f"{prefix}-decision": "approve"}, form_page=url).status_code == 403
    bare = submit(books["ada"], decide, {f"{prefix}-decision": "decline", f"{prefix}-note": ""}, form_page=url)
    assert bare.status_code == 422 and f"{prefix}-note" in field_errors(text(bare))
    assert submit(books["ada"], decide, {f"{prefix}-decision": "approve", f"{prefix}-note": "agreed at the assembly"},
                  form_page=url).status_code == 302
    session.expire_all()
    assert session.get(AcquisitionProposal, proposal.id).status == "approved"
    assert "agreed at the assembly" in text(books["mia"].get(url))
