"""The week timeline SVG: site-local day columns (23- and 25-hour days too), bars, privacy, escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from factory.web.machine_chart import LEFT, RIGHT
from factory.web.timeline import (
    BOOKING,
    BREAKDOWN,
    COOP_COLOURS,
    LEASE,
    MAINTENANCE,
    Bar,
    Row,
    coop_colour,
    for_viewer,
    week_timeline,
)

SVG = "{http://www.w3.org/2000/svg}"
BERLIN = "Europe/Berlin"
WIDTH = 960
DAY_WIDTH = (WIDTH - LEFT - RIGHT) / 7
SPRING_WEEK = date(2026, 3, 23)  # Sunday 29 March has 23 hours in Berlin: 02:00 CET jumps to 03:00 CEST
AUTUMN_WEEK = date(2026, 10, 19)  # Sunday 25 October has 25 hours: 03:00 CEST falls back to 02:00 CET
PLAIN_WEEK = date(2026, 11, 30)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def booking(start: datetime, hours: float = 1, *, coop_id: int = 1, coop: str = "Makers Co-op",
            purpose: str = "test prints", ref: int = 3) -> Bar:
    return Bar(start, start + timedelta(hours=hours), BOOKING, coop, purpose, href=f"/bookings/{ref}",
               coop_id=coop_id)


def render(*bars: Bar, first_day: date = PLAIN_WEEK, name: str = "Printer 1", width: int = WIDTH,
           **options) -> ET.Element:
    markup = week_timeline([Row(name, bars)], first_day=first_day, time_zone=BERLIN, width=width, **options)
    return ET.fromstring(str(markup))


def drawn_bars(svg: ET.Element) -> list[ET.Element]:
    return [e for e in svg.iter() if (e.get("class") or "").startswith("bar ")]


def rect_x(bar: ET.Element) -> tuple[float, float]:
    rect = bar.find(f"{SVG}rect")
    x = float(rect.get("x"))
    return x, x + float(rect.get("width"))


def column_x(day_index: int, share: float) -> float:
    return LEFT + (day_index + share) * DAY_WIDTH


def ticks(svg: ET.Element, day: date) -> dict[str, float]:
    return {t.text: float(t.get("x")) - 2 for t in svg.iter(f"{SVG}text")
            if t.get("class") == "tick" and t.get("data-day") == day.isoformat()}


def text_of(svg: ET.Element) -> str:
    return " ".join(svg.itertext())


def test_timeline_is_an_accessible_svg_with_a_row_per_machine():
    markup = week_timeline([Row("Printer 1"), Row("Laser")], first_day=PLAIN_WEEK, time_zone=BERLIN)

    svg = ET.fromstring(str(markup))
    assert svg.get("role") == "img"
    assert svg.get("aria-label").startswith("Machine time, Mon 30 Nov to Sun 6 Dec 2026 (Europe/Berlin)")
    assert "Printer 1: nothing booked" in svg.get("aria-label")
    assert [g.get("data-machine") for g in svg.iter(f"{SVG}g") if g.get("class") == "row"] == ["Printer 1", "Laser"]
    assert [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "day"][0] == "Mon 30 Nov"


def test_every_day_has_ticks_at_local_00_06_12_18_evenly_spaced_on_a_24_hour_day():
    svg = render()

    day_ticks = ticks(svg, date(2026, 12, 1))
    assert list(day_ticks) == ["00", "06", "12", "18"]
    assert day_ticks["12"] == pytest.approx(column_x(1, 0.5), abs=0.1)


def test_a_booking_on_the_23_hour_spring_day_sits_at_its_real_share_of_the_day():
    # 12:00-13:00 CEST on 29 March = 10:00-11:00 UTC; local midnight was 23:00 UTC, 11 real hours before.
    svg = render(booking(utc(2026, 3, 29, 10)), first_day=SPRING_WEEK)

    (bar,) = drawn_bars(svg)
    start, end = rect_x(bar)
    assert start == pytest.approx(column_x(6, 11 / 23), abs=0.1)
    assert end == pytest.approx(column_x(6, 12 / 23), abs=0.1)
    assert ticks(svg, date(2026, 3, 29))["12"] == pytest.approx(start, abs=0.1)
    assert ticks(svg, date(2026, 3, 29))["06"] == pytest.approx(column_x(6, 5 / 23), abs=0.1)
    assert "Sun 29 Mar (23 h)" in text_of(svg)


def test_a_booking_on_the_25_hour_autumn_day_sits_at_its_real_share_of_the_day():
    # 12:00-13:00 CET on 25 October = 11:00-12:00 UTC; local midnight was 22:00 UTC, 13 real hours before.
    svg = render(booking(utc(2026, 10, 25, 11)), first_day=AUTUMN_WEEK)

    start, end = rect_x(drawn_bars(svg)[0])
    assert start == pytest.approx(column_x(6, 13 / 25), abs=0.1)
    assert end == pytest.approx(column_x(6, 14 / 25), abs=0.1)
    assert ticks(svg, date(2026, 10, 25))["18"] == pytest.approx(column_x(6, 19 / 25), abs=0.1)
    assert "Sun 25 Oct (25 h)" in text_of(svg)


def test_a_bar_tooltip_gives_its_local_times_and_purpose():
    svg = render(booking(utc(2026, 3, 29, 10), purpose="brackets"), first_day=SPRING_WEEK)

    title = drawn_bars(svg)[0].find(f"{SVG}title").text
    assert title == "Makers Co-op: brackets, Sun 29 Mar 12:00 CEST–13:00"


def test_a_visible_booking_links_to_its_page_and_is_coloured_by_its_coop():
    svg = render(booking(utc(2026, 12, 1, 9), coop_id=4, ref=17))

    (bar,) = drawn_bars(svg)
    assert bar.tag == f"{SVG}a" and bar.get("href") == "/bookings/17"
    assert bar.find(f"{SVG}rect").get("fill") == coop_colour(4)
    assert "Makers Co-op" in [t.text for t in svg.iter(f"{SVG}text") if t.text]


def test_a_member_sees_another_coops_booking_only_as_an_anonymous_booked_block():
    own = booking(utc(2026, 12, 1, 8), coop_id=1, coop="Makers Co-op", purpose="our prints", ref=3)
    other = booking(utc(2026, 12, 2, 8), 8, coop_id=2, coop="Spokes Co-op", purpose="secret frames", ref=4)

    markup = week_timeline([Row("Printer 1", (own, other))], first_day=PLAIN_WEEK, time_zone=BERLIN,
                           member_coop_id=1)

    assert "Spokes" not in markup and "secret frames" not in markup and "/bookings/4" not in markup
    svg = ET.fromstring(str(markup))
    kinds = {bar.get("class"): bar for bar in drawn_bars(svg)}
    assert set(kinds) == {"bar booking", "bar booked"}
    assert kinds["bar booked"].tag == f"{SVG}g" and kinds["bar booked"].get("href") is None
    assert kinds["bar booking"].get("href") == "/bookings/3"
    assert "booked (another co-op)" in text_of(svg)


def test_stewards_and_admins_see_every_coops_booking():
    other = booking(utc(2026, 12, 2, 8), coop_id=2, coop="Spokes Co-op", ref=4)

    assert for_viewer(other, None) == other
    assert for_viewer(other, 2) == other
    assert for_viewer(other, 1) == Bar(other.start, other.end, "booked", "booked")


def test_maintenance_lease_and_breakdown_are_shown_to_members_in_their_own_styles():
    maintenance = Bar(utc(2026, 12, 1, 8), utc(2026, 12, 1, 12), MAINTENANCE, "maintenance", "new belts")
    lease = Bar(utc(2026, 12, 3, 8), utc(2026, 12, 3, 16), LEASE, "leased to Spokes Co-op", coop_id=2)
    out = Bar(utc(2026, 12, 4, 8), utc(2026, 12, 9, 8), BREAKDOWN, "out of use", "fault since Fri 4 Dec")

    svg = render(maintenance, lease, out, member_coop_id=1)

    fills = {bar.get("class"): bar.find(f"{SVG}rect").get("fill") for bar in drawn_bars(svg)}
    assert fills["bar maintenance"] == "url(#tl-hatch)"
    assert fills["bar breakdown"] == "#59636a"
    assert "leased to Spokes Co-op" in text_of(svg)
    assert svg.find(f".//{SVG}pattern[@id='tl-hatch']") is not None
    assert rect_x(next(b for b in drawn_bars(svg) if b.get("class") == "bar breakdown"))[1] == WIDTH - RIGHT


def test_a_narrow_lease_band_is_labelled_with_its_lessee_cut_to_fit():
    wide = Bar(utc(2026, 12, 1, 0), utc(2026, 12, 1, 23), LEASE, "leased to Spokes Co-op", coop_id=2,
               short="Spokes Co-op")
    narrow = replace(wide, start=utc(2026, 12, 3, 8), end=utc(2026, 12, 3, 16))

    labels = [bar.find(f"{SVG}text").text for bar in drawn_bars(render(wide, narrow))]
    roomy = drawn_bars(render(wide, narrow, width=1600))[0].find(f"{SVG}text").text

    assert roomy == "leased to Spokes Co-op"
    assert labels[0] == "Spokes Co-op"
    assert labels[1].endswith("…") and "Spokes Co-op".startswith(labels[1][:-1])


def test_lease_bands_are_drawn_behind_the_bookings_inside_them():
    lease = Bar(utc(2026, 12, 1, 8), utc(2026, 12, 1, 16), LEASE, "leased to Makers Co-op", coop_id=1)

    svg = render(booking(utc(2026, 12, 1, 9)), lease)

    assert [bar.get("class") for bar in drawn_bars(svg)] == ["bar lease", "bar booking"]


def test_bars_outside_the_week_are_left_out_and_those_across_its_start_are_cut_at_it():
    before = booking(utc(2026, 11, 20, 9), ref=1)
    across = booking(utc(2026, 11, 29, 22), 4, ref=2)  # 23:00 Sunday to 03:00 Monday, Berlin

    svg = render(before, across)

    (bar,) = drawn_bars(svg)
    assert bar.get("href") == "/bookings/2"
    assert rect_x(bar) == pytest.approx((LEFT, column_x(0, 3 / 24)), abs=0.1)


def test_the_now_line_shows_only_when_now_is_inside_the_week():
    inside = render(now=utc(2026, 12, 2, 11))
    outside = render(now=utc(2026, 12, 9, 11))

    line = inside.find(f".//{SVG}g[@class='now']/{SVG}line")
    assert float(line.get("x1")) == pytest.approx(column_x(2, 0.5), abs=0.1)
    assert inside.find(f".//{SVG}g[@class='now']/{SVG}title").text == "now, Wed 12:00 CET"
    assert outside.find(f".//{SVG}g[@class='now']") is None


def test_names_purposes_and_links_are_escaped():
    evil = '<script>alert("x")</script> & "quotes"'
    bar = Bar(utc(2026, 12, 1, 8), utc(2026, 12, 1, 16), BOOKING, evil, evil, href='/bookings/1?"><x', coop_id=1)

    markup = week_timeline([Row(evil, (bar,), href="/m?a=1&b=<2>")], first_day=PLAIN_WEEK, time_zone=BERLIN)

    assert "<script>" not in markup and "<x" not in markup
    svg = ET.fromstring(str(markup))
    assert evil in svg.get("aria-label")
    assert drawn_bars(svg)[0].find(f"{SVG}title").text.startswith(f"{evil}: {evil}")
    assert svg.find(f".//{SVG}g[@class='row']").get("data-machine") == evil


def test_long_machine_names_are_shortened_with_the_full_name_in_the_tooltip():
    name = "The big laser cutter in the back room"

    svg = render(name=name)

    label = next(t for t in svg.iter(f"{SVG}text") if t.get("class") == "machine")
    assert label.find(f"{SVG}title").text == name
    assert "".join(label.itertext()).endswith("…")


def test_coop_colours_are_stable_by_id_and_readable_with_white_labels():
    assert coop_colour(7) == coop_colour(7) == COOP_COLOURS[7 % len(COOP_COLOURS)]
    assert len({coop_colour(i) for i in range(len(COOP_COLOURS))}) == len(COOP_COLOURS)
    assert all(_contrast_with_white(colour) >= 4.5 for colour in COOP_COLOURS)


def _contrast_with_white(colour: str) -> float:
    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)
