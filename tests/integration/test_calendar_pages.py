"""The calendar pages: a site's week timeline and a machine's month, for each role, in the site's time,
and never showing a member another co-op's booking."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from factory.models import Booking
from factory.services.bookings import BookingDraft, create_booking
from factory.services.leases import LeaseDraft, approve_lease, propose_lease
from factory.services.maintenance import MaintenanceDraft, schedule_maintenance
from tests.integration.conftest import (
    logged_in,
    make_commune_with_site,
    make_coop,
    make_machine,
    make_user,
    sqlite_only,
)

WEEK = "2027-W10"  # Mon 8 to Sun 14 March 2027; Berlin is on CET (UTC+1) until 28 March
BEFORE = datetime(2027, 3, 1, 12, tzinfo=UTC)  # when the steward booked


def text(response) -> str:
    return response.get_data(as_text=True)


def book(session, coop: str, start: datetime, hours: float = 2, *, purpose: str = "",
         machine: str = "printer-1") -> Booking:
    draft = BookingDraft(machine, coop, start, start + timedelta(hours=hours), purpose)
    return create_booking(session, draft, by="steward:sam", now=BEFORE)


def day_cell(page: str, day: str) -> str:
    match = re.search(rf'data-date="{day}">(.*?)</td>', page, re.S)
    assert match, f"no cell for {day}"
    return match.group(1)


@pytest.fixture
def shop(session):
    """Site `north` with Printer 1, co-ops `spokes` and `makers`, and a booking of each in week 2027-W10."""
    make_commune_with_site(session, "north")
    make_coop(session, "spokes")
    make_coop(session, "makers")
    make_machine(session)
    make_user(session, "steward", login="sam")
    theirs = book(session, "makers", datetime(2027, 3, 9, 8, 30, tzinfo=UTC), purpose="secret gears")
    ours = book(session, "spokes", datetime(2027, 3, 10, 12, tzinfo=UTC), purpose="our frames")
    return {"theirs": theirs.id, "ours": ours.id}


def as_user(session, client, role: str):
    make_user(session, role, coop="spokes" if role == "member" else None, login=f"{role}-1")
    return logged_in(client, f"{role}-1")


@pytest.mark.parametrize("role", ["admin", "steward", "member"])
def test_week_and_month_pages_render_for_every_role(session, client, shop, role):
    as_user(session, client, role)

    week = client.get(f"/calendar?week={WEEK}")
    month = client.get("/machines/printer-1/calendar?month=2027-03")

    assert week.status_code == 200 and month.status_code == 200
    assert 'class="timeline"' in text(week) and "Printer 1" in text(week)
    assert "Machine time at North Works" in text(week)
    assert 'class="month-grid"' in text(month) and "March 2027" in text(month)


@sqlite_only
def test_the_calendar_needs_a_login(session, client, shop):
    assert client.get("/calendar").status_code == 302
    assert client.get("/machines/printer-1/calendar").status_code == 302


@sqlite_only
@pytest.mark.parametrize("query", ["week=2027-10", "week=2027-W53", "week=2027-W00", "week=", "week=0001-W01",
                                   "site=north&colour=red"])
def test_a_malformed_week_or_an_unknown_parameter_answers_400(session, client, shop, query):
    as_user(session, client, "member")

    assert client.get(f"/calendar?{query}").status_code == 400


@sqlite_only
@pytest.mark.parametrize("query", ["month=2027-13", "month=2027-3", "month=march", "week=2027-W10"])
def test_a_malformed_month_or_an_unknown_parameter_answers_400_on_the_month_view(session, client, shop, query):
    as_user(session, client, "member")

    assert client.get(f"/machines/printer-1/calendar?{query}").status_code == 400


@sqlite_only
def test_an_unknown_site_or_machine_answers_404(session, client, shop):
    as_user(session, client, "steward")

    assert client.get("/calendar?site=nowhere").status_code == 404
    assert client.get("/machines/nothing/calendar").status_code == 404


def test_the_week_page_defaults_to_this_week_at_the_first_site_with_links_either_side(session, client, shop):
    as_user(session, client, "member")
    year, week, _ = datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin")).isocalendar()

    page = text(client.get("/calendar"))

    assert f"{year}-W{week:02d}" in page
    assert 'aria-current="true">This week' in page
    assert 'rel="prev"' in page and 'rel="next"' in page
    assert 'href="/calendar?site=north&amp;week=2027-W11"' in text(client.get(f"/calendar?week={WEEK}"))


def test_a_members_pages_show_another_coops_booking_only_as_booked(session, client, shop):
    as_user(session, client, "member")

    week = text(client.get(f"/calendar?week={WEEK}"))
    month = text(client.get("/machines/printer-1/calendar?month=2027-03"))
    for page in (week, month):
        assert "Makers" not in page and "secret gears" not in page
        assert f"/bookings/{shop['theirs']}" not in page
        assert "booked" in page
        assert "our frames" in page and f"/bookings/{shop['ours']}" in page
    assert "booked" in day_cell(month, "2027-03-09")


def test_a_steward_sees_every_coops_booking_with_its_purpose_and_link(session, client, shop):
    as_user(session, client, "steward")

    page = text(client.get(f"/calendar?week={WEEK}"))

    assert "Makers Co-op" in page and "secret gears" in page and f'href="/bookings/{shop["theirs"]}"' in page
    assert "Spokes Co-op" in page and "our frames" in page


def test_the_month_view_lists_bookings_by_local_day_in_local_time_across_the_clock_change(session, client, shop):
    book(session, "spokes", datetime(2027, 3, 29, 8, tzinfo=UTC), purpose="after the change")  # 10:00 CEST
    as_user(session, client, "steward")

    page = text(client.get("/machines/printer-1/calendar?month=2027-03"))

    assert "09:30–11:30" in day_cell(page, "2027-03-09") and "secret gears" in day_cell(page, "2027-03-09")
    assert "13:00–15:00" in day_cell(page, "2027-03-10")
    assert "10:00–12:00" in day_cell(page, "2027-03-29")
    assert "after the change" not in day_cell(page, "2027-03-28")
    assert re.search(r'data-date="2027-03-01"', page) and re.search(r'data-date="2027-04-04"', page)
    assert 'href="/machines/printer-1/calendar?month=2027-04"' in page


def test_the_month_grid_starts_on_a_monday_and_marks_days_of_other_months(session, client, shop):
    as_user(session, client, "member")

    page = text(client.get("/machines/printer-1/calendar?month=2027-09"))  # 1 September 2027 is a Wednesday

    dates = re.findall(r'class="(in-month|other-month)[^"]*" data-date="([\d-]+)"', page)
    assert dates[0] == ("other-month", "2027-08-30")
    assert date.fromisoformat(dates[0][1]).weekday() == 0
    assert dates[-1] == ("other-month", "2027-10-03") and len(dates) == 35


def test_members_see_maintenance_and_lease_windows_with_the_lessee(session, client, shop):
    admin = make_user(session, "admin", login="ada")
    schedule_maintenance(session, MaintenanceDraft("printer-1", datetime(2027, 3, 11, 8, tzinfo=UTC),
                                                   datetime(2027, 3, 11, 10, tzinfo=UTC), "new belts"),
                         by="steward:sam", now=BEFORE)
    lease = propose_lease(session, LeaseDraft("printer-1", "makers", date(2027, 3, 8), date(2027, 3, 31),
                                              {4: ((540, 1020),)}, "5.00"), viewer=admin, by="admin:ada", now=BEFORE)
    approve_lease(session, lease.id, by="admin:ada", now=BEFORE)
    as_user(session, client, "member")

    week = text(client.get(f"/calendar?week={WEEK}"))
    month = text(client.get("/machines/printer-1/calendar?month=2027-03"))

    assert "new belts" in week and "leased to Makers Co-op" in week
    assert "09:00–11:00" in day_cell(month, "2027-03-11") and "new belts" in day_cell(month, "2027-03-11")
    assert "09:00–17:00" in day_cell(month, "2027-03-12") and "leased to Makers Co-op" in day_cell(month, "2027-03-12")


def test_a_machine_out_of_use_shows_on_todays_cell(session, client, shop):
    make_machine(session, id="kiln-1", name="Kiln", kind="kiln", state="fault")
    as_user(session, client, "member")
    today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin")).date().isoformat()

    page = text(client.get("/machines/kiln-1/calendar"))

    assert "out of use" in day_cell(page, today)


def test_only_stewards_and_admins_get_the_machine_calendar_link_section(session, app, client, shop):
    member, steward = as_user(session, client, "member"), as_user(session, app.test_client(), "steward")

    assert "Calendar link</h2>" not in text(member.get("/machines/printer-1/calendar"))
    page = text(steward.get("/machines/printer-1/calendar"))
    assert "Calendar link</h2>" in page and "Create link" in page


def test_the_machine_page_links_to_its_calendar_and_the_nav_to_the_week(session, client, shop):
    as_user(session, client, "member")

    page = text(client.get("/machines/printer-1"))

    assert 'href="/machines/printer-1/calendar"' in page and 'href="/calendar">Calendar</a>' in page
