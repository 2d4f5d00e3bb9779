"""The live plan through the services, on both databases: a snapshot of the works is solved, checked and
published as a version; bookings, maintenance and breakdowns are never overlapped; materials are reserved
with the plan and given back when an operation loses its place; triggers waiting together make one
version; a plan made stale while solving is not published; a steward's pin is kept."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from factory.domain.errors import Conflict, InvalidInput
from factory.domain.stock import Move
from factory.models import PlanTrigger, PlanVersion
from factory.services import planning
from factory.services.bookings import BookingDraft, create_booking
from factory.services.designs import BomLine, DesignDraft, StepDraft, create_design
from factory.services.machines import change_state
from factory.services.maintenance import MaintenanceDraft, schedule_maintenance
from factory.services.order_work import start_operation
from factory.services.orders import OrderDraft, operations_of, place_order
from factory.services.plan_pins import pin_operation
from factory.services.plan_triggers import waiting_triggers
from factory.services.sites import get_site
from factory.services.stock import MaterialDraft, balance, create_material, get_material, record_move
from tests.integration.conftest import make_commune_with_site, make_coop, make_machine, make_user

NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # a Monday, 08:00 in Berlin
NEEDED = date(2026, 12, 18)
LIMIT = 1.0


@pytest.fixture
def works(session):
    """Site north (Berlin, open Mon-Fri 09-17) with two printers that may run unattended; PETG (5 kg); a bracket
    (45 min and 0.2 kg a piece, 4 to a job); co-ops spokes and gears; a steward."""
    make_commune_with_site(session, "north")
    for n in (1, 2):
        make_machine(session, id=f"printer-{n}", name=f"Printer {n}", state="idle", unattended_ok=True)
    create_material(session, MaterialDraft("petg", "PETG", "kg"))
    record_move(session, "petg", "north", Move("received", Decimal("5")), by="steward:sam", now=NOW)
    create_design(session, DesignDraft("bracket", "Bracket", "CC-BY-SA-4.0", "https://example.org/b", "1.0",
                                       max_batch=4, steps=(StepDraft("print", "fdm_printer", "45", 0,
                                                                     material="petg", setup_family="petg"),),
                                       bom=(BomLine("petg", "0.2", "kg"),)))
    make_coop(session, "spokes"), make_coop(session, "gears")
    return {"sam": make_user(session, "steward", login="sam"),
            "mia": make_user(session, "member", coop="spokes", login="mia")}


def order(session, works, quantity=8, coop="spokes"):
    return place_order(session, OrderDraft("bracket", coop, quantity, NEEDED), viewer=works["sam"], by="steward:sam",
                       now=NOW)


def plan(session, **kwargs) -> PlanVersion:
    return planning.replan(session, by="test", kind="manual", now=NOW, time_limit_s=LIMIT, **kwargs)


def petg_at_north(session):
    return balance(session, get_material(session, "petg").id, get_site(session, "north").id)


def spans(version: PlanVersion, machine: str) -> list[tuple[datetime, datetime]]:
    return [(a.starts_at, a.ends_at) for a in version.assignments if a.machine_id == machine]


def test_a_published_plan_places_every_operation_reserves_its_material_and_marks_the_order_planned(session, works):
    placed = order(session, works)

    version = plan(session)

    assert version.outcome == "published" and version.solver_status in ("optimal", "feasible")
    assert sorted(a.operation_id for a in version.assignments) == sorted(op.id for op in operations_of(placed))
    assert all(a.starts_at >= NOW for a in version.assignments)
    for op in operations_of(placed):
        session.refresh(op)
        assert op.status == "planned" and op.machine_id in ("printer-1", "printer-2") and op.planned_start >= NOW
    assert petg_at_north(session).reserved == Decimal("1.6")
    session.refresh(placed)
    assert placed.status == "planned"
    assert [t["kind"] for t in version.triggers][-2:] == ["order_placed", "manual"]


def test_planned_operations_never_overlap_a_booking_or_a_maintenance_window(session, works):
    day = NOW.replace(hour=8)  # 09:00 in Berlin
    create_booking(session, BookingDraft("printer-1", "gears", day, day + timedelta(hours=8)), by="steward:sam",
                   now=NOW)
    schedule_maintenance(session, MaintenanceDraft("printer-2", NOW, NOW + timedelta(hours=30), "nozzle"),
                         by="steward:sam", now=NOW)
    order(session, works, quantity=16)

    version = plan(session)

    assert version.outcome == "published" and not version.unplanned
    assert all(end <= day or start >= day + timedelta(hours=8) for start, end in spans(version, "printer-1"))
    assert all(start >= NOW + timedelta(hours=30) for start, _end in spans(version, "printer-2"))


def test_a_machine_that_faults_gets_no_new_work_and_the_running_operation_stays(session, works):
    placed = order(session, works, quantity=16)
    first = plan(session)
    running = next(a for a in first.assignments if a.starts_at == NOW)
    start_operation(session, running.operation_id, by="steward:sam", now=NOW)
    other = "printer-2" if running.machine_id == "printer-1" else "printer-1"
    change_state(session, other, "fault", by="steward:sam", reason="clogged", at=NOW)

    second = plan(session)

    assert second.outcome == "published"
    assert spans(second, other) == []
    kept = next(a for a in second.assignments if a.operation_id == running.operation_id)
    assert (kept.machine_id, kept.starts_at, kept.fixed) == (running.machine_id, NOW, "running")
    assert {t["kind"] for t in second.triggers} >= {"operation_started", "machine_down"}
    assert len(second.assignments) == len(operations_of(placed))


def test_an_operation_that_loses_its_place_gives_its_material_back_and_says_why(session, works):
    placed = order(session, works, quantity=4)
    plan(session)
    assert petg_at_north(session).reserved == Decimal("0.8")
    for n in (1, 2):
        change_state(session, f"printer-{n}", "fault", by="steward:sam", reason="power", at=NOW)

    version = plan(session)

    assert version.outcome == "published" and not version.assignments
    assert [u.reason for u in version.unplanned] == ["no_room_before_horizon"]
    assert "Printer 1 is fault" in version.unplanned[0].explanation
    assert "Printer 2 is fault" in version.unplanned[0].explanation
    assert petg_at_north(session).reserved == 0
    session.refresh(placed)
    assert placed.status == "submitted"
    assert operations_of(placed)[0].status == "waiting" and operations_of(placed)[0].machine_id is None


def test_short_material_without_an_order_leaves_the_operation_waiting_for_it(session, works):
    order(session, works, quantity=4)
    record_move(session, "petg", "north", Move("scrapped", Decimal("4.5")), by="steward:sam", now=NOW)

    version = plan(session)

    assert [u.reason for u in version.unplanned] == ["waiting_for_material"]
    assert "waits for material" in version.unplanned[0].explanation


def test_triggers_waiting_together_are_planned_in_one_version(session, works):
    before = len(waiting_triggers(session))  # the printers coming up in the fixture
    for coop in ("spokes", "gears", "spokes"):
        order(session, works, quantity=4, coop=coop)
    change_state(session, "printer-2", "maintenance", by="steward:sam", reason="belt", at=NOW)
    assert len(waiting_triggers(session)) == before + 4

    version = plan(session)

    kinds = [t["kind"] for t in version.triggers]
    assert len(kinds) == before + 5 and kinds.count("order_placed") == 3 and kinds[-2:] == ["machine_down", "manual"]
    assert waiting_triggers(session) == []
    assert session.scalar(select(PlanVersion.id).where(PlanVersion.id != version.id)) is None
    assert session.scalars(select(PlanTrigger.version_id)).all() == [version.id] * (before + 4)


def test_nothing_moves_when_the_works_did_not_change(session, works):
    order(session, works, quantity=12)
    first = plan(session)

    second = plan(session)

    assert second.outcome == "published" and second.moved == 0 and second.based_on_id == first.id
    assert [(a.operation_id, a.machine_id, a.starts_at) for a in second.assignments] == \
        [(a.operation_id, a.machine_id, a.starts_at) for a in first.assignments]


def test_a_plan_made_stale_by_a_booking_during_the_solve_is_not_published(session, works, monkeypatch):
    placed = order(session, works, quantity=4)
    real_solve = planning.solve
    booked = (NOW.replace(hour=8), NOW.replace(hour=16))  # 09:00-17:00 in Berlin, over the plan's first hours
    taken: list[str] = []

    def solve_while_someone_books(problem, **kwargs):
        found = real_solve(problem, **kwargs)
        taken.append(found.assignments[0].machine)
        create_booking(session, BookingDraft(taken[0], "gears", *booked), by="steward:sam", now=NOW)
        return found

    monkeypatch.setattr(planning, "solve", solve_while_someone_books)
    stale = plan(session)
    monkeypatch.setattr(planning, "solve", real_solve)

    assert stale.outcome == "rejected" and "made meanwhile" in stale.reason
    assert [t.kind for t in waiting_triggers(session)][-2:] == ["order_placed", "booking"]
    session.refresh(placed)
    assert placed.status == "submitted" and petg_at_north(session).reserved == 0
    fresh = plan(session)
    assert fresh.outcome == "published"
    assert all(end <= booked[0] or start >= booked[1] for start, end in spans(fresh, taken[0]))


def test_a_pinned_operation_is_kept_where_the_steward_put_it(session, works):
    placed = order(session, works, quantity=8)
    plan(session)
    second_job = operations_of(placed)[1]
    at = NOW + timedelta(days=2, hours=3)

    pin_operation(session, second_job.id, "printer-2", at, by="steward:sam", now=NOW)
    version = plan(session)

    kept = next(a for a in version.assignments if a.operation_id == second_job.id)
    assert (kept.machine_id, kept.starts_at, kept.fixed) == ("printer-2", at, "pinned")
    assert "pin" in {t["kind"] for t in version.triggers}


@pytest.mark.parametrize(("machine", "start", "error", "field"), [
    ("printer-9", NOW + timedelta(hours=2), InvalidInput, "machine"),
    ("printer-1", NOW - timedelta(hours=1), InvalidInput, "start"),
    ("printer-1", NOW + timedelta(days=30), InvalidInput, "start"),
])
def test_a_pin_that_cannot_hold_is_refused_on_its_field(session, works, machine, start, error, field):
    placed = order(session, works, quantity=4)

    with pytest.raises(error) as refused:
        pin_operation(session, operations_of(placed)[0].id, machine, start, by="steward:sam", now=NOW)

    assert refused.value.field == field
    assert operations_of(placed)[0].pinned_machine_id is None


def test_a_pin_over_a_booking_is_refused(session, works):
    placed = order(session, works, quantity=4)
    day = NOW.replace(hour=8)
    create_booking(session, BookingDraft("printer-1", "gears", day, day + timedelta(hours=4)), by="steward:sam",
                   now=NOW)

    with pytest.raises(Conflict) as refused:
        pin_operation(session, operations_of(placed)[0].id, "printer-1", day + timedelta(hours=1), by="steward:sam",
                      now=NOW)

    assert refused.value.field == "start" and "held" in refused.value.message


def test_a_pin_over_another_pin_is_refused_and_one_met_later_is_let_go_with_a_note(session, works):
    placed = order(session, works, quantity=12)
    first, second, third = operations_of(placed)
    at = NOW + timedelta(days=1)
    pin_operation(session, first.id, "printer-1", at, by="steward:sam", now=NOW)

    with pytest.raises(Conflict) as refused:
        pin_operation(session, second.id, "printer-1", at + timedelta(minutes=30), by="steward:sam", now=NOW)
    assert refused.value.field == "start" and f"operation {first.id}" in refused.value.message

    third.pinned_machine_id, third.pinned_start = "printer-1", at + timedelta(minutes=60)  # as an older app let in
    session.commit()
    version = plan(session)

    assert version.outcome == "published"
    assert any(f"operation {third.id} was pinned" in note for note in version.notes)
    kept = next(a for a in version.assignments if a.operation_id == first.id)
    assert (kept.machine_id, kept.starts_at, kept.fixed) == ("printer-1", at, "pinned")


def test_a_printer_running_a_job_outside_the_plan_is_taken_as_busy_for_an_hour(session, works):
    change_state(session, "printer-1", "running", by="steward:sam", reason="a co-op's own print", at=NOW)
    change_state(session, "printer-2", "fault", by="steward:sam", reason="power", at=NOW)
    order(session, works, quantity=4)

    version = plan(session)

    assert [(a.machine_id, a.starts_at) for a in version.assignments] == [("printer-1", NOW + timedelta(hours=1))]
    assert any("Printer 1 is running with a job outside the plan" in note for note in version.notes)
