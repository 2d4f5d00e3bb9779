"""Readers of the benchmark formats and of the library's JSON, and `python -m scheduler solve` end to end."""

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.check import violations
from scheduler.greedy import dispatch
from scheduler.io import dump_problem, load_problem, parse_fjs, parse_jssp, plan_to_json, read_problem
from scheduler.plan import Plan, Reason, Status, Unplanned
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

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO.parent / "shared" / "bench"
BENCH_FILES = sorted(BENCH.glob("*/*.txt"))


@pytest.fixture(scope="module")
def bench():
    if not BENCH_FILES:
        pytest.skip(f"BENCHMARK FILES MISSING: nothing under {BENCH} — the reader tests on them did NOT run")
    return BENCH


@pytest.mark.parametrize("name", [f"{p.parent.name}/{p.name}" for p in BENCH_FILES] or ["none"])
def test_every_benchmark_file_reads_with_the_counts_of_its_header(bench, name):
    text = (bench / name).read_text()
    fmt = name.split("/")[0]
    problem = read_problem(bench / name, fmt)
    lines = [line.split() for line in text.splitlines() if line.strip()]
    jobs, machines = int(lines[0][0]), int(lines[0][1])
    assert [j.id for j in problem.jobs] == [str(j) for j in range(jobs)]
    assert [m.id for m in problem.machines] == [str(m) for m in range(machines)]
    operations = [machines] * jobs if fmt == "jssp" else [int(line[0]) for line in lines[1:jobs + 1]]
    assert [len(j.operations) for j in problem.jobs] == operations
    assert all(op.id == str(k) for j in problem.jobs for k, op in enumerate(j.operations))
    assert problem.objective is Objective.MAKESPAN
    assert problem.horizon == sum(max(o.duration for o in op.options) for j in problem.jobs for op in j.operations)
    best = json.loads((bench / "bks.json").read_text())[name]["ub"]
    assert problem.horizon >= best


def test_fjs_machines_are_counted_from_one_in_the_file_and_from_zero_in_the_problem():
    problem = parse_fjs("1 2 1.5\n2  1 1 5  2 1 3 2 4\n")
    first, second = problem.jobs[0].operations
    assert first.options == (Option("0", 5),) and second.options == (Option("0", 3), Option("1", 4))
    assert problem.horizon == 9


def test_a_jssp_route_becomes_one_option_per_operation():
    problem = parse_jssp("2 2\n0 3 1 4\n1 2 0 5\n")
    assert [[op.options for op in j.operations] for j in problem.jobs] == [
        [(Option("0", 3),), (Option("1", 4),)], [(Option("1", 2),), (Option("0", 5),)]]


@pytest.mark.parametrize(("parse", "text", "message"), [
    (parse_jssp, "", "ends where the number of jobs"),
    (parse_jssp, "2 2\n0 3 1 4\n", "ends where the machine of job 1"),
    (parse_jssp, "1 2\n0 3 x 4\n", "line 2"),
    (parse_jssp, "1 2\n0 3 2 4\n", "the machine of job 0, operation 1 is 2, expected from 0 to 1"),
    (parse_jssp, "1 2\n0 3 1 0\n", "duration"),
    (parse_jssp, "1 2\n0 3 1 4 7\n", "unexpected '7'"),
    (parse_fjs, "1 2\n1 1 0 5\n", "a machine of job 0, operation 0 is 0, expected from 1 to 2"),
    (parse_fjs, "1 2\n1 3 1 5 2 5 1 1\n", "the number of machines of job 0, operation 0 is 3"),
    (parse_fjs, "1 2\n1 2 1 5 1 6\n", "lists a machine twice"),
])
def test_malformed_benchmark_files_say_where(parse, text, message):
    with pytest.raises(ProblemError, match=message):
        parse(text)


