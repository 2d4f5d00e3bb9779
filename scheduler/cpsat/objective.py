"""The model's objective: `scheduler.objective.combine(problem, terms(...))` of the solution's placements.

Each term is built from variables that minimising pulls down to the value `terms` computes: a job's
tardiness is at least its end minus its due date when the job is complete (its last operation placed),
and at least zero. So the model's cost of a solution is never below the plan's, equals it at the optimum,
and the solver's bound is a bound on `Plan.objective`. `hint_costs` gives those variables their exact
values for a hinted plan, so that a hint is complete.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from scheduler.cpsat.variables import ModelVars, OpVars
from scheduler.objective import WEIGHTS, job_completions
from scheduler.problem import Job, Objective, Placement, Problem


@dataclass
class JobCost:
    job: Job
    shop: cp_model.IntVar  # time in the shop: last end - first start
    late: cp_model.IntVar | None = None
    early: cp_model.IntVar | None = None
    extremes: tuple[cp_model.IntVar, cp_model.IntVar] | None = None  # (first start, last end), when not chained
    ops: list[OpVars] = field(default_factory=list)


@dataclass
class Costs:
    parts: dict[str, cp_model.LinearExprT]
    makespan: cp_model.IntVar | None = None
    jobs: list[JobCost] = field(default_factory=list)
    fairness: cp_model.IntVar | None = None
    kept: list[tuple[Placement, cp_model.IntVar]] = field(default_factory=list)


def add_objective(model: cp_model.CpModel, problem: Problem, mv: ModelVars, already_unplanned: int) -> Costs:
    """Minimise the weighted terms."""
    unplanned = already_unplanned + sum(1 - ov.placed for ov in mv.ops.values() if ov.cand.running is None)
    costs = Costs({"unplanned": unplanned})
    if problem.objective is Objective.MAKESPAN:
        costs.makespan = _makespan(model, problem, mv)
        costs.parts["makespan"] = costs.makespan
    else:
        _factory_terms(model, problem, mv, costs)
        costs.parts["moved"] = _moved(model, problem, mv, costs)
    model.minimize(sum(WEIGHTS.get(name, 1) * expr for name, expr in costs.parts.items()))
    return costs


def _makespan(model: cp_model.CpModel, problem: Problem, mv: ModelVars) -> cp_model.IntVar:
    """The last end; with machine loads as redundant lower bounds (each machine's work fits before it)."""
    latest = max([mv.limit] + [r.end for r in problem.running])
    makespan = model.new_int_var(0, latest, "makespan")
    for ov in _job_ends(mv):
        model.add(makespan >= ov.end).only_enforce_if(ov.placed)
    for machine in problem.machines:
        work = [opt.duration * opt.presence for _, opt in mv.on_machine(machine.id)]
        if machine.batch_capacity == 1 and work:
            model.add(sum(work) <= makespan)
    return makespan


def _job_ends(mv: ModelVars) -> list[OpVars]:
    """Operations whose end may be the latest: all of them, or when all are placed, those no chained
    successor follows (their ends bound every other end of the job)."""
    if not mv.place_all:
        return list(mv.ops.values())
    followed = {(ov.cand.job.id, ov.cand.index - 1) for ov in mv.ops.values() if ov.cand.running is None}
    return [ov for ov in mv.ops.values() if (ov.cand.job.id, ov.cand.index) not in followed]


def _factory_terms(model: cp_model.CpModel, problem: Problem, mv: ModelVars, costs: Costs) -> None:
    """Weighted tardiness, the worst co-op's tardiness, and flow (time in the shop plus earliness)."""
    by_job: dict[str, list[OpVars]] = defaultdict(list)
    for ov in mv.ops.values():
        by_job[ov.cand.job.id].append(ov)
    low = min([0] + [r.start for r in problem.running])
    high = max([mv.limit] + [r.end for r in problem.running])
    per_coop: dict[str, list[cp_model.IntVar]] = defaultdict(list)
    for job in problem.jobs:
        ops = sorted(by_job.get(job.id, []), key=lambda ov: ov.cand.index)
        if len(ops) < len(job.operations):
            continue  # an operation was unplanned before modelling: the job never completes, it costs nothing
        complete = ops[-1].placed  # the last is placed only if all are (leave_unplaced_only_as_a_suffix)
        cost = JobCost(job, model.new_int_var(0, high - low, f"flow {job.id}"), ops=ops)
        first_start, end = _span(model, job, ops, low, high, cost)
        prompt = problem.objective is Objective.PROMPT
        model.add(cost.shop >= end - (job.release if prompt else first_start)).only_enforce_if(complete)
        if job.due is not None:
            cost.late = model.new_int_var(0, max(0, high - job.due), f"tardiness {job.id}")
            model.add(cost.late >= end - job.due).only_enforce_if(complete)
            if not prompt:
                cost.early = model.new_int_var(0, max(0, job.due - low), f"earliness {job.id}")
                model.add(cost.early >= job.due - end).only_enforce_if(complete)
            per_coop[job.coop].append(cost.late)
        costs.jobs.append(cost)
    costs.fairness = model.new_int_var(0, sum(max(0, high - (j.due or 0)) for j in problem.jobs), "fairness")
    for lates in per_coop.values():
        model.add(costs.fairness >= sum(lates))
    costs.parts["tardiness"] = sum(c.job.weight * c.late for c in costs.jobs if c.late is not None)
    costs.parts["fairness"] = costs.fairness
    costs.parts["flow"] = sum(c.shop for c in costs.jobs) + sum(c.early for c in costs.jobs if c.early is not None)


def _span(model: cp_model.CpModel, job: Job, ops: list[OpVars], low: int, high: int, cost: JobCost):
    """(first start, last end) of a job whose operations are all modelled."""
    if not any(ov.cand.running for ov in ops[1:]):
        return ops[0].start, ops[-1].end
    # an operation running mid-job is not chained to the ones before it: take the extremes explicitly
    cost.extremes = (model.new_int_var(low, high, f"first start {job.id}"),
                     model.new_int_var(low, high, f"last end {job.id}"))
    model.add_min_equality(cost.extremes[0], [ov.start for ov in ops])
    model.add_max_equality(cost.extremes[1], [ov.end for ov in ops])
    return cost.extremes


def _moved(model: cp_model.CpModel, problem: Problem, mv: ModelVars, costs: Costs) -> cp_model.LinearExprT:
    """Operations of the previous plan not on the same machine at the same start."""
    moved: list[cp_model.LinearExprT] = []
    for p in problem.previous:
        if not problem.has_operation(p.job, p.op):
            continue
        ov = mv.ops.get(p.key)
        opt = ov.options.get(p.machine) if ov else None
        if ov is None or opt is None:
            moved.append(1)
        elif ov.cand.running is not None:
            moved.append(int((p.machine, p.start) != (ov.cand.running.machine, ov.cand.running.start)))
        else:
            same = model.new_bool_var(f"kept {p.job}/{p.op}")
            model.add_implication(same, opt.presence)
            model.add(opt.start == p.start).only_enforce_if(same)
            moved.append(1 - same)
            costs.kept.append((p, same))
    return sum(moved)


def hint_costs(costs: Costs, problem: Problem, assignments: Iterable[Placement],
               hint: Callable[[cp_model.IntVar, int], None], value: Callable[[cp_model.IntVar], int]) -> None:
    """Hint every cost variable with its value for these placements (`value`: an already hinted value)."""
    assignments = tuple(assignments)
    if costs.makespan is not None:
        hint(costs.makespan, max((a.end for a in assignments), default=0))
    spans = job_completions(problem, assignments)
    per_coop: dict[str, int] = defaultdict(int)
    for cost in costs.jobs:
        first, end = spans.get(cost.job.id, (0, 0))
        complete = cost.job.id in spans
        start = cost.job.release if problem.objective is Objective.PROMPT else first
        hint(cost.shop, end - start if complete else 0)
        if cost.late is not None and cost.job.due is not None:
            hint(cost.late, max(0, end - cost.job.due) if complete else 0)
            if cost.early is not None:
                hint(cost.early, max(0, cost.job.due - end) if complete else 0)
            per_coop[cost.job.coop] += max(0, end - cost.job.due) if complete else 0
        if cost.extremes is not None:
            hint(cost.extremes[0], min(value(ov.start) for ov in cost.ops))
            hint(cost.extremes[1], max(value(ov.end) for ov in cost.ops))
    if costs.fairness is not None:
        hint(costs.fairness, max(per_coop.values(), default=0))
    now = {a.key: (a.machine, a.start) for a in assignments}
    for p, same in costs.kept:
        hint(same, int(now.get(p.key) == (p.machine, p.start)))
