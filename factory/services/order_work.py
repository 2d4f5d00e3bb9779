"""An order's work on the shop floor: planning it (which reserves its materials), starting and finishing its
operations (which consumes them), and the order's status following its operations.

The live plan (services/planning.py) reserves with `reserve_operation` at each planned operation's machine's
site; a steward may also reserve a whole order by hand at one site (`plan_order`). An operation whose material
is short stays `waiting` with an earliest start at the expected arrival (or none when nothing is on order),
and says so.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from factory.domain.errors import Conflict, NotFound
from factory.domain.units import format_quantity, parse_unit
from factory.models import Material, Operation, ProductionOrder, User, utcnow
from factory.services import replenishment, stock
from factory.services.designs import feasibility
from factory.services.machine_time import is_row_id
from factory.services.orders import get_order, lock_order, material_needs, move, operations_of
from factory.services.plan_triggers import request_replan
from factory.services.sites import get_site


def plan_order(session: Session, order_id: int, *, viewer: User, by: str, site: str | None = None,
               now: datetime | None = None) -> ProductionOrder:
    """Reserve every operation's materials; the order is `planned` once every operation is."""
    now = now or utcnow()
    order = get_order(session, order_id, viewer)
    lock_order(session, order)
    if order.status not in ("submitted", "planned"):
        raise Conflict(f"the order is {order.status.replace('_', ' ')}; there is nothing left to plan", field="site")
    sites = _sites_for(session, order, site)
    lacking: dict[tuple[int, int], Decimal] = {}
    for operation in operations_of(order):
        if operation.status == "waiting":
            for material_id, site_id, quantity in reserve_operation(session, operation, sites[operation.step_id],
                                                                    by=by, now=now):
                lacking[(material_id, site_id)] = lacking.get((material_id, site_id), Decimal(0)) + quantity
    pull_lacking(session, lacking, now=now)
    if all(operation.status == "planned" for operation in operations_of(order)):
        move(order, "planned", by=by, now=now, note="materials reserved")
    session.commit()
    return order


def start_operation(session: Session, operation_id: int, *, by: str, now: datetime | None = None) -> Operation:
    now = now or utcnow()
    operation = _operation(session, operation_id)
    lock_order(session, operation.job.order)
    if operation.status != "planned":
        raise Conflict(f"only a planned operation can start; this one is {operation.status}", field="status")
    if operation.job.order.status not in ("planned", "in_progress"):
        raise Conflict("work starts once the whole order is planned (every operation has its material)",
                       field="status")
    earlier = [op for op in operation.job.operations if op.position < operation.position and op.status != "done"]
    if earlier:
        raise Conflict(f"step {earlier[0].position} of this job is not done yet", field="status")
    operation.status, operation.started_at = "running", now
    move(operation.job.order, "in_progress", by=by, now=now, note=f"job {operation.job.number} started")
    request_replan(session, "operation_started", f"operation {operation.id} started by {by}", now=now)
    session.commit()
    return operation


def finish_operation(session: Session, operation_id: int, *, by: str, now: datetime | None = None) -> Operation:
    """Mark a running operation done: what was reserved for it is consumed; the last one finishes the order."""
    now = now or utcnow()
    operation = _operation(session, operation_id)
    lock_order(session, operation.job.order)
    if operation.status != "running":
        raise Conflict(f"only a running operation can finish; this one is {operation.status}", field="status")
    complete_operation(session, operation, by=by, now=now)
    request_replan(session, "operation_finished", f"operation {operation.id} marked done by {by}", now=now)
    session.commit()
    return operation


def complete_operation(session: Session, operation: Operation, *, by: str, now: datetime) -> None:
    """The operation is done: what was reserved for it is consumed; the order's last one finishes the order."""
    for (material_id, site_id), _quantity in stock.reserved_for(session, operation.id).items():
        stock.consume(session, material_id, site_id, operation.id, by=by, now=now)
    operation.status, operation.finished_at = "done", now
    order = operation.job.order
    if all(op.status in ("done", "cancelled") for op in operations_of(order)):
        move(order, "done", by=by, now=now)


def pull_lacking(session: Session, lacking: dict[tuple[int, int], Decimal], *, now: datetime) -> None:
    """One kanban card per (material, site) for what the operations planned together lack beyond the stock."""
    for (material_id, site_id), quantity in lacking.items():
        free = max(stock.balance(session, material_id, site_id).available, Decimal(0))
        replenishment.pull_for_demand(session, material_id, site_id, quantity - free, now=now)


def reserve_operation(session: Session, operation: Operation, site_id: int, *, by: str,
                      now: datetime) -> list[tuple[int, int, Decimal]]:
    """Reserve what the operation still lacks at `site_id` (planning again reserves nothing twice; what an
    earlier plan held at another site goes back); answer (material, site, quantity) of what is short."""
    held = stock.reserved_for(session, operation.id)
    for material_id, held_at in {key for key in held if key[1] != site_id}:
        stock.release(session, material_id, held_at, operation.id, by=by, now=now)
    short, lacking = [], []
    for material_id, needed in material_needs(operation):
        quantity = needed - held.get((material_id, site_id), 0)
        if quantity <= 0:
            continue
        stock.take_stock_turn(session, material_id)  # the balance read below stays true until commit
        available = stock.balance(session, material_id, site_id).available
        if available >= quantity:
            stock.reserve(session, material_id, site_id, quantity, operation.id, by=by, now=now)
            continue
        material = session.get(Material, material_id)
        unit = parse_unit(material.unit, field="unit")
        arrival = replenishment.expected_arrival(session, material_id, site_id)
        when = f"expected {arrival:%Y-%m-%d %H:%M} UTC" if arrival else "none on order yet"
        short.append(f"short of {material.name}: {format_quantity(quantity, unit)} needed, "
                     f"{format_quantity(max(available, 0), unit)} available ({when})")
        if arrival and (operation.earliest_start is None or arrival > operation.earliest_start):
            operation.earliest_start = arrival
        lacking.append((material_id, site_id, quantity))
    operation.material_note = "; ".join(short)
    operation.status = "waiting" if short else "planned"
    return lacking


def _sites_for(session: Session, order: ProductionOrder, site: str | None) -> dict[int, int]:
    """The site each step's materials are reserved at: the one given, else the site of the first machine
    that can do the step."""
    if site:
        chosen = get_site(session, site).id
        return {step.id: chosen for step in order.design.steps}
    checks = feasibility(session, order.design)
    missing = [check.missing for check in checks if check.missing]
    if missing:  # a machine left or changed since the order was placed
        raise Conflict(f"{missing[0]}; give the site to reserve at", field="site", code="no_capable_machine")
    return {check.step.id: check.machines[0].site_id for check in checks}


def _operation(session: Session, operation_id: int) -> Operation:
    operation = session.get(Operation, operation_id) if is_row_id(operation_id) else None
    if operation is None:
        raise NotFound(f"no operation {operation_id}")
    return operation
