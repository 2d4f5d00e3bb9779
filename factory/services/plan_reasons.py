"""Why an operation is not planned, or its job late, in words a co-op member reads: "no printer can take
PETG until Thursday; CNC-2 is down"."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from factory.domain.routing import missing_capability, why_not
from factory.models import Machine, Operation
from factory.services.designs import step_needs
from factory.services.plan_snapshot import Snapshot
from scheduler.plan import Reason, Unplanned


def explain_unplanned(snap: Snapshot, unplanned: Unplanned) -> str:
    operation = snap.operations[unplanned.op]
    step = operation.step
    needs = step_needs(step)
    able = [m for m in snap.machines.values() if why_not(needs, m.kind, m.capabilities) is None]
    if unplanned.reason is Reason.NO_ELIGIBLE_MACHINE or not able:
        return missing_capability(step.name, step.position, needs,
                                  [(m.name, m.kind, m.capabilities) for m in snap.machines.values()])
    if unplanned.reason is Reason.WAITING_FOR_MATERIAL:
        return f"step {step.position} ({step.name}) waits for material: " + \
            snap.material_waits.get(unplanned.op, "it is short and none is on order")
    if unplanned.reason is Reason.PREDECESSOR_UNPLANNED:
        return f"step {step.position} ({step.name}) waits for an earlier step of its job, which is not planned"
    days = snap.problem.horizon // (24 * 60)
    said = f"no free time for step {step.position} ({step.name}) on {_names(able)} in the next {days} days"
    return "; ".join([said, *down_machines(snap, able)])


def down_machines(snap: Snapshot, machines: list[Machine]) -> list[str]:
    return [snap.down[m.id] for m in machines if m.id in snap.down]


def late_reason(operation: Operation, late_minutes: int, machines: list[Machine], zone: ZoneInfo,
                finish: datetime) -> str:
    """A job planned to finish after its order is needed: by how much, and what stands in the way now."""
    hours = late_minutes / 60
    said = f"planned to finish {finish.astimezone(zone):%a %d %b %H:%M}, {_span(hours)} after it is needed"
    needs = step_needs(operation.step)
    able = [m for m in machines if why_not(needs, m.kind, m.capabilities) is None]
    down = [f"{m.name} is {m.state}" for m in able if not m.available]
    return "; ".join([said, *down])


def _span(hours: float) -> str:
    return f"{hours:.0f} h" if hours < 48 else f"{hours / 24:.1f} days"


def _names(machines: list[Machine]) -> str:
    names = [m.name for m in machines]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]



