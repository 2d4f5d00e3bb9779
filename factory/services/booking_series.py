"""Weekly booking series: the same local weekday and wall time, a number of times or until a date.

Occurrences step in the site's wall time, so a 09:00 booking stays at 09:00 local across a daylight-saving
change. Each occurrence is checked like a single booking; the steward sees which ones cannot be had and
either skips them (the rest are booked) or books nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from drivers.messages import format_ts
from factory.domain.booking_rules import span_text
from factory.domain.errors import BookingConflict, Conflict, InvalidInput, NotFound
from factory.domain.local_time import Span, entered_to_utc, wall_clock
from factory.models import Booking, BookingSeries, utcnow
from factory.services.booking_checks import check_booking
from factory.services.bookings import (
    MAX_PURPOSE,
    BookingDraft,
    cancel_booking,
    check_note,
    commit_reservations,
    create_booking,
)
from factory.services.coops import get_coop
from factory.services.machine_time import is_row_id, lock_machines
from factory.services.machines import get_machine
from factory.services.notifications import notify

MAX_OCCURRENCES = 104  # two years of weeks


@dataclass(frozen=True)
class Weekly:
    """Repeat every week, `count` times in all, or up to and including the local date `until`."""

    count: int | None = None
    until: date | None = None


@dataclass(frozen=True)
class Occurrence:
    span: Span
    code: str = ""  # empty when it can be booked, else why not (a rule's code or booking_conflict)
    message: str = ""
    conflicts: list[dict] = field(default_factory=list)

    @property
    def free(self) -> bool:
        return not self.code


@dataclass(frozen=True)
class SeriesResult:
    series: BookingSeries | None
    booked: list[Booking]
    skipped: list[Occurrence]


def occurrences(first: Span, zone: ZoneInfo, repeat: Weekly) -> list[Span]:
    """The series' spans: `first`, then the same local wall times 7, 14, ... days later."""
    if (repeat.count is None) == (repeat.until is None):
        raise InvalidInput("give either a number of occurrences or an end date", field="count")
    if repeat.count is not None and not 1 <= repeat.count <= MAX_OCCURRENCES:
        raise InvalidInput(f"between 1 and {MAX_OCCURRENCES} occurrences", field="count")
    start, end = first.start.astimezone(zone).replace(tzinfo=None), first.end.astimezone(zone).replace(tzinfo=None)
    if repeat.until is not None and repeat.until < start.date():
        raise InvalidInput("the series ends before its first booking", field="until")
    spans: list[Span] = []
    week = 0
    while len(spans) < MAX_OCCURRENCES:
        wall_start, wall_end = start + timedelta(weeks=week), end + timedelta(weeks=week)
        if repeat.count is not None and week >= repeat.count:
            break
        if repeat.until is not None and wall_start.date() > repeat.until:
            break
        spans.append(Span(_utc(wall_start, zone), _utc(wall_end, zone)))
        week += 1
    if repeat.until is not None and len(spans) == MAX_OCCURRENCES and \
            (start + timedelta(weeks=MAX_OCCURRENCES)).date() <= repeat.until:
        raise InvalidInput(f"a series has at most {MAX_OCCURRENCES} occurrences; choose an earlier end", field="until")
    return spans


def preview_series(session: Session, draft: BookingDraft, repeat: Weekly, *,
                   now: datetime | None = None) -> list[Occurrence]:
    """Each occurrence and whether it can be booked, without booking anything."""
    now = now or utcnow()
    machine, coop = get_machine(session, draft.machine), get_coop(session, draft.coop)
    zone = ZoneInfo(machine.site.time_zone)
    found: list[Occurrence] = []
    first = Span(draft.starts_at, draft.ends_at)
    for week, span in enumerate(occurrences(first, zone, repeat)):
        try:
            _check_walls(first, week, zone)
            check_booking(session, machine, span, coop.id, now, suggest=False)
            found.append(Occurrence(span))
        except BookingConflict as exc:
            found.append(Occurrence(span, exc.code, exc.message, exc.conflicts))
        except InvalidInput as exc:
            found.append(Occurrence(span, exc.code, exc.message))
    return found


