"""The CP-SAT model of a `Problem`: variables, the rules, the objective; hints from a plan; a plan's
placements from a solution. `scheduler.solve` drives it."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from scheduler.cpsat.objective import Costs, add_objective, hint_costs
from scheduler.cpsat.rules import RULES
from scheduler.cpsat.variables import Analysis, Candidate, Key, ModelVars, OptionVars, analyse, build_variables
from scheduler.plan import Plan, Reason, Unplanned
from scheduler.problem import Placement, Problem

__all__ = ["Built", "add_hints", "analyse", "build_model", "keepable", "read_solution"]


@dataclass
class Built:
    model: cp_model.CpModel
    vars: ModelVars
    analysis: Analysis
    costs: Costs


def build_model(problem: Problem, analysis: Analysis, *, limit: int | None = None, place_all: bool = False) -> Built:
    """`limit`: every operation ends by then (default: the horizon). `place_all`: no operation may be left
    unplaced (only when a plan placing them all within `limit` is known, so the optimum is unchanged)."""
    model = cp_model.CpModel()
    mv = build_variables(model, analysis, problem, limit=limit or problem.horizon, place_all=place_all)
    for rule in RULES:
        rule(model, problem, mv)
    costs = add_objective(model, problem, mv, len(analysis.unplanned))
    return Built(model, mv, analysis, costs)


class _Hints:
    """Each variable hinted once; the values are kept for hints derived from them."""

    def __init__(self, model: cp_model.CpModel) -> None:
        self.model, self.values = model, {}

    def __call__(self, var: cp_model.IntVar, value: int) -> None:
        if var.index not in self.values:
            self.values[var.index] = value
            self.model.add_hint(var, value)

    def value(self, var: cp_model.IntVar) -> int:
        return self.values[var.index]


def add_hints(built: Built, plan: Plan) -> None:
    """Hint every variable with the plan's values (a complete hint CP-SAT can take as its first solution
    when the plan keeps every rule of the model)."""
    placed = {a.key: a for a in plan.assignments if a.key in built.vars.ops}
    hint = _Hints(built.model)
    leaders: dict[tuple[str, int], tuple[str, str]] = {}
    for ov in sorted(built.vars.ops.values(), key=lambda ov: (ov.cand.earliest, ov.cand.key)):
        r = ov.cand.running
        a = r or placed.get(ov.cand.key)
        chosen = ov.options.get(a.machine) if a else None
        if a is None or chosen is None or a.end - a.start != chosen.duration:
            a, chosen = Placement(*ov.cand.key, "", 0, 0), None  # not placed: start = end = 0
        hint(ov.placed, int(chosen is not None))
        hint(ov.start, a.start)
        hint(ov.end, a.end)
        if chosen is not None and chosen.leads is not None:
            _hint_firing(chosen, a, leaders, hint)
        for opt in ov.options.values():  # what is not hinted yet is off
            hint(opt.presence, int(opt is chosen))
            for _, join in opt.joins:
                hint(join, 0)
            if opt.leads is not None:
                hint(opt.leads, 0)
    hint_costs(built.costs, built.vars.problem, list(placed.values()) + list(built.vars.problem.running),
               hint, hint.value)


def _hint_firing(chosen: OptionVars, a: Placement, leaders: dict, hint: _Hints) -> None:
    """The first operation of a firing (in the model's order) opens it; the others join when they can."""
    leader = leaders.get((a.machine, a.start))
    join = next((lit for key, lit in chosen.joins if key == leader), None)
    if join is not None:
        hint(join, 1)
    else:
        leaders[(a.machine, a.start)] = a.key
        hint(chosen.leads, 1)


def keepable(problem: Problem, analysis: Analysis) -> dict[Key, Placement]:
    """Placements of the plan in force that still hold on their own: on a machine the operation may still
    use, at a start its release, material, open hours and blocks allow, after a kept (or running)
    predecessor within the lags. The first operation of a job that cannot stay ends what is kept of it."""
    previous = {p.key: p for p in problem.previous}
    by_job: dict[str, list[Candidate]] = defaultdict(list)
    for cand in analysis.candidates:
        by_job[cand.job.id].append(cand)
    kept: dict[Key, Placement] = {}
    for cands in by_job.values():
        before: Placement | None = None
        for cand in sorted(cands, key=lambda c: c.index):
            if cand.running is not None:
                before = cand.running
                continue
            p = previous.get(cand.key)
            option = next((o for o in cand.options if p is not None and o.machine == p.machine), None)
            if p is None or option is None or p.end - p.start != option.duration:
                break
            if not analysis.domains.of(cand.op, option, cand.earliest, problem.horizon).contains(p.start):
                break
            if cand.index > 0 and (before is None or p.start < before.end + cand.op.min_lag or (
                    cand.op.max_lag is not None and p.start > before.end + cand.op.max_lag)):
                break
            kept[cand.key] = before = p
    return kept


def read_solution(built: Built, solver: cp_model.CpSolver) -> tuple[list[Placement], list[Unplanned]]:
    """Placements of the solution (running operations as they are) and the operations it left unplaced.
    On batch machines the operations of one firing share a batch number, numbered from 1 across the plan."""
    assignments: list[Placement] = []
    unplanned: list[Unplanned] = list(built.analysis.unplanned)
    stopped: dict[str, str] = {}
    for ov in sorted(built.vars.ops.values(), key=lambda ov: (ov.cand.job.id, ov.cand.index)):
        job, op = ov.cand.key
        if ov.cand.running is not None:
            assignments.append(ov.cand.running)
        elif solver.boolean_value(ov.placed):
            machine = next(m for m, opt in ov.options.items() if solver.boolean_value(opt.presence))
            assignments.append(Placement(job, op, machine, solver.value(ov.start), solver.value(ov.end)))
        elif job in stopped:
            unplanned.append(Unplanned(job, op, Reason.PREDECESSOR_UNPLANNED, f"{stopped[job]} is unplanned"))
        else:
            stopped[job] = op
            unplanned.append(Unplanned(job, op, Reason.NO_ROOM_BEFORE_HORIZON))
    firings: dict[tuple[str, int, int], int] = {}
    for i, a in enumerate(assignments):
        if built.vars.problem.machine(a.machine).batch_capacity > 1:
            assignments[i] = replace(a, batch=firings.setdefault((a.machine, a.start, a.end), len(firings) + 1))
    return assignments, unplanned
