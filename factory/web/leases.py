"""Lease pages: a co-op proposes a standing weekly use of a machine, a steward or admin approves or declines
it, and the lessee (or a steward) gives single days back to the pool."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from wtforms import SelectChoice

from factory.app import db
from factory.domain.errors import DomainError
from factory.domain.opening_hours import WEEKDAYS, format_day
from factory.domain.vocabulary import Role
from factory.models import Lease
from factory.services.coops import list_coops
from factory.services.leases import (
    approve_lease,
    decline_lease,
    get_lease,
    lease_summary,
    list_leases,
    propose_lease,
    release_day,
)
from factory.services.machine_time import lease_week
from factory.services.machines import list_machines
from factory.web.access import actor, registry_keepers
from factory.web.booking_forms import DecisionForm, LeaseForm, ReleaseForm
from factory.web.forms import attempt, show_error

bp = Blueprint("leases", __name__, url_prefix="/leases")


@bp.get("")
@login_required
def index():
    leases = sorted(list_leases(db(), current_user), key=lambda lease: lease.status != "proposed")
    return render_template("leases/index.html", leases=leases, summaries={one.id: lease_summary(one) for one in leases},
                           keeper=_keeper())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    form = LeaseForm()
    form.offer_machines(list_machines(db()))
    coops = list_coops(db()) if _keeper() else [current_user.coop]
    form.coop.choices = [SelectChoice(c.slug, c.name) for c in coops if c is not None]
    if not form.is_submitted():
        form.machine.data = request.args.get("machine") or form.machine.data
    elif form.validate():
        try:
            lease = propose_lease(db(), form.draft(), viewer=current_user, by=actor())
            flash(f"Lease of {lease.machine.name} proposed; a steward will approve or decline it.", "success")
            return redirect(url_for("leases.detail", lease_id=lease.id))
        except DomainError as exc:
            db().rollback()
            show_error(form, exc)
    status = 422 if form.is_submitted() else 200
    return render_template("leases/new.html", form=form), status


@bp.get("/<int:lease_id>")
@login_required
def detail(lease_id: int):
    return _detail_page(get_lease(db(), lease_id, current_user))


def _detail_page(lease: Lease, *, approve_form: DecisionForm | None = None,
                 decline_form: DecisionForm | None = None, release_form: ReleaseForm | None = None):
    week = lease_week(lease)
    windows = [(name.capitalize(), format_day(week[day])) for day, name in enumerate(WEEKDAYS) if week[day]]
    return render_template(
        "leases/detail.html", lease=lease, windows=windows, tz=lease.machine.site.time_zone, keeper=_keeper(),
        may_release=_keeper() or current_user.coop_id == lease.coop_id,
        approve_form=approve_form or DecisionForm(formdata=None, prefix="approve"),
        decline_form=decline_form or DecisionForm(formdata=None, prefix="decline"),
        release_form=release_form or ReleaseForm(formdata=None))


@bp.post("/<int:lease_id>/approve")
@registry_keepers
def approve(lease_id: int):
    lease = get_lease(db(), lease_id, current_user)
    form = DecisionForm(prefix="approve")
    approved = attempt(form, lambda: approve_lease(db(), lease.id, by=actor(), note=form.note.data or ""))
    if approved is not None:
        honoured = approved[1]
        kept = (f" {len(honoured)} booking(s) of other co-ops inside its windows stay: they were booked first."
                if honoured else "")
        flash(f"Lease approved; {lease.coop.name} is told.{kept}", "success")
        return redirect(url_for("leases.detail", lease_id=lease.id))
    return _detail_page(lease, approve_form=form), 422


@bp.post("/<int:lease_id>/decline")
@registry_keepers
def decline(lease_id: int):
    lease = get_lease(db(), lease_id, current_user)
    form = DecisionForm(prefix="decline")
    if attempt(form, lambda: decline_lease(db(), lease.id, by=actor(), note=form.note.data or "")):
        flash(f"Lease declined; {lease.coop.name} is told why.", "success")
        return redirect(url_for("leases.detail", lease_id=lease.id))
    return _detail_page(lease, decline_form=form), 422


@bp.post("/<int:lease_id>/release")
@login_required
def release(lease_id: int):
    lease = get_lease(db(), lease_id, current_user)
    form = ReleaseForm()
    given = attempt(form, lambda: release_day(db(), lease.id, form.on_date.data, viewer=current_user, by=actor(),
                                              reason=form.reason.data or ""))
    if given is not None:
        flash(f"{given.on_date:%A %Y-%m-%d} is released: any co-op may book {lease.machine.name} then.", "success")
        return redirect(url_for("leases.detail", lease_id=lease.id))
    return _detail_page(lease, release_form=form), 422


def _keeper() -> bool:
    return Role(current_user.role).manages_registry
