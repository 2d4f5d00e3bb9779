"""`solve(problem) -> Plan`: the greedy dispatcher's plan first, then CP-SAT from it.

1. Running operations that cannot stay where they are (on a block, on each other, past the horizon):
   an INFEASIBLE plan with the reason, at once.
2. `greedy.dispatch` gives a first plan (checked by `check.violations`): the fallback, and CP-SAT's hint
   unless the caller's `hint` (checked too) is better. In makespan mode the greedy makespan also bounds
   the model's horizon.
3. Re-planning (the problem has a `previous` plan): CP-SAT first solves the small problem where every
   operation whose place in the plan in force still holds stays there (the repair), so the answer comes
   fast and moves little; the full model then starts from the best plan so far.
4. CP-SAT improves on the best plan so far within what is left of `time_limit_s`. Its answer is checked;
   a rejected answer, or none in time, leaves the best earlier plan, and `Plan.solver` says why.

Every plan's objective is computed from its placements by `scheduler.objective`, the same way for every
solver; the full model's cost equals it at the optimum, so its bound is a bound on `Plan.objective`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from scheduler.check import violations
from scheduler.cpsat import add_hints, analyse, build_model, keepable, read_solution
from scheduler.cpsat.variables import Analysis, merged_blocks
from scheduler.greedy import dispatch
from scheduler.objective import WEIGHTS, combine, lateness, terms
from scheduler.plan import Plan, Status
from scheduler.problem import Objective, Placement, Problem

Log = Callable[[str], None]
REPAIR_SHARE = 0.5  # of the time left, at most, for the repair when re-planning
LARGE = 400  # operations: above, a lighter presolve (probing costs seconds there and gains little)
# Makespan mode: only the scheduling neighbourhoods share the second worker (measured on mk06, mk10:
# 60 and 216-218 against 61-63 and 215-223 with all of them at 10 s; the tardiness objective needs the others).
NOT_FOR_MAKESPAN = ("graph_arc_lns", "graph_cst_lns", "graph_dec_lns", "graph_var_lns", "rins/rens",
                    "feasibility_pump", "ls", "rnd_cst_lns", "rnd_var_lns")


@dataclass(frozen=True)
class Attempt:
    status: int  # cp_model status
    plan: Plan | None  # checked, or None
    note: str = ""


def solve(problem: Problem, *, time_limit_s: float = 10.0, workers: int = 2, hint: Plan | None = None,
          log_progress: Log | None = None) -> Plan:
    clock = time.monotonic()
    say = log_progress or (lambda message: None)
    deadline = clock + time_limit_s
    conflict = pinned_conflict(problem)
    if conflict:
        return Plan(Status.INFEASIBLE, wall_s=time.monotonic() - clock, solver=f"cp-sat: infeasible: {conflict}")
    first = _checked(problem, dispatch(problem), "greedy", say)
    say(f"greedy: objective {first and first.objective}, {time.monotonic() - clock:.2f} s")
    if hint is not None:
        first = _better(first, _checked(problem, replace(hint, status=Status.FEASIBLE, solver="hint"), "hint", say))
    analysis = analyse(problem)
    best = first
    if problem.previous:
        best = _better(best, _repair(problem, analysis, best, clock + time_limit_s * REPAIR_SHARE, workers, say).plan)
    limit, place_all = _known_bounds(problem, first, len(analysis.unplanned))
    full = _cp_sat(problem, analysis, best, deadline, workers, log_progress, limit=limit, place_all=place_all)
    if full.status == cp_model.INFEASIBLE and not place_all:
        return Plan(Status.INFEASIBLE, wall_s=time.monotonic() - clock,
                    solver="cp-sat: infeasible: the running operations (and the work before them) cannot stay")
    answer = _better(best, full.plan)
    if answer is None:
        return Plan(Status.UNKNOWN, wall_s=time.monotonic() - clock, solver=f"none ({full.note}; greedy rejected)")
    if answer is not full.plan:
        bound = full.plan.bound if full.plan is not None else None
        answer = replace(answer, solver=f"{answer.solver} ({full.note or 'better than the full model in time'})",
                         bound=bound if bound is not None and bound <= answer.objective else None)
    return replace(answer, wall_s=time.monotonic() - clock)


def pinned_conflict(problem: Problem) -> str:
    """Why the running operations cannot stay where they are, or ''."""
    blocks = merged_blocks(problem)
    by_machine: dict[str, list[Placement]] = {}
    for r in sorted(problem.running, key=lambda r: (r.machine, r.start)):
        name = f"{r.job}/{r.op}"
        if r.end > problem.horizon:
            return f"running {name} ends at {r.end}, after the horizon {problem.horizon}"
        if any(s < r.end and r.start < e for s, e in blocks.get(r.machine, [])):
            return f"running {name} on {r.machine} overlaps a block there"
        others = by_machine.setdefault(r.machine, [])
        if problem.machine(r.machine).batch_capacity == 1 and others and others[-1].end > r.start:
            return f"running {name} overlaps running {others[-1].job}/{others[-1].op} on {r.machine}"
        others.append(r)
    return ""


def _repair(problem: Problem, analysis: Analysis, best: Plan | None, deadline: float, workers: int,
            say: Log) -> Attempt:
    """CP-SAT on the small problem where every operation whose place in the plan in force still holds is
    pinned there like a running one (a neighbourhood of that plan: its answer has no bound)."""
    kept = keepable(problem, analysis)
    pinned = replace(problem, running=problem.running + tuple(kept.values()))
    if pinned_conflict(pinned):
        return Attempt(cp_model.UNKNOWN, None, f"repair: {pinned_conflict(pinned)}")
    free = tuple(a for a in (best.assignments if best else ()) if a.key not in kept)
    attempt = _cp_sat(pinned, analyse(pinned), Plan(Status.FEASIBLE, free), deadline, workers, None,
                      name="cp-sat repair")
    plan = attempt.plan and _checked(problem, replace(attempt.plan, status=Status.FEASIBLE), "cp-sat repair", say)
    say(f"repair: {len(kept)} kept, {dict(plan.terms) if plan else attempt.note or 'rejected'}")
    return Attempt(attempt.status, plan, attempt.note)


def _cp_sat(problem: Problem, analysis: Analysis, hint: Plan | None, deadline: float, workers: int,
            log_progress: Log | None, *, limit: int | None = None, place_all: bool = False,
            name: str = "cp-sat") -> Attempt:
    # time to read and check the answer afterwards: about a tenth of a second per thousand operations
    reserve = 0.05 + len(analysis.candidates) * 1e-4
    if deadline - time.monotonic() - reserve < 0.05:
        return Attempt(cp_model.UNKNOWN, None, f"no time left for {name}")
    built = build_model(problem, analysis, limit=limit, place_all=place_all)
    if hint is not None:
        add_hints(built, hint)
    seconds = deadline - time.monotonic() - reserve
    solver = _solver(seconds, workers, log_progress, large=len(analysis.candidates) > LARGE,
                     makespan=problem.objective is Objective.MAKESPAN)
    status = solver.solve(built.model)
    if log_progress:
        log_progress(f"{name}: {solver.status_name(status)}, objective {solver.objective_value}, "
                     f"bound {solver.best_objective_bound}, {solver.wall_time:.2f} s")
    if status == cp_model.MODEL_INVALID:
        return Attempt(status, None, f"{name} model invalid: {built.model.validate()}")
    if status == cp_model.INFEASIBLE:
        return Attempt(status, None, f"{name} found no plan" + (" shorter than the first one" if place_all else ""))
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Attempt(status, None, f"{name} found no plan in time")
    assignments, unplanned = read_solution(built, solver)
    plan = _plan(problem, Status.OPTIMAL if status == cp_model.OPTIMAL else Status.FEASIBLE, assignments, unplanned,
                 name)
    faults = violations(problem, plan)
    if faults:  # a modelling error: the rules of the model and of the checker differ
        return Attempt(status, None, f"{name} answer rejected: {len(faults)} violations, the first: "
                                     f"{faults[0].message}")
    # The model's cost of a solution is at least the plan's (tardiness and flow variables are only pushed
    # down by minimising) and equal at the optimum: the solver's bound is a bound on the plan's objective.
    if plan.objective > round(solver.objective_value):
        return Attempt(status, plan, f"{name} objective {solver.objective_value} below the plan's: no bound")
    return Attempt(status, replace(plan, bound=min(math.ceil(solver.best_objective_bound - 1e-6), plan.objective)))


def _checked(problem: Problem, plan: Plan, name: str, say: Log) -> Plan | None:
    faults = violations(problem, plan)
    if faults:
        say(f"{name} plan rejected: {len(faults)} violations, the first: {faults[0].message}")
        return None
    return _plan(problem, plan.status, plan.assignments, plan.unplanned, plan.solver or name)


def _better(a: Plan | None, b: Plan | None) -> Plan | None:
    """The plan of lower objective; the later one, `b`, on a tie."""
    if a is None or b is None:
        return a or b
    return b if b.objective is not None and a.objective is not None and b.objective <= a.objective else a


def _known_bounds(problem: Problem, first: Plan | None, unplannable: int) -> tuple[int, bool]:
    """(latest end, whether all candidates must be placed). Makespan mode: if the first plan placed every
    operation that can be placed, any better plan places them all too and ends by its makespan."""
    if problem.objective is not Objective.MAKESPAN or first is None or len(first.unplanned) > unplannable:
        return problem.horizon, False
    makespan = max((a.end for a in first.assignments), default=0)
    if makespan >= WEIGHTS["unplanned"]:
        return problem.horizon, False
    return min(problem.horizon, max(makespan, 1)), True


def _solver(seconds: float, workers: int, log_progress: Log | None, *, large: bool,
            makespan: bool) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.05, seconds)
    solver.parameters.num_workers = max(1, workers)
    if large:
        solver.parameters.cp_model_probing_level = 0
    if makespan:
        solver.parameters.ignore_subsolvers.extend(NOT_FOR_MAKESPAN)
    if log_progress is not None:
        solver.parameters.log_search_progress = True
        solver.parameters.log_to_stdout = False
        solver.log_callback = log_progress
    return solver


def _plan(problem: Problem, status: Status, assignments, unplanned, solver: str) -> Plan:
    assignments, unplanned = tuple(assignments), tuple(unplanned)
    parts = terms(problem, assignments, len(unplanned))
    return Plan(status, assignments, unplanned, lateness(problem, assignments), combine(problem, parts), None,
                parts, 0.0, solver)
