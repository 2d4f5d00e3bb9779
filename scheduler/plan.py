"""The planner's answer. Infeasible or timed out is a status, never an exception."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from scheduler.problem import Placement


class Status(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNKNOWN = "unknown"


class Reason(StrEnum):
    NO_ELIGIBLE_MACHINE = "no_eligible_machine"
    NO_ROOM_BEFORE_HORIZON = "no_room_before_horizon"
    WAITING_FOR_MATERIAL = "waiting_for_material"
    PREDECESSOR_UNPLANNED = "predecessor_unplanned"


@dataclass(frozen=True)
class Unplanned:
    job: str
    op: str
    reason: Reason
    detail: str = ""


@dataclass(frozen=True)
class Plan:
    status: Status
    assignments: tuple[Placement, ...] = ()
    unplanned: tuple[Unplanned, ...] = ()
    lateness: Mapping[str, int] = field(default_factory=dict)  # job -> completion - due (negative: early)
    objective: int | None = None
    bound: int | None = None
    terms: Mapping[str, int] = field(default_factory=dict)  # unplanned, tardiness, fairness, moved, flow / makespan
    wall_s: float = 0.0
    solver: str = ""  # "cp-sat", "greedy", ...

    @property
    def gap(self) -> float | None:
        """Relative distance between objective and bound; 0 when proven optimal."""
        if self.objective is None or self.bound is None:
            return None
        if self.objective == 0:
            return 0.0
        return max(0.0, (self.objective - self.bound) / abs(self.objective))

    @property
    def makespan(self) -> int:
        return max((a.end for a in self.assignments), default=0)

    def placement(self, job: str, op: str) -> Placement | None:
        return next((a for a in self.assignments if a.job == job and a.op == op), None)
