"""The rules of a plan, one small function each, added to a CP-SAT model over `variables.ModelVars`.

Each function only adds constraints; none depends on another having run. Rules that restrict where an
operation may start (open hours, blocks, release) are enforced by the option's presence or the
operation's `placed` literal, so a start that cannot happen never makes the model infeasible: the
operation is then simply left unplaced.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

from ortools.sat.python import cp_model

from scheduler.cpsat.variables import Firing, ModelVars, OptionVars, OpVars
from scheduler.problem import Problem

JOIN_WINDOW = 40  # an operation may join a firing opened by one of the 40 operations before it (see below)
FAMILY_LIMIT = 12  # up to this many setup families on a machine: exact setup gaps; more: conservative


def pin_running_operations(model: cp_model.CpModel, problem: Problem, mv: ModelVars) -> None:
    """A running operation stays on its machine, at its start (its machine time is a fixed firing)."""
    for ov in mv.ops.values():
        r = ov.cand.running
        if r is not None:
            model.add(ov.start == r.start)
            model.add(ov.options[r.machine].presence == 1)


def forbid_overlap_with_blocks_and_each_other(model: cp_model.CpModel, problem: Problem, mv: ModelVars) -> None:
    """Blocks are fixed intervals in each machine's no-overlap and holes in the start domains."""
    for machine in problem.machines:
        blocks = mv.domains.blocks.get(machine.id, [])
        fixed = [model.new_fixed_size_interval_var(s, e - s, f"block on {machine.id}") for s, e in blocks]
        firings = [f.interval for f in mv.firings.get(machine.id, [])]
        if len(fixed) + len(firings) > 1:
            model.add_no_overlap(fixed + firings)
        for _, opt in mv.on_machine(machine.id):
            free = mv.domains.block_free(machine.id, opt.duration)
            if free is not None:
                model.add_linear_expression_in_domain(opt.start, free).only_enforce_if(opt.presence)


def honour_setup_times(model: cp_model.CpModel, problem: Problem, mv: ModelVars) -> None:
    """Two firings of different setup families on a machine are at least its setup time apart.

    Exact for every pair, in one cumulative per family F (up to FAMILY_LIMIT families on a machine): F's
    firings as they are, with a demand equal to the capacity, and every other family's firings lengthened
    by the setup time, with a demand of 1. An F firing then overlaps no lengthened firing of another
    family, so whichever of the two comes first, the gap follows it; lengthened firings of one family may
    still overlap each other, so no gap is forced between them. (A no-overlap cannot do this: it would
    keep two lengthened firings of one family apart too.) With more families, every firing with a family
    is lengthened in one no-overlap: sound, but it also keeps a gap between firings of one family. Firings
    without a family need no gap. Gaps are kept between any two firings, not only neighbours, so a firing
    without a family between two others does not excuse their change of family.
    """
    for machine in problem.machines:
        firings = [f for f in mv.firings.get(machine.id, []) if f.family is not None]
        families = {f.family for f in firings}
        if machine.setup_time == 0 or len(families) < 2:
            continue
        longer = {id(f): _lengthened(model, f, machine.setup_time) for f in firings}
        if len(families) > FAMILY_LIMIT:
            model.add_no_overlap(list(longer.values()))
            continue
        for family in families:
            own = [f.interval for f in firings if f.family == family]
            others = [longer[id(f)] for f in firings if f.family != family]
            model.add_cumulative(own + others, [len(others)] * len(own) + [1] * len(others), len(others))


def _lengthened(model: cp_model.CpModel, firing: Firing, extra: int) -> cp_model.IntervalVar:
    if firing.presence is None:
        return model.new_fixed_size_interval_var(firing.start, firing.duration + extra, "firing and setup")
    return model.new_optional_fixed_size_interval_var(firing.start, firing.duration + extra, firing.presence,
                                                      "firing and setup")


def keep_attended_work_inside_calendars(model: cp_model.CpModel, problem: Problem, mv: ModelVars) -> None:
    """Work that needs an operator starts only where [start, end) fits inside one open window."""
    for machine in problem.machines:
        for ov, opt in mv.on_machine(machine.id):
            inside = mv.domains.calendar(ov.cand.op, machine.id, opt.duration)
            if inside is not None:
                model.add_linear_expression_in_domain(opt.start, inside).only_enforce_if(opt.presence)


