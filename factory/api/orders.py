"""/api/v1/orders: a co-op's members order a design for their co-op (stewards and admins for any), follow it
through its jobs and operations, and cancel it before work starts; stewards plan it, which reserves its
materials. A member reads their own co-op's orders only: another co-op's is not found, whatever the id."""

from __future__ import annotations

from flask import g, jsonify

from factory.api import api
from factory.api.machines import rfc3339
from factory.api.parsing import (
    actor,
    date_field,
    integer,
    json_object,
    query,
    require_steward,
    row_id,
    string,
)
from factory.app import db
from factory.domain.errors import InvalidInput, InvalidParameter
from factory.models import Operation, ProductionOrder
from factory.services.order_work import plan_order
from factory.services.orders import OrderDraft, cancel_order, get_order, list_orders, place_order

FILTERS = ("status", "coop")
ORDER_FIELDS = ("design", "coop", "quantity", "needed_by", "priority", "notes")
REQUIRED = ("design", "coop", "quantity", "needed_by")


@api.get("/orders")
def orders_index():
    args = query(FILTERS)
    try:
        found = list_orders(db(), g.api_user, status=args.get("status"), coop=args.get("coop"))
    except InvalidInput as exc:
        raise InvalidParameter(exc.message, field=exc.field) from None
    return jsonify({"items": [order_json(order) for order in found], "count": len(found)})


@api.post("/orders")
def orders_place():
    body = json_object(ORDER_FIELDS, required=REQUIRED)
    draft = OrderDraft(design=string(body, "design"), coop=string(body, "coop"), quantity=integer(body, "quantity"),
                       needed_by=date_field(body, "needed_by"), priority=string(body, "priority", "normal"),
                       notes=string(body, "notes", ""))
    order = place_order(db(), draft, viewer=g.api_user, by=actor())
    return jsonify(order_json(order, detail=True)), 201, {"Location": f"/api/v1/orders/{order.id}"}


@api.get("/orders/<order_id>")
def orders_show(order_id: str):
    return jsonify(order_json(get_order(db(), row_id(order_id, "order"), g.api_user), detail=True))


@api.post("/orders/<order_id>/cancel")
def orders_cancel(order_id: str):
    """The order's co-op's members, stewards and admins; another co-op's order is a 404 (the service checks)."""
    body = json_object(("reason",), empty_ok=True)
    order = cancel_order(db(), row_id(order_id, "order"), viewer=g.api_user, by=actor(),
                         reason=string(body, "reason", ""))
    return jsonify(order_json(order, detail=True))


@api.post("/orders/<order_id>/plan")
def orders_plan(order_id: str):
    require_steward("plan orders")
    body = json_object(("site",), empty_ok=True)
    order = plan_order(db(), row_id(order_id, "order"), viewer=g.api_user, by=actor(), site=string(body, "site"))
    return jsonify(order_json(order, detail=True))


def order_json(order: ProductionOrder, *, detail: bool = False) -> dict:
    answer = {
        "id": order.id,
        "design": {"slug": order.design.slug, "name": order.design.name, "version": order.design_version},
        "coop": {"slug": order.coop.slug, "name": order.coop.name},
        "quantity": order.quantity,
        "needed_by": order.needed_by.isoformat(),
        "priority": order.priority,
        "notes": order.notes,
        "status": order.status,
        "placed_by": order.placed_by,
        "placed_at": rfc3339(order.placed_at),
        "updated_at": rfc3339(order.updated_at),
    }
    if detail:
        answer["jobs"] = [{"number": job.number, "quantity": job.quantity,
                           "operations": [operation_json(operation) for operation in job.operations]}
                          for job in order.jobs]
        answer["history"] = [{"at": rfc3339(change.at), "by": change.by, "from_status": change.from_status,
                              "to_status": change.to_status, "note": change.note} for change in order.changes]
    return answer


def operation_json(operation: Operation) -> dict:
    return {
        "id": operation.id,
        "position": operation.position,
        "step": operation.step.name,
        "machine_kind": operation.step.machine_kind,
        "status": operation.status,
        "duration_minutes": operation.duration_minutes,
        "earliest_start": _time(operation.earliest_start),
        "material_note": operation.material_note,
        "machine": operation.machine_id,
        "planned_start": _time(operation.planned_start),
        "planned_end": _time(operation.planned_end),
        "started_at": _time(operation.started_at),
        "finished_at": _time(operation.finished_at),
    }


def _time(value) -> str | None:
    return rfc3339(value) if value else None