def rich_problem() -> Problem:
    machines = (Machine("printer", frozenset({"fdm", "petg"}), unattended=True, calendar="shop", setup_time=15),
                Machine("kiln", batch_capacity=4), Machine("laser", calendar="shop"))
    jobs = (Job("j1", (Operation("print", (Option("printer", 120),), setup_family="pla", material="pla-1kg",
                                 material_ready=None),
                       Operation("fire", (Option("kiln", 600),), min_lag=30, max_lag=240, batch_family="bisque",
                                 batch_load=2)), coop="clayhouse", release=10, due=2000, weight=3),
            Job("j2", (Operation("cut", (Option("laser", 20), Option("printer", 90)), needs_operator=True),
                       Operation("nowhere", ())), coop="signmakers"))
    return Problem(machines, jobs, 10_080, calendars=(Calendar("shop", ((0, 480), (1440, 1920))),),
                   blocks=(Block("kiln", 100, 200, BlockKind.MAINTENANCE, "element"),),
                   running=(Placement("j2", "cut", "laser", -5, 15),),
                   previous=(Placement("j1", "fire", "kiln", 700, 1300, 3),), objective=Objective.MAKESPAN)


def test_json_round_trips_every_field():
    problem = rich_problem()
    document = json.loads(json.dumps(dump_problem(problem)))
    assert load_problem(document) == problem
    assert document["jobs"][0]["operations"][0]["material_ready"] is None


def test_json_round_trips_a_benchmark(bench):
    problem = read_problem(bench / "fjs" / "mk01.txt", "fjs")
    assert load_problem(json.loads(json.dumps(dump_problem(problem)))) == problem


def test_json_fields_left_out_take_the_defaults():
    problem = load_problem({"machines": [{"id": "m"}], "jobs": [
        {"id": "j", "due": 50, "operations": [{"id": "a", "options": [{"machine": "m", "duration": 10}]}]}]})
    assert problem.machines == (Machine("m"),) and problem.objective is Objective.TARDINESS
    assert problem.jobs[0].operations[0] == Operation("a", (Option("m", 10),))
    assert problem.horizon >= 60 and problem.running == () and problem.blocks == ()


def minimal() -> dict:
    return {"machines": [{"id": "m"}], "calendars": [{"id": "c", "open": [[0, 10]]}],
            "jobs": [{"id": "j", "operations": [{"id": "a", "options": [{"machine": "m", "duration": 10}]}]}]}


def _set(path, value):
    """A change to the minimal document: set the value at `path`, or delete it when `value` is KeyError."""

    def change(document):
        *parents, last = path
        target = document
        for key in parents:
            target = target[key]
        if value is KeyError:
            del target[last]
        else:
            target[last] = value

    return change


@pytest.mark.parametrize(("change", "message"), [
    (_set(["machines"], KeyError), "machines: missing"),
    (_set(["jobs", 0, "operations", 0, "options", 0, "duration"], "10"),
     'jobs[0].operations[0].options[0].duration: expected an integer, got a string "10"'),
    (_set(["jobs", 0, "operations", 0, "options", 0, "duration"], True), "options[0].duration: expected an integer"),
    (_set(["jobs", 0, "operations", 0, "options", 0, "duration"], 0), "options[0]: option on m: duration must be"),
    (_set(["jobs", 0, "operations", 0, "options"], KeyError), "jobs[0].operations[0].options: missing"),
    (_set(["jobs", 0, "operations", 0, "duraton"], 5), "jobs[0].operations[0]: unknown field 'duraton'"),
    (_set(["jobs", 0, "due"], "soon"), "jobs[0].due: expected an integer or null"),
    (_set(["jobs", 0], []), "jobs[0]: expected an object, got a list"),
    (_set(["machines", 0, "capabilities"], ["fdm", 3]), "machines[0].capabilities[1]: expected a string"),
    (_set(["calendars", 0, "open", 0], [10]), "calendars[0].open[0]: expected [start, end]"),
    (_set(["objective"], "speed"), "objective: 'speed' is not one of 'tardiness', 'makespan'"),
    (_set(["blocks"], [{"machine": "m", "start": 0, "end": 5, "kind": "party"}]), "blocks[0].kind: 'party'"),
    (_set(["running"], [{"job": "j", "op": "a", "machine": "m", "start": 0}]), "running[0].end: missing"),
    (_set(["machines", 0, "calendar"], "nowhere"), "machine m: unknown calendar 'nowhere'"),
])
def test_malformed_json_names_the_path(change, message):
    document = copy.deepcopy(minimal())
    change(document)
    with pytest.raises(ProblemError, match=re.escape(message)):
        load_problem(document)


