"""The Brandimarte / Hurink flexible job shop format.

Line 1: `jobs machines [average flexibility]`. Then per job: the number of operations and, for each
operation, the number of eligible machines followed by that many `machine duration` pairs, machines from 1.
Machines become "0", "1", ... (the file's machine 1 is "0").
"""

from __future__ import annotations

from pathlib import Path

from scheduler.io.jssp import Tokens, numbered_problem
from scheduler.problem import Option, Problem, ProblemError


def parse_fjs(text: str) -> Problem:
    tokens = Tokens(text, "fjs")
    jobs, machines = tokens.header(skip_rest_of_line=True)
    routes = []
    for job in range(jobs):
        route = []
        for op in range(tokens.integer(f"the number of operations of job {job}", minimum=1)):
            where = f"job {job}, operation {op}"
            options = []
            for _ in range(tokens.integer(f"the number of machines of {where}", minimum=1, maximum=machines)):
                machine = tokens.integer(f"a machine of {where}", minimum=1, maximum=machines) - 1
                options.append(Option(str(machine), tokens.integer(f"a duration of {where}", minimum=1)))
            if len({o.machine for o in options}) < len(options):
                raise ProblemError(f"fjs: {where} lists a machine twice")
            route.append(tuple(options))
        routes.append(route)
    tokens.end()
    return numbered_problem(machines, routes)


def read_fjs(path: str | Path) -> Problem:
    return parse_fjs(Path(path).read_text())
