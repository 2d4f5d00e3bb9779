"""Designs and production orders through the services: an order becomes jobs of a bounded batch and
operations from the routing; a design no machine can make is refused saying what is missing; planning
reserves the materials, finishing consumes them, cancelling releases them; a member reaches only their
co-op's orders."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

import factory.db
from factory.domain.capabilities import Capabilities
from factory.domain.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from factory.domain.stock import Move
from factory.models import Replenishment, User
from factory.services.designs import BomLine, DesignDraft, StepDraft, create_design, get_design, update_design
from factory.services.order_work import finish_operation, plan_order, start_operation
from factory.services.orders import OrderDraft, cancel_order, get_order, list_orders, operations_of, place_order
from factory.services.sites import get_site
from factory.services.stock import (
    MaterialDraft,
    balance,
    create_material,
    get_material,
    record_move,
    update_material,
)
from tests.integration.conftest import make_commune_with_site, make_coop, make_machine, make_user

NOW = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
NEEDED = date(2026, 12, 21)


@pytest.fixture
def works(session):
    """Site north with a kiln (1,290 °C); stoneware clay (kg, 30 kg in stock) and glaze (ml, 5 l); a mug design
    (0.35 kg clay and 40 ml glaze each; bisque firing, glaze firing, 40 to a firing, 8 to a job); two co-ops with
    a member each and a steward."""
    site = make_commune_with_site(session, "north")
    make_machine(session, id="kiln-1", name="Kiln 1", kind="kiln", unattended_ok=True,
                 capabilities=Capabilities(600, 600, 680, ("stoneware",), 1290))
    for slug, name, unit, stock in (("stoneware", "Stoneware clay", "kg", "30"), ("glaze", "Clear glaze", "ml",
                                                                                  "5000")):
        create_material(session, MaterialDraft(slug, name, unit))
        record_move(session, slug, "north", Move("received", Decimal(stock)), by="steward:sam", now=NOW)
    create_design(session, DesignDraft(
        "mug", "Stoneware mug", "CC-BY-SA-4.0", "https://example.org/mug", "1.2", max_batch=8,
        steps=(StepDraft("bisque firing", "kiln", "480", 30, min_temperature_c=1000, batch_capacity=40,
                         setup_family="bisque"),
               StepDraft("glaze firing", "kiln", "600", 30, min_temperature_c=1240, batch_capacity=40,
                         setup_family="glaze")),
        bom=(BomLine("stoneware", "350", "g", step=1), BomLine("glaze", "40", "ml", step=2))))
    make_coop(session, "spokes"), make_coop(session, "gears")
    return {"site": site, "mia": make_user(session, "member", coop="spokes", login="mia"),
            "gus": make_user(session, "member", coop="gears", login="gus"),
            "sam": make_user(session, "steward", login="sam")}


def clay_id(session) -> int:
    return get_material(session, "stoneware").id


def order(session, works, quantity=20, *, who="mia", coop="spokes", design="mug"):
    return place_order(session, OrderDraft(design, coop, quantity, NEEDED), viewer=works[who], by=f"member:{who}",
                       now=NOW)


def test_an_order_of_twenty_mugs_is_three_jobs_each_with_both_firings(session, works):
    placed = order(session, works)

    assert [job.quantity for job in placed.jobs] == [7, 7, 6]
    assert [[(op.position, op.step.name, op.duration_minutes) for op in job.operations] for job in placed.jobs][0] == \
        [(1, "bisque firing", 510), (2, "glaze firing", 630)]
    assert placed.status == "submitted" and [c.to_status for c in placed.changes] == ["submitted"]


@pytest.mark.parametrize(("change", "field"), [
    ({"quantity": 0}, "quantity"), ({"needed_by": date(2026, 12, 7)}, "needed_by"),
    ({"priority": "whenever"}, "priority"),
])
def test_an_order_breaking_a_rule_names_the_field_and_stores_nothing(session, works, change, field):
    draft = {"design": "mug", "coop": "spokes", "quantity": 5, "needed_by": NEEDED, **change}

    with pytest.raises(InvalidInput) as refused:
        place_order(session, OrderDraft(**draft), viewer=works["mia"], by="member:mia", now=NOW)

    assert refused.value.field == field
    assert list_orders(session, works["sam"]) == []


def test_a_design_no_machine_can_make_is_refused_saying_what_is_missing(session, works):
    create_design(session, DesignDraft(
        "bracket", "Cast bracket", "CERN-OHL-S-2.0", "https://example.org/bracket", "1",
        steps=(StepDraft("melt", "furnace", "30", 20, min_temperature_c=700),)))

    with pytest.raises(InvalidInput) as refused:
        order(session, works, design="bracket")

    assert refused.value.field == "design" and refused.value.code == "no_capable_machine"
    assert "needs a furnace" in refused.value.message


def test_a_member_orders_for_their_own_coop_only_and_sees_only_its_orders(session, works):
    mine = order(session, works)

    with pytest.raises(Forbidden):
        order(session, works, who="gus", coop="spokes")
    with pytest.raises(NotFound):
        get_order(session, mine.id, works["gus"])
    assert list_orders(session, works["gus"]) == []
    assert [o.id for o in list_orders(session, works["mia"])] == [mine.id]


def test_planning_reserves_exactly_what_the_jobs_need_and_finishing_consumes_it(session, works):
    placed = order(session, works)
    site = works["site"].id

    plan_order(session, placed.id, viewer=works["sam"], by="steward:sam", now=NOW)

    clay = balance(session, clay_id(session), site)
    assert placed.status == "planned"
    assert (clay.on_hand, clay.reserved, clay.available) == (Decimal("30"), Decimal("7.000"), Decimal("23.000"))
    first = operations_of(placed)[0]
    start_operation(session, first.id, by="steward:sam", now=NOW)
    finish_operation(session, first.id, by="steward:sam", now=NOW)
    clay = balance(session, clay_id(session), site)
    assert (clay.on_hand, clay.reserved) == (Decimal("27.550"), Decimal("4.550"))  # 7 mugs × 0.35 kg used
    assert placed.status == "in_progress"


def test_an_operation_short_of_material_waits_and_says_so(session, works):
    placed = order(session, works, quantity=100)  # 35 kg of clay, 30 kg in stock

    plan_order(session, placed.id, viewer=works["sam"], by="steward:sam", now=NOW)

    waiting = [op for op in operations_of(placed) if op.status == "waiting"]
    assert placed.status == "submitted"
    assert waiting and all("short of Stoneware clay" in op.material_note for op in waiting)


def test_cancelling_a_planned_order_releases_its_reservations(session, works):
    placed = order(session, works)
    plan_order(session, placed.id, viewer=works["sam"], by="steward:sam", now=NOW)

    cancel_order(session, placed.id, viewer=works["mia"], by="member:mia", reason="the fair is off", now=NOW)

    assert placed.status == "cancelled"
    assert balance(session, clay_id(session), works["site"].id).reserved == 0
    assert {op.status for op in operations_of(placed)} == {"cancelled"}


def test_an_order_under_way_cannot_be_cancelled(session, works):
    placed = order(session, works)
    plan_order(session, placed.id, viewer=works["sam"], by="steward:sam", now=NOW)
    start_operation(session, operations_of(placed)[0].id, by="steward:sam", now=NOW)

    with pytest.raises(Conflict):
        cancel_order(session, placed.id, viewer=works["mia"], by="member:mia", reason="too late", now=NOW)


def test_planning_again_reserves_nothing_twice_and_moves_what_another_site_held(session, works):
    make_commune_with_site(session, "south")
    for slug in ("stoneware", "glaze"):
        record_move(session, slug, "south", Move("received", Decimal("9000")), by="steward:sam", now=NOW)
    placed = order(session, works, quantity=8)
    plan_order(session, placed.id, viewer=works["sam"], by="steward:sam", site="north", now=NOW)

    plan_order(session, placed.id, viewer=works["sam"], by="steward:sam", site="north", now=NOW)
    north, south = works["site"].id, get_site(session, "south").id
    assert balance(session, clay_id(session), north).reserved == Decimal("2.800")  # 8 × 0.35 kg, once

    for operation in operations_of(placed):
        operation.status = "waiting"  # as if a re-plan had put it back
    session.commit()
    plan_order(session, placed.id, viewer=works["sam"], by="steward:sam", site="south", now=NOW)
    assert balance(session, clay_id(session), north).reserved == 0
    assert balance(session, clay_id(session), south).reserved == Decimal("2.800")


def test_four_plans_of_one_order_at_once_reserve_its_materials_once(session, engine, works):
    placed = order(session, works, quantity=8)
    sessions = factory.db.make_sessionmaker(engine)
    start = threading.Barrier(4)

    def plan(_n):
        with sessions() as own:
            steward = own.get(User, works["sam"].id)
            start.wait(timeout=30)
            try:
                plan_order(own, placed.id, viewer=steward, by="steward:sam", now=NOW)
            except DomainError as exc:
                own.rollback()
                return exc
        return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(plan, range(4)))

    assert all(outcome is None or isinstance(outcome, Conflict) for outcome in outcomes)
    assert balance(session, clay_id(session), works["site"].id).reserved == Decimal("2.800")  # 8 × 0.35 kg


def test_work_starts_only_on_a_planned_order_and_step_by_step(session, works):
    placed = order(session, works, quantity=8)
    first, second = operations_of(placed)[:2]

    with pytest.raises(Conflict, match="only a planned operation"):
        start_operation(session, first.id, by="steward:sam", now=NOW)
    plan_order(session, placed.id, viewer=works["sam"], by="steward:sam", now=NOW)
    with pytest.raises(Conflict, match="step 1 of this job is not done"):
        start_operation(session, second.id, by="steward:sam", now=NOW)

    start_operation(session, first.id, by="steward:sam", now=NOW)
    finish_operation(session, first.id, by="steward:sam", now=NOW)
    start_operation(session, second.id, by="steward:sam", now=NOW)
    assert (first.status, second.status, placed.status) == ("done", "running", "in_progress")


def mug_draft(**changes) -> DesignDraft:
    draft = dict(slug="mug", name="Stoneware mug", licence="CC-BY-SA-4.0", source_url="https://example.org/mug",
                 version="1.3", max_batch=8,
                 steps=(StepDraft("bisque firing", "kiln", "480", 30, min_temperature_c=1000, batch_capacity=40,
                                  setup_family="bisque"),
                        StepDraft("glaze firing", "kiln", "600", 30, min_temperature_c=1240, batch_capacity=40,
                                  setup_family="glaze")),
                 bom=(BomLine("stoneware", "350", "g", step=1), BomLine("glaze", "40", "ml", step=2)))
    return DesignDraft(**{**draft, **changes})


def test_a_design_nobody_ordered_can_change_its_routing(session, works):
    update_design(session, "mug", mug_draft(steps=(StepDraft("single firing", "kiln", "700", 30,
                                                             min_temperature_c=1240, batch_capacity=40),),
                                            bom=(BomLine("stoneware", "400", "g"),)))

    design = get_design(session, "mug")
    assert [(s.position, s.name) for s in design.steps] == [(1, "single firing")]
    assert [line.quantity_per_unit for line in design.materials] == [Decimal("400.000")]


def test_an_ordered_design_keeps_its_routing_but_may_change_its_name(session, works):
    order(session, works)

    with pytest.raises(Conflict):
        update_design(session, "mug", mug_draft(bom=(BomLine("stoneware", "5", "kg", step=1),
                                                     BomLine("glaze", "40", "ml", step=2))))
    session.rollback()
    update_design(session, "mug", mug_draft(name="Stoneware mug, speckled"))
    assert get_design(session, "mug").name == "Stoneware mug, speckled"


def test_a_bill_of_materials_finer_than_the_stock_is_kept_is_refused(session, works):
    with pytest.raises(InvalidInput) as refused:
        create_design(session, mug_draft(slug="thimble", bom=(BomLine("stoneware", "0.5", "g"),)))

    assert refused.value.field == "bom.quantity_per_unit"


def test_an_operation_short_of_material_pulls_a_card_for_what_it_lacks(session, works):
    placed = order(session, works, quantity=100)  # 35 kg of clay, 30 kg in stock, no reorder rule

    plan_order(session, placed.id, viewer=works["sam"], by="steward:sam", now=NOW)

    cards = session.scalars(select(Replenishment).where(Replenishment.material_id == clay_id(session))).all()
    assert [(card.status, card.shortfall) for card in cards] == [("open", Decimal("5.000"))]


def test_a_materials_unit_is_fixed_once_a_design_counts_in_it(session, works):
    create_material(session, MaterialDraft("wax", "Casting wax", "kg"))
    create_design(session, mug_draft(slug="candle", bom=(BomLine("wax", "200", "g"),)))

    with pytest.raises(Conflict) as refused:
        update_material(session, "wax", MaterialDraft("wax", "Casting wax", "piece"))

    assert refused.value.field == "unit"
