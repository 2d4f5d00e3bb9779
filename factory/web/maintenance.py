"""Maintenance pages for stewards: plan a window (choosing what happens to the bookings it hits), the list of
windows to come, and cancelling one with a reason."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for

from drivers.messages import parse_ts
from factory.app import db
from factory.domain.booking_rules import describe, span_text
from factory.domain.errors import BookingConflict, DomainError
from factory.domain.local_time import Span
from factory.models import MaintenanceWindow, utcnow
from factory.services.machines import list_machines
from factory.services.maintenance import (
    MaintenanceResult,
    cancel_maintenance,
    get_maintenance,
    list_maintenance,
    schedule_maintenance,
)
from factory.web.access import actor, registry_keepers
from factory.web.booking_forms import MaintenanceForm, ReasonForm
from factory.web.forms import attempt, show_error

bp = Blueprint("maintenance", __name__, url_prefix="/maintenance")


@bp.get("")
@registry_keepers
def index():
    machine = request.args.get("machine") or None
    return render_template("maintenance/index.html", machine=machine, machines=list_machines(db()),
                           windows=list_maintenance(db(), machine=machine, since=utcnow()))


@bp.route("/new", methods=["GET", "POST"])
@registry_keepers
def new():
    form = MaintenanceForm()
    form.offer_machines(list_machines(db()))
    hit: list[dict] = []
    if not form.is_submitted():
        form.machine.data = request.args.get("machine") or form.machine.data
        return render_template("maintenance/new.html", form=form, hit=hit)
    if form.validate():
        try:
            result = schedule_maintenance(db(), form.draft(), by=actor(), resolution=form.resolution.data or None)
            flash(result_text(result, form.zones[form.machine.data]), "success")
            return redirect(url_for("maintenance.detail", window_id=result.window.id))
        except DomainError as exc:
            db().rollback()
            show_error(form, exc)
            if isinstance(exc, BookingConflict) and exc.code == "displaces_bookings":
                hit = [{"id": c["id"], "label": c["label"], "start": parse_ts(c["starts_at"]),
                        "end": parse_ts(c["ends_at"])} for c in exc.conflicts]
    return render_template("maintenance/new.html", form=form, hit=hit), 422


def result_text(result: MaintenanceResult, zone: ZoneInfo) -> str:
    window = result.window
    text = f"Maintenance of {window.machine.name} planned, {span_text(Span(window.starts_at, window.ends_at), zone)}."
    if result.deferred_from is not None:
        text += f" It starts at {describe(window.starts_at, zone)}, when the machine is free; the bookings stay."
    if result.moved:
        text += f" {len(result.moved)} booking(s) moved to after it."
    if result.cancelled:
        text += f" {len(result.cancelled)} booking(s) cancelled."
    if result.moved or result.cancelled:
        text += " Their co-ops are told."
    return text


@bp.get("/<int:window_id>")
@registry_keepers
def detail(window_id: int):
    return _detail_page(get_maintenance(db(), window_id), ReasonForm(formdata=None))


def _detail_page(window: MaintenanceWindow, form: ReasonForm):
    form.reason.description = "required; kept in the window's history"
    return render_template("maintenance/detail.html", window=window, form=form, tz=window.machine.site.time_zone,
                           open=window.active and window.ends_at > utcnow())


@bp.post("/<int:window_id>/cancel")
@registry_keepers
def cancel(window_id: int):
    window = get_maintenance(db(), window_id)
    form = ReasonForm()
    if attempt(form, lambda: cancel_maintenance(db(), window.id, reason=form.reason.data or "", by=actor())):
        flash(f"Maintenance of {window.machine.name} cancelled.", "success")
        return redirect(url_for("maintenance.index"))
    return _detail_page(window, form), 422
