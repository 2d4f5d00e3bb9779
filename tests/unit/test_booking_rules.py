"""The booking rules on hand-built calendars: what a request breaks, what holds the time, which slots are free."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from factory.domain.booking_rules import (
    FOREVER,
    BookingRules,
    Busy,
    Kind,
    MachineCalendar,
    conflicts,
    free_slots,
    request_problems,
)
from factory.domain.local_time import Span

BERLIN = ZoneInfo("Europe/Berlin")
NINE_TO_FIVE = {**{day: ((9 * 60, 17 * 60),) for day in range(5)}, 5: (), 6: ()}
NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # Monday 08:00 CET, an hour before the site opens
RULES = BookingRules()  # 30 min to 8 h, no notice, 180 days ahead, attended only
UNATTENDED = BookingRules(unattended_ok=True)
OURS, THEIRS = 1, 2


def local(day: int, hour: int, minute: int = 0, *, month: int = 12, year: int = 2026, **extra) -> datetime:
    """A Berlin wall time, as UTC (December 2026 unless told; 7 Dec is a Monday)."""
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN, **extra).astimezone(UTC)


def codes(span: Span, rules: BookingRules = RULES, opening=NINE_TO_FIVE, now: datetime = NOW) -> list[str]:
    return [problem.code for problem in request_problems(span, rules, opening, BERLIN, now)]


def calendar(*, rules: BookingRules = RULES, reservations=(), lease_windows=(), breakdown=None) -> MachineCalendar:
    return MachineCalendar("printer-1", "Printer 1", BERLIN, rules, NINE_TO_FIVE, tuple(reservations),
                           tuple(lease_windows), breakdown)


def booked(start: datetime, end: datetime, coop_id: int = THEIRS, ref: int = 1) -> Busy:
    return Busy(Span(start, end), Kind.BOOKING, "booked for Others Co-op", ref, coop_id)


def lease(start: datetime, end: datetime, coop_id: int) -> Busy:
    return Busy(Span(start, end), Kind.LEASE, "leased", 9, coop_id)


def broken(since: datetime, until: datetime = FOREVER) -> Busy:
    return Busy(Span(since, until), Kind.BREAKDOWN, "fault")


TUESDAY_TEN = Span(local(8, 10), local(8, 11))


# --- request_problems ---------------------------------------------------------------------------------------

def test_a_request_inside_opening_hours_within_every_rule_has_no_problem():
    assert codes(TUESDAY_TEN) == []


def test_booking_rejected_when_it_starts_in_the_past():
    problems = request_problems(Span(local(4, 10), local(4, 11)), RULES, NINE_TO_FIVE, BERLIN, NOW)
    assert [(p.code, p.field) for p in problems] == [("in_past", "starts_at")]


def test_booking_may_start_exactly_now_but_not_a_minute_before():
    assert codes(Span(NOW, NOW + timedelta(hours=1)), UNATTENDED) == []
    assert codes(Span(NOW - timedelta(minutes=1), NOW + timedelta(hours=1)), UNATTENDED) == ["in_past"]


def test_booking_exactly_at_the_notice_is_allowed_and_one_minute_less_refused():
    rules = BookingRules(notice_minutes=120)
    earliest = NOW + timedelta(minutes=120)  # Monday 10:00 CET
    assert codes(Span(earliest, earliest + timedelta(hours=1)), rules) == []
    short = Span(earliest - timedelta(minutes=1), earliest + timedelta(hours=1))
    [problem] = request_problems(short, rules, NINE_TO_FIVE, BERLIN, NOW)
    assert (problem.code, problem.field) == ("short_notice", "starts_at")
    assert "2 hours" in problem.message and "Mon 7 Dec 10:00 CET" in problem.message


def test_a_start_in_the_past_is_reported_as_past_not_as_short_notice():
    rules = BookingRules(notice_minutes=120, unattended_ok=True)
    assert codes(Span(NOW - timedelta(hours=1), NOW), rules) == ["in_past"]


def test_booking_exactly_at_the_horizon_is_allowed_and_a_minute_later_refused():
    horizon = NOW + timedelta(days=180)
    assert codes(Span(horizon, horizon + timedelta(hours=1)), UNATTENDED) == []
    late = Span(horizon + timedelta(minutes=1), horizon + timedelta(hours=1))
    [problem] = request_problems(late, UNATTENDED, NINE_TO_FIVE, BERLIN, NOW)
    assert (problem.code, problem.field) == ("too_far_ahead", "starts_at")
    assert "180 days" in problem.message


@pytest.mark.parametrize(("minutes", "expected"), [
    (29, ["too_short"]), (30, []), (480, []), (481, ["too_long"]),
])
def test_booking_length_limits_are_inclusive(minutes, expected):
    start = local(8, 8)
    assert codes(Span(start, start + timedelta(minutes=minutes)), UNATTENDED) == expected


def test_length_problems_are_shown_on_the_end_field():
    problems = request_problems(Span(local(8, 10), local(8, 10, 10)), RULES, NINE_TO_FIVE, BERLIN, NOW)
    assert [(p.code, p.field) for p in problems] == [("too_short", "ends_at")]
    assert "30 minutes" in problems[0].message


def test_booking_rejected_when_a_time_is_not_a_whole_minute():
    problems = request_problems(Span(local(8, 10, second=30), local(8, 11, microsecond=5)), RULES, NINE_TO_FIVE,
                                BERLIN, NOW)
    assert [(p.code, p.field) for p in problems] == [("not_whole_minute", "starts_at"),
                                                     ("not_whole_minute", "ends_at")]


@pytest.mark.parametrize("end", [local(8, 10), local(8, 9)])
def test_booking_rejected_when_it_ends_at_or_before_its_start(end):
    problems = request_problems(Span(local(8, 10), end), RULES, NINE_TO_FIVE, BERLIN, NOW)
    assert [(p.code, p.field) for p in problems] == [("ends_before_start", "ends_at")]


def test_an_end_before_the_start_is_the_only_problem_reported_even_in_the_past():
    assert codes(Span(local(1, 10), local(1, 9))) == ["ends_before_start"]


def test_booking_exactly_filling_the_opening_hours_is_allowed():
    assert codes(Span(local(8, 9), local(8, 17))) == []


@pytest.mark.parametrize("span", [
    Span(local(8, 16), local(8, 17, 1)),  # a minute past closing
    Span(local(8, 8, 59), local(8, 10)),  # a minute before opening
    Span(local(12, 10), local(12, 11)),  # Saturday: closed
])
def test_attended_booking_rejected_outside_opening_hours(span):
    [problem] = request_problems(span, RULES, NINE_TO_FIVE, BERLIN, NOW)
    assert (problem.code, problem.field) == ("outside_opening_hours", "starts_at")


def test_attended_booking_rejected_overnight_across_the_closed_evening():
    overnight = Span(local(8, 16), local(9, 10))
    assert codes(overnight, BookingRules(max_minutes=1440)) == ["outside_opening_hours"]


def test_outside_opening_hours_message_names_the_days_hours():
    [problem] = request_problems(Span(local(8, 16), local(8, 17, 1)), RULES, NINE_TO_FIVE, BERLIN, NOW)
    assert "Tue 09:00-17:00" in problem.message


def test_booking_across_a_lunch_break_is_outside_opening_hours():
    split_day = {1: ((9 * 60, 12 * 60), (13 * 60, 17 * 60))}
    assert codes(Span(local(8, 11), local(8, 14)), opening=split_day) == ["outside_opening_hours"]
    assert codes(Span(local(8, 13), local(8, 17)), opening=split_day) == []


@pytest.mark.parametrize("span", [Span(local(8, 16), local(8, 17, 1)), Span(local(12, 10), local(12, 11))])
def test_unattended_machine_may_be_booked_outside_opening_hours(span):
    assert codes(span, UNATTENDED) == []


def test_a_night_when_the_clocks_go_back_is_an_hour_longer_for_an_unattended_machine():
    night = Span(local(24, 22, month=10), local(25, 6, month=10))  # 22:00 CEST to 06:00 CET: 9 real hours
    now = local(1, 12, month=10)
    assert night.duration == timedelta(hours=9)
    assert codes(night, UNATTENDED, now=now) == ["too_long"]
    assert codes(night, BookingRules(max_minutes=540, unattended_ok=True), now=now) == []


def test_a_night_when_the_clocks_go_forward_is_an_hour_shorter_for_an_unattended_machine():
    night = Span(local(27, 22, month=3, year=2027), local(28, 6, month=3, year=2027))  # 7 real hours
    now = local(1, 12, month=3, year=2027)
    assert night.duration == timedelta(hours=7)
    assert codes(night, BookingRules(max_minutes=420, unattended_ok=True), now=now) == []
    assert codes(night, BookingRules(min_minutes=421, max_minutes=480, unattended_ok=True), now=now) == ["too_short"]


def test_a_clock_change_night_is_outside_opening_hours_for_an_attended_machine():
    night = Span(local(24, 22, month=10), local(25, 6, month=10))
    assert "outside_opening_hours" in codes(night, BookingRules(max_minutes=540), now=local(1, 12, month=10))


# --- conflicts ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("span", [Span(local(8, 9), local(8, 10)), Span(local(8, 11), local(8, 12))])
def test_booking_that_only_touches_another_does_not_conflict(span):
    assert conflicts(calendar(reservations=[booked(local(8, 10), local(8, 11))]), span, OURS) == []


@pytest.mark.parametrize("span", [Span(local(8, 9), local(8, 10, 1)), Span(local(8, 10, 59), local(8, 12))])
def test_booking_rejected_when_it_overlaps_another_by_one_minute(span):
    other = booked(local(8, 10), local(8, 11))
    assert conflicts(calendar(reservations=[other]), span, OURS) == [other]


def test_a_coops_own_booking_still_holds_the_time():
    mine = booked(local(8, 10), local(8, 11), coop_id=OURS)
    assert conflicts(calendar(reservations=[mine]), TUESDAY_TEN, OURS) == [mine]


def test_booking_rejected_when_it_overlaps_maintenance():
    maintenance = Busy(Span(local(8, 10, 30), local(8, 12)), Kind.MAINTENANCE, "maintenance", 3)
    assert conflicts(calendar(reservations=[maintenance]), TUESDAY_TEN, OURS) == [maintenance]


def test_conflicts_are_sorted_by_time():
    late, early = booked(local(8, 10, 30), local(8, 12), ref=2), booked(local(8, 9), local(8, 10, 15), ref=1)
    assert conflicts(calendar(reservations=[late, early]), TUESDAY_TEN, OURS) == [early, late]


def test_a_breakdown_without_return_time_holds_every_later_time():
    fault = broken(NOW - timedelta(hours=1))
    cal = calendar(breakdown=fault)
    assert conflicts(cal, TUESDAY_TEN, OURS) == [fault]
    assert conflicts(cal, Span(local(8, 10, month=6, year=2027), local(8, 11, month=6, year=2027)), OURS) == [fault]


def test_a_breakdown_with_return_time_holds_the_time_until_then_only():
    fault = broken(NOW - timedelta(hours=1), local(8, 10, 30))
    cal = calendar(breakdown=fault)
    assert conflicts(cal, TUESDAY_TEN, OURS) == [fault]
    assert conflicts(cal, Span(local(8, 10, 30), local(8, 11, 30)), OURS) == []


def test_booking_rejected_in_another_coops_lease_window():
    window = lease(local(8, 9), local(8, 12), coop_id=THEIRS)
    assert conflicts(calendar(lease_windows=[window]), TUESDAY_TEN, OURS) == [window]
    assert conflicts(calendar(lease_windows=[window]), TUESDAY_TEN, None) == [window]


def test_lessee_may_book_inside_its_own_lease_window():
    window = lease(local(8, 9), local(8, 12), coop_id=OURS)
    assert conflicts(calendar(lease_windows=[window]), TUESDAY_TEN, OURS) == []


# --- free_slots ---------------------------------------------------------------------------------------------

def assert_bookable(cal: MachineCalendar, slots: list[Span], duration: timedelta, after: datetime,
                    coop_id: int = OURS) -> None:
    """Every slot lasts `duration`, starts at or after `after`, breaks no rule, meets nothing; none overlap."""
    assert all(slot.duration == duration and slot.start >= after for slot in slots)
    assert all(request_problems(slot, cal.rules, cal.opening, cal.zone, NOW) == [] for slot in slots)
    assert all(conflicts(cal, slot, coop_id) == [] for slot in slots)
    assert all(earlier.end <= later.start for earlier, later in zip(slots, slots[1:], strict=False))


def test_free_slots_fill_the_gaps_between_bookings_in_order():
    cal = calendar(reservations=[booked(local(8, 9), local(8, 10)), booked(local(8, 11), local(8, 12), ref=2)])
    slots = free_slots(cal, timedelta(hours=1), local(8, 9), OURS, NOW)
    assert slots == [Span(local(8, 10), local(8, 11)), Span(local(8, 12), local(8, 13)),
                     Span(local(8, 13), local(8, 14))]


def test_free_slots_skip_a_gap_too_short_and_the_closed_hours():
    cal = calendar(reservations=[booked(local(8, 9), local(8, 10)), booked(local(8, 10, 30), local(8, 16, 30),
                                                                           ref=2)])
    slots = free_slots(cal, timedelta(hours=1), local(8, 9), OURS, NOW, limit=2)
    assert slots == [Span(local(9, 9), local(9, 10)), Span(local(9, 10), local(9, 11))]


def test_free_slots_of_a_busy_week_break_no_rule_and_meet_nothing():
    # Tue-Fri: booked 09:00-10:15, maintenance 12:00-13:00, another co-op's lease 15:30-17:00
    busy = [booked(local(day, 9), local(day, 10, 15), ref=day) for day in range(8, 12)]
    busy += [Busy(Span(local(day, 12), local(day, 13)), Kind.MAINTENANCE, "maintenance", 100 + day)
             for day in range(8, 12)]
    windows = [lease(local(day, 15, 30), local(day, 17), coop_id=THEIRS) for day in range(8, 12)]
    cal = calendar(reservations=busy, lease_windows=windows)
    after = local(8, 9, 5)
    slots = free_slots(cal, timedelta(minutes=90), after, OURS, NOW, limit=10)
    assert len(slots) == 10
    assert_bookable(cal, slots, timedelta(minutes=90), after)
    assert slots[:2] == [Span(local(8, 10, 15), local(8, 11, 45)), Span(local(8, 13), local(8, 14, 30))]


def test_free_slots_start_at_or_after_the_wanted_time_on_a_quarter_hour():
    slots = free_slots(calendar(), timedelta(hours=1), local(8, 10, 7), OURS, NOW, limit=1)
    assert slots == [Span(local(8, 10, 15), local(8, 11, 15))]


def test_free_slots_never_start_before_now_and_the_notice():
    cal = calendar(rules=BookingRules(notice_minutes=150))  # earliest: Monday 10:30 CET
    slots = free_slots(cal, timedelta(hours=1), NOW - timedelta(days=3), OURS, NOW, limit=1)
    assert slots == [Span(local(7, 10, 30), local(7, 11, 30))]


def test_consecutive_free_slots_do_not_overlap():
    slots = free_slots(calendar(), timedelta(minutes=45), local(8, 9), OURS, NOW, limit=5)
    assert len(slots) == 5
    assert all(earlier.end <= later.start for earlier, later in zip(slots, slots[1:], strict=False))


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_free_slots_honour_the_limit(limit):
    assert len(free_slots(calendar(), timedelta(hours=1), local(8, 9), OURS, NOW, limit=limit)) == limit


def test_free_slots_respect_opening_hours_for_an_attended_machine():
    slots = free_slots(calendar(), timedelta(hours=2), local(8, 16), OURS, NOW, limit=1)
    assert slots == [Span(local(9, 9), local(9, 11))]


def test_free_slots_of_an_unattended_machine_may_run_into_the_night():
    slots = free_slots(calendar(rules=UNATTENDED), timedelta(hours=2), local(8, 16), OURS, NOW, limit=1)
    assert slots == [Span(local(8, 16), local(8, 18))]


def test_free_slots_leave_out_another_coops_lease_window_but_use_the_lessees_own():
    windows = [lease(local(8, 9), local(8, 13), coop_id=THEIRS)]
    cal = calendar(lease_windows=windows)
    assert free_slots(cal, timedelta(hours=1), local(8, 9), OURS, NOW, limit=1) == [Span(local(8, 13), local(8, 14))]
    assert free_slots(cal, timedelta(hours=1), local(8, 9), THEIRS, NOW, limit=1) == [Span(local(8, 9), local(8, 10))]


def test_no_free_slots_while_the_machine_is_broken_down_without_return_time():
    assert free_slots(calendar(breakdown=broken(NOW - timedelta(hours=1))), timedelta(hours=1), local(8, 9),
                      OURS, NOW) == []


def test_free_slots_start_once_a_broken_machine_is_expected_back():
    cal = calendar(breakdown=broken(NOW - timedelta(hours=1), local(9, 11)))
    slots = free_slots(cal, timedelta(hours=1), local(8, 9), OURS, NOW, limit=2)
    assert slots == [Span(local(9, 11), local(9, 12)), Span(local(9, 12), local(9, 13))]


def test_free_slots_stop_at_the_booking_horizon():
    cal = calendar(rules=BookingRules(horizon_days=2), reservations=[booked(local(8, 9), local(8, 17))])
    slots = free_slots(cal, timedelta(hours=1), local(8, 9), OURS, NOW, limit=20)
    # the horizon is Wednesday 08:00 CET: only Monday's own hours are left, and Tuesday is taken
    assert slots == []
    monday = free_slots(cal, timedelta(hours=1), local(7, 9), OURS, NOW, limit=20)
    assert monday == [Span(local(7, hour), local(7, hour + 1)) for hour in range(9, 17)]
