"""An independent checker of plans: no OR-Tools, no shared code with the solvers but the input types.

`violations(problem, plan)` lists every broken rule; an empty list means the plan may be published.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from itertools import pairwise

from scheduler.plan import Plan
from scheduler.problem import Placement, Problem


class Rule(StrEnum):
    UNKNOWN_OPERATION = "unknown_operation"
    PLACED_TWICE = "placed_twice"
    NEITHER_PLACED_NOR_UNPLANNED = "neither_placed_nor_unplanned"
    RUNNING_MOVED = "running_moved"
    NOT_ELIGIBLE = "not_eligible"
    WRONG_DURATION = "wrong_duration"
    OUTSIDE_HORIZON = "outside_horizon"
    BEFORE_RELEASE = "before_release"
    MATERIAL_NOT_READY = "material_not_ready"
    PRECEDENCE = "precedence"
    MAX_LAG = "max_lag"
    SUCCESSOR_OF_UNPLANNED = "successor_of_unplanned"
    BLOCK_OVERLAP = "block_overlap"
    MACHINE_OVERLAP = "machine_overlap"
    BATCH = "batch"
    SETUP = "setup"
    CALENDAR = "calendar"


@dataclass(frozen=True)
class Violation:
    rule: Rule
    message: str


def violations(problem: Problem, plan: Plan) -> list[Violation]:
    found: list[Violation] = []
    placed = _index_placements(problem, plan, found)
    _check_running(problem, placed, found)
    for job in problem.jobs:
        _check_job(problem, job, placed, {(u.job, u.op) for u in plan.unplanned}, found)
    by_machine: dict[str, list[Placement]] = defaultdict(list)
    for p in placed.values():
        by_machine[p.machine].append(p)
    for machine_id, placements in by_machine.items():
        _check_machine(problem, machine_id, sorted(placements, key=lambda p: (p.start, p.end)), found)
    return found


def _index_placements(problem: Problem, plan: Plan, found: list[Violation]) -> dict[tuple[str, str], Placement]:
    placed: dict[tuple[str, str], Placement] = {}
    for p in plan.assignments:
        if not problem.has_operation(p.job, p.op):
            found.append(Violation(Rule.UNKNOWN_OPERATION, f"{p.job}/{p.op} is not in the problem"))
        elif p.key in placed:
            found.append(Violation(Rule.PLACED_TWICE, f"{p.job}/{p.op} is placed twice"))
        else:
            placed[p.key] = p
    return placed


def _check_running(problem: Problem, placed: dict, found: list[Violation]) -> None:
    for r in problem.running:
        p = placed.get(r.key)
        if p is None or (p.machine, p.start, p.end) != (r.machine, r.start, r.end):
            found.append(Violation(Rule.RUNNING_MOVED, f"{r.job}/{r.op} runs on {r.machine} [{r.start}, {r.end})"
                                                       f" but the plan has {p and (p.machine, p.start, p.end)}"))


def _check_job(problem: Problem, job, placed: dict, unplanned: set, found: list[Violation]) -> None:
    running = {r.key for r in problem.running}
    previous: Placement | None = None
    gap_seen = False
    for op in job.operations:
        key, name = (job.id, op.id), f"{job.id}/{op.id}"
        p = placed.get(key)
        if p is None:
            if key not in unplanned:
                found.append(Violation(Rule.NEITHER_PLACED_NOR_UNPLANNED, f"{name} is missing from the plan"))
            gap_seen, previous = True, None
            continue
        if key in unplanned:
            found.append(Violation(Rule.PLACED_TWICE, f"{name} is both placed and unplanned"))
        if gap_seen:
            found.append(Violation(Rule.SUCCESSOR_OF_UNPLANNED, f"{name} is placed after an unplanned operation"))
        _check_placement(problem, job, op, p, key in running, found)
        if previous is not None and key not in running:
            if p.start < previous.end + op.min_lag:
                found.append(Violation(Rule.PRECEDENCE, f"{name} starts at {p.start}, before "
                                                        f"{previous.op} ends at {previous.end} + lag {op.min_lag}"))
            if op.max_lag is not None and p.start > previous.end + op.max_lag:
                found.append(Violation(Rule.MAX_LAG, f"{name} starts {p.start - previous.end} after its "
                                                     f"predecessor, more than the max lag {op.max_lag}"))
        previous = p


def _check_placement(problem: Problem, job, op, p: Placement, running: bool, found: list[Violation]) -> None:
    name = f"{job.id}/{op.id}"
    duration = op.duration_on(p.machine)
    if duration is None:
        found.append(Violation(Rule.NOT_ELIGIBLE, f"{name} cannot run on {p.machine}"))
        return
    if p.end - p.start != duration:
        found.append(Violation(Rule.WRONG_DURATION, f"{name} lasts {p.end - p.start}, not {duration}, on {p.machine}"))
    if p.end > problem.horizon or (p.start < 0 and not running):
        found.append(Violation(Rule.OUTSIDE_HORIZON, f"{name} [{p.start}, {p.end}) is outside [0, {problem.horizon}]"))
    if running:
        return
    if p.start < job.release:
        found.append(Violation(Rule.BEFORE_RELEASE, f"{name} starts at {p.start}, before the release {job.release}"))
    if op.material_ready is None or p.start < op.material_ready:
        found.append(Violation(Rule.MATERIAL_NOT_READY, f"{name} starts at {p.start}; material ready at "
                                                         f"{op.material_ready}"))
    calendar = problem.calendar_of(p.machine)
    if calendar is not None and problem.needs_calendar(op, p.machine) and not calendar.contains(p.start, p.end):
        found.append(Violation(Rule.CALENDAR, f"{name} [{p.start}, {p.end}) on {p.machine} needs an operator "
                                              f"outside the open hours of {calendar.id}"))


def _check_machine(problem: Problem, machine_id: str, placements: list[Placement], found: list[Violation]) -> None:
    machine = problem.machine(machine_id)
    for block in (b for b in problem.blocks if b.machine == machine_id):
        for p in placements:
            if p.start < block.end and block.start < p.end:
                found.append(Violation(Rule.BLOCK_OVERLAP, f"{p.job}/{p.op} [{p.start}, {p.end}) overlaps the "
                                                           f"{block.kind} [{block.start}, {block.end}) on "
                                                           f"{machine_id}"))
    firings = _firings(problem, machine, placements, found)
    latest = None  # the firing that ends last so far: any later start before its end overlaps it
    for previous, firing in pairwise(firings):
        latest = previous if latest is None or previous[1] > latest[1] else latest
        start, _, family, ops = firing
        if start < latest[1]:
            found.append(Violation(Rule.MACHINE_OVERLAP, f"{latest[3]} and {ops} overlap on {machine_id}"))
        elif previous[2] and family and previous[2] != family and start - previous[1] < machine.setup_time:
            found.append(Violation(Rule.SETUP, f"{ops} starts {start - previous[1]} after {previous[3]} on "
                                               f"{machine_id}; changing {previous[2]} to {family} takes "
                                               f"{machine.setup_time}"))


def _firings(problem: Problem, machine, placements: list[Placement], found: list[Violation]) -> list[tuple]:
    """Group placements sharing [start, end) on a batch machine into one firing; check family and load."""
    groups: dict[tuple[int, int], list[Placement]] = defaultdict(list)
    for p in placements:
        groups[(p.start, p.end) if machine.batch_capacity > 1 else (p.start, p.end, p.job, p.op)].append(p)
    firings = []
    for members in groups.values():
        ops = [problem.operation(p.job, p.op) for p in members]
        label = ", ".join(f"{p.job}/{p.op}" for p in members)
        if len(members) > 1:
            families = {op.batch_family for op in ops}
            if None in families or len(families) > 1:
                found.append(Violation(Rule.BATCH, f"{label} share a firing on {machine.id} without one batch family"))
            if sum(op.batch_load for op in ops) > machine.batch_capacity:
                found.append(Violation(Rule.BATCH, f"{label} exceed the capacity {machine.batch_capacity} "
                                                   f"of {machine.id}"))
        families = {op.setup_family for op in ops}
        firings.append((members[0].start, members[0].end, families.pop() if len(families) == 1 else None, label))
    return sorted(firings, key=lambda f: (f[0], f[1]))
