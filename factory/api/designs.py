"""/api/v1/designs: the catalogue of open designs, with their routing, bill of materials and whether the
commune's machines can make them (any role may read it; stewards and admins publish and change designs)."""

from __future__ import annotations

from flask import jsonify

from factory.api import api
from factory.api.design_body import bom_errors, design_draft
from factory.api.parsing import query, require_steward
from factory.api.stock import quantity_text
from factory.app import db
from factory.models import Design, RoutingStep
from factory.services.designs import StepCheck, create_design, feasibility, get_design, list_designs, update_design


@api.get("/designs")
def designs_index():
    query(())
    found = list_designs(db())
    return jsonify({"items": [design_json(design, feasibility(db(), design)) for design in found],
                    "count": len(found)})


@api.get("/designs/<slug>")
def designs_show(slug: str):
    design = get_design(db(), slug)
    return jsonify(design_json(design, feasibility(db(), design)))


@api.post("/designs")
def designs_create():
    require_steward("publish designs")
    draft = design_draft()
    with bom_errors():
        design = create_design(db(), draft)
    return jsonify(design_json(design, feasibility(db(), design))), 201, {"Location": f"/api/v1/designs/{design.slug}"}


@api.put("/designs/<slug>")
def designs_update(slug: str):
    require_steward("change designs")
    get_design(db(), slug)  # an unknown design is a 404 before its body is read
    draft = design_draft(slug=slug)
    with bom_errors():
        design = update_design(db(), slug, draft)
    return jsonify(design_json(design, feasibility(db(), design)))


def design_json(design: Design, checks: list[StepCheck]) -> dict:
    able = {check.step.id: [machine.id for machine in check.machines] for check in checks}
    missing = [check.missing for check in checks if check.missing]
    return {
        "slug": design.slug,
        "name": design.name,
        "summary": design.summary,
        "licence": design.licence,
        "source_url": design.source_url,
        "version": design.version,
        "max_batch": design.max_batch,
        "active": design.active,
        "steps": [step_json(step, able.get(step.id, [])) for step in design.steps],
        "bom": [{"material": line.material.slug, "quantity_per_unit": quantity_text(line.quantity_per_unit),
                 "unit": line.unit, "step": line.step.position} for line in design.materials],
        "makeable": not missing,
        "missing": missing,
    }


def step_json(step: RoutingStep, machines: list[str]) -> dict:
    volume = (step.min_x_mm, step.min_y_mm, step.min_z_mm)
    return {
        "position": step.position,
        "name": step.name,
        "machine_kind": step.machine_kind,
        "requirements": {"material": step.material,
                         "min_volume_mm": None if None in volume else list(volume),
                         "min_temperature_c": step.min_temperature_c},
        "minutes_per_unit": f"{step.minutes_per_unit:.2f}",
        "setup_minutes": step.setup_minutes,
        "setup_family": step.setup_family,
        "batch_capacity": step.batch_capacity,
        "machines": machines,
    }
