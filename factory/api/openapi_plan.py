"""The OpenAPI paths and schemas of the live plan, its versions, pins and starts, merged into
factory.api.openapi.SPEC as openapi_bookings' and openapi_production's are."""

from __future__ import annotations

from factory.api.openapi_bookings import (
    COOP,
    ID,
    MALFORMED,
    STEWARDS_ONLY,
    TEXT,
    TIME,
    UNAUTHORIZED,
    _json,
    _path,
    _query,
    _ref,
)
from factory.api.openapi_production import NULLABLE_INT, NULLABLE_TIME
from factory.api.plan import DEFAULT_LIMIT, MAX_LIMIT, NOTE_LENGTH
from factory.models.planning import TRIGGER_KINDS
from scheduler.plan import Reason, Status

PLAN_NOT_PUBLISHED = "PlanNotPublishedError"
NUMBER = {"type": "string", "pattern": "^[0-9]+$"}
MEMBERS_SEE = "A member gets only their own co-op's assignments and unplanned operations; the others' are " \
              "left out. `site` and `machine` keep the assignments there (and so no unplanned operation); " \
              "`order` keeps one order's."
FILTERS = [_query("site", "site slug"), _query("machine", "machine id"),
           _query("order", "order id (a member: of their co-op)", NUMBER)]
BAD_FILTER = "an unknown parameter, given twice, or an `order` that is not a whole number (`field` names it)"
UNKNOWN_FILTER = "no such site, machine or order (another co-op's, for a member), `field` naming it"
OPERATION_ID = [_path("operation_id")]
OPERATION_RULES = "no such operation"


def _op(operation_id: str, summary: str, ok: tuple[str, dict], *, body: str | None = None,
        body_optional: bool = False, parameters: list | None = None, description: str = "",
        conflict: str = "Error", **errors: str) -> dict:
    """An operation answering `ok` or the errors given as `e400="why"`, ... (401 always); its 409 is a
    `conflict` (POST /plan's names the version that was not published)."""
    responses = {status[1:]: _json(_ref(conflict if status == "e409" else "Error"), text)
                 for status, text in {"e401": UNAUTHORIZED, **errors}.items()}
    operation = {"operationId": operation_id, "summary": summary, "parameters": parameters or [],
                 "responses": {ok[0]: ok[1], **responses}}
    if description:
        operation["description"] = description
    if body:
        operation["requestBody"] = {"required": not body_optional,
                                    "content": {"application/json": {"schema": _ref(body)}}}
    return operation


PATHS = {
    "/plan": {
        "get": _op("getPlan", "The plan in force: the newest published version, with its assignments and the "
                   "operations it could not place and why", ("200", _json(_ref("PlanVersion"), "the plan")),
                   parameters=FILTERS, description=MEMBERS_SEE, e400=BAD_FILTER,
                   e404=f"no plan has been published yet; or {UNKNOWN_FILTER}"),
        "post": _op("replan", "Re-plan now from the state of the factory (stewards and admins); the solver runs "
                    "for at most a few seconds and the request waits for it",
                    ("201", _json(_ref("PlanVersion"), "the new version, published and now in force")),
                    body="ReplanRequest", body_optional=True, conflict=PLAN_NOT_PUBLISHED, e400=MALFORMED,
                    e403=f"{STEWARDS_ONLY} re-plan",
                    e409="the version was not published (`plan_not_published`): rejected as stale because "
                         "something changed while it was solved, or failed (no plan found, or the checker found a "
                         "violation); `message` is the reason and `version_id` the stored version",
                    e422=f"a note over {NOTE_LENGTH} characters"),
    },
    "/plan/versions": {"get": _op(
        "listPlanVersions", "Every run of the planner, newest first, without assignments",
        ("200", _json(_ref("PlanVersionList"), "a page of versions")),
        parameters=[_query("limit", f"at most this many, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})", NUMBER),
                    _query("before", "only versions with a smaller id: the previous page's `next_before`", NUMBER)],
        e400="an unknown parameter, a malformed `limit` or `before`, or one out of range")},
    "/plan/versions/{version_id}": {"get": _op(
        "getPlanVersion", "One version, published or not, with its assignments and unplanned operations",
        ("200", _json(_ref("PlanVersion"), "the version")), parameters=[_path("version_id"), *FILTERS],
        description=MEMBERS_SEE, e400=BAD_FILTER, e404=f"no such version; or {UNKNOWN_FILTER}")},
    "/operations/{operation_id}/pin": {
        "post": _op("pinOperation", "Pin an operation not yet started to a machine and start (stewards and "
                    "admins); the next plan, which the pin asks for, keeps it there",
                    ("200", _json(_ref("OperationPin"), "the operation's pin")), body="PinRequest",
                    parameters=OPERATION_ID, e400=MALFORMED, e403=f"{STEWARDS_ONLY} pin operations",
                    e404=OPERATION_RULES,
                    e409="the operation is running, done or cancelled (`status`); an earlier step of its job is "
                         "not pinned to end by then, or the machine is booked or in maintenance then (`start`)",
                    e422="no such machine or one that cannot do the step (`machine`); a start not in the future "
                         "or beyond the plan's horizon (`start`)"),
        "delete": _op("unpinOperation", "Let the planner place the operation freely again (stewards and admins)",
                      ("200", _json(_ref("OperationPin"), "the operation, its pin gone")),
                      parameters=OPERATION_ID, e403=f"{STEWARDS_ONLY} pin operations", e404=OPERATION_RULES),
    },
    "/operations/{operation_id}/start": {"post": _op(
        "startOperation", "Send `start_job` to the planned machine of a planned operation that is due (stewards "
        "and admins); the planner worker publishes it, and the machine's job events move the operation",
        ("202", _json(_ref("MachineCommand"), "the queued command")), parameters=OPERATION_ID,
        e400="a body that is not empty or `{}`", e403=f"{STEWARDS_ONLY} start operations", e404=OPERATION_RULES,
        e409="not planned, an earlier step not done, not due for 30 minutes yet, the machine not idle, or a start "
             "already on its way (`status`)")},
}

