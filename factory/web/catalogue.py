"""The catalogue of open designs: every role sees each design's licence, source, what one piece takes and
how it is made, and whether the commune's machines can make it (or which capability is missing).

Demo designs come from the seed; stewards publish more and change them through the API or the design pages
(factory.web.design_admin), linked from here.
This module also registers the production pages' filters: `quantity` (exact, with its unit) and
`minutes` (a duration in words).
"""

from __future__ import annotations

import math
from decimal import Decimal

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from factory.app import db
from factory.domain.units import format_quantity, parse_unit
from factory.domain.vocabulary import MachineKind, Role
from factory.models import Design, DesignMaterial, RoutingStep
from factory.services.designs import feasibility, get_design, list_designs

bp = Blueprint("catalogue", __name__, url_prefix="/designs")


@bp.app_template_filter("quantity")
def quantity_text(value: Decimal | None, unit: str) -> str:
    """`1,250 g`, `2.5 kg`, `12 pcs`; a dash for nothing known."""
    return "—" if value is None else format_quantity(value, parse_unit(unit, field="unit"))


@bp.app_template_filter("minutes")
def minutes_text(minutes: int | Decimal | None) -> str:
    """`45 min`, `8 h`, `10 h 30 min`, `2 d 4 h`."""
    if minutes is None:
        return "—"
    total = math.ceil(minutes)
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins else ""]
    if days:
        parts[2] = ""  # a day-long job needs no minutes
    return " ".join(p for p in parts if p) or "0 min"


def step_text(step: RoutingStep) -> str:
    """What the step asks of a machine and how long it takes, in words."""
    need = MachineKind(step.machine_kind).label
    if step.material:
        need += f" taking {step.material}"
    if step.min_temperature_c:
        need += f", reaching {step.min_temperature_c:,} °C"
    if None not in (step.min_x_mm, step.min_y_mm, step.min_z_mm):
        need += f", at least {step.min_x_mm} × {step.min_y_mm} × {step.min_z_mm} mm"
    if step.batch_capacity:
        time = f"{minutes_text(step.minutes_per_unit)} per run of up to {step.batch_capacity} pieces"
    else:
        time = f"{minutes_text(step.minutes_per_unit)} per piece"
    setup = f", {minutes_text(step.setup_minutes)} to set up" if step.setup_minutes else ""
    return f"{need}; {time}{setup}"


def bom_text(line: DesignMaterial) -> str:
    """`450 g of Stoneware clay, at step 1 (bisque firing)`."""
    return (f"{quantity_text(line.quantity_per_unit, line.unit)} of {line.material.name}, "
            f"at step {line.step.position} ({line.step.name})")


def design_view(design: Design) -> dict:
    """What a card shows: the design, its BOM and steps in words, the able machines or what is missing."""
    checks = feasibility(db(), design)
    missing = [check.missing for check in checks if check.missing]
    steps = [{"step": check.step, "text": step_text(check.step), "machines": check.machines,
              "missing": check.missing} for check in checks]
    return {"design": design, "bom": [bom_text(line) for line in design.materials], "steps": steps,
            "makeable": not missing, "missing": missing}


def may_order() -> bool:
    role = Role(current_user.role)
    return role.manages_registry or (role is Role.MEMBER and current_user.coop_id is not None)


def may_manage() -> bool:
    """Stewards and admins publish and change designs."""
    return Role(current_user.role).manages_registry


@bp.get("")
@login_required
def index():
    return render_template("catalogue/index.html", cards=[design_view(d) for d in list_designs(db())],
                           may_order=may_order(), may_manage=may_manage())


@bp.get("/<slug>")
@login_required
def detail(slug: str):
    return render_template("catalogue/detail.html", card=design_view(get_design(db(), slug)), may_order=may_order(),
                           may_manage=may_manage())
