"""Weekly windows laid over real dates in a site's zone: wall times hold across the clock changes."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from factory.domain.errors import InvalidInput
from factory.domain.local_time import Span, entered_to_utc, merge, wall_clock, wall_to_utc, weekly_spans

BERLIN = ZoneInfo("Europe/Berlin")
SUNDAY = 6
SPRING_FORWARD = date(2026, 3, 29)  # a Sunday: 02:00 CET becomes 03:00 CEST
FALL_BACK = date(2026, 10, 25)  # a Sunday: 03:00 CEST becomes 02:00 CET


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def day_range(day: date) -> tuple[datetime, datetime]:
    """UTC bounds wide enough to hold every window of the local `day`."""
    return utc(day.year, day.month, day.day) - timedelta(hours=6), utc(day.year, day.month, day.day, 23, 59)


def local_hours(span: Span) -> tuple[str, str]:
    return f"{span.start.astimezone(BERLIN):%H:%M}", f"{span.end.astimezone(BERLIN):%H:%M}"


# --- wall_to_utc ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("day", "minutes", "expected"), [
    (date(2026, 3, 22), 9 * 60, utc(2026, 3, 22, 8)),  # a week before: CET, UTC+1
    (SPRING_FORWARD, 9 * 60, utc(2026, 3, 29, 7)),  # CEST, UTC+2
    (date(2026, 10, 18), 9 * 60, utc(2026, 10, 18, 7)),  # a week before: CEST
    (FALL_BACK, 9 * 60, utc(2026, 10, 25, 8)),  # CET
])
def test_the_same_wall_time_moves_by_an_hour_in_utc_across_a_clock_change(day, minutes, expected):
    assert wall_to_utc(day, minutes, BERLIN) == expected


def test_minute_1440_is_the_next_local_midnight():
    assert wall_to_utc(date(2026, 12, 7), 1440, BERLIN) == wall_to_utc(date(2026, 12, 8), 0, BERLIN)
    assert wall_to_utc(date(2026, 12, 7), 1440, BERLIN) == utc(2026, 12, 7, 23)


def test_wall_to_utc_answers_in_utc():
    assert wall_to_utc(date(2026, 12, 7), 600, BERLIN).utcoffset() == timedelta(0)


# --- weekly_spans across the clock changes -----------------------------------------------------------------

@pytest.mark.parametrize("day", [SPRING_FORWARD, FALL_BACK])
def test_a_nine_to_five_window_stays_nine_to_five_local_on_the_day_the_clocks_change(day):
    week = {SUNDAY: ((9 * 60, 17 * 60),)}
    [span] = weekly_spans(week, BERLIN, *day_range(day))
    assert local_hours(span) == ("09:00", "17:00")
    assert span.duration == timedelta(hours=8)


def test_a_nine_to_five_window_starts_an_hour_earlier_in_utc_after_spring_forward():
    week = {SUNDAY: ((9 * 60, 17 * 60),)}
    [before] = weekly_spans(week, BERLIN, *day_range(date(2026, 3, 22)))
    [after] = weekly_spans(week, BERLIN, *day_range(SPRING_FORWARD))
    assert (before.start, before.end) == (utc(2026, 3, 22, 8), utc(2026, 3, 22, 16))
    assert (after.start, after.end) == (utc(2026, 3, 29, 7), utc(2026, 3, 29, 15))


def test_a_nine_to_five_window_starts_an_hour_later_in_utc_after_fall_back():
    week = {SUNDAY: ((9 * 60, 17 * 60),)}
    [before] = weekly_spans(week, BERLIN, *day_range(date(2026, 10, 18)))
    [after] = weekly_spans(week, BERLIN, *day_range(FALL_BACK))
    assert (before.start, before.end) == (utc(2026, 10, 18, 7), utc(2026, 10, 18, 15))
    assert (after.start, after.end) == (utc(2026, 10, 25, 8), utc(2026, 10, 25, 16))


@pytest.mark.parametrize(("day", "hours"), [(SPRING_FORWARD, 23), (FALL_BACK, 25), (date(2026, 12, 6), 24)])
def test_a_whole_day_window_lasts_as_long_as_the_local_day(day, hours):
    week = {SUNDAY: ((0, 1440),)}
    [span] = weekly_spans(week, BERLIN, *day_range(day))
    assert span.duration == timedelta(hours=hours)
    assert span.start == wall_to_utc(day, 0, BERLIN)
    assert span.end == wall_to_utc(day + timedelta(days=1), 0, BERLIN)


# --- weekly_spans: which windows, merged -------------------------------------------------------------------

def test_touching_windows_across_midnight_merge_into_one_span():
    week = {0: ((18 * 60, 1440),), 1: ((0, 6 * 60),)}  # Mon 18:00-24:00, Tue 00:00-06:00
    spans = weekly_spans(week, BERLIN, utc(2026, 12, 7), utc(2026, 12, 9))
    assert spans == [Span(utc(2026, 12, 7, 17), utc(2026, 12, 8, 5))]


def test_windows_with_a_gap_stay_separate_and_sorted():
    week = {0: ((13 * 60, 17 * 60), (8 * 60, 12 * 60))}
    spans = weekly_spans(week, BERLIN, utc(2026, 12, 7), utc(2026, 12, 8))
    assert [local_hours(span) for span in spans] == [("08:00", "12:00"), ("13:00", "17:00")]


def test_only_windows_that_meet_the_range_are_returned_whole():
    week = {day: ((9 * 60, 17 * 60),) for day in range(7)}
    # Tue 10:00-Wed 08:00 local: meets Tuesday's window (returned unclipped), not Monday's or Wednesday's.
    spans = weekly_spans(week, BERLIN, utc(2026, 12, 8, 9), utc(2026, 12, 9, 7))
    assert spans == [Span(utc(2026, 12, 8, 8), utc(2026, 12, 8, 16))]


def test_a_window_that_only_touches_the_range_is_left_out():
    week = {0: ((9 * 60, 17 * 60),)}
    assert weekly_spans(week, BERLIN, utc(2026, 12, 7, 16), utc(2026, 12, 7, 18)) == []
    assert weekly_spans(week, BERLIN, utc(2026, 12, 7, 6), utc(2026, 12, 7, 8)) == []


def test_a_closed_weekday_gives_no_span():
    week = {0: ((9 * 60, 17 * 60),), 1: ()}
    assert weekly_spans(week, BERLIN, utc(2026, 12, 8), utc(2026, 12, 9)) == []


def test_first_last_and_skipped_days_limit_the_dates_that_count():
    week = {day: ((9 * 60, 17 * 60),) for day in range(7)}
    spans = weekly_spans(week, BERLIN, utc(2026, 12, 1), utc(2026, 12, 20),
                         first_day=date(2026, 12, 7), last_day=date(2026, 12, 11), skip_days=[date(2026, 12, 9)])
    assert [span.start.astimezone(BERLIN).date() for span in spans] == [
        date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 10), date(2026, 12, 11)]
    assert all(local_hours(span) == ("09:00", "17:00") for span in spans)


def test_first_and_last_day_are_inclusive_local_dates():
    week = {day: ((0, 60),) for day in range(7)}  # 00:00-01:00 local is the previous UTC date in winter
    spans = weekly_spans(week, BERLIN, utc(2026, 12, 1), utc(2026, 12, 20),
                         first_day=date(2026, 12, 7), last_day=date(2026, 12, 7))
    assert spans == [Span(utc(2026, 12, 6, 23), utc(2026, 12, 7, 0))]


# --- merge and Span ----------------------------------------------------------------------------------------

def test_merge_joins_overlapping_and_touching_spans_and_sorts():
    a = Span(utc(2026, 12, 7, 8), utc(2026, 12, 7, 10))
    b = Span(utc(2026, 12, 7, 9), utc(2026, 12, 7, 11))
    c = Span(utc(2026, 12, 7, 11), utc(2026, 12, 7, 12))
    d = Span(utc(2026, 12, 7, 13), utc(2026, 12, 7, 14))
    assert merge([d, c, b, a]) == [Span(utc(2026, 12, 7, 8), utc(2026, 12, 7, 12)), d]


def test_merge_keeps_the_later_end_when_one_span_holds_another():
    outer = Span(utc(2026, 12, 7, 8), utc(2026, 12, 7, 16))
    inner = Span(utc(2026, 12, 7, 9), utc(2026, 12, 7, 10))
    assert merge([outer, inner]) == [outer]


def test_merge_of_nothing_is_nothing():
    assert merge([]) == []


def test_spans_that_only_touch_do_not_overlap():
    first = Span(utc(2026, 12, 7, 8), utc(2026, 12, 7, 9))
    second = Span(utc(2026, 12, 7, 9), utc(2026, 12, 7, 10))
    assert not first.overlaps(second) and not second.overlaps(first)
    assert first.overlaps(Span(utc(2026, 12, 7, 8, 59), utc(2026, 12, 7, 10)))


def test_a_span_contains_itself_but_not_one_a_minute_longer():
    span = Span(utc(2026, 12, 7, 8), utc(2026, 12, 7, 16))
    assert span.contains(span)
    assert not span.contains(Span(span.start, span.end + timedelta(minutes=1)))
    assert not span.contains(Span(span.start - timedelta(minutes=1), span.end))


# --- a time typed into a form ---------------------------------------------------------------------------

def test_entered_time_is_read_in_the_sites_zone():
    moment = entered_to_utc(datetime(2026, 12, 2, 10, 0), BERLIN, field="starts_at")

    assert moment == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def test_entered_time_the_clocks_skip_is_refused_on_its_field():
    with pytest.raises(InvalidInput) as refused:
        entered_to_utc(datetime(2026, 3, 29, 2, 30), BERLIN, field="starts_at")

    assert refused.value.field == "starts_at" and refused.value.code == "nonexistent_time"
    assert "clocks go forward" in refused.value.message


def test_entered_time_the_clocks_show_twice_is_refused_on_its_field():
    with pytest.raises(InvalidInput) as refused:
        entered_to_utc(datetime(2026, 10, 25, 2, 30), BERLIN, field="ends_at")

    assert refused.value.field == "ends_at" and refused.value.code == "ambiguous_time"


def test_wall_clock_gives_back_what_was_entered():
    wall = datetime(2026, 10, 25, 3, 30)

    assert wall_clock(entered_to_utc(wall, BERLIN, field="starts_at"), BERLIN) == wall
