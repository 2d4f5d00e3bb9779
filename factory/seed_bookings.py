"""The demo commune's machine time for the coming weeks: bookings, a weekly series, leases, maintenance.

Dates are counted from the week after seeding, in each site's own time zone, so the calendar has
something to show whenever the demo is started.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from factory.domain.local_time import wall_to_utc
from factory.domain.opening_hours import parse_day
from factory.models import User
from factory.services.booking_series import Weekly, create_series
from factory.services.bookings import BookingDraft, create_booking
from factory.services.leases import LeaseDraft, approve_lease, propose_lease
from factory.services.machines import change_state, get_machine
from factory.services.maintenance import MaintenanceDraft, schedule_maintenance

STEWARD = "steward:steward"

# machine, co-op, weekday of next week (0 = Monday), local start, local end, purpose
BOOKINGS = (
    ("tormach-1100", "spokes", 1, "09:00", "12:00", "Dropout plates for the cargo bike batch"),
    ("nova-35", "clayworks", 2, "14:00", "16:00", "Cutting stencils for the tile series"),
    ("form-3", "foundry-friends", 3, "10:00", "15:00", "Castable wax patterns for bracket moulds"),
    ("shapeoko-5", "open-furniture", 0, "08:00", "11:30", "Shelf sides, birch ply"),
    ("xtool-p2", "spokes", 4, "13:00", "15:00", "Engraved head badges"),
)


def seed_demo_time(session: Session, now: datetime) -> None:
    steward = session.query(User).filter_by(role="steward").first()
    for machine_id, coop, weekday, start, end, purpose in BOOKINGS:
        starts_at, ends_at = _next_week(session, machine_id, weekday, start, end, now)
        create_booking(session, BookingDraft(machine_id, coop, starts_at, ends_at, purpose), by=STEWARD, now=now)
    starts_at, ends_at = _next_week(session, "skutt-1027", 3, "08:00", "16:00", now)
    create_series(session, BookingDraft("skutt-1027", "clayworks", starts_at, ends_at, "Glaze firing"),
                  Weekly(count=6), by=STEWARD, now=now)
    monday = _next_monday(session, "nova-35", now)
    windows = {0: parse_day("09:00-13:00", field="mon"), 2: parse_day("09:00-13:00", field="wed")}
    lease = propose_lease(session, LeaseDraft("nova-35", "open-furniture", monday, monday + timedelta(days=90),
                                              windows, Decimal("6.00"), "Flat-pack shelf production"),
                          viewer=steward, by="member:kwame", now=now)
    approve_lease(session, lease.id, by=STEWARD, note="Fits the laser's free mornings", now=now)
    propose_lease(session, LeaseDraft("shapeoko-5", "open-furniture", monday, monday + timedelta(days=60),
                                      {1: parse_day("08:00-12:00", field="tue")}, Decimal("5.50")),
                  viewer=steward, by="member:claire", now=now)
    starts_at, ends_at = _next_week(session, "prusa-mk4-1", 4, "08:00", "10:00", now)
    schedule_maintenance(session, MaintenanceDraft("prusa-mk4-1", starts_at, ends_at, "Nozzle swap and belt check"),
                         by=STEWARD, now=now)
    change_state(session, "bambu-x1c", "fault", by=STEWARD, expected_back_at=now + timedelta(days=2), at=now)


def _next_monday(session: Session, machine_id: str, now: datetime) -> date:
    today = now.astimezone(ZoneInfo(get_machine(session, machine_id).site.time_zone)).date()
    return today + timedelta(days=7 - today.weekday())


def _next_week(session: Session, machine_id: str, weekday: int, start: str, end: str,
               now: datetime) -> tuple[datetime, datetime]:
    zone = ZoneInfo(get_machine(session, machine_id).site.time_zone)
    day = _next_monday(session, machine_id, now) + timedelta(days=weekday)
    return wall_to_utc(day, _minutes(start), zone), wall_to_utc(day, _minutes(end), zone)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)
