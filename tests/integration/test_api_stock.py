"""/api/v1/materials and /api/v1/stock-moves: anyone reads the materials and their stock per site; stewards
and admins book receipts, counts, scrap and transfers, exactly, as decimal strings; a move the stock cannot
cover is a 409 with the balance. The works: tests/integration/production_api.py.
"""

from __future__ import annotations

import json

import pytest

from factory.models import StockMove
from factory.services.replenishment import set_reorder_rule
from tests.integration.booking_api import MISSING, call, conforms
from tests.integration.conftest import api_get, assert_error, count, sqlite_only
from tests.integration.production_api import PETG, make_works, move_body, stock_at


@pytest.fixture
def works(session):
    return make_works(session)


def book(client, token: str, **body) -> dict:
    response = call(client, "POST", "/api/v1/stock-moves", token, move_body(**body))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- materials -----------------------------------------------------------------------------------------

def test_member_reads_each_material_with_its_stock_per_site_as_decimal_strings(client, works):
    response = api_get(client, "/api/v1/materials", works.mia)

    assert response.status_code == 200
    body = response.get_json()
    assert [(m["slug"], m["unit"], m["provenance"]) for m in body["items"]] == [
        (PETG, "kg", "new"), ("clay", "kg", "reclaimed")] and body["count"] == 2
    petg, clay = body["items"]
    assert petg["sites"] == [{"site": "north", "on_hand": "2.000", "reserved": "0.000", "available": "2.000",
                              "low": False, "reorder_point": None, "reorder_quantity": None, "card": None}]
    assert clay["sites"] == []


def test_material_below_its_reorder_point_shows_the_rule_and_its_open_card(client, works, session):
    set_reorder_rule(session, PETG, "north", "2.500", "5.000")

    line = api_get(client, "/api/v1/materials?site=north", works.gus).get_json()["items"][0]["sites"][0]

    assert (line["low"], line["reorder_point"], line["reorder_quantity"]) == (True, "2.500", "5.000")
    assert {name: line["card"][name] for name in ("status", "quantity", "shortfall", "expected_at")} == {
        "status": "open", "quantity": "5.000", "shortfall": "0.500", "expected_at": None}


@sqlite_only
def test_materials_of_an_unknown_site_is_404_and_an_unknown_parameter_400(client, works):
    assert_error(api_get(client, "/api/v1/materials?site=nowhere", works.mia), 404, "not_found", field="site")
    assert_error(api_get(client, "/api/v1/materials?colour=red", works.mia), 400, "invalid_parameter", field="colour")
    assert_error(api_get(client, "/api/v1/materials"), 401, "unauthorized")


# --- booking moves -------------------------------------------------------------------------------------

def test_steward_books_a_receipt_exactly_and_gets_the_move_and_the_balance(client, works):
    response = call(client, "POST", "/api/v1/stock-moves", works.steward, move_body(quantity="0.300", note="roll"))

    assert response.status_code == 201
    body = response.get_json()
    move = body["moves"][0]
    assert (move["material"], move["site"], move["reason"], move["quantity"]) == (PETG, "north", "received", "0.300")
    assert (move["on_hand_delta"], move["reserved_delta"], move["note"], move["by"]) == (
        "0.300", "0.000", "roll", "steward:sam")
    assert body["balances"] == [{"site": "north", "on_hand": "2.300", "reserved": "0.000", "available": "2.300"}]
    assert stock_at(client, works.mia)["on_hand"] == "2.300"


def test_a_count_adjusts_stock_down_with_a_note_and_without_one_is_422(client, works):
    moved = book(client, works.admin, reason="adjusted", quantity="-0.125", note="counted 1.875")

    assert moved["moves"][0]["quantity"] == "-0.125" and moved["balances"][0]["on_hand"] == "1.875"
    assert_error(call(client, "POST", "/api/v1/stock-moves", works.admin, move_body("adjusted", "-1")),
                 422, "note_required", field="note")


def test_scrapping_more_than_is_available_is_409_with_the_balance_and_stores_nothing(client, works, session):
    before = count(session, StockMove)

    response = call(client, "POST", "/api/v1/stock-moves", works.steward, move_body("scrapped", "2.500"))

    error = assert_error(response, 409, "insufficient_stock", field="quantity")
    assert {name: error[name] for name in ("on_hand", "reserved", "available", "asked")} == {
        "on_hand": "2.000", "reserved": "0.000", "available": "2.000", "asked": "2.500"}
    assert count(session, StockMove) == before


def test_a_transfer_is_two_moves_and_changes_the_stock_at_both_sites(client, works):
    body = book(client, works.steward, reason="transferred", quantity="0.750", to_site="south")

    out_move, in_move = body["moves"]
    assert (out_move["reason"], out_move["site"], in_move["reason"], in_move["site"]) == (
        "transferred_out", "north", "transferred_in", "south")
    assert out_move["transfer_id"] == in_move["transfer_id"] == out_move["id"]
    assert [(b["site"], b["on_hand"]) for b in body["balances"]] == [("north", "1.250"), ("south", "0.750")]
    assert stock_at(client, works.mia, site="south")["available"] == "0.750"


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"reason": "reserved"}, "reason_not_allowed", "reason"),
    ({"reason": "released"}, "reason_not_allowed", "reason"),
    ({"reason": "consumed"}, "reason_not_allowed", "reason"),
    ({"reason": "transferred_out"}, "unknown_reason", "reason"),
    ({"reason": "lost"}, "unknown_reason", "reason"),
    ({"quantity": "1,5"}, "not_a_number", "quantity"),
    ({"quantity": "0.0001"}, "too_many_decimals", "quantity"),
    ({"quantity": "1e3"}, "not_a_number", "quantity"),
    ({"quantity": "-1"}, "negative_quantity", "quantity"),
    ({"quantity": "0"}, "not_positive", "quantity"),
    ({"reason": "transferred"}, "invalid", "to_site"),
    ({"reason": "transferred", "to_site": "north"}, "same_site", "to_site"),
    ({"to_site": "south"}, "invalid", "to_site"),
], ids=["reserved", "released", "consumed", "half-a-transfer", "unknown", "comma", "four-decimals", "exponent",
        "negative-receipt", "zero", "transfer-without-destination", "transfer-to-itself", "receipt-with-destination"])
