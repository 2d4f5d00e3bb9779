from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factory.domain.errors import InvalidInput
from factory.domain.rent import Charge, Use, chargeable

DAY = datetime(2025, 3, 1, tzinfo=UTC)
PERIOD = {"period_start": DAY, "period_end": DAY + timedelta(days=31)}


def at(hours: float, seconds: int = 0) -> datetime:
    return DAY + timedelta(hours=hours, seconds=seconds)


def booking(ref: int, start: float, end: float, *, coop: int = 1, machine: str = "laser") -> Use:
    return Use(machine, coop, at(start), at(end), "booking", ref)


def operation(ref: int, start: float, end: float, *, coop: int = 1, machine: str = "laser") -> Use:
    return Use(machine, coop, at(start), at(end), "operation", ref)


def pieces(charges: list[Charge]) -> list[tuple[str, int, float, float, int]]:
    """(source, ref, start hour, end hour, minutes) of each charge."""
    hour = timedelta(hours=1)
    return [(c.source, c.ref, (c.start - DAY) / hour, (c.end - DAY) / hour, c.minutes) for c in charges]


def test_a_booking_is_charged_its_whole_minutes():
    assert chargeable([booking(1, 9, 11.5)], **PERIOD) == [
        Charge("laser", 1, "booking", 1, at(9), at(11.5), 150)]


def test_a_use_is_clipped_to_the_period():
    uses = [booking(1, -2, 1), booking(2, 743, 745)]  # the period ends 744 hours after it starts
    assert pieces(chargeable(uses, **PERIOD)) == [("booking", 1, 0, 1, 60), ("booking", 2, 743, 744, 60)]


def test_a_use_wholly_outside_the_period_is_not_charged():
    assert chargeable([booking(1, -5, -1), booking(2, 744, 746)], **PERIOD) == []


def test_an_operation_inside_its_coops_booking_is_not_charged_again():
    assert pieces(chargeable([booking(1, 9, 12), operation(7, 10, 11)], **PERIOD)) == [("booking", 1, 9, 12, 180)]


def test_an_operation_inside_another_coops_booking_is_not_charged_either():
    uses = [booking(1, 9, 12, coop=1), operation(7, 10, 11, coop=2)]
    assert pieces(chargeable(uses, **PERIOD)) == [("booking", 1, 9, 12, 180)]


def test_a_booking_wins_over_an_operation_that_started_earlier():
    uses = [operation(7, 8, 10), booking(1, 9, 12)]
    assert pieces(chargeable(uses, **PERIOD)) == [("operation", 7, 8, 9, 60), ("booking", 1, 9, 12, 180)]


def test_an_operation_split_by_a_booking_is_charged_in_two_pieces():
    uses = [operation(7, 8, 13), booking(1, 10, 11)]
    assert pieces(chargeable(uses, **PERIOD)) == [
        ("operation", 7, 8, 10, 120), ("booking", 1, 10, 11, 60), ("operation", 7, 11, 13, 120)]


def test_among_overlapping_operations_the_earlier_start_wins():
    uses = [operation(2, 10, 12, coop=2), operation(9, 9, 11, coop=1)]
    assert [(c.coop_id, c.ref, c.minutes) for c in chargeable(uses, **PERIOD)] == [(1, 9, 120), (2, 2, 60)]


def test_among_overlapping_bookings_starting_together_the_lower_ref_wins():
    uses = [booking(5, 9, 10, coop=2), booking(3, 9, 11, coop=1)]
    assert pieces(chargeable(uses, **PERIOD)) == [("booking", 3, 9, 11, 120)]


def test_each_machine_is_charged_on_its_own():
    uses = [booking(1, 9, 10, machine="mill"), booking(2, 9, 10, machine="lathe"), operation(3, 9, 10, machine="kiln")]
    assert [(c.machine, c.minutes) for c in chargeable(uses, **PERIOD)] == [("kiln", 60), ("lathe", 60), ("mill", 60)]


