"""The OpenAPI paths and schemas of designs, production orders, materials and the stock ledger, merged into
factory.api.openapi.SPEC as openapi_bookings' are. Quantities are decimal strings, never JSON numbers."""

from __future__ import annotations

from factory.api.openapi_bookings import (
    COOP,
    DATE,
    ID,
    MALFORMED,
    NULLABLE_TEXT,
    STEWARDS_ONLY,
    TEXT,
    TIME,
    UNAUTHORIZED,
    _json,
    _path,
    _query,
    _ref,
)
from factory.api.stock import BY_HAND, BY_PLANS, MAX_LIMIT
from factory.domain.vocabulary import MachineKind
from factory.services.orders import PRIORITIES
from factory.services.stock import PROVENANCES

ORDER_STATUSES = ["submitted", "planned", "in_progress", "done", "cancelled"]
OPERATION_STATUSES = ["waiting", "planned", "running", "done", "cancelled"]
QUANTITY = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{3}$",
            "description": "decimal, three places, in the material's own unit"}
NULLABLE_QUANTITY = {**QUANTITY, "type": ["string", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
NULLABLE_INT = {"type": ["integer", "null"]}
KIND = {"type": "string", "enum": [kind.value for kind in MachineKind]}
STOCK_CONFLICT = "StockConflictError"


def _op(operation_id: str, summary: str, ok: tuple[str, dict], *, body: str | None = None,
        body_optional: bool = False, parameters: list | None = None, **errors: str) -> dict:
    """An operation answering `ok` or the errors given as `e400="why"`, ... (401 always); a 409 may carry the
    stock figures of an `insufficient_stock`."""
    responses = {status[1:]: _json(_ref(STOCK_CONFLICT if status == "e409" else "Error"), text)
                 for status, text in {"e401": UNAUTHORIZED, **errors}.items()}
    operation = {"operationId": operation_id, "summary": summary, "parameters": parameters or [],
                 "responses": {ok[0]: ok[1], **responses}}
    if body:
        operation["requestBody"] = {"required": not body_optional,
                                    "content": {"application/json": {"schema": _ref(body)}}}
    return operation


ORDER_RULE = "a rule the order breaks, `field` naming it: a quantity outside 1..10,000, a date needed not after " \
             "today, an unknown priority, notes too long, a withdrawn design, or `no_capable_machine` (field " \
             "`design`) when no machine of the commune can do a step, the message saying what is missing"
ORDER_ID = [_path("order_id")]
NOT_SEEN = "no such order, or another co-op's (for a member)"

DESIGN_RULE = "a rule the design breaks, `field` naming it (`steps.2.minutes_per_unit`, `bom.unit`): a licence " \
              "that is not an SPDX identifier, a source that is not an http(s) link, no steps, an unknown machine " \
              "kind, minutes or a batch out of range, an unknown material (`bom.material`), a unit of another " \
              "kind than the material's, a BOM line naming no step of the routing"
SLUG = [{"name": "slug", "in": "path", "required": True, "schema": TEXT}]

PATHS = {
    "/designs": {
        "get": _op("listDesigns", "The catalogue of open designs, by name, each with whether the commune can make it",
                   ("200", _json(_ref("DesignList"), "the active designs")), e400="a query parameter (there are none)"),
        "post": _op("createDesign", "Publish an open design with its routing and bill of materials (stewards and "
                    "admins)", ("201", _json(_ref("Design"), "the design, as GET answers it")),
                    body="DesignRequest", e400=f"{MALFORMED}; a field of the wrong type",
                    e403=f"{STEWARDS_ONLY} publish designs", e409="a design with this slug exists (`slug`)",
                    e422=DESIGN_RULE),
    },
    "/designs/{slug}": {
        "get": _op("getDesign", "One design with its routing, bill of materials and feasibility",
                   ("200", _json(_ref("Design"), "the design")), parameters=SLUG, e404="no such design"),
        "put": _op("updateDesign", "Change a design, the whole of it (stewards and admins); its routing and bill "
                   "of materials only while no order uses it",
                   ("200", _json(_ref("Design"), "the design as changed")), body="DesignChange", parameters=SLUG,
                   e400=f"{MALFORMED}; a field of the wrong type", e403=f"{STEWARDS_ONLY} change designs",
                   e404="no such design", e409="orders use the design and the routing or BOM would change "
                   "(`steps`): publish a new design instead", e422=DESIGN_RULE),
    },
    "/orders": {
        "get": _op("listOrders", "Production orders, newest first; a member gets only their co-op's",
                   ("200", _json(_ref("OrderList"), "the orders")),
                   parameters=[_query("status", "order status", {"type": "string", "enum": ORDER_STATUSES}),
                               _query("coop", "co-op slug (a member sees their own co-op's only)")],
                   e400="an unknown filter or status", e404="no such co-op"),
        "post": _op("placeOrder", "Order a design: a member for their own co-op, a steward or admin for any",
                    ("201", _json(_ref("OrderDetail"), "the order, submitted, with its jobs and operations")),
                    body="OrderRequest", e400=f"{MALFORMED}; a quantity that is not a whole number",
                    e403="a member ordering for another co-op", e404="no such design or co-op", e422=ORDER_RULE),
    },
    "/orders/{order_id}": {"get": _op(
        "getOrder", "One order with its jobs, operations and history",
        ("200", _json(_ref("OrderDetail"), "the order")), parameters=ORDER_ID, e404=NOT_SEEN)},
    "/orders/{order_id}/cancel": {"post": _op(
        "cancelOrder", "Cancel an order not yet started, saying why (its co-op's members, stewards, admins); "
        "what was reserved for it goes back to stock",
        ("200", _json(_ref("OrderDetail"), "the cancelled order")), body="Reason", body_optional=True,
        parameters=ORDER_ID, e400=MALFORMED, e404=NOT_SEEN, e409="the order is in progress, done or cancelled",
        e422="no reason given, or one too long")},
    "/orders/{order_id}/plan": {"post": _op(
        "planOrder", "Reserve an order's materials, at `site` or at the site of the first capable machine "
        "(stewards and admins); an operation short of material stays waiting and says so",
        ("200", _json(_ref("OrderDetail"), "the order, planned once every operation is")), body="PlanRequest",
        body_optional=True, parameters=ORDER_ID, e400=MALFORMED, e403=f"{STEWARDS_ONLY} plan orders",
        e404="no such order or site", e409="the order is in progress, done or cancelled")},
    "/materials": {"get": _op(
        "listMaterials", "Every material with its stock at each site that has moves, a reorder rule or a card",
        ("200", _json(_ref("MaterialList"), "the materials")), parameters=[_query("site", "site slug")],
        e400="an unknown query parameter", e404="no such site")},
    "/stock-moves": {
        "get": _op("listStockMoves", "The stock ledger, newest first (stewards and admins)",
                   ("200", _json(_ref("StockMoveList"), "the moves")),
                   parameters=[_query("material", "material slug"), _query("site", "site slug"),
                               _query("since", "RFC 3339; moves at or after it", TIME),
                               _query("limit", f"at most this many, 1 to {MAX_LIMIT} (default 100)",
                                      {"type": "string", "pattern": "^[0-9]+$"})],
                   e400="an unknown filter, a malformed time or limit", e403=f"{STEWARDS_ONLY} read the ledger",
                   e404="no such material or site"),
        "post": _op("recordStockMove", "Book what arrived, a count's correction, scrap, or a transfer to another "
                    "site (stewards and admins)",
                    ("201", _json(_ref("StockMovesBooked"), "the move (two for a transfer) and the balances after")),
                    body="StockMoveRequest", e400=f"{MALFORMED}; a quantity sent as a JSON number",
                    e403=f"{STEWARDS_ONLY} book stock moves", e404="no such material or site",
                    e409="more than is available (`insufficient_stock`, with the balance and the quantity asked)",
                    e422="a reason made by plans only (`reason_not_allowed`) or unknown (`unknown_reason`); a "
                         "quantity that is not a decimal, not positive, or with more than three decimals; an "
                         "adjustment without a note; a transfer without `to_site` or to the same site"),
    },
}

STEP = {"type": "object", "properties": {
    "position": ID, "name": TEXT, "machine_kind": KIND,
    "requirements": {"type": "object", "required": ["material", "min_volume_mm", "min_temperature_c"],
                     "properties": {"material": NULLABLE_TEXT,
                                    "min_volume_mm": {"type": ["array", "null"], "items": ID,
                                                      "minItems": 3, "maxItems": 3},
                                    "min_temperature_c": NULLABLE_INT}},
    "minutes_per_unit": {"type": "string", "description": "decimal, two places; per run for a batched step"},
    "setup_minutes": ID, "setup_family": TEXT,
    "batch_capacity": {"type": ["integer", "null"], "description": "pieces one run holds (a firing)"},
    "machines": {"type": "array", "items": TEXT, "description": "ids of the machines that can do the step"}}}
BOM_LINE = {"type": "object", "properties": {
    "material": {"type": "string", "description": "material slug"}, "quantity_per_unit": QUANTITY,
    "unit": TEXT, "step": {"type": "integer", "description": "position of the step that uses it up"}}}
DESIGN = {"type": "object", "properties": {
    "slug": TEXT, "name": TEXT, "summary": TEXT, "licence": {"type": "string", "description": "SPDX identifier"},
    "source_url": {"type": "string", "format": "uri"}, "version": TEXT, "max_batch": ID,
    "active": {"type": "boolean"}, "steps": {"type": "array", "items": STEP},
    "bom": {"type": "array", "items": BOM_LINE},
    "makeable": {"type": "boolean", "description": "every step has a capable machine"},
    "missing": {"type": "array", "items": TEXT, "description": "what is missing, a sentence per step"}}}
STEP_REQUEST = {"type": "object", "required": ["name", "machine_kind", "minutes_per_unit"],
                "additionalProperties": False, "properties": {
    "name": TEXT, "machine_kind": KIND,
    "minutes_per_unit": {"type": "string", "description": "decimal, at most two places; per run for a batched step"},
    "setup_minutes": {"type": "integer", "minimum": 0, "default": 0},
    "material": {"type": ["string", "null"], "description": "the material a machine must take"},
    "min_volume_mm": {"type": ["array", "null"], "items": ID, "minItems": 3, "maxItems": 3},
    "min_temperature_c": NULLABLE_INT, "setup_family": {"type": ["string", "null"]},
    "batch_capacity": {"type": ["integer", "null"], "description": "pieces one run holds (a firing)"}}}
BOM_REQUEST = {"type": "object", "required": ["material", "quantity_per_unit", "unit"],
               "additionalProperties": False, "properties": {
    "material": {"type": "string", "description": "material slug"},
    "quantity_per_unit": {"type": "string", "description": "decimal; in stock's unit, at most three places"},
    "unit": {"type": "string", "description": "a unit of the material's kind: g, kg, ml, l, piece…"},
    "step": {"type": "integer", "minimum": 1, "default": 1, "description": "position of the step using it"}}}
DESIGN_CHANGE = {
    "name": TEXT, "licence": {"type": "string", "description": "SPDX identifier"},
    "source_url": {"type": "string", "format": "uri"}, "version": TEXT, "summary": TEXT,
    "max_batch": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 10},
    "active": {"type": "boolean", "default": True},
    "steps": {"type": "array", "items": STEP_REQUEST, "minItems": 1}, "bom": {"type": "array", "items": BOM_REQUEST}}
DESIGN_REQUIRED = ["name", "licence", "source_url", "version", "steps", "bom"]
OPERATION = {"type": "object", "properties": {
    "id": ID, "position": ID, "step": TEXT, "machine_kind": KIND,
    "status": {"type": "string", "enum": OPERATION_STATUSES}, "duration_minutes": ID,
    "earliest_start": NULLABLE_TIME, "material_note": {"type": "string", "description": "what it is short of"},
    "machine": {"type": ["string", "null"], "description": "planned machine id"},
    "planned_start": NULLABLE_TIME, "planned_end": NULLABLE_TIME, "started_at": NULLABLE_TIME,
    "finished_at": NULLABLE_TIME}}
ORDER_PROPERTIES = {
    "id": ID, "design": {"type": "object", "required": ["slug", "name", "version"],
                         "properties": {"slug": TEXT, "name": TEXT, "version": TEXT}},
    "coop": COOP, "quantity": ID, "needed_by": DATE, "priority": {"type": "string", "enum": list(PRIORITIES)},
    "notes": TEXT, "status": {"type": "string", "enum": ORDER_STATUSES},
    "placed_by": {"type": "string", "description": "role:login"}, "placed_at": TIME, "updated_at": TIME,
}
DETAIL_PROPERTIES = {
    **ORDER_PROPERTIES,
    "jobs": {"type": "array", "items": {"type": "object", "required": ["number", "quantity", "operations"],
                                        "properties": {"number": ID, "quantity": ID, "operations": {
                                            "type": "array", "items": _ref("Operation")}}}},
    "history": {"type": "array", "description": "every status change, oldest first", "items": {
        "type": "object", "required": ["at", "by", "from_status", "to_status", "note"], "properties": {
            "at": TIME, "by": TEXT, "from_status": {"type": ["string", "null"], "enum": [*ORDER_STATUSES, None]},
            "to_status": {"type": "string", "enum": ORDER_STATUSES}, "note": TEXT}}},
}
BALANCE = {"on_hand": QUANTITY, "reserved": QUANTITY,
           "available": {**QUANTITY, "description": "on hand less reserved; below zero after a short count"}}
STOCK_LINE = {"type": "object", "properties": {
    "site": TEXT, **BALANCE, "low": {"type": "boolean", "description": "available is below the reorder point"},
    "reorder_point": NULLABLE_QUANTITY, "reorder_quantity": NULLABLE_QUANTITY,
    "card": {"oneOf": [{"type": "null"}, {"type": "object", "description": "the open or ordered kanban card",
                                          "required": ["id", "status", "quantity", "shortfall", "expected_at"],
                                          "properties": {
        "id": ID, "status": {"type": "string", "enum": ["open", "ordered"]}, "quantity": QUANTITY,
        "shortfall": QUANTITY, "created_at": TIME, "expected_at": NULLABLE_TIME}}]}}}
MATERIAL = {"type": "object", "properties": {
    "slug": TEXT, "name": TEXT, "unit": TEXT, "provenance": {"type": "string", "enum": list(PROVENANCES)},
    "description": TEXT, "sites": {"type": "array", "items": STOCK_LINE}}}
STOCK_MOVE = {"type": "object", "properties": {
    "id": ID, "material": TEXT, "site": TEXT, "at": TIME,
    "reason": {"type": "string", "enum": ["received", *BY_PLANS, "adjusted", "transferred_out", "transferred_in",
                                          "scrapped"]},
    "quantity": {**QUANTITY, "description": "more than zero; an adjustment's is signed"},
    "on_hand_delta": QUANTITY, "reserved_delta": QUANTITY,
    "operation": {"type": ["integer", "null"], "description": "the operation it was reserved or consumed for"},
    "transfer_id": {"type": ["integer", "null"], "description": "pairs a transfer's out and in moves"},
    "note": TEXT, "by": TEXT}}


def _closed(schema: dict) -> dict:
    """`schema` with every listed property required."""
    return {**schema, "required": list(schema["properties"])}


def _list(item: str) -> dict:
    return {"type": "object", "required": ["items", "count"],
            "properties": {"items": {"type": "array", "items": _ref(item)}, "count": ID}}


SCHEMAS = {
    STOCK_CONFLICT: {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"], "properties": {
            "code": TEXT, "message": TEXT, "field": TEXT, "on_hand": QUANTITY, "reserved": QUANTITY,
            "available": QUANTITY, "asked": QUANTITY}}}},
    "Design": _closed(DESIGN), "DesignList": _list("Design"),
    "DesignRequest": {"type": "object", "required": ["slug", *DESIGN_REQUIRED], "additionalProperties": False,
                      "properties": {"slug": TEXT, **DESIGN_CHANGE}},
    "DesignChange": {"type": "object", "required": DESIGN_REQUIRED, "additionalProperties": False,
                     "properties": DESIGN_CHANGE},
    "Operation": _closed(OPERATION),
    "Order": {"type": "object", "required": list(ORDER_PROPERTIES), "properties": ORDER_PROPERTIES},
    "OrderDetail": {"type": "object", "required": list(DETAIL_PROPERTIES), "properties": DETAIL_PROPERTIES},
    "OrderList": _list("Order"),
    "OrderRequest": {"type": "object", "required": ["design", "coop", "quantity", "needed_by"],
                     "additionalProperties": False, "properties": {
        "design": {"type": "string", "description": "design slug"},
        "coop": {"type": "string", "description": "co-op slug"},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 10_000}, "needed_by": DATE,
        "priority": {"type": "string", "enum": list(PRIORITIES), "default": "normal"}, "notes": TEXT}},
    "PlanRequest": {"type": "object", "additionalProperties": False, "properties": {
        "site": {"type": "string", "description": "site slug to reserve at"}}},
    "Material": _closed(MATERIAL), "MaterialList": _list("Material"),
    "StockMove": _closed(STOCK_MOVE), "StockMoveList": _list("StockMove"),
    "StockMoveRequest": {"type": "object", "required": ["material", "site", "reason", "quantity"],
                         "additionalProperties": False, "properties": {
        "material": TEXT, "site": TEXT, "reason": {"type": "string", "enum": list(BY_HAND)},
        "quantity": {"type": "string", "pattern": r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$",
                     "description": "decimal string, at most three decimals; signed for an adjustment"},
        "note": {"type": "string", "description": "required for an adjustment: why the count changed"},
        "to_site": {"type": "string", "description": "a transfer's destination site (transfers only)"}}},
    "StockMovesBooked": {"type": "object", "required": ["moves", "balances"], "properties": {
        "moves": {"type": "array", "items": _ref("StockMove"), "minItems": 1, "maxItems": 2},
        "balances": {"type": "array", "items": {"type": "object", "required": ["site", *BALANCE],
                                                "properties": {"site": TEXT, **BALANCE}}}}},
}
