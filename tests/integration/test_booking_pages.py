"""The booking pages through Flask's test client, on a real database, with CSRF protection on.

The pages use the wall clock, so every time here is a Monday at least a week ahead, in the site's zone
(Europe/Berlin, open Monday to Friday 09:00-17:00).
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from factory.models import Booking
from factory.services.booking_series import Weekly, create_series
from factory.services.bookings import BookingDraft, cancel_booking, create_booking
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

BERLIN = ZoneInfo("Europe/Berlin")
TWO_HOURS = timedelta(hours=2)


# --- helpers shared with the lease and maintenance pages' tests -----------------------------------------------

def next_monday(hour: int = 10, minute: int = 0, *, weeks: int = 0) -> datetime:
    """The next Monday at least 7 days ahead (plus `weeks`), at `hour`:`minute` on the site's clock (naive)."""
    first = datetime.now(BERLIN).date() + timedelta(days=7)
    monday = first + timedelta(days=(7 - first.weekday()) % 7, weeks=weeks)
    return datetime.combine(monday, time(hour, minute))


def utc(wall: datetime) -> datetime:
    return wall.replace(tzinfo=BERLIN).astimezone(UTC)


def wall(moment: datetime) -> str:
    """What a datetime-local input sends."""
    return moment.strftime("%Y-%m-%dT%H:%M")


def text(response) -> str:
    return response.get_data(as_text=True)


def book(session, coop: str, start: datetime, end: datetime | None = None, machine: str = "printer-1") -> Booking:
    draft = BookingDraft(machine, coop, utc(start), utc(end or start + TWO_HOURS), "set up by the test")
    return create_booking(session, draft, by="test")


def booking_form(start: datetime, end: datetime | None = None, **overrides) -> dict:
    return {"machine": "printer-1", "coop": "spokes", "starts_at": wall(start),
            "ends_at": wall(end or start + TWO_HOURS), "purpose": "bicycle frames", **overrides}


def unread_in_nav(page: str) -> int:
    match = re.search(r'Notifications <span class="unread">\((\d+)\)</span>', page)
    return int(match.group(1)) if match else 0


def other_client(app, login: str):
    return logged_in(app.test_client(), login)


def make_shop(session) -> None:
    """Site `north` (Berlin, Mon-Fri 09:00-17:00), co-ops spokes and gears, Printer 1, steward sam and
    mia of spokes."""
    make_commune_with_site(session, "north")
    make_coop(session, "spokes")
    make_coop(session, "gears")
    make_machine(session, id="printer-1", name="Printer 1")
    make_user(session, "steward", login="sam")
    make_user(session, "member", coop="spokes", login="mia")


@pytest.fixture
def shop(session):
    make_shop(session)


def clocks_change(month: int) -> date:
    """The next last Sunday of `month` (March: Europe's clocks go forward; October: back)."""
    year = date.today().year
    while True:
        last = date(year, month, 31)
        sunday = last - timedelta(days=(last.weekday() + 1) % 7)
        if sunday > date.today():
            return sunday
        year += 1


# --- booking once --------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("shop")
def test_steward_books_through_the_form_and_sees_it_listed(session, client):
    logged_in(client, "sam")
    start = next_monday(10)

    response = submit(client, "/bookings/new", booking_form(start))

    assert response.status_code == 302
    booking = session.scalars(select(Booking)).one()
    assert (booking.starts_at, booking.ends_at, booking.coop.slug) == (utc(start), utc(start + TWO_HOURS), "spokes")
    assert response.headers["Location"] == f"/bookings/{booking.id}"
    listing = text(client.get("/bookings"))
    assert f'data-booking="{booking.id}"' in listing
    assert f"{start:%a %Y-%m-%d} 10:00–12:00 CET" in listing


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(("start", "end", "field", "message"), [
    (next_monday(12), next_monday(11), "ends_at", "the end must be after the start"),
    (next_monday(18), next_monday(19), "starts_at", "the site is closed"),
    (datetime.combine(clocks_change(3), time(2, 30)), datetime.combine(clocks_change(3), time(3, 30)),
     "starts_at", "does not exist in Europe/Berlin"),
    (datetime.combine(clocks_change(10), time(2, 30)), datetime.combine(clocks_change(10), time(3, 30)),
     "starts_at", "happens twice in Europe/Berlin"),
], ids=["end-before-start", "outside-opening-hours", "spring-forward-gap", "fall-back-repeat"])
def test_bad_booking_returns_the_form_with_the_field_error_and_stores_nothing(session, client, start, end, field,
                                                                              message):
    logged_in(client, "sam")

    response = submit(client, "/bookings/new", booking_form(start, end))

    assert response.status_code == 422
    assert any(message in error for error in field_errors(text(response)).get(field, [])), field_errors(text(response))
    assert count(session, Booking) == 0