def test_a_lessees_use_inside_its_lease_window_is_not_charged():
    covered = [("laser", 1, at(8), at(12))]
    assert chargeable([booking(1, 9, 10), operation(2, 10, 11)], covered, **PERIOD) == []


def test_a_lessees_use_beyond_its_lease_window_is_charged_for_the_rest():
    covered = [("laser", 1, at(8), at(10))]
    assert pieces(chargeable([booking(1, 9, 11)], covered, **PERIOD)) == [("booking", 1, 10, 11, 60)]


def test_another_coop_using_the_machine_in_a_lease_window_is_charged():
    covered = [("laser", 1, at(8), at(12))]
    uses = [booking(4, 9, 10, coop=2)]
    assert [(c.coop_id, c.minutes) for c in chargeable(uses, covered, **PERIOD)] == [(2, 60)]


def test_a_lease_window_on_another_machine_covers_nothing_here():
    covered = [("mill", 1, at(8), at(12))]
    assert [c.minutes for c in chargeable([booking(1, 9, 10)], covered, **PERIOD)] == [60]


def test_an_operation_inside_a_lessees_covered_booking_is_not_charged_to_another_coop():
    covered = [("laser", 1, at(8), at(12))]
    uses = [booking(1, 9, 11, coop=1), operation(6, 10, 12, coop=2)]
    assert pieces(chargeable(uses, covered, **PERIOD)) == [("operation", 6, 11, 12, 60)]


def test_the_seconds_of_each_piece_are_dropped():
    use = Use("laser", 1, at(9, seconds=20), at(10, seconds=50), "booking", 1)
    assert [c.minutes for c in chargeable([use], **PERIOD)] == [60]


def test_a_piece_shorter_than_a_minute_is_not_charged():
    uses = [booking(1, 9, 10), Use("laser", 1, at(8, seconds=3570), at(10), "operation", 2)]
    assert pieces(chargeable(uses, **PERIOD)) == [("booking", 1, 9, 10, 60)]


def test_times_in_another_zone_come_out_in_utc():
    paris = timezone(timedelta(hours=1))
    use = Use("laser", 1, datetime(2025, 3, 1, 10, tzinfo=paris), datetime(2025, 3, 1, 11, tzinfo=paris), "booking", 1)
    (charge,) = chargeable([use], **PERIOD)
    assert charge.start == at(9) and charge.start.tzinfo is UTC and charge.minutes == 60


@pytest.mark.parametrize(("start", "end", "source", "field"), [
    (at(9), at(9), "booking", "end"), (at(10), at(9), "operation", "end"), (at(9), at(10), "lease", "source"),
    (datetime(2025, 3, 1, 9), at(10), "booking", "start"), (at(9), datetime(2025, 3, 1, 10), "booking", "end"),
])
def test_an_impossible_use_is_refused_naming_the_field(start, end, source, field):
    with pytest.raises(InvalidInput) as raised:
        Use("laser", 1, start, end, source, 1)
    assert raised.value.field == field


def test_a_period_must_be_aware_and_end_after_it_starts():
    with pytest.raises(InvalidInput):
        chargeable([], period_start=DAY, period_end=DAY)
    with pytest.raises(InvalidInput):
        chargeable([], period_start=datetime(2025, 3, 1), period_end=DAY + timedelta(days=1))


# --- properties --------------------------------------------------------------------------------------------

MACHINES = ("laser", "mill")
HORIZON = 300  # minutes; the period is minutes 20 to 260


@st.composite
def spans(draw, *, seconds: bool):
    start = draw(st.integers(min_value=0, max_value=HORIZON - 1))
    length = draw(st.integers(min_value=1, max_value=120))
    extra = draw(st.integers(min_value=0, max_value=59)) if seconds else 0
    begin = DAY + timedelta(minutes=start, seconds=extra)
    return begin, begin + timedelta(minutes=length)


