"""/api/v1/bookings and booking series: stewards book, edit and cancel; members read their own co-op's only;
a taken slot is a 409 with what holds it and free slots instead (the 50-client race: test_api_booking_race.py).

The API uses the wall clock, so times are the first Monday at least a week ahead (`monday`), on site
`north` (Europe/Berlin, open Monday to Friday 09:00-17:00).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from factory.models import Booking
from tests.integration.booking_api import BERLIN, MISSING, book, booking_body, call, conforms, make_shop, monday, ts
from tests.integration.conftest import (
    api_get,
    assert_error,
    make_commune_with_site,
    make_machine,
    sqlite_only,
)


@pytest.fixture
def shop(session):
    return make_shop(session)


# --- booking -------------------------------------------------------------------------------------------

def test_steward_books_a_machine_for_a_coop_and_gets_the_booking_with_its_history(client, shop):
    response = call(client, "POST", "/api/v1/bookings", shop.steward, booking_body(monday(10), monday(12)))

    assert response.status_code == 201
    booking = response.get_json()
    assert response.headers["Location"] == f"/api/v1/bookings/{booking['id']}"
    assert booking["machine"] == "printer-1" and booking["coop"] == {"slug": "spokes", "name": "Spokes Co-op"}
    assert (booking["starts_at"], booking["ends_at"]) == (ts(monday(10)), ts(monday(12)))
    assert booking["starts_at"].endswith("Z")
    assert booking["status"] == "active" and booking["created_by"] == "steward:sam"
    assert booking["series_id"] is None and booking["cancel_reason"] is None
    assert [change["action"] for change in booking["history"]] == ["created"]


def test_admin_may_book_too_and_offsets_are_read_as_utc(client, shop):
    start = monday(10).astimezone(BERLIN).isoformat()

    booking = book(client, shop.admin, monday(10), starts_at=start)

    assert booking["starts_at"] == ts(monday(10))


def test_held_time_is_409_with_what_holds_it_and_free_slots_instead(client, shop):
    book(client, shop.steward, monday(10), monday(12), coop="gears")

    response = call(client, "POST", "/api/v1/bookings", shop.steward, booking_body(monday(11)))

    error = assert_error(response, 409, "booking_conflict", field="starts_at")
    assert [(c["kind"], c["starts_at"], c["label"]) for c in error["conflicts"]] == [
        ("booking", ts(monday(10)), "booked for Gears Co-op")]
    assert error["suggestions"], "no free slots offered"
    first = error["suggestions"][0]
    assert first["machine"] == "printer-1" and first["starts_at"] == ts(monday(12))
    assert first["ends_at"] == ts(monday(13))


def test_bookings_that_only_touch_are_both_accepted(client, shop):
    book(client, shop.steward, monday(10), monday(11))

    before = call(client, "POST", "/api/v1/bookings", shop.steward, booking_body(monday(9), monday(10)))
    after = call(client, "POST", "/api/v1/bookings", shop.steward, booking_body(monday(11), monday(12)))

    assert (before.status_code, after.status_code) == (201, 201)


@pytest.mark.parametrize(("start", "end", "code", "field"), [
    ((16, 30), (17, 30), "outside_opening_hours", "starts_at"),
    ((10, 0), (10, 15), "too_short", "ends_at"),
    ((10, 0), (9, 0), "ends_before_start", "ends_at"),
    ((8, 0), (17, 0), "too_long", "ends_at"),
], ids=["outside-opening-hours", "too-short", "ends-before-start", "too-long"])
def test_booking_that_breaks_a_rule_is_422_with_the_rules_code_and_field(client, shop, start, end, code, field):
    body = booking_body(monday(*start), monday(*end))

    assert_error(call(client, "POST", "/api/v1/bookings", shop.steward, body), 422, code, field=field)


def test_booking_in_the_past_is_422(client, shop):
    body = booking_body(monday(10, weeks=-3))

    assert_error(call(client, "POST", "/api/v1/bookings", shop.steward, body), 422, "in_past", field="starts_at")


def test_unknown_machine_or_coop_is_404(client, shop):
    assert_error(call(client, "POST", "/api/v1/bookings", shop.steward,
                      {**booking_body(monday(10)), "machine": "no-such"}), 404, "not_found")
    assert_error(call(client, "POST", "/api/v1/bookings", shop.steward, booking_body(monday(10), coop="nobody")),
                 404, "not_found", field="coop")


@sqlite_only
@pytest.mark.parametrize(("payload", "field"), [
    ("[1, 2]", "body"),
    ("not json", "body"),
    ('{"rent": NaN}', "body"),
    ({"coop": MISSING}, "coop"),
    ({"colour": "red"}, "colour"),
    ({"machine": 7}, "machine"),
    ({"purpose": None}, "purpose"),
    ({"starts_at": "2030-01-07T10:00:00"}, "starts_at"),
    ({"ends_at": "next monday"}, "ends_at"),
    ({"skip_conflicts": "yes", "repeat": {"weekly": {"count": 2}}}, "skip_conflicts"),
    ({"repeat": {"daily": {"count": 2}}}, "repeat.daily"),
    ({"repeat": {"weekly": {"count": True}}}, "repeat.weekly.count"),
    ({"repeat": {"weekly": {"until": "20300101"}}}, "repeat.weekly.until"),
], ids=["array", "not-json", "nan", "missing-field", "unknown-field", "machine-not-a-string", "purpose-null",
        "naive-time", "not-a-time", "skip-not-a-boolean", "unknown-repeat", "count-not-a-number", "until-not-a-date"])
def test_malformed_booking_request_is_400_naming_the_field(client, shop, payload, field):
    if isinstance(payload, dict):
        merged = {**booking_body(monday(10)), **payload}
        payload = json.dumps({name: value for name, value in merged.items() if value is not MISSING})

    response = client.post("/api/v1/bookings", data=payload, content_type="application/json",
                           headers={"Authorization": f"Bearer {shop.steward}"})

    assert_error(response, 400, "invalid_parameter", field=field)


@sqlite_only
def test_booking_without_a_token_is_401(client, shop):
    assert_error(call(client, "POST", "/api/v1/bookings", None, booking_body(monday(10))), 401, "unauthorized")


# --- what a member may see and do ----------------------------------------------------------------------

def test_member_cannot_book_even_for_their_own_coop(client, shop, session):
    response = call(client, "POST", "/api/v1/bookings", shop.mia, booking_body(monday(10)))

    assert_error(response, 403, "forbidden")
    assert session.scalar(select(func.count()).select_from(Booking)) == 0


def test_member_lists_only_their_coops_bookings(client, shop):
    ours = book(client, shop.steward, monday(10), coop="spokes")
    book(client, shop.steward, monday(12), coop="gears")

    mine = api_get(client, "/api/v1/bookings", shop.mia).get_json()
    asked_for_theirs = api_get(client, "/api/v1/bookings?coop=gears", shop.mia).get_json()
    everyone = api_get(client, "/api/v1/bookings", shop.steward).get_json()

    assert [b["id"] for b in mine["items"]] == [ours["id"]] and mine["count"] == 1
    assert asked_for_theirs == {"items": [], "count": 0}
    assert [b["coop"]["slug"] for b in everyone["items"]] == ["spokes", "gears"]


def test_member_gets_404_for_another_coops_booking_and_their_own_with_its_history(client, shop):
    ours = book(client, shop.steward, monday(10), coop="spokes")
    theirs = book(client, shop.steward, monday(12), coop="gears")

    assert_error(api_get(client, f"/api/v1/bookings/{theirs['id']}", shop.mia), 404, "not_found")
    response = api_get(client, f"/api/v1/bookings/{ours['id']}", shop.mia)
    assert response.status_code == 200
    assert response.get_json() == ours
    assert api_get(client, f"/api/v1/bookings/{theirs['id']}", shop.gus).status_code == 200


@pytest.mark.parametrize(("method", "body"), [
    ("PATCH", {"purpose": "ours now", "reason": "because"}),
    ("DELETE", {"reason": "not needed"}),
], ids=["edit", "cancel"])
def test_member_cannot_edit_or_cancel_a_booking_of_any_coop(client, shop, method, body):
    ours = book(client, shop.steward, monday(10), coop="spokes")
    theirs = book(client, shop.steward, monday(12), coop="gears")

    for booking in (ours, theirs):
        assert_error(call(client, method, f"/api/v1/bookings/{booking['id']}", shop.mia, body), 403, "forbidden")
    assert api_get(client, f"/api/v1/bookings/{ours['id']}", shop.mia).get_json() == ours
    assert api_get(client, f"/api/v1/bookings/{theirs['id']}", shop.gus).get_json() == theirs


@sqlite_only
@pytest.mark.parametrize("booking_id", ["999", "abc", "99999999999999"], ids=["unknown", "not-a-number", "huge"])
def test_unknown_booking_is_404(client, shop, booking_id):
    assert_error(api_get(client, f"/api/v1/bookings/{booking_id}", shop.steward), 404, "not_found")


# --- filters -------------------------------------------------------------------------------------------

def test_bookings_can_be_filtered_by_machine_coop_site_and_time(client, shop, session):
    make_commune_with_site(session, "south")
    make_machine(session, id="printer-s", name="Printer S", site="south")
    first = book(client, shop.steward, monday(10), coop="spokes")
    second = book(client, shop.steward, monday(12), coop="gears")
    south = book(client, shop.steward, monday(10), machine="printer-s")

    def ids(query: str) -> list[int]:
        return [b["id"] for b in api_get(client, f"/api/v1/bookings?{query}", shop.steward).get_json()["items"]]

    assert ids("machine=printer-1") == [first["id"], second["id"]]
    assert ids("coop=gears") == [second["id"]]
    assert ids("site=south") == [south["id"]]
    assert ids(f"since={ts(monday(11))}") == [second["id"]]
    assert ids(f"until={ts(monday(11))}") == [first["id"], south["id"]]


@sqlite_only
@pytest.mark.parametrize(("query", "field"), [
    ("colour=red", "colour"), ("since=yesterday", "since"), ("until=2030-01-01T10:00:00", "until"),
    ("include_cancelled=maybe", "include_cancelled"),
], ids=["unknown", "bad-since", "naive-until", "bad-boolean"])
def test_bad_booking_filter_is_400_naming_it(client, shop, query, field):
    assert_error(api_get(client, f"/api/v1/bookings?{query}", shop.steward), 400, "invalid_parameter", field=field)


# --- editing and cancelling ----------------------------------------------------------------------------

def test_steward_moves_a_booking_with_a_reason_and_the_history_says_so(client, shop):
    booking = book(client, shop.steward, monday(10))

    response = call(client, "PATCH", f"/api/v1/bookings/{booking['id']}", shop.admin,
                    {"starts_at": ts(monday(13)), "ends_at": ts(monday(15)), "reason": "the co-op asked"})

    assert response.status_code == 200
    moved = response.get_json()
    assert (moved["starts_at"], moved["ends_at"], moved["purpose"]) == (ts(monday(13)), ts(monday(15)), "brackets")
    assert [(c["action"], c["by"], c["reason"]) for c in moved["history"]] == [
        ("created", "steward:sam", ""), ("edited", "admin:ada", "the co-op asked")]


def test_edit_without_a_reason_is_422(client, shop):
    booking = book(client, shop.steward, monday(10))

    response = call(client, "PATCH", f"/api/v1/bookings/{booking['id']}", shop.steward, {"purpose": "other"})

    assert_error(response, 422, "invalid", field="reason")


def test_edit_into_held_time_is_409_with_suggestions(client, shop):
    booking = book(client, shop.steward, monday(10))
    book(client, shop.steward, monday(12), coop="gears")

    response = call(client, "PATCH", f"/api/v1/bookings/{booking['id']}", shop.steward,
                    {"ends_at": ts(monday(13)), "reason": "longer"})

    error = assert_error(response, 409, "booking_conflict")
    assert error["conflicts"][0]["starts_at"] == ts(monday(12)) and "suggestions" in error


@pytest.mark.parametrize("reason_in", ["body", "query"])
def test_cancelling_keeps_the_booking_cancelled_with_its_reason(client, shop, reason_in):
    booking = book(client, shop.steward, monday(10))
    path = f"/api/v1/bookings/{booking['id']}"

    if reason_in == "body":
        response = call(client, "DELETE", path, shop.steward, {"reason": "printer needed elsewhere"})
    else:
        response = call(client, "DELETE", f"{path}?reason=printer+needed+elsewhere", shop.steward)

    assert response.status_code == 200
    cancelled = response.get_json()
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("cancelled", "printer needed elsewhere")
    assert cancelled["history"][-1]["action"] == "cancelled"
    assert api_get(client, "/api/v1/bookings", shop.steward).get_json()["count"] == 0
    listed = api_get(client, "/api/v1/bookings?include_cancelled=true", shop.steward).get_json()["items"]
    assert [b["status"] for b in listed] == ["cancelled"]
    assert_error(call(client, "DELETE", path, shop.steward, {"reason": "again"}), 409, "conflict")
    assert book(client, shop.steward, monday(10))["status"] == "active"


def test_cancelling_without_a_reason_is_422(client, shop):
    booking = book(client, shop.steward, monday(10))

    assert_error(call(client, "DELETE", f"/api/v1/bookings/{booking['id']}", shop.steward), 422, field="reason")


# --- weekly series -------------------------------------------------------------------------------------

def test_weekly_series_books_every_occurrence_at_the_same_local_time(client, shop):
    response = call(client, "POST", "/api/v1/bookings", shop.steward,
                    booking_body(monday(10), repeat={"weekly": {"count": 3}}))

    assert response.status_code == 201
    body = response.get_json()
    assert body["series"]["count"] == 3 and body["skipped"] == []
    assert [b["starts_at"] for b in body["bookings"]] == [ts(monday(10, weeks=n)) for n in range(3)]
    assert {b["series_id"] for b in body["bookings"]} == {body["series"]["id"]}


def test_series_until_a_date_includes_that_date(client, shop):
    last = monday(10, weeks=2).astimezone(BERLIN).date()

    body = call(client, "POST", "/api/v1/bookings", shop.steward,
                booking_body(monday(10), repeat={"weekly": {"until": last.isoformat()}})).get_json()

    assert len(body["bookings"]) == 3 and body["series"]["until"] == last.isoformat()


def test_series_meeting_a_booking_is_409_listing_the_blocked_occurrence_and_books_nothing(client, shop):
    book(client, shop.steward, monday(10, weeks=1), coop="gears")

    response = call(client, "POST", "/api/v1/bookings", shop.steward,
                    booking_body(monday(10), repeat={"weekly": {"count": 3}}))

    error = assert_error(response, 409, "series_conflict", field="starts_at")
    assert [(o["starts_at"], o["free"], o["code"]) for o in error["conflicts"]] == [
        (ts(monday(10, weeks=1)), False, "booking_conflict")]
    assert error["conflicts"][0]["conflicts"][0]["label"] == "booked for Gears Co-op"
    assert api_get(client, "/api/v1/bookings?coop=spokes", shop.steward).get_json()["count"] == 0


def test_series_with_skip_conflicts_books_the_free_occurrences_and_lists_the_skipped(client, shop):
    book(client, shop.steward, monday(10, weeks=1), coop="gears")

    response = call(client, "POST", "/api/v1/bookings", shop.steward,
                    booking_body(monday(10), repeat={"weekly": {"count": 3}}, skip_conflicts=True))

    assert response.status_code == 201
    body = response.get_json()
    assert [b["starts_at"] for b in body["bookings"]] == [ts(monday(10)), ts(monday(10, weeks=2))]
    assert [o["starts_at"] for o in body["skipped"]] == [ts(monday(10, weeks=1))]


def test_series_count_out_of_range_is_422_naming_the_repeat_field(client, shop):
    response = call(client, "POST", "/api/v1/bookings", shop.steward,
                    booking_body(monday(10), repeat={"weekly": {"count": 0}}))

    assert_error(response, 422, "invalid", field="repeat.weekly.count")


def test_preview_lists_each_occurrence_and_books_nothing(client, shop):
    book(client, shop.steward, monday(10, weeks=2), coop="gears")

    response = call(client, "POST", "/api/v1/bookings/preview", shop.steward,
                    booking_body(monday(10), repeat={"weekly": {"count": 3}}))

    assert response.status_code == 200
    body = response.get_json()
    assert [o["free"] for o in body["occurrences"]] == [True, True, False]
    assert (body["free"], body["count"]) == (2, 3)
    assert api_get(client, "/api/v1/bookings?coop=spokes", shop.steward).get_json()["count"] == 0
    assert_error(call(client, "POST", "/api/v1/bookings/preview", shop.mia, booking_body(monday(10))), 403)


def test_cancelling_a_series_cancels_its_coming_bookings(client, shop):
    series = call(client, "POST", "/api/v1/bookings", shop.steward,
                  booking_body(monday(10), repeat={"weekly": {"count": 2}})).get_json()["series"]
    path = f"/api/v1/booking-series/{series['id']}/cancel"

    assert_error(call(client, "POST", path, shop.mia, {"reason": "no"}), 403, "forbidden")
    assert_error(call(client, "POST", path, shop.steward, {}), 422, field="reason")
    response = call(client, "POST", path, shop.steward, {"reason": "the course is over"})

    assert response.status_code == 200
    assert [b["status"] for b in response.get_json()["cancelled"]] == ["cancelled", "cancelled"]
    assert api_get(client, "/api/v1/bookings", shop.steward).get_json()["count"] == 0
    assert_error(call(client, "POST", path, shop.steward, {"reason": "again"}), 409)
    assert_error(call(client, "POST", "/api/v1/booking-series/999/cancel", shop.steward, {"reason": "x"}), 404)


# --- the documented shapes -----------------------------------------------------------------------------

@sqlite_only
def test_booking_answers_match_the_openapi_schemas(client, shop):
    spec = client.get("/api/v1/openapi.json").get_json()
    created = call(client, "POST", "/api/v1/bookings", shop.steward, booking_body(monday(10)))
    series = call(client, "POST", "/api/v1/bookings", shop.steward,
                  booking_body(monday(13), repeat={"weekly": {"count": 2}}))
    held = call(client, "POST", "/api/v1/bookings", shop.steward, booking_body(monday(10)))
    blocked = call(client, "POST", "/api/v1/bookings", shop.steward,
                   booking_body(monday(10), repeat={"weekly": {"count": 2}}))

    conforms(spec, "/bookings", "post", 201, created.get_json())
    conforms(spec, "/bookings", "post", 201, series.get_json())
    conforms(spec, "/bookings", "post", 409, held.get_json())
    conforms(spec, "/bookings", "post", 409, blocked.get_json())
    conforms(spec, "/bookings", "get", 200, api_get(client, "/api/v1/bookings", shop.steward).get_json())
    conforms(spec, "/bookings/{booking_id}", "get", 200,
             api_get(client, f"/api/v1/bookings/{created.get_json()['id']}", shop.mia).get_json())
    conforms(spec, "/bookings", "post", 403,
             call(client, "POST", "/api/v1/bookings", shop.mia, booking_body(monday(10))).get_json())


@sqlite_only
@pytest.mark.parametrize("moment", ["0001-01-01T00:30:00+01:00", "9999-12-31T10:00:00Z", "3000-01-01T10:00:00Z"])
def test_booking_at_a_time_outside_the_supported_years_is_400(client, shop, moment):
    response = call(client, "POST", "/api/v1/bookings", shop.steward,
                    booking_body(monday(10), starts_at=moment, ends_at=moment))

    assert_error(response, 400, field="starts_at")
