"""/api/v1/ledger and /api/v1/machines/<id>/finance: the months list shows the open months and then the closed
ones; an admin closes last month and the dividends add up to the payout to the cent; a month closes once and
only by an admin; a member sees the commune's figures but only their own co-op's line items; a machine's bond
schedule is the hand-computed annuity. The API closes by the wall clock, so the data is in last month.

The books: site north (Berlin), printer-1 at €10.00 an hour, co-ops spokes (two members) and gears (one),
members since before last month.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from sqlalchemy import update

from factory.models import LedgerPeriod, Member
from factory.services.bookings import BookingDraft, create_booking
from factory.services.coops import add_member
from factory.services.finance import BondDraft, UpkeepDraft, add_bond, record_upkeep, set_rate
from tests.integration.booking_api import BERLIN, call, conforms
from tests.integration.conftest import (
    api_get,
    api_token,
    assert_error,
    count,
    make_commune_with_site,
    make_coop,
    make_machine,
    make_user,
    sqlite_only,
)


def month_text(day: date) -> str:
    return f"{day:%Y-%m}"


def months_back(n: int) -> date:
    """The first day of the month `n` months before the current one (Berlin)."""
    today = datetime.now(BERLIN).date()
    index = today.year * 12 + today.month - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def first_tuesday(first_day: date, hour: int = 10) -> datetime:
    """`hour`:00 Berlin on the first Tuesday of `first_day`'s month (the site is open 09:00-17:00), as UTC."""
    day = first_day + timedelta(days=(1 - first_day.weekday()) % 7)
    return datetime.combine(day, time(hour), BERLIN).astimezone(UTC)


CURRENT, LAST, BEFORE_LAST = (month_text(months_back(n)) for n in range(3))


@pytest.fixture
def books(session):
    make_commune_with_site(session, "north")
    make_machine(session, id="printer-1", name="Printer 1", state="idle")
    make_machine(session, id="printer-2", name="Printer 2", state="idle")
    set_rate(session, "printer-1", "10.00", 5)
    make_coop(session, "spokes"), make_coop(session, "gears")
    members = [add_member(session, f"Member {n}", f"m{n}@example.org", coop)
               for n, coop in enumerate(("spokes", "spokes", "gears"), start=1)]
    joined = datetime.combine(months_back(3), time(0), UTC)
    session.execute(update(Member).values(joined_at=joined))
    session.commit()
    for role, login, coop in (("admin", "ada", None), ("steward", "sam", None), ("member", "mia", "spokes"),
                              ("member", "gus", "gears")):
        make_user(session, role, coop, login=login)
    return SimpleNamespace(admin=api_token(session, "ada"), steward=api_token(session, "sam"),
                           mia=api_token(session, "mia"), gus=api_token(session, "gus"),
                           member_ids=[m.id for m in members])


def book(session, coop: str, start: datetime, hours: int = 1, machine: str = "printer-1"):
    return create_booking(session, BookingDraft(machine, coop, start, start + timedelta(hours=hours)),
                          by="steward:sam", now=start - timedelta(days=1))


def bonds_for_printer_1(session) -> None:
    """€12,000 at 6 % a year over 12 months, first due on the 15th of last month."""
    first_due = months_back(1) + timedelta(days=14)
    add_bond(session, "printer-1", BondDraft("Printer bonds", "12000.00", "0.06", 12, first_due, months_back(2)),
             by="admin:ada")


def close(client, token: str, month: str = LAST, body=None):
    return call(client, "POST", f"/api/v1/ledger/periods/{month}/close", token, body)


def closed(client, token: str, month: str = LAST) -> dict:
    response = close(client, token, month)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def periods(client, token: str) -> list[tuple[str, str]]:
    response = api_get(client, "/api/v1/ledger/periods", token)
    assert response.status_code == 200, response.get_json()
    return [(item["month"], item["status"]) for item in response.get_json()["items"]]


