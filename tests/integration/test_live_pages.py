"""The live machines overview (cards and live.json) and a machine's page with its charts and events."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest

from drivers.messages import Event, EventMessage, StateMessage, TelemetryMessage
from drivers.states import MachineState
from factory.domain.capabilities import Capabilities
from factory.models import utcnow
from factory.services.telemetry import record_messages
from tests.integration.conftest import make_machine, sqlite_only

SVG = "{http://www.w3.org/2000/svg}"


def text(response) -> str:
    return response.get_data(as_text=True)


def report(session, machine: str = "printer-1", *, state=MachineState.RUNNING, job="bracket-v3", progress=0.42,
           metrics=None, seq: int = 1):
    """The machine reports a state and one telemetry sample now, as the ingest would store them."""
    at = utcnow()
    record_messages(session, [
        StateMessage(machine, at, seq, state, job=job, progress=progress, detail="printing"),
        TelemetryMessage(machine, at, seq + 1, metrics or {"hotend_c": 214.6, "bed_c": 60.0}),
    ])


def temperatures_every_minute(session, machine: str = "printer-1", minutes: int = 90):
    start = utcnow() - timedelta(minutes=minutes + 1)
    record_messages(session, [
        TelemetryMessage(machine, start + timedelta(minutes=m), 100 + m, {"hotend_c": 200.0 + m % 5, "bed_c": 60.0})
        for m in range(minutes)])


def charts(page_html: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", page_html, flags=re.S)]


def card_of(page_html: str, machine: str) -> str:
    match = re.search(rf'<li class="machine[^"]*" data-machine="{machine}".*?</li>', page_html, flags=re.S)
    assert match, f"no card for {machine}"
    return match.group(0)


# --- live.json -------------------------------------------------------------------------------------------

def test_live_json_carries_what_the_machine_last_reported(member, session):
    make_machine(session, id="printer-1", state="idle")
    report(session)

    response = member.get("/machines/live.json")

    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    (card,) = response.get_json()["machines"]
    assert {k: card[k] for k in ("id", "state", "state_label", "badge_class", "job", "progress", "progress_pct",
                                 "available")} == {
        "id": "printer-1", "state": "running", "state_label": "running", "badge_class": "badge state-running",
        "job": "bracket-v3", "progress": 0.42, "progress_pct": 42, "available": True}
    assert card["metrics"] == {"hotend_c": 214.6, "bed_c": 60.0}
    assert [r["text"] for r in card["readings"]] == ["215 °C", "60.0 °C"]
    assert card["last_seen"] == "last seen just now"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d CES?T", card["since"]), "site-local time (Europe/Berlin)"


def test_live_json_says_never_reported_and_not_available_for_a_silent_machine(member, session):
    make_machine(session, id="printer-1")  # registered, offline, never heard from

    (card,) = member.get("/machines/live.json").get_json()["machines"]

    assert (card["state"], card["available"], card["last_seen"]) == ("offline", False, "never reported")
    assert card["job"] is None and card["progress_pct"] is None and card["readings"] == []


@sqlite_only
def test_live_json_answers_401_without_a_login(client):
    response = client.get("/machines/live.json")

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


# --- the overview cards ----------------------------------------------------------------------------------

def test_overview_card_shows_job_progress_readings_and_last_seen(member, session):
    make_machine(session, id="printer-1", state="idle")
    report(session)

    card = card_of(text(member.get("/")), "printer-1")

    assert 'class="badge state-running"' in card
    assert "bracket-v3" in card
    assert re.search(r'<progress [^>]*value="42"', card) and '<span class="pct">42 %</span>' in card
    assert "Hot end</span> 215 °C" in card and "Bed</span> 60.0 °C" in card
    assert "last seen just now" in card


def test_overview_marks_an_unavailable_machine_and_loads_the_live_script(member, session):
    make_machine(session, id="printer-1", state="idle")
    make_machine(session, id="printer-2", name="Printer 2", state="fault")
    page = text(member.get("/"))

    assert 'class="machine unavailable"' in card_of(page, "printer-2")
    assert '<span class="flag-unavailable">not available</span>' in card_of(page, "printer-2")
    assert '<span class="flag-unavailable" hidden>' in card_of(page, "printer-1")
    assert 'src="/static/live.js"' in page and 'data-live-url="/machines/live.json"' in page


def test_the_live_script_is_served(member):
    response = member.get("/static/live.js")

    assert response.status_code == 200
    assert "visibilitychange" in text(response)
    response.close()


# --- the machine page ------------------------------------------------------------------------------------

def test_machine_page_draws_the_temperatures_of_the_last_six_hours(member, session):
    make_machine(session, id="printer-1", state="idle")
    temperatures_every_minute(session)

    page = text(member.get("/machines/printer-1"))

    (svg,) = charts(page)
    assert [p.get("data-series") for p in svg.iter(f"{SVG}path")] == ["Hot end", "Bed"]
    assert "Europe/Berlin" in svg.get("aria-label")
    assert "Last 6 hours" in page and 'aria-current="true">6 h</a>' in page


def test_a_cnc_router_gets_a_spindle_chart_and_a_load_chart_once_it_reports_power(member, session):
    make_machine(session, id="router-1", name="Router", kind="cnc_router",
                 capabilities=Capabilities(1220, 1220, 120, ("plywood",), None, 1500))
    at = utcnow() - timedelta(minutes=10)
    record_messages(session, [TelemetryMessage("router-1", at + timedelta(seconds=s), s,
                                               {"spindle_rpm": 18000.0, "power_w": 900.0 + s}) for s in range(5)])

    page = text(member.get("/machines/router-1?hours=1"))

    assert [[p.get("data-series") for p in svg.iter(f"{SVG}path")] for svg in charts(page)] == [["Spindle"],
                                                                                                ["Power"]]
    assert "Last 1 hour" in page


def test_machine_without_readings_shows_an_empty_chart_and_no_events(member, session):
    make_machine(session, id="printer-1")

    page = text(member.get("/machines/printer-1?hours=72"))

    (svg,) = charts(page)
    assert list(svg.iter(f"{SVG}path")) == []
    assert "No readings from" in "".join(svg.itertext())
    assert "No events reported yet." in page and "never reported" in page


def test_machine_page_lists_recent_events_in_the_sites_time(member, session):
    make_machine(session, id="printer-1", state="idle")
    at = utcnow().replace(month=1, day=15, hour=9, minute=30, second=0, microsecond=0)  # 10:30 CET in Berlin
    record_messages(session, [EventMessage("printer-1", at, 7, Event.FAULT, job="bracket-v3",
                                           code="thermal_runaway", detail="hot end fell 15 K")])

    page = text(member.get("/machines/printer-1"))

    row = re.search(r'<tr class="event-fault">.*?</tr>', page, flags=re.S).group(0)
    assert f"{at:%Y}-01-15 10:30 CET" in row
    assert all(part in row for part in ("fault", "bracket-v3", "thermal_runaway", "hot end fell 15 K"))


def test_machine_page_marks_a_machine_in_maintenance_as_not_available(member, session):
    make_machine(session, id="printer-1", state="maintenance")
    report(session, state=MachineState.MAINTENANCE, job=None, progress=None)

    page = text(member.get("/machines/printer-1"))

    assert '<span class="flag-unavailable">not available</span>' in page
    assert "Not available: the planner puts no work on a machine while it is maintenance." in page
    assert "Hot end" in page and "215 °C" in page


@sqlite_only
@pytest.mark.parametrize("hours", ["5", "abc", "", "-6", "6.0"])
def test_a_chart_window_other_than_1_6_24_or_72_hours_is_refused(member, session, hours):
    make_machine(session, id="printer-1")

    response = member.get(f"/machines/printer-1?hours={hours}")

    assert response.status_code == 400
    assert "hours must be one of 1, 6, 24 or 72" in text(response)
