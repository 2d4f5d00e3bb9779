"""/api/v1/materials and /api/v1/stock-moves: every material with its stock at each site (any role), and the
stock ledger (stewards and admins), where people book what arrives, what a count corrects, what is scrapped
and what goes to another site. Reservations, releases and consumption are made by plans and operations only.

Quantities are decimal strings with three places ("0.300"), in the material's own unit, never JSON numbers.
"""

from __future__ import annotations

from decimal import Decimal

from flask import jsonify

from factory.api import api
from factory.api.machines import rfc3339
from factory.api.parsing import actor, json_object, query, query_time, require_steward, string
from factory.app import db
from factory.domain.errors import InvalidInput, InvalidParameter
from factory.domain.stock import Balance, Move, Reason
from factory.domain.units import parse_quantity
from factory.models import Material, StockMove
from factory.services.stock import (
    StockLine,
    balance,
    balances,
    list_materials,
    move_history,
    record_move,
    transfer,
)

STEP, ZERO = Decimal("0.001"), Decimal("0.000")
BY_HAND = ("received", "adjusted", "scrapped", "transferred")
BY_PLANS = ("reserved", "released", "consumed")
MOVE_FIELDS = ("material", "site", "reason", "quantity", "note", "to_site")
REQUIRED = ("material", "site", "reason", "quantity")
MOVE_FILTERS = ("material", "site", "since", "limit")
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


@api.get("/materials")
def materials_index():
    args = query(("site",))
    lines: dict[int, list[StockLine]] = {}
    for line in balances(db(), args.get("site")):
        lines.setdefault(line.material.id, []).append(line)
    found = list_materials(db())
    return jsonify({"items": [material_json(material, lines.get(material.id, [])) for material in found],
                    "count": len(found)})


@api.get("/stock-moves")
def stock_moves_index():
    require_steward("read the stock ledger")
    args = query(MOVE_FILTERS)
    since, limit = query_time(args, "since"), _limit(args)
    slugs = [args["material"]] if "material" in args else [material.slug for material in list_materials(db())]
    moves = [move for slug in slugs for move in move_history(db(), slug, args.get("site"), limit=limit)]
    moves = sorted((move for move in moves if since is None or move.at >= since),
                   key=lambda move: (move.at, move.id), reverse=True)[:limit]
    return jsonify({"items": [move_json(move) for move in moves], "count": len(moves)})


@api.post("/stock-moves")
def stock_moves_create():
    require_steward("book stock moves")
    body = json_object(MOVE_FIELDS, required=REQUIRED)
    material, site, reason = string(body, "material"), string(body, "site"), _reason(string(body, "reason"))
    note, to_site = string(body, "note", ""), string(body, "to_site")
    quantity = parse_quantity(_quantity(body), field="quantity", allow_negative=reason == "adjusted")
    if reason == "transferred":
        if not to_site:
            raise InvalidInput("a transfer needs `to_site`, the site the stock goes to", field="to_site")
        moves = transfer(db(), material, site, to_site, quantity, by=actor(), note=note)
    else:
        if to_site is not None:
            raise InvalidInput("only a transfer goes to another site; leave `to_site` out", field="to_site")
        moves = (record_move(db(), material, site, Move(Reason(reason), quantity, note), by=actor()),)
    return jsonify({"moves": [move_json(move) for move in moves],
                    "balances": [{"site": move.site.slug, **balance_json(balance(db(), move.material_id, move.site_id))}
                                 for move in moves]}), 201


def material_json(material: Material, lines: list[StockLine]) -> dict:
    return {"slug": material.slug, "name": material.name, "unit": material.unit, "provenance": material.provenance,
            "description": material.description, "sites": [stock_line_json(line) for line in lines]}


def stock_line_json(line: StockLine) -> dict:
    rule, card = line.rule, line.card
    return {
        "site": line.site.slug,
        **balance_json(line.balance),
        "low": line.low,
        "reorder_point": quantity_text(rule.reorder_point) if rule else None,
        "reorder_quantity": quantity_text(rule.reorder_quantity) if rule else None,
        "card": None if card is None else {
            "id": card.id, "status": card.status, "quantity": quantity_text(card.quantity),
            "shortfall": quantity_text(card.shortfall), "created_at": rfc3339(card.created_at),
            "expected_at": rfc3339(card.expected_at) if card.expected_at else None},
    }


def balance_json(figures: Balance) -> dict:
    return {"on_hand": quantity_text(figures.on_hand), "reserved": quantity_text(figures.reserved),
            "available": quantity_text(figures.available)}


def move_json(move: StockMove) -> dict:
    return {"id": move.id, "material": move.material.slug, "site": move.site.slug, "at": rfc3339(move.at),
            "reason": move.reason, "quantity": quantity_text(move.quantity),
            "on_hand_delta": quantity_text(move.on_hand_delta), "reserved_delta": quantity_text(move.reserved_delta),
            "operation": move.operation_id, "transfer_id": move.transfer_id, "note": move.note, "by": move.by}


def quantity_text(value: Decimal) -> str:
    """A quantity as the API writes it: three decimals ("0.300"), never an exponent, never "-0.000"."""
    value = Decimal(value).quantize(STEP)
    return f"{value if value else ZERO:f}"


def _reason(value: str) -> str:
    if value in BY_PLANS:
        raise InvalidInput(f"{value} moves are made by planning and running operations; book one of "
                           f"{', '.join(BY_HAND)}", field="reason", code="reason_not_allowed")
    if value not in BY_HAND:
        raise InvalidInput(f"unknown reason {value!r}; use one of {', '.join(BY_HAND)}", field="reason",
                           code="unknown_reason")
    return value


def _quantity(body: dict) -> str:
    value = body["quantity"]
    if not isinstance(value, str):
        raise InvalidParameter('`quantity` must be a decimal string such as "0.300", not a JSON number',
                               field="quantity")
    return value


def _limit(args: dict[str, str]) -> int:
    text = args.get("limit", str(DEFAULT_LIMIT))
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidParameter(f"`limit` is a whole number from 1 to {MAX_LIMIT}", field="limit")
    return int(text)