def test_move_breaking_a_rule_is_422_with_its_code_and_stores_nothing(client, works, session, change, code, field):
    before = count(session, StockMove)

    response = call(client, "POST", "/api/v1/stock-moves", works.steward, move_body(**change))

    assert_error(response, 422, code, field=field)
    assert count(session, StockMove) == before


@sqlite_only
@pytest.mark.parametrize(("payload", "field"), [
    ("not json", "body"), ({"quantity": 0.3}, "quantity"), ({"quantity": 3}, "quantity"),
    ({"reason": MISSING}, "reason"), ({"operation": 1}, "operation"), ({"note": 5}, "note"),
], ids=["not-json", "quantity-number", "quantity-integer", "missing-reason", "unknown-field", "note-not-a-string"])
def test_malformed_move_is_400_naming_the_field(client, works, payload, field):
    if isinstance(payload, dict):
        merged = {**move_body(), **payload}
        payload = json.dumps({name: value for name, value in merged.items() if value is not MISSING})

    response = client.post("/api/v1/stock-moves", data=payload, content_type="application/json",
                           headers={"Authorization": f"Bearer {works.steward}"})

    assert_error(response, 400, "invalid_parameter", field=field)


@pytest.mark.parametrize(("change", "field"), [({"material": "unobtainium"}, "material"), ({"site": "moon"}, "site"),
                                               ({"reason": "transferred", "to_site": "moon"}, "site")])
def test_move_of_an_unknown_material_or_site_is_404(client, works, change, field):
    assert_error(call(client, "POST", "/api/v1/stock-moves", works.steward, move_body(**change)), 404, "not_found",
                 field=field)


def test_member_can_neither_book_nor_read_the_ledger(client, works, session):
    before = count(session, StockMove)

    assert_error(call(client, "POST", "/api/v1/stock-moves", works.mia, move_body()), 403, "forbidden")
    assert_error(api_get(client, "/api/v1/stock-moves", works.mia), 403, "forbidden")
    assert count(session, StockMove) == before


# --- the ledger ----------------------------------------------------------------------------------------

def test_the_ledger_lists_moves_newest_first_filtered_by_material_site_and_time(client, works, session):
    first = book(client, works.steward, quantity="1.000")["moves"][0]
    transfer = book(client, works.steward, reason="transferred", quantity="0.500", to_site="south")["moves"]
    clay = book(client, works.steward, material="clay", quantity="12.000")["moves"][0]

    def ids(query: str = "") -> list[int]:
        return [move["id"] for move in api_get(client, f"/api/v1/stock-moves{query}", works.admin).get_json()["items"]]

    everything = ids()
    assert everything[:4] == [clay["id"], transfer[1]["id"], transfer[0]["id"], first["id"]] and len(everything) == 5
    assert ids("?material=clay") == [clay["id"]]
    assert ids("?site=south") == [transfer[1]["id"]]
    assert ids(f"?material={PETG}&site=north&limit=2") == [transfer[0]["id"], first["id"]]
    assert ids(f"?since={first['at']}") == everything[:4]


@sqlite_only
@pytest.mark.parametrize(("query", "status", "field"), [
    ("limit=0", 400, "limit"), ("limit=many", 400, "limit"), ("since=yesterday", 400, "since"),
    ("colour=red", 400, "colour"), ("material=unobtainium", 404, "material"), ("site=moon", 404, "site"),
], ids=["zero-limit", "word-limit", "bad-since", "unknown", "unknown-material", "unknown-site"])
def test_bad_ledger_query_is_refused_naming_the_parameter(client, works, query, status, field):
    assert_error(api_get(client, f"/api/v1/stock-moves?{query}", works.steward), status, field=field)


# --- the documented shapes -----------------------------------------------------------------------------

@sqlite_only
def test_stock_answers_match_the_openapi_schemas(client, works, session):
    spec = client.get("/api/v1/openapi.json").get_json()
    set_reorder_rule(session, PETG, "north", "2.500", "5.000")
    received = call(client, "POST", "/api/v1/stock-moves", works.steward, move_body())
    moved = call(client, "POST", "/api/v1/stock-moves", works.steward,
                 move_body("transferred", "0.100", to_site="south"))
    short = call(client, "POST", "/api/v1/stock-moves", works.steward, move_body("scrapped", "99"))
    refused = call(client, "POST", "/api/v1/stock-moves", works.steward, move_body("reserved"))

    conforms(spec, "/stock-moves", "post", 201, received.get_json())
    conforms(spec, "/stock-moves", "post", 201, moved.get_json())
    conforms(spec, "/stock-moves", "post", 409, short.get_json())
    conforms(spec, "/stock-moves", "post", 422, refused.get_json())
    conforms(spec, "/stock-moves", "get", 200, api_get(client, "/api/v1/stock-moves", works.steward).get_json())
    conforms(spec, "/materials", "get", 200, api_get(client, "/api/v1/materials", works.mia).get_json())
    conforms(spec, "/stock-moves", "get", 403, api_get(client, "/api/v1/stock-moves", works.mia).get_json())
