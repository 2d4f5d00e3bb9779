"""Each rule of the CP-SAT model, on small problems: the plan is CP-SAT's, breaks nothing, and shows the rule."""

from dataclasses import replace

import pytest

import scheduler.cpsat as cpsat
from scheduler import objective
from scheduler.check import violations
from scheduler.cpsat import rules
from scheduler.plan import Reason, Status
from scheduler.problem import Block, BlockKind, Calendar, Job, Machine, Objective, Operation, Option, Placement, Problem
from scheduler.solve import solve

MAKESPAN = Objective.MAKESPAN


def op(op_id, *machines, duration=10, **kw):
    return Operation(op_id, tuple(Option(m, duration) for m in machines), **kw)


def problem(jobs, machines=("m1", "m2"), **kw):
    return Problem(tuple(m if isinstance(m, Machine) else Machine(m) for m in machines), tuple(jobs),
                   kw.pop("horizon", 1000), **kw)


def solved(p, *, by="cp-sat"):
    """CP-SAT's plan, after checking it is one, breaks no rule, accounts for every operation and is costed
    by the shared objective, with a bound on the same scale."""
    plan = solve(p, time_limit_s=10.0, workers=2)
    assert plan.status in (Status.OPTIMAL, Status.FEASIBLE), plan.solver
    assert plan.solver == by
    assert violations(p, plan) == []
    accounted = [a.key for a in plan.assignments] + [(u.job, u.op) for u in plan.unplanned]
    assert sorted(accounted) == sorted((job.id, o.id) for job in p.jobs for o in job.operations)
    assert plan.objective == objective.combine(p, objective.terms(p, plan.assignments, len(plan.unplanned)))
    assert plan.bound is not None and plan.bound <= plan.objective
    return plan


def at(plan, job, op_id):
    return plan.placement(job, op_id)


def reasons(plan):
    return {(u.job, u.op): u.reason for u in plan.unplanned}


@pytest.mark.parametrize("kind", list(BlockKind))
def test_work_goes_around_a_block_of_any_kind(kind):
    p = problem([Job("j", (op("a", "m1", duration=20),))], machines=("m1",), blocks=(Block("m1", 5, 40, kind),))
    assert at(solved(p), "j", "a").start >= 40


def test_two_operations_never_share_an_ordinary_machine():
    p = problem([Job(f"j{i}", (op("a", "m1", duration=15),)) for i in range(3)], machines=("m1",), objective=MAKESPAN)
    plan = solved(p)
    assert plan.status is Status.OPTIMAL and plan.makespan == 45


@pytest.mark.parametrize(("families", "makespan"), [(("pla", "pla"), 20), (("pla", "petg"), 35), (("pla", None), 20)])
def test_a_change_of_setup_family_waits_for_the_setup_time(families, makespan):
    jobs = [Job(f"j{i}", (op("a", "m1", setup_family=family),)) for i, family in enumerate(families)]
    plan = solved(problem(jobs, machines=(Machine("m1", setup_time=15),), objective=MAKESPAN))
    assert plan.status is Status.OPTIMAL and plan.makespan == makespan


def test_setup_gaps_hold_between_every_change_among_several_families():
    families = ("pla", "petg", "pla", "abs", "petg", "abs")
    jobs = [Job(f"j{i}", (op("a", "m1", setup_family=family),)) for i, family in enumerate(families)]
    plan = solved(problem(jobs, machines=(Machine("m1", setup_time=15),), objective=MAKESPAN))
    assert plan.status is Status.OPTIMAL and plan.makespan == 6 * 10 + 2 * 15  # three runs of one family each


ATTENDED_HOURS = Calendar("site", ((0, 60), (120, 180)))


@pytest.mark.parametrize(("machine", "needs_operator", "earliest"), [
    (Machine("m1", calendar="site"), False, 120),  # an attended machine works in open hours only
    (Machine("m1", calendar="site", unattended=True), False, 50),  # an unattended one runs at night
    (Machine("m1", calendar="site", unattended=True), True, 120),  # unless the operation needs an operator
])
def test_attended_work_starts_and_ends_inside_open_hours(machine, needs_operator, earliest):
    p = problem([Job("j", (op("a", "m1", duration=30, needs_operator=needs_operator),), release=50)],
                machines=(machine,), calendars=(ATTENDED_HOURS,), objective=MAKESPAN)
    placed = at(solved(p), "j", "a")
    assert placed.start == earliest
    if earliest == 120:
        assert ATTENDED_HOURS.contains(placed.start, placed.end)


