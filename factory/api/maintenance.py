"""/api/v1/maintenance: stewards take a machine out of use for a while, choosing what happens to the bookings
the window would hit (move, cancel, or defer the window); everyone may read the windows."""

from __future__ import annotations

from flask import jsonify

from factory.api import api
from factory.api.bookings import booking_json, reason_given
from factory.api.machines import rfc3339
from factory.api.parsing import actor, json_object, query, query_time, require_steward, row_id, string, time_field
from factory.app import db
from factory.domain.local_time import Span
from factory.models import MaintenanceWindow
from factory.services.maintenance import (
    MaintenanceDraft,
    MaintenanceResult,
    cancel_maintenance,
    get_maintenance,
    list_maintenance,
    schedule_maintenance,
)

FILTERS = ("machine", "since", "until")
FIELDS = ("machine", "starts_at", "ends_at", "purpose", "resolution")
REQUIRED = ("machine", "starts_at", "ends_at", "purpose")
SCHEDULES = "schedule maintenance"


@api.get("/maintenance")
def maintenance_index():
    args = query(FILTERS)
    found = list_maintenance(db(), machine=args.get("machine"), since=query_time(args, "since"),
                             until=query_time(args, "until"))
    return jsonify({"items": [maintenance_json(window) for window in found], "count": len(found)})


@api.post("/maintenance")
def maintenance_schedule():
    require_steward(SCHEDULES)
    body = json_object(FIELDS, required=REQUIRED)
    draft = MaintenanceDraft(machine=string(body, "machine"), starts_at=time_field(body, "starts_at"),
                             ends_at=time_field(body, "ends_at"), purpose=string(body, "purpose"))
    result = schedule_maintenance(db(), draft, by=actor(), resolution=string(body, "resolution"))
    return jsonify(result_json(result)), 201, {"Location": f"/api/v1/maintenance/{result.window.id}"}


@api.get("/maintenance/<window_id>")
def maintenance_show(window_id: str):
    return jsonify(maintenance_json(get_maintenance(db(), row_id(window_id, "maintenance window"))))


@api.delete("/maintenance/<window_id>")
def maintenance_cancel(window_id: str):
    require_steward(SCHEDULES)
    window = cancel_maintenance(db(), row_id(window_id, "maintenance window"), reason=reason_given(), by=actor())
    return jsonify(maintenance_json(window))


def maintenance_json(window: MaintenanceWindow) -> dict:
    return {
        "id": window.id,
        "machine": window.machine_id,
        "starts_at": rfc3339(window.starts_at),
        "ends_at": rfc3339(window.ends_at),
        "purpose": window.purpose,
        "status": window.status,
        "created_by": window.created_by,
        "cancel_reason": window.cancel_reason or None,
    }


def result_json(result: MaintenanceResult) -> dict:
    return {
        "window": maintenance_json(result.window),
        "moved": [{**booking_json(booking), "was": _span_json(before)} for booking, before in result.moved],
        "cancelled": [booking_json(booking) for booking in result.cancelled],
        "deferred_from": _span_json(result.deferred_from) if result.deferred_from else None,
    }


def _span_json(span: Span) -> dict:
    return {"starts_at": rfc3339(span.start), "ends_at": rfc3339(span.end)}
