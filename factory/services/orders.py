"""Production orders: a co-op orders a design; the order becomes jobs of a bounded batch size, each the
design's routing as a chain of operations; it moves submitted -> planned -> in_progress -> done, or is
cancelled by its co-op before work starts, its reservations released. Every change is in its history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from factory.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from factory.domain.routing import operation_minutes, split_into_jobs
from factory.domain.units import convert, parse_unit
from factory.domain.vocabulary import Role
from factory.models import Job, Operation, OrderChange, ProductionOrder, User, utcnow
from factory.services import stock
from factory.services.bookings import check_note, may_see
from factory.services.coops import get_coop
from factory.services.designs import feasibility, get_design
from factory.services.machine_time import is_row_id
from factory.services.plan_triggers import request_replan
from factory.services.write_turn import take_write_turn

PRIORITIES = ("low", "normal", "high", "urgent")
MAX_QUANTITY = 10_000
MAX_OPERATION_MINUTES = 1_000_000  # about two years: a longer operation is a typing error
CANCELLABLE = ("submitted", "planned")
STORED = Decimal("0.001")


@dataclass(frozen=True)
class OrderDraft:
    design: str
    coop: str
    quantity: int
    needed_by: date
    priority: str = "normal"
    notes: str = ""


def place_order(session: Session, draft: OrderDraft, *, viewer: User, by: str,
                now: datetime | None = None) -> ProductionOrder:
    """Check the order and store it with its jobs and operations, `submitted`."""
    now = now or utcnow()
    coop = get_coop(session, draft.coop)
    if Role(viewer.role) is Role.MEMBER and viewer.coop_id != coop.id:
        raise Forbidden("a member orders for their own co-op only", field="coop")
    if not isinstance(draft.quantity, int) or not 1 <= draft.quantity <= MAX_QUANTITY:
        raise InvalidInput(f"order between 1 and {MAX_QUANTITY:,} pieces", field="quantity")
    if draft.needed_by <= now.date():
        raise InvalidInput("the date needed must be after today", field="needed_by")
    if draft.priority not in PRIORITIES:
        raise InvalidInput(f"priority is one of {', '.join(PRIORITIES)}", field="priority")
    notes = check_note(draft.notes, field="notes", max_len=2000)
    design = get_design(session, draft.design)
    if not design.active:
        raise InvalidInput(f"{design.name} is withdrawn from the catalogue", field="design")
    missing = [check.missing for check in feasibility(session, design) if check.missing]
    if missing:
        raise InvalidInput(missing[0], field="design", code="no_capable_machine")
    order = ProductionOrder(coop_id=coop.id, design_id=design.id, design_version=design.version,
                            quantity=draft.quantity, needed_by=draft.needed_by, priority=draft.priority, notes=notes,
                            status="submitted", placed_by=by[:32], placed_at=now, updated_at=now)
    order.jobs = [_job(design, number, size) for number, size in
                  enumerate(split_into_jobs(draft.quantity, design.max_batch), start=1)]
    longest = max(op.duration_minutes for job in order.jobs for op in job.operations)
    if longest > MAX_OPERATION_MINUTES:
        raise InvalidInput(f"one job's operation would take {longest:,} minutes; order fewer pieces",
                           field="quantity")
    order.changes.append(OrderChange(at=now, by=by[:32], from_status=None, to_status="submitted"))
    session.add(order)
    session.flush()
    request_replan(session, "order_placed", f"order {order.id}: {draft.quantity} × {design.name}", now=now)
    session.commit()
    return order


def cancel_order(session: Session, order_id: int, *, viewer: User, by: str, reason: str,
                 now: datetime | None = None) -> ProductionOrder:
    """Cancel an order whose work has not started; what was reserved for it goes back to stock."""
    now = now or utcnow()
    order = get_order(session, order_id, viewer)
    reason = check_note(reason, field="reason", max_len=500, required=True)
    lock_order(session, order)
    if order.status not in CANCELLABLE:
        raise Conflict(f"the order is {order.status.replace('_', ' ')}; only an order not yet started can be "
                       "cancelled", field="reason")
    for operation in operations_of(order):
        release_operation(session, operation, by=by, now=now)
        operation.status = "cancelled"
    move(order, "cancelled", by=by, now=now, note=reason)
    request_replan(session, "order_cancelled", f"order {order.id}", now=now)
    session.commit()
    return order


def list_orders(session: Session, viewer: User, *, status: str | None = None,
                coop: str | None = None) -> list[ProductionOrder]:
    """Orders the viewer may see (a member: their co-op's), newest first."""
    statement = select(ProductionOrder).options(selectinload(ProductionOrder.jobs).selectinload(Job.operations)) \
        .order_by(ProductionOrder.placed_at.desc(), ProductionOrder.id.desc())
    if Role(viewer.role) is Role.MEMBER:
        statement = statement.where(ProductionOrder.coop_id == viewer.coop_id)
    if coop:
        statement = statement.where(ProductionOrder.coop_id == get_coop(session, coop).id)
    if status:
        if status not in ("submitted", "planned", "in_progress", "done", "cancelled"):
            raise InvalidInput("status is one of submitted, planned, in_progress, done, cancelled", field="status")
        statement = statement.where(ProductionOrder.status == status)
    return list(session.scalars(statement))


def get_order(session: Session, order_id: int, viewer: User) -> ProductionOrder:
    """An order the viewer may see; another co-op's reads as not found, as if there were none."""
    order = session.get(ProductionOrder, order_id) if is_row_id(order_id) else None
    if order is None or not may_see(viewer, order.coop_id):
        raise NotFound(f"no order {order_id}")
    return order


def lock_order(session: Session, order: ProductionOrder) -> None:
    """Take the order's write turn and read it and its operations again: of a plan, a cancel and a start
    racing on one order, each sees what the one before it committed."""
    take_write_turn(session, select(ProductionOrder.id).where(ProductionOrder.id == order.id))
    session.refresh(order)
    for operation in operations_of(order):
        session.refresh(operation)


def operations_of(order: ProductionOrder) -> list[Operation]:
    return [operation for job in order.jobs for operation in job.operations]


def material_needs(operation: Operation) -> list[tuple[int, Decimal]]:
    """(material id, quantity in the material's own unit) the operation uses up, rounded up to 0.001."""
    needs = []
    for line in operation.step.design.materials:
        if line.step_id != operation.step_id:
            continue
        per_unit = convert(line.quantity_per_unit, parse_unit(line.unit, field="unit"),
                           parse_unit(line.material.unit, field="unit"))
        needs.append((line.material_id, (per_unit * operation.job.quantity).quantize(STORED, rounding=ROUND_CEILING)))
    return needs


def move(order: ProductionOrder, status: str, *, by: str, now: datetime, note: str = "") -> None:
    """Record the order's move to `status` in its history (nothing when it is there already)."""
    if order.status == status:
        return
    order.changes.append(OrderChange(at=now, by=by[:32], from_status=order.status, to_status=status, note=note))
    order.status, order.updated_at = status, now


def release_operation(session: Session, operation: Operation, *, by: str, now: datetime) -> None:
    """Give back what is still reserved for the operation (the stock service keeps the ledger)."""
    for (material_id, site_id), _quantity in stock.reserved_for(session, operation.id).items():
        stock.release(session, material_id, site_id, operation.id, by=by, now=now)


def _job(design, number: int, size: int) -> Job:
    job = Job(number=number, quantity=size)
    job.operations = [
        Operation(step_id=step.id, position=step.position, status="waiting",
                  duration_minutes=operation_minutes(size, step.minutes_per_unit, step.setup_minutes,
                                                     step.batch_capacity))
        for step in design.steps]
    return job