@st.composite
def situations(draw, *, seconds: bool = True):
    uses = []
    for ref in range(draw(st.integers(min_value=0, max_value=12))):
        start, end = draw(spans(seconds=seconds))
        uses.append(Use(draw(st.sampled_from(MACHINES)), draw(st.integers(1, 3)), start, end,
                        draw(st.sampled_from(("booking", "operation"))), draw(st.integers(1, 6)) * 100 + ref))
    covered = [(draw(st.sampled_from(MACHINES)), draw(st.integers(1, 3)), *draw(spans(seconds=seconds)))
               for _ in range(draw(st.integers(min_value=0, max_value=4)))]
    return uses, covered


PROPERTY_PERIOD = {"period_start": DAY + timedelta(minutes=20), "period_end": DAY + timedelta(minutes=260)}


@settings(max_examples=300)
@given(situations())
def test_no_machine_minute_is_charged_twice_nor_more_than_the_uses_hold(situation):
    uses, covered = situation
    charges = chargeable(uses, covered, **PROPERTY_PERIOD)
    assert charges == sorted(charges, key=lambda c: (c.machine, c.start))
    for machine in MACHINES:
        mine = [c for c in charges if c.machine == machine]
        assert all(a.end <= b.start for a, b in zip(mine, mine[1:], strict=False))  # disjoint pieces
        used = {m for u in uses if u.machine == machine for m in _minutes(u.start, u.end)}
        assert sum(c.minutes for c in mine) <= len(used)
    by_use = {(u.source, u.ref): u for u in uses}
    for charge in charges:
        use = by_use[(charge.source, charge.ref)]
        assert use.start <= charge.start < charge.end <= use.end
        assert PROPERTY_PERIOD["period_start"] <= charge.start and charge.end <= PROPERTY_PERIOD["period_end"]
        assert charge.minutes == (charge.end - charge.start) // timedelta(minutes=1) >= 1
        assert (charge.machine, charge.coop_id) == (use.machine, use.coop_id)
        for machine, coop, start, end in covered:
            if (machine, coop) == (charge.machine, charge.coop_id):
                assert charge.end <= start or end <= charge.start
    for use in uses:
        charged = sum(c.minutes for c in charges if (c.source, c.ref) == (use.source, use.ref))
        assert charged <= (use.end - use.start) // timedelta(minutes=1)


@settings(max_examples=300)
@given(situations(seconds=False))
def test_each_whole_minute_is_charged_to_the_use_that_holds_it_unless_covered(situation):
    """Minute by minute: the holder is the first booking (by start, then ref), else the first operation."""
    uses, covered = situation
    expected: dict[tuple[str, int], int] = {}
    start = PROPERTY_PERIOD["period_start"]
    while start < PROPERTY_PERIOD["period_end"]:
        for machine in MACHINES:
            here = [u for u in uses if u.machine == machine and u.start <= start < u.end]
            if not here:
                continue
            holder = min(here, key=lambda u: (u.source != "booking", u.start, u.ref))
            if not any((m, c) == (machine, holder.coop_id) and s <= start < e for m, c, s, e in covered):
                key = (holder.source, holder.ref)
                expected[key] = expected.get(key, 0) + 1
        start += timedelta(minutes=1)
    charged: dict[tuple[str, int], int] = {}
    for charge in chargeable(uses, covered, **PROPERTY_PERIOD):
        charged[(charge.source, charge.ref)] = charged.get((charge.source, charge.ref), 0) + charge.minutes
    assert charged == expected


def _minutes(start: datetime, end: datetime) -> set[datetime]:
    """The whole minutes of the clock the span touches (an upper bound on what it can be charged)."""
    first = start.replace(second=0, microsecond=0)
    return {first + timedelta(minutes=k) for k in range(int((end - first) / timedelta(minutes=1)) + 1)}
