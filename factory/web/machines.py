"""Machines overview (by site, with state, job and readings), its live feed, and a machine's page."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import groupby
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from drivers.messages import format_ts
from factory.app import db
from factory.domain.errors import DomainError, InvalidParameter
from factory.domain.local_time import entered_to_utc
from factory.domain.vocabulary import MachineState, Role
from factory.models import Machine, utcnow
from factory.services.bookings import BookingQuery, list_bookings
from factory.services.machines import change_state, get_machine, list_machines
from factory.services.maintenance import list_maintenance
from factory.services.telemetry import events, samples
from factory.web.access import actor, registry_keepers
from factory.web.charts import GAP_FACTOR, charts_for, line_chart
from factory.web.errors import error_body
from factory.web.filters import age, local_time
from factory.web.forms import StateForm, show_error

bp = Blueprint("machines", __name__)

HOURS_CHOICES = (1, 6, 24, 72)
DEFAULT_HOURS = 6
CHART_SAMPLE_LIMIT = 4_000  # thinned evenly over the window: a chart has a few hundred pixel columns
METRIC_LABELS = {"hotend_c": "Hot end", "bed_c": "Bed", "chamber_c": "Chamber", "spindle_rpm": "Spindle",
                 "feed_mm_min": "Feed", "power_w": "Power", "x_mm": "X", "y_mm": "Y", "z_mm": "Z"}
UNITS = (("_mm_min", "mm/min"), ("_rpm", "rpm"), ("_c", "°C"), ("_w", "W"), ("_mm", "mm"), ("_pct", "%"))
CARD_METRICS = {
    "fdm_printer": ("hotend_c", "bed_c"), "resin_printer": ("chamber_c",), "kiln": ("chamber_c",),
    "furnace": ("chamber_c",), "cnc_mill": ("spindle_rpm", "feed_mm_min", "power_w"),
    "cnc_router": ("spindle_rpm", "feed_mm_min", "power_w"), "laser_cutter": ("power_w",),
}
CARD_FALLBACK_COUNT = 3
COMING_UP = 5  # bookings and maintenance windows listed on a machine's page


# --- how readings and states are shown ------------------------------------------------------------------

def metric_label(name: str) -> str:
    return METRIC_LABELS.get(name, name.rsplit("_", 1)[0].replace("_", " ").capitalize())


def metric_unit(name: str) -> str:
    """The unit of a DESIGN.md 4.1 `name_unit` metric, from its suffix."""
    return next((unit for suffix, unit in UNITS if name.endswith(suffix)), "")


def reading_text(name: str, value: float) -> str:
    """`212 °C`, `18,000 rpm`, `61.5 °C`: whole numbers from 100 up, one decimal below."""
    number = f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"
    return f"{number} {metric_unit(name)}".strip()


def readings(machine: Machine, *, every: bool = False) -> list[dict]:
    """The latest readings worth a glance: the kind's main metrics (or all of them with `every`)."""
    latest = machine.metrics or {}
    main = CARD_METRICS.get(machine.kind, ())
    names = [n for n in main if n in latest] or sorted(latest)[:CARD_FALLBACK_COUNT]
    if every:
        names += sorted(n for n in latest if n not in names)
    return [{"name": n, "label": metric_label(n), "text": reading_text(n, latest[n])} for n in names]


def last_seen_text(machine: Machine, now: datetime) -> str:
    if machine.last_seen is None:
        return "never reported"
    ago = age(machine.last_seen, now)
    return "last seen just now" if ago == "just now" else f"last seen {ago} ago"


def progress_percent(machine: Machine) -> int | None:
    if machine.progress is None:
        return None
    return max(0, min(100, round(machine.progress * 100)))


def live_card(machine: Machine, now: datetime) -> dict:
    """What a machine's card shows, as the page renders it and as live.json sends it to live.js."""
    zone = machine.site.time_zone
    return {
        "id": machine.id, "state": machine.state, "state_label": machine.state,
        "badge_class": f"badge state-{machine.state}", "available": machine.available,
        "since": local_time(machine.state_since, zone), "since_age": age(machine.state_since, now),
        "job": machine.job, "progress": machine.progress, "progress_pct": progress_percent(machine),
        "metrics": dict(machine.metrics or {}), "readings": readings(machine),
        "last_seen": last_seen_text(machine, now),
        "last_seen_at": format_ts(machine.last_seen) if machine.last_seen else None,
    }


