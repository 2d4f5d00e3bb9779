"""The scheduler's input built from the database: a `scheduler.problem.Problem` and what its ids stand for.

Minute 0 is `now` (to the minute). Machines are the commune's; one that is `offline`, `fault` or
`maintenance` is down from now until it is expected back (else to the horizon); one `running` or `paused`
with none of the plan's operations is taken as busy for an hour with its own job. Sites' opening hours are
calendars; active bookings and maintenance windows, and approved lease windows, are blocks. Open orders'
unfinished operations are the jobs (one job per order job, its steps in sequence); a running operation and
one a steward pinned stay where they are; the plan in force is the previous plan, for stability. The
objective is `prompt`: work is done as soon as it can be (machines do not wait while orders do), late
work is the first thing avoided, then unfairness between co-ops, then moving what was planned.
Material: an operation whose materials are reserved is ready now; otherwise it is ready when what it needs
is available at some site (shared out in due-date order), at the expected arrival of what is on order, or
waiting when nothing is on order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from factory.domain.local_time import Span, weekly_spans
from factory.domain.routing import why_not
from factory.models import (
    Job,
    Machine,
    Operation,
    PlanVersion,
    ProductionOrder,
    Site,
)
from factory.services import replenishment, stock
from factory.services.designs import step_needs
from factory.services.machine_time import lease_busy, reservations
from factory.services.orders import material_needs
from factory.services.sites import site_week
from scheduler import problem as sp

HORIZON_DAYS = 14
DOWN_STATES = ("offline", "fault", "maintenance")
BUSY_STATES = ("running", "paused")  # with none of the plan's operations running there: a job of its own
OUTSIDE_JOB_MINUTES = 60  # how long such a job is taken to hold the machine (its length is not known)
WEIGHTS = {"low": 1, "normal": 2, "high": 4, "urgent": 8}
OPEN_ORDERS = ("submitted", "planned", "in_progress")


@dataclass
class Snapshot:
    problem: sp.Problem
    now: datetime
    operations: dict[str, Operation]  # scheduler op id -> row
    jobs: dict[str, Job]
    machines: dict[str, Machine]
    base: PlanVersion | None  # the plan in force
    down: dict[str, str] = field(default_factory=dict)  # machine id -> why it is out of use, in words
    material_waits: dict[str, str] = field(default_factory=dict)  # op id -> what it waits for
    notes: list[str] = field(default_factory=list)

    def minute(self, moment: datetime) -> int:
        return math.floor((moment - self.now).total_seconds() / 60)

    def moment(self, minute: int) -> datetime:
        return self.now + timedelta(minutes=minute)


def op_key(operation: Operation) -> str:
    return f"o{operation.id}"


def job_key(job: Job) -> str:
    return f"j{job.id}"


def current_plan(session: Session) -> PlanVersion | None:
    """The plan in force: the newest published version."""
    return session.scalars(select(PlanVersion).where(PlanVersion.outcome == "published")
                           .order_by(PlanVersion.id.desc()).limit(1)).first()


def plan_versions(session: Session, *, limit: int = 20, before: int | None = None) -> list[PlanVersion]:
    """Versions newest first, `limit` of them, older than version `before` when given."""
    statement = select(PlanVersion).order_by(PlanVersion.id.desc()).limit(limit)
    if before is not None:
        statement = statement.where(PlanVersion.id < before)
    return list(session.scalars(statement))


def build_snapshot(session: Session, now: datetime, *, horizon_days: int = HORIZON_DAYS) -> Snapshot:
    now = now.astimezone(UTC).replace(second=0, microsecond=0)
    end = now + timedelta(days=horizon_days)
    machines = list(session.scalars(select(Machine).options(selectinload(Machine.site)).order_by(Machine.id)))
    snap = Snapshot(sp.Problem((), (), 1), now, {}, {}, {m.id: m for m in machines}, current_plan(session))
    sites = {m.site_id: m.site for m in machines}
    calendars = tuple(_calendar(snap, site, end) for site in sites.values())
    orders = list(session.scalars(
        select(ProductionOrder).where(ProductionOrder.status.in_(OPEN_ORDERS))
        .options(selectinload(ProductionOrder.jobs).selectinload(Job.operations))
        .order_by(ProductionOrder.needed_by, ProductionOrder.id)))
    zone = ZoneInfo(sites[min(sites)].time_zone) if sites else UTC
    running: list[sp.Placement] = []
    jobs = [job for order in orders for job in
            [_job(session, snap, order, job, machines, zone, running, _Stock(session)) for job in order.jobs] if job]
    blocks = _blocks(session, snap, machines, end, running)
    running = _drop_blocked_pins(snap, running, blocks)
    previous = tuple(_previous(snap))
    snap.problem = sp.Problem(
        machines=tuple(sp.Machine(m.id, frozenset({m.kind}), unattended=m.unattended_ok, calendar=m.site.slug)
                       for m in machines),
        jobs=tuple(jobs), horizon=horizon_days * 24 * 60, calendars=calendars, blocks=tuple(blocks),
        running=tuple(running), previous=previous, objective=sp.Objective.PROMPT)
    return snap


def _calendar(snap: Snapshot, site: Site, end: datetime) -> sp.Calendar:
    spans = weekly_spans(site_week(site), ZoneInfo(site.time_zone), snap.now, end)
    windows = [(max(0, snap.minute(s.start)), snap.minute(s.end)) for s in spans]
    return sp.Calendar(site.slug, tuple((a, b) for a, b in windows if a < b))


class _Stock:
    """Available stock shared out as operations claim it, and expected arrivals, read once each."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.free: dict[tuple[int, int], Decimal] = {}
        self.arrivals: dict[tuple[int, int], datetime | None] = {}

    def ready_at(self, needs: Iterable[tuple[int, Decimal]], site_ids: set[int]) -> tuple[datetime | None, bool]:
        """(when every material is there, whether all of it is there now); (None, False): nothing on order."""
        latest: datetime | None = None
        now_ok = True
        for material_id, quantity in needs:
            site = next((s for s in sorted(site_ids) if self._free(material_id, s) >= quantity), None)
            if site is not None:
                self.free[(material_id, site)] -= quantity
                continue
            now_ok = False
            arrivals = [a for a in (self._arrival(material_id, s) for s in site_ids) if a is not None]
            if not arrivals:
                return None, False
            latest = max(latest or arrivals[0], min(arrivals))
        return latest, now_ok

    def _free(self, material_id: int, site_id: int) -> Decimal:
        key = (material_id, site_id)
        if key not in self.free:
            self.free[key] = stock.balance(self.session, material_id, site_id).available
        return self.free[key]

    def _arrival(self, material_id: int, site_id: int) -> datetime | None:
        key = (material_id, site_id)
        if key not in self.arrivals:
            self.arrivals[key] = replenishment.expected_arrival(self.session, material_id, site_id)
        return self.arrivals[key]