@pytest.mark.usefixtures("shop")
def test_conflict_shows_what_holds_the_time_and_suggestions_that_prefill_the_form(session, client):
    book(session, "gears", next_monday(10), next_monday(12))
    logged_in(client, "sam")

    response = submit(client, "/bookings/new", booking_form(next_monday(11), next_monday(13)))

    assert response.status_code == 422
    page = text(response)
    assert "Printer 1 is not free then: booked for Gears Co-op" in page
    links = [html.unescape(link) for link in re.findall(r'class="slot" href="([^"]+)"', page)]
    assert links and links[0].startswith("/bookings/new?") and "machine=printer-1" in links[0]
    assert "coop=spokes" in links[0]
    prefilled = text(client.get(links[0]))
    assert f'value="{wall(next_monday(12))}"' in prefilled, "the first free slot starts when the booking ends"
    assert f'value="{wall(next_monday(14))}"' in prefilled
    assert '<option selected value="spokes">' in prefilled
    assert count(session, Booking) == 1


# --- weekly ----------------------------------------------------------------------------------------------------

def _free_ones_form(page: str) -> dict:
    """The hidden inputs of the "Book the free ones" form, as the browser would send them."""
    form = re.search(r'<form method="post" action="/bookings/new">(.*?)</form>', page, re.S).group(1)
    assert "Book the free ones (skip 1)" in form
    return {name: html.unescape(value) for name, value in
            re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form)}


@pytest.mark.usefixtures("shop")
def test_series_with_a_taken_week_lists_the_occurrences_and_books_the_free_ones(session, client):
    taken = book(session, "gears", next_monday(10, weeks=1))
    logged_in(client, "sam")

    response = submit(client, "/bookings/new", booking_form(next_monday(10), repeat="y", count="3"))

    assert response.status_code == 422
    page = text(response)
    assert len(re.findall(r'<tr class="free">', page)) == 2
    assert len(re.findall(r'<tr class="conflict">', page)) == 1
    assert "booked for Gears Co-op" in page
    assert count(session, Booking) == 1

    booked = client.post("/bookings/new", data=_free_ones_form(page))

    assert booked.status_code == 302
    session.expire_all()
    ours = session.scalars(select(Booking).where(Booking.id != taken.id).order_by(Booking.starts_at)).all()
    assert [b.starts_at for b in ours] == [utc(next_monday(10)), utc(next_monday(10, weeks=2))]
    assert ours[0].series_id is not None and ours[0].series_id == ours[1].series_id


# --- changing and cancelling -------------------------------------------------------------------------------------

@pytest.mark.usefixtures("shop")
def test_editing_a_booking_needs_a_reason_and_tells_the_coop(app, session, client):
    booking = book(session, "spokes", next_monday(10))
    logged_in(client, "sam")
    url = f"/bookings/{booking.id}/edit"
    moved = {"starts_at": wall(next_monday(13)), "ends_at": wall(next_monday(15)), "purpose": "frames"}

    refused = submit(client, url, moved)
    assert refused.status_code == 422
    assert field_errors(text(refused))["reason"] == ["say why, for the co-op and the next steward"]

    assert submit(client, url, {**moved, "reason": "the kiln needs the power at ten"}).status_code == 302
    session.expire_all()
    assert session.get(Booking, booking.id).starts_at == utc(next_monday(13))
    mia = other_client(app, "mia")
    assert unread_in_nav(text(mia.get("/"))) == 1
    notifications = text(mia.get("/notifications"))
    assert "Booking of Printer 1 changed" in notifications and "the kiln needs the power at ten" in notifications
    assert unread_in_nav(text(mia.get("/"))) == 0