def show(client, token: str, month: str = LAST) -> dict:
    response = api_get(client, f"/api/v1/ledger/periods/{month}", token)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- the months ----------------------------------------------------------------------------------------

def test_with_nothing_closed_the_periods_are_the_current_and_the_previous_month_open(client, books):
    assert periods(client, books.gus) == [(CURRENT, "open"), (LAST, "open")]


def test_periods_list_the_open_months_since_the_last_close_then_the_closed_ones_newest_first(client, books):
    closed(client, books.admin, BEFORE_LAST)

    assert periods(client, books.mia) == [(CURRENT, "open"), (LAST, "open"), (BEFORE_LAST, "closed")]

    closed(client, books.admin, LAST)

    listing = api_get(client, "/api/v1/ledger/periods", books.mia).get_json()
    assert [(i["month"], i["status"]) for i in listing["items"]] == [
        (CURRENT, "open"), (LAST, "closed"), (BEFORE_LAST, "closed")]
    assert listing["count"] == 3 and listing["currency"] == "EUR"
    assert listing["items"][0] == {"month": CURRENT, "status": "open"}
    last = listing["items"][1]
    assert (last["closed_by"], last["members"], last["figures"]["payout"]) == ("admin:ada", 3, "0.00")


# --- closing a month -----------------------------------------------------------------------------------

def test_closing_last_month_pays_dividends_that_sum_exactly_to_the_payout(client, books, session):
    book(session, "spokes", first_tuesday(months_back(1)))  # 1 h at €10.00, among three members

    response = close(client, books.admin)

    assert response.status_code == 201
    assert response.headers["Location"] == f"/api/v1/ledger/periods/{LAST}"
    statement = response.get_json()
    assert (statement["month"], statement["status"], statement["closed_by"]) == (LAST, "closed", "admin:ada")
    assert statement["figures"]["rents"] == statement["figures"]["payout"] == "10.00"
    assert statement["members"] == 3
    paid = [(d["member_id"], d["name"], d["amount"]) for d in statement["dividends"]]
    assert paid == [(books.member_ids[0], "Member 1", "3.34"), (books.member_ids[1], "Member 2", "3.33"),
                    (books.member_ids[2], "Member 3", "3.33")]
    assert sum(Decimal(d["amount"]) for d in statement["dividends"]) == Decimal(statement["figures"]["payout"])
    assert show(client, books.steward) == statement


def test_bond_service_and_upkeep_leave_a_deficit_carried_forward_and_no_dividends(client, books, session):
    bonds_for_printer_1(session)
    record_upkeep(session, "printer-1", UpkeepDraft(months_back(1) + timedelta(days=19), "parts", "45.50", "nozzle"),
                  by="steward:sam")
    book(session, "spokes", first_tuesday(months_back(1)), hours=3)

    figures = closed(client, books.admin)["figures"]

    assert figures == {"rents": "30.00", "interest": "60.00", "principal": "972.80", "bond_service": "1032.80",
                       "upkeep": "45.50", "carried_in": "0.00", "surplus": "-1048.30", "payout": "0.00",
                       "carried_out": "-1048.30"}
    assert show(client, books.mia, CURRENT)["figures"]["carried_in"] == "-1048.30"
    assert show(client, books.mia)["dividends"] == []


def test_a_month_closed_already_is_409_period_closed(client, books, session):
    closed(client, books.admin)

    assert_error(close(client, books.admin), 409, "period_closed", field="month")
    assert count(session, LedgerPeriod) == 1


@pytest.mark.parametrize("month", [CURRENT, BEFORE_LAST], ids=["not-over-yet", "a-later-month-is-closed"])
def test_a_month_that_cannot_close_yet_or_any_more_is_409_naming_month(client, books, session, month):
    closed(client, books.admin, LAST)

    assert_error(close(client, books.admin, month), 409, "conflict", field="month")
    assert count(session, LedgerPeriod) == 1