# --- pages -------------------------------------------------------------------------------------------------

@bp.route("/")
@login_required
def index():
    machines = list_machines(db())
    now = utcnow()
    by_site = [(site, list(group)) for site, group in groupby(machines, key=lambda m: m.site)]
    counts = {state.value: sum(1 for m in machines if m.state == state.value) for state in MachineState}
    cards = {m.id: live_card(m, now) for m in machines}
    return render_template("machines/index.html", by_site=by_site, counts=counts, total=len(machines),
                           cards=cards)


@bp.get("/machines/live.json")
def live():
    """Every machine's card, for the overview's own polling. A session cookie, not a token: 401 without."""
    if not current_user.is_authenticated:
        return jsonify(error_body("unauthorized", "Log in to follow the machines.")), 401
    now = utcnow()
    response = jsonify({"machines": [live_card(m, now) for m in list_machines(db())]})
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/machines/<machine_id>")
@login_required
def detail(machine_id: str):
    hours = _hours(request.args.get("hours"))
    machine = get_machine(db(), machine_id)
    form = StateForm(state=machine.state)
    return _detail_page(machine, form, Role(current_user.role).manages_registry, hours)


@bp.route("/machines/<machine_id>/state", methods=["POST"])
@registry_keepers
def set_state(machine_id: str):
    machine = get_machine(db(), machine_id)
    form = StateForm()
    if form.validate_on_submit():
        if form.state.data == machine.state and form.expected_back_at.data is None:
            flash(f"{machine.name} is already {machine.state}; nothing recorded.", "info")
            return redirect(url_for("machines.detail", machine_id=machine_id))
        try:
            zone = ZoneInfo(machine.site.time_zone)
            back = (entered_to_utc(form.expected_back_at.data, zone, field="expected_back_at")
                    if form.expected_back_at.data else None)
            change_state(db(), machine_id, form.state.data, by=actor(), reason=form.reason.data,
                         expected_back_at=back)
            expected = f", expected back {local_time(back, zone.key)}" if back else ""
            flash(f"{machine.name} is now {form.state.data}{expected}.", "success")
            return redirect(url_for("machines.detail", machine_id=machine_id))
        except DomainError as exc:
            db().rollback()
            show_error(form, exc)
    return _detail_page(machine, form, True, DEFAULT_HOURS), 422


def _hours(raw: str | None) -> int:
    """The chart window of `?hours=`: one of HOURS_CHOICES, else a 400 naming the choices."""
    if raw is None:
        return DEFAULT_HOURS
    if raw not in {str(choice) for choice in HOURS_CHOICES}:
        raise InvalidParameter("hours must be one of 1, 6, 24 or 72", field="hours")
    return int(raw)


def _detail_page(machine: Machine, form: StateForm, can_edit: bool, hours: int) -> str:
    now = utcnow()
    upcoming = list_bookings(db(), current_user, BookingQuery(machine=machine.id, since=now))[:COMING_UP]
    return render_template("machines/detail.html", machine=machine, form=form, can_edit=can_edit,
                           card=live_card(machine, now), all_readings=readings(machine, every=True),
                           charts=machine_charts(machine, hours, now), hours=hours,
                           hours_choices=HOURS_CHOICES, events=events(db(), machine.id), bookings=upcoming,
                           maintenance=list_maintenance(db(), machine=machine.id, since=now)[:COMING_UP])


def machine_charts(machine: Machine, hours: int, now: datetime) -> list[tuple[str, Markup]]:
    """(caption, svg) for each chart of the machine's kind over the last `hours`."""
    since = now - timedelta(hours=hours)
    specs = charts_for(machine.kind)
    wanted = {name for spec in specs for name in spec.metrics}
    found = samples(db(), machine.id, since=since, until=now, metrics=wanted, limit=CHART_SAMPLE_LIMIT,
                    thin=True).samples
    widest = max((s.resolution_s for s in found), default=0)
    max_gap = timedelta(seconds=GAP_FACTOR * widest) if widest else None
    charts = []
    for spec in specs:
        series = {metric_label(name): [(s.ts, s.metrics[name]) for s in found if name in s.metrics]
                  for name in spec.metrics}
        if spec.optional and not any(series.values()):
            continue
        svg = line_chart(series, since=since, until=now, time_zone=machine.site.time_zone, unit=spec.unit,
                         title=f"{spec.title} of {machine.name}", max_gap=max_gap)
        charts.append((spec.title, svg))
    return charts
