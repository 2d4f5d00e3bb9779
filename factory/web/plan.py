"""The plan in force, for people: a site's Gantt chart with the version's summary and what could not be
planned, the versions list, a machine's queue (where stewards send starts and pin operations), and, for the
order page, each job's planned finish and why it is late or unplanned.

Times are stored in UTC and shown in the site's zone. A member sees their own co-op's operations and only
anonymous grey blocks of the others' (gantt.operation_for_viewer), here and on the queue alike. The web
never waits for the planner: "Plan again now" only queues a trigger.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField
from wtforms.validators import InputRequired

from factory.app import db
from factory.domain.errors import DomainError, InvalidParameter, NotFound
from factory.domain.local_time import entered_to_utc, local_date, wall_to_utc
from factory.models import Job, Machine, PlanAssignment, PlanVersion, ProductionOrder, Site, utcnow
from factory.services.dispatch import machine_commands, queue_start
from factory.services.machines import MachineFilter, get_machine, list_machines
from factory.services.plan_pins import get_operation, pin_operation, unpin_operation
from factory.services.plan_reasons import late_reason
from factory.services.plan_snapshot import current_plan, plan_versions
from factory.services.plan_triggers import ask_for_plan, waiting_triggers
from factory.services.planning import assignment_of
from factory.services.sites import get_site, list_sites
from factory.web.access import actor, registry_keepers
from factory.web.booking_forms import WALL_FORMATS, MachineChoice
from factory.web.calendar import machine_bars, member_coop_id, only_params
from factory.web.forms import attempt
from factory.web.gantt import DAY_CHOICES, DEFAULT_DAYS, GanttRow, Planned, gantt_chart, listing

bp = Blueprint("plan", __name__)

QUEUE_DAYS = 7
VERSIONS_SHOWN = 50
OPEN = ("planned", "running")  # what a machine's queue lists


class PinForm(MachineChoice, FlaskForm):
    """Built with prefix `pin-<operation id>`, so each operation's form on the queue has its own ids."""

    machine = SelectField("Machine", choices=[])
    start = DateTimeLocalField("Start", format=WALL_FORMATS, validators=[InputRequired()],
                               description="on the chosen machine's site clock")


# --- what the pages show -------------------------------------------------------------------------------------

def parse_days(raw: str | None, default: int = DEFAULT_DAYS) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) not in DAY_CHOICES:
        raise InvalidParameter(f"days is one of {', '.join(map(str, DAY_CHOICES))}", field="days")
    return int(raw)


def planned_of(assignment: PlanAssignment) -> Planned:
    """A placement of the plan in force as the chart draws it, unmasked: the chart masks it for members."""
    op = assignment.operation
    order = op.job.order
    fixed = "running" if op.status == "running" else \
        "pinned" if assignment.fixed == "pinned" or op.pinned_start is not None else ""
    return Planned(assignment.starts_at, assignment.ends_at, order.id, op.job.number, op.position, op.step.name,
                   order.coop_id, order.coop.name, order.design.name, op.status, fixed, assignment.late_minutes,
                   href=url_for("orders.detail", order_id=order.id), operation_id=op.id)


def plan_rows(version: PlanVersion | None, machines: list[Machine], start: datetime, end: datetime) -> list[GanttRow]:
    """Each machine's planned operations and held time (bookings, maintenance, leases, breakdowns) that meet
    `[start, end)`."""
    held = machine_bars(machines, start, end)
    placed: dict[str, list[Planned]] = defaultdict(list)
    for a in version.assignments if version is not None else ():
        if a.machine_id in held and a.starts_at < end and start < a.ends_at and a.operation.status != "cancelled":
            placed[a.machine_id].append(planned_of(a))
    return [GanttRow(m.name, tuple(placed[m.id]), tuple(held[m.id]), url_for("plan.queue", machine_id=m.id))
            for m in machines]


def visible_unplanned(version: PlanVersion | None) -> tuple[list, int]:
    """The version's unplanned operations the viewer may read about, and how many others' are left out."""
    items = list(version.unplanned) if version is not None else []
    viewer = member_coop_id()
    mine = [u for u in items if viewer is None or u.operation.job.order.coop_id == viewer]
    return mine, len(items) - len(mine)


