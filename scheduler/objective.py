"""What a plan costs, computed from its placements alone, the same way for every solver and the checker.

The factory objective ranks, in this order: operations left unplanned, weighted tardiness, fairness
between co-ops (the worst co-op's tardiness), stability (operations moved against the previous plan),
then flow (time a job spends in the shop, plus finishing early: demand-pull wants work done close to
when it is needed, not as early as possible). `Objective.PROMPT` counts flow from the job's release to its
end instead, without earliness: work is done as soon as it can be (the factory app's choice, so machines do
not stand idle while orders wait). The order is kept by weights rather than by strict
lexicographic solves: a strict order would move a hundred operations to save one minute of lateness,
which no steward wants, and would need numbers past 64 bits on large factories.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from scheduler.problem import Objective, Placement, Problem

# Unplanned must outweigh any lateness a horizon allows (weight x minutes x 100 stays far below 10^9), or
# dropping a late job's last operation would look cheaper than finishing it late. One moved operation is
# worth five minutes of weighted lateness or 500 minutes of flow.
WEIGHTS: Mapping[str, int] = {"unplanned": 1_000_000_000, "tardiness": 100, "fairness": 10, "moved": 500, "flow": 1}


def job_completions(problem: Problem, assignments: Iterable[Placement]) -> dict[str, tuple[int, int]]:
    """(first start, last end) of every job whose operations are all placed."""
    by_job: dict[str, list[Placement]] = defaultdict(list)
    for a in assignments:
        by_job[a.job].append(a)
    spans = {}
    for job in problem.jobs:
        placed = by_job.get(job.id, [])
        if len({p.op for p in placed}) == len(job.operations):
            spans[job.id] = (min(p.start for p in placed), max(p.end for p in placed))
    return spans


def lateness(problem: Problem, assignments: Iterable[Placement]) -> dict[str, int]:
    """completion - due of every fully placed job with a due date (negative: early)."""
    spans = job_completions(problem, assignments)
    return {job.id: spans[job.id][1] - job.due for job in problem.jobs if job.id in spans and job.due is not None}


def moved(problem: Problem, assignments: Iterable[Placement]) -> int:
    """Operations of the previous plan now on another machine, at another start, or no longer placed."""
    now = {a.key: (a.machine, a.start) for a in assignments}
    return sum(1 for p in problem.previous
               if problem.has_operation(p.job, p.op) and now.get(p.key) != (p.machine, p.start))


def terms(problem: Problem, assignments: Iterable[Placement], unplanned_count: int) -> dict[str, int]:
    assignments = tuple(assignments)
    if problem.objective is Objective.MAKESPAN:
        return {"unplanned": unplanned_count, "makespan": max((a.end for a in assignments), default=0)}
    spans = job_completions(problem, assignments)
    tardiness, flow = 0, 0
    per_coop: dict[str, int] = defaultdict(int)
    for job in problem.jobs:
        if job.id not in spans:
            continue
        first_start, end = spans[job.id]
        prompt = problem.objective is Objective.PROMPT
        flow += end - job.release if prompt else end - first_start
        if job.due is not None:
            tardiness += job.weight * max(0, end - job.due)
            per_coop[job.coop] += max(0, end - job.due)
            flow += 0 if prompt else max(0, job.due - end)
    return {"unplanned": unplanned_count, "tardiness": tardiness, "fairness": max(per_coop.values(), default=0),
            "moved": moved(problem, assignments), "flow": flow}


def combine(problem: Problem, parts: Mapping[str, int]) -> int:
    """One number to minimise: the weighted sum of the terms (makespan: unplanned first, then makespan)."""
    if problem.objective is Objective.MAKESPAN:
        return WEIGHTS["unplanned"] * parts["unplanned"] + parts["makespan"]
    return sum(WEIGHTS[name] * value for name, value in parts.items())
