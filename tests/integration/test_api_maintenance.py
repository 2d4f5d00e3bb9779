"""/api/v1/maintenance: a steward takes a machine out of use; the bookings the window would hit are listed
first (409 displaces_bookings), then moved after it, cancelled, or the window deferred until they are over."""

from __future__ import annotations

import pytest

from tests.integration.booking_api import book, booking_body, call, conforms, make_shop, monday, ts
from tests.integration.conftest import api_get, assert_error, make_machine, sqlite_only


@pytest.fixture
def shop(session):
    return make_shop(session)


def window_body(start, end, **extra) -> dict:
    return {"machine": "printer-1", "starts_at": ts(start), "ends_at": ts(end), "purpose": "new nozzle", **extra}


def schedule(client, token, start, end, **extra):
    return call(client, "POST", "/api/v1/maintenance", token, window_body(start, end, **extra))


def test_steward_schedules_maintenance_in_free_time(client, shop):
    response = schedule(client, shop.steward, monday(13), monday(14))

    assert response.status_code == 201
    body = response.get_json()
    window = body["window"]
    assert response.headers["Location"] == f"/api/v1/maintenance/{window['id']}"
    assert (window["starts_at"], window["ends_at"], window["status"]) == (ts(monday(13)), ts(monday(14)), "active")
    assert (body["moved"], body["cancelled"], body["deferred_from"]) == ([], [], None)
    assert api_get(client, f"/api/v1/maintenance/{window['id']}", shop.mia).get_json() == window


def test_maintenance_is_held_time_for_bookings(client, shop):
    schedule(client, shop.steward, monday(10), monday(12))

    response = call(client, "POST", "/api/v1/bookings", shop.steward, booking_body(monday(11)))

    error = assert_error(response, 409, "booking_conflict")
    assert [(c["kind"], c["label"]) for c in error["conflicts"]] == [("maintenance", "maintenance: new nozzle")]


def test_maintenance_hitting_bookings_without_a_resolution_is_409_listing_them(client, shop):
    hit = book(client, shop.steward, monday(10), coop="gears")

    response = schedule(client, shop.steward, monday(9), monday(12))

    error = assert_error(response, 409, "displaces_bookings", field="resolution")
    assert [(c["kind"], c["id"], c["starts_at"]) for c in error["conflicts"]] == [
        ("booking", hit["id"], ts(monday(10)))]
    assert api_get(client, "/api/v1/maintenance", shop.steward).get_json()["count"] == 0


def test_resolution_move_puts_each_booking_in_the_next_free_slot_after_the_window(client, shop):
    first = book(client, shop.steward, monday(10), coop="gears")
    second = book(client, shop.steward, monday(11), coop="spokes")

    response = schedule(client, shop.steward, monday(9), monday(12), resolution="move")

    assert response.status_code == 201
    moved = {b["id"]: b for b in response.get_json()["moved"]}
    assert moved[first["id"]]["starts_at"] == ts(monday(12))
    assert moved[first["id"]]["was"] == {"starts_at": ts(monday(10)), "ends_at": ts(monday(11))}
    assert moved[second["id"]]["starts_at"] == ts(monday(13))
    shown = api_get(client, f"/api/v1/bookings/{first['id']}", shop.gus).get_json()
    assert (shown["status"], shown["history"][-1]["action"]) == ("active", "moved")


def test_resolution_cancel_cancels_the_bookings_with_the_maintenance_as_reason(client, shop):
    hit = book(client, shop.steward, monday(10), coop="gears")

    response = schedule(client, shop.steward, monday(9), monday(12), resolution="cancel")

    assert response.status_code == 201
    assert [b["id"] for b in response.get_json()["cancelled"]] == [hit["id"]]
    shown = api_get(client, f"/api/v1/bookings/{hit['id']}", shop.gus).get_json()
    assert shown["status"] == "cancelled" and "new nozzle" in shown["cancel_reason"]


def test_resolution_defer_starts_the_window_when_the_machine_is_free(client, shop):
    hit = book(client, shop.steward, monday(10), coop="gears")

    response = schedule(client, shop.steward, monday(9, 30), monday(10, 30), resolution="defer")

    assert response.status_code == 201
    body = response.get_json()
    assert (body["window"]["starts_at"], body["window"]["ends_at"]) == (ts(monday(11)), ts(monday(12)))
    assert body["deferred_from"] == {"starts_at": ts(monday(9, 30)), "ends_at": ts(monday(10, 30))}
    assert api_get(client, f"/api/v1/bookings/{hit['id']}", shop.gus).get_json()["status"] == "active"


