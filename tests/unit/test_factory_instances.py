"""The benchmark's factory generator is deterministic and valid; a machine failure makes a sound re-plan snapshot."""

import pytest

from benchmarks.factory_instances import SIZES, busiest_machine, factory_problem, fail_machine
from scheduler.check import violations
from scheduler.greedy import dispatch
from scheduler.plan import Plan, Status
from scheduler.problem import BlockKind, Calendar, Job, Machine, Objective, Operation, Option, Placement, Problem


def test_the_same_seed_gives_the_same_problem_and_another_seed_another():
    assert factory_problem(20, 200, seed=3) == factory_problem(20, 200, seed=3)
    assert factory_problem(20, 200, seed=3) != factory_problem(20, 200, seed=4)


@pytest.mark.parametrize(("machines", "operations"), SIZES)
def test_generated_problems_have_the_requested_size_and_pass_validation(machines, operations):
    problem = factory_problem(machines, operations)  # construction validates
    assert len(problem.machines) == machines
    assert problem.operation_count == operations
    assert problem.objective is Objective.TARDINESS


def test_a_generated_factory_has_the_features_the_planner_must_handle():
    problem = factory_problem(50, 1000)
    ops = [op for job in problem.jobs for op in job.operations]
    assert any(not op.options for op in ops), "an operation no machine can do"
    assert any(op.material_ready is None for op in ops), "an operation waiting for material"
    assert any((op.material_ready or 0) > 0 for op in ops)
    assert any(op.batch_family for op in ops) and any(m.batch_capacity > 1 for m in problem.machines)
    assert any(op.setup_family for op in ops) and any(m.setup_time > 0 for m in problem.machines)
    assert any(m.unattended for m in problem.machines) and any(not m.unattended for m in problem.machines)
    assert {b.kind for b in problem.blocks} >= {BlockKind.BOOKING, BlockKind.MAINTENANCE}
    assert len({job.coop for job in problem.jobs}) > 1 and any(job.release > 0 for job in problem.jobs)
    assert problem.running and len(problem.calendars) == 2


def test_blocks_take_a_small_share_of_capacity():
    problem = factory_problem(50, 1000)
    blocked = sum(b.end - b.start for b in problem.blocks)
    assert 0.01 * problem.horizon * len(problem.machines) < blocked < 0.10 * problem.horizon * len(problem.machines)


def line_problem() -> Problem:
    """Two machines m1 (fails) and m2; job a runs o1 on m1 then o2 on m2, job b one op on each machine."""
    a = Job("a", (Operation("o1", (Option("m1", 10),)), Operation("o2", (Option("m2", 10), Option("m1", 10)),
                                                                         min_lag=5)), due=30)
    b = Job("b", (Operation("o1", (Option("m2", 20),)),), due=40)
    c = Job("c", (Operation("o1", (Option("m1", 20), Option("m2", 20))),), release=50)
    return Problem((Machine("m1"), Machine("m2", calendar="day")), (a, b, c), horizon=200,
                   calendars=(Calendar("day", ((0, 100), (150, 200))),))


LINE_PLAN = Plan(Status.FEASIBLE, (Placement("a", "o1", "m1", 0, 10), Placement("a", "o2", "m2", 15, 25),
                                   Placement("b", "o1", "m2", 25, 45), Placement("c", "o1", "m1", 50, 70)))


def test_a_failure_pins_what_runs_elsewhere_and_replans_what_ran_on_the_broken_machine():
    problem = line_problem()
    assert violations(problem, LINE_PLAN) == []
    replan = fail_machine(problem, LINE_PLAN, "m1", at=12)
    assert [j.id for j in replan.jobs] == ["a", "b", "c"]
    assert [op.id for op in replan.jobs[0].operations] == ["o2"], "the finished operation left its job"
    assert replan.jobs[0].release == 3, "10 + min lag 5, twelve minutes ago"
    assert replan.jobs[0].due == 18 and replan.jobs[2].release == 38
    assert replan.running == ()  # nothing was running at 12 but a/o1, which ended at 10
    downtime = [b for b in replan.blocks if b.machine == "m1"]
    assert [(b.start, b.end, b.kind) for b in downtime] == [(0, replan.horizon, BlockKind.DOWNTIME)]
    assert replan.horizon == 188 and replan.calendars[0].open == ((0, 88), (138, 188))
    assert {p.key for p in replan.previous} == {("a", "o2"), ("b", "o1"), ("c", "o1")}

    later = fail_machine(problem, LINE_PLAN, "m1", at=60)
    assert later.running == (), "c/o1 ran on m1 when it broke: interrupted, planned again"
    assert [j.id for j in later.jobs] == ["c"] and later.jobs[0].release == 0
    elsewhere = fail_machine(problem, LINE_PLAN, "m2", at=30)
    assert elsewhere.running == (), "b/o1 ran on m2, the broken one"
    pinned = fail_machine(problem, LINE_PLAN, "m1", at=30)
    assert pinned.running == (Placement("b", "o1", "m2", -5, 15),)


def test_a_failure_half_way_through_a_generated_plan_gives_a_problem_the_dispatcher_can_plan():
    problem = factory_problem(20, 200, seed=1)
    plan = dispatch(problem)
    at = sorted(a.start for a in plan.assignments)[len(plan.assignments) // 2]
    broken = busiest_machine(plan, at)
    replan = fail_machine(problem, plan, broken, at)
    assert any(b.machine == broken and b.kind is BlockKind.DOWNTIME and b.start <= 0 and b.end >= replan.horizon
               for b in replan.blocks)
    by_key = {a.key: a for a in plan.assignments}
    for r in replan.running:
        before = by_key[r.key]
        assert r.machine != broken and (r.start, r.end) == (before.start - at, before.end - at) and r.start < 0 < r.end
    assert 0 < replan.operation_count < problem.operation_count
    again = dispatch(replan)
    assert violations(replan, again) == []
    assert all(a.machine != broken for a in again.assignments)
