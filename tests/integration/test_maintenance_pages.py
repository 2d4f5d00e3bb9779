"""The machine's side of booking: maintenance windows and what happens to the bookings they hit, a breakdown's
expected return, and the booking rules set on the machine form."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from factory.models import Booking, Machine, MaintenanceWindow
from tests.integration.conftest import count, field_errors, logged_in, submit
from tests.integration.test_booking_pages import (
    book,
    booking_form,
    make_shop,
    next_monday,
    other_client,
    text,
    utc,
    wall,
)


@pytest.fixture
def shop(session):
    make_shop(session)


def maintenance_form(start_hour: int, end_hour: int, **overrides) -> dict:
    return {"machine": "printer-1", "starts_at": wall(next_monday(start_hour)),
            "ends_at": wall(next_monday(end_hour)), "purpose": "new hot end", **overrides}


# --- maintenance ---------------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("shop")
def test_maintenance_over_a_booking_lists_it_and_asks_what_to_do(session, client):
    booking = book(session, "spokes", next_monday(10))
    logged_in(client, "sam")

    response = submit(client, "/maintenance/new?machine=printer-1", maintenance_form(9, 13))

    assert response.status_code == 422
    page = text(response)
    assert "booked for Spokes Co-op" in page and f'href="/bookings/{booking.id}"' in page
    for choice in ("move", "cancel", "defer"):
        assert f'name="resolution" required type="radio" value="{choice}"' in page
    assert "1 booking(s) fall in this window" in field_errors(page)["resolution"][0]
    assert count(session, MaintenanceWindow) == 0


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(("choice", "window", "booking_after", "status", "told"), [
    ("move", (9, 13), (13, 15), "active", "Booking of Printer 1 moved for maintenance"),
    ("cancel", (9, 13), (10, 12), "cancelled", "Booking of Printer 1 cancelled"),
    ("defer", (12, 16), (10, 12), "active", None),
])
def test_each_choice_for_the_bookings_in_the_way_does_what_it_says(app, session, client, choice, window,
                                                                   booking_after, status, told):
    booking = book(session, "spokes", next_monday(10))
    logged_in(client, "sam")

    response = submit(client, "/maintenance/new", maintenance_form(9, 13, resolution=choice))

    assert response.status_code == 302
    session.expire_all()
    planned = session.scalars(select(MaintenanceWindow)).one()
    assert (planned.starts_at, planned.ends_at) == (utc(next_monday(window[0])), utc(next_monday(window[1])))
    after = session.get(Booking, booking.id)
    assert (after.starts_at, after.ends_at, after.status) == (
        utc(next_monday(booking_after[0])), utc(next_monday(booking_after[1])), status)
    notifications = text(other_client(app, "mia").get("/notifications"))
    if told:
        assert told in notifications
    else:
        assert "Booking of Printer 1" not in notifications


@pytest.mark.usefixtures("shop")
def test_maintenance_is_listed_on_the_machine_page_and_cancelled_only_with_a_reason(session, client):
    logged_in(client, "sam")

    planned = submit(client, "/maintenance/new", maintenance_form(9, 11))

    assert planned.status_code == 302
    window = session.scalars(select(MaintenanceWindow)).one()
    assert f'data-maintenance="{window.id}"' in text(client.get("/maintenance"))
    machine_page = text(client.get("/machines/printer-1"))
    assert "new hot end" in machine_page
    assert 'href="/bookings/new?machine=printer-1"' in machine_page
    assert 'href="/maintenance/new?machine=printer-1"' in machine_page
    url, page = f"/maintenance/{window.id}/cancel", f"/maintenance/{window.id}"
    refused = submit(client, url, {"reason": ""}, form_page=page)
    assert refused.status_code == 422 and "reason" in field_errors(text(refused))
    assert submit(client, url, {"reason": "parts late"}, form_page=page).status_code == 302
    assert f'data-maintenance="{window.id}"' not in text(client.get("/maintenance"))


@pytest.mark.usefixtures("shop")
def test_member_cannot_plan_or_list_maintenance(client):
    logged_in(client, "mia")

    assert client.get("/maintenance").status_code == 403
    assert client.get("/maintenance/new").status_code == 403
    assert ">Maintenance</a>" not in text(client.get("/bookings"))


# --- the machine out of use, and its booking rules -------------------------------------------------------------

@pytest.mark.usefixtures("shop")
def test_expected_back_time_on_the_state_form_lets_bookings_start_from_then(session, client):
    logged_in(client, "sam")

    response = submit(client, "/machines/printer-1/state",
                      {"state": "fault", "reason": "belt snapped", "expected_back_at": wall(next_monday(12))},
                      form_page="/machines/printer-1")

    assert response.status_code == 302
    session.expire_all()
    assert session.get(Machine, "printer-1").expected_back_at == utc(next_monday(12))
    refused = submit(client, "/bookings/new", booking_form(next_monday(10)))
    assert refused.status_code == 422 and "fault since" in text(refused)
    assert submit(client, "/bookings/new", booking_form(next_monday(12))).status_code == 302


def machine_edit_form(**rules) -> dict:
    return {"name": "Printer 1", "kind": "fdm_printer", "site": "north", "model": "", "build_x_mm": "250",
            "build_y_mm": "210", "build_z_mm": "220", "materials": "pla", "max_temperature_c": "290", **rules}


@pytest.mark.usefixtures("shop")
def test_booking_rules_set_on_the_machine_form_apply_to_bookings(client):
    logged_in(client, "sam")

    saved = submit(client, "/manage/machines/printer-1", machine_edit_form(
        booking_min_minutes="60", booking_max_minutes="240", booking_notice_minutes="0", booking_horizon_days="90"))

    assert saved.status_code == 302
    refused = submit(client, "/bookings/new", booking_form(next_monday(10), next_monday(10, 30)))
    assert refused.status_code == 422
    assert field_errors(text(refused))["ends_at"] == ["at least 1 hour per booking"]


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(("rules", "field", "message"), [
    ({"booking_min_minutes": "3"}, "booking_min_minutes", "at least 5 minutes"),
    ({"booking_max_minutes": "20000"}, "booking_max_minutes", "at most 7 days (10080 minutes)"),
    ({"booking_min_minutes": "120", "booking_max_minutes": "60"}, "booking_max_minutes",
     "the longest booking cannot be shorter than the shortest"),
    ({"booking_notice_minutes": "-5"}, "booking_notice_minutes", "the notice cannot be negative"),
    ({"booking_horizon_days": "0"}, "booking_horizon_days", "between 1 and 730 days"),
    ({"booking_min_minutes": ""}, "booking_min_minutes", "give a whole number"),
], ids=["min-too-short", "max-too-long", "min-above-max", "negative-notice", "no-horizon", "blank"])
def test_machine_form_refuses_booking_rules_out_of_range_on_their_field(session, client, rules, field, message):
    logged_in(client, "sam")

    response = submit(client, "/manage/machines/printer-1", machine_edit_form(**rules))

    assert response.status_code == 422
    assert field_errors(text(response))[field] == [message]
    session.expire_all()
    assert session.get(Machine, "printer-1").booking_min_minutes == 30
