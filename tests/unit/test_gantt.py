"""The plan's Gantt chart SVG: bars at the x of their site-local times (23- and 25-hour days too), late,
running and pinned marks, held time on the same rows, the now-line, and what a member may see."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta

import pytest

from factory.web.gantt import (
    LATE,
    OTHER,
    GanttRow,
    Planned,
    gantt_chart,
    listing,
    operation_for_viewer,
)
from factory.web.machine_chart import LEFT, RIGHT
from factory.web.timeline import BOOKING, LEASE, MAINTENANCE, Bar, coop_colour

SVG = "{http://www.w3.org/2000/svg}"
BERLIN = "Europe/Berlin"
WIDTH = 1100
PLAIN_DAY = date(2026, 11, 30)  # a Monday, 24 hours, CET (UTC+1)
SPRING_DAY = date(2026, 3, 29)  # 23 hours in Berlin: 02:00 CET jumps to 03:00 CEST
AUTUMN_DAY = date(2026, 10, 25)  # 25 hours: 03:00 CEST falls back to 02:00 CET
SPOKES, GEARS = 1, 2


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def op(start: datetime, hours: float = 2, *, order: int = 12, coop_id: int = SPOKES, coop: str = "Spokes Co-op",
       **changes) -> Planned:
    fields = {"job": 1, "step": 2, "step_name": "print", "design": "Bracket", "href": f"/orders/{order}",
              "operation_id": 40 + order, **changes}
    return Planned(start, start + timedelta(hours=hours), order, coop_id=coop_id, coop=coop, **fields)


def render(*ops: Planned, held: tuple[Bar, ...] = (), first_day: date = PLAIN_DAY, days: int = 3,
           **options) -> ET.Element:
    markup = gantt_chart([GanttRow("Printer 1", ops, held)], first_day=first_day, days=days, time_zone=BERLIN,
                         width=WIDTH, **options)
    return ET.fromstring(str(markup))


def day_width(days: int) -> float:
    return (WIDTH - LEFT - RIGHT) / days


def op_groups(svg: ET.Element) -> list[ET.Element]:
    return [e for e in svg.iter() if "op" in (e.get("class") or "").split()]


def body(group: ET.Element) -> ET.Element:
    return next(r for r in group.iter(f"{SVG}rect") if r.get("class") == "body")


def span_x(group: ET.Element) -> tuple[float, float]:
    rect = body(group)
    return float(rect.get("x")), float(rect.get("x")) + float(rect.get("width"))


def title_of(group: ET.Element) -> str:
    return group.find(f"{SVG}title").text


def text_of(svg: ET.Element) -> str:
    return " ".join(svg.itertext())


def ticks(svg: ET.Element, day: date) -> dict[str, float]:
    return {t.text: float(t.get("x")) - 2 for t in svg.iter(f"{SVG}text")
            if t.get("class") == "tick" and t.get("data-day") == day.isoformat()}


def test_chart_is_an_accessible_svg_naming_each_machine_and_what_is_planned_on_it():
    markup = gantt_chart([GanttRow("Printer 1", (op(utc(2026, 11, 30, 9)),)), GanttRow("Laser")],
                         first_day=PLAIN_DAY, time_zone=BERLIN, title="Plan at North")

    svg = ET.fromstring(str(markup))
    assert svg.get("role") == "img"
    said = svg.get("aria-label")
    assert said.startswith("Plan at North, Mon 30 Nov to Wed 2 Dec 2026 (Europe/Berlin)")
    assert "Printer 1: 1 planned operation" in said and "Laser: nothing planned" in said
    assert [g.get("data-machine") for g in svg.iter(f"{SVG}g") if g.get("class") == "row"] == ["Printer 1", "Laser"]


def test_operation_bar_starts_and_ends_at_the_x_of_its_site_local_times():
    # Tuesday 12:00-18:00 in Berlin (CET) is 11:00-17:00 UTC: the middle to three quarters of the second day.
    svg = render(op(utc(2026, 12, 1, 11), hours=6))

    (bar,) = op_groups(svg)
    x1, x2 = span_x(bar)
    assert x1 == pytest.approx(LEFT + 1.5 * day_width(3), abs=0.1)
    assert x2 == pytest.approx(LEFT + 1.75 * day_width(3), abs=0.2)
    assert bar.get("data-order") == "12" and bar.get("href") == "/orders/12"
    assert body(bar).get("fill") == coop_colour(SPOKES)


def test_spring_forward_day_is_drawn_as_23_real_hours_without_the_skipped_tick():
    # 12:00 CEST on 29 March is 10:00 UTC, 11 real hours after local midnight (23:00 UTC the day before).
    svg = render(op(utc(2026, 3, 29, 10), hours=1), first_day=SPRING_DAY, days=1)

    x1, x2 = span_x(op_groups(svg)[0])
    assert x1 == pytest.approx(LEFT + 11 / 23 * day_width(1), abs=0.1)
    assert x2 - x1 == pytest.approx(day_width(1) / 23, abs=0.2)
    assert "Sun 29 Mar (23 h)" in text_of(svg)
    drawn = ticks(svg, SPRING_DAY)
    assert "02" not in drawn
    assert drawn["04"] == pytest.approx(LEFT + 3 / 23 * day_width(1), abs=0.1)


def test_fall_back_day_is_drawn_as_25_real_hours():
    # 12:00 CET on 25 October is 11:00 UTC, 13 real hours after local midnight (22:00 UTC the day before).
    svg = render(op(utc(2026, 10, 25, 11), hours=1), first_day=AUTUMN_DAY, days=1)

    x1, _ = span_x(op_groups(svg)[0])
    assert x1 == pytest.approx(LEFT + 13 / 25 * day_width(1), abs=0.1)
    assert "Sun 25 Oct (25 h)" in text_of(svg)
    assert ticks(svg, AUTUMN_DAY)["12"] == pytest.approx(x1, abs=0.1)


def test_late_operation_has_a_red_outline_and_says_how_late_in_its_title():
    svg = render(op(utc(2026, 12, 1, 8), late_minutes=150), op(utc(2026, 12, 1, 12), order=13))

    late, on_time = op_groups(svg)
    assert body(late).get("stroke") == LATE and "late" in late.get("class").split()
    assert "late by 2.5 h" in title_of(late)
    assert body(on_time).get("stroke") is None and "late" not in title_of(on_time)


def test_running_and_pinned_operations_are_marked_and_say_so():
    svg = render(op(utc(2026, 12, 1, 8), status="running", fixed="running"),
                 op(utc(2026, 12, 1, 12), order=13, fixed="pinned"))

    running, pinned = op_groups(svg)
    assert running.find(f"{SVG}rect[@class='running-mark']") is not None
    assert pinned.find(f"{SVG}circle[@class='pin-mark']") is not None
    assert running.find(f"{SVG}circle") is None and pinned.find(f"{SVG}rect[@class='running-mark']") is None
    assert "; running" in title_of(running) and "pinned" in title_of(pinned)


def test_member_sees_other_coops_operations_only_as_anonymous_grey_bars():
    mine = op(utc(2026, 12, 1, 8), coop="Spokes Co-op")
    theirs = op(utc(2026, 12, 1, 12), order=13, coop_id=GEARS, coop="Gears Co-op", late_minutes=90,
                fixed="pinned", design="Secret sprocket")

    svg = render(mine, theirs, member_coop_id=SPOKES)

    own, other = op_groups(svg)
    assert own.get("data-order") == "12" and "Spokes Co-op" in title_of(own)
    assert body(other).get("fill") == OTHER and other.get("data-order") is None and other.get("href") is None
    assert title_of(other).startswith("planned operation of another co-op")
    assert body(other).get("stroke") is None and other.find(f"{SVG}circle") is None  # no late or pin either
    for secret in ("Gears", "Secret sprocket", "#13"):
        assert secret not in str(ET.tostring(svg, encoding="unicode"))
    line = next(line for line in listing([GanttRow("Printer 1", (mine, theirs))], first_day=PLAIN_DAY,
                                         time_zone=BERLIN, member_coop_id=SPOKES) if line.operation.anonymous)
    assert (line.coop, line.what, line.operation.operation_id) == ("another co-op", "another co-op's operation", None)


def test_stewards_see_every_coops_operation():
    theirs = op(utc(2026, 12, 1, 12), coop_id=GEARS, coop="Gears Co-op")

    assert operation_for_viewer(theirs, None) == theirs
    assert body(op_groups(render(theirs))[0]).get("fill") == coop_colour(GEARS)


def test_bookings_leases_and_maintenance_are_drawn_on_the_machines_row_and_masked_for_members():
    held = (Bar(utc(2026, 12, 1, 7), utc(2026, 12, 1, 15), LEASE, "leased to Gears Co-op", coop_id=GEARS),
            Bar(utc(2026, 12, 1, 8), utc(2026, 12, 1, 10), BOOKING, "Gears Co-op", "jigs", coop_id=GEARS),
            Bar(utc(2026, 12, 2, 8), utc(2026, 12, 2, 12), MAINTENANCE, "maintenance", "new nozzle"))

    steward = render(held=held)
    member = render(held=held, member_coop_id=SPOKES)

    kinds = [e.get("class") for e in steward.iter() if (e.get("class") or "").startswith("bar ")]
    assert kinds == ["bar lease", "bar booking", "bar maintenance"]
    assert "Gears Co-op: jigs, Tue 1 Dec 09:00 CET–11:00" in text_of(steward)
    long = Bar(utc(2026, 12, 1, 8), utc(2026, 12, 1, 14), BOOKING, "Gears Co-op", coop_id=GEARS)
    assert "booking: Gears Co-op" in text_of(render(held=(long,), first_day=date(2026, 12, 1), days=1))
    assert "bar booked" in [e.get("class") for e in member.iter()]
    assert "jigs" not in str(ET.tostring(member, encoding="unicode"))


def test_now_line_is_drawn_at_now_only_when_now_is_shown():
    now = utc(2026, 11, 30, 11)  # Monday 12:00 in Berlin

    line = render(now=now).find(f".//{SVG}g[@class='now']/{SVG}line")
    assert float(line.get("x1")) == pytest.approx(LEFT + 0.5 * day_width(3), abs=0.1)
    assert render(now=now + timedelta(days=3)).find(f".//{SVG}g[@class='now']") is None


def test_operations_outside_the_days_shown_are_left_out_and_one_running_past_the_end_is_cut_at_the_edge():
    svg = render(op(utc(2026, 11, 29, 8)), op(utc(2026, 12, 2, 20), hours=10, order=13), days=3)

    (cut,) = op_groups(svg)
    assert cut.get("data-order") == "13"
    assert span_x(cut)[1] == pytest.approx(WIDTH - RIGHT, abs=0.1)


def test_label_names_order_job_and_step_when_it_fits_and_shortens_when_it_does_not():
    wide = render(op(utc(2026, 12, 1, 8), hours=8), days=1, first_day=date(2026, 12, 1))
    narrow = render(op(utc(2026, 12, 1, 8), hours=5), days=3)

    assert "#12 job 1 · 2. print" in text_of(op_groups(wide)[0])
    assert "#12/1/2" in text_of(op_groups(narrow)[0])


def test_labels_and_titles_are_escaped():
    svg = render(op(utc(2026, 12, 1, 8), coop="<b>&Co</b>", step_name="cut <all>"))

    assert "<b>&Co</b>" in title_of(op_groups(svg)[0])  # parsed back: it was escaped in the markup


@pytest.mark.parametrize("days", [1, 3, 7, 14])
def test_every_offered_range_draws_one_heading_per_day(days):
    svg = render(days=days)

    assert len([t for t in svg.iter(f"{SVG}text") if t.get("class") == "day"]) == days


def test_a_range_not_offered_is_refused():
    with pytest.raises(ValueError, match="days"):
        render(days=5)


def test_listing_gives_the_operations_by_start_in_site_time_with_their_marks():
    rows = [GanttRow("Printer 1", (op(utc(2026, 12, 1, 12), order=13, late_minutes=45),)),
            GanttRow("Laser", (op(utc(2026, 12, 1, 8), status="running", fixed="running"),))]

    lines = listing(rows, first_day=PLAIN_DAY, time_zone=BERLIN)

    assert [(line.machine, line.starts, line.what) for line in lines] == [
        ("Laser", "Tue 01 Dec 09:00 CET", "running"),
        ("Printer 1", "Tue 01 Dec 13:00 CET", "planned, late by 45 min")]
