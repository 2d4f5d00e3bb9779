"""The checker finds each kind of broken rule, and passes a plan that breaks none."""

from dataclasses import replace

import pytest

from scheduler.check import Rule, violations
from scheduler.plan import Plan, Reason, Status, Unplanned
from scheduler.problem import Block, Calendar, Job, Machine, Operation, Option, Placement, Problem


def op(op_id, *machines, duration=10, **kw):
    return Operation(op_id, tuple(Option(m, duration) for m in machines), **kw)


def problem(jobs, machines=("m1", "m2"), **kw):
    return Problem(tuple(m if isinstance(m, Machine) else Machine(m) for m in machines), tuple(jobs),
                   kw.pop("horizon", 1000), **kw)


def plan(*placements, unplanned=()):
    return Plan(Status.FEASIBLE, tuple(Placement(*p) for p in placements), tuple(unplanned))


TWO_STEP = Job("j1", (op("a", "m1"), op("b", "m2")), release=5)
GOOD = plan(("j1", "a", "m1", 5, 15), ("j1", "b", "m2", 15, 25))


def rules(found):
    return {v.rule for v in found}


def test_a_plan_that_keeps_every_rule_has_no_violations():
    assert violations(problem([TWO_STEP]), GOOD) == []


@pytest.mark.parametrize(("bad_plan", "rule"), [
    (plan(("j1", "a", "m1", 5, 15)), Rule.NEITHER_PLACED_NOR_UNPLANNED),
    (plan(("j1", "a", "m1", 5, 15), ("j1", "b", "m2", 15, 25), ("j1", "a", "m1", 30, 40)), Rule.PLACED_TWICE),
    (plan(("j1", "a", "m1", 5, 15), ("j1", "b", "m2", 15, 25), ("j9", "z", "m1", 50, 60)), Rule.UNKNOWN_OPERATION),
    (plan(("j1", "a", "m2", 5, 15), ("j1", "b", "m2", 15, 25)), Rule.NOT_ELIGIBLE),
    (plan(("j1", "a", "m1", 5, 12), ("j1", "b", "m2", 15, 25)), Rule.WRONG_DURATION),
    (plan(("j1", "a", "m1", 0, 10), ("j1", "b", "m2", 15, 25)), Rule.BEFORE_RELEASE),
    (plan(("j1", "a", "m1", 5, 15), ("j1", "b", "m2", 10, 20)), Rule.PRECEDENCE),
    (plan(("j1", "a", "m1", 5, 15), ("j1", "b", "m2", 995, 1005)), Rule.OUTSIDE_HORIZON),
    (plan(("j1", "b", "m2", 15, 25), unplanned=[Unplanned("j1", "a", Reason.NO_ROOM_BEFORE_HORIZON)]),
     Rule.SUCCESSOR_OF_UNPLANNED),
])
def test_each_broken_job_rule_is_named(bad_plan, rule):
    assert rule in rules(violations(problem([TWO_STEP]), bad_plan))


def test_an_operation_may_not_overlap_a_booking():
    p = problem([TWO_STEP], blocks=(Block("m1", 10, 20),))
    assert rules(violations(p, GOOD)) == {Rule.BLOCK_OVERLAP}


def test_touching_a_booking_is_allowed():
    p = problem([TWO_STEP], blocks=(Block("m1", 15, 20), Block("m1", 0, 5)))
    assert violations(p, GOOD) == []


def test_two_operations_may_not_share_a_machine_even_when_a_short_one_sits_between():
    jobs = [Job("long", (op("a", "m1", duration=100),)), Job("short", (op("a", "m1", duration=5),)),
            Job("late", (op("a", "m1", duration=5),))]
    bad = plan(("long", "a", "m1", 0, 100), ("short", "a", "m1", 10, 15), ("late", "a", "m1", 50, 55))
    found = [v for v in violations(problem(jobs), bad) if v.rule is Rule.MACHINE_OVERLAP]
    assert len(found) == 2


