"""`python -m scheduler solve INSTANCE --format jssp|fjs|json ...`: one JSON answer on stdout (DESIGN.md 4.3).

Progress goes to stderr, one line per improving solution (`--verbose`: CP-SAT's whole log; `--quiet`: none).
An unreadable or contradictory instance is a message on stderr and exit status 2; an infeasible or
timed-out solve is an answer, exit status 0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from scheduler.greedy import dispatch
from scheduler.io import NUMBERED_FORMATS, READERS, plan_to_json, read_problem
from scheduler.plan import Plan
from scheduler.problem import Objective, Problem, ProblemError
from scheduler.solve import solve

EXIT_BAD_INPUT = 2
# Without --verbose, of CP-SAT's search log only the improving solutions ("#3  0.41s best:57 ...") are shown,
# with solve()'s own summary lines.
PROGRESS = re.compile(r"#\d+\s|(greedy|model built|cp-sat)\b")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        problem = read_problem(args.instance, args.format)
        if args.objective is not None:
            problem = replace(problem, objective=Objective(args.objective))
    except (OSError, UnicodeDecodeError) as error:
        return _refuse(f"cannot read {args.instance}: {getattr(error, 'strerror', None) or error}")
    except ProblemError as error:
        return _refuse(f"{args.instance}: {error}")
    plan = _run(problem, args)
    json.dump(plan_to_json(plan, numeric_ids=args.format in NUMBERED_FORMATS), sys.stdout)
    sys.stdout.write("\n")
    return 0


def _run(problem: Problem, args: argparse.Namespace) -> Plan:
    if args.solver == "greedy":
        return dispatch(problem)
    started = time.monotonic()

    def progress(message: str) -> None:
        if args.verbose or PROGRESS.match(message):
            print(f"[{time.monotonic() - started:7.2f} s] {message.rstrip()}", file=sys.stderr, flush=True)

    return solve(problem, time_limit_s=args.time_limit, workers=args.workers,
                 log_progress=None if args.quiet else progress)


def _refuse(message: str) -> int:
    print(f"scheduler: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scheduler", description="Plan jobs on shared machines.")
    commands = parser.add_subparsers(dest="command", required=True)
    solve_command = commands.add_parser("solve", help="solve one instance and print the plan as JSON")
    solve_command.add_argument("instance", help="the problem file")
    solve_command.add_argument("--format", required=True, choices=sorted(READERS),
                               help="jssp (OR-Library), fjs (Brandimarte) or json (scheduler/README.md)")
    solve_command.add_argument("--time-limit", type=_positive(float), default=10.0, metavar="S",
                               help="seconds CP-SAT may search (default 10)")
    solve_command.add_argument("--workers", type=_positive(int), default=2, metavar="N",
                               help="CP-SAT search workers (default 2)")
    solve_command.add_argument("--objective", choices=[o.value for o in Objective],
                               help="override the problem's objective (jssp and fjs: makespan)")
    solve_command.add_argument("--solver", choices=("cpsat", "greedy"), default="cpsat",
                               help="cpsat (default) or the greedy dispatcher alone")
    chatter = solve_command.add_mutually_exclusive_group()
    chatter.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    chatter.add_argument("--verbose", action="store_true", help="CP-SAT's whole search log on stderr")
    return parser


def _positive(kind: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be positive")
        return value

    return parse
