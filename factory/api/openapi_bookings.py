"""The OpenAPI paths and schemas of bookings, booking series, leases and maintenance, merged into
factory.api.openapi.SPEC (kept apart so neither document module grows past a screenful of routes)."""

from __future__ import annotations

from factory.domain.opening_hours import WEEKDAYS
from factory.services.booking_series import MAX_OCCURRENCES
from factory.services.leases import LEASE_STATUSES
from factory.services.maintenance import RESOLUTIONS

TIME = {"type": "string", "format": "date-time"}
DATE = {"type": "string", "format": "date"}
ID = {"type": "integer"}
TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}
COOP = {"type": "object", "required": ["slug", "name"], "properties": {"slug": TEXT, "name": TEXT}}
UNAUTHORIZED = "no token, or a revoked or unknown one"
MALFORMED = "a body that is not a JSON object, an unknown field, a missing one, a value of the wrong type " \
            "(`field` names it), a time without a UTC offset"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(**descriptions: str) -> dict:
    """Error responses by status (`e409="..."`); a 409 carries what holds the time and free slots instead."""
    return {status[1:]: _json(_ref("ConflictError" if status == "e409" else "Error"), text)
            for status, text in {"e401": UNAUTHORIZED, **descriptions}.items()}


def _body(name: str, required: bool) -> dict:
    return {"required": required, "content": {"application/json": {"schema": _ref(name)}}}


def _query(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema or TEXT}