OPERATION_REF = {"operation_id": ID, "order_id": ID, "job_id": ID, "step": {"type": "string",
                                                                             "description": "the routing step"}}
ASSIGNMENT = {"type": "object", "properties": {
    **OPERATION_REF, "coop": COOP, "machine": {"type": "string", "description": "machine id"},
    "start": TIME, "end": TIME,
    "fixed": {"type": ["string", "null"], "enum": ["running", "pinned", None],
              "description": "kept where it runs or where a steward pinned it; null: the planner's choice"},
    "moved": {"type": "boolean", "description": "its machine or start changed from the version before"},
    "late_minutes": {"type": "integer", "minimum": 0,
                     "description": "how late its job finishes after the day needed; on a job's last step only"}}}
UNPLANNED = {"type": "object", "properties": {
    **OPERATION_REF, "reason": {"type": "string", "enum": [reason.value for reason in Reason]},
    "explanation": {"type": "string", "description": "why, in plain words"}}}
HEADER = {
    "id": ID, "created_at": TIME,
    "planned_from": {**TIME, "description": "the factory's state at this moment was planned"},
    "horizon_end": TIME,
    "triggers": {"type": "array", "description": "what asked for this run, coalesced", "items": {
        "type": "object", "required": ["kind", "detail", "at"],
        "properties": {"kind": {"type": "string", "enum": list(TRIGGER_KINDS)}, "detail": TEXT, "at": TIME}}},
    "requested_by": {"type": "string", "description": "role:login, or the planner worker"},
    "outcome": {"type": "string", "enum": ["published", "rejected", "failed"]},
    "reason": {"type": "string", "description": "why it was not published; empty when it was"},
    "solver_status": {"type": "string", "enum": [status.value for status in Status]},
    "objective": NULLABLE_INT,
    "based_on": {"type": ["integer", "null"], "description": "the version in force when this one was planned"},
    "operations": {"type": "integer", "description": "operations given to the solver"},
    "moved": {"type": "integer", "description": "placed operations whose machine or start changed"},
    "notes": {"type": "array", "items": TEXT, "description": "e.g. a pin that could not be kept"},
}
DETAIL = {**HEADER, "assignments": {"type": "array", "items": _ref("PlanAssignment"),
                                    "description": "by start, then machine"},
          "unplanned": {"type": "array", "items": _ref("PlanUnplanned")}}
SUMMARY = {**HEADER, "counts": {"type": "object", "required": ["assigned", "unplanned"], "properties": {
    "assigned": {"type": "integer"}, "unplanned": {"type": "integer"}}}}


def _closed(properties: dict) -> dict:
    return {"type": "object", "required": list(properties), "properties": properties}


SCHEMAS = {
    "PlanVersion": _closed(DETAIL),
    "PlanVersionSummary": _closed(SUMMARY),
    "PlanVersionList": _closed({
        "items": {"type": "array", "items": _ref("PlanVersionSummary")}, "count": ID,
        "next_before": {"type": ["integer", "null"],
                        "description": "pass as `before` for the next page; null on the last one"}}),
    "PlanAssignment": {**ASSIGNMENT, "required": list(ASSIGNMENT["properties"])},
    "PlanUnplanned": {**UNPLANNED, "required": list(UNPLANNED["properties"])},
    PLAN_NOT_PUBLISHED: {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "version_id"], "properties": {
            "code": {"type": "string", "enum": ["plan_not_published"]}, "message": TEXT, "field": TEXT,
            "version_id": ID}}}},
    "ReplanRequest": {"type": "object", "additionalProperties": False, "properties": {
        "note": {"type": "string", "maxLength": NOTE_LENGTH, "description": "why, kept with the version's trigger"}}},
    "PinRequest": {"type": "object", "required": ["machine", "start"], "additionalProperties": False, "properties": {
        "machine": {"type": "string", "description": "machine id"},
        "start": {**TIME, "description": "RFC 3339 with Z or an offset"}}},
    "OperationPin": _closed({
        **OPERATION_REF, "status": {"type": "string", "enum": ["waiting", "planned", "running", "done", "cancelled"]},
        "machine": {"type": ["string", "null"], "description": "the machine pinned to; null: not pinned"},
        "start": NULLABLE_TIME}),
    "MachineCommand": _closed({
        "id": ID, "command_id": {"type": "string", "description": "the `id` of the MQTT `cmd` message"},
        "machine": TEXT, "command": {"type": "string", "enum": ["pause", "resume", "stop", "home", "start_job"]},
        "job": {"type": ["string", "null"], "description": "op-<operation id>"},
        "status": {"type": "string", "enum": ["queued", "sent", "acknowledged", "refused", "failed"]},
        "operation_id": {"type": ["integer", "null"]}}),
}