@dataclass(frozen=True)
class Outlook:
    """A job's place in the plan, for its order's page: when it is planned to finish and, if that is late
    or it is not planned at all, why in plain words."""

    finish: datetime | None
    zone: str
    late_minutes: int = 0
    why: str = ""
    state: str = "planned"  # planned, late, unplanned, done, not_yet (no plan has been made)


def job_outlooks(order: ProductionOrder) -> dict[int, Outlook]:
    version = current_plan(db())
    unplanned = {u.operation_id: u for u in version.unplanned} if version is not None else {}
    machines = list_machines(db())
    return {job.id: job_outlook(job, version, unplanned, machines) for job in order.jobs}


def job_outlook(job: Job, version: PlanVersion | None, unplanned: dict, machines: list[Machine]) -> Outlook:
    left = [op for op in job.operations if op.status != "cancelled"]
    if not left:
        return Outlook(None, "UTC", state="done")
    last = left[-1]
    if last.status == "done":
        return Outlook(last.finished_at, _zone_of(last.machine), state="done")
    missing = next((unplanned[op.id] for op in left if op.id in unplanned), None)
    if missing is not None:
        return Outlook(None, "UTC", why=missing.explanation, state="unplanned")
    placed = assignment_of(version, last)
    if placed is None:
        return Outlook(last.planned_end, _zone_of(last.machine), state="not_yet" if version is None else "planned")
    zone = _zone_of(placed.machine)
    if placed.late_minutes <= 0:
        return Outlook(placed.ends_at, zone)
    why = late_reason(last, placed.late_minutes, machines, ZoneInfo(zone), placed.ends_at)
    return Outlook(placed.ends_at, zone, placed.late_minutes, why, state="late")


def _zone_of(machine: Machine | None) -> str:
    return machine.site.time_zone if machine is not None else "UTC"


def _site(slug: str | None) -> Site:
    if slug:
        return get_site(db(), slug)
    sites = list_sites(db())
    if not sites:
        raise NotFound("no sites yet: a steward adds one under Manage")
    return sites[0]


def _keeper() -> bool:
    return member_coop_id() is None


# --- the site's plan -----------------------------------------------------------------------------------------

@bp.get("/plan")
@login_required
def index():
    only_params("site", "days")
    site, now = _site(request.args.get("site")), utcnow()
    days = parse_days(request.args.get("days"))
    zone = ZoneInfo(site.time_zone)
    first = local_date(now, zone)
    version = current_plan(db())
    rows = plan_rows(version, list(site.machines), *_window(first, days, zone))
    viewer = member_coop_id()
    svg = gantt_chart(rows, first_day=first, days=days, time_zone=site.time_zone, now=now, member_coop_id=viewer,
                      title=f"Plan at {site.name}")
    lines = listing(rows, first_day=first, days=days, time_zone=site.time_zone, member_coop_id=viewer)
    unplanned, hidden = visible_unplanned(version)
    return render_template("plan/index.html", site=site, sites=list_sites(db()), days=days, day_choices=DAY_CHOICES,
                           svg=svg, lines=lines, version=version, unplanned=unplanned, hidden_unplanned=hidden,
                           keeper=_keeper(), waiting=len(waiting_triggers(db())) if _keeper() else 0)