def test_only_admins_close_a_month(client, books, session):
    assert_error(close(client, books.mia), 403, "forbidden")
    assert_error(close(client, books.steward), 403, "forbidden")
    assert_error(close(client, None), 401, "unauthorized")
    assert count(session, LedgerPeriod) == 0
    assert show(client, books.mia)["status"] == "open"


@sqlite_only
@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/ledger/periods"), ("GET", f"/api/v1/ledger/periods/{LAST}"),
    ("POST", f"/api/v1/ledger/periods/{LAST}/close"), ("GET", "/api/v1/machines/printer-1/finance")])
def test_ledger_endpoints_without_a_token_are_401(client, books, method, path):
    assert_error(call(client, method, path), 401, "unauthorized")


# --- who sees what -------------------------------------------------------------------------------------

def test_a_member_of_another_coop_sees_spokes_rent_but_not_its_line_items(client, books, session):
    start = first_tuesday(months_back(1))
    book(session, "spokes", start, hours=2)
    book(session, "gears", start + timedelta(days=1))

    open_month = [show(client, token) for token in (books.gus, books.mia, books.steward)]
    closed(client, books.admin)
    closed_month = [show(client, token) for token in (books.gus, books.mia, books.steward)]

    for status, (gears, spokes, steward) in (("open", open_month), ("closed", closed_month)):
        assert gears["status"] == status
        assert [(r["coop"]["slug"], r["amount"]) for r in gears["rents"]] == [("gears", "10.00"), ("spokes", "20.00")]
        assert gears["rents"] == spokes["rents"] == steward["rents"]
        assert gears["figures"] == spokes["figures"] and gears["dividends"] == spokes["dividends"]
        assert [items["coop"]["slug"] for items in gears["line_items"]] == ["gears"]
        assert [items["coop"]["slug"] for items in spokes["line_items"]] == ["spokes"]
        assert [items["coop"]["slug"] for items in steward["line_items"]] == ["gears", "spokes"]
        [line] = spokes["line_items"][0]["lines"]
        assert (line["machine"], line["source"], line["minutes"], line["rate"], line["amount"]) == (
            "printer-1", "booking", 120, "10.00", "20.00")


# --- a machine's finance -------------------------------------------------------------------------------

def test_finance_shows_the_hand_computed_bond_schedule_upkeep_and_payback(client, books, session):
    bonds_for_printer_1(session)
    record_upkeep(session, "printer-1", UpkeepDraft(months_back(1) + timedelta(days=19), "parts", "45.50", "nozzle"),
                  by="steward:sam")
    book(session, "spokes", first_tuesday(months_back(1)), hours=2)
    closed(client, books.admin)

    response = api_get(client, "/api/v1/machines/printer-1/finance", books.gus)

    assert response.status_code == 200
    finance = response.get_json()
    assert (finance["hourly_rate"], finance["expected_life_years"], finance["currency"]) == ("10.00", 5, "EUR")
    assert finance["acquisition"] == {"cost": "1099.00", "date": None}
    [series] = finance["bonds"]
    assert (series["principal"], series["interest_rate"], series["term_months"]) == ("12000.00", "0.06", 12)
    first, last = series["schedule"][0], series["schedule"][-1]
    assert first == {"number": 1, "due": (months_back(1) + timedelta(days=14)).isoformat(), "payment": "1032.80",
                     "interest": "60.00", "principal": "972.80", "balance": "11027.20"}
    assert (last["number"], last["balance"]) == (12, "0.00")
    assert sum(Decimal(row["principal"]) for row in series["schedule"]) == Decimal("12000.00")
    assert [(u["kind"], u["amount"], u["note"]) for u in finance["upkeep"]] == [("parts", "45.50", "nozzle")]
    assert finance["used_minutes"] == 120
    assert finance["break_even_rate"] is not None and Decimal(finance["break_even_rate"]) > Decimal("10.00")
    assert finance["payback"] == [{"month": LAST, "rent_to_date": "20.00", "bond_balance": "11027.20"}]


