"""The server-rendered SVG chart: well-formed, one line per series, site-local ticks, gaps, escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from factory.web.charts import STYLES, charts_for, line_chart, time_ticks

SVG = "{http://www.w3.org/2000/svg}"
UNTIL = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(hours=6)


def every_minute(start: datetime, minutes: int, value: float = 200.0) -> list[tuple[datetime, float]]:
    return [(start + timedelta(minutes=m), value + m % 7) for m in range(minutes)]


def parsed(markup) -> ET.Element:
    return ET.fromstring(str(markup))


def paths(svg: ET.Element) -> list[ET.Element]:
    return svg.findall(f".//{SVG}path")


def test_chart_is_well_formed_svg_with_one_path_per_series():
    series = {"Hot end": every_minute(SINCE, 360), "Bed": every_minute(SINCE, 360, 60.0)}

    svg = parsed(line_chart(series, since=SINCE, until=UNTIL, time_zone="Europe/Berlin", unit="°C"))

    assert svg.tag == f"{SVG}svg"
    assert [p.get("data-series") for p in paths(svg)] == ["Hot end", "Bed"]
    assert svg.find(f"{SVG}title") is not None
    assert "Hot end latest" in svg.get("aria-label")


def test_each_series_differs_in_colour_and_dash_so_it_reads_without_colour():
    series = {name: every_minute(SINCE, 60) for name in ("a", "b", "c")}

    drawn = paths(parsed(line_chart(series, since=SINCE, until=UNTIL, time_zone="UTC", unit="W")))

    assert len({p.get("stroke") for p in drawn}) == 3
    assert len({p.get("stroke-dasharray", "") for p in drawn}) == 3
    assert len(STYLES) >= 3


def test_legend_names_every_series_with_its_line_style():
    series = {"Hot end": every_minute(SINCE, 10), "Bed": every_minute(SINCE, 10)}

    svg = parsed(line_chart(series, since=SINCE, until=UNTIL, time_zone="UTC", unit="°C"))

    legend = svg.findall(f".//{SVG}g[@class='legend-item']")
    assert ["".join(g.itertext()) for g in legend] == ["Hot end", "Bed"]
    assert legend[1].find(f"{SVG}line").get("stroke-dasharray") == paths(svg)[1].get("stroke-dasharray")


def test_ticks_follow_the_site_clock_through_the_night_it_goes_back():
    # Europe/Berlin leaves summer time on 2026-10-25 at 03:00 CEST = 01:00 UTC: 02:00 happens twice.
    since = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)
    until = since + timedelta(hours=5)

    labels = [label for _, label in time_ticks(since, until, ZoneInfo("Europe/Berlin"))]

    assert labels == ["01:00", "02:00", "02:00 CET", "03:00", "04:00", "05:00"]


def test_chart_labels_its_time_axis_in_the_sites_zone():
    since = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)
    until = since + timedelta(hours=5)
    series = {"Chamber": every_minute(since, 300, 900.0)}

    svg = parsed(line_chart(series, since=since, until=until, time_zone="Europe/Berlin", unit="°C"))

    ticks = ["".join(t.itertext()) for t in svg.iter(f"{SVG}text") if t.get("class") == "tick"]
    assert ticks == ["01:00", "02:00", "02:00 CET", "03:00", "04:00", "05:00"]
    assert "01:00 CEST to 05:00 CET Europe/Berlin" in svg.get("aria-label")


def test_a_long_window_names_the_day_and_a_half_hour_zone_ticks_on_its_own_hours():
    since = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)

    three_days = time_ticks(since, since + timedelta(hours=72), ZoneInfo("Europe/Berlin"))
    india = time_ticks(since, since + timedelta(hours=6), ZoneInfo("Asia/Kolkata"))

    assert three_days[0][1] == "Fri 12:00" and len(three_days) <= 7
    assert [label for _, label in india][:2] == ["06:00", "07:00"]  # 00:30 and 01:30 UTC


def test_line_breaks_where_readings_stop_for_longer_than_a_few_intervals():
    before = every_minute(SINCE, 60)
    after = every_minute(SINCE + timedelta(hours=3), 60)

    svg = parsed(line_chart({"Bed": before + after}, since=SINCE, until=UNTIL, time_zone="UTC", unit="°C"))

    (path,) = paths(svg)
    assert path.get("d").count("M") == 2


def test_a_steady_stream_is_one_unbroken_line():
    svg = parsed(line_chart({"Bed": every_minute(SINCE, 360)}, since=SINCE, until=UNTIL, time_zone="UTC",
                            unit="°C"))

    assert paths(svg)[0].get("d").count("M") == 1


def test_averaged_buckets_are_not_broken_when_the_gap_allows_their_width():
    buckets = [(SINCE + timedelta(minutes=5 * k), 50.0) for k in range(12)]
    raw = every_minute(SINCE + timedelta(hours=1, minutes=2), 60)

    svg = parsed(line_chart({"Bed": buckets + raw}, since=SINCE, until=UNTIL, time_zone="UTC", unit="°C",
                            max_gap=timedelta(minutes=15)))

    assert paths(svg)[0].get("d").count("M") == 1


def test_no_readings_shows_a_message_instead_of_lines():
    svg = parsed(line_chart({"Hot end": [], "Bed": []}, since=SINCE, until=UNTIL, time_zone="Europe/Berlin",
                            unit="°C"))

    assert paths(svg) == []
    message = "".join(next(t for t in svg.iter(f"{SVG}text") if t.get("class") == "chart-empty").itertext())
    assert message == "No readings from 07:00 to 13:00 Europe/Berlin."
    assert svg.get("aria-label").endswith("no readings")


def test_a_series_without_readings_says_so_in_the_legend():
    series = {"Spindle": every_minute(SINCE, 30, 12000.0), "Power": []}

    svg = parsed(line_chart(series, since=SINCE, until=UNTIL, time_zone="UTC", unit="rpm"))

    assert len(paths(svg)) == 1
    assert "Power (no readings)" in "".join(svg.itertext())


def test_readings_outside_the_window_are_left_out():
    old = [(SINCE - timedelta(hours=1), 999.0)]

    svg = parsed(line_chart({"Bed": old}, since=SINCE, until=UNTIL, time_zone="UTC", unit="°C"))

    assert paths(svg) == []


def test_text_is_escaped_in_labels_units_and_titles():
    evil = '<script>alert("x")</script> & "quotes"'

    markup = line_chart({evil: every_minute(SINCE, 5)}, since=SINCE, until=UNTIL, time_zone="UTC",
                        unit="<b>°C</b>", title=evil)

    assert "<script>" not in markup and "<b>" not in markup
    svg = parsed(markup)
    assert evil in svg.get("aria-label")
    assert paths(svg)[0].get("data-series") == evil


def test_a_flat_series_still_gets_a_value_scale():
    svg = parsed(line_chart({"Chamber": every_minute(SINCE, 30, 20.0)[:1] * 3}, since=SINCE, until=UNTIL,
                            time_zone="UTC", unit="°C"))

    assert len(paths(svg)) == 1


def test_charts_are_chosen_by_machine_kind():
    assert [c.metrics for c in charts_for("fdm_printer")] == [("hotend_c", "bed_c")]
    assert [c.metrics for c in charts_for("kiln")] == [("chamber_c",)]
    assert [(c.metrics, c.optional) for c in charts_for("cnc_router")] == [
        (("spindle_rpm",), False), (("power_w",), True)]
    assert [c.unit for c in charts_for("laser_cutter")] == ["W"]
