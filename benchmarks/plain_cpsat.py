"""The baseline: a plain CP-SAT flexible job shop model, as the OR-Tools `flexible_job_shop_sat.py` sample builds one.

Each operation has a start, an end and a duration between its shortest and longest option; each eligible
machine gets an optional interval whose presence literal ties it to the operation; exactly one is present;
one no-overlap per machine; each operation starts after its job's previous one ends; the makespan is the
latest job end. Solver parameters are the defaults but for the number of workers and the time limit, and no
hint is given. For the makespan benchmarks only (jssp, fjs): no calendars, blocks, setups or batches.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from scheduler.problem import Problem

STATUS = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible", cp_model.INFEASIBLE: "infeasible",
          cp_model.MODEL_INVALID: "invalid", cp_model.UNKNOWN: "unknown"}


@dataclass(frozen=True)
class PlainResult:
    status: str
    makespan: int | None
    bound: int | None
    first_solution_s: float | None  # from the call (model building included) to the first solution
    wall_s: float

    @property
    def gap(self) -> float | None:
        if self.makespan is None or self.bound is None or self.makespan == 0:
            return None
        return max(0.0, (self.makespan - self.bound) / self.makespan)


class _FirstSolution(cp_model.CpSolverSolutionCallback):
    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started
        self.at: float | None = None

    def on_solution_callback(self) -> None:
        if self.at is None:
            self.at = time.perf_counter() - self.started


def solve_plain(problem: Problem, *, time_limit_s: float, workers: int) -> PlainResult:
    started = time.perf_counter()
    model, makespan = _model(problem)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = time_limit_s
    first = _FirstSolution(started)
    status = solver.solve(model, first)
    wall = time.perf_counter() - started
    found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    return PlainResult(STATUS.get(status, "unknown"), int(solver.value(makespan)) if found else None,
                       int(solver.best_objective_bound) if found else None, first.at, wall)


def _model(problem: Problem) -> tuple[cp_model.CpModel, cp_model.IntVar]:
    if any(not op.options for job in problem.jobs for op in job.operations):
        raise ValueError("the plain model needs at least one eligible machine per operation")
    horizon = sum(max(o.duration for o in op.options) for job in problem.jobs for op in job.operations)
    model = cp_model.CpModel()
    per_machine: dict[str, list[cp_model.IntervalVar]] = defaultdict(list)
    job_ends = []
    for job in problem.jobs:
        previous_end = None
        for op in job.operations:
            name = f"{job.id}/{op.id}"
            durations = [o.duration for o in op.options]
            start = model.new_int_var(0, horizon, f"start {name}")
            duration = model.new_int_var(min(durations), max(durations), f"duration {name}")
            end = model.new_int_var(0, horizon, f"end {name}")
            interval = model.new_interval_var(start, duration, end, f"interval {name}")
            if len(op.options) == 1:
                per_machine[op.options[0].machine].append(interval)
            else:
                presences = []
                for option in op.options:
                    present = model.new_bool_var(f"{name} on {option.machine}")
                    alt_start = model.new_int_var(0, horizon, f"start {name} on {option.machine}")
                    alt_end = model.new_int_var(0, horizon, f"end {name} on {option.machine}")
                    per_machine[option.machine].append(model.new_optional_interval_var(
                        alt_start, option.duration, alt_end, present, f"{name} on {option.machine}"))
                    model.add(start == alt_start).only_enforce_if(present)
                    model.add(duration == option.duration).only_enforce_if(present)
                    model.add(end == alt_end).only_enforce_if(present)
                    presences.append(present)
                model.add_exactly_one(presences)
            if previous_end is not None:
                model.add(start >= previous_end)
            previous_end = end
        job_ends.append(previous_end)
    for intervals in per_machine.values():
        model.add_no_overlap(intervals)
    makespan = model.new_int_var(0, horizon, "makespan")
    model.add_max_equality(makespan, job_ends)
    model.minimize(makespan)
    return model, makespan
