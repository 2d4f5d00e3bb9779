"""/api/v1/designs and /api/v1/orders: anyone reads the catalogue; a member orders for their own co-op and
reaches only its orders (another co-op's is not found, whatever the id); stewards plan, which reserves the
materials, and cancelling gives them back. The works: tests/integration/production_api.py.
"""

from __future__ import annotations

import json

import pytest

from factory.models import ProductionOrder
from factory.services.order_work import start_operation
from tests.integration.booking_api import MISSING, call, conforms
from tests.integration.conftest import api_get, assert_error, count, sqlite_only
from tests.integration.production_api import CASTING_NEEDS, make_works, order_body, place, stock_at, today


@pytest.fixture
def works(session):
    return make_works(session)


def planned(client, works, **changes) -> dict:
    order = place(client, works.mia, **changes)
    response = call(client, "POST", f"/api/v1/orders/{order['id']}/plan", works.steward, {"site": "north"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# --- the catalogue -------------------------------------------------------------------------------------

def test_member_reads_the_catalogue_with_routing_bill_of_materials_and_what_can_be_made(client, works):
    response = api_get(client, "/api/v1/designs", works.mia)

    assert response.status_code == 200
    body = response.get_json()
    assert [design["slug"] for design in body["items"]] == ["bracket", "casting"] and body["count"] == 2
    bracket, casting = body["items"]
    assert (bracket["licence"], bracket["source_url"], bracket["version"], bracket["max_batch"]) == (
        "CC-BY-SA-4.0", "https://example.org/bracket", "1.0", 10)
    assert bracket["steps"] == [{
        "position": 1, "name": "print", "machine_kind": "fdm_printer",
        "requirements": {"material": "petg", "min_volume_mm": None, "min_temperature_c": None},
        "minutes_per_unit": "45.00", "setup_minutes": 10, "setup_family": "petg", "batch_capacity": None,
        "machines": ["printer-1"]}]
    assert bracket["bom"] == [{"material": "petg-black", "quantity_per_unit": "0.300", "unit": "kg", "step": 1}]
    assert (bracket["makeable"], bracket["missing"]) == (True, [])
    assert casting["makeable"] is False and CASTING_NEEDS in casting["missing"][0]


def test_one_design_by_slug_and_an_unknown_one_is_404(client, works):
    response = api_get(client, "/api/v1/designs/casting", works.gus)

    assert response.status_code == 200 and response.get_json()["steps"][0]["machines"] == []
    assert_error(api_get(client, "/api/v1/designs/no-such", works.gus), 404, "not_found")


# --- placing an order ----------------------------------------------------------------------------------

def test_member_orders_for_their_coop_and_gets_its_jobs_operations_and_history(client, works):
    response = call(client, "POST", "/api/v1/orders", works.mia, order_body(quantity=12, priority="high"))

    assert response.status_code == 201
    order = response.get_json()
    assert response.headers["Location"] == f"/api/v1/orders/{order['id']}"
    assert order["design"] == {"slug": "bracket", "name": "Bracket", "version": "1.0"}
    assert (order["coop"]["slug"], order["quantity"], order["priority"], order["status"]) == (
        "spokes", 12, "high", "submitted")
    assert order["placed_by"] == "member:mia"
    assert [(job["number"], job["quantity"]) for job in order["jobs"]] == [(1, 6), (2, 6)]
    operation = order["jobs"][0]["operations"][0]
    assert (operation["position"], operation["step"], operation["machine_kind"], operation["status"]) == (
        1, "print", "fdm_printer", "waiting")
    assert operation["duration_minutes"] == 10 + 45 * 6
    assert operation["earliest_start"] is None and operation["machine"] is None
    assert [(c["from_status"], c["to_status"], c["by"]) for c in order["history"]] == [
        (None, "submitted", "member:mia")]


def test_member_ordering_for_another_coop_is_403_and_stores_nothing(client, works, session):
    assert_error(call(client, "POST", "/api/v1/orders", works.mia, order_body(coop="gears")), 403, "forbidden")
    assert count(session, ProductionOrder) == 0


@pytest.mark.parametrize("who", ["steward", "admin"])
def test_stewards_and_admins_order_for_any_coop(client, works, who):
    order = place(client, getattr(works, who), coop="gears")

    assert order["coop"]["slug"] == "gears" and order["placed_by"].startswith(f"{who}:")


def test_order_for_a_design_no_machine_can_make_is_422_naming_the_missing_capability(client, works, session):
    response = call(client, "POST", "/api/v1/orders", works.mia, order_body(design="casting"))

    error = assert_error(response, 422, "no_capable_machine", field="design")
    assert "furnace" in error["message"] and CASTING_NEEDS in error["message"]
    assert count(session, ProductionOrder) == 0


@pytest.mark.parametrize(("change", "field"), [
    ({"quantity": 0}, "quantity"), ({"quantity": 10_001}, "quantity"),
    ({"needed_by": today().isoformat()}, "needed_by"), ({"priority": "whenever"}, "priority"),
    ({"notes": "x" * 2001}, "notes"),
], ids=["none", "too-many", "today", "unknown-priority", "notes-too-long"])
def test_order_breaking_a_rule_is_422_naming_the_field(client, works, change, field):
    assert_error(call(client, "POST", "/api/v1/orders", works.mia, order_body(**change)), 422, field=field)


@sqlite_only
@pytest.mark.parametrize(("payload", "field"), [
    ("[1]", "body"), ({"quantity": "4"}, "quantity"), ({"quantity": 4.0}, "quantity"),
    ({"quantity": True}, "quantity"), ({"needed_by": "21/12/2030"}, "needed_by"), ({"colour": "red"}, "colour"),
    ({"design": MISSING}, "design"), ({"coop": 7}, "coop"),
], ids=["array", "quantity-string", "quantity-fraction", "quantity-boolean", "not-a-date", "unknown-field",
        "missing-design", "coop-not-a-string"])
def test_malformed_order_is_400_naming_the_field(client, works, payload, field):
    if isinstance(payload, dict):
        merged = {**order_body(), **payload}
        payload = json.dumps({name: value for name, value in merged.items() if value is not MISSING})

    response = client.post("/api/v1/orders", data=payload, content_type="application/json",
                           headers={"Authorization": f"Bearer {works.mia}"})

    assert_error(response, 400, "invalid_parameter", field=field)


@pytest.mark.parametrize(("change", "field"), [({"design": "no-such"}, "design"), ({"coop": "nobody"}, "coop")])
def test_order_of_an_unknown_design_or_coop_is_404(client, works, change, field):
    assert_error(call(client, "POST", "/api/v1/orders", works.steward, order_body(**change)), 404, "not_found",
                 field=field)


@sqlite_only
def test_orders_without_a_token_are_401(client, works):
    assert_error(call(client, "GET", "/api/v1/orders"), 401, "unauthorized")
    assert_error(call(client, "POST", "/api/v1/orders", None, order_body()), 401, "unauthorized")


# --- what a member may see and do ----------------------------------------------------------------------

def test_member_lists_only_their_coops_orders_and_stewards_filter_by_coop_and_status(client, works):
    ours = place(client, works.mia)
    theirs = place(client, works.gus, coop="gears")
    call(client, "POST", f"/api/v1/orders/{theirs['id']}/cancel", works.gus, {"reason": "not needed"})

    def ids(token: str, query: str = "") -> list[int]:
        return [order["id"] for order in api_get(client, f"/api/v1/orders{query}", token).get_json()["items"]]

    assert ids(works.mia) == [ours["id"]]
    assert ids(works.mia, "?coop=gears") == []
    assert ids(works.steward) == [theirs["id"], ours["id"]]
    assert ids(works.steward, "?coop=spokes") == [ours["id"]]
    assert ids(works.admin, "?status=cancelled") == [theirs["id"]]


@sqlite_only
@pytest.mark.parametrize(("query", "field"), [("status=lost", "status"), ("colour=red", "colour")])
def test_bad_order_filter_is_400_naming_it(client, works, query, field):
    assert_error(api_get(client, f"/api/v1/orders?{query}", works.steward), 400, "invalid_parameter", field=field)


def test_member_guessing_another_coops_order_id_gets_404_and_changes_nothing(client, works):
    theirs = place(client, works.gus, coop="gears")
    path = f"/api/v1/orders/{theirs['id']}"

    assert_error(api_get(client, path, works.mia), 404, "not_found")
    assert_error(call(client, "POST", f"{path}/cancel", works.mia, {"reason": "mine now"}), 404, "not_found")
    assert api_get(client, path, works.gus).get_json() == theirs


@sqlite_only
@pytest.mark.parametrize("order_id", ["999", "abc", "99999999999999"], ids=["unknown", "not-a-number", "huge"])
def test_unknown_order_is_404(client, works, order_id):
    assert_error(api_get(client, f"/api/v1/orders/{order_id}", works.steward), 404, "not_found")
    assert_error(call(client, "POST", f"/api/v1/orders/{order_id}/plan", works.steward), 404, "not_found")


# --- cancelling ----------------------------------------------------------------------------------------

def test_member_cancels_their_coops_order_with_a_reason_once(client, works):
    order = place(client, works.mia)
    path = f"/api/v1/orders/{order['id']}/cancel"

    assert_error(call(client, "POST", path, works.mia, {}), 422, field="reason")
    response = call(client, "POST", path, works.mia, {"reason": "the fair is off"})

    assert response.status_code == 200
    cancelled = response.get_json()
    assert cancelled["status"] == "cancelled"
    assert [(c["to_status"], c["note"]) for c in cancelled["history"]][-1] == ("cancelled", "the fair is off")
    assert {op["status"] for job in cancelled["jobs"] for op in job["operations"]} == {"cancelled"}
    assert_error(call(client, "POST", path, works.steward, {"reason": "again"}), 409, field="reason")


def test_cancelling_a_planned_order_gives_its_reservations_back(client, works):
    before = stock_at(client, works.mia)
    order = planned(client, works)
    assert stock_at(client, works.mia) == {"on_hand": "2.000", "reserved": "1.200", "available": "0.800"}

    response = call(client, "POST", f"/api/v1/orders/{order['id']}/cancel", works.mia, {"reason": "too late"})

    assert response.status_code == 200
    assert stock_at(client, works.mia) == before == {"on_hand": "2.000", "reserved": "0.000", "available": "2.000"}


def test_an_order_in_progress_can_be_neither_cancelled_nor_planned_409(client, works, session):
    order = planned(client, works)
    start_operation(session, order["jobs"][0]["operations"][0]["id"], by="steward:sam")
    path = f"/api/v1/orders/{order['id']}"

    assert_error(call(client, "POST", f"{path}/cancel", works.mia, {"reason": "too late"}), 409)
    assert_error(call(client, "POST", f"{path}/plan", works.steward), 409)
    assert api_get(client, path, works.mia).get_json()["status"] == "in_progress"


# --- planning ------------------------------------------------------------------------------------------

def test_steward_plans_an_order_reserving_its_materials(client, works):
    order = planned(client, works)

    assert order["status"] == "planned"
    assert [op["status"] for job in order["jobs"] for op in job["operations"]] == ["planned"]
    assert [c["to_status"] for c in order["history"]] == ["submitted", "planned"]


def test_an_order_short_of_material_stays_submitted_and_its_operation_says_what_is_short(client, works):
    order = planned(client, works, quantity=10)

    operation = order["jobs"][0]["operations"][0]
    assert order["status"] == "submitted" and operation["status"] == "waiting"
    assert "short of PETG black: 3 kg needed, 2 kg available" in operation["material_note"]
    assert stock_at(client, works.steward)["reserved"] == "0.000"


def test_member_cannot_plan_and_an_unknown_site_is_404(client, works):
    order = place(client, works.mia)
    path = f"/api/v1/orders/{order['id']}/plan"

    assert_error(call(client, "POST", path, works.mia), 403, "forbidden")
    assert_error(call(client, "POST", path, works.steward, {"site": "nowhere"}), 404, "not_found", field="site")
    assert_error(call(client, "POST", path, works.steward, {"site": 3}), 400, "invalid_parameter", field="site")


# --- the documented shapes -----------------------------------------------------------------------------

@sqlite_only
def test_order_and_design_answers_match_the_openapi_schemas(client, works):
    spec = client.get("/api/v1/openapi.json").get_json()
    order = planned(client, works)
    placed = call(client, "POST", "/api/v1/orders", works.mia, order_body(design="casting"))
    short = call(client, "POST", "/api/v1/orders", works.mia, order_body(quantity=10)).get_json()
    cancelled = call(client, "POST", f"/api/v1/orders/{short['id']}/cancel", works.mia, {"reason": "no"})

    conforms(spec, "/designs", "get", 200, api_get(client, "/api/v1/designs", works.mia).get_json())
    conforms(spec, "/designs/{slug}", "get", 404, api_get(client, "/api/v1/designs/x", works.mia).get_json())
    conforms(spec, "/orders/{order_id}/plan", "post", 200, order)
    conforms(spec, "/orders", "post", 201, short)
    conforms(spec, "/orders", "post", 422, placed.get_json())
    conforms(spec, "/orders", "get", 200, api_get(client, "/api/v1/orders", works.steward).get_json())
    conforms(spec, "/orders/{order_id}", "get", 200,
             api_get(client, f"/api/v1/orders/{order['id']}", works.mia).get_json())
    conforms(spec, "/orders/{order_id}/cancel", "post", 200, cancelled.get_json())
    conforms(spec, "/orders/{order_id}/cancel", "post", 409,
             call(client, "POST", f"/api/v1/orders/{short['id']}/cancel", works.mia, {"reason": "no"}).get_json())