def test_finance_of_an_unused_machine_has_no_break_even_rate(client, books):
    finance = api_get(client, "/api/v1/machines/printer-2/finance", books.mia).get_json()

    assert (finance["used_minutes"], finance["break_even_rate"], finance["bonds"]) == (0, None, [])
    assert (finance["hourly_rate"], finance["monthly_service"], finance["payback"]) == ("0.00", "0.00", [])


def test_finance_of_an_unknown_machine_is_404(client, books):
    assert_error(api_get(client, "/api/v1/machines/printer-9/finance", books.mia), 404, "not_found")


# --- malformed requests --------------------------------------------------------------------------------

@sqlite_only
@pytest.mark.parametrize("month", ["2026-13", "2026-00", "November", "2026-1", "0999-01", "3000-01"],
                         ids=["month-13", "month-0", "a-word", "one-digit", "year-too-early", "year-too-late"])
def test_a_bad_month_is_400_naming_month(client, books, session, month):
    assert_error(api_get(client, f"/api/v1/ledger/periods/{month}", books.mia), 400, "invalid_parameter",
                 field="month")
    assert_error(close(client, books.admin, month), 400, "invalid_parameter", field="month")
    assert count(session, LedgerPeriod) == 0


@sqlite_only
@pytest.mark.parametrize("path", ["/api/v1/ledger/periods?year=2026", f"/api/v1/ledger/periods/{LAST}?coop=spokes",
                                  "/api/v1/machines/printer-1/finance?since=2026-01-01"])
def test_an_unknown_query_parameter_is_400_naming_it(client, books, path):
    error = assert_error(api_get(client, path, books.mia), 400, "invalid_parameter")

    assert error["field"] == path.split("?")[1].split("=")[0]


@sqlite_only
def test_a_close_with_a_body_is_400_and_closes_nothing(client, books, session):
    assert_error(close(client, books.admin, body={"force": True}), 400, "invalid_parameter", field="force")
    assert count(session, LedgerPeriod) == 0


# --- the document --------------------------------------------------------------------------------------

def test_ledger_answers_match_the_openapi_schemas(client, books, session):
    bonds_for_printer_1(session)
    record_upkeep(session, "printer-1", UpkeepDraft(months_back(1) + timedelta(days=19), "other", "5.00"),
                  by="steward:sam")
    book(session, "spokes", first_tuesday(months_back(1)), hours=2)
    book(session, "gears", first_tuesday(months_back(1)) + timedelta(days=1), machine="printer-2")
    spec = client.get("/api/v1/openapi.json").get_json()
    listing, month, close_path = "/ledger/periods", "/ledger/periods/{month}", "/ledger/periods/{month}/close"
    finance = "/machines/{machine_id}/finance"

    conforms(spec, listing, "get", 200, api_get(client, "/api/v1/ledger/periods", books.mia).get_json())
    conforms(spec, month, "get", 200, show(client, books.gus))
    conforms(spec, month, "get", 400, api_get(client, "/api/v1/ledger/periods/2026-13", books.gus).get_json())
    conforms(spec, close_path, "post", 403, close(client, books.mia).get_json())
    conforms(spec, close_path, "post", 409, close(client, books.admin, CURRENT).get_json())
    conforms(spec, close_path, "post", 201, closed(client, books.admin))
    conforms(spec, close_path, "post", 409, close(client, books.admin).get_json())
    conforms(spec, listing, "get", 200, api_get(client, "/api/v1/ledger/periods", books.steward).get_json())
    conforms(spec, month, "get", 200, show(client, books.steward))
    conforms(spec, finance, "get", 200, api_get(client, "/api/v1/machines/printer-1/finance", books.mia).get_json())
    conforms(spec, finance, "get", 200, api_get(client, "/api/v1/machines/printer-2/finance", books.mia).get_json())
    conforms(spec, finance, "get", 404, api_get(client, "/api/v1/machines/printer-9/finance", books.mia).get_json())
