"""Which operations get variables, and the variables themselves.

`analyse` walks each job before any modelling: an operation with no eligible machine, no known material
arrival, or no start on any machine before the horizon is reported unplanned with its reason, and so are
the operations after it. Every other operation is a `Candidate` with the options that can still fit.

`build_variables` gives each candidate a start, an end and a `placed` literal, and each option a presence
literal and an optional fixed-size interval. A machine sees `Firing`s: on an ordinary machine one per
option; on a batch machine (a kiln) only the firings an operation opens (`leads`), which other operations
may join (`rules.fire_batches_within_capacity`). Running operations are fixed firings.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ortools.sat.python import cp_model
from ortools.util.python.sorted_interval_list import Domain

from scheduler.plan import Reason, Unplanned
from scheduler.problem import Job, Operation, Option, Placement, Problem

Key = tuple[str, str]


@dataclass(frozen=True)
class Candidate:
    job: Job
    index: int
    op: Operation
    options: tuple[Option, ...]
    running: Placement | None = None

    @property
    def key(self) -> Key:
        return (self.job.id, self.op.id)

    @property
    def earliest(self) -> int:
        """The earliest start release and material allow."""
        return max(0, self.job.release, self.op.material_ready or 0)


@dataclass(frozen=True)
class Analysis:
    candidates: tuple[Candidate, ...]
    unplanned: tuple[Unplanned, ...]
    domains: StartDomains


class StartDomains:
    """Allowed starts of an operation on a machine, from open hours and blocks; cached per problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.blocks = merged_blocks(problem)
        self._calendar: dict[tuple[str, int], Domain] = {}
        self._free: dict[tuple[str, int], Domain] = {}

    def calendar(self, op: Operation, machine: str, duration: int) -> Domain | None:
        """Starts s with [s, s + duration) inside one open window; None when the op may run any time."""
        calendar = self.problem.calendar_of(machine)
        if calendar is None or not self.problem.needs_calendar(op, machine):
            return None
        key = (calendar.id, duration)
        if key not in self._calendar:
            self._calendar[key] = Domain.from_intervals(
                [[s, e - duration] for s, e in calendar.open if e - s >= duration])
        return self._calendar[key]

    def block_free(self, machine: str, duration: int) -> Domain | None:
        """Starts s with [s, s + duration) clear of every block; None when the machine has none."""
        if not self.blocks.get(machine):
            return None
        key = (machine, duration)
        if key not in self._free:
            self._free[key] = Domain.from_intervals(
                [[s - duration + 1, e - 1] for s, e in self.blocks[machine]]).complement()
        return self._free[key]

    def of(self, op: Operation, option: Option, earliest: int, limit: int) -> Domain:
        if earliest > limit - option.duration:
            return Domain.from_intervals([])
        domain = Domain(earliest, limit - option.duration)
        for extra in (self.calendar(op, option.machine, option.duration),
                      self.block_free(option.machine, option.duration)):
            if extra is not None:
                domain = domain.intersection_with(extra)
        return domain


def merged_blocks(problem: Problem) -> dict[str, list[tuple[int, int]]]:
    """Blocks per machine, sorted, overlapping or touching ones merged (fixed intervals must not overlap)."""
    raw: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for b in problem.blocks:
        raw[b.machine].append((b.start, b.end))
    merged: dict[str, list[tuple[int, int]]] = {}
    for machine, spans in raw.items():
        out: list[tuple[int, int]] = []
        for start, end in sorted(spans):
            if out and start <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((start, end))
        merged[machine] = out
    return merged


def analyse(problem: Problem) -> Analysis:
    domains = StartDomains(problem)
    running = {r.key: r for r in problem.running}
    candidates: list[Candidate] = []
    unplanned: list[Unplanned] = []
    for job in problem.jobs:
        stopped = ""
        for index, op in enumerate(job.operations):
            r = running.get((job.id, op.id))
            if r is not None:
                candidates.append(Candidate(job, index, op, (Option(r.machine, r.end - r.start),), r))
            elif stopped:
                unplanned.append(Unplanned(job.id, op.id, Reason.PREDECESSOR_UNPLANNED, f"{stopped} is unplanned"))
            else:
                cand = Candidate(job, index, op, op.options)
                reason, options = _unplannable(problem, domains, cand)
                if reason is None:
                    candidates.append(Candidate(job, index, op, options))
                else:
                    unplanned.append(Unplanned(job.id, op.id, reason))
                    stopped = op.id
    return Analysis(tuple(candidates), tuple(unplanned), domains)


def _unplannable(problem: Problem, domains: StartDomains, cand: Candidate) -> tuple[Reason | None, tuple[Option, ...]]:
    if not cand.op.options:
        return Reason.NO_ELIGIBLE_MACHINE, ()
    if cand.op.material_ready is None:
        return Reason.WAITING_FOR_MATERIAL, ()
    options = tuple(o for o in cand.op.options
                    if not domains.of(cand.op, o, cand.earliest, problem.horizon).is_empty())
    return (None, options) if options else (Reason.NO_ROOM_BEFORE_HORIZON, ())


