"""Stewards and admins publish and change the catalogue's open designs: the design's facts, and its routing and
bill of materials as two text areas, one line a step and one a material (factory.domain.design_text).

The routing and materials of a design that orders use cannot change (the service refuses: publish a new
design); its name, summary, version and whether it is offered can.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from factory.app import db
from factory.domain.design_text import format_bom, format_steps, parse_bom, parse_steps
from factory.domain.errors import DomainError, InvalidInput
from factory.models import Design
from factory.services.designs import BomLine, DesignDraft, StepDraft, create_design, get_design, update_design
from factory.web.access import registry_keepers
from factory.web.forms import SLUG_RULE, attempt

bp = Blueprint("design_admin", __name__, url_prefix="/designs")

# Fields the service names inside a step or a BOM line, and the text area each is typed in.
_AREA_OF = {"steps": "steps", "bom": "bom", "kind": "steps", "material": "bom", "unit": "bom"}


class DesignForm(FlaskForm):
    slug = StringField("Id", validators=[DataRequired(), SLUG_RULE], description="lower-case, used in URLs")
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    licence = StringField("Licence", validators=[DataRequired()], description="SPDX identifier, e.g. CC-BY-SA-4.0")
    source_url = StringField("Source link", validators=[DataRequired()],
                             description="http(s) link to the design's files")
    version = StringField("Version", validators=[DataRequired(), Length(max=32)])
    summary = TextAreaField("Summary", validators=[Optional(), Length(max=4000)])
    max_batch = IntegerField("Max batch (pieces a job)", default=10,
                             validators=[InputRequired(message="give how many pieces a job holds at most")])
    active = BooleanField("Offered in the catalogue", default=True)
    steps = TextAreaField("Routing", validators=[DataRequired(message="give at least one step")],
                          render_kw={"rows": 5},
                          description="one step a line: name | machine kind | minutes, then options such as "
                                      "setup 30 | material stoneware | volume 200 x 200 x 150 mm | min 1000 °C | "
                                      "batch 24 | family bisque")
    bom = TextAreaField("Bill of materials", validators=[Optional()], render_kw={"rows": 4},
                        description="one material a line: material | quantity and unit | step N, "
                                    "e.g. stoneware | 350 g | step 1")

    def fill_from(self, design: Design) -> None:
        for name in ("slug", "name", "licence", "source_url", "version", "summary", "max_batch", "active"):
            getattr(self, name).data = getattr(design, name)
        self.steps.data = format_steps(step_fields(step) for step in design.steps)
        self.bom.data = format_bom({"material": line.material.slug, "quantity_per_unit": line.quantity_per_unit,
                                    "unit": line.unit, "step": line.step.position} for line in design.materials)

    def draft(self, slug: str) -> DesignDraft:
        return DesignDraft(slug=slug, name=self.name.data, licence=self.licence.data,
                           source_url=self.source_url.data, version=self.version.data,
                           summary=self.summary.data or "", max_batch=self.max_batch.data, active=self.active.data,
                           steps=tuple(StepDraft(**step) for step in parse_steps(self.steps.data)),
                           bom=tuple(BomLine(**line) for line in parse_bom(self.bom.data or "")))


def step_fields(step) -> dict:
    """A stored step as StepDraft's fields, for the routing text."""
    volume = (step.min_x_mm, step.min_y_mm, step.min_z_mm)
    return {"name": step.name, "machine_kind": step.machine_kind, "minutes_per_unit": step.minutes_per_unit,
            "setup_minutes": step.setup_minutes, "material": step.material,
            "min_volume_mm": None if None in volume else volume, "min_temperature_c": step.min_temperature_c,
            "setup_family": step.setup_family, "batch_capacity": step.batch_capacity}


def on_text_areas(save):
    """`save` (a service call), its refusal of a step or material moved onto the text area it was typed in:
    `steps.2.minutes_per_unit` on Routing as "step 2: …"."""
    try:
        return save()
    except DomainError as exc:
        parts = (exc.field or "").split(".")
        if parts[0] not in _AREA_OF:
            raise
        where = f"step {parts[1]}: " if parts[0] == "steps" and len(parts) > 1 else ""
        raise InvalidInput(where + exc.message, field=_AREA_OF[parts[0]]) from None


@bp.route("/new", methods=["GET", "POST"])
@registry_keepers
def new():
    form = DesignForm()
    if not form.is_submitted():
        return render_template("catalogue/design_form.html", form=form, design=None)
    design = attempt(form, lambda: on_text_areas(lambda: create_design(db(), form.draft(form.slug.data))))
    if design is not None:
        flash(f"Design {design.name} published.", "success")
        return redirect(url_for("catalogue.detail", slug=design.slug))
    return render_template("catalogue/design_form.html", form=form, design=None), 422


@bp.route("/<slug>/edit", methods=["GET", "POST"])
@registry_keepers
def edit(slug: str):
    design = get_design(db(), slug)
    form = DesignForm()
    if not form.is_submitted():
        form.fill_from(design)
        return render_template("catalogue/design_form.html", form=form, design=design)
    form.slug.data = design.slug
    saved = attempt(form, lambda: on_text_areas(lambda: update_design(db(), slug, form.draft(slug))))
    if saved is not None:
        flash(f"Design {saved.name} saved.", "success")
        return redirect(url_for("catalogue.detail", slug=saved.slug))
    return render_template("catalogue/design_form.html", form=form, design=get_design(db(), slug)), 422