def _path(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _op(operation_id: str, summary: str, ok: tuple[str, dict], *, body: str | None = None,
        body_optional: bool = False, parameters: list | None = None, **errors: str) -> dict:
    """An operation answering `ok` (status, response) or the errors given as `e400="why"`, ... (401 always)."""
    operation = {"operationId": operation_id, "summary": summary, "parameters": parameters or [],
                 "responses": {ok[0]: ok[1], **_errors(**errors)}}
    if body:
        operation["requestBody"] = _body(body, not body_optional)
    return operation


STEWARDS_ONLY = "a member: only stewards and admins may"
BOOKING_RULE = "a rule the request breaks; `code` names it (in_past, too_short, too_long, outside_opening_hours, " \
               "short_notice, too_far_ahead, not_whole_minute, ends_before_start, invalid) and `field` the field"
BOOKING_FILTERS = [
    _query("machine", "machine id"), _query("coop", "co-op slug"), _query("site", "site slug"),
    _query("since", "RFC 3339; bookings ending after it", TIME),
    _query("until", "RFC 3339; bookings starting before it", TIME),
    _query("include_cancelled", "also the cancelled ones", {"type": "string", "enum": ["true", "false", "1", "0"]}),
]
REASON = [_query("reason", "why, when not given in the body")]

PATHS = {
    "/bookings": {
        "get": _op("listBookings", "Bookings by start; a member gets only their co-op's",
                   ("200", _json(_ref("BookingList"), "the bookings")), parameters=BOOKING_FILTERS,
                   e400="an unknown filter or a malformed time"),
        "post": _op("createBooking", "Book a machine for a co-op, once or weekly (stewards and admins)",
                    ("201", _json({"oneOf": [_ref("Booking"), _ref("BookingSeriesCreated")]},
                                  "the booking, or for `repeat` the series, its bookings and the skipped dates")),
                    body="BookingRequest", e400=MALFORMED, e403=f"{STEWARDS_ONLY} book",
                    e404="no such machine or co-op",
                    e409="the time is held (`booking_conflict`, with `conflicts` and `suggestions`) or, for a "
                         "series, some occurrences cannot be had (`series_conflict`, each listed in `conflicts`)",
                    e422=BOOKING_RULE),
    },
    "/bookings/preview": {"post": _op(
        "previewBooking", "Each occurrence of a booking or series and whether it can be had; books nothing",
        ("200", _json(_ref("Preview"), "the occurrences")), body="BookingRequest", e400=MALFORMED,
        e403=f"{STEWARDS_ONLY} book", e404="no such machine or co-op", e422="a series that cannot be laid out")},
    "/bookings/{booking_id}": {
        "get": _op("getBooking", "One booking with its history", ("200", _json(_ref("Booking"), "the booking")),
                   parameters=[_path("booking_id")], e404="no such booking, or another co-op's (for a member)"),
        "patch": _op("updateBooking", "Move or re-word a booking, with a reason (stewards and admins)",
                     ("200", _json(_ref("Booking"), "the booking as changed")), body="BookingEdit",
                     parameters=[_path("booking_id")], e400=MALFORMED, e403=f"{STEWARDS_ONLY} edit bookings",
                     e404="no such booking", e409="the new time is held, or the booking is cancelled or over",
                     e422=f"{BOOKING_RULE}; a missing reason"),
        "delete": _op("cancelBooking", "Cancel a booking with a reason; it stays, cancelled",
                      ("200", _json(_ref("Booking"), "the cancelled booking")), body="Reason", body_optional=True,
                      parameters=[_path("booking_id"), *REASON], e400=MALFORMED,
                      e403=f"{STEWARDS_ONLY} cancel bookings", e404="no such booking",
                      e409="already cancelled, or over", e422="no reason given"),
    },
    "/booking-series/{series_id}/cancel": {"post": _op(
        "cancelBookingSeries", "Cancel every occurrence of a series still to come",
        ("200", _json(_ref("SeriesCancelled"), "the bookings cancelled")), body="Reason", body_optional=True,
        parameters=[_path("series_id")], e400=MALFORMED, e403=f"{STEWARDS_ONLY} cancel bookings",
        e404="no such series", e409="the series is already cancelled", e422="no reason given")},
    "/leases": {
        "get": _op("listLeases", "Leases, newest proposal first; a member gets only their co-op's",
                   ("200", _json(_ref("LeaseList"), "the leases")),
                   parameters=[_query("machine", "machine id"),
                               _query("status", "lease status", {"type": "string", "enum": list(LEASE_STATUSES)})],
                   e400="an unknown filter or status"),
        "post": _op("proposeLease", "Propose a lease: a member for their own co-op, a steward for any",
                    ("201", _json(_ref("Lease"), "the proposed lease")), body="LeaseProposal", e400=MALFORMED,
                    e403="a member proposing for another co-op", e404="no such machine or co-op",
                    e409="an approved lease already holds some of these windows (`lease_conflict`)",
                    e422="dates in the past or reversed, over two years, no window, a malformed window, "
                         "a rent below 0, above 10,000 or with more than two decimals"),
    },
    "/leases/{lease_id}": {"get": _op(
        "getLease", "One lease", ("200", _json(_ref("Lease"), "the lease")), parameters=[_path("lease_id")],
        e404="no such lease, or another co-op's (for a member)")},
    "/leases/{lease_id}/approve": {"post": _op(
        "approveLease", "Approve a proposed lease; other co-ops' bookings already inside it are honoured",
        ("200", _json(_ref("LeaseApproved"), "the lease and the bookings it honours")), body="Note", body_optional=True,
        parameters=[_path("lease_id")], e400=MALFORMED, e403=f"{STEWARDS_ONLY} decide on leases",
        e404="no such lease", e409="not proposed any more, already over, or overlapping an approved lease",
        e422="a note too long")},
    "/leases/{lease_id}/decline": {"post": _op(
        "declineLease", "Decline a proposed lease, saying why", ("200", _json(_ref("Lease"), "the declined lease")),
        body="Decline", parameters=[_path("lease_id")], e400=MALFORMED, e403=f"{STEWARDS_ONLY} decide on leases",
        e404="no such lease", e409="not proposed any more", e422="no note given")},
    "/leases/{lease_id}/release": {"post": _op(
        "releaseLeaseDay", "Give one day of an approved lease back to the pool (its co-op's members, stewards)",
        ("200", _json(_ref("Lease"), "the lease with its releases")), body="LeaseRelease",
        parameters=[_path("lease_id")], e400=MALFORMED, e404="no such lease, or another co-op's (for a member)",
        e409="the lease is not approved, or the day is already released",
        e422="a date outside the lease, without a window, or already over")},
    "/maintenance": {
        "get": _op("listMaintenance", "Active maintenance windows by start",
                   ("200", _json(_ref("MaintenanceList"), "the windows")),
                   parameters=[_query("machine", "machine id"), _query("since", "RFC 3339", TIME),
                               _query("until", "RFC 3339", TIME)], e400="an unknown filter or a malformed time"),
        "post": _op("scheduleMaintenance", "Take a machine out of use for a while (stewards and admins)",
                    ("201", _json(_ref("MaintenanceScheduled"), "the window and what happened to the bookings")),
                    body="MaintenanceRequest", e400=MALFORMED, e403=f"{STEWARDS_ONLY} schedule maintenance",
                    e404="no such machine",
                    e409="bookings fall in the window and no `resolution` was given (`displaces_bookings`, "
                         "listed in `conflicts`), or maintenance is already planned then (`maintenance_overlap`)",
                    e422="times not to the minute, reversed, over, in the past or over 31 days; no purpose; "
                         "an unknown resolution"),
    },
    "/maintenance/{window_id}": {
        "get": _op("getMaintenance", "One maintenance window", ("200", _json(_ref("Maintenance"), "the window")),
                   parameters=[_path("window_id")], e404="no such window"),
        "delete": _op("cancelMaintenance", "Cancel a maintenance window with a reason",
                      ("200", _json(_ref("Maintenance"), "the cancelled window")), body="Reason", body_optional=True,
                      parameters=[_path("window_id"), *REASON], e400=MALFORMED,
                      e403=f"{STEWARDS_ONLY} schedule maintenance", e404="no such window",
                      e409="already cancelled, or over", e422="no reason given"),
    },
}

SPAN = {"type": "object", "required": ["starts_at", "ends_at"], "properties": {"starts_at": TIME, "ends_at": TIME}}
BOOKING_PROPERTIES = {
    "id": ID, "machine": TEXT, "coop": COOP, "starts_at": TIME, "ends_at": TIME, "purpose": TEXT,
    "status": {"type": "string", "enum": ["active", "cancelled"]}, "series_id": {"type": ["integer", "null"]},
    "created_by": {"type": "string", "description": "role:login"}, "cancel_reason": NULLABLE_TEXT,
    "history": {"type": "array", "description": "every change, oldest first (single bookings only)", "items": {
        "type": "object", "required": ["at", "by", "action", "starts_at", "ends_at"],
        "properties": {"at": TIME, "by": TEXT, "action": {"type": "string", "enum": [
            "created", "edited", "moved", "cancelled"]}, "reason": TEXT, "starts_at": TIME, "ends_at": TIME}}},
}
BOOKING = {"type": "object", "required": [name for name in BOOKING_PROPERTIES if name != "history"],
           "properties": BOOKING_PROPERTIES}
LEASE_PROPERTIES = {
    "id": ID, "machine": TEXT, "coop": COOP, "status": {"type": "string", "enum": list(LEASE_STATUSES)},
    "starts_on": DATE, "ends_on": DATE,
    "windows": {"type": "object", "description": "weekday (mon..sun) to its windows, e.g. 09:00-12:00, 13:00-17:00",
                "additionalProperties": TEXT},
    "rent_per_hour": {"type": "string", "description": "decimal, two places"}, "note": TEXT,
    "proposed_by": TEXT, "proposed_at": TIME, "decided_by": NULLABLE_TEXT,
    "decided_at": {"type": ["string", "null"], "format": "date-time"}, "decision_note": TEXT,
    "releases": {"type": "array", "items": {"type": "object", "properties": {
        "on_date": DATE, "released_by": TEXT, "released_at": TIME, "reason": TEXT}}},
}
MAINTENANCE = {"type": "object", "required": ["id", "machine", "starts_at", "ends_at", "purpose", "status"],
               "properties": {"id": ID, "machine": TEXT, "starts_at": TIME, "ends_at": TIME, "purpose": TEXT,
                              "status": {"type": "string", "enum": ["active", "cancelled"]}, "created_by": TEXT,
                              "cancel_reason": NULLABLE_TEXT}}
BUSY = {"type": "object", "required": ["kind", "label"], "description": "what holds the time", "properties": {
    "kind": {"type": "string", "enum": ["booking", "maintenance", "breakdown", "lease"]},
    "id": {"type": ["integer", "null"]}, "coop": {"type": "string", "description": "a lease's co-op"},
    "starts_at": TIME, "ends_at": {"type": ["string", "null"], "format": "date-time"}, "label": TEXT}}
OCCURRENCE = {"type": "object", "required": ["starts_at", "ends_at", "free"], "properties": {
    "starts_at": TIME, "ends_at": TIME, "free": {"type": "boolean"}, "code": NULLABLE_TEXT, "message": NULLABLE_TEXT,
    "conflicts": {"type": "array", "items": _ref("Busy")}}}
SLOT = {"type": "object", "required": ["machine", "starts_at", "ends_at"], "properties": {
    "machine": TEXT, "machine_name": TEXT, "site": TEXT, "starts_at": TIME, "ends_at": TIME}}


def _list(item: str) -> dict:
    return {"type": "object", "required": ["items", "count"],
            "properties": {"items": {"type": "array", "items": _ref(item)}, "count": {"type": "integer"}}}


def _request(required: list[str], properties: dict) -> dict:
    return {"type": "object", "required": required, "additionalProperties": False, "properties": properties}


SCHEMAS = {
    "ConflictError": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message"], "properties": {
            "code": TEXT, "message": TEXT, "field": TEXT,
            "conflicts": {"type": "array", "items": {"anyOf": [_ref("Busy"), _ref("Occurrence")]}},
            "suggestions": {"type": "array", "items": _ref("Slot")}}}}},
    "Busy": BUSY, "Occurrence": OCCURRENCE, "Slot": SLOT,
    "Booking": BOOKING, "BookingList": _list("Booking"),
    "BookingSeriesCreated": {"type": "object", "required": ["series", "bookings", "skipped"], "properties": {
        "series": {"type": "object", "properties": {
            "id": ID, "machine": TEXT, "coop": TEXT, "count": {"type": ["integer", "null"]},
            "until": {"type": ["string", "null"], "format": "date"}, "purpose": TEXT, "created_by": TEXT}},
        "bookings": {"type": "array", "items": _ref("Booking")},
        "skipped": {"type": "array", "items": _ref("Occurrence")}}},
    "SeriesCancelled": {"type": "object", "required": ["series", "cancelled"], "properties": {
        "series": ID, "cancelled": {"type": "array", "items": _ref("Booking")}}},
    "Preview": {"type": "object", "required": ["occurrences", "free", "count"], "properties": {
        "occurrences": {"type": "array", "items": _ref("Occurrence")}, "free": ID, "count": ID}},
    "Lease": {"type": "object", "required": list(LEASE_PROPERTIES), "properties": LEASE_PROPERTIES},
    "LeaseApproved": {"type": "object", "required": [*LEASE_PROPERTIES, "honoured_bookings"], "properties": {
        **LEASE_PROPERTIES, "honoured_bookings": {"type": "array", "items": _ref("Booking")}}},
    "LeaseList": _list("Lease"),
    "Maintenance": MAINTENANCE, "MaintenanceList": _list("Maintenance"),
    "MaintenanceScheduled": {"type": "object", "required": ["window", "moved", "cancelled", "deferred_from"],
                             "properties": {
        "window": _ref("Maintenance"),
        "moved": {"type": "array", "description": "each booking as moved, with the span it had (`was`)",
                  "items": {"type": "object", "properties": {**BOOKING_PROPERTIES, "was": SPAN}}},
        "cancelled": {"type": "array", "items": _ref("Booking")},
        "deferred_from": {"oneOf": [SPAN, {"type": "null"}]}}},
    "BookingRequest": _request(["machine", "coop", "starts_at", "ends_at"], {
        "machine": TEXT, "coop": {"type": "string", "description": "co-op slug"}, "starts_at": TIME, "ends_at": TIME,
        "purpose": TEXT,
        "repeat": {"type": "object", "required": ["weekly"], "additionalProperties": False, "properties": {
            "weekly": {"type": "object", "additionalProperties": False, "description": "count or until, not both",
                       "properties": {"count": {"type": "integer", "minimum": 1, "maximum": MAX_OCCURRENCES},
                                      "until": DATE}}}},
        "skip_conflicts": {"type": "boolean", "description": "book the free occurrences of a series, skip the rest"}}),
    "BookingEdit": _request([], {"starts_at": TIME, "ends_at": TIME, "purpose": TEXT,
                                 "reason": {"type": "string", "description": "required: why it changes"}}),
    "Reason": _request([], {"reason": TEXT}),
    "Note": _request([], {"note": TEXT}),
    "Decline": _request(["note"], {"note": {"type": "string", "description": "why, for the co-op"}}),
    "LeaseProposal": _request(["machine", "coop", "starts_on", "ends_on", "windows", "rent_per_hour"], {
        "machine": TEXT, "coop": TEXT, "starts_on": DATE, "ends_on": DATE,
        "windows": {"type": "object", "additionalProperties": False, "description": "e.g. {\"mon\": \"09:00-17:00\"}",
                    "properties": {day: TEXT for day in WEEKDAYS}},
        "rent_per_hour": {"type": ["string", "number"], "description": "decimal, at most two places"},
        "note": TEXT}),
    "LeaseRelease": _request(["on_date"], {"on_date": DATE, "reason": TEXT}),
    "MaintenanceRequest": _request(["machine", "starts_at", "ends_at", "purpose"], {
        "machine": TEXT, "starts_at": TIME, "ends_at": TIME, "purpose": TEXT,
        "resolution": {"type": "string", "enum": list(RESOLUTIONS),
                       "description": "what happens to bookings in the window: move them after it, cancel them, "
                                      "or defer the window until the machine is free"}}),
}