def _window(first: date, days: int, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return wall_to_utc(first, 0, zone), wall_to_utc(first, days * 1440, zone)


@bp.post("/plan/replan")  # CSRFProtect has checked the form's token before this runs
@registry_keepers
def replan():
    ask_for_plan(db(), by=actor(), why="the plan page")  # the trigger alone: this request does not wait
    flash("Asked the planner for a new plan: it is published within seconds. Reload this page to see it.", "success")
    return redirect(url_for("plan.index", site=request.form.get("site") or None))


@bp.get("/plan/versions")
@login_required
def versions():
    only_params()
    return render_template("plan/versions.html", versions=plan_versions(db(), limit=VERSIONS_SHOWN),
                           current=current_plan(db()), zone=_site(None).time_zone, keeper=_keeper())


# --- a machine's queue ---------------------------------------------------------------------------------------

@bp.get("/machines/<machine_id>/queue")
@login_required
def queue(machine_id: str):
    only_params("days")
    return _queue_page(get_machine(db(), machine_id))


@bp.post("/machines/<machine_id>/queue/<int:operation_id>/start")  # CSRF checked by CSRFProtect
@registry_keepers
def send_start(machine_id: str, operation_id: int):
    machine = get_machine(db(), machine_id)
    try:
        command = queue_start(db(), operation_id, by=actor())
    except DomainError as exc:
        db().rollback()
        return _queue_page(machine, start_errors={operation_id: exc.message}), exc.status
    flash(f"start_job {command.job} queued for {machine.name}; the planner worker sends it within seconds.",
          "success")
    return redirect(url_for("plan.queue", machine_id=machine.id))


@bp.post("/machines/<machine_id>/queue/<int:operation_id>/pin")
@registry_keepers
def pin(machine_id: str, operation_id: int):
    machine = get_machine(db(), machine_id)
    form = pin_form(operation_id, get_operation(db(), operation_id).step.machine_kind)
    done = attempt(form, lambda: pin_operation(db(), operation_id, form.machine.data, _pin_start(form), by=actor()))
    if done is None:
        return _queue_page(machine, pin_forms={operation_id: form}), 422
    flash(f"Pinned to {done.pinned_machine.name}; the next plan keeps it there (planning again now).", "success")
    return redirect(url_for("plan.queue", machine_id=machine.id))


@bp.post("/machines/<machine_id>/queue/<int:operation_id>/unpin")
@registry_keepers
def unpin(machine_id: str, operation_id: int):
    machine = get_machine(db(), machine_id)
    try:
        unpin_operation(db(), operation_id, by=actor())
    except DomainError as exc:
        db().rollback()
        return _queue_page(machine, start_errors={operation_id: exc.message}), exc.status
    flash("Unpinned: the planner places it freely again (planning again now).", "success")
    return redirect(url_for("plan.queue", machine_id=machine.id))


def pin_form(operation_id: int, kind: str | None, *, formdata=True) -> PinForm:
    form = PinForm(prefix=f"pin-{operation_id}", **({} if formdata else {"formdata": None}))
    form.offer_machines(list_machines(db(), MachineFilter(kind=kind)))
    return form


def _pin_start(form: PinForm) -> datetime:
    """The typed start read strictly on the chosen machine's site clock (a skipped or doubled hour is refused)."""
    return entered_to_utc(form.start.data, form.zones[form.machine.data], field="start")


def _queue_page(machine: Machine, *, start_errors: dict[int, str] | None = None,
                pin_forms: dict[int, PinForm] | None = None) -> str:
    zone, now = ZoneInfo(machine.site.time_zone), utcnow()
    days = parse_days(request.args.get("days"), QUEUE_DAYS)
    first = local_date(now, zone)
    rows = plan_rows(current_plan(db()), [machine], *_window(first, days, zone))
    row = GanttRow(rows[0].name, tuple(op for op in rows[0].operations if op.status in OPEN and op.end > now))
    viewer, keeper = member_coop_id(), _keeper()
    lines = listing([row], first_day=first, days=days, time_zone=machine.site.time_zone, member_coop_id=viewer)
    forms = dict(pin_forms or {})
    if keeper:
        for line in lines:
            op_id = line.operation.operation_id
            if op_id is not None and op_id not in forms:
                forms[op_id] = _filled_pin_form(machine, line.operation)
    return render_template("plan/queue.html", machine=machine, days=days, day_choices=DAY_CHOICES, lines=lines,
                           keeper=keeper, pin_forms=forms, start_errors=start_errors or {},
                           commands=machine_commands(db(), machine) if keeper else [])


def _filled_pin_form(machine: Machine, op: Planned) -> PinForm:
    form = pin_form(op.operation_id, machine.kind, formdata=False)
    form.machine.data = machine.id
    form.start.data = op.start.astimezone(ZoneInfo(machine.site.time_zone)).replace(tzinfo=None)
    return form