def test_maintenance_overlapping_maintenance_is_409(client, shop):
    schedule(client, shop.steward, monday(10), monday(12))

    assert_error(schedule(client, shop.steward, monday(11), monday(13), resolution="move"), 409, "maintenance_overlap")


@pytest.mark.parametrize(("overrides", "field"), [
    ({"resolution": "postpone"}, "resolution"),
    ({"purpose": "  "}, "purpose"),
    ({"starts_at": ts(monday(9).replace(second=30))}, "starts_at"),
    ({"ends_at": ts(monday(8))}, "ends_at"),
], ids=["unknown-resolution", "no-purpose", "not-to-the-minute", "ends-before-it-starts"])
def test_maintenance_breaking_a_rule_is_422_naming_the_field(client, shop, overrides, field):
    body = {**window_body(monday(9), monday(12)), **overrides}

    assert_error(call(client, "POST", "/api/v1/maintenance", shop.steward, body), 422, "invalid", field=field)


@sqlite_only
@pytest.mark.parametrize(("overrides", "field"), [
    ({"purpose": None}, "purpose"), ({"resolution": 1}, "resolution"), ({"starts_at": "monday"}, "starts_at"),
    ({"colour": "red"}, "colour"),
], ids=["purpose-null", "resolution-not-a-string", "not-a-time", "unknown-field"])
def test_malformed_maintenance_request_is_400_naming_the_field(client, shop, overrides, field):
    body = {**window_body(monday(9), monday(12)), **overrides}

    assert_error(call(client, "POST", "/api/v1/maintenance", shop.steward, body), 400, "invalid_parameter",
                 field=field)


def test_member_reads_maintenance_but_cannot_schedule_or_cancel_it(client, shop):
    window = schedule(client, shop.steward, monday(13), monday(14)).get_json()["window"]

    assert_error(schedule(client, shop.mia, monday(9), monday(10)), 403, "forbidden")
    assert_error(call(client, "DELETE", f"/api/v1/maintenance/{window['id']}", shop.mia, {"reason": "x"}), 403)
    assert api_get(client, "/api/v1/maintenance", shop.mia).get_json() == {"items": [window], "count": 1}


def test_cancelling_maintenance_needs_a_reason_and_frees_the_time(client, shop):
    window = schedule(client, shop.steward, monday(10), monday(12)).get_json()["window"]
    path = f"/api/v1/maintenance/{window['id']}"

    assert_error(call(client, "DELETE", path, shop.steward), 422, "invalid", field="reason")
    response = call(client, "DELETE", f"{path}?reason=part+not+delivered", shop.steward)

    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["cancel_reason"]) == ("cancelled", "part not delivered")
    assert api_get(client, "/api/v1/maintenance", shop.steward).get_json()["count"] == 0
    assert book(client, shop.steward, monday(10))["status"] == "active"
    assert_error(call(client, "DELETE", path, shop.steward, {"reason": "again"}), 409, "conflict")
    assert_error(call(client, "DELETE", "/api/v1/maintenance/999", shop.steward, {"reason": "x"}), 404)


def test_maintenance_can_be_filtered_by_machine_and_time(client, shop, session):
    make_machine(session, id="printer-2", name="Printer 2")
    morning = schedule(client, shop.steward, monday(9), monday(10)).get_json()["window"]
    other = schedule(client, shop.steward, monday(9), monday(10), machine="printer-2").get_json()["window"]
    afternoon = schedule(client, shop.steward, monday(14), monday(15)).get_json()["window"]

    def ids(query: str) -> list[int]:
        return [w["id"] for w in api_get(client, f"/api/v1/maintenance?{query}", shop.steward).get_json()["items"]]

    assert ids("machine=printer-1") == [morning["id"], afternoon["id"]]
    assert ids("machine=printer-2") == [other["id"]]
    assert ids(f"since={ts(monday(12))}") == [afternoon["id"]]
    assert sorted(ids(f"until={ts(monday(12))}")) == sorted([morning["id"], other["id"]])
    assert_error(api_get(client, "/api/v1/maintenance?site=north", shop.steward), 400, field="site")


@sqlite_only
def test_maintenance_answers_match_the_openapi_schemas(client, shop):
    spec = client.get("/api/v1/openapi.json").get_json()
    book(client, shop.steward, monday(10))
    refused = schedule(client, shop.steward, monday(9), monday(12))
    moved = schedule(client, shop.steward, monday(9), monday(12), resolution="move")

    conforms(spec, "/maintenance", "post", 409, refused.get_json())
    conforms(spec, "/maintenance", "post", 201, moved.get_json())
    conforms(spec, "/maintenance", "get", 200, api_get(client, "/api/v1/maintenance", shop.mia).get_json())
