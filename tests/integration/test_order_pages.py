"""The order pages through Flask's test client, on a real database, with CSRF protection on: ordering a design,
refusals on their fields, a co-op's orders kept from other co-ops, cancelling, and a steward planning an order
(which the inventory page then shows reserved) and working its operations."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from factory.domain.capabilities import Capabilities
from factory.domain.stock import Move
from factory.models import ProductionOrder, StockMove
from factory.services.designs import BomLine, DesignDraft, StepDraft, create_design
from factory.services.orders import OrderDraft, place_order
from factory.services.stock import MaterialDraft, create_material, record_move
from tests.integration.conftest import (
    count,
    field_errors,
    logged_in,
    make_commune_with_site,
    make_coop,
    make_machine,
    make_user,
    submit,
)
from tests.integration.test_booking_pages import text

NEEDED = date.today() + timedelta(days=21)


def make_works(session) -> dict:
    """Site north with a kiln (1,290 °C); stoneware clay (30 kg) and glaze (5,000 ml) in stock there; a mug
    design (350 g clay and 40 ml glaze each, two firings of up to 40, 8 to a job) and a cast bracket no machine
    can make (it needs a furnace); co-ops spokes (member mia) and gears (member gus); steward sam."""
    make_commune_with_site(session, "north")
    make_machine(session, id="kiln-1", name="Kiln 1", kind="kiln",
                 capabilities=Capabilities(600, 600, 680, ("stoneware",), 1290))
    for slug, name, unit, stock in (("stoneware", "Stoneware clay", "kg", "30"), ("glaze", "Clear glaze", "ml",
                                                                                  "5000")):
        create_material(session, MaterialDraft(slug, name, unit))
        record_move(session, slug, "north", Move("received", Decimal(stock)), by="steward:sam")
    create_design(session, DesignDraft(
        "mug", "Stoneware mug", "CC-BY-SA-4.0", "https://example.org/mug", "1.2", max_batch=8,
        steps=(StepDraft("bisque firing", "kiln", "480", 30, material="stoneware", min_temperature_c=1000,
                         batch_capacity=40),
               StepDraft("glaze firing", "kiln", "600", 30, material="stoneware", min_temperature_c=1240,
                         batch_capacity=40)),
        bom=(BomLine("stoneware", "350", "g", step=1), BomLine("glaze", "40", "ml", step=2))))
    create_design(session, DesignDraft(
        "bracket", "Cast bracket", "CERN-OHL-S-2.0", "https://example.org/bracket", "1",
        steps=(StepDraft("melt", "furnace", "30", 20, material="aluminium", min_temperature_c=700),)))
    make_coop(session, "spokes"), make_coop(session, "gears")
    return {"mia": make_user(session, "member", coop="spokes", login="mia"),
            "gus": make_user(session, "member", coop="gears", login="gus"),
            "sam": make_user(session, "steward", login="sam")}


@pytest.fixture
def works(session):
    return make_works(session)


def order_form(**overrides) -> dict:
    return {"design": "mug", "coop": "spokes", "quantity": "20", "needed_by": NEEDED.isoformat(),
            "priority": "normal", "notes": "café cups", **overrides}


def place(session, works, who: str = "mia", coop: str = "spokes", quantity: int = 20) -> ProductionOrder:
    return place_order(session, OrderDraft("mug", coop, quantity, NEEDED), viewer=works[who], by=f"member:{who}")


def reserved_cell(page: str, material: str) -> str:
    row = page.split(f'data-material="{material}"', 1)[1]
    return row.split('class="num reserved">', 1)[1].split("<", 1)[0]


# --- ordering -------------------------------------------------------------------------------------------------

def test_member_orders_through_the_form_and_the_order_is_stored_with_its_jobs(session, client, works):
    logged_in(client, "mia")

    response = submit(client, "/orders/new", order_form(), form_page="/orders/new?design=mug")

    assert response.status_code == 302
    order = session.scalars(select(ProductionOrder)).one()
    assert response.headers["Location"] == f"/orders/{order.id}"
    assert (order.coop.slug, order.quantity, order.needed_by, order.status) == ("spokes", 20, NEEDED, "submitted")
    assert [job.quantity for job in order.jobs] == [7, 7, 6]
    page = text(client.get(f"/orders/{order.id}"))
    assert "Job 3 · 6 pieces" in page and "0 of 6 operations done" in page
    assert "bisque firing" in page and "8 h 30 min" in page  # 480 min a firing plus 30 min setup


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"quantity": "0"}, "quantity", "between 1 and"),
    ({"needed_by": date.today().isoformat()}, "needed_by", "after today"),
    ({"design": "bracket"}, "design", "needs a furnace"),
    ({"coop": "gears"}, "coop", "Not a valid choice"),
    ({"quantity": "many"}, "quantity", "integer"),
])
def test_bad_order_input_shows_the_field_error_and_stores_nothing(session, client, works, change, field, words):
    logged_in(client, "mia")

    response = submit(client, "/orders/new", order_form(**change))

    assert response.status_code == 422
    errors = field_errors(text(response))
    assert field in errors and words in " ".join(errors[field]), errors
    assert count(session, ProductionOrder) == 0


def test_the_design_page_offers_ordering_and_says_what_a_design_cannot_be_made_with(client, works):
    logged_in(client, "mia")

    catalogue = text(client.get("/designs"))

    assert "350 g of Stoneware clay, at step 1 (bisque firing)" in catalogue
    assert "no machine can do step 1 (melt): it needs a furnace" in catalogue
    assert 'href="/orders/new?design=mug"' in text(client.get("/designs/mug"))
    assert 'href="/orders/new?design=bracket"' not in text(client.get("/designs/bracket"))


# --- another co-op's orders -----------------------------------------------------------------------------------

def test_member_cannot_see_nor_cancel_another_coops_order(session, client, works):
    theirs = place(session, works, who="gus", coop="gears")
    logged_in(client, "mia")

    assert client.get(f"/orders/{theirs.id}").status_code == 404
    assert f'data-order="{theirs.id}"' not in text(client.get("/orders"))
    refused = submit(client, f"/orders/{theirs.id}/cancel", {"reason": "not ours"}, form_page="/orders")

    assert refused.status_code == 404
    session.expire_all()
    assert session.get(ProductionOrder, theirs.id).status == "submitted"


def test_member_cancels_their_coops_order_only_with_a_reason(session, client, works):
    mine = place(session, works)
    logged_in(client, "mia")

    without = submit(client, f"/orders/{mine.id}/cancel", {"reason": ""}, form_page=f"/orders/{mine.id}")
    assert without.status_code == 422 and "reason" in field_errors(text(without))
    done = submit(client, f"/orders/{mine.id}/cancel", {"reason": "the café closed"}, form_page=f"/orders/{mine.id}")

    assert done.status_code == 302
    session.expire_all()
    assert session.get(ProductionOrder, mine.id).status == "cancelled"
    assert "the café closed" in text(client.get(f"/orders/{mine.id}"))


# --- planning and work ----------------------------------------------------------------------------------------

def test_steward_plan_button_reserves_stock_and_the_inventory_shows_it_reserved(session, client, works):
    order = place(session, works)
    logged_in(client, "sam")
    assert reserved_cell(text(client.get("/inventory")), "stoneware") == "0 kg"

    response = submit(client, f"/orders/{order.id}/plan", {"site": "north"}, form_page=f"/orders/{order.id}")

    assert response.status_code == 302
    session.expire_all()
    assert session.get(ProductionOrder, order.id).status == "planned"
    inventory = text(client.get("/inventory"))
    assert reserved_cell(inventory, "stoneware") == "7 kg"  # 20 mugs × 350 g
    assert reserved_cell(inventory, "glaze") == "800 ml"


def test_member_has_no_plan_button_and_cannot_plan(session, client, works):
    order = place(session, works)
    logged_in(client, "mia")

    assert "Plan and reserve materials" not in text(client.get(f"/orders/{order.id}"))
    assert submit(client, f"/orders/{order.id}/plan", {}, form_page=f"/orders/{order.id}").status_code == 403
    assert count(session, StockMove) == 2  # the two deliveries only


def test_steward_starts_and_finishes_an_operation_and_the_progress_shows_it(session, client, works):
    order = place(session, works)
    logged_in(client, "sam")
    page = f"/orders/{order.id}"
    submit(client, f"{page}/plan", {"site": ""}, form_page=page)
    first = order.jobs[0].operations[0]

    started = submit(client, f"{page}/operations/{first.id}/start", {}, form_page=page)
    finished = submit(client, f"{page}/operations/{first.id}/finish", {}, form_page=page)
    again = submit(client, f"{page}/operations/{first.id}/finish", {}, form_page=page)

    assert (started.status_code, finished.status_code, again.status_code) == (302, 302, 422)
    assert "only a running operation can finish" in text(again)
    shown = text(client.get(page))
    assert "1 of 6 operations done" in shown and "in progress" in shown


def test_steward_filters_every_coops_orders_by_status(session, client, works):
    planned, waiting = place(session, works), place(session, works, who="gus", coop="gears", quantity=4)
    logged_in(client, "sam")
    submit(client, f"/orders/{planned.id}/plan", {"site": "north"}, form_page=f"/orders/{planned.id}")

    everything = text(client.get("/orders"))
    only_planned = text(client.get("/orders?status=planned"))

    assert f'data-order="{planned.id}"' in everything and f'data-order="{waiting.id}"' in everything
    assert f'data-order="{planned.id}"' in only_planned and f'data-order="{waiting.id}"' not in only_planned