def test_lags_are_checked_both_ways():
    job = Job("j1", (op("a", "m1"), op("b", "m2", min_lag=5, max_lag=20)))
    assert Rule.PRECEDENCE in rules(violations(problem([job]), plan(("j1", "a", "m1", 0, 10),
                                                                    ("j1", "b", "m2", 12, 22))))
    assert Rule.MAX_LAG in rules(violations(problem([job]), plan(("j1", "a", "m1", 0, 10), ("j1", "b", "m2", 31, 41))))
    assert violations(problem([job]), plan(("j1", "a", "m1", 0, 10), ("j1", "b", "m2", 30, 40))) == []


def test_material_must_be_there_before_the_operation_starts():
    job = Job("j1", (op("a", "m1", material="petg", material_ready=60),))
    assert rules(violations(problem([job]), plan(("j1", "a", "m1", 50, 60)))) == {Rule.MATERIAL_NOT_READY}
    assert violations(problem([job]), plan(("j1", "a", "m1", 60, 70))) == []


def test_setup_time_between_different_families_is_required():
    printer = Machine("m1", setup_time=15)
    jobs = [Job("x", (op("a", "m1", setup_family="pla"),)), Job("y", (op("a", "m1", setup_family="petg"),)),
            Job("z", (op("a", "m1", setup_family="petg"),))]
    tight = plan(("x", "a", "m1", 0, 10), ("y", "a", "m1", 20, 30), ("z", "a", "m1", 30, 40))
    assert rules(violations(problem(jobs, machines=[printer]), tight)) == {Rule.SETUP}
    room = plan(("x", "a", "m1", 0, 10), ("y", "a", "m1", 25, 35), ("z", "a", "m1", 35, 45))
    assert violations(problem(jobs, machines=[printer]), room) == []


def test_attended_work_stays_inside_the_open_hours_but_unattended_machines_run_at_night():
    day = Calendar("site", ((0, 480), (1440, 1920)))
    attended, unattended = Machine("m1", calendar="site"), Machine("m2", calendar="site", unattended=True)
    night = Job("j", (op("a", "m1", "m2", duration=120),))
    at_night_on = {m: plan(("j", "a", m, 420, 540)) for m in ("m1", "m2")}
    p = problem([night], machines=[attended, unattended], calendars=(day,))
    assert rules(violations(p, at_night_on["m1"])) == {Rule.CALENDAR}
    assert violations(p, at_night_on["m2"]) == []
    needs_hands = Job("j", (op("a", "m1", "m2", duration=120, needs_operator=True),))
    p2 = problem([needs_hands], machines=[attended, unattended], calendars=(day,))
    assert rules(violations(p2, at_night_on["m2"])) == {Rule.CALENDAR}


def test_a_kiln_fires_one_family_within_its_capacity():
    kiln = Machine("kiln", batch_capacity=3)
    jobs = [Job(f"j{i}", (op("fire", "kiln", duration=600, batch_family=fam, batch_load=load),))
            for i, (fam, load) in enumerate([("bisque", 1), ("bisque", 2), ("glaze", 1)])]
    together = plan(("j0", "fire", "kiln", 0, 600), ("j1", "fire", "kiln", 0, 600))
    assert violations(problem(jobs[:2], machines=[kiln]), together) == []
    mixed = plan(("j0", "fire", "kiln", 0, 600), ("j2", "fire", "kiln", 0, 600))
    assert rules(violations(problem([jobs[0], jobs[2]], machines=[kiln]), mixed)) == {Rule.BATCH}
    heavy = replace(kiln, batch_capacity=2)
    assert rules(violations(problem(jobs[:2], machines=[heavy]), together)) == {Rule.BATCH}
    staggered = plan(("j0", "fire", "kiln", 0, 600), ("j1", "fire", "kiln", 100, 700))
    assert rules(violations(problem(jobs[:2], machines=[kiln]), staggered)) == {Rule.MACHINE_OVERLAP}


def test_a_running_operation_must_stay_where_it_is():
    running = (Placement("j1", "a", "m1", -5, 5),)
    job = Job("j1", (op("a", "m1"), op("b", "m2")))
    p = problem([job], running=running)
    assert violations(p, plan(("j1", "a", "m1", -5, 5), ("j1", "b", "m2", 5, 15))) == []
    assert Rule.RUNNING_MOVED in rules(violations(p, plan(("j1", "a", "m1", 0, 10), ("j1", "b", "m2", 10, 20))))
