"""The catalogue of open designs: licence, source, version, bill of materials and routing; and whether the
commune's machines can make one."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from factory.domain.capabilities import MAX_AXIS_MM, MAX_TEMPERATURE_C
from factory.domain.errors import Conflict, InvalidInput, NotFound
from factory.domain.identifiers import check_slug, check_text
from factory.domain.routing import StepNeeds, missing_capability, why_not
from factory.domain.units import convert, parse_quantity, parse_unit
from factory.domain.vocabulary import MachineKind
from factory.models import Design, DesignMaterial, Machine, ProductionOrder, RoutingStep
from factory.services.machines import parse_kind
from factory.services.stock import get_material

MAX_STEP_MINUTES = 100_000  # per piece or per run: about ten weeks
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
    try:
        session.commit()
    except IntegrityError:  # the same slug created a moment ago by someone else
        session.rollback()
        raise Conflict(f"a design {slug!r} already exists", field="slug") from None
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
    if not draft.steps:
        raise InvalidInput("a design needs at least one step", field="steps")
    steps = [_step(position, step) for position, step in enumerate(draft.steps, start=1)]
    if not routing:
        if _routing_of(steps) != _routing_of(design.steps) or _bom_of(session, draft.bom) != _bom_of(
                session, [BomLine(line.material.slug, line.quantity_per_unit, line.unit, line.step.position)
                          for line in design.materials]):
            raise Conflict("orders use this design's routing; publish the change as a new design", field="steps")
        return
    if design.id is not None:  # the old rows go first: positions are unique per design
        design.materials, design.steps = [], []
        session.flush()
    design.steps = steps
    design.materials = [_bom_line(session, design, line) for line in draft.bom]


def _routing_of(steps: list[RoutingStep]) -> list[tuple]:
    return [(s.position, s.name, s.machine_kind, s.material, s.min_x_mm, s.min_y_mm, s.min_z_mm,
             s.min_temperature_c, s.setup_minutes, Decimal(s.minutes_per_unit), s.setup_family, s.batch_capacity)
            for s in steps]


def _bom_of(session: Session, lines) -> list[tuple]:
    return sorted((line.material, parse_quantity(line.quantity_per_unit, field="bom.quantity_per_unit"),
                   parse_unit(line.unit, field="bom.unit").value, line.step) for line in lines)


def _step(position: int, draft: StepDraft) -> RoutingStep:
    where = f"steps.{position}"
    kind = parse_kind(draft.machine_kind)
    minutes = parse_quantity(draft.minutes_per_unit, field=f"{where}.minutes_per_unit", places=2)
    if minutes > MAX_STEP_MINUTES:
        raise InvalidInput(f"at most {MAX_STEP_MINUTES:,} minutes", field=f"{where}.minutes_per_unit")
    if draft.setup_minutes < 0 or draft.setup_minutes > 10_000:
        raise InvalidInput("between 0 and 10,000 minutes", field=f"{where}.setup_minutes")
    if draft.batch_capacity is not None and not 1 <= draft.batch_capacity <= 100_000:
        raise InvalidInput("a run holds 1 to 100,000 pieces", field=f"{where}.batch_capacity")
    if draft.min_temperature_c is not None and not 1 <= draft.min_temperature_c <= MAX_TEMPERATURE_C:
        raise InvalidInput(f"between 1 and {MAX_TEMPERATURE_C:,} °C", field=f"{where}.min_temperature_c")
    if draft.min_volume_mm is not None and not all(1 <= side <= MAX_AXIS_MM for side in draft.min_volume_mm):
        raise InvalidInput(f"each side between 1 and {MAX_AXIS_MM:,} mm", field=f"{where}.min_volume_mm")
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
    in_stock_unit = convert(quantity, unit, parse_unit(material.unit, field="bom.unit"))
    if in_stock_unit != in_stock_unit.quantize(Decimal("0.001")):  # stock is kept to three places
        raise InvalidInput(f"in {material.unit}, as {material.name} is kept, that is {in_stock_unit:f}: more than "
                           "three decimals", field="bom.quantity_per_unit")
    if not 1 <= line.step <= len(design.steps):
        raise InvalidInput(f"no step {line.step} in this routing", field="bom.step")
    return DesignMaterial(step=design.steps[line.step - 1], material_id=material.id, quantity_per_unit=quantity,
                          unit=unit.value)
