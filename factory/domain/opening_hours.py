"""A site's opening hours: per weekday, zero or more intervals in minutes after local midnight."""

from __future__ import annotations

import re
from collections.abc import Mapping

from factory.domain.errors import InvalidInput

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Interval = tuple[int, int]
Week = dict[int, tuple[Interval, ...]]

_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")


def parse_day(text: str, *, field: str) -> tuple[Interval, ...]:
    """Parse `08:00-12:00, 13:00-18:00`; an empty text or `closed` means closed all day."""
    text = (text or "").strip().lower()
    if text in ("", "closed", "-"):
        return ()
    intervals: list[Interval] = []
    for part in text.split(","):
        match = _RANGE.match(part.strip())
        if not match:
            raise InvalidInput(f"{part.strip()!r} is not a time range like 08:00-17:30", field=field)
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        start, end = _minutes(h1, m1, field), _minutes(h2, m2, field)
        if start >= end:
            raise InvalidInput(f"{part.strip()} closes before it opens", field=field)
        intervals.append((start, end))
    intervals.sort()
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        if start < end:
            raise InvalidInput("time ranges overlap", field=field)
    return tuple(intervals)


def parse_week(texts: Mapping[str, str]) -> Week:
    """Parse one text per weekday name (`mon`..`sun`), each field named after its day."""
    return {day: parse_day(texts.get(name, ""), field=f"hours_{name}") for day, name in enumerate(WEEKDAYS)}


def week_of(rows) -> Week:
    """A Week from rows with `weekday`, `opens_min` and `closes_min` (a site's opening hours, a lease's windows)."""
    week: Week = {day: () for day in range(7)}
    for row in rows:
        week[row.weekday] = (*week[row.weekday], (row.opens_min, row.closes_min))
    return week


def format_day(intervals: tuple[Interval, ...]) -> str:
    if not intervals:
        return "closed"
    return ", ".join(f"{_hhmm(start)}-{_hhmm(end)}" for start, end in intervals)


def _minutes(hours: int, minutes: int, field: str) -> int:
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise InvalidInput(f"{hours:02d}:{minutes:02d} is not a time of day", field=field)
    return hours * 60 + minutes


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
