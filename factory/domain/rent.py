"""Which machine time is charged as rent, so that no minute of a machine is charged twice.

A co-op uses a machine by booking it (the hours booked) or by running an operation on it (the hours it
ran). Per machine, each minute is held by one use at most, taken in this order: bookings before operations
(an operation inside any booking's time is not charged again), and among uses of the same kind the earlier
start, then the lower ref. A use holds only what no use before it holds; what it holds is charged to its
co-op, except the spans `covered` for that co-op on that machine (a lease's windows, paid by the lease's
fixed rent). A covered use still holds its minutes: another co-op's operation inside it is not charged.

Everything is clipped to the period [period_start, period_end). Each charged piece counts its whole minutes
(the seconds of each piece are dropped); a piece of less than a minute is not charged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from factory.domain.errors import InvalidInput

SOURCES = ("booking", "operation")  # in order of precedence

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Use:
    """A co-op's use of a machine from `start` to `end` (aware datetimes, stored in UTC; end after start).
    `source` is "booking" or "operation", `ref` the booking's or operation's id."""

    machine: str
    coop_id: int
    start: datetime
    end: datetime
    source: str
    ref: int

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise InvalidInput(f"unknown source {self.source!r}; use one of {', '.join(SOURCES)}", field="source")
        object.__setattr__(self, "start", _utc(self.start, "start"))
        object.__setattr__(self, "end", _utc(self.end, "end"))
        if self.end <= self.start:
            raise InvalidInput("a use must end after it starts", field="end")


@dataclass(frozen=True)
class Charge:
    """A piece of one Use that is charged: `minutes` whole minutes from `start` to `end`."""

    machine: str
    coop_id: int
    source: str
    ref: int
    start: datetime
    end: datetime
    minutes: int


def chargeable(uses: Sequence[Use], covered: Sequence[tuple[str, int, datetime, datetime]] = (), *,
               period_start: datetime, period_end: datetime) -> list[Charge]:
    """The charged pieces of `uses` in [period_start, period_end), sorted by (machine, start); see the module
    docstring for the rule. `covered` lists (machine, coop_id, start, end) spans already paid another way."""
    period_start, period_end = _utc(period_start, "period_start"), _utc(period_end, "period_end")
    if period_end <= period_start:
        raise InvalidInput("a period must end after it starts", field="period_end")
    paid: dict[tuple[str, int], list[Span]] = {}
    for machine, coop_id, start, end in covered:
        start, end = max(_utc(start, "start"), period_start), min(_utc(end, "end"), period_end)
        if start < end:
            paid.setdefault((machine, coop_id), []).append((start, end))
    held: dict[str, list[Span]] = {}
    charges = []
    for use in sorted(uses, key=lambda u: (SOURCES.index(u.source), u.start, u.ref)):
        start, end = max(use.start, period_start), min(use.end, period_end)
        if start >= end:
            continue
        taken = held.setdefault(use.machine, [])
        pieces = _subtract([(start, end)], taken)
        taken.extend(pieces)
        for piece_start, piece_end in _subtract(pieces, paid.get((use.machine, use.coop_id), [])):
            minutes = int((piece_end - piece_start).total_seconds() // 60)
            if minutes:
                charges.append(Charge(use.machine, use.coop_id, use.source, use.ref, piece_start, piece_end,
                                      minutes))
    return sorted(charges, key=lambda c: (c.machine, c.start))


def _subtract(spans: Sequence[Span], holes: Sequence[Span]) -> list[Span]:
    """What of `spans` (half-open, not overlapping one another) lies outside every hole, in order."""
    left = sorted(spans)
    for hole_start, hole_end in holes:
        kept: list[Span] = []
        for start, end in left:
            if hole_end <= start or end <= hole_start:
                kept.append((start, end))
                continue
            if start < hole_start:
                kept.append((start, hole_start))
            if hole_end < end:
                kept.append((hole_end, end))
        left = kept
    return left


def _utc(moment: datetime, field: str) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput("give an aware datetime (with its time zone)", field=field)
    return moment.astimezone(UTC)