def _job(session: Session, snap: Snapshot, order: ProductionOrder, job: Job, machines: list[Machine],
         zone: ZoneInfo, running: list[sp.Placement], stock_view: _Stock) -> sp.Job | None:
    ops: list[sp.Operation] = []
    release = 0
    for operation in sorted(job.operations, key=lambda o: o.position):
        if operation.status in ("done", "cancelled"):
            continue
        key = op_key(operation)
        able = [m for m in machines if why_not(step_needs(operation.step), m.kind, m.capabilities) is None
                or (operation.status == "running" and m.id == operation.machine_id)]
        if operation.status == "running" and operation.machine_id is None:  # started by hand, off the plan
            started = snap.minute(operation.started_at or snap.now)
            release = max(release, started + operation.duration_minutes, 1)
            continue
        ready = _material_ready(snap, operation, key, able, stock_view)
        ops.append(sp.Operation(key, tuple(sp.Option(m.id, operation.duration_minutes) for m in able),
                                setup_family=operation.step.setup_family or None, material_ready=ready))
        snap.operations[key] = operation
        fixed = _fixed(snap, operation, key, job_key(job), {m.id for m in able})
        if fixed is not None:
            running.append(fixed)
    if not ops:
        return None
    snap.jobs[job_key(job)] = job
    due = _end_of_day(order.needed_by, zone)
    return sp.Job(job_key(job), tuple(ops), coop=order.coop.slug, release=release,
                  due=max(release, snap.minute(due)), weight=WEIGHTS.get(order.priority, 2))


def _material_ready(snap: Snapshot, operation: Operation, key: str, able: list[Machine],
                    stock_view: _Stock) -> int | None:
    if operation.status in ("planned", "running"):  # its materials are reserved (or being used)
        return 0
    needs = material_needs(operation)
    if not needs:
        return 0
    when, now_ok = stock_view.ready_at(needs, {m.site_id for m in able})
    if now_ok:
        return 0
    if when is None:
        snap.material_waits[key] = operation.material_note or "its material is short and none is on order"
        return None
    snap.material_waits[key] = f"its material is expected {when:%Y-%m-%d %H:%M} UTC"
    return max(0, math.ceil((when - snap.now).total_seconds() / 60))


def _fixed(snap: Snapshot, operation: Operation, key: str, job: str, able: set[str]) -> sp.Placement | None:
    """A running operation where it runs; a pinned one where the steward put it."""
    if operation.status == "running":
        start = snap.minute(operation.started_at or snap.now)
        return sp.Placement(job, key, operation.machine_id, start, max(start + operation.duration_minutes, 1))
    if operation.pinned_machine_id and operation.pinned_start:
        start = snap.minute(operation.pinned_start)
        if start < 0:
            snap.notes.append(f"operation {operation.id} was pinned to start {operation.pinned_start:%Y-%m-%d %H:%M}"
                              " UTC, which has passed; planned freely")
            return None
        if operation.pinned_machine_id not in able:
            snap.notes.append(f"operation {operation.id} was pinned to {operation.pinned_machine_id}, which cannot "
                              "do it any more; planned freely")
            return None
        return sp.Placement(job, key, operation.pinned_machine_id, start, start + operation.duration_minutes)
    return None


