"""The demo commune: two sites in two time zones, four co-ops, thirteen machines, one login per role, and
the coming weeks' bookings, leases and maintenance (factory.seed_bookings)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from factory.domain.capabilities import Capabilities
from factory.domain.opening_hours import parse_day
from factory.models import Commune, utcnow
from factory.seed_bookings import seed_demo_time
from factory.seed_ledger import seed_demo_ledger
from factory.seed_production import seed_demo_production
from factory.services.coops import CoopDraft, add_member, create_coop
from factory.services.machines import MachineDraft, change_state, create_machine
from factory.services.sites import SiteDraft, create_site, ensure_commune
from factory.services.users import UserDraft, create_user

DEMO_LOGINS = (
    ("admin", "admin-demo", "admin"),
    ("steward", "steward-demo", "steward"),
    ("member", "member-demo", "member of Spokes Bicycle Co-op"),
)

WEEKDAY_HOURS = "08:00-18:00"
SITES = (
    SiteDraft("leipzig", "Leipzig Harbour Works", "Europe/Berlin",
              {**{d: parse_day(WEEKDAY_HOURS, field="h") for d in range(5)}, 5: parse_day("10:00-14:00", field="h"),
               6: ()}, "Hafenstraße 12, 04129 Leipzig"),
    SiteDraft("montreal", "Montréal Mile End Shop", "America/Toronto",
              {**{d: parse_day("07:30-12:00, 12:30-17:30", field="h") for d in range(5)}, 5: (), 6: ()},
              "5445 avenue de Gaspé, Montréal"),
)

COOPS = (
    CoopDraft("spokes", "Spokes Bicycle Co-op", "Repairs and builds cargo bikes; prints and mills small parts."),
    CoopDraft("clayworks", "Clayworks Pottery Co-op", "Tableware and tiles, fired in the commune's kilns."),
    CoopDraft("open-furniture", "Open Furniture Collective", "Flat-pack furniture from open designs."),
    CoopDraft("foundry-friends", "Foundry Friends Metalworks", "Casts hardware from reclaimed scrap metal."),
)

MEMBERS = (
    ("Ana Sousa", "ana@spokes.example", "spokes"), ("Jonas Weber", "jonas@spokes.example", "spokes"),
    ("Mei Lin", "mei@clayworks.example", "clayworks"), ("Omar Haddad", "omar@clayworks.example", "clayworks"),
    ("Claire Tremblay", "claire@openfurniture.example", "open-furniture"),
    ("Kwame Mensah", "kwame@openfurniture.example", "open-furniture"),
    ("Ilse Brandt", "ilse@foundry.example", "foundry-friends"),
    ("Diego Ruiz", "diego@foundry.example", "foundry-friends"),
    ("Sam Okafor", "sam@commune.example", None), ("Rosa Lindqvist", "rosa@commune.example", None),
)


def _caps(volume=None, materials=(), temp=None, power=None) -> Capabilities:
    x, y, z = volume or (None, None, None)
    return Capabilities(x, y, z, tuple(materials), temp, power)


# id, name, kind, site, model, capabilities, unattended, cost, acquired, state now, hours in that state
MACHINES = (
    ("prusa-mk4-1", "Prusa MK4 #1", "fdm_printer", "leipzig", "Prusa Research MK4S",
     _caps((250, 210, 220), ("pla", "petg", "asa", "tpu"), 290), True, "1099.00", "2025-03-04", "idle", 3),
    ("prusa-mk4-2", "Prusa MK4 #2", "fdm_printer", "leipzig", "Prusa Research MK4S",
     _caps((250, 210, 220), ("pla", "petg", "asa", "tpu"), 290), True, "1099.00", "2025-03-04", "running", 2),
    ("bambu-x1c", "Bambu X1 Carbon", "fdm_printer", "leipzig", "Bambu Lab X1C",
     _caps((256, 256, 256), ("pla", "petg", "abs", "asa", "pa-cf"), 300), True, "1449.00", "2025-09-18", "fault", 1),
    ("form-3", "Form 3 resin", "resin_printer", "leipzig", "Formlabs Form 3+",
     _caps((145, 145, 185), ("standard-resin", "tough-resin", "castable-wax")), False, "2999.00", "2024-11-20",
     "idle", 20),
    ("tormach-1100", "Tormach mill", "cnc_mill", "leipzig", "Tormach 1100MX",
     _caps((457, 254, 413), ("aluminium", "brass", "mild-steel", "delrin"), None, 1500), False, "14500.00",
     "2024-06-01", "running", 4),
    ("nova-35", "Nova 35 laser", "laser_cutter", "leipzig", "Thunder Laser Nova 35",
     _caps((900, 600, 200), ("plywood", "mdf", "acrylic", "leather", "cardboard"), None, 100), False, "9800.00",
     "2024-09-12", "idle", 30),
    ("skutt-1027", "Skutt kiln", "kiln", "leipzig", "Skutt KM-1027",
     _caps((600, 600, 680), ("stoneware", "porcelain", "earthenware"), 1290), True, "4200.00", "2024-04-15",
     "running", 9),
    ("induction-1", "Induction furnace", "furnace", "leipzig", "Inductotherm 35 kW, 25 kg crucible",
     _caps(None, ("aluminium", "bronze", "brass"), 1650, 35000), False, "18500.00", "2025-01-30", "maintenance", 50),
    ("prusa-xl", "Prusa XL", "fdm_printer", "montreal", "Prusa Research XL 5-toolhead",
     _caps((360, 360, 360), ("pla", "petg", "pc", "tpu"), 290), True, "2999.00", "2025-05-10", "running", 6),
    ("core-one", "Prusa Core One", "fdm_printer", "montreal", "Prusa Research Core One",
     _caps((250, 220, 270), ("pla", "petg", "asa"), 290), True, "1349.00", "2025-10-02", "offline", 70),
    ("shapeoko-5", "Shapeoko 5 Pro", "cnc_router", "montreal", "Carbide 3D Shapeoko 5 Pro 4x4",
     _caps((1220, 1220, 120), ("plywood", "hardwood", "hdpe", "aluminium"), None, 1500), False, "5600.00",
     "2024-08-22", "idle", 12),
    ("xtool-p2", "xTool P2 laser", "laser_cutter", "montreal", "xTool P2 55 W",
     _caps((600, 308, 18), ("plywood", "acrylic", "leather", "cork"), None, 55), False, "4999.00", "2025-02-14",
     "paused", 1),
    ("ll-e23t", "L&L glass kiln", "kiln", "montreal", "L&L e23T",
     _caps((585, 585, 690), ("stoneware", "glass", "porcelain"), 1287), True, "5500.00", "2024-12-01", "idle", 40),
)


def seed_demo_commune(session: Session) -> bool:
    """Load the demo commune when the database has none; True when it loaded."""
    if session.scalars(select(Commune.id)).first() is not None:
        return False
    ensure_commune(session, "Harbour & Mile End Commune", "EUR")
    for site in SITES:
        create_site(session, site)
    for coop in COOPS:
        create_coop(session, coop)
    for name, email, coop in MEMBERS:
        add_member(session, name, email, coop)
    for login, password, role in DEMO_LOGINS:
        create_user(session, UserDraft(login, role.split()[0], login.capitalize(),
                                       "spokes" if role.startswith("member") else None, True, password))
    now = utcnow()
    for (machine_id, name, kind, site, model, caps, unattended, cost, acquired, state, hours) in MACHINES:
        create_machine(session, MachineDraft(machine_id, name, kind, site, caps, model, unattended,
                                             Decimal(cost), date.fromisoformat(acquired)),
                       by="seed", at=now - timedelta(hours=hours + 48))
        if state != "idle":
            change_state(session, machine_id, "idle", by="seed", reason=_why("idle"),
                         at=now - timedelta(hours=hours + 24))
        change_state(session, machine_id, state, by="seed", reason=_why(state), at=now - timedelta(hours=hours))
    seed_demo_time(session, now)
    seed_demo_production(session, now)
    seed_demo_ledger(session, now)
    return True


def _why(state: str) -> str:
    return {"fault": "thermal runaway on the hot end", "maintenance": "crucible relining",
            "offline": "unplugged while the bench is rebuilt", "paused": "door opened mid-job",
            "running": "job started", "idle": "commissioned"}[state]
