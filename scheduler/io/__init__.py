"""Readers of problem files and the writer of answers (DESIGN.md 4.3).

`jssp` (OR-Library job shop) and `fjs` (Brandimarte flexible job shop) become makespan problems with jobs,
operations and machines "0", "1", ... in file order; `json` is the library's own format (scheduler/README.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from scheduler.io.fjs import parse_fjs, read_fjs
from scheduler.io.json_format import dump_problem, load_problem, plan_to_json, read_json
from scheduler.io.jssp import parse_jssp, read_jssp
from scheduler.problem import Problem

READERS: dict[str, Callable[[str | Path], Problem]] = {"jssp": read_jssp, "fjs": read_fjs, "json": read_json}
NUMBERED_FORMATS = frozenset({"jssp", "fjs"})  # their answers give ids as integers

__all__ = ["NUMBERED_FORMATS", "READERS", "dump_problem", "load_problem", "parse_fjs", "parse_jssp",
           "plan_to_json", "read_fjs", "read_json", "read_jssp", "read_problem"]


def read_problem(path: str | Path, format: str) -> Problem:
    """The problem in file `path` written in `format` (jssp, fjs or json); OSError or ProblemError if not."""
    return READERS[format](path)