def chain_operations_with_lags(model: cp_model.CpModel, problem: Problem, mv: ModelVars) -> None:
    """A job's operations run in order, each min_lag to max_lag after its predecessor ends.

    A running operation is where it is: nothing is required of it, only of the operations after it.
    """
    for before, after in _consecutive(mv):
        if after.cand.running is not None:
            continue
        op = after.cand.op
        model.add(after.start >= before.end + op.min_lag).only_enforce_if(after.placed)
        if op.max_lag is not None:
            model.add(after.start <= before.end + op.max_lag).only_enforce_if(after.placed)


def respect_release_and_material(model: cp_model.CpModel, problem: Problem, mv: ModelVars) -> None:
    """Nothing starts before its job's release or before its material is there."""
    for ov in mv.ops.values():
        if ov.cand.running is None and ov.cand.earliest > 0:
            model.add(ov.start >= ov.cand.earliest).only_enforce_if(ov.placed)


def leave_unplaced_only_as_a_suffix(model: cp_model.CpModel, problem: Problem, mv: ModelVars) -> None:
    """If an operation of a job is left unplaced, so are all the operations after it."""
    for before, after in _consecutive(mv):
        model.add_implication(after.placed, before.placed)


def fire_batches_within_capacity(model: cp_model.CpModel, problem: Problem, mv: ModelVars) -> None:
    """On a batch machine, operations either open a firing or join one: same start and end, same batch
    family (and setup family), loads within the capacity. Only firings are in the machine's no-overlap,
    so a block takes the whole capacity.

    An operation may join only a firing opened by one of the JOIN_WINDOW operations before it in the
    order of (earliest start, key): this keeps the model linear in size; it restricts which firings can
    form, never allows a wrong one.
    """
    for machine in problem.machines:
        if machine.batch_capacity == 1:
            continue
        classes: dict[tuple, list[tuple[OpVars, OptionVars]]] = defaultdict(list)
        for ov, opt in sorted(mv.on_machine(machine.id), key=lambda pair: (pair[0].cand.earliest, pair[0].cand.key)):
            op = ov.cand.op
            family = op.batch_family if op.batch_family is not None else ("alone", ov.cand.key)
            classes[(family, opt.duration, op.setup_family)].append((ov, opt))
        for members in classes.values():
            _form_firings(model, machine.batch_capacity, members)


def _form_firings(model: cp_model.CpModel, capacity: int, members: list[tuple[OpVars, OptionVars]]) -> None:
    joiners: dict[int, list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    for index, (ov, opt) in enumerate(members):
        joins = []
        for leader_index in range(max(0, index - JOIN_WINDOW), index):
            leader_ov, leader = members[leader_index]
            join = model.new_bool_var("joins firing")
            model.add_implication(join, leader.leads)
            model.add(opt.start == leader.start).only_enforce_if(join)
            joiners[leader_index].append((ov.cand.op.batch_load, join))
            opt.joins.append((leader_ov.cand.key, join))
            joins.append(join)
        model.add(opt.leads + sum(joins) == opt.presence)
    for leader_index, loads in joiners.items():
        ov, leader = members[leader_index]
        room = max(0, capacity - ov.cand.op.batch_load)
        model.add(sum(load * join for load, join in loads) <= room * leader.leads)


def _consecutive(mv: ModelVars):
    by_job = defaultdict(list)
    for ov in mv.ops.values():
        by_job[ov.cand.job.id].append(ov)
    for ops in by_job.values():
        ops.sort(key=lambda ov: ov.cand.index)
        for before, after in pairwise(ops):
            if after.cand.index == before.cand.index + 1:
                yield before, after


RULES = (pin_running_operations, forbid_overlap_with_blocks_and_each_other, honour_setup_times,
         keep_attended_work_inside_calendars, chain_operations_with_lags, respect_release_and_material,
         leave_unplaced_only_as_a_suffix, fire_batches_within_capacity)
