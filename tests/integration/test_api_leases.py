"""/api/v1/leases: a co-op proposes a standing weekly use of a machine, a steward approves or declines it;
inside an approved lease's windows only the lessee's bookings are accepted, unless the day is released."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.integration.booking_api import BERLIN, book, booking_body, call, conforms, make_shop, monday, ts
from tests.integration.conftest import api_get, assert_error, sqlite_only


def first_day():
    """The local date of the first Monday the tests book (at least a week ahead)."""
    return monday(10).astimezone(BERLIN).date()


def lease_body(coop: str = "spokes", **overrides) -> dict:
    start = first_day()
    return {"machine": "printer-1", "coop": coop, "starts_on": start.isoformat(),
            "ends_on": (start + timedelta(days=21)).isoformat(), "windows": {"mon": "09:00-12:00"},
            "rent_per_hour": "6.00", "note": "our Monday course", **overrides}


@pytest.fixture
def shop(session):
    return make_shop(session)


def propose(client, token: str, **overrides) -> dict:
    response = call(client, "POST", "/api/v1/leases", token, lease_body(**overrides))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def approved(client, shop, **overrides) -> dict:
    lease = propose(client, shop.mia, **overrides)
    response = call(client, "POST", f"/api/v1/leases/{lease['id']}/approve", shop.steward, {"note": "fine"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- proposing -----------------------------------------------------------------------------------------

def test_member_proposes_a_lease_for_their_own_coop(client, shop):
    response = call(client, "POST", "/api/v1/leases", shop.mia,
                    lease_body(windows={"mon": "09:00-12:00, 13:00-15:00", "wed": "10:00-11:00"}))

    assert response.status_code == 201
    lease = response.get_json()
    assert response.headers["Location"] == f"/api/v1/leases/{lease['id']}"
    assert (lease["status"], lease["coop"]["slug"], lease["proposed_by"]) == ("proposed", "spokes", "member:mia")
    assert lease["windows"] == {"mon": "09:00-12:00, 13:00-15:00", "wed": "10:00-11:00"}
    assert lease["rent_per_hour"] == "6.00" and lease["starts_on"] == first_day().isoformat()


@pytest.mark.parametrize(("rent", "expected"), [("6.5", "6.50"), ("0.10", "0.10"), ('"12.34"', "12.34"), ("7", "7.00")],
                         ids=["number", "cents", "string", "integer"])
def test_rent_is_read_exactly_as_a_decimal(client, shop, rent, expected):
    text = json.dumps(lease_body(rent_per_hour="RENT")).replace('"RENT"', rent)

    response = client.post("/api/v1/leases", data=text, content_type="application/json",
                           headers={"Authorization": f"Bearer {shop.mia}"})

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["rent_per_hour"] == expected


def test_member_cannot_propose_for_another_coop_but_a_steward_may(client, shop):
    assert_error(call(client, "POST", "/api/v1/leases", shop.mia, lease_body(coop="gears")), 403, "forbidden",
                 field="coop")

    assert propose(client, shop.steward, coop="gears")["coop"]["slug"] == "gears"


@pytest.mark.parametrize(("overrides", "field"), [
    ({"windows": {"mon": "9-5"}}, "windows.mon"),
    ({"windows": {"mon": "closed"}}, "windows"),
    ({"rent_per_hour": "6.001"}, "rent_per_hour"),
    ({"rent_per_hour": "-1"}, "rent_per_hour"),
    ({"rent_per_hour": "six"}, "rent_per_hour"),
    ({"starts_on": "2020-01-06"}, "starts_on"),
    ({"ends_on": "2020-01-06"}, "ends_on"),
], ids=["bad-window", "no-window", "too-many-decimals", "negative-rent", "rent-not-a-number", "in-the-past",
        "ends-before-it-starts"])
def test_lease_breaking_a_rule_is_422_naming_the_field(client, shop, overrides, field):
    assert_error(call(client, "POST", "/api/v1/leases", shop.mia, lease_body(**overrides)), 422, field=field)


@sqlite_only
@pytest.mark.parametrize(("overrides", "field"), [
    ({"windows": {"monday": "09:00-12:00"}}, "windows.monday"),
    ({"windows": {"mon": 9}}, "windows.mon"),
    ({"windows": "mon 09:00-12:00"}, "windows"),
    ({"rent_per_hour": True}, "rent_per_hour"),
    ({"starts_on": "2030/01/06"}, "starts_on"),
    ({"colour": "red"}, "colour"),
], ids=["unknown-weekday", "window-not-a-string", "windows-not-an-object", "rent-a-boolean", "bad-date",
        "unknown-field"])
def test_malformed_lease_request_is_400_naming_the_field(client, shop, overrides, field):
    response = call(client, "POST", "/api/v1/leases", shop.mia, lease_body(**overrides))

    assert_error(response, 400, "invalid_parameter", field=field)


def test_lease_meeting_an_approved_one_is_409(client, shop):
    first = approved(client, shop)

    response = call(client, "POST", "/api/v1/leases", shop.steward,
                    lease_body(coop="gears", windows={"mon": "11:00-13:00"}))

    error = assert_error(response, 409, "lease_conflict", field="windows")
    assert [(c["kind"], c["id"], c["coop"]) for c in error["conflicts"]] == [("lease", first["id"], "spokes")]


# --- seeing --------------------------------------------------------------------------------------------

def test_member_sees_only_their_coops_leases(client, shop):
    ours = propose(client, shop.mia)
    theirs = propose(client, shop.gus, coop="gears", windows={"tue": "09:00-12:00"})

    assert [lease["id"] for lease in api_get(client, "/api/v1/leases", shop.mia).get_json()["items"]] == [ours["id"]]
    assert api_get(client, "/api/v1/leases", shop.steward).get_json()["count"] == 2
    assert_error(api_get(client, f"/api/v1/leases/{theirs['id']}", shop.mia), 404, "not_found")
    assert api_get(client, f"/api/v1/leases/{ours['id']}", shop.mia).get_json() == ours


@sqlite_only
def test_bad_lease_filter_is_400(client, shop):
    assert_error(api_get(client, "/api/v1/leases?status=pending", shop.mia), 400, "invalid_parameter", field="status")
    assert_error(api_get(client, "/api/v1/leases?coop=gears", shop.mia), 400, "invalid_parameter", field="coop")


# --- deciding ------------------------------------------------------------------------------------------

def test_steward_approves_and_the_bookings_already_inside_are_honoured(client, shop):
    lease = propose(client, shop.mia)
    earlier = book(client, shop.steward, monday(10), coop="gears")
    path = f"/api/v1/leases/{lease['id']}/approve"

    assert_error(call(client, "POST", path, shop.mia, {}), 403, "forbidden")
    response = call(client, "POST", path, shop.admin, {"note": "enjoy"})

    assert response.status_code == 200
    body = response.get_json()
    assert (body["status"], body["decided_by"], body["decision_note"]) == ("approved", "admin:ada", "enjoy")
    assert [b["id"] for b in body["honoured_bookings"]] == [earlier["id"]]
    assert api_get(client, f"/api/v1/bookings/{earlier['id']}", shop.gus).get_json()["status"] == "active"
    assert_error(call(client, "POST", path, shop.steward), 409, "conflict")


def test_declining_needs_a_note(client, shop):
    lease = propose(client, shop.mia)
    path = f"/api/v1/leases/{lease['id']}/decline"

    assert_error(call(client, "POST", path, shop.mia, {"note": "no"}), 403, "forbidden")
    assert_error(call(client, "POST", path, shop.steward, {}), 422, "invalid", field="note")
    response = call(client, "POST", path, shop.steward, {"note": "the printer is needed on Mondays"})

    assert response.status_code == 200 and response.get_json()["status"] == "declined"
    assert_error(call(client, "POST", f"/api/v1/leases/{lease['id']}/approve", shop.steward), 409)
    assert_error(call(client, "POST", "/api/v1/leases/999/approve", shop.steward), 404, "not_found")


# --- the lease's windows -------------------------------------------------------------------------------

def test_inside_a_lease_window_only_the_lessees_bookings_are_accepted(client, shop):
    approved(client, shop)

    refused = call(client, "POST", "/api/v1/bookings", shop.steward, booking_body(monday(10), coop="gears"))
    accepted = call(client, "POST", "/api/v1/bookings", shop.steward, booking_body(monday(10), coop="spokes"))
    outside = call(client, "POST", "/api/v1/bookings", shop.steward, booking_body(monday(13), coop="gears"))

    error = assert_error(refused, 409, "booking_conflict")
    assert [(c["kind"], c["label"]) for c in error["conflicts"]] == [("lease", "leased to Spokes Co-op")]
    same_machine = [slot["starts_at"] for slot in error["suggestions"] if slot["machine"] == "printer-1"]
    assert same_machine and min(same_machine) >= ts(monday(12))  # after the lease window, same text format
    assert (accepted.status_code, outside.status_code) == (201, 201)


def test_a_released_day_is_open_to_other_coops(client, shop):
    lease = approved(client, shop)
    path = f"/api/v1/leases/{lease['id']}/release"

    assert_error(call(client, "POST", path, shop.gus, {"on_date": first_day().isoformat()}), 404, "not_found")
    response = call(client, "POST", path, shop.mia, {"on_date": first_day().isoformat(), "reason": "course off"})

    assert response.status_code == 200
    assert [(r["on_date"], r["released_by"]) for r in response.get_json()["releases"]] == [
        (first_day().isoformat(), "member:mia")]
    assert book(client, shop.steward, monday(10), coop="gears")["coop"]["slug"] == "gears"
    next_week = call(client, "POST", "/api/v1/bookings", shop.steward, booking_body(monday(10, weeks=1), coop="gears"))
    assert_error(next_week, 409, "booking_conflict")
    assert_error(call(client, "POST", path, shop.steward, {"on_date": first_day().isoformat()}), 409, field="on_date")


def test_releasing_a_day_without_a_window_is_422(client, shop):
    lease = approved(client, shop)
    tuesday = first_day() + timedelta(days=1)

    response = call(client, "POST", f"/api/v1/leases/{lease['id']}/release", shop.steward,
                    {"on_date": tuesday.isoformat()})

    assert_error(response, 422, "invalid", field="on_date")


# --- the documented shapes -----------------------------------------------------------------------------

@sqlite_only
def test_lease_answers_match_the_openapi_schemas(client, shop):
    spec = client.get("/api/v1/openapi.json").get_json()
    book(client, shop.steward, monday(10), coop="gears")
    proposed = call(client, "POST", "/api/v1/leases", shop.mia, lease_body())
    decision = call(client, "POST", f"/api/v1/leases/{proposed.get_json()['id']}/approve", shop.steward)
    released = call(client, "POST", f"/api/v1/leases/{proposed.get_json()['id']}/release", shop.mia,
                    {"on_date": first_day().isoformat()})

    conforms(spec, "/leases", "post", 201, proposed.get_json())
    conforms(spec, "/leases/{lease_id}/approve", "post", 200, decision.get_json())
    conforms(spec, "/leases/{lease_id}/release", "post", 200, released.get_json())
    conforms(spec, "/leases", "get", 200, api_get(client, "/api/v1/leases", shop.mia).get_json())
    conforms(spec, "/leases", "post", 409,
             call(client, "POST", "/api/v1/leases", shop.steward, lease_body(coop="gears")).get_json())


def test_member_meeting_another_coops_lease_is_told_its_windows_but_not_its_rent_or_id(client, shop):
    approved(client, shop, coop="spokes", rent_per_hour="7.35")

    response = call(client, "POST", "/api/v1/leases", shop.gus, lease_body(coop="gears"))

    error = assert_error(response, 409, "lease_conflict", field="windows")
    assert "Mon 09:00-12:00" in error["message"]
    assert "7.35" not in json.dumps(error)
    assert [conflict["id"] for conflict in error["conflicts"]] == [None]
