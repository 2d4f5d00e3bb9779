"""/api/v1/plan: the plan in force and its history of versions; stewards re-plan now, pin an operation to a
machine and time (the next plan keeps it there), and send a planned operation's `start_job` to its machine.

A member reads the plan of their own co-op only: another co-op's assignments and unplanned operations are
left out of every answer (not shown without their order, which would still tell whose machine time it is),
and filtering by another co-op's order is a 404, as reading that order is. A version's counts, triggers and
notes are the whole plan's.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, g, jsonify
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from factory.api import api
from factory.api.machines import rfc3339
from factory.api.parsing import actor, json_object, query, require_steward, row_id, string, time_field
from factory.app import db
from factory.domain.errors import Conflict, InvalidInput, InvalidParameter, NotFound
from factory.domain.vocabulary import Role
from factory.models import (
    Job,
    Machine,
    MachineCommand,
    Operation,
    PlanAssignment,
    PlanUnplanned,
    PlanVersion,
    ProductionOrder,
)
from factory.services.dispatch import queue_start
from factory.services.machine_time import is_row_id
from factory.services.machines import get_machine
from factory.services.orders import get_order
from factory.services.plan_pins import pin_operation, unpin_operation
from factory.services.plan_snapshot import current_plan
from factory.services.plan_snapshot import plan_versions as versions_newest_first
from factory.services.planning import replan
from factory.services.sites import get_site

FILTERS = ("site", "machine", "order")
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
NOTE_LENGTH = 300  # as a waiting trigger's detail
PLANS = "re-plan"
PINS = "pin operations"


class PlanNotPublished(Conflict):
    """The re-plan ran but its version was not published (rejected as stale or failed); `version_id` names it."""

    code = "plan_not_published"

    def __init__(self, version: PlanVersion):
        super().__init__(version.reason or f"version {version.id} was {version.outcome}")
        self.version_id = version.id

    def details(self) -> dict:
        return {"version_id": self.version_id}


# --- the plan and its versions -------------------------------------------------------------------------

@api.get("/plan")
def plan_show():
    args = query(FILTERS)
    view = _view(args)
    version = current_plan(db())
    if version is None:
        raise NotFound("no plan has been published yet; a steward can ask for one with POST /api/v1/plan")
    return jsonify(version_json(version, view))


@api.post("/plan")
def plan_now():
    require_steward(PLANS)
    body = json_object(("note",), empty_ok=True)
    note = string(body, "note", "")
    if len(note) > NOTE_LENGTH:
        raise InvalidInput(f"a note is at most {NOTE_LENGTH} characters", field="note")
    version = replan(db(), by=actor(), kind="manual", detail=note,
                     time_limit_s=float(current_app.config.get("PLAN_SECONDS", 5.0)))
    if version.outcome != "published":
        raise PlanNotPublished(version)
    return jsonify(version_json(version, _View())), 201, {"Location": f"/api/v1/plan/versions/{version.id}"}


@api.get("/plan/versions")
def plan_versions():
    args = query(("limit", "before"))
    limit, before = _limit(args), _before(args)
    found = versions_newest_first(db(), limit=limit + 1, before=before)
    page = found[:limit]
    counts = _counts([version.id for version in page])
    return jsonify({"items": [summary_json(version, counts) for version in page], "count": len(page),
                    "next_before": page[-1].id if len(found) > limit else None})


@api.get("/plan/versions/<version_id>")
def plan_version_show(version_id: str):
    args = query(FILTERS)
    view = _view(args)
    version = db().get(PlanVersion, row_id(version_id, "plan version"))
    if version is None:
        raise NotFound(f"no plan version {version_id!r}")
    return jsonify(version_json(version, view))


# --- pins and starts -----------------------------------------------------------------------------------

@api.post("/operations/<operation_id>/pin")
def operation_pin(operation_id: str):
    require_steward(PINS)
    body = json_object(("machine", "start"), required=("machine", "start"))
    machine, start = string(body, "machine"), time_field(body, "start")
    operation = pin_operation(db(), row_id(operation_id, "operation"), machine, start, by=actor())
    return jsonify(pin_json(operation))


@api.delete("/operations/<operation_id>/pin")
def operation_unpin(operation_id: str):
    require_steward(PINS)
    return jsonify(pin_json(unpin_operation(db(), row_id(operation_id, "operation"), by=actor())))


@api.post("/operations/<operation_id>/start")
def operation_start(operation_id: str):
    require_steward("start operations")
    json_object((), empty_ok=True)
    command = queue_start(db(), row_id(operation_id, "operation"), by=actor())
    return jsonify(command_json(command)), 202


# --- reading the request -------------------------------------------------------------------------------

class _View:
    """Which assignments an answer shows: the viewer's co-op's (a member), at a site or machine, of an order."""

    def __init__(self, coop_id: int | None = None, site_id: int | None = None, machine_id: str | None = None,
                 order_id: int | None = None) -> None:
        self.coop_id, self.site_id, self.machine_id, self.order_id = coop_id, site_id, machine_id, order_id

    def shows(self, operation: Operation, machine: Machine | None) -> bool:
        order = operation.job.order
        if self.coop_id is not None and order.coop_id != self.coop_id:
            return False
        if self.order_id is not None and order.id != self.order_id:
            return False
        if self.site_id is None and self.machine_id is None:
            return True
        if machine is None:  # unplanned: on no machine, so at no site
            return False
        return self.site_id in (None, machine.site_id) and self.machine_id in (None, machine.id)


def _view(args: dict[str, str]) -> _View:
    viewer = g.api_user
    view = _View(coop_id=viewer.coop_id if Role(viewer.role) is Role.MEMBER else None)
    if "site" in args:
        view.site_id = get_site(db(), args["site"]).id
    if "machine" in args:
        try:
            view.machine_id = get_machine(db(), args["machine"]).id
        except NotFound as exc:
            raise NotFound(exc.message, field="machine") from None
    if "order" in args:
        view.order_id = _order_filter(args["order"])
    return view


def _order_filter(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise InvalidParameter("`order` is an order id, a whole number", field="order")
    try:
        return get_order(db(), int(text), g.api_user).id
    except NotFound as exc:
        raise NotFound(exc.message, field="order") from None


def _limit(args: dict[str, str]) -> int:
    text = args.get("limit", str(DEFAULT_LIMIT))
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidParameter(f"`limit` is a whole number from 1 to {MAX_LIMIT}", field="limit")
    return int(text)


def _before(args: dict[str, str]) -> int | None:
    text = args.get("before")
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or not is_row_id(int(text)):
        raise InvalidParameter("`before` is a version id: the answer's `next_before`", field="before")
    return int(text)


# --- the answers ---------------------------------------------------------------------------------------

def version_json(version: PlanVersion, view: _View) -> dict:
    session = db()
    assignments = session.scalars(
        select(PlanAssignment).where(PlanAssignment.version_id == version.id)
        .options(joinedload(PlanAssignment.machine), _operation_rows(PlanAssignment.operation))
        .order_by(PlanAssignment.starts_at, PlanAssignment.machine_id, PlanAssignment.id))
    unplanned = session.scalars(
        select(PlanUnplanned).where(PlanUnplanned.version_id == version.id)
        .options(_operation_rows(PlanUnplanned.operation)).order_by(PlanUnplanned.operation_id))
    return {
        **_header(version),
        "assignments": [assignment_json(a) for a in assignments if view.shows(a.operation, a.machine)],
        "unplanned": [unplanned_json(u) for u in unplanned if view.shows(u.operation, None)],
    }


def summary_json(version: PlanVersion, counts: dict[int, tuple[int, int]]) -> dict:
    assigned, unplanned = counts.get(version.id, (0, 0))
    return {**_header(version), "counts": {"assigned": assigned, "unplanned": unplanned}}


def _header(version: PlanVersion) -> dict:
    return {
        "id": version.id,
        "created_at": rfc3339(version.created_at),
        "planned_from": rfc3339(version.planned_from),
        "horizon_end": rfc3339(version.horizon_end),
        "triggers": [{"kind": t["kind"], "detail": t["detail"], "at": _trigger_time(t["at"])}
                     for t in version.triggers],
        "requested_by": version.requested_by,
        "outcome": version.outcome,
        "reason": version.reason,
        "solver_status": version.solver_status,
        "objective": version.objective,
        "based_on": version.based_on_id,
        "operations": version.operations,
        "moved": version.moved,
        "notes": list(version.notes),
    }


def assignment_json(assignment: PlanAssignment) -> dict:
    operation = assignment.operation
    return {**_operation(operation), "coop": {"slug": operation.job.order.coop.slug,
                                              "name": operation.job.order.coop.name},
            "machine": assignment.machine_id, "start": rfc3339(assignment.starts_at),
            "end": rfc3339(assignment.ends_at), "fixed": assignment.fixed or None, "moved": assignment.moved,
            "late_minutes": assignment.late_minutes}


def unplanned_json(unplanned: PlanUnplanned) -> dict:
    return {**_operation(unplanned.operation), "reason": unplanned.reason, "explanation": unplanned.explanation}


def pin_json(operation: Operation) -> dict:
    pinned = operation.pinned_machine_id is not None and operation.pinned_start is not None
    return {**_operation(operation), "status": operation.status,
            "machine": operation.pinned_machine_id if pinned else None,
            "start": rfc3339(operation.pinned_start) if pinned else None}


def command_json(command: MachineCommand) -> dict:
    return {"id": command.id, "command_id": command.command_id, "machine": command.machine_id,
            "command": command.command, "job": command.job, "status": command.status,
            "operation_id": command.operation_id}


def _operation(operation: Operation) -> dict:
    return {"operation_id": operation.id, "order_id": operation.job.order_id, "job_id": operation.job_id,
            "step": operation.step.name}


def _trigger_time(text: str) -> str:
    """A trigger's time as the other times are written (stored as Python's ISO format, in UTC)."""
    moment = datetime.fromisoformat(text)
    return rfc3339(moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC))


def _operation_rows(relationship):
    """Loads an assignment's or unplanned row's operation with its step, job, order and co-op in one query."""
    return joinedload(relationship).options(
        joinedload(Operation.step), joinedload(Operation.job).joinedload(Job.order).joinedload(ProductionOrder.coop))


def _counts(version_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not version_ids:
        return {}
    session = db()
    assigned = dict(session.execute(select(PlanAssignment.version_id, func.count())
                                    .where(PlanAssignment.version_id.in_(version_ids))
                                    .group_by(PlanAssignment.version_id)).all())
    unplanned = dict(session.execute(select(PlanUnplanned.version_id, func.count())
                                     .where(PlanUnplanned.version_id.in_(version_ids))
                                     .group_by(PlanUnplanned.version_id)).all())
    return {vid: (assigned.get(vid, 0), unplanned.get(vid, 0)) for vid in version_ids}

