"""The ledger's SVG charts: well-formed, drawn to scale, said in words, empty states, escaping."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from factory.web.ledger_charts import nice_ticks, payback_chart, stacked_bars, utilisation_chart

SVG = "{http://www.w3.org/2000/svg}"


def parsed(markup) -> ET.Element:
    return ET.fromstring(str(markup))


def rects(svg: ET.Element, cls: str) -> list[ET.Element]:
    return [r for r in svg.iter(f"{SVG}rect") if r.get("class") == cls]


@pytest.mark.parametrize(("high", "ticks"), [(0, [0, 1]), (7, [0, 2, 4, 6, 8]), (100, [0, 50, 100]),
                                             (3000, [0, 1000, 2000, 3000]), (123_456, [0, 50_000, 100_000, 150_000])])
def test_ticks_are_round_steps_from_zero_covering_the_highest_value(high, ticks):
    assert nice_ticks(high) == ticks


def test_stacked_bars_draw_each_segment_to_one_scale_and_say_the_totals():
    svg = parsed(stacked_bars([("Rents in", [("Rents", 3000)]),
                               ("Costs out", [("Interest", 600), ("Principal", 900)])], title="Money, 2026-11"))

    segments = {r.get("data-segment"): float(r.get("width")) for r in rects(svg, "segment")}
    assert set(segments) == {"Rents", "Interest", "Principal"}
    assert segments["Interest"] + segments["Principal"] == pytest.approx(segments["Rents"] / 2, abs=0.2)
    label = svg.get("aria-label")
    assert label.startswith("Money, 2026-11: Rents in €30.00; Costs out €15.00 (Interest €6.00, Principal €9.00)")
    assert [t.text for t in svg.iter(f"{SVG}text") if t.get("class") == "total"] == ["€30.00", "€15.00"]


def test_stacked_bars_leave_out_zero_and_negative_segments_but_name_them():
    svg = parsed(stacked_bars([("Rents in", [("Rents", -500)]), ("Paid out", [("Dividends", 0)])], title="T"))

    assert rects(svg, "segment") == []
    assert "Rents in −€5.00" in svg.get("aria-label")


def test_payback_chart_has_a_line_per_series_and_the_last_figures_in_words():
    points = [("2026-10", 2000, 110_000), ("2026-11", 5000, 100_000), ("2026-12", 9000, 90_000)]

    svg = parsed(payback_chart(points))

    groups = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "series"]
    assert [g.get("data-series") for g in groups] == ["Cumulative rent", "Bonds still owed"]
    assert all(len(g.findall(f"{SVG}circle")) == 3 for g in groups)
    assert "2026-10 to 2026-12: rent so far €90.00, bonds still owed €900.00" in svg.get("aria-label")
    rent = groups[0].find(f"{SVG}path").get("d")
    ys = [float(step.split(",")[1]) for step in rent[1:].split(" L")]
    assert ys[0] > ys[1] > ys[2]  # rising rent is drawn higher up


def test_a_single_month_still_draws_a_visible_point():
    svg = parsed(payback_chart([("2026-11", 5000, 0)]))

    assert all("h0.1" in p.get("d") for p in svg.iter(f"{SVG}path"))


def test_utilisation_bars_are_as_tall_as_the_hours_charged():
    svg = parsed(utilisation_chart([("2026-10", 90), ("2026-11", 180), ("2026-12", 0)]))

    bars = {r.get("data-month"): float(r.get("height")) for r in rects(svg, "bar")}
    assert bars["2026-11"] == pytest.approx(2 * bars["2026-10"], abs=0.1) and bars["2026-12"] == 0
    assert "2026-10 1.5 h, 2026-11 3.0 h, 2026-12 0.0 h" in svg.get("aria-label")


@pytest.mark.parametrize("chart", [payback_chart, utilisation_chart])
def test_charts_without_closed_months_say_so(chart):
    svg = parsed(chart([]))

    assert "no closed months yet" in svg.get("aria-label")
    assert [t.text for t in svg.iter(f"{SVG}text")] == ["No closed months yet."]


def test_labels_are_escaped():
    svg = parsed(stacked_bars([("<b>in</b>", [("a & b", 100)])], title='"quoted"'))

    assert svg.find(f"{SVG}title").text.startswith('"quoted": <b>in</b>')
