"""The planner's input: frozen dataclasses, checked on construction. Times are integer minutes from `now` (0).

A `Problem` is a snapshot: the machines, when they may run (calendars), what already blocks them
(bookings, maintenance, downtime, other co-ops' lease windows), the jobs that orders pulled in, the
operations already running (pinned), and the previous plan (for stability).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class ProblemError(ValueError):
    """The input contradicts itself (an unknown machine, a window that ends before it starts, ...)."""


class BlockKind(StrEnum):
    BOOKING = "booking"
    MAINTENANCE = "maintenance"
    DOWNTIME = "downtime"
    LEASE = "lease"


class Objective(StrEnum):
    TARDINESS = "tardiness"  # the factory's lexicographic objective (see scheduler/README.md)
    MAKESPAN = "makespan"  # the classic benchmarks
    PROMPT = "prompt"  # as tardiness, but flow is release to end: done as soon as it can be, never held back


@dataclass(frozen=True)
class Machine:
    id: str
    capabilities: frozenset[str] = frozenset()
    unattended: bool = False  # may run without an operator, outside its calendar's open windows
    calendar: str | None = None  # a Calendar id; None: open around the clock
    batch_capacity: int = 1  # > 1: a kiln or furnace firing several compatible operations together
    setup_time: int = 0  # minutes needed between two operations of different setup families

    def __post_init__(self) -> None:
        _require(bool(self.id), "a machine needs an id")
        _require(self.batch_capacity >= 1, f"machine {self.id}: batch capacity must be at least 1")
        _require(self.setup_time >= 0, f"machine {self.id}: setup time cannot be negative")


@dataclass(frozen=True)
class Calendar:
    """Open windows [start, end) of a site, in minutes from now, sorted and disjoint."""

    id: str
    open: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        for start, end in self.open:
            _require(start < end, f"calendar {self.id}: window ({start}, {end}) ends before it starts")
        for (_, end), (start, _) in zip(self.open, self.open[1:], strict=False):
            _require(end < start, f"calendar {self.id}: windows must be sorted, disjoint and not touching")

    def contains(self, start: int, end: int) -> bool:
        """Whether [start, end) lies inside one open window."""
        return any(w_start <= start and end <= w_end for w_start, w_end in self.open)


@dataclass(frozen=True)
class Block:
    """Time a machine is not available to the planner: [start, end)."""

    machine: str
    start: int
    end: int
    kind: BlockKind = BlockKind.BOOKING
    label: str = ""

    def __post_init__(self) -> None:
        _require(self.start < self.end, f"block on {self.machine}: ({self.start}, {self.end}) ends before it starts")


@dataclass(frozen=True)
class Option:
    """One machine that can do an operation, and how long it takes there."""

    machine: str
    duration: int

    def __post_init__(self) -> None:
        _require(self.duration > 0, f"option on {self.machine}: duration must be positive")


@dataclass(frozen=True)
class Operation:
    id: str
    options: tuple[Option, ...]  # empty: no machine can do it (it is reported unplanned, not an error)
    setup_family: str | None = None  # e.g. the filament or tool; a change costs the machine's setup time
    needs_operator: bool = False  # True: inside the calendar even on a machine that may run unattended
    material: str | None = None
    material_ready: int | None = 0  # when the material is there; None: no arrival known (waiting)
    min_lag: int = 0  # minutes after the previous operation of the job ends, at least
    max_lag: int | None = None  # ... and at most
    batch_family: str | None = None  # operations of one family may share a firing on a batch machine
    batch_load: int = 1  # capacity units taken in a firing

    def __post_init__(self) -> None:
        _require(bool(self.id), "an operation needs an id")
        machines = [o.machine for o in self.options]
        _require(len(machines) == len(set(machines)), f"operation {self.id}: a machine is listed twice")
        _require(self.min_lag >= 0, f"operation {self.id}: min lag cannot be negative")
        _require(self.max_lag is None or self.max_lag >= self.min_lag,
                 f"operation {self.id}: max lag is below min lag")
        _require(self.batch_load >= 1, f"operation {self.id}: batch load must be at least 1")

    def duration_on(self, machine: str) -> int | None:
        return next((o.duration for o in self.options if o.machine == machine), None)


@dataclass(frozen=True)
class Job:
    """A small batch of an order: operations in sequence, released at `release`, wanted by `due`."""

    id: str
    operations: tuple[Operation, ...]
    coop: str = ""
    release: int = 0
    due: int | None = None  # None: no due date (no tardiness, no earliness)
    weight: int = 1

    def __post_init__(self) -> None:
        _require(bool(self.operations), f"job {self.id}: needs at least one operation")
        ids = [op.id for op in self.operations]
        _require(len(ids) == len(set(ids)), f"job {self.id}: operation ids repeat")
        _require(self.weight >= 0, f"job {self.id}: weight cannot be negative")
        _require(self.due is None or self.due >= self.release, f"job {self.id}: due before its release")


@dataclass(frozen=True)
class Placement:
    """An operation placed on a machine: [start, end). Used for running operations and plans."""

    job: str
    op: str
    machine: str
    start: int
    end: int
    batch: int | None = None  # operations of one firing share a batch number

    @property
    def key(self) -> tuple[str, str]:
        return (self.job, self.op)


@dataclass(frozen=True)
class Problem:
    machines: tuple[Machine, ...]
    jobs: tuple[Job, ...]
    horizon: int
    calendars: tuple[Calendar, ...] = ()
    blocks: tuple[Block, ...] = ()
    running: tuple[Placement, ...] = ()  # operations already started: pinned where they are
    previous: tuple[Placement, ...] = ()  # the plan in force, for stability and hints
    objective: Objective = Objective.TARDINESS
    _index: dict = field(default=None, init=False, repr=False, compare=False)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        _require(self.horizon > 0, "horizon must be positive")
        machines = _unique((m.id for m in self.machines), "machine")
        calendars = _unique((c.id for c in self.calendars), "calendar")
        _unique((j.id for j in self.jobs), "job")
        for machine in self.machines:
            _require(machine.calendar is None or machine.calendar in calendars,
                     f"machine {machine.id}: unknown calendar {machine.calendar!r}")
        for block in self.blocks:
            _require(block.machine in machines, f"block: unknown machine {block.machine!r}")
        ops = {}
        for job in self.jobs:
            for op in job.operations:
                ops[(job.id, op.id)] = op
                for option in op.options:
                    _require(option.machine in machines,
                             f"operation {job.id}/{op.id}: unknown machine {option.machine!r}")
        for placement in self.running:
            op = ops.get(placement.key)
            _require(op is not None, f"running operation {placement.job}/{placement.op} is not in any job")
            _require(op.duration_on(placement.machine) is not None,
                     f"running operation {placement.job}/{placement.op} is on a machine it cannot use")
            _require(placement.start < placement.end, f"running operation {placement.job}/{placement.op}: bad times")
        _require(len({p.key for p in self.running}) == len(self.running), "an operation is running twice")
        object.__setattr__(self, "_index", {"machines": {m.id: m for m in self.machines},
                                            "calendars": {c.id: c for c in self.calendars}, "ops": ops})

    def machine(self, machine_id: str) -> Machine:
        return self._index["machines"][machine_id]

    def calendar_of(self, machine_id: str) -> Calendar | None:
        calendar = self.machine(machine_id).calendar
        return None if calendar is None else self._index["calendars"][calendar]

    def operation(self, job: str, op: str) -> Operation:
        return self._index["ops"][(job, op)]

    def has_operation(self, job: str, op: str) -> bool:
        return (job, op) in self._index["ops"]

    def needs_calendar(self, op: Operation, machine_id: str) -> bool:
        """Whether `op` on this machine must run inside the machine's open windows."""
        machine = self.machine(machine_id)
        return machine.calendar is not None and (op.needs_operator or not machine.unattended)

    @property
    def operation_count(self) -> int:
        return len(self._index["ops"])


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ProblemError(message)


def _unique(ids: Iterable[str], what: str) -> set[str]:
    seen: set[str] = set()
    for item in ids:
        _require(item not in seen, f"{what} id {item!r} appears twice")
        seen.add(item)
    return seen
