"""Whether a stretch of a machine's time may be booked for a co-op, and the next stretches that may.

Pure: the service loads a `MachineCalendar` (the machine's rules, its site's opening hours, what already
holds its time) and these functions decide. Two kinds of answer:
- a *problem* is a rule the request itself breaks (in the past, too long, outside opening hours): fix the
  request; it carries the form field to show it on;
- a *conflict* is something else holding the time (a booking, maintenance, a breakdown, another co-op's
  lease window): pick another slot, and `free_slots` offers some.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from factory.domain.local_time import Span, weekly_spans
from factory.domain.opening_hours import Week, format_day

SLOT_STEP = timedelta(minutes=15)  # the first suggestion starts on a quarter hour; later ones when a holder ends
SEARCH_DAYS = 14  # how far past the wanted time suggestions look
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)


class Kind:
    BOOKING = "booking"
    MAINTENANCE = "maintenance"
    BREAKDOWN = "breakdown"
    LEASE = "lease"


@dataclass(frozen=True)
class BookingRules:
    min_minutes: int = 30
    max_minutes: int = 480
    notice_minutes: int = 0
    horizon_days: int = 180
    unattended_ok: bool = False


@dataclass(frozen=True)
class Busy:
    """Something holding a machine's time: `ref` is the reservation's or lease's id, `coop_id` its co-op."""

    span: Span
    kind: str
    label: str
    ref: int | None = None
    coop_id: int | None = None


@dataclass(frozen=True)
class Problem:
    code: str
    message: str
    field: str


@dataclass(frozen=True)
class MachineCalendar:
    """One machine's time as loaded for a decision; `reservations` excludes the one being changed."""

    machine_id: str
    machine_name: str
    zone: ZoneInfo
    rules: BookingRules
    opening: Week
    reservations: tuple[Busy, ...] = ()
    lease_windows: tuple[Busy, ...] = ()
    breakdown: Busy | None = None


def describe(moment: datetime, zone: ZoneInfo) -> str:
    """`Tue 1 Dec 09:00 CET`: how a time is named in messages, in the site's zone."""
    local = moment.astimezone(zone)
    return f"{local:%a} {local.day} {local:%b %H:%M %Z}"


def span_text(span: Span, zone: ZoneInfo) -> str:
    start, end = span.start.astimezone(zone), span.end.astimezone(zone)
    if span.end >= FOREVER:
        return f"from {describe(span.start, zone)}"
    until = f"{end:%H:%M}" if end.date() == start.date() else describe(span.end, zone)
    return f"{describe(span.start, zone)}–{until}"


def request_problems(span: Span, rules: BookingRules, opening: Week, zone: ZoneInfo, now: datetime) -> list[Problem]:
    """The rules the requested span itself breaks, in the order a person would fix them."""
    problems: list[Problem] = []
    for name, moment in (("starts_at", span.start), ("ends_at", span.end)):
        if moment.second or moment.microsecond:
            problems.append(Problem("not_whole_minute", "times are booked to the minute", name))
    if span.end <= span.start:
        problems.append(Problem("ends_before_start", "the end must be after the start", "ends_at"))
        return problems
    if span.start < now:
        problems.append(Problem("in_past", "the start is in the past", "starts_at"))
    elif span.start < (earliest := now + timedelta(minutes=rules.notice_minutes)):
        problems.append(Problem("short_notice", f"this machine needs {_minutes_text(rules.notice_minutes)} notice; "
                                                f"book from {describe(earliest, zone)}", "starts_at"))
    if span.start > now + timedelta(days=rules.horizon_days):
        problems.append(Problem("too_far_ahead", f"this machine is booked at most {rules.horizon_days} days ahead",
                                "starts_at"))
    minutes = span.duration / timedelta(minutes=1)
    if minutes < rules.min_minutes:
        problems.append(Problem("too_short", f"at least {_minutes_text(rules.min_minutes)} per booking", "ends_at"))
    elif minutes > rules.max_minutes:
        problems.append(Problem("too_long", f"at most {_minutes_text(rules.max_minutes)} per booking", "ends_at"))
    if not rules.unattended_ok and not within_opening(span, opening, zone):
        local = span.start.astimezone(zone)
        hours = format_day(opening.get(local.weekday(), ()))
        problems.append(Problem("outside_opening_hours", f"the site is closed for part of this time (open {local:%a} "
                                                          f"{hours}) and the machine may not run unattended",
                                "starts_at"))
    return problems


def within_opening(span: Span, opening: Week, zone: ZoneInfo) -> bool:
    return any(open_span.contains(span) for open_span in weekly_spans(opening, zone, span.start, span.end))


def conflicts(calendar: MachineCalendar, span: Span, coop_id: int | None) -> list[Busy]:
    """What holds any of `span`: reservations, a breakdown, and lease windows of co-ops other than `coop_id`."""
    found = [busy for busy in calendar.reservations if busy.span.overlaps(span)]
    if calendar.breakdown is not None and calendar.breakdown.span.overlaps(span):
        found.append(calendar.breakdown)
    found += [lease for lease in calendar.lease_windows if lease.coop_id != coop_id and lease.span.overlaps(span)]
    return sorted(found, key=lambda busy: busy.span)


def free_slots(calendar: MachineCalendar, duration: timedelta, after: datetime, coop_id: int | None,
               now: datetime, *, limit: int = 3, search_days: int = SEARCH_DAYS) -> list[Span]:
    """Up to `limit` spans of `duration`, from `after` on, that break no rule and meet no conflict."""
    rules = calendar.rules
    first = _round_up(max(after, now + timedelta(minutes=rules.notice_minutes)))
    last_start = min(first + timedelta(days=search_days), now + timedelta(days=rules.horizon_days))
    holders = [*calendar.reservations, *calendar.lease_windows,
               *([calendar.breakdown] if calendar.breakdown else [])]
    candidates = {first} | {busy.span.end for busy in holders if first < busy.span.end <= last_start}
    if not rules.unattended_ok:
        candidates |= {span.start for span in weekly_spans(calendar.opening, calendar.zone, first, last_start)
                       if span.start >= first}
    found: list[Span] = []
    queue = sorted(candidates)
    while queue and len(found) < limit:
        start = heapq.heappop(queue)
        if start > last_start:
            break
        span = Span(start, start + duration)
        if found and span.start < found[-1].end:
            continue
        if not request_problems(span, rules, calendar.opening, calendar.zone, now) and \
                not conflicts(calendar, span, coop_id):
            found.append(span)
            heapq.heappush(queue, span.end)
    return found


def _round_up(moment: datetime) -> datetime:
    step = SLOT_STEP.total_seconds()
    seconds = moment.timestamp()
    rounded = -(-seconds // step) * step
    return datetime.fromtimestamp(rounded, UTC)


def _minutes_text(minutes: int) -> str:
    if minutes % 1440 == 0 and minutes >= 1440:
        days = minutes // 1440
        return f"{days} day" + ("s" if days > 1 else "")
    if minutes % 60 == 0 and minutes >= 60:
        hours = minutes // 60
        return f"{hours} hour" + ("s" if hours > 1 else "")
    return f"{minutes} minutes"
