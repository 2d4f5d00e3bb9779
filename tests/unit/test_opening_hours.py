import pytest

from factory.domain.errors import InvalidInput
from factory.domain.opening_hours import format_day, parse_day, parse_week


def test_a_day_with_a_lunch_break_has_two_intervals_in_minutes():
    assert parse_day("13:00-18:00, 08:00-12:00", field="hours_mon") == ((480, 720), (780, 1080))


@pytest.mark.parametrize("text", ["", "closed", "  Closed ", "-"])
def test_empty_or_closed_means_closed(text):
    assert parse_day(text, field="hours_sun") == ()


def test_a_site_may_stay_open_until_midnight():
    assert parse_day("18:00-24:00", field="hours_fri") == ((1080, 1440),)


@pytest.mark.parametrize(("text", "reason"), [
    ("8-17", "not a time range"),
    ("17:00-08:00", "closes before it opens"),
    ("08:00-12:00, 11:00-14:00", "overlap"),
    ("08:61-12:00", "not a time of day"),
    ("24:30-24:45", "not a time of day"),
])
def test_malformed_hours_name_the_weekday_field(text, reason):
    with pytest.raises(InvalidInput) as raised:
        parse_day(text, field="hours_tue")
    assert raised.value.field == "hours_tue"
    assert reason in raised.value.message


def test_a_week_is_parsed_per_named_day_and_missing_days_are_closed():
    week = parse_week({"mon": "08:00-17:00", "sat": "10:00-14:00"})
    assert week[0] == ((480, 1020),) and week[5] == ((600, 840),) and week[6] == ()


def test_formatting_round_trips():
    assert format_day(parse_day("08:00-12:00, 13:00-18:30", field="x")) == "08:00-12:00, 13:00-18:30"
    assert format_day(()) == "closed"
