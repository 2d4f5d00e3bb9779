"""Production order pages: the list (a member sees their co-op's; stewards all, by status and co-op), ordering
a design, an order's page with its jobs, operations, progress and history; cancelling it before work starts
(its co-op or a steward); and, for stewards, planning it (which reserves its materials) and starting and
finishing its operations. Each job shows its planned finish in the plan in force and, when it is late or
not planned, why in plain words."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from factory.app import db
from factory.domain.vocabulary import Role
from factory.models import Operation, ProductionOrder
from factory.services.coops import list_coops
from factory.services.designs import list_designs
from factory.services.order_work import finish_operation, plan_order, start_operation
from factory.services.orders import CANCELLABLE, cancel_order, get_order, list_orders, operations_of, place_order
from factory.services.sites import list_sites
from factory.web.access import actor, registry_keepers
from factory.web.catalogue import may_order
from factory.web.forms import attempt
from factory.web.order_forms import ActionForm, CancelOrderForm, OrderForm, PlanForm
from factory.web.plan import job_outlooks

bp = Blueprint("orders", __name__, url_prefix="/orders")

STATUSES = ("submitted", "planned", "in_progress", "done", "cancelled")
PLANNABLE = ("submitted", "planned")


@bp.get("")
@login_required
def index():
    keeper = _keeper()
    status = request.args.get("status") or None
    coop = (request.args.get("coop") or None) if keeper else None
    orders = list_orders(db(), current_user, status=status, coop=coop)
    return render_template("orders/index.html", orders=orders, status=status, coop=coop, keeper=keeper,
                           statuses=STATUSES, coops=list_coops(db()) if keeper else [],
                           progress={order.id: progress(order) for order in orders}, may_order=may_order())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    if not may_order():
        abort(403)
    form = OrderForm()
    form.offer(list_designs(db()), list_coops(db()) if _keeper() else [current_user.coop])
    if not form.is_submitted():
        form.design.data = request.args.get("design") or form.design.data
        return render_template("orders/new.html", form=form)
    order = attempt(form, lambda: place_order(db(), form.draft(), viewer=current_user, by=actor()))
    if order is not None:
        flash(f"Ordered {order.quantity} × {order.design.name} for {order.coop.name}: {len(order.jobs)} job(s). "
              "A steward plans it and reserves the materials.", "success")
        return redirect(url_for("orders.detail", order_id=order.id))
    return render_template("orders/new.html", form=form), 422


@bp.get("/<int:order_id>")
@login_required
def detail(order_id: int):
    return _detail_page(get_order(db(), order_id, current_user))


def _detail_page(order: ProductionOrder, *, cancel_form: CancelOrderForm | None = None,
                 plan_form: PlanForm | None = None, action_form: ActionForm | None = None):
    plan_form = plan_form or PlanForm(formdata=None)
    plan_form.offer_sites(list_sites(db()))
    keeper = _keeper()
    return render_template(
        "orders/detail.html", order=order, keeper=keeper, progress=progress(order),
        may_cancel=order.status in CANCELLABLE and (keeper or current_user.coop_id == order.coop_id),
        may_plan=keeper and order.status in PLANNABLE and any(op.status == "waiting" for op in operations_of(order)),
        cancel_form=cancel_form or CancelOrderForm(formdata=None), plan_form=plan_form,
        action_form=action_form or ActionForm(formdata=None), zone_of=operation_zone, outlooks=job_outlooks(order))


@bp.post("/<int:order_id>/cancel")
@login_required
def cancel(order_id: int):
    order = get_order(db(), order_id, current_user)
    form = CancelOrderForm()
    cancelled = attempt(form, lambda: cancel_order(db(), order.id, viewer=current_user, by=actor(),
                                                   reason=form.reason.data or ""))
    if cancelled is not None:
        flash("Order cancelled; whatever was reserved for it is back in stock.", "success")
        return redirect(url_for("orders.detail", order_id=order.id))
    return _detail_page(order, cancel_form=form), 422


@bp.post("/<int:order_id>/plan")
@registry_keepers
def plan(order_id: int):
    order = get_order(db(), order_id, current_user)
    form = PlanForm()
    form.offer_sites(list_sites(db()))
    planned = attempt(form, lambda: plan_order(db(), order.id, viewer=current_user, by=actor(),
                                               site=form.site.data or None))
    if planned is not None:
        short = [op for op in operations_of(planned) if op.status == "waiting"]
        if short:
            flash(f"Reserved what is in stock; {len(short)} operation(s) wait for material (see their notes). "
                  "Replenishment cards are open on the inventory page.", "info")
        else:
            flash("Planned: the materials of every operation are reserved.", "success")
        return redirect(url_for("orders.detail", order_id=order.id))
    return _detail_page(order, plan_form=form), 422


@bp.post("/<int:order_id>/operations/<int:operation_id>/<any(start, finish):action>")
@registry_keepers
def operation(order_id: int, operation_id: int, action: str):
    order = get_order(db(), order_id, current_user)
    if operation_id not in {op.id for op in operations_of(order)}:
        abort(404)
    form = ActionForm()
    work = start_operation if action == "start" else finish_operation
    done = attempt(form, lambda: work(db(), operation_id, by=actor()))
    if done is not None:
        verb = "started" if action == "start" else "finished; its materials are consumed"
        flash(f"Job {done.job.number}, step {done.position} ({done.step.name}) {verb}.", "success")
        return redirect(url_for("orders.detail", order_id=order.id))
    return _detail_page(order, action_form=form), 422


def progress(order: ProductionOrder) -> dict:
    """Done operations of all, and the share as a whole percentage."""
    operations = operations_of(order)
    done = sum(1 for op in operations if op.status == "done")
    return {"done": done, "all": len(operations), "pct": round(100 * done / len(operations)) if operations else 0}


def operation_zone(operation: Operation) -> str:
    """Times of an operation are shown on its machine's clock once the planner has chosen one, else in UTC."""
    return operation.machine.site.time_zone if operation.machine is not None else "UTC"


def _keeper() -> bool:
    return Role(current_user.role).manages_registry
