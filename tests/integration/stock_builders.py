"""Builders shared by the stock store tests: materials with stock, operations to reserve for, short moves."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from factory.domain.stock import Move, Reason
from factory.models import Design, Job, Operation, ProductionOrder, Replenishment, RoutingStep
from factory.services.sites import get_site
from factory.services.stock import (
    MaterialDraft,
    balance,
    create_material,
    get_material,
    record_move,
)
from tests.integration.conftest import make_commune_with_site, make_coop

D = Decimal
NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
_numbers = itertools.count(1)



def make_material(session, slug: str = "petg", unit: str = "g", name: str | None = None):
    return create_material(session, MaterialDraft(slug, name or slug.upper(), unit))


def make_stock(session, slug: str = "petg", *sites: str):
    """Sites (default `north`) and a material in grams; the material."""
    for site in sites or ("north",):
        make_commune_with_site(session, site)
    return make_material(session, slug)


def make_operations(session, how_many: int = 1) -> list[int]:
    """Operations of one job of one order (the orders service is not needed for the stock store)."""
    coop = make_coop(session, f"coop-{next(_numbers)}")
    step = RoutingStep(position=1, name="print", machine_kind="fdm_printer", minutes_per_unit=D("30"))
    design = Design(slug=f"stool-{coop.id}", name="Stool", licence="CERN-OHL-S-2.0",
                    source_url="https://example.org/stool", version="1", steps=[step])
    operations = [Operation(step=step, position=n + 1, duration_minutes=30) for n in range(how_many)]
    order = ProductionOrder(coop_id=coop.id, design=design, design_version="1", quantity=how_many,
                            needed_by=date(2027, 1, 1), placed_by="test",
                            jobs=[Job(number=1, quantity=how_many, operations=operations)])
    session.add(order)
    session.commit()
    return [operation.id for operation in operations]


def move(reason: str, quantity: str, note: str = "") -> Move:
    return Move(Reason(reason), D(quantity), note)


def book(session, reason: str, quantity: str, note: str = "", *, material: str = "petg", site: str = "north"):
    return record_move(session, material, site, move(reason, quantity, note), by="sam", now=NOW)


def site_id(session, slug: str = "north") -> int:
    return get_site(session, slug).id


def figures(session, material: str = "petg", site: str = "north") -> tuple[Decimal, Decimal, Decimal]:
    found = balance(session, get_material(session, material).id, site_id(session, site))
    return found.on_hand, found.reserved, found.available


def cards(session, status: str | None = None) -> list[Replenishment]:
    session.expire_all()
    query = select(Replenishment).order_by(Replenishment.id)
    if status is not None:
        query = query.where(Replenishment.status == status)
    return list(session.scalars(query))