def test_a_json_document_that_is_not_an_object_is_refused():
    with pytest.raises(ProblemError, match="the problem: expected an object, got a list"):
        load_problem([])


def test_the_answer_has_the_contract_shape_with_numbered_ids():
    plan = Plan(Status.FEASIBLE, (Placement("1", "0", "2", 0, 10),), (Unplanned("0", "1", Reason.NO_ELIGIBLE_MACHINE),),
                objective=10, bound=8, terms={"unplanned": 0, "makespan": 10}, wall_s=0.5, solver="cp-sat")
    answer = plan_to_json(plan, numeric_ids=True)
    assert answer["assignments"] == [{"job": 1, "op": 0, "machine": 2, "start": 0, "end": 10}]
    assert answer["unplanned"] == [{"job": 0, "op": 1, "reason": "no_eligible_machine", "detail": ""}]
    assert (answer["status"], answer["makespan"], answer["lower_bound"], answer["gap"]) == ("feasible", 10, 8, 0.2)
    assert plan_to_json(plan)["assignments"][0]["job"] == "1"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "scheduler", "solve", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def test_the_command_line_solves_ft06(bench):
    result = run_cli(bench / "jssp" / "ft06.txt", "--format", "jssp", "--time-limit", "2")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert {"status", "makespan", "lower_bound", "objective", "wall_s", "assignments"} <= answer.keys()
    assert answer["status"] in ("optimal", "feasible") and answer["makespan"] >= 55
    assert len(answer["assignments"]) == 36
    assert all(set(a) == {"job", "op", "machine", "start", "end"} and all(isinstance(v, int) for v in a.values())
               for a in answer["assignments"])
    assert answer["makespan"] == max(a["end"] for a in answer["assignments"])


def test_the_command_line_runs_the_dispatcher_alone(bench):
    result = run_cli(bench / "fjs" / "mk01.txt", "--format", "fjs", "--solver", "greedy")
    answer = json.loads(result.stdout)
    assert result.returncode == 0 and answer["solver"] == "greedy" and answer["makespan"] >= 40


def test_the_command_line_reads_json_and_can_change_the_objective(tmp_path):
    path = tmp_path / "shop.json"
    path.write_text(json.dumps(dump_problem(rich_problem())))
    result = run_cli(path, "--format", "json", "--objective", "tardiness", "--solver", "greedy")
    answer = json.loads(result.stdout)
    assert result.returncode == 0 and "tardiness" in answer["terms"] and answer["lower_bound"] is None
    assert {u["reason"] for u in answer["unplanned"]} == {"waiting_for_material", "predecessor_unplanned",
                                                          "no_eligible_machine"}


@pytest.mark.parametrize(("content", "fmt", "message"), [
    (None, "jssp", "cannot read"),
    ("2 2\n0 3\n", "jssp", "ends where"),
    ("{not json", "json", "not valid JSON"),
    ('{"machines": [], "jobs": [{"id": "j"}]}', "json", "jobs[0].operations: missing"),
])
def test_the_command_line_refuses_bad_input_with_exit_status_2(tmp_path, content, fmt, message):
    path = tmp_path / "instance.txt"
    if content is not None:
        path.write_text(content)
    result = run_cli(path, "--format", fmt)
    assert result.returncode == 2 and result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_readme_example_loads_and_plans_cleanly():
    readme = (REPO / "scheduler" / "README.md").read_text()
    problem = load_problem(json.loads(re.search(r"```json\n(.*?)```", readme, re.S).group(1)))
    plan = dispatch(problem)
    assert violations(problem, plan) == [] and plan.unplanned == ()
    assert len({a.batch for a in plan.assignments if a.machine == "kiln-1"}) == 1  # one firing for both