def create_series(session: Session, draft: BookingDraft, repeat: Weekly, *, by: str, skip_conflicts: bool = False,
                  now: datetime | None = None) -> SeriesResult:
    """Book every occurrence, or with `skip_conflicts` every free one; else a BookingConflict lists the rest."""
    now = now or utcnow()
    check_note(draft.purpose, field="purpose", max_len=MAX_PURPOSE)
    machine, coop = get_machine(session, draft.machine), get_coop(session, draft.coop)
    zone = ZoneInfo(machine.site.time_zone)
    lock_machines(session, [machine.id])
    planned = preview_series(session, draft, repeat, now=now)
    blocked = [occurrence for occurrence in planned if not occurrence.free]
    if blocked and (not skip_conflicts or len(blocked) == len(planned)):
        raise BookingConflict(_blocked_message(blocked, len(planned), zone, skip_conflicts), field="starts_at",
                              code="series_conflict",
                              conflicts=[occurrence_json(occurrence) for occurrence in blocked])
    series = BookingSeries(machine_id=machine.id, coop_id=coop.id, purpose=draft.purpose.strip(),
                           count=repeat.count, until=repeat.until, created_by=by[:32], created_at=now)
    session.add(series)
    session.flush()
    booked = [create_booking(session, BookingDraft(machine.id, coop.slug, o.span.start, o.span.end, draft.purpose),
                             by=by, now=now, series_id=series.id, commit=False)
              for o in planned if o.free]
    commit_reservations(session)
    return SeriesResult(series, booked, blocked)


def cancel_series(session: Session, series_id: int, *, reason: str, by: str,
                  now: datetime | None = None) -> list[Booking]:
    """Cancel every occurrence still to come (those under way or over stay); returns the cancelled ones."""
    now = now or utcnow()
    series = session.get(BookingSeries, series_id) if is_row_id(series_id) else None
    if series is None:
        raise NotFound(f"no booking series {series_id}")
    if series.cancelled_at is not None:
        raise Conflict("this series is already cancelled", field="reason")
    check_note(reason, field="reason", max_len=500, required=True)
    lock_machines(session, [series.machine_id])
    cancelled = []
    for booking in series.bookings:
        if booking.active and booking.starts_at > now:
            cancel_booking(session, booking.id, reason=reason, by=by, now=now, commit=False, tell=False)
            cancelled.append(booking)
    series.cancelled_at = now
    if cancelled:
        zone = ZoneInfo(cancelled[0].machine.site.time_zone)
        first = span_text(Span(cancelled[0].starts_at, cancelled[0].ends_at), zone)
        notify(session, series.coop_id, f"Weekly booking of {cancelled[0].machine.name} cancelled",
               f"{len(cancelled)} booking(s) from {first} on. Reason: {reason}", f"/bookings/{cancelled[0].id}")
    session.commit()
    return cancelled


def occurrence_json(occurrence: Occurrence) -> dict:
    return {"starts_at": format_ts(occurrence.span.start), "ends_at": format_ts(occurrence.span.end),
            "free": occurrence.free, "code": occurrence.code or None, "message": occurrence.message or None,
            "conflicts": occurrence.conflicts}


def _blocked_message(blocked: list[Occurrence], total: int, zone: ZoneInfo, skipping: bool) -> str:
    if skipping:
        return f"none of the {total} occurrences can be booked"
    dates = ", ".join(span_text(o.span, zone) for o in blocked[:3]) + (" …" if len(blocked) > 3 else "")
    return (f"{len(blocked)} of {total} occurrences cannot be booked ({dates}); skip them or change the series")


def _check_walls(first: Span, week: int, zone: ZoneInfo) -> None:
    """Refuse an occurrence whose wall start or end the clocks skip or show twice that week."""
    for name, moment in (("starts_at", first.start), ("ends_at", first.end)):
        entered_to_utc(wall_clock(moment, zone) + timedelta(weeks=week), zone, field=name)


def _utc(wall: datetime, zone: ZoneInfo) -> datetime:
    return wall.replace(tzinfo=zone).astimezone(UTC)
