"""Contradictory input is refused on construction with a reason that names the culprit."""

import pytest

from scheduler.problem import Block, Calendar, Job, Machine, Operation, Option, Placement, Problem, ProblemError

PRINT = Operation("print", (Option("m1", 30),))
ONE_JOB = (Job("j1", (PRINT,)),)
ONE_MACHINE = (Machine("m1"),)


def make(jobs=ONE_JOB, machines=ONE_MACHINE, **kw):
    return Problem(tuple(machines), tuple(jobs), kw.pop("horizon", 100), **kw)


@pytest.mark.parametrize(("build", "message"), [
    (lambda: make(machines=(Machine("m1"), Machine("m1"))), "machine id 'm1' appears twice"),
    (lambda: make(jobs=(Job("j1", (Operation("x", (Option("m9", 5),)),)),)), "unknown machine 'm9'"),
    (lambda: make(blocks=(Block("m9", 0, 10),)), "unknown machine 'm9'"),
    (lambda: Block("m1", 10, 10), "ends before it starts"),
    (lambda: Option("m1", 0), "duration must be positive"),
    (lambda: Calendar("site", ((0, 100), (50, 200))), "sorted, disjoint"),
    (lambda: make(machines=(Machine("m1", calendar="nowhere"),)), "unknown calendar 'nowhere'"),
    (lambda: Job("j1", (PRINT,), release=50, due=10), "due before its release"),
    (lambda: Job("j1", ()), "at least one operation"),
    (lambda: Job("j1", (PRINT, PRINT)), "operation ids repeat"),
    (lambda: Operation("x", (Option("m1", 5),), min_lag=10, max_lag=5), "max lag is below min lag"),
    (lambda: Machine("kiln", batch_capacity=0), "batch capacity"),
    (lambda: make(running=(Placement("j1", "nope", "m1", 0, 10),)), "not in any job"),
    (lambda: make(horizon=0), "horizon must be positive"),
])
def test_contradictory_input_is_refused_naming_what_is_wrong(build, message):
    with pytest.raises(ProblemError, match=message):
        build()


def test_an_operation_no_machine_can_do_is_valid_input():
    problem = make(jobs=(Job("j1", (Operation("weld", ()),)),))
    assert problem.operation("j1", "weld").options == ()


def test_attendance_depends_on_the_machine_and_the_operation():
    calendar = Calendar("site", ((0, 480),))
    machines = (Machine("day", calendar="site"), Machine("night", calendar="site", unattended=True), Machine("any"))
    hands = Operation("h", (Option("day", 5), Option("night", 5), Option("any", 5)), needs_operator=True)
    problem = make(jobs=(Job("j", (PRINT, hands)),), machines=(Machine("m1"), *machines), calendars=(calendar,))
    assert problem.needs_calendar(PRINT, "day") and not problem.needs_calendar(PRINT, "night")
    assert problem.needs_calendar(hands, "night") and not problem.needs_calendar(hands, "any")
