"""The planner against its baselines: the greedy dispatcher alone and a plain CP-SAT model, side by side in one run.

`python -m benchmarks.scheduler_bench [--quick] [--out docs/benchmarks.md]`. Shared instances (`../shared/bench`,
makespan): greedy, plain CP-SAT and `scheduler.solve` at 1, 10 and 30 s; factory instances (tardiness):
greedy and `solve`, then a re-plan after the busiest machine fails half-way. Two workers throughout. The
full run takes 10-25 minutes (less when runs prove optimality early); `--quick` runs 1-s limits on small
instances only, in about ten seconds (a smoke test).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from benchmarks.factory_instances import SIZES, busiest_machine, factory_problem, fail_machine
from benchmarks.plain_cpsat import solve_plain
from scheduler.check import violations
from scheduler.greedy import dispatch
from scheduler.io.fjs import read_fjs
from scheduler.io.jssp import read_jssp
from scheduler.problem import Problem
from scheduler.solve import solve

BENCH_DIR = Path(__file__).resolve().parents[2] / "shared" / "bench"
SHARED = ("jssp/ft06.txt", "jssp/ft10.txt", "jssp/ft20.txt", *(f"fjs/mk{n:02d}.txt" for n in range(1, 11)))
QUICK_SHARED = ("jssp/ft06.txt", "jssp/ft10.txt", "fjs/mk01.txt", "fjs/mk04.txt")
LIMITS, QUICK_LIMITS = (1, 10, 30), (1,)
WORKERS = 2
REPLAN_LIMIT_S = 1.8  # the answer, checked, within the 2 s the issue asks


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _greedy(problem: Problem) -> dict:
    started = time.perf_counter()
    plan = dispatch(problem)
    return {"plan": plan, "objective": plan.objective, "wall_s": time.perf_counter() - started,
            "violations": len(violations(problem, plan)), "terms": dict(plan.terms)}


def _is_first_plan(message: str) -> bool:
    """A progress line announcing a plan: the checked greedy plan (`greedy: objective N`; `None` when the
    checker rejected it), or a CP-SAT solution (`#1 ...`)."""
    return (message.startswith("greedy: objective ") and not message.startswith("greedy: objective None")) \
        or bool(re.match(r"#\d", message))


def _ours(problem: Problem, limit: float) -> dict:
    """`solve`, timing its first feasible plan from its progress log."""
    started = time.perf_counter()
    first: list[float] = []

    def progress(message: str) -> None:
        if not first and _is_first_plan(message):
            first.append(time.perf_counter() - started)

    plan = solve(problem, time_limit_s=limit, workers=WORKERS, log_progress=progress)
    wall = time.perf_counter() - started
    return {"plan": plan, "status": str(plan.status), "objective": plan.objective, "bound": plan.bound,
            "gap": plan.gap, "terms": dict(plan.terms), "wall_s": wall, "first_s": first[0] if first else None,
            "violations": len(violations(problem, plan))}


def _read(name: str, bench_dir: Path) -> Problem:
    return (read_fjs if name.startswith("fjs/") else read_jssp)(bench_dir / name)


def run_shared(names, limits, bench_dir: Path) -> list[dict]:
    best = json.loads((bench_dir / "bks.json").read_text())
    rows = []
    for name in names:
        problem = _read(name, bench_dir)
        row = {"name": name, "ub": best[name]["ub"], "lb": best[name]["lb"], "greedy": _greedy(problem), "runs": {}}
        for limit in limits:
            plain = solve_plain(problem, time_limit_s=limit, workers=WORKERS)
            ours = _ours(problem, limit)
            row["runs"][limit] = {"plain": plain, "ours": ours}
            _say(f"{name} {limit:>2} s: plain {plain.makespan} ({plain.status}), ours {ours['objective']} "
                 f"({ours['status']}), best known {row['ub']}")
        rows.append(row)
    return rows


def moved_elsewhere(problem: Problem, plan, broken: str) -> tuple[int, int]:
    """(moved, movable): operations of the previous plan not on the broken machine and not running."""
    pinned = {r.key for r in problem.running}
    now = {a.key: (a.machine, a.start) for a in plan.assignments}
    movable = [p for p in problem.previous if p.machine != broken and p.key not in pinned]
    return sum(1 for p in movable if now.get(p.key) != (p.machine, p.start)), len(movable)


def run_factory(sizes, limits) -> list[dict]:
    rows = []
    for machines, operations in sizes:
        problem = factory_problem(machines, operations)
        row = {"machines": machines, "operations": operations, "greedy": _greedy(problem), "runs": {}}
        for limit in limits:
            row["runs"][limit] = _ours(problem, limit)
            run = row["runs"][limit]
            _say(f"factory {machines}/{operations} {limit:>2} s: {run['objective']} ({run['status']}), "
                 f"first plan at {run['first_s']}, violations {run['violations']}")
        row["replan"] = _replan(problem, row["runs"][max(limits)]["plan"])
        rows.append(row)
    return rows


def _replan(problem: Problem, plan) -> dict:
    """The busiest machine breaks when half the planned operations have started; re-plan at REPLAN_LIMIT_S."""
    starts = sorted(a.start for a in plan.assignments)
    at = starts[len(starts) // 2]
    broken = busiest_machine(plan, at)
    snapshot = fail_machine(problem, plan, broken, at)
    result = {"at": at, "machine": broken, "operations": snapshot.operation_count, "pinned": len(snapshot.running)}
    for solver, run in (("greedy", _greedy(snapshot)), ("ours", _ours(snapshot, REPLAN_LIMIT_S))):
        moved, movable = moved_elsewhere(snapshot, run["plan"], broken)
        result[solver] = {**run, "moved": moved, "movable": movable, "unplanned": len(run["plan"].unplanned)}
    _say(f"re-plan {problem.operation_count} ops, {broken} fails at {at}: {result['ours']['wall_s']:.2f} s, "
         f"moved {result['ours']['moved']}/{result['ours']['movable']}")
    return result


def gap_to_best(value: int | None, best: int) -> float | None:
    return None if value is None else (value - best) / best


def _mean_gap(rows: list[dict], limit: int, value) -> float:
    """Mean gap to best known; an instance without a plan counts as 100%."""
    gaps = [gap_to_best(value(r["runs"][limit]), r["ub"]) for r in rows]
    return statistics.mean(1.0 if g is None else g for g in gaps)


def _verdict(ok: bool) -> str:
    return "**holds**" if ok else "**fails**"


def targets(shared: list[dict], factory: list[dict], limits) -> list[str]:
    """The issue's targets, one line each: what was measured and whether it holds."""
    lines = []
    for limit in limits:
        runs = [(r, r["runs"][limit]["plain"].makespan, r["runs"][limit]["ours"]["objective"]) for r in shared]
        contested = [(r, plain, ours) for r, plain, ours in runs if plain is None or plain > r["lb"]]
        missed = [r["name"] for r, plain, ours in contested if ours is None or (plain is not None and ours >= plain)]
        lines.append(f"At {limit} s ours beats plain CP-SAT on {len(contested) - len(missed)} of the {len(contested)} "
                     f"instances where plain is not optimal (missed: {', '.join(missed) or 'none'}): "
                     f"{_verdict(not missed)}.")
    top = max(limits)
    plain = _mean_gap(shared, top, lambda run: run["plain"].makespan)
    ours = _mean_gap(shared, top, lambda run: run["ours"]["objective"])
    lines.append(f"Mean gap to best known at {top} s over {len(shared)} instances: plain {plain:.2%}, ours {ours:.2%}; "
                 f"halved: {_verdict(ours <= plain / 2)}.")
    for row in (r for r in factory if r["operations"] == 1000):
        first = max(run["first_s"] if run["first_s"] is not None else float("inf") for run in row["runs"].values())
        replan = row["replan"]["ours"]
        share = replan["moved"] / replan["movable"] if replan["movable"] else 0.0
        lines.append(f"First feasible plan for 1,000 operations within 2 s: {first:.2f} s (slowest of "
                     f"{len(row['runs'])} runs): {_verdict(first <= 2)}.")
        lines.append(f"Re-plan of 1,000 operations after a failure within 2 s, moving at most 10% of the operations "
                     f"not on the failed machine: {replan['wall_s']:.2f} s, {share:.1%} moved, checker "
                     f"{replan['violations']}: {_verdict(replan['wall_s'] <= 2 and share <= 0.10)}.")
    return lines


