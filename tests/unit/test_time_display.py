from datetime import UTC, datetime, timedelta

from factory.web.filters import age, local_time


def test_utc_times_are_shown_in_the_sites_zone_across_daylight_saving():
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    winter = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert local_time(summer, "Europe/Berlin") == "2026-07-01 12:00 CEST"
    assert local_time(winter, "Europe/Berlin") == "2026-12-01 11:00 CET"
    assert local_time(winter, "America/Toronto") == "2026-12-01 05:00 EST"


def test_the_night_clocks_go_back_shows_both_one_oclocks_distinctly():
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT in Toronto
    second = first + timedelta(hours=1)  # 01:30 EST
    assert local_time(first, "America/Toronto") == "2026-11-01 01:30 EDT"
    assert local_time(second, "America/Toronto") == "2026-11-01 01:30 EST"


def test_missing_times_show_a_dash():
    assert local_time(None, "UTC") == "—"
    assert age(None) == "—"


def test_age_uses_the_largest_whole_unit():
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert age(now - timedelta(seconds=30), now) == "just now"
    assert age(now - timedelta(minutes=5), now) == "5 min"
    assert age(now - timedelta(hours=26), now) == "1 d"
