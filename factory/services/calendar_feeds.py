"""Secret iCalendar links to a machine's or a co-op's bookings, and the calendars they serve.

A link carries a random token; only its SHA-256 digest is stored, so the link is shown once, when it is
made. Making a new link for the same machine or co-op revokes the old one ("reset link"). A token that is
unknown, revoked or for another calendar reads as not found, so a guessed link learns nothing.
Who may make links: stewards and admins for machines; for a co-op also its own members.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from factory.domain.errors import Forbidden, InvalidInput, NotFound
from factory.domain.vocabulary import Role
from factory.models import Booking, CalendarFeed, Coop, Machine, Reservation, User, utcnow
from factory.services.coops import get_coop
from factory.services.machine_time import reservations
from factory.services.machines import get_machine

SCOPES = ("machine", "coop")
PRODID = "-//microfactory//machine time//EN"
PAST = timedelta(days=30)
AHEAD = timedelta(days=365)
REFRESH = timedelta(hours=1)


@dataclass(frozen=True)
class _Target:
    """The machine or co-op a link is for."""

    scope: str
    machine_id: str | None = None
    coop_id: int | None = None


def create_feed(session: Session, scope: str, target: str, *, by: User, now: datetime | None = None) -> str:
    """A new link to the calendar of machine `target` (its id) or co-op `target` (its slug); revokes the
    target's previous link. Returns the token, which is never stored."""
    now = now or utcnow()
    found = _allowed_target(session, scope, target, by)
    for old in _active(session, found):
        old.revoked_at = now
    plain = secrets.token_urlsafe(32)
    session.add(CalendarFeed(scope=found.scope, machine_id=found.machine_id, coop_id=found.coop_id,
                             token_hash=_digest(plain), created_by=f"{by.role}:{by.login}"[:32], created_at=now))
    session.commit()
    return plain


def current_feed(session: Session, scope: str, target: str) -> CalendarFeed | None:
    """The target's link in use, if any (its token is not known any more, only when it was made)."""
    return next(iter(_active(session, _target(session, scope, target))), None)


def revoke_feed(session: Session, scope: str, target: str, *, by: User, now: datetime | None = None) -> int:
    """Turn the target's link off; returns how many links were revoked (0 when there was none)."""
    revoked = _active(session, _allowed_target(session, scope, target, by))
    for old in revoked:
        old.revoked_at = now or utcnow()
    session.commit()
    return len(revoked)


def feed_for_token(session: Session, token: str | None, scope: str, target: str) -> CalendarFeed:
    """The live link `token` opens, when it is the link of exactly this calendar."""
    feed = None
    if token:
        feed = session.scalars(select(CalendarFeed).where(CalendarFeed.token_hash == _digest(token))).one_or_none()
    if feed is None or feed.revoked_at is not None or feed.scope != scope or _target_of(session, feed) != target:
        raise NotFound("no such calendar")
    return feed


def feed_calendar(session: Session, feed: CalendarFeed, now: datetime | None = None) -> bytes:
    """The link's calendar: active bookings (a machine's also its maintenance) from 30 days back to a
    year ahead, in UTC."""
    now = now or utcnow()
    start, end = now - PAST, now + AHEAD
    if feed.scope == "machine":
        machine = session.get(Machine, feed.machine_id)
        rows, name = reservations(session, [machine.id], start, end), f"{machine.name} · microfactory"
    else:
        coop = session.get(Coop, feed.coop_id)
        rows, name = _coop_bookings(session, coop.id, start, end), f"{coop.name} bookings · microfactory"
    calendar = Calendar.new(prodid=PRODID, name=name, uid=f"{feed.scope}-{_target_of(session, feed)}@microfactory",
                            refresh_interval=REFRESH)
    for reservation in rows:
        calendar.add_component(_event(reservation))
    return calendar.to_ical()


def _event(reservation: Reservation) -> Event:
    machine = reservation.machine
    if isinstance(reservation, Booking):
        summary = f"{machine.name}: {reservation.coop.name}"
    else:
        summary = f"{machine.name}: maintenance"
    description = "\n".join(line for line in (reservation.purpose, f"{machine.name}, {machine.site.name}") if line)
    return Event.new(uid=f"reservation-{reservation.id}@microfactory", start=reservation.starts_at,
                     end=reservation.ends_at, summary=summary, description=description,
                     location=machine.site.name, last_modified=reservation.updated_at,
                     stamp=reservation.updated_at)


def _coop_bookings(session: Session, coop_id: int, start: datetime, end: datetime) -> list[Booking]:
    return list(session.scalars(
        select(Booking).options(joinedload(Booking.machine).joinedload(Machine.site), joinedload(Booking.coop))
        .where(Booking.coop_id == coop_id, Booking.status == "active", Booking.starts_at < end,
               Booking.ends_at > start)
        .order_by(Booking.starts_at, Booking.id)))


def may_make_feed(user: User, scope: str, coop_id: int | None = None) -> bool:
    if Role(user.role).manages_registry:
        return True
    return scope == "coop" and user.coop_id is not None and user.coop_id == coop_id


def _allowed_target(session: Session, scope: str, target: str, by: User) -> _Target:
    """The target, once `by` is allowed to manage its links."""
    found = _target(session, scope, target)
    if not may_make_feed(by, scope, found.coop_id):
        who = "stewards and admins" if scope == "machine" else "the co-op's members, stewards and admins"
        raise Forbidden(f"only {who} make calendar links for this {scope}")
    return found


def _target(session: Session, scope: str, target: str) -> _Target:
    if scope == "machine":
        return _Target(scope, machine_id=get_machine(session, target).id)
    if scope == "coop":
        return _Target(scope, coop_id=get_coop(session, target).id)
    raise InvalidInput(f"a calendar link is for one of: {', '.join(SCOPES)}", field="scope")


def _active(session: Session, target: _Target) -> list[CalendarFeed]:
    """The target's live links, newest first (one, unless two were made at the same moment)."""
    same = (CalendarFeed.machine_id == target.machine_id if target.scope == "machine"
            else CalendarFeed.coop_id == target.coop_id)
    return list(session.scalars(
        select(CalendarFeed).where(CalendarFeed.scope == target.scope, same, CalendarFeed.revoked_at.is_(None))
        .order_by(CalendarFeed.created_at.desc(), CalendarFeed.id.desc())))


def _target_of(session: Session, feed: CalendarFeed) -> str:
    if feed.scope == "machine":
        return feed.machine_id
    return session.get(Coop, feed.coop_id).slug


def _digest(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()
