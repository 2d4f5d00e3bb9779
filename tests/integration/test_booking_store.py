"""The booking service on real SQLite and PostgreSQL: create, conflict with suggestions, edit, cancel, who
sees what, and the database's own no-overlap rule when the service is bypassed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from drivers.messages import format_ts
from factory.domain.capabilities import Capabilities
from factory.domain.errors import BookingConflict, Conflict, InvalidInput, NotFound
from factory.models import Booking, MaintenanceWindow, Notification, Reservation, ReservationChange
from factory.services.booking_series import Weekly, cancel_series, create_series
from factory.services.bookings import (
    BookingDraft,
    BookingQuery,
    cancel_booking,
    create_booking,
    get_booking,
    list_bookings,
    update_booking,
)
from factory.services.machine_time import is_overlap_violation
from factory.services.machines import MachineDraft, change_state, create_machine
from tests.integration.conftest import count, make_commune_with_site, make_coop, make_machine, make_user

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # Monday 08:00 CET


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A Berlin wall time in December 2026, as UTC (8 Dec is a Tuesday)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


TUE_10, TUE_12 = local(8, 10), local(8, 12)


@pytest.fixture
def shop(session):
    """Site north; co-ops makers and others (their ids); two FDM printers and a machine of another kind;
    a steward and a member of each co-op (their users)."""
    make_commune_with_site(session, "north")
    makers, others = make_coop(session, "makers"), make_coop(session, "others")
    make_machine(session)
    make_machine(session, id="printer-2", name="Printer 2")
    make_machine(session, id="oven-1", name="Oven 1", kind="other", capabilities=Capabilities())
    users = {"sam": make_user(session, "steward", login="sam"),
             "mia": make_user(session, "member", coop="makers", login="mia"),
             "otto": make_user(session, "member", coop="others", login="otto")}
    return {"makers": makers.id, "others": others.id, **users}


def book(session, start=TUE_10, end=TUE_12, *, machine="printer-1", coop="makers", purpose="brackets") -> Booking:
    return create_booking(session, BookingDraft(machine, coop, start, end, purpose), by="sam", now=NOW)


def raw_row(machine_id: str, coop_id: int | None, start: datetime, end: datetime, *, kind: str = "booking",
            status: str = "active") -> dict:
    return {"kind": kind, "machine_id": machine_id, "coop_id": coop_id, "starts_at": start, "ends_at": end,
            "purpose": "", "status": status, "created_by": "raw", "created_at": NOW, "updated_at": NOW,
            "cancel_reason": ""}


def actions(session, booking: Booking) -> list[str]:
    return list(session.scalars(select(ReservationChange.action).where(ReservationChange.reservation_id == booking.id)
                                .order_by(ReservationChange.id)))


def notifications(session, coop_id: int) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.coop_id == coop_id)
                                .order_by(Notification.id)))


def broken_printer(session) -> None:
    """Printer 3, registered the day before NOW (so its state can change at NOW whatever the wall clock)."""
    draft = MachineDraft("printer-3", "Printer 3", "fdm_printer", "north", Capabilities(250, 210, 220, ("pla",), 290))
    create_machine(session, draft, by="test", at=NOW - timedelta(days=1))


# --- create ---------------------------------------------------------------------------------------------

def test_booking_is_stored_with_a_created_history_row(session, shop):
    booking = book(session)
    session.expunge_all()
    stored = session.get(Booking, booking.id)
    assert (stored.machine_id, stored.coop_id, stored.status) == ("printer-1", shop["makers"], "active")
    assert (stored.starts_at, stored.ends_at, stored.purpose) == (TUE_10, TUE_12, "brackets")
    assert (stored.created_by, stored.created_at) == ("sam", NOW)
    [change] = stored.changes
    assert (change.action, change.by, change.at, change.starts_at, change.ends_at) == (
        "created", "sam", NOW, TUE_10, TUE_12)


def test_booking_rejected_when_it_breaks_a_rule_and_nothing_is_stored(session, shop):
    with pytest.raises(InvalidInput) as raised:
        book(session, local(8, 16), local(8, 17, 30))
    session.rollback()
    assert (raised.value.code, raised.value.field) == ("outside_opening_hours", "starts_at")
    assert count(session, Reservation) == 0


def test_booking_conflict_names_what_holds_the_time_and_suggests_this_and_equivalent_machines(session, shop):
    first = book(session)
    with pytest.raises(BookingConflict) as raised:
        book(session, local(8, 11), local(8, 13), coop="others")
    session.rollback()
    conflict = raised.value
    assert conflict.status == 409 and conflict.field == "starts_at"
    assert conflict.conflicts == [{"kind": "booking", "id": first.id, "starts_at": format_ts(TUE_10),
                                   "ends_at": format_ts(TUE_12), "label": "booked for Makers Co-op"}]
    assert "Printer 1" in conflict.message
    by_machine: dict[str, list[dict]] = {}
    for slot in conflict.suggestions:
        by_machine.setdefault(slot["machine"], []).append(slot)
    assert list(by_machine) == ["printer-1", "printer-2"]  # same machine first; the oven is another kind
    assert len(by_machine["printer-1"]) == 3 and len(by_machine["printer-2"]) == 2
    for slot in conflict.suggestions:
        start, end = datetime.fromisoformat(slot["starts_at"]), datetime.fromisoformat(slot["ends_at"])
        assert end - start == timedelta(hours=2) and start >= local(8, 11)
        if slot["machine"] == "printer-1":
            assert end <= TUE_10 or start >= TUE_12
    assert by_machine["printer-2"][0]["starts_at"] == format_ts(local(8, 11))  # the other printer is free
    assert count(session, Reservation) == 1


def test_suggested_slot_can_be_booked(session, shop):
    book(session)
    with pytest.raises(BookingConflict) as raised:
        book(session, local(8, 11), local(8, 13), coop="others")
    session.rollback()
    slot = raised.value.suggestions[0]
    booking = book(session, datetime.fromisoformat(slot["starts_at"]), datetime.fromisoformat(slot["ends_at"]),
                   coop="others")
    assert booking.machine_id == slot["machine"]


def test_booking_rejected_when_it_overlaps_maintenance(session, shop):
    window = MaintenanceWindow(machine_id="printer-1", starts_at=local(8, 11, 30), ends_at=local(8, 14),
                               purpose="new nozzle", created_by="sam", created_at=NOW, updated_at=NOW)
    session.add(window)
    session.commit()
    with pytest.raises(BookingConflict) as raised:
        book(session)
    session.rollback()
    [held] = raised.value.conflicts
    assert (held["kind"], held["id"], held["label"]) == ("maintenance", window.id, "maintenance: new nozzle")


def test_booking_rejected_while_the_machine_is_broken_down(session, shop):
    broken_printer(session)
    change_state(session, "printer-3", "fault", by="test", reason="jammed", at=NOW - timedelta(hours=1))
    with pytest.raises(BookingConflict) as raised:
        book(session, machine="printer-3")
    session.rollback()
    [held] = raised.value.conflicts
    assert held["kind"] == "breakdown" and held["ends_at"] is None
    assert not [slot for slot in raised.value.suggestions if slot["machine"] == "printer-3"]


def test_booking_allowed_once_a_broken_machine_is_expected_back(session, shop):
    broken_printer(session)
    change_state(session, "printer-3", "fault", by="test", reason="jammed", at=NOW - timedelta(hours=1),
                 expected_back_at=TUE_10)
    with pytest.raises(BookingConflict):
        book(session, local(8, 9), local(8, 11), machine="printer-3")
    session.rollback()
    assert book(session, machine="printer-3").starts_at == TUE_10


# --- the database's own no-overlap rule -------------------------------------------------------------------

def test_database_refuses_an_overlapping_active_booking_added_past_the_service(session, shop):
    book(session)
    session.add(Booking(machine_id="printer-1", coop_id=shop["others"], starts_at=local(8, 11, 59),
                        ends_at=local(8, 13), purpose="", created_by="raw", created_at=NOW, updated_at=NOW))
    with pytest.raises(IntegrityError) as raised:
        session.commit()
    session.rollback()
    assert is_overlap_violation(raised.value)
    assert count(session, Reservation) == 1


def test_database_refuses_an_overlapping_row_inserted_with_plain_sql(session, shop):
    book(session)
    with pytest.raises(IntegrityError) as raised:
        session.execute(insert(Reservation.__table__).values(
            raw_row("printer-1", None, local(8, 9), local(8, 10, 1), kind="maintenance")))
        session.commit()
    session.rollback()
    assert is_overlap_violation(raised.value)
    assert count(session, Reservation) == 1


def test_database_refuses_moving_a_row_onto_another(session, shop):
    book(session)
    later = book(session, local(8, 13), local(8, 15))
    later_id = later.id
    with pytest.raises(IntegrityError) as raised:
        session.execute(update(Reservation.__table__).where(Reservation.__table__.c.id == later.id)
                        .values(starts_at=local(8, 11)))
        session.commit()
    session.rollback()
    assert is_overlap_violation(raised.value)
    session.expunge_all()
    assert session.get(Booking, later_id).starts_at == local(8, 13)


def test_database_accepts_touching_rows_cancelled_overlaps_and_other_machines(session, shop):
    coop_id = shop["makers"]
    session.execute(insert(Reservation.__table__), [
        raw_row("printer-1", coop_id, TUE_10, TUE_12),
        raw_row("printer-1", None, TUE_12, local(8, 14), kind="maintenance"),  # touches it after
        raw_row("printer-1", coop_id, local(8, 8), TUE_10),  # touches it before
        raw_row("printer-1", coop_id, local(8, 11), local(8, 13), status="cancelled"),
        raw_row("printer-2", coop_id, local(8, 11), local(8, 13)),
    ])
    session.commit()
    assert count(session, Reservation) == 5


def test_database_refuses_reactivating_a_cancelled_row_that_overlaps(session, shop):
    book(session)
    session.execute(insert(Reservation.__table__).values(
        raw_row("printer-1", shop["others"], local(8, 11), local(8, 13), status="cancelled")))
    session.commit()
    with pytest.raises(IntegrityError) as raised:
        session.execute(update(Reservation.__table__).where(Reservation.__table__.c.status == "cancelled")
                        .values(status="active"))
        session.commit()
    session.rollback()
    assert is_overlap_violation(raised.value)


def test_cancelled_booking_does_not_block_the_time(session, shop):
    first = book(session)
    cancel_booking(session, first.id, reason="plans changed", by="sam", now=NOW)
    again = book(session, coop="others")
    assert (again.starts_at, again.ends_at, again.status) == (TUE_10, TUE_12, "active")


def test_touching_bookings_are_both_accepted(session, shop):
    book(session)
    book(session, TUE_12, local(8, 14), coop="others")
    book(session, local(8, 9), TUE_10, coop="others")
    assert count(session, Reservation) == 3


# --- update -----------------------------------------------------------------------------------------------

def test_booking_moved_with_a_reason_keeps_history_and_tells_the_coop(session, shop):
    booking = book(session)
    update_booking(session, booking.id, starts_at=local(8, 11), ends_at=local(8, 13), purpose="longer brackets",
                   reason="the print needs an hour more cooling", by="sam", now=NOW + timedelta(minutes=5))
    session.expunge_all()
    stored = session.get(Booking, booking.id)
    assert (stored.starts_at, stored.ends_at, stored.purpose) == (local(8, 11), local(8, 13), "longer brackets")
    assert stored.updated_at == NOW + timedelta(minutes=5)
    assert actions(session, stored) == ["created", "edited"]
    assert stored.changes[-1].reason == "the print needs an hour more cooling"
    [note] = notifications(session, shop["makers"])
    assert note.subject == "Booking of Printer 1 changed"
    assert "the print needs an hour more cooling" in note.body and note.link == f"/bookings/{booking.id}"
    assert notifications(session, shop["others"]) == []


def test_booking_edit_refused_without_a_reason(session, shop):
    booking = book(session)
    with pytest.raises(InvalidInput) as raised:
        update_booking(session, booking.id, starts_at=local(8, 11), ends_at=local(8, 13), purpose="",
                       reason="  ", by="sam", now=NOW)
    session.rollback()
    assert raised.value.field == "reason"
    assert actions(session, booking) == ["created"]


def test_booking_moved_onto_another_is_a_conflict_and_stays_put(session, shop):
    booking = book(session)
    booking_id, other_id = booking.id, book(session, local(8, 13), local(8, 15), coop="others").id
    with pytest.raises(BookingConflict) as raised:
        update_booking(session, booking_id, starts_at=local(8, 12), ends_at=local(8, 14), purpose="",
                       reason="later", by="sam", now=NOW)
    session.rollback()
    assert [held["id"] for held in raised.value.conflicts] == [other_id]
    session.expunge_all()
    assert session.get(Booking, booking_id).starts_at == TUE_10
    assert notifications(session, shop["makers"]) == []


def test_booking_may_grow_over_its_own_old_time(session, shop):
    booking = book(session)
    update_booking(session, booking.id, starts_at=TUE_10, ends_at=local(8, 13), purpose="", reason="longer",
                   by="sam", now=NOW)
    session.expunge_all()
    assert session.get(Booking, booking.id).ends_at == local(8, 13)


# --- cancel -----------------------------------------------------------------------------------------------

def test_booking_cancelled_with_a_reason_keeps_history_and_tells_the_coop(session, shop):
    booking = book(session)
    cancel_booking(session, booking.id, reason="the part was printed elsewhere", by="sam", now=NOW)
    session.expunge_all()
    stored = session.get(Booking, booking.id)
    assert (stored.status, stored.cancel_reason, stored.cancelled_by, stored.cancelled_at) == (
        "cancelled", "the part was printed elsewhere", "sam", NOW)
    assert actions(session, stored) == ["created", "cancelled"]
    [note] = notifications(session, shop["makers"])
    assert note.subject == "Booking of Printer 1 cancelled" and "the part was printed elsewhere" in note.body


def test_booking_cancel_refused_without_a_reason(session, shop):
    booking = book(session)
    with pytest.raises(InvalidInput) as raised:
        cancel_booking(session, booking.id, reason="", by="sam", now=NOW)
    session.rollback()
    assert raised.value.field == "reason"
    session.expunge_all()
    assert session.get(Booking, booking.id).status == "active"
    assert notifications(session, shop["makers"]) == []


def test_cancelled_booking_cannot_be_cancelled_again(session, shop):
    booking = book(session)
    cancel_booking(session, booking.id, reason="no longer needed", by="sam", now=NOW)
    with pytest.raises(Conflict):
        cancel_booking(session, booking.id, reason="again", by="sam", now=NOW)
    session.rollback()
    assert actions(session, booking) == ["created", "cancelled"]


# --- who sees what ----------------------------------------------------------------------------------------

def test_member_of_another_coop_gets_not_found_for_a_booking(session, shop):
    booking = book(session)
    with pytest.raises(NotFound):
        get_booking(session, booking.id, shop["otto"])
    assert get_booking(session, booking.id, shop["mia"]).id == booking.id
    assert get_booking(session, booking.id, shop["sam"]).id == booking.id


def test_member_lists_only_their_coops_bookings(session, shop):
    ours = book(session)
    theirs = book(session, machine="printer-2", coop="others")
    assert [b.id for b in list_bookings(session, shop["mia"])] == [ours.id]
    assert [b.id for b in list_bookings(session, shop["otto"])] == [theirs.id]
    assert {b.id for b in list_bookings(session, shop["sam"])} == {ours.id, theirs.id}


def test_member_cannot_widen_the_list_to_another_coop(session, shop):
    book(session)
    book(session, machine="printer-2", coop="others")
    assert list_bookings(session, shop["mia"], BookingQuery(coop="others")) == []


def test_cancelled_bookings_are_listed_only_when_asked(session, shop):
    booking = book(session)
    cancel_booking(session, booking.id, reason="plans changed", by="sam", now=NOW)
    assert list_bookings(session, shop["mia"]) == []
    assert [b.id for b in list_bookings(session, shop["mia"], BookingQuery(include_cancelled=True))] == [booking.id]


def test_cancelling_a_weekly_series_cancels_what_is_to_come_and_tells_the_coop_once(session, shop):
    series = create_series(session, BookingDraft("printer-1", "makers", TUE_10, TUE_12, "weekly jig work"),
                           Weekly(count=4), by="sam", now=NOW).series
    told_before = len(notifications(session, shop["makers"]))

    cancelled = cancel_series(session, series.id, reason="the jig is finished", by="sam", now=NOW)

    assert len(cancelled) == 4
    assert all(booking.status == "cancelled" for booking in series.bookings)
    told = notifications(session, shop["makers"])[told_before:]
    assert [n.subject for n in told] == ["Weekly booking of Printer 1 cancelled"]
    assert "4 booking(s)" in told[0].body and "the jig is finished" in told[0].body
