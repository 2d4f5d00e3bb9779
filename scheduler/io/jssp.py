"""The OR-Library job shop format: `jobs machines`, then per job its `machine duration` pairs, machines from 0.

Also the two helpers the benchmark formats share: a token reader whose errors say what was expected
where, and the numbered problem both formats become (jobs, operations and machines "0", "1", ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from scheduler.problem import Job, Machine, Objective, Operation, Option, Problem, ProblemError


def parse_jssp(text: str) -> Problem:
    tokens = Tokens(text, "jssp")
    jobs, machines = tokens.header()
    routes = []
    for job in range(jobs):
        route = []
        for op in range(machines):
            where = f"job {job}, operation {op}"
            machine = tokens.integer(f"the machine of {where}", minimum=0, maximum=machines - 1)
            route.append((Option(str(machine), tokens.integer(f"the duration of {where}", minimum=1)),))
        routes.append(route)
    tokens.end()
    return numbered_problem(machines, routes)


def read_jssp(path: str | Path) -> Problem:
    return parse_jssp(Path(path).read_text())


def numbered_problem(machines: int, routes: Sequence[Sequence[tuple[Option, ...]]]) -> Problem:
    """Jobs in file order, each a sequence of operations given by their options; the objective is makespan."""
    jobs = tuple(Job(str(j), tuple(Operation(str(k), options) for k, options in enumerate(route)))
                 for j, route in enumerate(routes))
    horizon = sum(max(o.duration for o in options) for route in routes for options in route)
    return Problem(tuple(Machine(str(m)) for m in range(machines)), jobs, max(1, horizon),
                   objective=Objective.MAKESPAN)


class Tokens:
    """Whitespace-separated integers read one at a time, with errors naming the line and what was expected."""

    def __init__(self, text: str, what: str) -> None:
        self.what = what
        self.items = [(number, token) for number, line in enumerate(text.splitlines(), 1) for token in line.split()]
        self.position = 0

    def header(self, *, skip_rest_of_line: bool = False) -> tuple[int, int]:
        """`jobs machines`, then (fjs) skip what follows on that line: the average flexibility."""
        jobs = self.integer("the number of jobs", minimum=1)
        machines = self.integer("the number of machines", minimum=1)
        line = self.items[self.position - 1][0]
        while skip_rest_of_line and self.position < len(self.items) and self.items[self.position][0] == line:
            self.position += 1
        return jobs, machines

    def integer(self, meaning: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
        if self.position >= len(self.items):
            raise ProblemError(f"{self.what}: the file ends where {meaning} was expected")
        line, token = self.items[self.position]
        self.position += 1
        try:
            value = int(token)
        except ValueError:
            raise ProblemError(f"{self.what} line {line}: {meaning} should be an integer, not {token!r}") from None
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            bounds = f"from {minimum}" + ("" if maximum is None else f" to {maximum}")
            raise ProblemError(f"{self.what} line {line}: {meaning} is {value}, expected {bounds}")
        return value

    def end(self) -> None:
        if self.position < len(self.items):
            line, token = self.items[self.position]
            raise ProblemError(f"{self.what} line {line}: unexpected {token!r} after the last job")