def _blocks(session: Session, snap: Snapshot, machines: list[Machine], end: datetime,
            running: list[sp.Placement]) -> list[sp.Block]:
    horizon = int((end - snap.now).total_seconds() // 60)
    blocks: list[sp.Block] = []
    ids = [m.id for m in machines]
    for r in reservations(session, ids, snap.now, end):
        kind = sp.BlockKind.MAINTENANCE if r.kind == "maintenance" else sp.BlockKind.BOOKING
        blocks += _block(snap, r.machine_id, Span(r.starts_at, r.ends_at), kind, f"{r.kind} {r.id}", horizon)
    for machine in machines:
        for busy in lease_busy(session, machine, snap.now, end):
            blocks += _block(snap, machine.id, busy.span, sp.BlockKind.LEASE, busy.label, horizon)
        if machine.state in BUSY_STATES and not any(p.machine == machine.id for p in running
                                                     if snap.operations[p.op].status == "running"):
            snap.notes.append(f"{machine.name} is {machine.state} with a job outside the plan "
                              f"({machine.job or 'unnamed'}); taken as busy for {OUTSIDE_JOB_MINUTES} minutes")
            blocks.append(sp.Block(machine.id, 0, min(horizon, OUTSIDE_JOB_MINUTES), sp.BlockKind.DOWNTIME,
                                   "a job outside the plan"))
        if machine.state in DOWN_STATES:
            back = machine.expected_back_at
            until = min(horizon, snap.minute(back)) if back else horizon
            snap.down[machine.id] = f"{machine.name} is {machine.state}" + (
                f" until about {back:%Y-%m-%d %H:%M} UTC" if back and until < horizon else "")
            if until > 0:
                blocks.append(sp.Block(machine.id, 0, until, sp.BlockKind.DOWNTIME, machine.state))
    return _after_running(snap, blocks, running)


def _after_running(snap: Snapshot, blocks: list[sp.Block], fixed: list[sp.Placement]) -> list[sp.Block]:
    """What runs holds its machine until it ends: a block it meets starts after it (a booking made over it, a
    fault reported while it runs: the operation is the steward's to stop, not the planner's to move)."""
    ends = {p.machine: max(p.end, 0) for p in sorted(fixed, key=lambda p: p.end)
            if snap.operations[p.op].status == "running"}
    kept = []
    for block in blocks:
        start = max(block.start, ends.get(block.machine, 0))
        if start < block.end:
            kept.append(sp.Block(block.machine, start, block.end, block.kind, block.label))
    return kept


def _block(snap: Snapshot, machine_id: str, span: Span, kind: sp.BlockKind, label: str,
           horizon: int) -> list[sp.Block]:
    start, stop = max(0, snap.minute(span.start)), min(horizon, math.ceil((span.end - snap.now).total_seconds() / 60))
    return [sp.Block(machine_id, start, stop, kind, label)] if start < stop else []


def _drop_blocked_pins(snap: Snapshot, fixed: list[sp.Placement], blocks: list[sp.Block]) -> list[sp.Placement]:
    """A pin that now meets a block (a booking, a breakdown), or fixed work kept before it (a running
    operation, an earlier pin), is let go, and the version says so."""
    running = [p for p in fixed if snap.operations[p.op].status == "running"]
    kept = list(running)
    for p in sorted((p for p in fixed if p not in running), key=lambda p: (p.start, p.op)):
        operation = snap.operations[p.op]
        hit = next((f"{b.label or b.kind}" for b in blocks if b.machine == p.machine and b.start < p.end
                    and p.start < b.end), None) or next(
            (f"operation {snap.operations[k.op].id}" for k in kept if k.machine == p.machine and k.start < p.end
             and p.start < k.end), None)
        if hit is not None:
            snap.notes.append(f"operation {operation.id} was pinned on {p.machine} over {hit}; planned freely")
            continue
        kept.append(p)
    return kept


def _previous(snap: Snapshot) -> list[sp.Placement]:
    if snap.base is None:
        return []
    placed = []
    for a in snap.base.assignments:
        operation = snap.operations.get(f"o{a.operation_id}")
        if operation is None or a.ends_at <= snap.now:
            continue
        placed.append(sp.Placement(f"j{operation.job_id}", f"o{a.operation_id}", a.machine_id,
                                   snap.minute(a.starts_at), snap.minute(a.ends_at)))
    return placed


def _end_of_day(day, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(23, 59), tzinfo=zone).astimezone(UTC)