def test_operations_of_a_job_follow_each_other_after_the_min_lag():
    p = problem([Job("j", (op("a", "m1"), op("b", "m2", min_lag=25)))], objective=MAKESPAN)
    plan = solved(p)
    assert at(plan, "j", "b").start >= at(plan, "j", "a").end + 25


def test_the_max_lag_holds_the_first_operation_back_until_the_second_can_follow():
    p = problem([Job("j", (op("a", "m1"), op("b", "m2", max_lag=5)))], blocks=(Block("m2", 0, 100),))
    plan = solved(p)
    gap = at(plan, "j", "b").start - at(plan, "j", "a").end
    assert 0 <= gap <= 5 and at(plan, "j", "b").start >= 100


@pytest.mark.parametrize(("release", "material_ready"), [(40, 0), (0, 70), (40, 70)])
def test_nothing_starts_before_its_release_or_its_material(release, material_ready):
    p = problem([Job("j", (op("a", "m1", material_ready=material_ready),), release=release)], objective=MAKESPAN)
    assert at(solved(p), "j", "a").start == max(release, material_ready)


KILN = Machine("kiln", batch_capacity=3, unattended=True)


def fired(job_id, family, load=1, duration=60):
    return Job(job_id, (op("fire", "kiln", duration=duration, batch_family=family, batch_load=load),))


def test_compatible_pieces_share_one_firing():
    plan = solved(problem([fired(f"j{i}", "bisque") for i in range(3)], machines=(KILN,), objective=MAKESPAN))
    assert plan.makespan == 60
    assert len({(a.start, a.batch) for a in plan.assignments}) == 1


@pytest.mark.parametrize(("jobs", "firings"), [
    ([fired("j1", "bisque"), fired("j2", "glaze")], 2),  # different families never fire together
    ([fired("j1", "bisque", load=2), fired("j2", "bisque", load=2)], 2),  # over the capacity
    ([fired("j1", "bisque"), fired("j2", "bisque", duration=90)], 2),  # different firing lengths
    ([fired("j1", None), fired("j2", None)], 2),  # no batch family: alone
    ([fired(f"j{i}", "bisque") for i in range(4)], 2),  # four pieces, three per firing
])
def test_a_firing_holds_one_family_within_the_capacity(jobs, firings):
    plan = solved(problem(jobs, machines=(KILN,), objective=MAKESPAN))
    assert len({a.start for a in plan.assignments}) == firings


def test_a_block_on_a_kiln_takes_its_whole_capacity():
    p = problem([fired("j1", "bisque")], machines=(KILN,), blocks=(Block("kiln", 30, 100),), objective=MAKESPAN)
    assert at(solved(p), "j1", "fire").start >= 100


def test_a_running_operation_stays_where_it_is_and_others_wait_for_it():
    running = Placement("j1", "a", "m1", -5, 25)
    p = problem([Job("j1", (op("a", "m1", "m2", duration=30), op("b", "m2"))), Job("j2", (op("a", "m1"),))],
                running=(running,), objective=MAKESPAN)
    plan = solved(p)
    assert at(plan, "j1", "a") == running
    assert at(plan, "j2", "a").start >= 25 and at(plan, "j1", "b").start >= 25


def test_running_operations_that_cannot_stay_make_an_infeasible_plan_with_the_reason():
    p = problem([Job("j1", (op("a", "m1", duration=30),))], running=(Placement("j1", "a", "m1", -5, 25),),
                blocks=(Block("m1", 0, 60, BlockKind.DOWNTIME),))
    plan = solve(p, time_limit_s=5.0, workers=2)
    assert plan.status is Status.INFEASIBLE and "overlaps a block" in plan.solver


@pytest.mark.parametrize(("first", "reason"), [
    (op("a"), Reason.NO_ELIGIBLE_MACHINE),
    (op("a", "m1", material_ready=None), Reason.WAITING_FOR_MATERIAL),
    (op("a", "m1", duration=2000), Reason.NO_ROOM_BEFORE_HORIZON),
])
def test_an_operation_that_cannot_be_planned_says_why_and_so_do_the_ones_after_it(first, reason):
    p = problem([Job("j1", (first, op("b", "m2"))), Job("j2", (op("a", "m1"),))])
    plan = solved(p)
    assert reasons(plan) == {("j1", "a"): reason, ("j1", "b"): Reason.PREDECESSOR_UNPLANNED}
    assert at(plan, "j2", "a") is not None


def test_what_the_solver_cannot_fit_before_the_horizon_is_unplanned_from_there_to_the_end_of_the_job():
    p = problem([Job("j1", (op("a", "m1", duration=30), op("b", "m1", duration=30), op("c", "m2")))], horizon=50)
    plan = solved(p)
    assert at(plan, "j1", "a") is not None
    assert reasons(plan) == {("j1", "b"): Reason.NO_ROOM_BEFORE_HORIZON, ("j1", "c"): Reason.PREDECESSOR_UNPLANNED}
    assert plan.terms["unplanned"] == 2


