"""The dispatcher keeps every rule (the checker finds nothing), says why it leaves work out, and keeps the old plan."""

from dataclasses import replace
from pathlib import Path

import pytest

from scheduler import objective
from scheduler.check import violations
from scheduler.greedy import dispatch
from scheduler.io import read_fjs, read_jssp
from scheduler.plan import Reason, Status
from scheduler.problem import Block, Calendar, Job, Machine, Objective, Operation, Option, Placement, Problem

BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "bench"


def op(op_id, *machines, duration=10, **kw):
    return Operation(op_id, tuple(Option(m, duration) for m in machines), **kw)


def problem(jobs, machines=("m1", "m2"), **kw):
    return Problem(tuple(m if isinstance(m, Machine) else Machine(m) for m in machines), tuple(jobs),
                   kw.pop("horizon", 1000), **kw)


def planned(p):
    """The dispatcher's plan, after checking it breaks no rule and accounts for every operation."""
    plan = dispatch(p)
    assert violations(p, plan) == []
    accounted = {a.key for a in plan.assignments} | {(u.job, u.op) for u in plan.unplanned}
    assert accounted == {(job.id, o.id) for job in p.jobs for o in job.operations}
    return plan


def reasons(plan):
    return {(u.job, u.op): u.reason for u in plan.unplanned}


def test_the_plan_is_feasible_and_costed_by_the_shared_objective():
    p = problem([Job("j1", (op("a", "m1"), op("b", "m2")), due=15, coop="a"), Job("j2", (op("a", "m1"),), due=5)])
    plan = planned(p)
    assert plan.status is Status.FEASIBLE and plan.solver == "greedy" and plan.bound is None
    assert plan.terms == objective.terms(p, plan.assignments, 0)
    assert plan.objective == objective.combine(p, plan.terms)
    assert plan.lateness == objective.lateness(p, plan.assignments)


def test_the_earliest_due_date_goes_first():
    p = problem([Job("later", (op("a", "m1"),), due=100), Job("sooner", (op("a", "m1"),), due=10)])
    plan = planned(p)
    assert plan.placement("sooner", "a").start < plan.placement("later", "a").start


def test_the_machine_that_finishes_first_is_chosen_even_when_slower():
    fast, slow = Option("fast", 10), Option("slow", 30)
    p = problem([Job("j", (Operation("a", (fast, slow)),))], machines=("fast", "slow"),
                blocks=(Block("fast", 0, 100),))
    assert planned(p).placement("j", "a").machine == "slow"


def test_work_goes_around_bookings_and_never_overlaps_them():
    blocks = (Block("m1", 0, 30), Block("m1", 35, 60), Block("m1", 65, 70))
    p = problem([Job(f"j{i}", (op("a", "m1"),)) for i in range(3)], blocks=blocks)
    assert min(a.start for a in planned(p).assignments) >= 70


def test_attended_work_lies_inside_one_open_window_and_unattended_work_may_run_at_night():
    day = Calendar("site", ((0, 60), (120, 200)))
    machines = (Machine("m1", calendar="site"), Machine("m2", calendar="site", unattended=True))
    attended = problem([Job("j", (op("a", "m1", duration=50),), release=20)], machines=machines, calendars=(day,))
    assert planned(attended).placement("j", "a").start >= 120
    unattended = problem([Job("j", (op("a", "m2", duration=50),), release=20)], machines=machines, calendars=(day,))
    assert planned(unattended).placement("j", "a").start == 20
    hands_on = problem([Job("j", (op("a", "m2", duration=50, needs_operator=True),), release=20)],
                       machines=machines, calendars=(day,))
    assert planned(hands_on).placement("j", "a").start >= 120


def test_too_long_for_every_open_window_is_unplanned():
    day = Calendar("site", ((0, 60), (120, 200)))
    p = problem([Job("j", (op("a", "m1", duration=90), op("b", "m2")))], machines=(Machine("m1", calendar="site"),
                "m2"), calendars=(day,))
    assert reasons(planned(p)) == {("j", "a"): Reason.NO_ROOM_BEFORE_HORIZON, ("j", "b"): Reason.PREDECESSOR_UNPLANNED}


