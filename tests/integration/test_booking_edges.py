"""Edges of machine time found in review: a check that must see another steward's change made a moment
before, a series across the night the clocks skip, a move for maintenance past a long notice, and an end
moved into the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

import factory.db
from factory.domain.capabilities import Capabilities
from factory.domain.errors import Conflict, InvalidInput
from factory.models import Booking
from factory.services.booking_series import Weekly, preview_series
from factory.services.bookings import BookingDraft, cancel_booking, create_booking, update_booking
from factory.services.machines import MachineDraft, update_machine
from factory.services.maintenance import MaintenanceDraft, schedule_maintenance
from tests.integration.conftest import make_commune_with_site, make_coop, make_machine

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # Monday 08:00 CET


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


@pytest.fixture
def shop(session):
    make_commune_with_site(session, "north")
    make_coop(session, "makers")
    make_machine(session)
    make_machine(session, id="kiln-1", name="Kiln 1", kind="kiln", unattended_ok=True,
                 capabilities=Capabilities(500, 500, 600, max_temperature_c=1290), booking_horizon_days=730)


def test_edit_of_a_booking_another_steward_just_cancelled_is_refused(session, engine, shop):
    booking = create_booking(session, BookingDraft("printer-1", "makers", local(2026, 12, 8, 10),
                                                   local(2026, 12, 8, 12)), by="sam", now=NOW)
    session.get(Booking, booking.id)  # this steward's page has the booking loaded, still active
    with factory.db.make_sessionmaker(engine)() as other:
        cancel_booking(other, booking.id, reason="the co-op called it off", by="steward:ann", now=NOW)

    with pytest.raises(Conflict, match="cancelled"):
        update_booking(session, booking.id, starts_at=local(2026, 12, 8, 10), ends_at=local(2026, 12, 8, 13),
                       purpose="", reason="longer", by="steward:sam", now=NOW)


def test_edit_cannot_move_the_end_of_a_booking_under_way_into_the_past(session, shop):
    booking = create_booking(session, BookingDraft("printer-1", "makers", local(2026, 12, 8, 10),
                                                   local(2026, 12, 8, 13)), by="sam", now=NOW)
    during = local(2026, 12, 8, 11, 30)

    with pytest.raises(InvalidInput) as refused:
        update_booking(session, booking.id, starts_at=booking.starts_at, ends_at=local(2026, 12, 8, 11),
                       purpose="", reason="done early", by="steward:sam", now=during)

    assert refused.value.field == "ends_at"


def test_weekly_occurrence_in_the_hour_the_clocks_skip_is_listed_as_blocked(session, shop):
    draft = BookingDraft("kiln-1", "makers", local(2027, 3, 21, 2, 30), local(2027, 3, 21, 4, 30), "night firing")

    found = preview_series(session, draft, Weekly(count=3), now=NOW)

    assert [occurrence.code for occurrence in found] == ["", "nonexistent_time", ""]
    assert all(o.span.duration == timedelta(hours=2) for o in found if o.free)


def test_booking_moved_for_maintenance_past_a_long_notice_lands_clear_of_later_bookings(session, shop):
    hit = create_booking(session, BookingDraft("kiln-1", "makers", local(2026, 12, 8, 10), local(2026, 12, 8, 12)),
                         by="sam", now=NOW)
    later = create_booking(session, BookingDraft("kiln-1", "makers", local(2027, 1, 12, 10),
                                                 local(2027, 1, 12, 12)), by="sam", now=NOW)
    kiln = hit.machine
    update_machine(session, "kiln-1", MachineDraft(
        "kiln-1", kiln.name, kiln.kind, "north", kiln.capabilities, unattended_ok=True,
        booking_notice_minutes=(later.starts_at - NOW) // timedelta(minutes=1), booking_horizon_days=730))

    result = schedule_maintenance(session, MaintenanceDraft("kiln-1", local(2026, 12, 8, 9), local(2026, 12, 8, 13),
                                                            "element swap"), by="sam", resolution="move", now=NOW)

    moved = [booking for booking, _before in result.moved]
    assert moved == [hit]
    assert hit.starts_at >= later.ends_at or hit.ends_at <= later.starts_at