def test_the_heavier_job_is_the_one_that_ends_on_time():
    jobs = [Job("light", (op("a", "m1"),), due=10, weight=1), Job("heavy", (op("a", "m1"),), due=10, weight=3)]
    plan = solved(problem(jobs, machines=("m1",)))
    assert plan.status is Status.OPTIMAL
    assert plan.lateness == {"heavy": 0, "light": 10}


@pytest.mark.parametrize(("chosen", "ends_at"), [(Objective.TARDINESS, 500), (Objective.PROMPT, 20)])
def test_demand_pull_finishes_near_the_due_date_and_prompt_as_soon_as_it_can(chosen, ends_at):
    jobs = [Job("far", (op("a", "m1"), op("b", "m1")), due=500, release=0)]
    plan = solved(problem(jobs, machines=("m1",), objective=chosen))
    assert plan.status is Status.OPTIMAL and at(plan, "far", "b").end == ends_at


def test_the_makespan_of_a_small_job_shop_is_optimal():
    jobs = [Job("0", (op("0", "m1", duration=3), op("1", "m2", duration=2))),
            Job("1", (op("0", "m2", duration=2), op("1", "m1", duration=4)))]
    plan = solved(problem(jobs, objective=MAKESPAN))
    assert plan.status is Status.OPTIMAL and plan.objective == plan.bound == plan.makespan == 7


def shop(horizon=2000):
    machines = ("m1", "m2", "m3")
    jobs = [Job(f"j{i}", (op("a", machines[i % 3], machines[(i + 1) % 3], duration=20 + i),
                          op("b", machines[(i + 2) % 3], machines[i % 3], duration=15)),
                coop="ab"[i % 2], due=200 + 30 * i) for i in range(9)]
    return problem(jobs, machines=machines, horizon=horizon)


def test_a_plan_already_in_force_is_kept_when_nothing_changed():
    first = solved(shop())
    again = solved(replace(shop(), previous=first.assignments))
    assert again.terms["moved"] == 0 or again.status is not Status.OPTIMAL


def test_a_replan_after_a_breakdown_keeps_work_off_the_machine_and_moves_little_else():
    first = solved(shop())
    broken = replace(shop(), blocks=(Block("m1", 0, 2000, BlockKind.DOWNTIME, "breakdown"),),
                     previous=first.assignments)
    plan = solved(broken)
    assert all(a.machine != "m1" for a in plan.assignments)
    elsewhere = [p for p in first.assignments if p.machine != "m1"]
    now = {a.key: (a.machine, a.start) for a in plan.assignments}
    moved = [p for p in elsewhere if now.get(p.key) != (p.machine, p.start)]
    assert len(moved) <= len(elsewhere) // 2


def test_a_caller_hint_is_taken_and_the_answer_is_no_worse():
    first = solved(shop())
    again = solve(shop(), time_limit_s=10.0, workers=2, hint=first)
    assert violations(shop(), again) == [] and again.objective <= first.objective


def test_without_time_for_cp_sat_the_greedy_plan_is_the_answer():
    p = shop()
    plan = solve(p, time_limit_s=0.0, workers=2)
    assert plan.status is Status.FEASIBLE and plan.solver.startswith("greedy (")
    assert violations(p, plan) == []


def test_a_cp_sat_answer_that_breaks_a_rule_is_never_the_answer(monkeypatch):
    """A model that forgot a rule (here, setups) finds a shorter plan; the checker turns it down."""
    monkeypatch.setattr(cpsat, "RULES", tuple(r for r in rules.RULES if r is not rules.honour_setup_times))
    jobs = [Job(f"j{i}", (op("a", "m1", setup_family=family),)) for i, family in enumerate(("pla", "petg", "pla"))]
    p = problem(jobs, machines=(Machine("m1", setup_time=15),), objective=MAKESPAN)
    plan = solve(p, time_limit_s=5.0, workers=2)
    assert violations(p, plan) == []
    assert plan.solver.startswith("greedy (cp-sat answer rejected")


def test_a_very_late_operation_is_still_planned_rather_than_dropped():
    machine = Machine("m1")
    long_job = Job("late", (Operation("weld", (Option("m1", 10_000),)),), due=0, weight=3)
    problem = Problem((machine,), (long_job,), horizon=20_000)
    plan = solve(problem, time_limit_s=2.0, workers=1)
    assert plan.unplanned == ()
    assert plan.lateness["late"] == 10_000
    assert violations(problem, plan) == []
