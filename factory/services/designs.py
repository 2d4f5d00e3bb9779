"""The catalogue of open designs: licence, source, version, bill of materials and routing; and whether the
commune's machines can make one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.identifiers import check_slug, check_text
from factory.domain.routing import StepNeeds, missing_capability, why_not
from factory.domain.units import convert, parse_quantity, parse_unit
from factory.domain.vocabulary import MachineKind
from factory.models import Design, DesignMaterial, Machine, ProductionOrder, RoutingStep
from factory.services.machines import parse_kind
from factory.services.stock import get_material

LICENCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]{1,63}")  # an SPDX identifier such as CC-BY-SA-4.0
SOURCE = re.compile(r"https?://[^\s]{3,490}")


@dataclass(frozen=True)
class StepDraft:
    name: str
    machine_kind: str
    minutes_per_unit: Decimal | str
    setup_minutes: int = 0
    material: str | None = None
    min_volume_mm: tuple[int, int, int] | None = None
    min_temperature_c: int | None = None
    setup_family: str = ""
    batch_capacity: int | None = None  # a batched step: minutes_per_unit is then the minutes of one run


@dataclass(frozen=True)
class BomLine:
    material: str
    quantity_per_unit: Decimal | str
    unit: str
    step: int = 1  # the position of the step that uses it up


@dataclass(frozen=True)
class DesignDraft:
    slug: str
    name: str
    licence: str
    source_url: str
    version: str
    summary: str = ""
    max_batch: int = 10
    steps: tuple[StepDraft, ...] = ()
    bom: tuple[BomLine, ...] = field(default_factory=tuple)
    active: bool = True


@dataclass(frozen=True)
class StepCheck:
    step: RoutingStep
    machines: list[Machine]
    missing: str | None


def list_designs(session: Session, *, include_inactive: bool = False) -> list[Design]:
    statement = select(Design).options(selectinload(Design.steps), selectinload(Design.materials)) \
        .order_by(Design.name)
    if not include_inactive:
        statement = statement.where(Design.active.is_(True))
    return list(session.scalars(statement))


def get_design(session: Session, slug: str) -> Design:
    design = session.scalars(select(Design).where(Design.slug == slug)).one_or_none()
    if design is None:
        raise NotFound(f"no design {slug!r}", field="design")
    return design


def create_design(session: Session, draft: DesignDraft) -> Design:
    slug = check_slug(draft.slug, field="slug")
    if session.scalars(select(Design.id).where(Design.slug == slug)).first() is not None:
        raise Conflict(f"a design {slug!r} already exists", field="slug")
    design = Design(slug=slug)
    _apply(session, design, draft, routing=True)
    session.add(design)
    session.commit()
    return design


def update_design(session: Session, slug: str, draft: DesignDraft) -> Design:
    """Change a design; its routing and materials only while no order uses it (else publish a new design)."""
    design = get_design(session, slug)
    ordered = session.scalars(select(ProductionOrder.id).where(ProductionOrder.design_id == design.id)).first()
    _apply(session, design, draft, routing=ordered is None)
    session.commit()
    return design


def feasibility(session: Session, design: Design) -> list[StepCheck]:
    """For each step, the machines that can do it, or what is missing when none can."""
    machines = list(session.scalars(select(Machine).order_by(Machine.name)))
    checks = []
    for step in design.steps:
        needs = step_needs(step)
        able = [m for m in machines if why_not(needs, m.kind, m.capabilities) is None]
        missing = None if able else missing_capability(
            step.name, step.position, needs, [(m.name, m.kind, m.capabilities) for m in machines])
        checks.append(StepCheck(step, able, missing))
    return checks


def step_needs(step: RoutingStep) -> StepNeeds:
    volume = (step.min_x_mm, step.min_y_mm, step.min_z_mm)
    return StepNeeds(MachineKind(step.machine_kind), step.material,
                     volume if None not in volume else None, step.min_temperature_c)  # type: ignore[arg-type]


def _apply(session: Session, design: Design, draft: DesignDraft, *, routing: bool) -> None:
    design.name = check_text(draft.name, field="name")
    design.summary = (draft.summary or "").strip()[:4000]
    if not LICENCE.fullmatch((draft.licence or "").strip()):
        raise InvalidInput("give the licence as an SPDX identifier such as CC-BY-SA-4.0", field="licence")
    if not SOURCE.fullmatch((draft.source_url or "").strip()):
        raise InvalidInput("give the source as an http(s) link to the design's files", field="source_url")
    design.licence, design.source_url = draft.licence.strip(), draft.source_url.strip()
    design.version = check_text(draft.version, field="version", max_len=32)
    if not 1 <= draft.max_batch <= 1000:
        raise InvalidInput("between 1 and 1,000 pieces per job", field="max_batch")
    design.max_batch, design.active = draft.max_batch, draft.active
    if not routing:
        if _routing_changed(design, draft):
            raise Conflict("orders use this design's routing; publish the change as a new design", field="steps")
        return
    if not draft.steps:
        raise InvalidInput("a design needs at least one step", field="steps")
    design.steps = [_step(position, step) for position, step in enumerate(draft.steps, start=1)]
    design.materials = [_bom_line(session, design, line) for line in draft.bom]


def _routing_changed(design: Design, draft: DesignDraft) -> bool:
    return len(design.steps) != len(draft.steps) or len(design.materials) != len(draft.bom)


def _step(position: int, draft: StepDraft) -> RoutingStep:
    where = f"steps.{position}"
    kind = parse_kind(draft.machine_kind)
    minutes = parse_quantity(draft.minutes_per_unit, field=f"{where}.minutes_per_unit", places=2)
    if draft.setup_minutes < 0 or draft.setup_minutes > 10_000:
        raise InvalidInput("between 0 and 10,000 minutes", field=f"{where}.setup_minutes")
    if draft.batch_capacity is not None and draft.batch_capacity < 1:
        raise InvalidInput("a run holds at least one piece", field=f"{where}.batch_capacity")
    x, y, z = draft.min_volume_mm or (None, None, None)
    return RoutingStep(position=position, name=check_text(draft.name, field=f"{where}.name"),
                       machine_kind=kind.value, material=(draft.material or "").strip().lower() or None,
                       min_x_mm=x, min_y_mm=y, min_z_mm=z, min_temperature_c=draft.min_temperature_c,
                       setup_minutes=draft.setup_minutes, minutes_per_unit=minutes,
                       setup_family=(draft.setup_family or "").strip()[:64], batch_capacity=draft.batch_capacity)


def _bom_line(session: Session, design: Design, line: BomLine) -> DesignMaterial:
    material = get_material(session, line.material)
    unit = parse_unit(line.unit, field="bom.unit")
    convert(Decimal(1), unit, parse_unit(material.unit, field="bom.unit"))  # the units must be of one kind
    quantity = parse_quantity(line.quantity_per_unit, field="bom.quantity_per_unit")
    if quantity <= 0:
        raise InvalidInput("each unit takes more than nothing", field="bom.quantity_per_unit")
    if not 1 <= line.step <= len(design.steps):
        raise InvalidInput(f"no step {line.step} in this routing", field="bom.step")
    return DesignMaterial(step=design.steps[line.step - 1], material_id=material.id, quantity_per_unit=quantity,
                          unit=unit.value)