def machine_line() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")), "?") if cpuinfo.exists() else platform.processor()
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, ortools {version('ortools')}"


def _n(value) -> str:
    return "–" if value is None else f"{value:,}" if isinstance(value, int) else str(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _s(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _shared_tables(shared: list[dict], limits) -> list[str]:
    greedy = [[r["name"], str(r["ub"]), _n(r["greedy"]["objective"]), _pct(gap_to_best(r["greedy"]["objective"],
               r["ub"])), f"{r['greedy']['wall_s'] * 1000:.1f}", str(r["greedy"]["violations"])] for r in shared]
    rows = []
    for r in shared:
        for limit in limits:
            plain, ours = r["runs"][limit]["plain"], r["runs"][limit]["ours"]
            rows.append([r["name"], str(limit), _n(plain.makespan), _n(plain.bound), _pct(plain.gap),
                         _pct(gap_to_best(plain.makespan, r["ub"])), _s(plain.first_solution_s),
                         _n(ours["objective"]), _n(ours["bound"]), _pct(ours["gap"]),
                         _pct(gap_to_best(ours["objective"], r["ub"])), _s(ours["first_s"]), str(ours["violations"])])
    return [*_table(["instance", "best known", "greedy", "vs best", "greedy ms", "checker"], greedy), "",
            *_table(["instance", "limit s", "plain", "bound", "gap", "vs best", "first s", "ours", "bound", "gap",
                     "vs best", "first s", "checker"], rows)]


def _factory_tables(factory: list[dict], limits) -> list[str]:
    rows = []
    for r in factory:
        runs = [("greedy", "–", r["greedy"]), *(("ours", str(limit), r["runs"][limit]) for limit in limits)]
        for solver, limit, run in runs:
            terms = [_n(run["terms"].get(k)) for k in ("unplanned", "tardiness", "fairness", "flow")]
            rows.append([f"{r['machines']} / {r['operations']}", solver, limit, _n(run["objective"]), *terms,
                         _n(run.get("bound")), _pct(run.get("gap")), _s(run.get("first_s", run["wall_s"])),
                         _s(run["wall_s"]), str(run["violations"])])
    replans = []
    for r in factory:
        rp = r["replan"]
        for solver in ("greedy", "ours"):
            run = rp[solver]
            share = run["moved"] / run["movable"] if run["movable"] else 0.0
            replans.append([f"{r['machines']} / {r['operations']}", rp["machine"], str(rp["at"]), str(rp["operations"]),
                            str(rp["pinned"]), solver, _s(run["wall_s"]), _s(run.get("first_s", run["wall_s"])),
                            f"{run['moved']} / {run['movable']}", _pct(share), str(run["unplanned"]),
                            str(run["violations"])])
    return [*_table(["machines / ops", "solver", "limit s", "objective", "unplanned", "tardiness", "fairness", "flow",
                     "bound", "gap", "first s", "wall s", "checker"], rows), "",
            f"Re-plan: when half the operations of ours' plan at {max(limits)} s have started, the busiest machine "
            "breaks (`fail_machine`: operations running elsewhere stay pinned, the ones on the broken machine are "
            f"planned again, time restarts at 0). Ours runs with a {REPLAN_LIMIT_S}-s limit. Moved: operations of the "
            "plan in force, neither running nor on the broken machine, now on another machine or at another start.", "",
            *_table(["machines / ops", "broken", "at min", "ops left", "pinned", "solver", "wall s", "first s",
                     "moved", "moved %", "unplanned", "checker"], replans)]


def render(shared: list[dict], factory: list[dict], limits, goals: list[str], command: str, minutes: float) -> str:
    return "\n".join([
        "## Scheduler (issue 3)", "",
        f"Command: `{command}` ({minutes:.0f} min)  ", f"Machine: {machine_line()}  ",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", "",
        f"All solvers run with {WORKERS} workers, one after the other in this one run. *plain*: a CP-SAT flexible job "
        "shop model as in the OR-Tools `flexible_job_shop_sat.py` sample, default parameters, no hint "
        "(`benchmarks/plain_cpsat.py`); *ours*: `scheduler.solve`; *greedy*: `scheduler.greedy.dispatch` alone. "
        "Gap: (objective - bound) / objective. Vs best: (makespan - best known) / best known (`bks.json`). First: "
        "seconds from the call to the first feasible plan. Checker: violations `scheduler.check` finds (must be 0).",
        "", "### Targets", "", *(f"- {g}" for g in goals), "",
        "### Standard instances (makespan)", "", *_shared_tables(shared, limits), "",
        "### Factory instances (tardiness)", "",
        "Generated by `benchmarks/factory_instances.py` (seed 0): two sites with opening hours, bookings and "
        "maintenance, setups, kilns firing batches, releases, material arrivals, due dates, a few operations that "
        "no machine can do or whose material has no arrival date. Objective: the weighted sum of "
        "`scheduler.objective` terms.", "", *_factory_tables(factory, limits), ""])


SECTION = "## Scheduler"
REGISTRY_TRAILER = "The scheduler benchmarks (`../shared/bench`) join this file with the planner (issue 3)."


def write_section(path: Path, section: str) -> None:
    """Replace the scheduler section of `path`, keeping what comes before it (the machines registry)."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    head = old.split(f"\n{SECTION}", 1)[0].replace(REGISTRY_TRAILER, "").rstrip()
    path.write_text(f"{head}\n\n{section}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1-s limits and small instances only (smoke run)")
    parser.add_argument("--out", type=Path, help="replace the scheduler section of this Markdown file")
    parser.add_argument("--bench-dir", type=Path, default=BENCH_DIR, help="the shared instances and bks.json")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    limits = QUICK_LIMITS if args.quick else LIMITS
    shared = run_shared(QUICK_SHARED if args.quick else SHARED, limits, args.bench_dir)
    factory = run_factory(SIZES[:2] if args.quick else SIZES, limits)
    command = "python -m benchmarks.scheduler_bench" + (" --quick" if args.quick else "")
    text = render(shared, factory, limits, targets(shared, factory, limits), command,
                  (time.perf_counter() - started) / 60)
    print(text)
    if args.out:
        write_section(args.out, text)


if __name__ == "__main__":
    main()
