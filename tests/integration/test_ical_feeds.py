"""The secret iCalendar links: what a feed holds (exactly the active bookings, in UTC), and who may make,
reset and use a link. A wrong or revoked token answers 404, as if there were no such calendar."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from factory.domain.errors import Forbidden
from factory.domain.local_time import wall_to_utc
from factory.models import CalendarFeed, User
from factory.services.bookings import BookingDraft, cancel_booking, create_booking
from factory.services.calendar_feeds import create_feed, revoke_feed
from factory.services.maintenance import MaintenanceDraft, schedule_maintenance
from tests.integration.conftest import (
    count,
    logged_in,
    make_commune_with_site,
    make_coop,
    make_machine,
    make_user,
    sqlite_only,
    submit,
)

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
_NEW_LINK = re.compile(r'value="([^"]+)" id="new-link"')


def slot(weeks: int, weekday: int, hour: int) -> datetime:
    """`hour`:00 Berlin time on `weekday` (0 = Monday) of the week `weeks` after this one (negative: before)."""
    today = NOW.astimezone(BERLIN).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=weeks)
    return wall_to_utc(monday + timedelta(days=weekday), hour * 60, BERLIN)


def book(session, coop: str, start: datetime, *, purpose: str = "", machine: str = "printer-1",
         now: datetime | None = None):
    draft = BookingDraft(machine, coop, start, start + timedelta(hours=2), purpose)
    return create_booking(session, draft, by="steward:sam", now=now or NOW - timedelta(minutes=5))


def events(response) -> dict[str, tuple[datetime, datetime]]:
    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    return {str(e.uid): (e.start, e.end) for e in Calendar.from_ical(response.data).events}


def span(reservation) -> tuple[datetime, datetime]:
    return reservation.starts_at, reservation.ends_at


def uid(reservation) -> str:
    return f"reservation-{reservation.id}@microfactory"


def new_link(response) -> str:
    assert response.status_code == 201
    match = _NEW_LINK.search(response.get_data(as_text=True))
    assert match, "the page shows no new link"
    return html.unescape(match.group(1))


def machine_link(client, machine: str = "printer-1"):
    return submit(client, f"/machines/{machine}/calendar/link", {}, form_page=f"/machines/{machine}/calendar")


def coop_link(client, coop: str):
    return submit(client, "/calendar/feeds/mine", {"coop": coop})


def user(session, login: str) -> User:
    return session.scalars(select(User).where(User.login == login)).one()


@pytest.fixture
def shop(session):
    """Site `north` with two printers, co-ops `spokes` and `makers`, steward sam and spokes member mia."""
    make_commune_with_site(session, "north")
    make_coop(session, "spokes")
    make_coop(session, "makers")
    make_machine(session)
    make_machine(session, id="printer-2", name="Printer 2")
    make_user(session, "steward", login="sam")
    make_user(session, "member", coop="spokes", login="mia")


def test_machine_feed_holds_exactly_its_active_bookings_and_maintenance_in_utc(session, client, shop):
    first = book(session, "spokes", slot(1, 0, 10), purpose="frames")
    second = book(session, "makers", slot(1, 1, 13), purpose="gears")
    book(session, "makers", slot(1, 0, 10), machine="printer-2")
    window = schedule_maintenance(session, MaintenanceDraft("printer-1", slot(1, 2, 9), slot(1, 2, 12),
                                                            "new belts"), by="steward:sam", now=NOW).window
    url = new_link(machine_link(logged_in(client, "sam")))

    response = client.get(url)

    assert events(response) == {uid(first): span(first), uid(second): span(second), uid(window): span(window)}
    assert "DTSTART:" + first.starts_at.strftime("%Y%m%dT%H%M%SZ") in response.get_data(as_text=True)
    calendar = Calendar.from_ical(response.data)
    assert calendar["PRODID"] and calendar["X-WR-CALNAME"] == "Printer 1 · microfactory"
    by_uid = {str(e.uid): e for e in calendar.events}
    assert by_uid[uid(first)]["SUMMARY"] == "Printer 1: Spokes Co-op"
    assert "frames" in by_uid[uid(first)]["DESCRIPTION"]
    assert by_uid[uid(window)]["SUMMARY"] == "Printer 1: maintenance"
    assert by_uid[uid(second)].DTSTART.tzname() == "UTC"
    assert by_uid[uid(second)]["LAST-MODIFIED"].dt == second.updated_at


def test_cancelled_bookings_and_bookings_over_for_more_than_30_days_are_left_out(session, client, shop):
    kept = book(session, "spokes", slot(1, 0, 10))
    cancelled = book(session, "spokes", slot(1, 1, 10))
    cancel_booking(session, cancelled.id, reason="plans changed", by="steward:sam")
    long_ago = book(session, "spokes", slot(-7, 2, 10), now=NOW - timedelta(days=60))
    recent = book(session, "spokes", slot(-2, 2, 10), now=NOW - timedelta(days=60))
    url = new_link(machine_link(logged_in(client, "sam")))

    found = events(client.get(url))

    assert set(found) == {uid(kept), uid(recent)}
    assert uid(cancelled) not in found and uid(long_ago) not in found


def test_a_coop_feed_holds_only_that_coops_bookings_on_every_machine(session, client, shop):
    ours = [book(session, "spokes", slot(1, 0, 10)), book(session, "spokes", slot(1, 0, 10), machine="printer-2")]
    book(session, "makers", slot(1, 1, 10), purpose="secret gears")
    url = new_link(coop_link(logged_in(client, "mia"), "spokes"))

    response = client.get(url)

    assert events(response) == {uid(b): span(b) for b in ours}
    assert b"secret gears" not in response.data and b"Makers" not in response.data
    assert Calendar.from_ical(response.data)["X-WR-CALNAME"] == "Spokes Co-op bookings · microfactory"


def test_a_wrong_missing_or_misplaced_token_answers_404(session, client, shop):
    token = create_feed(session, "machine", "printer-1", by=user(session, "sam"))

    assert client.get(f"/calendar/feeds/machine/printer-1.ics?token={token}").status_code == 200
    assert client.get(f"/calendar/feeds/machine/printer-1.ics?token={token}x").status_code == 404
    assert client.get("/calendar/feeds/machine/printer-1.ics").status_code == 404
    assert client.get(f"/calendar/feeds/machine/printer-2.ics?token={token}").status_code == 404
    assert client.get(f"/calendar/feeds/coop/spokes.ics?token={token}").status_code == 404
    assert client.get(f"/calendar/feeds/machine/nothing.ics?token={token}").status_code == 404


def test_a_revoked_link_answers_404(session, client, shop):
    token = create_feed(session, "coop", "spokes", by=user(session, "mia"))

    assert revoke_feed(session, "coop", "spokes", by=user(session, "mia")) == 1

    assert client.get(f"/calendar/feeds/coop/spokes.ics?token={token}").status_code == 404


def test_resetting_the_link_turns_the_old_one_off(session, client, shop):
    steward = logged_in(client, "sam")
    old = new_link(machine_link(steward))

    new = new_link(machine_link(steward))

    assert new != old
    assert client.get(old).status_code == 404
    assert client.get(new).status_code == 200
    session.expire_all()
    assert count(session, CalendarFeed) == 2
    assert len(session.scalars(select(CalendarFeed).where(CalendarFeed.revoked_at.is_(None))).all()) == 1


def test_only_the_digest_of_the_token_is_stored(session, shop):
    token = create_feed(session, "coop", "makers", by=user(session, "sam"))

    (feed,) = session.scalars(select(CalendarFeed)).all()
    assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {feed.token_hash, feed.created_by} and feed.created_by == "steward:sam"


def test_the_machine_page_shows_a_made_link_once_and_then_only_that_one_is_in_use(session, client, shop):
    steward = logged_in(client, "sam")
    url = new_link(machine_link(steward))

    page = steward.get("/machines/printer-1/calendar").get_data(as_text=True)

    assert url not in page and url.split("token=")[1] not in page
    assert "is in use" in page and "Reset link" in page


@sqlite_only
def test_a_member_cannot_make_a_link_for_another_coop_or_a_machine(session, client, shop):
    member = logged_in(client, "mia")

    assert coop_link(member, "makers").status_code == 403
    assert machine_link(member).status_code == 403
    with pytest.raises(Forbidden):
        create_feed(session, "machine", "printer-1", by=user(session, "mia"))
    assert count(session, CalendarFeed) == 0


@sqlite_only
def test_a_members_link_page_offers_only_their_own_coop(session, client, shop):
    page = logged_in(client, "mia").get("/calendar/feeds/mine").get_data(as_text=True)

    assert 'name="coop" value="spokes"' in page and "Makers" not in page


def test_stewards_make_links_for_any_coop(session, client, shop):
    steward = logged_in(client, "sam")

    url = new_link(coop_link(steward, "makers"))

    assert "/calendar/feeds/coop/makers.ics?token=" in url
    assert client.get(url).status_code == 200