def test_a_setup_separates_different_families_but_not_equal_ones():
    printer = Machine("m1", setup_time=15)
    families = ["pla", "petg", "pla", None, "petg"]
    p = problem([Job(f"j{i}", (op("a", "m1", setup_family=f),)) for i, f in enumerate(families)],
                machines=(printer,))
    plan = planned(p)
    ends = sorted(plan.assignments, key=lambda a: a.start)
    assert plan.makespan < 50 + 15 * 4  # the families are grouped, not alternated
    assert len(ends) == 5


def test_setups_are_kept_across_a_booking_and_around_running_work():
    printer = Machine("m1", setup_time=15)
    running = (Placement("r", "a", "m1", -5, 5),)
    jobs = [Job("r", (op("a", "m1", setup_family="pla"),)), Job("j", (op("a", "m1", setup_family="petg"),))]
    p = problem(jobs, machines=(printer,), running=running, blocks=(Block("m1", 5, 12),))
    assert planned(p).placement("j", "a").start >= 20


def test_a_maximum_lag_pushes_the_earlier_operation_later():
    job = Job("j", (op("a", "m1"), op("b", "m2", min_lag=5, max_lag=20)))
    p = problem([job], blocks=(Block("m2", 0, 100),))
    plan = planned(p)
    a, b = plan.placement("j", "a"), plan.placement("j", "b")
    assert 5 <= b.start - a.end <= 20


def test_a_chain_of_maximum_lags_is_placed_as_a_whole():
    job = Job("j", (op("a", "m1"), op("b", "m2", max_lag=0), op("c", "m1", max_lag=0)))
    p = problem([job], blocks=(Block("m2", 0, 45), Block("m1", 70, 90)))
    plan = planned(p)
    assert plan.unplanned == ()
    assert plan.placement("j", "b").start == plan.placement("j", "a").end


def test_a_maximum_lag_after_running_work_that_cannot_be_kept_leaves_the_rest_unplanned():
    running = (Placement("j", "a", "m1", -5, 5),)
    job = Job("j", (op("a", "m1"), op("b", "m2", max_lag=10), op("c", "m2")))
    plan = planned(problem([job], running=running, blocks=(Block("m2", 0, 100),)))
    assert reasons(plan) == {("j", "b"): Reason.NO_ROOM_BEFORE_HORIZON, ("j", "c"): Reason.PREDECESSOR_UNPLANNED}
    assert "maximum lag" in plan.unplanned[0].detail


def test_running_work_stays_put_and_holds_its_machine():
    running = (Placement("j1", "a", "m1", -5, 25),)
    jobs = [Job("j1", (op("a", "m1", duration=30), op("b", "m2"))), Job("j2", (op("a", "m1"),))]
    plan = planned(problem(jobs, running=running))
    assert plan.placement("j1", "a") == running[0]
    assert plan.placement("j2", "a").start >= 25 and plan.placement("j1", "b").start >= 25


def test_a_kiln_fires_compatible_pieces_together_within_its_capacity():
    kiln = Machine("kiln", batch_capacity=3)
    pieces = [("bisque", 1), ("bisque", 2), ("bisque", 1), ("glaze", 1)]
    jobs = [Job(f"j{i}", (op("fire", "kiln", duration=600, batch_family=f, batch_load=load),))
            for i, (f, load) in enumerate(pieces)]
    plan = planned(problem(jobs, machines=(kiln,), horizon=5000))
    firings = {}
    for a in plan.assignments:
        firings.setdefault(a.batch, []).append(a.job)
    assert len(firings) == 3 and None not in firings
    assert plan.makespan == 1800


def test_a_piece_joins_a_firing_only_when_it_may_start_then():
    kiln = Machine("kiln", batch_capacity=3)
    jobs = [Job("early", (op("fire", "kiln", duration=600, batch_family="bisque"),)),
            Job("late", (op("fire", "kiln", duration=600, batch_family="bisque"),), release=100)]
    plan = planned(problem(jobs, machines=(kiln,), horizon=5000))
    assert plan.placement("late", "fire").start >= 600


