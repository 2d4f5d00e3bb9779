"""Helpers shared by the order and stock API tests: a works with materials, stock and designs, built through
the services, and requests to the API.

The works is site `north` (printer-1, an FDM printer taking pla and petg) and site `south` (no machines);
co-ops spokes and gears with a member each (mia, gus), a steward (sam) and an admin (ada). Material
`petg-black` (kg, 2.000 kg at north) and `clay` (kg, reclaimed, none). Designs: `bracket`, printed in petg,
0.300 kg a piece, and `casting`, melted in a furnace the commune does not have.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

from factory.domain.stock import Move
from factory.services.designs import BomLine, DesignDraft, StepDraft, create_design
from factory.services.stock import MaterialDraft, create_material, record_move
from tests.integration.booking_api import call, make_shop
from tests.integration.conftest import make_commune_with_site

PETG = "petg-black"
CASTING_NEEDS = "it needs a furnace reaching 700 °C, and the commune has none"


def needed_by(days: int = 30) -> str:
    """A date `days` after today (UTC, as the services count days), as the API takes it."""
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


def today() -> date:
    return datetime.now(UTC).date()


def make_works(session) -> SimpleNamespace:
    """The works described above; the tokens of sam, ada, mia and gus (`.steward`, `.admin`, `.mia`, `.gus`)."""
    tokens = make_shop(session)
    make_commune_with_site(session, "south")
    make_material(session, PETG, "PETG black", "kg", stock="2.000")
    make_material(session, "clay", "Reclaimed clay", "kg", provenance="reclaimed")
    make_design(session, "bracket", StepDraft("print", "fdm_printer", "45", 10, material="petg",
                                              setup_family="petg"), BomLine(PETG, "0.300", "kg"))
    make_design(session, "casting", StepDraft("melt", "furnace", "30", 20, min_temperature_c=700))
    return tokens


def make_material(session, slug: str, name: str, unit: str, *, stock: str | None = None, site: str = "north",
                  provenance: str = "new"):
    material = create_material(session, MaterialDraft(slug, name, unit, provenance))
    if stock is not None:
        record_move(session, slug, site, Move("received", Decimal(stock)), by="steward:sam")
    return material


def make_design(session, slug: str, step: StepDraft, *bom: BomLine):
    return create_design(session, DesignDraft(slug, slug.capitalize(), "CC-BY-SA-4.0", f"https://example.org/{slug}",
                                              "1.0", steps=(step,), bom=bom))


def order_body(**changes) -> dict:
    return {"design": "bracket", "coop": "spokes", "quantity": 4, "needed_by": needed_by(), **changes}


def place(client, token: str, **changes) -> dict:
    response = call(client, "POST", "/api/v1/orders", token, order_body(**changes))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def stock_at(client, token: str, material: str = PETG, site: str = "north") -> dict:
    """The material's figures at the site, as GET /materials answers them."""
    items = call(client, "GET", "/api/v1/materials", token).get_json()["items"]
    line = next(line for item in items if item["slug"] == material for line in item["sites"] if line["site"] == site)
    return {name: line[name] for name in ("on_hand", "reserved", "available")}


def move_body(reason: str = "received", quantity: str = "0.300", **changes) -> dict:
    return {"material": PETG, "site": "north", "reason": reason, "quantity": quantity, **changes}
