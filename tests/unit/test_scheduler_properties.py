"""Property: whatever the input, every plan a solver returns passes the independent checker."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.check import violations
from scheduler.greedy import dispatch
from scheduler.plan import Status
from scheduler.problem import Block, Calendar, Job, Machine, Operation, Option, Placement, Problem
from scheduler.solve import solve

MACHINES = ("m0", "m1", "m2", "kiln")
DAYS = Calendar("site", ((0, 120), (240, 360), (480, 600)))


@st.composite
def operations(draw, job_index: int, op_index: int) -> Operation:
    machines = draw(st.lists(st.sampled_from(MACHINES), min_size=0, max_size=3, unique=True))
    kiln_only = machines == ["kiln"]
    return Operation(
        f"o{op_index}",
        tuple(Option(m, draw(st.integers(5, 60))) for m in machines),
        setup_family=draw(st.sampled_from([None, "pla", "petg"])),
        needs_operator=draw(st.booleans()),
        material_ready=draw(st.sampled_from([0, 0, 0, 30, None])),
        min_lag=draw(st.sampled_from([0, 0, 5])),
        max_lag=draw(st.sampled_from([None, None, 60])),
        batch_family=draw(st.sampled_from(["bisque", "glaze"])) if kiln_only else None,
        batch_load=draw(st.integers(1, 2)) if kiln_only else 1,
    )


@st.composite
def problems(draw) -> Problem:
    machines = (Machine("m0", calendar="site", setup_time=draw(st.integers(0, 20))),
                Machine("m1", calendar="site", unattended=True), Machine("m2"),
                Machine("kiln", batch_capacity=3, unattended=True, calendar="site"))
    jobs = []
    for j in range(draw(st.integers(1, 5))):
        ops = [draw(operations(j, k)) for k in range(draw(st.integers(1, 3)))]
        release = draw(st.integers(0, 100))
        jobs.append(Job(f"j{j}", tuple(ops), coop=draw(st.sampled_from(["a", "b"])), release=release,
                        due=release + draw(st.integers(0, 300)), weight=draw(st.integers(0, 3))))
    blocks = tuple(Block(m, s, s + d) for m, s, d in draw(st.lists(
        st.tuples(st.sampled_from(MACHINES), st.integers(0, 500), st.integers(1, 80)), max_size=3)))
    blocks = tuple(b for i, b in enumerate(blocks) if not any(
        o.machine == b.machine and o.start < b.end and b.start < o.end for o in blocks[:i]))
    running = ()
    first = jobs[0].operations[0]
    if first.options and draw(st.booleans()):
        option = first.options[0]
        clear = not any(b.machine == option.machine and b.start < option.duration - 5 for b in blocks)
        if clear:
            running = (Placement(jobs[0].id, first.id, option.machine, -5, option.duration - 5),)
    return Problem(machines, tuple(jobs), horizon=720, calendars=(DAYS,), blocks=blocks, running=running)


def accounted(problem, plan) -> bool:
    placed = {a.key for a in plan.assignments} | {(u.job, u.op) for u in plan.unplanned}
    return all((job.id, op.id) in placed for job in problem.jobs for op in job.operations)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_the_dispatchers_plan_always_passes_the_checker(problem):
    plan = dispatch(problem)
    assert violations(problem, plan) == []
    assert accounted(problem, plan)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_the_solvers_plan_always_passes_the_checker(problem):
    plan = solve(problem, time_limit_s=2.0, workers=1)
    if plan.status is Status.INFEASIBLE:
        return  # only when running operations contradict each other; the reason is in the plan
    assert violations(problem, plan) == []
    assert accounted(problem, plan)
