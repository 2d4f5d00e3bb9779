"""Re-planning: take the waiting triggers, build the snapshot, solve, check, and publish a new plan version.

The solver runs outside any transaction (a booking made meanwhile is not held up). Publishing then takes the
planner's write turn and looks again: if a plan was published since the snapshot, or a reservation or a
breakdown now meets a planned operation, the version is stored `rejected` as stale and its triggers stay
waiting, so the next run plans again from the new state. A plan the independent checker faults, or a
solver that found none, is stored `failed` with the reason and the plan in force stays.

Publishing writes the placements, sets each operation's machine and planned times, reserves the materials
of every planned operation at its machine's site (what is short waits, with a kanban card) and gives back
those of operations no longer planned; an order whose operations are all planned with their materials is
`planned`, one that lost that goes back to `submitted`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from factory.models import Commune, Machine, Operation, PlanAssignment, PlanTrigger, PlanUnplanned, PlanVersion, utcnow
from factory.services.machine_time import reservations
from factory.services.order_work import pull_lacking, reserve_operation
from factory.services.orders import move, operations_of, release_operation
from factory.services.plan_reasons import explain_unplanned
from factory.services.plan_snapshot import DOWN_STATES, Snapshot, build_snapshot, current_plan
from factory.services.plan_triggers import waiting_triggers
from factory.services.write_turn import take_write_turn
from scheduler.check import violations
from scheduler.plan import Plan, Status
from scheduler.solve import solve

Log = Callable[[str], None]


def replan(session: Session, *, by: str, kind: str | None = None, detail: str = "", now: datetime | None = None,
           time_limit_s: float = 5.0, workers: int = 2, log: Log | None = None) -> PlanVersion:
    """Plan now from the state in the database, for the triggers waiting (plus `kind` when given)."""
    now = now or utcnow()
    say = log or (lambda _line: None)
    taken = waiting_triggers(session)
    triggers = [{"kind": t.kind, "detail": t.detail, "at": t.created_at.isoformat()} for t in taken]
    if kind is not None:
        triggers.append({"kind": kind, "detail": detail, "at": now.isoformat()})
    snap = build_snapshot(session, now)
    session.commit()  # end the read: the solve must not hold the database
    say(f"snapshot: {len(snap.problem.jobs)} jobs, {snap.problem.operation_count} operations, "
        f"{len(snap.problem.blocks)} blocks, {len(snap.problem.running)} fixed")
    plan = solve(snap.problem, time_limit_s=time_limit_s, workers=workers, log_progress=None)
    say(f"solved: {plan.status}, objective {plan.objective}, {plan.wall_s:.2f} s by {plan.solver}")
    faults = violations(snap.problem, plan) if plan.status in (Status.OPTIMAL, Status.FEASIBLE) else []
    take_write_turn(session, select(Commune.id))
    version = PlanVersion(created_at=utcnow(), planned_from=snap.now, horizon_end=snap.moment(snap.problem.horizon),
                          triggers=triggers, requested_by=by[:32], solver_status=plan.status.value,
                          solver=plan.solver[:300], objective=plan.objective, terms=dict(plan.terms),
                          wall_s=plan.wall_s,
                          based_on_id=snap.base.id if snap.base else None, operations=snap.problem.operation_count,
                          notes=snap.notes, outcome="published")
    stale = _stale(session, snap, plan)
    if plan.status not in (Status.OPTIMAL, Status.FEASIBLE):
        version.outcome, version.reason = "failed", f"no plan: {plan.solver}"
    elif faults:
        version.outcome = "failed"
        version.reason = f"the checker found {len(faults)} violations; the first: {faults[0].message}"
    elif stale:
        version.outcome, version.reason = "rejected", f"stale: {stale}; planning again"
    session.add(version)
    session.flush()
    if version.outcome == "published":
        _publish(session, snap, plan, version, by=by)
    if version.outcome != "rejected":  # a stale plan leaves its triggers waiting for the next run
        taken_ids = [t.id for t in taken]
        if taken_ids:
            session.execute(update(PlanTrigger).where(PlanTrigger.id.in_(taken_ids)).values(version_id=version.id))
    session.commit()
    say(f"version {version.id}: {version.outcome} {version.reason}")
    return version


def _stale(session: Session, snap: Snapshot, plan: Plan) -> str:
    """What changed since the snapshot that the plan would break, or ''."""
    newest = current_plan(session)
    if newest is not None and (snap.base is None or newest.id != snap.base.id):
        return f"plan {newest.id} was published meanwhile"
    placed = {a.machine for a in plan.assignments}
    if not placed:
        return ""
    fixed = {p.key for p in snap.problem.running}
    for machine in session.scalars(select(Machine).where(Machine.id.in_(placed))):
        session.refresh(machine)
        if machine.state in DOWN_STATES and machine.id not in snap.down:
            return f"{machine.name} went {machine.state}"
    held = reservations(session, sorted(placed), snap.now, snap.moment(snap.problem.horizon))
    for a in plan.assignments:
        if a.key in fixed:
            continue
        start, end = snap.moment(a.start), snap.moment(a.end)
        hit = next((r for r in held if r.machine_id == a.machine and r.starts_at < end and start < r.ends_at), None)
        if hit is not None:
            return f"{hit.kind} {hit.id} on {hit.machine_id} was made meanwhile"
    return ""


def _publish(session: Session, snap: Snapshot, plan: Plan, version: PlanVersion, *, by: str) -> None:
    before = {a.operation_id: (a.machine_id, a.starts_at) for a in (snap.base.assignments if snap.base else [])}
    fixed = {p.key: ("running" if snap.operations[p.op].status == "running" else "pinned")
             for p in snap.problem.running}
    last_ops = {job.id: job.operations[-1].id for job in snap.problem.jobs}
    moved = 0
    lacking: dict[tuple[int, int], Decimal] = {}
    for a in plan.assignments:
        operation = snap.operations[a.op]
        session.refresh(operation)
        start, end = snap.moment(a.start), snap.moment(a.end)
        was = before.get(operation.id)
        shifted = was is not None and was != (a.machine, start)
        moved += shifted
        version.assignments.append(PlanAssignment(
            operation_id=operation.id, machine_id=a.machine, starts_at=start, ends_at=end,
            fixed=fixed.get(a.key, ""), moved=shifted,
            late_minutes=max(0, plan.lateness.get(a.job, 0)) if last_ops[a.job] == a.op else 0))
        operation.planned_start, operation.planned_end = start, end
        if operation.status == "running":
            continue
        operation.machine_id = a.machine
        if operation.status in ("waiting", "planned"):
            site_id = snap.machines[a.machine].site_id
            for material_id, site, quantity in reserve_operation(session, operation, site_id, by=by, now=snap.now):
                lacking[(material_id, site)] = lacking.get((material_id, site), Decimal(0)) + quantity
    pull_lacking(session, lacking, now=snap.now)
    for u in plan.unplanned:
        operation = snap.operations[u.op]
        session.refresh(operation)
        version.unplanned.append(PlanUnplanned(operation_id=operation.id, reason=u.reason.value,
                                               explanation=explain_unplanned(snap, u)))
        operation.planned_start = operation.planned_end = None
        if operation.status == "planned":  # its materials go back until it has a place again
            release_operation(session, operation, by=by, now=snap.now)
            operation.status = "waiting"
        if operation.status == "waiting":
            operation.machine_id = None
    version.moved = moved
    _order_statuses(snap, by=by)


def _order_statuses(snap: Snapshot, *, by: str) -> None:
    orders = {job.order.id: job.order for job in snap.jobs.values()}
    for order in orders.values():
        left = [op for op in operations_of(order) if op.status not in ("done", "cancelled")]
        planned = all(op.status in ("planned", "running") and op.planned_start is not None for op in left)
        if order.status == "submitted" and planned:
            move(order, "planned", by=by, now=snap.now, note="in the plan, materials reserved")
        elif order.status == "planned" and not planned:
            move(order, "submitted", by=by, now=snap.now, note="no longer wholly planned; see its operations")


def assignment_of(version: PlanVersion | None, operation: Operation) -> PlanAssignment | None:
    if version is None:
        return None
    return next((a for a in version.assignments if a.operation_id == operation.id), None)



