"""The library's own problem format: JSON objects mapping the dataclasses of scheduler.problem field by field.

Every field but the ids, `machines`, `jobs`, an operation's `options` and the times of blocks, options and
placements has the dataclass's default. Unknown fields are refused (keys starting with "_" are comments),
and every error names its JSON path: `jobs[1].operations[0].options[0].duration: expected an integer`.
scheduler/README.md documents the format with an example.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from scheduler.plan import Plan
from scheduler.problem import (
    Block,
    BlockKind,
    Calendar,
    Job,
    Machine,
    Objective,
    Operation,
    Option,
    Placement,
    Problem,
    ProblemError,
)

_REQUIRED = object()
_KINDS = {int: "an integer", str: "a string", bool: "true or false", list: "a list", dict: "an object"}


class _Fields:
    """One JSON object at `path`; each read checks presence and type, `check_all_read` refuses the rest."""

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise ProblemError(f"{path or 'the problem'}: expected an object, got {_show(value)}")
        self.value, self.path, self.read = value, path, set()

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, kind: type, default: Any = _REQUIRED, *, nullable: bool = False) -> Any:
        self.read.add(key)
        if key not in self.value:
            if default is _REQUIRED:
                raise ProblemError(f"{self.at(key)}: missing")
            return default
        value = self.value[key]
        if value is None and nullable:
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            expected = _KINDS[kind] + (" or null" if nullable else "")
            raise ProblemError(f"{self.at(key)}: expected {expected}, got {_show(value)}")
        return value

    def items(self, key: str, build: Callable[[_Fields], Any], *, required: bool = False) -> tuple:
        values = self.get(key, list, _REQUIRED if required else [])
        return tuple(_built(f"{self.at(key)}[{i}]", build, item) for i, item in enumerate(values))

    def choice(self, key: str, enum: type, default: Any) -> Any:
        value = self.get(key, str, default.value)
        try:
            return enum(value)
        except ValueError:
            allowed = ", ".join(repr(member.value) for member in enum)
            raise ProblemError(f"{self.at(key)}: {value!r} is not one of {allowed}") from None

    def check_all_read(self) -> None:
        unknown = sorted(k for k in self.value if k not in self.read and not str(k).startswith("_"))
        if unknown:
            raise ProblemError(f"{self.path or 'the problem'}: unknown field {unknown[0]!r}")


def _built(path: str, build: Callable[[_Fields], Any], value: Any) -> Any:
    fields = _Fields(value, path)
    try:
        result = build(fields)
    except ProblemError as error:
        message = str(error)
        raise ProblemError(message if message.startswith(path) else f"{path}: {message}") from None
    fields.check_all_read()
    return result


def _show(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)
    return kind if isinstance(value, (list, dict)) or value is None else f"{kind} {json.dumps(value)[:40]}"


def load_problem(data: Any) -> Problem:
    """The Problem a decoded JSON document describes; ProblemError (naming the JSON path) if it cannot."""
    root = _Fields(data, "")
    machines = root.items("machines", _machine, required=True)
    jobs = root.items("jobs", _job, required=True)
    calendars, blocks = root.items("calendars", _calendar), root.items("blocks", _block)
    running, previous = root.items("running", _placement), root.items("previous", _placement)
    objective = root.choice("objective", Objective, Objective.TARDINESS)
    horizon = root.get("horizon", int, None)
    root.check_all_read()
    if horizon is None:
        horizon = _default_horizon(jobs, calendars, blocks, running)
    return Problem(machines, jobs, horizon, calendars, blocks, running, previous, objective)


def _default_horizon(jobs: tuple[Job, ...], calendars: tuple[Calendar, ...], blocks: tuple[Block, ...],
                     running: tuple[Placement, ...]) -> int:
    """The latest time the input mentions plus every operation's longest duration."""
    times = [0, *(w_end for c in calendars for _, w_end in c.open), *(b.end for b in blocks),
             *(p.end for p in running), *(j.due or j.release for j in jobs),
             *(op.material_ready or 0 for j in jobs for op in j.operations)]
    work = sum(max((o.duration for o in op.options), default=0) for j in jobs for op in j.operations)
    return max(times) + max(1, work)


