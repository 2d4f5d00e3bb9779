"""Site-local wall time and UTC spans: weekly windows (opening hours, lease windows) laid over real dates.

Every conversion goes through the site's zone on the wall-clock date, so a window of 09:00-17:00 is
09:00-17:00 local on the night the clocks change too: the UTC span is an hour shorter or longer when the
window holds the change itself (a 00:00-24:00 day lasts 23 or 25 hours).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from factory.domain.errors import InvalidInput
from factory.domain.opening_hours import Week

# Years a time or date may name: far enough for any booking or lease, near enough that a day's margin either
# side never leaves what datetime can hold.
SUPPORTED_YEARS = range(1970, 3000)


def check_year(year: int, *, field: str) -> None:
    if year not in SUPPORTED_YEARS:
        raise InvalidInput(f"give a year from {SUPPORTED_YEARS.start} to {SUPPORTED_YEARS.stop - 1}", field=field,
                           code="year_out_of_range")


@dataclass(frozen=True, order=True)
class Span:
    """`[start, end)` in aware UTC datetimes; spans that only touch do not overlap."""

    start: datetime
    end: datetime

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end

    def contains(self, other: Span) -> bool:
        return self.start <= other.start and other.end <= self.end

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def wall_to_utc(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """`minutes` after local midnight of `day` (1440 = the next midnight), as UTC."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minutes)
    return wall.replace(tzinfo=zone).astimezone(UTC)


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    """Every local date the span `[start, end)` touches, with one day of margin either side."""
    first, last = local_date(start, zone) - timedelta(days=1), local_date(end, zone) + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def weekly_spans(week: Week, zone: ZoneInfo, start: datetime, end: datetime, *, first_day: date | None = None,
                 last_day: date | None = None, skip_days: Iterable[date] = ()) -> list[Span]:
    """The UTC spans of `week`'s windows that meet `[start, end)`, sorted, touching ones merged.

    Only local dates from `first_day` to `last_day` (inclusive) count, and none of `skip_days`.
    """
    skipped = set(skip_days)
    spans: list[Span] = []
    for day in local_days(start, end, zone):
        if (first_day and day < first_day) or (last_day and day > last_day) or day in skipped:
            continue
        for opens, closes in week.get(day.weekday(), ()):
            span = Span(wall_to_utc(day, opens, zone), wall_to_utc(day, closes, zone))
            if span.start < span.end and span.start < end and start < span.end:
                spans.append(span)
    return merge(spans)


def merge(spans: Iterable[Span]) -> list[Span]:
    """Sorted, with overlapping and touching spans joined into one."""
    merged: list[Span] = []
    for span in sorted(spans):
        if merged and span.start <= merged[-1].end:
            merged[-1] = Span(merged[-1].start, max(merged[-1].end, span.end))
        else:
            merged.append(span)
    return merged


def entered_to_utc(wall: datetime, zone: ZoneInfo, *, field: str) -> datetime:
    """`wall` (naive, as the site's clock shows it) in UTC; a skipped or repeated wall time names `field`."""
    check_year(wall.year, field=field)
    early, late = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if early.utcoffset() == late.utcoffset():
        return early.astimezone(UTC)
    when = f"{wall:%Y-%m-%d %H:%M}"
    if early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
        raise InvalidInput(f"{when} does not exist in {zone.key}: the clocks go forward that night; "
                           "choose a time outside the skipped hour", field=field, code="nonexistent_time")
    raise InvalidInput(f"{when} happens twice in {zone.key}: the clocks go back that night; "
                       "choose a time outside the repeated hour", field=field, code="ambiguous_time")


def wall_clock(moment: datetime, zone: ZoneInfo) -> datetime:
    """A UTC moment as the site's clock shows it (naive), as a datetime-local input wants it."""
    return moment.astimezone(zone).replace(tzinfo=None)
