"""Machines overview (by site, with state) and a machine's page."""

from __future__ import annotations

from itertools import groupby

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from factory.app import db
from factory.domain.errors import DomainError
from factory.domain.vocabulary import MachineState, Role
from factory.services.machines import change_state, get_machine, list_machines
from factory.web.access import actor, registry_keepers
from factory.web.forms import StateForm, show_error

bp = Blueprint("machines", __name__)


@bp.route("/")
@login_required
def index():
    machines = list_machines(db())
    by_site = [(site, list(group)) for site, group in groupby(machines, key=lambda m: m.site)]
    counts = {state.value: sum(1 for m in machines if m.state == state.value) for state in MachineState}
    return render_template("machines/index.html", by_site=by_site, counts=counts, total=len(machines))


@bp.route("/machines/<machine_id>")
@login_required
def detail(machine_id: str):
    machine = get_machine(db(), machine_id)
    form = StateForm(state=machine.state)
    can_edit = Role(current_user.role).manages_registry
    return render_template("machines/detail.html", machine=machine, form=form, can_edit=can_edit)


@bp.route("/machines/<machine_id>/state", methods=["POST"])
@registry_keepers
def set_state(machine_id: str):
    machine = get_machine(db(), machine_id)
    form = StateForm()
    if form.validate_on_submit():
        if form.state.data == machine.state:
            flash(f"{machine.name} is already {machine.state}; nothing recorded.", "info")
            return redirect(url_for("machines.detail", machine_id=machine_id))
        try:
            change_state(db(), machine_id, form.state.data, by=actor(), reason=form.reason.data)
            flash(f"{machine.name} is now {form.state.data}.", "success")
            return redirect(url_for("machines.detail", machine_id=machine_id))
        except DomainError as exc:
            db().rollback()
            show_error(form, exc)
    return render_template("machines/detail.html", machine=machine, form=form, can_edit=True), 422
