"""Stewards booking one machine at the same moment, each on their own connection, on SQLite and PostgreSQL:
of overlapping requests exactly one wins and the rest get a 409; requests that do not overlap all win."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

import factory.db
from factory.domain.errors import BookingConflict, Conflict
from factory.models import Booking, Reservation, ReservationChange
from factory.services.bookings import BookingDraft, create_booking
from tests.integration.conftest import make_commune_with_site, make_coop, make_machine

ATTEMPTS = 50
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # Monday 08:00 CET
TUE_10 = datetime(2026, 12, 8, 10, 0, tzinfo=BERLIN).astimezone(UTC)
JOIN_TIMEOUT_S = 120


def race(db_url: str, drafts: list[BookingDraft]) -> list[Booking | Exception]:
    """Each draft booked by its own thread on its own engine, all released at once by a barrier; the booking
    or the exception each got, in draft order."""
    engines = [factory.db.make_engine(db_url) for _ in drafts]
    outcomes: list[Booking | Exception | None] = [None] * len(drafts)
    barrier = threading.Barrier(len(drafts))

    def attempt(index: int) -> None:
        with factory.db.make_sessionmaker(engines[index])() as session:
            try:
                session.connection()  # connect before the start, so the attempts meet at the database
                barrier.wait(timeout=60)
                outcomes[index] = create_booking(session, drafts[index], by=f"steward-{index}", now=NOW)
            except Exception as exc:  # every outcome is asserted on by the test
                session.rollback()
                outcomes[index] = exc

    threads = [threading.Thread(target=attempt, args=(index,), name=f"booker-{index}") for index in range(len(drafts))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
        assert not any(thread.is_alive() for thread in threads), "a booking attempt hung"
    finally:
        for engine in engines:
            engine.dispose()
    assert all(outcome is not None for outcome in outcomes)
    return outcomes  # type: ignore[return-value]


def setup_machine(session) -> None:
    make_commune_with_site(session, "north")
    make_coop(session, "makers")
    make_coop(session, "others")
    make_machine(session)


def active_reservations(session) -> list[Reservation]:
    session.expire_all()
    return list(session.scalars(select(Reservation).where(Reservation.machine_id == "printer-1",
                                                          Reservation.status == "active")))


def test_only_one_of_fifty_concurrent_overlapping_bookings_succeeds(db_url, session):
    setup_machine(session)
    # starts two minutes apart from Tue 10:00 CET, each two hours long: every pair overlaps
    starts = [TUE_10 + timedelta(minutes=2 * index) for index in range(ATTEMPTS)]
    drafts = [BookingDraft("printer-1", ("makers", "others")[index % 2], start, start + timedelta(hours=2),
                           f"attempt {index}") for index, start in enumerate(starts)]
    assert max(d.starts_at for d in drafts) < min(d.ends_at for d in drafts)

    outcomes = race(db_url, drafts)

    won = [outcome for outcome in outcomes if isinstance(outcome, Booking)]
    refused = [outcome for outcome in outcomes if not isinstance(outcome, Booking)]
    assert len(won) == 1, f"{len(won)} bookings succeeded"
    unexpected = [repr(exc) for exc in refused if not isinstance(exc, Conflict)]
    assert unexpected == [], "only conflicts may come back"
    assert len(refused) == ATTEMPTS - 1 and all(exc.status == 409 for exc in refused)
    assert sum(isinstance(exc, BookingConflict) for exc in refused) >= 1
    [stored] = active_reservations(session)
    assert (stored.id, stored.starts_at, stored.ends_at) == (won[0].id, won[0].starts_at, won[0].ends_at)
    assert session.scalar(select(func.count()).select_from(ReservationChange)) == 1
    for exc in refused:
        if isinstance(exc, BookingConflict):
            assert [held["id"] for held in exc.conflicts] == [stored.id]


def test_fifty_concurrent_bookings_of_touching_slots_all_succeed(db_url, session):
    setup_machine(session)
    # half-hour slots back to back, sixteen a day from Tue 09:00 CET: 50 of them reach into Friday
    starts = [datetime(2026, 12, 8 + index // 16, 9, 0, tzinfo=BERLIN).astimezone(UTC)
              + timedelta(minutes=30 * (index % 16)) for index in range(ATTEMPTS)]
    drafts = [BookingDraft("printer-1", "makers", start, start + timedelta(minutes=30)) for start in starts]

    outcomes = race(db_url, drafts)

    assert [repr(outcome) for outcome in outcomes if not isinstance(outcome, Booking)] == []
    stored = active_reservations(session)
    assert sorted((r.starts_at, r.ends_at) for r in stored) == [(d.starts_at, d.ends_at) for d in drafts]