@dataclass
class Firing:
    """What a machine sees: [start, start + duration) when `presence` holds (None: a fixed interval)."""

    start: cp_model.LinearExprT
    duration: int
    presence: cp_model.IntVar | None
    family: str | None
    interval: cp_model.IntervalVar


@dataclass
class OptionVars:
    machine: str
    duration: int
    presence: cp_model.IntVar
    start: cp_model.IntVar  # the operation's start (one variable for all options: measured faster than copies)
    firing: Firing | None  # None for running operations: their fixed firings are in ModelVars.firings
    leads: cp_model.IntVar | None = None  # batch machines: this operation opens a firing
    joins: list[tuple[Key, cp_model.IntVar]] = field(default_factory=list)  # batch: (leader, literal)


@dataclass
class OpVars:
    cand: Candidate
    start: cp_model.IntVar
    end: cp_model.IntVar
    placed: cp_model.IntVar
    options: dict[str, OptionVars]


@dataclass
class ModelVars:
    problem: Problem
    domains: StartDomains
    limit: int  # every operation ends by then: the horizon, or less when a better bound is known
    place_all: bool  # every candidate is placed
    ops: dict[Key, OpVars] = field(default_factory=dict)
    firings: dict[str, list[Firing]] = field(default_factory=lambda: defaultdict(list))
    _to_place: dict[str, list[tuple[OpVars, OptionVars]]] = field(default_factory=lambda: defaultdict(list))

    def on_machine(self, machine: str) -> list[tuple[OpVars, OptionVars]]:
        """The operations still to place that may use this machine."""
        return self._to_place.get(machine, [])


def build_variables(model: cp_model.CpModel, analysis: Analysis, problem: Problem, *,
                    limit: int, place_all: bool) -> ModelVars:
    """`place_all`: every candidate must be placed (used when a plan placing all of them is known)."""
    mv = ModelVars(problem, analysis.domains, limit, place_all)
    always = model.new_constant(1)
    for cand in analysis.candidates:
        mv.ops[cand.key] = _op_vars(model, problem, cand, limit, always if place_all or cand.running else None)
    _add_fixed_firings(model, problem, mv)
    for ov in mv.ops.values():
        for opt in ov.options.values():
            if opt.firing is not None:
                mv.firings[opt.machine].append(opt.firing)
                mv._to_place[opt.machine].append((ov, opt))
    return mv


def _op_vars(model: cp_model.CpModel, problem: Problem, cand: Candidate, limit: int,
             placed: cp_model.IntVar | None) -> OpVars:
    name = f"{cand.job.id}/{cand.op.id}"
    low = cand.running.start if cand.running else 0
    high = max(limit, cand.running.end) if cand.running else limit
    fitting = [o for o in cand.options if low + o.duration <= high]  # all of them unless limit < horizon
    if not fitting:
        raise ValueError(f"{name} fits on no machine before {limit}: the limit must come from a valid plan")
    start = model.new_int_var(low, high - min(o.duration for o in fitting), f"start {name}")
    end = model.new_int_var(low, high, f"end {name}")
    placed = placed if placed is not None else model.new_bool_var(f"placed {name}")
    options: dict[str, OptionVars] = {}
    for option in fitting:
        presence = placed if len(fitting) == 1 else model.new_bool_var(f"on {option.machine} {name}")
        options[option.machine] = OptionVars(option.machine, option.duration, presence, start, None)
        if cand.running is None:
            _add_firing(model, problem, cand, options[option.machine])
    model.add(sum(o.presence for o in options.values()) == placed)
    model.add(end == start + sum(o.duration * o.presence for o in options.values()))
    return OpVars(cand, start, end, placed, options)


def _add_firing(model: cp_model.CpModel, problem: Problem, cand: Candidate, opt: OptionVars) -> None:
    name = f"{cand.job.id}/{cand.op.id} on {opt.machine}"
    fires = opt.presence
    if problem.machine(opt.machine).batch_capacity > 1:
        opt.leads = fires = model.new_bool_var(f"opens firing {name}")
    interval = model.new_optional_fixed_size_interval_var(opt.start, opt.duration, fires, name)
    opt.firing = Firing(opt.start, opt.duration, fires, cand.op.setup_family, interval)


def _add_fixed_firings(model: cp_model.CpModel, problem: Problem, mv: ModelVars) -> None:
    """Running operations hold their machine; on a batch machine those sharing [start, end) are one firing."""
    groups: dict[tuple[str, int, int], set[str | None]] = defaultdict(set)
    for r in problem.running:
        if problem.machine(r.machine).batch_capacity > 1:
            groups[(r.machine, r.start, r.end)].add(problem.operation(r.job, r.op).setup_family)
        else:
            groups[(r.machine, r.start, r.end, r.job, r.op)].add(problem.operation(r.job, r.op).setup_family)
    for (machine, start, end, *_), families in groups.items():
        family = next(iter(families)) if len(families) == 1 else None
        interval = model.new_fixed_size_interval_var(start, end - start, f"running on {machine}")
        mv.firings[machine].append(Firing(start, end - start, None, family, interval))