@pytest.mark.usefixtures("shop")
def test_cancelling_a_booking_needs_a_reason_and_tells_the_coop(app, session, client):
    booking = book(session, "spokes", next_monday(10))
    logged_in(client, "sam")
    url, page = f"/bookings/{booking.id}/cancel", f"/bookings/{booking.id}"

    refused = submit(client, url, {"reason": "  "}, form_page=page)
    assert refused.status_code == 422
    assert "reason" in field_errors(text(refused))

    assert submit(client, url, {"reason": "nozzle broke"}, form_page=page).status_code == 302
    session.expire_all()
    assert session.get(Booking, booking.id).status == "cancelled"
    mia = other_client(app, "mia")
    assert unread_in_nav(text(mia.get("/bookings"))) == 1
    assert "Booking of Printer 1 cancelled" in text(mia.get("/notifications"))


@pytest.mark.usefixtures("shop")
def test_cancelling_a_series_cancels_every_booking_still_to_come(session, client):
    draft = BookingDraft("printer-1", "spokes", utc(next_monday(10)), utc(next_monday(12)))
    result = create_series(session, draft, Weekly(count=3), by="test")
    logged_in(client, "sam")
    first = result.booked[0]

    response = submit(client, f"/bookings/series/{result.series.id}/cancel",
                      {"series-reason": "the co-op moved out", "series-booking": str(first.id)},
                      form_page=f"/bookings/{first.id}")

    assert response.status_code == 302
    session.expire_all()
    assert [b.status for b in session.scalars(select(Booking))] == ["cancelled"] * 3


# --- who sees what ----------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("shop")
def test_member_sees_only_their_coops_bookings_and_cannot_book(session, client):
    ours, theirs = book(session, "spokes", next_monday(10)), book(session, "gears", next_monday(13))
    logged_in(client, "mia")

    listing = text(client.get("/bookings"))

    assert f'data-booking="{ours.id}"' in listing and f'data-booking="{theirs.id}"' not in listing
    assert "Book a machine" not in listing
    assert client.get(f"/bookings/{ours.id}").status_code == 200
    assert client.get(f"/bookings/{theirs.id}").status_code == 404
    assert client.get("/bookings/new").status_code == 403
    assert client.get(f"/bookings/{ours.id}/edit").status_code == 403


@pytest.mark.usefixtures("shop")
def test_list_shows_upcoming_bookings_and_past_or_cancelled_ones_on_request(session, client):
    kept, dropped = book(session, "spokes", next_monday(10)), book(session, "gears", next_monday(13))
    cancel_booking(session, dropped.id, reason="not needed", by="test")
    make_machine(session, id="printer-2", name="Printer 2")
    other = book(session, "gears", next_monday(10), machine="printer-2")
    logged_in(client, "sam")

    upcoming, everything = text(client.get("/bookings")), text(client.get("/bookings?show=all"))
    only_printer_2 = text(client.get("/bookings?machine=printer-2"))

    assert f'data-booking="{kept.id}"' in upcoming and f'data-booking="{dropped.id}"' not in upcoming
    assert f'data-booking="{dropped.id}"' in everything
    assert f'data-booking="{other.id}"' in only_printer_2 and f'data-booking="{kept.id}"' not in only_printer_2


@pytest.mark.usefixtures("shop")
def test_prefill_link_with_a_malformed_time_is_a_bad_request(client):
    logged_in(client, "sam")

    response = client.get("/bookings/new?machine=printer-1&start=monday")

    assert response.status_code == 400
    assert "start must be an RFC 3339 UTC time" in text(response)


@pytest.mark.parametrize("path", ["/bookings/99999999999999999999", "/leases/99999999999999999999",
                                  "/maintenance/99999999999999999999"])
def test_page_of_an_id_too_large_to_exist_is_404(client, session, path):
    make_commune_with_site(session, "north")
    make_user(session, "steward", login="sam")
    logged_in(client, "sam")

    assert client.get(path).status_code == 404
