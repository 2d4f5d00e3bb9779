"""The inventory pages through Flask's test client, on a real database, with CSRF protection on: stock per
site, the stock move form and its refusals, kanban cards marked ordered (in the site's time) and received,
a material's history, and members looking without changing anything."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from factory.models import Replenishment, StockMove
from factory.services.replenishment import set_reorder_rule
from factory.services.sites import get_site
from factory.services.stock import balance, get_material
from tests.integration.conftest import count, field_errors, logged_in, make_commune_with_site, submit
from tests.integration.test_booking_pages import text
from tests.integration.test_order_pages import make_works, reserved_cell

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def works(session):
    """make_works' shop and site south (Berlin too), steward sam logged in by the tests that need it."""
    shop = make_works(session)
    make_commune_with_site(session, "south")
    return shop


def on_hand(session, slug: str, site: str = "north") -> Decimal:
    session.expire_all()
    return balance(session, get_material(session, slug).id, get_site(session, site).id).on_hand


def move_form(**overrides) -> dict:
    return {"material": "stoneware", "site": "north", "reason": "received", "to_site": "", "quantity": "12.5",
            "note": "", **overrides}


def open_card(session) -> Replenishment:
    """A reorder point above the 30 kg of clay at north opens a card for 50 kg."""
    set_reorder_rule(session, "stoneware", "north", "40", "50")
    return session.scalars(select(Replenishment)).one()


def test_inventory_shows_each_sites_stock_with_units(session, client, works):
    logged_in(client, "sam")

    page = text(client.get("/inventory"))

    assert 'data-site="north"' in page and 'data-site="south"' in page
    assert 'class="num on-hand">30 kg<' in page and 'class="num on-hand">5,000 ml<' in page
    assert reserved_cell(page, "stoneware") == "0 kg"


def test_steward_books_a_delivery_through_the_move_form(session, client, works):
    logged_in(client, "sam")

    response = submit(client, "/inventory/moves", move_form(), form_page="/inventory")

    assert response.status_code == 302
    assert on_hand(session, "stoneware") == Decimal("42.5")


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"reason": "adjusted", "quantity": "-2"}, "note", "needs a reason"),
    ({"quantity": "1,5"}, "quantity", "use '.' for decimals"),
    ({"quantity": "0"}, "quantity", "more than zero"),
    ({"reason": "scrapped", "quantity": "31"}, "quantity", "only 30 kg on hand"),
    ({"reason": "transferred"}, "to_site", "pick the site"),
    ({"quantity": ""}, "quantity", "give a quantity"),
])
def test_a_stock_move_form_error_names_its_field_and_stores_nothing(session, client, works, change, field, words):
    logged_in(client, "sam")

    response = submit(client, "/inventory/moves", move_form(**change), form_page="/inventory")

    assert response.status_code == 422
    errors = field_errors(text(response))
    assert field in errors and words in " ".join(errors[field]), errors
    assert count(session, StockMove) == 2


def test_a_transfer_moves_stock_between_sites(session, client, works):
    logged_in(client, "sam")

    response = submit(client, "/inventory/moves", move_form(reason="transferred", to_site="south", quantity="10"),
                      form_page="/inventory")

    assert response.status_code == 302
    assert (on_hand(session, "stoneware"), on_hand(session, "stoneware", "south")) == (Decimal(20), Decimal(10))


def test_marking_a_card_received_raises_on_hand_and_moves_it_to_received(session, client, works):
    card = open_card(session)
    logged_in(client, "sam")
    assert f'data-card="{card.id}"' in text(client.get("/inventory"))

    response = submit(client, f"/inventory/cards/{card.id}/received", {}, form_page="/inventory")

    assert response.status_code == 302
    assert on_hand(session, "stoneware") == Decimal(80)
    page = text(client.get("/inventory"))
    received = page.split('data-column="received"', 1)[1].split("</div>", 1)[0]
    assert f'data-card="{card.id}"' in received


def test_marking_a_card_ordered_reads_the_arrival_on_the_sites_clock(session, client, works):
    card = open_card(session)
    logged_in(client, "sam")
    arrival = (datetime.now(BERLIN) + timedelta(days=3)).replace(hour=10, minute=30, second=0, microsecond=0)
    prefix = f"card-{card.id}-"

    past = submit(client, f"/inventory/cards/{card.id}/ordered",
                  {f"{prefix}expected_at": "2001-01-01T10:00", f"{prefix}note": ""}, form_page="/inventory")
    done = submit(client, f"/inventory/cards/{card.id}/ordered",
                  {f"{prefix}expected_at": arrival.strftime("%Y-%m-%dT%H:%M"), f"{prefix}note": "Clay Co., 118"},
                  form_page="/inventory")

    assert past.status_code == 422 and f"{prefix}expected_at" in field_errors(text(past))
    assert done.status_code == 302
    session.expire_all()
    stored = session.get(Replenishment, card.id)
    assert (stored.status, stored.expected_at, stored.supplier_note) == ("ordered", arrival, "Clay Co., 118")


def test_material_page_lists_its_moves_newest_first_with_a_chart(session, client, works):
    logged_in(client, "sam")
    submit(client, "/inventory/moves", move_form(reason="adjusted", quantity="-1.25", note="recount"),
           form_page="/inventory")

    page = text(client.get("/inventory/stoneware"))

    assert page.index("recount") < page.index("Received")
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="chart stock-chart"' in page
    assert "now 28.75 kg, lowest 0 kg, highest 30 kg" in page
    assert client.get("/inventory/no-such-thing").status_code == 404


def test_member_sees_the_inventory_but_cannot_change_it(session, client, works):
    card = open_card(session)
    logged_in(client, "mia")

    page = text(client.get("/inventory"))

    assert f'data-card="{card.id}"' in page
    assert "Book the move" not in page and "Mark received" not in page
    assert submit(client, "/inventory/moves", move_form(), form_page="/inventory").status_code == 403
    assert submit(client, f"/inventory/cards/{card.id}/received", {}, form_page="/inventory").status_code == 403
    assert on_hand(session, "stoneware") == Decimal(30)