def _machine(f: _Fields) -> Machine:
    capabilities = f.get("capabilities", list, [])
    for i, capability in enumerate(capabilities):
        if not isinstance(capability, str):
            raise ProblemError(f"{f.at('capabilities')}[{i}]: expected a string, got {_show(capability)}")
    return Machine(f.get("id", str), frozenset(capabilities), f.get("unattended", bool, False),
                   f.get("calendar", str, None, nullable=True), f.get("batch_capacity", int, 1),
                   f.get("setup_time", int, 0))


def _calendar(f: _Fields) -> Calendar:
    windows = []
    for i, window in enumerate(f.get("open", list)):
        valid = isinstance(window, list) and len(window) == 2 and all(
            isinstance(t, int) and not isinstance(t, bool) for t in window)
        if not valid:
            raise ProblemError(f"{f.at('open')}[{i}]: expected [start, end] in minutes, got {_show(window)}")
        windows.append((window[0], window[1]))
    return Calendar(f.get("id", str), tuple(windows))


def _block(f: _Fields) -> Block:
    return Block(f.get("machine", str), f.get("start", int), f.get("end", int),
                 f.choice("kind", BlockKind, BlockKind.BOOKING), f.get("label", str, ""))


def _job(f: _Fields) -> Job:
    return Job(f.get("id", str), f.items("operations", _operation, required=True), f.get("coop", str, ""),
               f.get("release", int, 0), f.get("due", int, None, nullable=True), f.get("weight", int, 1))


def _operation(f: _Fields) -> Operation:
    return Operation(
        f.get("id", str), f.items("options", _option, required=True),
        setup_family=f.get("setup_family", str, None, nullable=True),
        needs_operator=f.get("needs_operator", bool, False), material=f.get("material", str, None, nullable=True),
        material_ready=f.get("material_ready", int, 0, nullable=True), min_lag=f.get("min_lag", int, 0),
        max_lag=f.get("max_lag", int, None, nullable=True),
        batch_family=f.get("batch_family", str, None, nullable=True), batch_load=f.get("batch_load", int, 1))


def _option(f: _Fields) -> Option:
    return Option(f.get("machine", str), f.get("duration", int))


def _placement(f: _Fields) -> Placement:
    return Placement(f.get("job", str), f.get("op", str), f.get("machine", str), f.get("start", int),
                     f.get("end", int), f.get("batch", int, None, nullable=True))


def dump_problem(problem: Problem) -> dict:
    """The JSON document of a Problem, every field written out: `load_problem` gives the same Problem back."""
    data = {"horizon": problem.horizon, "objective": problem.objective.value,
            **{name: [asdict(item) for item in getattr(problem, name)]
               for name in ("machines", "calendars", "blocks", "jobs", "running", "previous")}}
    for machine in data["machines"]:
        machine["capabilities"] = sorted(machine["capabilities"])
    for block in data["blocks"]:
        block["kind"] = block["kind"].value
    return json.loads(json.dumps(data))  # tuples become lists


def read_json(path: str | Path) -> Problem:
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as error:
        raise ProblemError(f"not valid JSON: {error}") from None
    return load_problem(data)


def plan_to_json(plan: Plan, *, numeric_ids: bool = False) -> dict:
    """The answer of DESIGN.md 4.3; `numeric_ids` writes the benchmark formats' "0", "1", ... as numbers."""
    ident: Callable[[str], Any] = int if numeric_ids else str
    makespan_objective = "makespan" in plan.terms
    return {
        "status": plan.status.value,
        "makespan": plan.makespan if plan.assignments else None,
        "lower_bound": plan.bound if makespan_objective else None,
        "objective": plan.objective,
        "wall_s": round(plan.wall_s, 3),
        "assignments": [{"job": ident(a.job), "op": ident(a.op), "machine": ident(a.machine), "start": a.start,
                         "end": a.end, **({} if a.batch is None else {"batch": a.batch})}
                        for a in plan.assignments],
        "unplanned": [{"job": ident(u.job), "op": ident(u.op), "reason": u.reason.value, "detail": u.detail}
                      for u in plan.unplanned],
        "lateness": dict(plan.lateness),
        "terms": dict(plan.terms),
        "solver": plan.solver,
        "gap": plan.gap,
    }
