"""The demo commune's production: materials in stock at both sites with reorder rules, five open designs the
demo machines can make, and a few orders per co-op, one of them planned so the inventory shows reservations.

Stock history starts six weeks before seeding, so a material's page has moves to chart.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from factory.domain.stock import Move, Reason
from factory.models import User
from factory.services.designs import BomLine, DesignDraft, StepDraft, create_design
from factory.services.order_work import plan_order
from factory.services.orders import OrderDraft, cancel_order, place_order
from factory.services.replenishment import mark_ordered, mark_received, set_reorder_rule
from factory.services.stock import MaterialDraft, balances, create_material, record_move

STEWARD = "steward:steward"
PLACED_BY = {"clayworks": "member:mei", "spokes": "member:member", "open-furniture": "member:kwame",
             "foundry-friends": "member:ilse"}

MATERIALS = (
    MaterialDraft("petg", "PETG filament", "g", "new", "1.75 mm, 1 kg spools; black and clear"),
    MaterialDraft("pla", "PLA filament", "g", "new", "1.75 mm, 1 kg spools"),
    MaterialDraft("birch-ply-6", "Birch plywood 6 mm, 600 × 400 sheet", "piece", "new",
                  "B/BB grade, cut to the laser bed"),
    MaterialDraft("stoneware-clay", "Stoneware clay", "kg", "new", "Cone 6-10 throwing body, 12.5 kg bags"),
    MaterialDraft("glaze", "Leach 4321 glaze, mixed", "l", "new", "Cone 10 clear base, mixed in 10 l buckets"),
    MaterialDraft("aluminium-scrap", "Reclaimed aluminium scrap", "kg", "reclaimed",
                  "Sorted cast and extrusion offcuts; melted in the induction furnace"),
)

# material, site, quantity received six weeks ago, (reorder point, reorder quantity) or None
STOCK = (
    ("petg", "leipzig", "6000", ("2000", "5000")), ("petg", "montreal", "2500", ("3000", "4000")),
    ("pla", "leipzig", "8000", ("2000", "5000")), ("pla", "montreal", "3000", None),
    ("birch-ply-6", "leipzig", "40", ("20", "40")), ("birch-ply-6", "montreal", "12", None),
    ("stoneware-clay", "leipzig", "125", ("40", "100")), ("stoneware-clay", "montreal", "50", ("20", "50")),
    ("glaze", "leipzig", "20", ("5", "20")), ("glaze", "montreal", "6", None),
    ("aluminium-scrap", "leipzig", "45", ("25", "50")),
)

DESIGNS = (
    DesignDraft(
        "bottle-cage-riser", "Bottle-cage riser", "CC-BY-SA-4.0",
        "https://github.com/smkent/monoscad/tree/main/bicycle-cage-riser", "1.0", max_batch=6,
        summary="Moves a bottle cage 30 mm along the frame's two bosses, so a cage fits a small or cargo frame. "
                "OpenSCAD, by smkent; printed in PETG for sun and rain.",
        steps=(StepDraft("print", "fdm_printer", "55", 10, material="petg", min_volume_mm=(125, 25, 12),
                         setup_family="petg"),),
        bom=(BomLine("petg", "28", "g"),)),
    DesignDraft(
        "spur-gear-m1-36", "Spur gear, module 1, 36 teeth", "CC-BY-NC-SA-3.0",
        "https://github.com/chrisspen/gears", "2.2", max_batch=10,
        summary="A spare drive gear for kitchen mixers and grinders, generated with the parametric gears library "
                "for OpenSCAD (Dr Jörg Janssen, English fork by chrisspen); 8 mm bore, 10 mm face, PETG.",
        steps=(StepDraft("print", "fdm_printer", "42", 10, material="petg", min_volume_mm=(40, 40, 10),
                         setup_family="petg"),),
        bom=(BomLine("petg", "12.5", "g"),)),
    DesignDraft(
        "stoneware-mug", "Stoneware mug, Leach 4321 glaze", "CC-BY-NC-SA-4.0",
        "https://wiki.glazy.org/t/recipes-in-glazy/752", "3", max_batch=8,
        summary="A 350 ml thrown mug in the classic Leach 4321 clear glaze (Glazy's worked example), fired to "
                "cone 10. Thrown and trimmed by hand; the kilns do the rest, many mugs to a firing.",
        steps=(StepDraft("bisque firing", "kiln", "600", 30, material="stoneware", min_temperature_c=1000,
                         setup_family="bisque", batch_capacity=24),
               StepDraft("glaze firing", "kiln", "720", 45, material="stoneware", min_temperature_c=1280,
                         setup_family="glaze-cone-10", batch_capacity=24)),
        bom=(BomLine("stoneware-clay", "450", "g", step=1), BomLine("glaze", "60", "ml", step=2))),
    DesignDraft(
        "display-shelf", "Display shelf, three slanted floors", "GPL-3.0-or-later",
        "https://github.com/florianfesti/boxes/blob/master/boxes/generators/displayshelf.py", "2024.1",
        max_batch=4,
        summary="boxes.py's DisplayShelf at 400 × 100 × 300 mm: finger-jointed sides and three floors tilted 30°, "
                "cut from two sheets of 6 mm birch ply and glued.",
        steps=(StepDraft("laser cut", "laser_cutter", "35", 10, material="plywood", min_volume_mm=(600, 400, 6),
                         setup_family="ply-6"),),
        bom=(BomLine("birch-ply-6", "2", "piece"),)),
    DesignDraft(
        "cast-angle-bracket", "Cast aluminium angle bracket", "CC-BY-SA-4.0",
        "https://wiki.opensourceecology.org/wiki/Metal_Casting_and_Extrusion", "1.1", max_batch=12,
        summary="A 100 mm L bracket for shelving and machine frames, sand-cast from reclaimed scrap after Open "
                "Source Ecology's metal casting notes, then faced and drilled on the mill.",
        steps=(StepDraft("melt and pour", "furnace", "180", 60, material="aluminium", min_temperature_c=750,
                         setup_family="aluminium", batch_capacity=12),
               StepDraft("face and drill", "cnc_mill", "25", 20, material="aluminium",
                         min_volume_mm=(120, 80, 40))),
        bom=(BomLine("aluminium-scrap", "650", "g", step=1),)),
)

# co-op, design, quantity, days until needed, priority, notes
ORDERS = (
    ("clayworks", "stoneware-mug", 40, 24, "high", "Café set for the harbour market"),
    ("spokes", "bottle-cage-riser", 12, 14, "normal", "For the cargo bike batch"),
    ("spokes", "spur-gear-m1-36", 6, 10, "urgent", "The workshop's coffee grinder gear stripped"),
    ("open-furniture", "display-shelf", 6, 21, "normal", "Shop window shelves"),
    ("foundry-friends", "cast-angle-bracket", 24, 30, "low", ""),
    ("open-furniture", "display-shelf", 2, 12, "low", "Sample pair"),
)


def seed_demo_production(session: Session, now: datetime) -> None:
    steward = session.query(User).filter_by(role="steward").one()
    _seed_stock(session, now)
    for draft in DESIGNS:
        create_design(session, draft)
    orders = [place_order(session, OrderDraft(design, coop, quantity, now.date() + timedelta(days=days), priority,
                                              notes), viewer=steward, by=PLACED_BY[coop], now=now)
              for coop, design, quantity, days, priority, notes in ORDERS]
    plan_order(session, orders[0].id, viewer=steward, by=STEWARD, site="leipzig", now=now)
    cancel_order(session, orders[-1].id, viewer=steward, by="member:kwame", reason="Ordered twice; see the 6",
                 now=now)


def _seed_stock(session: Session, now: datetime) -> None:
    """Deliveries six weeks ago, a stock count three weeks ago, reorder rules, and cards in each column."""
    for draft in MATERIALS:
        create_material(session, draft)
    for material, site, quantity, rule in STOCK:
        record_move(session, material, site, Move(Reason.RECEIVED, Decimal(quantity), "opening stock"), by=STEWARD,
                    now=now - timedelta(days=42))
        if rule:
            set_reorder_rule(session, material, site, *rule, now=now - timedelta(days=42))
    record_move(session, "petg", "leipzig", Move(Reason.ADJUSTED, Decimal("-350"), "count: a spool ran out unlogged"),
                by=STEWARD, now=now - timedelta(days=21))
    record_move(session, "aluminium-scrap", "leipzig", Move(Reason.SCRAPPED, Decimal("4.5"), "dross skimmed off"),
                by=STEWARD, now=now - timedelta(days=20))
    record_move(session, "aluminium-scrap", "leipzig",
                Move(Reason.ADJUSTED, Decimal("-17"), "count after the crucible relining test melts"),
                by=STEWARD, now=now - timedelta(days=6))
    record_move(session, "pla", "leipzig", Move(Reason.SCRAPPED, Decimal("6500"), "moist spools, sent to recycling"),
                by=STEWARD, now=now - timedelta(days=12))
    cards = {(line.material.slug, line.site.slug): line.card for line in balances(session) if line.card is not None}
    pla = cards[("pla", "leipzig")]
    mark_ordered(session, pla.id, expected_at=now - timedelta(days=8), by=STEWARD, note="Filamentwerk, order 4471",
                 now=now - timedelta(days=11))
    mark_received(session, pla.id, by=STEWARD, now=now - timedelta(days=8))
    scrap = cards[("aluminium-scrap", "leipzig")]
    mark_ordered(session, scrap.id, expected_at=now + timedelta(days=3), by=STEWARD,
                 note="Collection from the Plagwitz scrap yard", now=now - timedelta(days=1))