@pytest.mark.parametrize(("operation", "reason"), [
    (Operation("a", ()), Reason.NO_ELIGIBLE_MACHINE),
    (op("a", "m1", material="clay", material_ready=None), Reason.WAITING_FOR_MATERIAL),
    (op("a", "m1", duration=2000), Reason.NO_ROOM_BEFORE_HORIZON),
])
def test_work_left_out_says_why_and_its_successors_wait(operation, reason):
    plan = planned(problem([Job("j", (operation, op("b", "m2"))), Job("k", (op("a", "m1"),))]))
    assert reasons(plan) == {("j", "a"): reason, ("j", "b"): Reason.PREDECESSOR_UNPLANNED}
    assert plan.terms["unplanned"] == 2 and plan.placement("k", "a") is not None


def test_release_and_material_arrival_are_waited_for():
    job = Job("j", (op("a", "m1", material="pla", material_ready=40), op("b", "m2", min_lag=7)), release=20)
    plan = planned(problem([job]))
    assert plan.placement("j", "a").start >= 40
    assert plan.placement("j", "b").start >= plan.placement("j", "a").end + 7


def test_a_still_valid_place_of_the_previous_plan_is_kept():
    previous = (Placement("j", "a", "m2", 50, 60), Placement("k", "a", "m1", 0, 10))
    jobs = [Job("j", (op("a", "m1", "m2"),)), Job("k", (op("a", "m1"),))]
    plan = planned(problem(jobs, previous=previous))
    assert plan.placement("j", "a") == Placement("j", "a", "m2", 50, 60) and plan.terms["moved"] == 0


def test_a_previous_place_now_booked_is_given_up():
    previous = (Placement("j", "a", "m1", 0, 10),)
    plan = planned(problem([Job("j", (op("a", "m1"),))], previous=previous, blocks=(Block("m1", 0, 30),)))
    assert plan.placement("j", "a").start >= 30 and plan.terms["moved"] == 1


def crowded_shop() -> Problem:
    day = Calendar("site", tuple((d * 1440 + 480, d * 1440 + 1080) for d in range(5)))
    machines = (Machine("printer", calendar="site", unattended=True, setup_time=20),
                Machine("mill", calendar="site", setup_time=30), Machine("laser", calendar="site"),
                Machine("kiln", batch_capacity=4, calendar="site", unattended=True))
    jobs = []
    for i in range(30):
        family = ("pla", "petg", None)[i % 3]
        ops = (op("print", "printer", "mill", duration=60 + 7 * (i % 5), setup_family=family),
               op("cut", "laser", duration=20 + i % 4, min_lag=10, max_lag=None if i % 4 != 1 else 240,
                  needs_operator=i % 2 == 0),
               op("fire", "kiln", duration=300, batch_family=("bisque", "glaze")[i % 2], batch_load=1 + i % 2))
        jobs.append(Job(f"j{i}", ops, coop=f"c{i % 3}", release=30 * (i % 7), due=1440 + 200 * i, weight=1 + i % 3))
    blocks = (Block("mill", 600, 720), Block("laser", 1500, 1700), Block("kiln", 2000, 2400))
    running = (Placement("j0", "print", "printer", -10, 50),)
    return problem(jobs, machines=machines, horizon=5 * 1440, calendars=(day,), blocks=blocks, running=running)


def test_a_crowded_shop_with_every_rule_at_once_passes_the_checker():
    assert planned(crowded_shop()).terms["unplanned"] == 0


def test_planning_an_unchanged_shop_again_moves_nothing():
    shop = crowded_shop()
    first = planned(shop)
    again = planned(replace(shop, previous=tuple(a for a in first.assignments if a.start >= 0)))
    assert again.terms["moved"] == 0 and again.assignments == first.assignments


@pytest.mark.parametrize(("name", "read"), [("jssp/ft06.txt", read_jssp), ("fjs/mk01.txt", read_fjs)])
def test_the_benchmarks_get_a_checker_clean_plan(name, read):
    if not (BENCH / name).exists():
        pytest.skip(f"BENCHMARK FILE {BENCH / name} MISSING — this test did NOT run")
    p = read(BENCH / name)
    plan = planned(p)
    assert p.objective is Objective.MAKESPAN and plan.unplanned == ()
    assert plan.objective == plan.makespan >= {"jssp/ft06.txt": 55, "fjs/mk01.txt": 40}[name]
