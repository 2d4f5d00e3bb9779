"""Factory-shaped planning problems for the benchmarks, generated from a seed, and the re-plan after a failure.

`factory_problem(machines, operations, seed)` builds a two-week snapshot of a commune's shops: 3D printers
(setup families are filaments; they may print unattended overnight), CNC mills (setup families are stock
materials) and laser cutters that need an operator inside their site's opening hours, and kilns that fire
several pieces of one batch family together. Two sites keep different hours and sit six hours apart.
Bookings and maintenance take about 5-10% of each machine's capacity. Jobs have 1-4 operations with 1-3
eligible machines each; some are released later, some wait for material, a few can run nowhere or wait for
material that has no arrival date, a few are already running; due dates are tight enough that some jobs
end late. The same seed always gives the same problem.

`fail_machine(problem, plan, machine_id, at)` is the snapshot a re-plan sees when that machine breaks at
`at`: time is shifted so `at` becomes now (0), as the factory's own snapshots are "minutes from now".
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace

from scheduler.plan import Plan
from scheduler.problem import Block, BlockKind, Calendar, Job, Machine, Objective, Operation, Option, Placement, Problem

DAY = 1440
HORIZON = 14 * DAY
SIZES = ((20, 200), (50, 1000), (200, 5000))  # (machines, operations)
COOPS = ("bicycle-works", "clayhouse", "fablab-north", "furniture-coop", "signmakers", "toolshed")


@dataclass(frozen=True)
class Kind:
    prefix: str
    share: float  # of the machines
    weight: float  # how often an operation needs this kind
    durations: tuple[int, int]  # minutes, before the machine's speed factor
    families: tuple[str, ...]  # setup families (or batch families for kilns)
    setup_time: int = 0
    unattended: bool = False
    batch_capacity: int = 1


PRINTER = Kind("printer", 0.40, 0.40, (60, 720), ("pla", "petg", "abs", "tpu"), setup_time=15, unattended=True)
CNC = Kind("cnc", 0.20, 0.21, (30, 300), ("aluminium", "steel", "plywood", "hdpe"), setup_time=30)
LASER = Kind("laser", 0.25, 0.31, (10, 120), ("plywood", "acrylic", "leather"), setup_time=5)
KILN = Kind("kiln", 0.15, 0.08, (480, 600), ("bisque", "glaze"), unattended=True, batch_capacity=6)
KINDS = (PRINTER, CNC, LASER, KILN)
FIRING = {"bisque": 480, "glaze": 600}  # one firing length per family, so pieces can share a firing


def factory_problem(machines: int, operations: int, seed: int = 0) -> Problem:
    """A factory snapshot with exactly `machines` machines and `operations` operations."""
    rng = random.Random(f"factory-{machines}-{operations}-{seed}")
    calendars = (_calendar("leipzig", 0, range(5), 8 * 60, 18 * 60),
                 _calendar("montreal", 6 * 60, range(6), 7 * 60, 16 * 60))
    fleet = _machines(machines, calendars)
    jobs = _jobs(rng, fleet, operations)
    running = _running(rng, fleet, jobs)
    blocks = _blocks(rng, fleet, {c.id: c for c in calendars}, running)
    return Problem(tuple(m for m, _ in fleet), tuple(jobs), HORIZON, calendars, blocks, running,
                   objective=Objective.TARDINESS)


def _calendar(site: str, behind: int, days: range, opens: int, closes: int) -> Calendar:
    """Open windows of a site whose local clock is `behind` minutes behind; now is Monday 06:00 in Leipzig."""
    now = 6 * 60
    windows = []
    for week in range(3):
        for day in days:
            start = week * 7 * DAY + day * DAY + opens + behind - now
            end = start + closes - opens
            if end > 0 and start < HORIZON:
                windows.append((max(start, 0), min(end, HORIZON)))
    return Calendar(site, tuple(windows))


def _machines(count: int, calendars: tuple[Calendar, ...]) -> list[tuple[Machine, Kind]]:
    counts = [max(1, round(kind.share * count)) for kind in KINDS]
    counts[0] += count - sum(counts)  # printers absorb the rounding
    fleet = []
    for kind, n in zip(KINDS, counts, strict=True):
        for i in range(n):
            site = calendars[i % 2].id
            fleet.append((Machine(f"{kind.prefix}-{site[:3]}-{i + 1:03d}", frozenset({kind.prefix}),
                                  unattended=kind.unattended, calendar=site, batch_capacity=kind.batch_capacity,
                                  setup_time=kind.setup_time), kind))
    return fleet


def _jobs(rng: random.Random, fleet: list[tuple[Machine, Kind]], total: int) -> list[Job]:
    by_kind = {kind: [m for m, k in fleet if k is kind] for kind in KINDS}
    speed = {m.id: rng.uniform(0.8, 1.25) for m, _ in fleet}
    specials = max(1, total // 200)  # operations nobody can do, and ones waiting for material with no date
    nowhere = set(rng.sample(range(total), specials))
    waiting = set(rng.sample(sorted(set(range(total)) - nowhere), specials))
    jobs, made = [], 0
    while made < total:
        size = min(total - made, rng.choices((1, 2, 3, 4), (3, 3, 2, 2))[0])
        ceramics = size == 2 and rng.random() < 0.25
        ops = []
        for k in range(size):
            kind = KILN if ceramics else rng.choices(KINDS, [kind.weight for kind in KINDS])[0]
            family = ("bisque", "glaze")[k] if ceramics else rng.choice(kind.families)
            op = _operation(rng, f"o{k + 1}", kind, family, by_kind[kind], speed, after_firing=ceramics and k == 1)
            if made + k in nowhere:
                op = Operation(f"o{k + 1}", (), material="brass-rod")  # nothing in the fleet welds brass
            elif made + k in waiting:
                op = replace(op, material=f"{family}-stock", material_ready=None)
            ops.append(op)
        made += size
        jobs.append(_job(rng, f"J{len(jobs) + 1:05d}", tuple(ops)))
    return jobs


def _operation(rng: random.Random, op_id: str, kind: Kind, family: str, machines: list[Machine],
               speed: dict[str, float], after_firing: bool) -> Operation:
    chosen = rng.sample(machines, min(len(machines), rng.choice((1, 2, 2, 3))))
    needs_operator = not kind.unattended or (kind is PRINTER and rng.random() < 0.05)
    base = FIRING[family] if kind is KILN else rng.randint(*kind.durations)
    if needs_operator:
        base = min(base, 420)  # fits one opening window on every machine speed
    options = tuple(Option(m.id, base if kind is KILN else max(5, round(base * speed[m.id] / 5) * 5))
                    for m in chosen)
    ready = rng.randint(60, 4 * DAY) if rng.random() < 0.15 else 0
    common = {"needs_operator": needs_operator and kind is not KILN, "material": f"{family}-stock",
              "material_ready": ready, "min_lag": rng.randint(60, 240) if after_firing else 0}
    if kind is KILN:
        return Operation(op_id, options, batch_family=family, batch_load=rng.randint(1, 3), **common)
    return Operation(op_id, options, setup_family=family, **common)


def _job(rng: random.Random, job_id: str, ops: tuple[Operation, ...]) -> Job:
    release = 0 if rng.random() < 0.7 else rng.randint(1, 5 * DAY)
    work = sum(min((o.duration for o in op.options), default=0) for op in ops)
    due = None
    if rng.random() < 0.9:
        due = min(HORIZON, release + 2 * work + rng.randint(4 * 60, 4 * DAY) + (len(ops) - 1) * rng.randint(0, DAY))
    return Job(job_id, ops, coop=rng.choice(COOPS), release=release, due=due, weight=rng.randint(1, 3))


def _running(rng: random.Random, fleet: list[tuple[Machine, Kind]], jobs: list[Job]) -> tuple[Placement, ...]:
    """A few first operations already printing when the snapshot is taken (started before now)."""
    free = {m.id for m, kind in fleet if kind is PRINTER}
    wanted, running = max(1, len(free) // 8), []
    for job in rng.sample(jobs, len(jobs)):
        if len(running) == wanted:
            break
        op = job.operations[0]
        option = next((o for o in op.options if o.machine in free and o.duration > 60), None)
        if option is None or op.needs_operator or job.release > 0 or op.material_ready != 0:
            continue
        start = -rng.randint(30, option.duration - 30)
        running.append(Placement(job.id, op.id, option.machine, start, start + option.duration))
        free.discard(option.machine)
    return tuple(running)


def _blocks(rng: random.Random, fleet: list[tuple[Machine, Kind]], calendars: dict[str, Calendar],
            running: tuple[Placement, ...]) -> tuple[Block, ...]:
    """Bookings (inside opening hours, a co-op's own hands-on work) and maintenance, ~5-10% of capacity."""
    blocks: list[Block] = []
    for machine, kind in fleet:
        windows = calendars[machine.calendar].open if not kind.unattended else ((0, HORIZON),)
        capacity = sum(end - start for start, end in windows)
        taken = [(r.start, r.end) for r in running if r.machine == machine.id]
        target, used = rng.uniform(0.05, 0.10) * capacity, 0
        for _ in range(200):
            if used >= target:
                break
            w_start, w_end = rng.choice(windows) if len(windows) > 1 else windows[0]
            length = min(w_end - w_start, rng.choice((60, 120, 180, 240, 480)))
            start = rng.randrange(w_start, w_end - length + 1, 1) // 15 * 15
            start = max(start, w_start)
            end = min(start + length, w_end)
            if any(start < t_end and t_start < end for t_start, t_end in taken):
                continue
            kind_ = BlockKind.MAINTENANCE if rng.random() < 0.3 else BlockKind.BOOKING
            label = "maintenance" if kind_ is BlockKind.MAINTENANCE else f"booking {rng.choice(COOPS)}"
            blocks.append(Block(machine.id, start, end, kind_, label))
            taken.append((start, end))
            used += end - start
    return tuple(blocks)


def busiest_machine(plan: Plan, at: int) -> str:
    """The machine with the most planned operations still to run at `at` (ties: the smallest id)."""
    counts = Counter(a.machine for a in plan.assignments if a.end > at)
    return min(counts, key=lambda m: (-counts[m], m))


def fail_machine(problem: Problem, plan: Plan, machine_id: str, at: int) -> Problem:
    """The re-planning snapshot after `machine_id` breaks at `at`, with `at` as the new now (0).

    - operations the plan finished by `at` leave their jobs (jobs with nothing left leave the problem);
      a job's release becomes the end of its last finished operation plus the next one's min lag;
    - operations running at `at` on other machines are pinned (`running`, with negative starts);
      the ones running on the failed machine are interrupted: they are planned again from scratch;
    - the failed machine is blocked (DOWNTIME) from now to the horizon; its other blocks go;
    - `previous` is the plan in force (shifted), so stability counts moves against it;
    - calendars, blocks, releases and material arrivals shift by `at` and are clipped at now; due dates
      shift too and are clipped at the job's new release: a job already late by `at` keeps a constant
      tardiness offset, which changes no choice the planner makes. Max lags to a finished operation are
      not carried over (the generator makes none).
    """
    placed = {a.key: a for a in plan.assignments}
    jobs, running = [], []
    for job in problem.jobs:
        ops, release, finished = [], max(0, job.release - at), None
        for op in job.operations:
            p = placed.get((job.id, op.id))
            if p is not None and p.end <= at and not ops:
                finished = p.end
                continue
            if not ops and finished is not None:
                release = max(release, finished + op.min_lag - at)
            ops.append(_shift_operation(op, at))
            if p is not None and p.start < at < p.end and p.machine != machine_id:
                running.append(replace(p, start=p.start - at, end=p.end - at))
        if ops:
            due = None if job.due is None else max(job.due - at, release)
            jobs.append(replace(job, operations=tuple(ops), release=release, due=due))
    horizon = problem.horizon - at
    kept = {(j.id, op.id) for j in jobs for op in j.operations}
    blocks = [replace(b, start=b.start - at, end=b.end - at) for b in problem.blocks
              if b.end > at and b.machine != machine_id]
    blocks.append(Block(machine_id, 0, horizon, BlockKind.DOWNTIME, "breakdown"))
    calendars = tuple(replace(c, open=tuple((max(0, s - at), e - at) for s, e in c.open if e > at))
                      for c in problem.calendars)
    previous = tuple(replace(a, start=a.start - at, end=a.end - at) for a in plan.assignments if a.key in kept)
    return Problem(problem.machines, tuple(jobs), horizon, calendars, tuple(blocks), tuple(running), previous,
                   problem.objective)


def _shift_operation(op: Operation, at: int) -> Operation:
    return op if not op.material_ready else replace(op, material_ready=max(0, op.material_ready - at))
