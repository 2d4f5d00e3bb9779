"""A list-scheduling dispatcher: CP-SAT's first solution and hint, and the plan published when time runs out.

Jobs are cut into dispatch units: an operation alone, or a run of operations tied by maximum lags, which is
placed as a whole (when an operation cannot start within its lag, the previous one is pushed later and the
run is placed again). Ready units wait in a heap by priority (tardiness: earliest due date, then apparent
tardiness cost, weight, least work remaining; makespan: most work remaining, then earliest ready); the unit
on top goes where it completes first, into the earliest gap of a machine that keeps blocks, open hours,
setups and firings of batch machines intact. A still valid place from the previous plan is kept.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass

from scheduler import objective
from scheduler.lanes import Firing, Lane
from scheduler.plan import Plan, Reason, Status, Unplanned
from scheduler.problem import Job, Objective, Operation, Placement, Problem

MAX_BACKTRACKS = 200  # per unit: pushes of an earlier operation when a maximum lag is broken


@dataclass(frozen=True)
class _Candidate:
    machine: str
    start: int
    end: int
    firing: Firing | None  # an existing firing of a batch machine to join, or None for a new one

    @property
    def rank(self) -> tuple[int, int]:
        return (self.end, -self.start)  # completing first, then taking the machine for the shortest time


@dataclass(frozen=True)
class _Unit:
    job: int  # index in problem.jobs
    ops: tuple[int, ...]  # indexes in job.operations, consecutive


def dispatch(problem: Problem) -> Plan:
    """A FEASIBLE plan keeping every rule, in milliseconds; what cannot be placed is unplanned with a reason."""
    started = time.perf_counter()
    state = _State(problem)
    state.run()
    assignments = tuple(sorted(state.placed.values(), key=lambda p: (p.start, p.machine, p.job, p.op)))
    unplanned = tuple(state.unplanned)
    parts = objective.terms(problem, assignments, len(unplanned))
    return Plan(Status.FEASIBLE, assignments, unplanned, lateness=objective.lateness(problem, assignments),
                objective=objective.combine(problem, parts), bound=None, terms=parts,
                wall_s=time.perf_counter() - started, solver="greedy")


class _State:
    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.lanes = {m.id: Lane(m, problem.calendar_of(m.id), [b for b in problem.blocks if b.machine == m.id])
                      for m in problem.machines}
        self.placed: dict[tuple[str, str], Placement] = {}
        self.firing_of: dict[tuple[str, str], Firing] = {}
        self.unplanned: list[Unplanned] = []
        self.previous = {p.key: p for p in problem.previous}
        self.running = {p.key for p in problem.running}
        self.next_batch = 0
        self.makespan_rule = problem.objective is Objective.MAKESPAN
        self.work = {job.id: [_min_duration(op) for op in job.operations] for job in problem.jobs}
        self.mean_work = max(1.0, sum(sum(w) for w in self.work.values()) / max(1, problem.operation_count))
        self._place_running()

    def _place_running(self) -> None:
        firings: dict[tuple[str, int, int], Firing] = {}
        for p in sorted(self.problem.running, key=lambda r: (r.machine, r.start, r.end)):
            lane = self.lanes[p.machine]
            op = self.problem.operation(p.job, p.op)
            firing = firings.get((p.machine, p.start, p.end)) if lane.is_batch else None
            if firing is None:
                firing = self._new_firing(lane, op, p.start, p.end)
                firings[(p.machine, p.start, p.end)] = firing
            firing.load += op.batch_load
            self.placed[p.key] = Placement(p.job, p.op, p.machine, p.start, p.end, firing.batch)
            self.firing_of[p.key] = firing

    def run(self) -> None:
        units = [_units(j, job, self.running) for j, job in enumerate(self.problem.jobs)]
        heap: list[tuple] = []
        for j, job_units in enumerate(units):
            first = self._keep_previous_prefix(job_units)
            if first < len(job_units):
                heapq.heappush(heap, (*self._priority(job_units[first]), j, first))
        while heap:
            j, u = heapq.heappop(heap)[-2:]
            unit = units[j][u]
            if self._plan_unit(unit) and u + 1 < len(units[j]):
                heapq.heappush(heap, (*self._priority(units[j][u + 1]), j, u + 1))

    def _keep_previous_prefix(self, job_units: list[_Unit]) -> int:
        """Re-planning: before anything moves, keep each job's units whose previous places are all still valid,
        in chain order; returns the index of the job's first unit left to dispatch. Keeping places before
        dispatching is what keeps a repair small: otherwise an earlier-due job takes a kept place first."""
        kept = 0
        while self.previous and kept < len(job_units) and self._keep_unit(job_units[kept]):
            kept += 1
        return kept

    def _keep_unit(self, unit: _Unit) -> bool:
        job = self.problem.jobs[unit.job]
        chosen: list[Placement] = []
        for index in unit.ops:
            op = job.operations[index]
            earliest, latest = self._window(job, index, chosen[-1] if chosen else None)
            kept = None if _static_reason(op) else self._keep_previous(job, op, earliest, latest)
            if kept is None:
                for placement in reversed(chosen):
                    self._uncommit(placement)
                return False
            chosen.append(self._commit(job, op, kept))
        return True

    def _priority(self, unit: _Unit) -> tuple:
        job = self.problem.jobs[unit.job]
        remaining = sum(self.work[job.id][unit.ops[0]:])
        ready = self._window(job, unit.ops[0], None)[0]
        if self.makespan_rule:
            return (-remaining, ready, unit.ops[0])
        due = math.inf if job.due is None else job.due
        slack = 0 if job.due is None else max(0, job.due - remaining - ready)
        atc = job.weight / max(1, remaining) * math.exp(-slack / (2 * self.mean_work))
        return (due, -atc, -job.weight, remaining, unit.ops[0])

    def _window(self, job: Job, index: int, before: Placement | None) -> tuple[int, int]:
        """Earliest and latest start of operation `index` after `before` (default: its placed predecessor)."""
        op = job.operations[index]
        if before is None and index > 0:
            before = self.placed.get((job.id, job.operations[index - 1].id))
        earliest = max(0, job.release, op.material_ready or 0)
        latest = self.problem.horizon
        if before is not None:
            earliest = max(earliest, before.end + op.min_lag)
            if op.max_lag is not None:
                latest = before.end + op.max_lag
        return earliest, latest

    def _plan_unit(self, unit: _Unit) -> bool:
        """Place the unit's operations; on failure keep the placed prefix and mark the rest unplanned."""
        job = self.problem.jobs[unit.job]
        floors = [0] * len(unit.ops)
        chosen: list[Placement] = []
        backtracks = 0
        while len(chosen) < len(unit.ops):
            i = len(chosen)
            op = job.operations[unit.ops[i]]
            reason = _static_reason(op)
            if reason is not None:
                return self._fail(job, unit.ops[i], reason)
            earliest, latest = self._window(job, unit.ops[i], chosen[-1] if chosen else None)
            candidate, first_start = self._best(job, op, max(earliest, floors[i]), latest)
            if candidate is not None:
                chosen.append(self._commit(job, op, candidate))
                continue
            if first_start is None or i == 0 or backtracks == MAX_BACKTRACKS:
                lag = first_start is not None and op.max_lag is not None
                detail = f"cannot start within its maximum lag of {op.max_lag}" if lag else ""
                return self._fail(job, unit.ops[i], Reason.NO_ROOM_BEFORE_HORIZON, detail)
            backtracks += 1
            previous = chosen.pop()
            self._uncommit(previous)
            floors[i - 1] = first_start - op.max_lag - (previous.end - previous.start)
        return True

    def _best(self, job: Job, op: Operation, earliest: int, latest: int) -> tuple[_Candidate | None, int | None]:
        """The placement completing first among those starting by `latest`, and the first possible start."""
        kept = self._keep_previous(job, op, earliest, latest)
        if kept is not None:
            return kept, kept.start
        best, first_start = None, None
        for option in op.options:
            lane = self.lanes[option.machine]
            needs = self.problem.needs_calendar(op, option.machine)
            start = lane.earliest(earliest, option.duration, op.setup_family, needs, self.problem.horizon)
            found = []
            if start is not None:
                found.append(_Candidate(option.machine, start, start + option.duration, None))
            join_by = latest if start is None else min(latest, start - 1)
            firing = lane.join(op, option.duration, earliest, join_by, needs)
            if firing is not None:
                found.append(_Candidate(option.machine, firing.start, firing.end, firing))
            for candidate in found:
                first_start = candidate.start if first_start is None else min(first_start, candidate.start)
                if candidate.start <= latest and (best is None or candidate.rank < best.rank):
                    best = candidate
        return best, first_start

    def _keep_previous(self, job: Job, op: Operation, earliest: int, latest: int) -> _Candidate | None:
        previous = self.previous.get((job.id, op.id))
        if previous is None or not earliest <= previous.start <= latest:
            return None
        duration = op.duration_on(previous.machine)
        if duration is None:
            return None
        lane, needs = self.lanes[previous.machine], self.problem.needs_calendar(op, previous.machine)
        end = previous.start + duration
        if lane.earliest(previous.start, duration, op.setup_family, needs, self.problem.horizon) == previous.start:
            return _Candidate(previous.machine, previous.start, end, None)
        firing = lane.join(op, duration, previous.start, previous.start, needs)
        return None if firing is None else _Candidate(previous.machine, previous.start, end, firing)

    def _commit(self, job: Job, op: Operation, candidate: _Candidate) -> Placement:
        lane = self.lanes[candidate.machine]
        firing = candidate.firing or self._new_firing(lane, op, candidate.start, candidate.end)
        firing.load += op.batch_load
        placement = Placement(job.id, op.id, candidate.machine, candidate.start, candidate.end, firing.batch)
        self.placed[placement.key] = placement
        self.firing_of[placement.key] = firing
        return placement

    def _uncommit(self, placement: Placement) -> None:
        firing = self.firing_of.pop(placement.key)
        del self.placed[placement.key]
        firing.load -= self.problem.operation(placement.job, placement.op).batch_load
        if firing.load == 0:
            self.lanes[placement.machine].remove(firing)

    def _new_firing(self, lane: Lane, op: Operation, start: int, end: int) -> Firing:
        batch = None
        if lane.is_batch:
            batch, self.next_batch = self.next_batch, self.next_batch + 1
        firing = Firing(start, end, op.setup_family, op.batch_family, 0, batch)
        lane.add(firing)
        return firing

    def _fail(self, job: Job, index: int, reason: Reason, detail: str = "") -> bool:
        self.unplanned.append(Unplanned(job.id, job.operations[index].id, reason, detail or _DETAILS[reason]))
        self._give_up_after_index(job, index)
        return False

    def _give_up_after_index(self, job: Job, index: int) -> None:
        """Every later operation of the job that is not running waits for the one that could not be placed."""
        failed = job.operations[index].id
        for op in job.operations[index + 1:]:
            if (job.id, op.id) not in self.running and (job.id, op.id) not in self.placed:
                self.unplanned.append(Unplanned(job.id, op.id, Reason.PREDECESSOR_UNPLANNED, f"after {failed}"))


_DETAILS = {
    Reason.NO_ELIGIBLE_MACHINE: "no machine can do this operation",
    Reason.WAITING_FOR_MATERIAL: "no arrival of the material is known",
    Reason.NO_ROOM_BEFORE_HORIZON: "no machine has room before the horizon",
}


def _static_reason(op: Operation) -> Reason | None:
    if not op.options:
        return Reason.NO_ELIGIBLE_MACHINE
    if op.material_ready is None:
        return Reason.WAITING_FOR_MATERIAL
    return None


def _min_duration(op: Operation) -> int:
    return min((o.duration for o in op.options), default=0)


def _units(j: int, job: Job, running: set[tuple[str, str]]) -> list[_Unit]:
    """Cut the job's operations that are not running into runs tied by maximum lags."""
    units: list[list[int]] = []
    for index, op in enumerate(job.operations):
        if (job.id, op.id) in running:
            continue
        tied = index > 0 and op.max_lag is not None and (job.id, job.operations[index - 1].id) not in running
        if tied and units and units[-1][-1] == index - 1:
            units[-1].append(index)
        else:
            units.append([index])
    return [_Unit(j, tuple(u)) for u in units]
