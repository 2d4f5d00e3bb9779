"""Reading the body of POST /designs and PUT /designs/<slug> into the design service's DesignDraft: types are
checked here (400 naming the field, `steps.2.minutes_per_unit`); the rules are the service's (422)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from factory.api.parsing import boolean, check_keys, json_object, string
from factory.domain.errors import InvalidInput, InvalidParameter, NotFound
from factory.domain.vocabulary import MachineKind
from factory.services.designs import BomLine, DesignDraft, StepDraft

DESIGN_FIELDS = ("slug", "name", "licence", "source_url", "version", "summary", "max_batch", "active", "steps",
                 "bom")
REQUIRED = ("name", "licence", "source_url", "version", "steps", "bom")
STEP_FIELDS = ("name", "machine_kind", "minutes_per_unit", "setup_minutes", "material", "min_volume_mm",
               "min_temperature_c", "setup_family", "batch_capacity")
BOM_FIELDS = ("material", "quantity_per_unit", "unit", "step")


def design_draft(*, slug: str | None = None) -> DesignDraft:
    """The body as a draft; with `slug` (a PUT) the body has none, else (a POST) it must give one."""
    fields = DESIGN_FIELDS[1:] if slug is not None else DESIGN_FIELDS
    body = json_object(fields, required=REQUIRED if slug is not None else ("slug", *REQUIRED))
    steps = [_object(item, f"steps.{position}.", STEP_FIELDS, ("name", "machine_kind", "minutes_per_unit"))
             for position, item in enumerate(_array(body, "steps"), start=1)]
    bom = [_object(item, f"bom.{number}.", BOM_FIELDS, ("material", "quantity_per_unit", "unit"))
           for number, item in enumerate(_array(body, "bom"), start=1)]
    return DesignDraft(
        slug=slug if slug is not None else string(body, "slug"), name=string(body, "name"),
        licence=string(body, "licence"), source_url=string(body, "source_url"), version=string(body, "version"),
        summary=string(body, "summary", ""), max_batch=_whole(body, "max_batch", default=10),
        active=boolean(body, "active", True),
        steps=tuple(_step(item, f"steps.{position}.") for position, item in enumerate(steps, start=1)),
        bom=tuple(_bom_line(item, f"bom.{number}.") for number, item in enumerate(bom, start=1)))


@contextmanager
def bom_errors() -> Iterator[None]:
    """The service's refusals of a BOM line named as the body names them: an unknown material is a 422 on
    `bom.material` (not a 404: the design is what was asked for), a unit of another kind one on `bom.unit`."""
    try:
        yield
    except NotFound as exc:
        if exc.field != "material":
            raise
        raise InvalidInput(exc.message, field="bom.material", code="unknown_material") from None
    except InvalidInput as exc:
        if exc.field != "unit":
            raise
        raise InvalidInput(exc.message, field="bom.unit", code=exc.code) from None


def _array(body: dict, name: str) -> list:
    if not isinstance(body[name], list):
        raise InvalidParameter(f"`{name}` must be a JSON array", field=name)
    return body[name]


def _object(item, prefix: str, allowed: tuple[str, ...], required: tuple[str, ...]) -> dict:
    if not isinstance(item, dict):
        raise InvalidParameter(f"`{prefix[:-1]}` must be a JSON object", field=prefix[:-1])
    check_keys(item, allowed, required=required, prefix=prefix)
    return item


def _step(item: dict, prefix: str) -> StepDraft:
    kind = string(item, "machine_kind", prefix=prefix)
    if kind not in {k.value for k in MachineKind}:
        raise InvalidInput(f"machine kind must be one of {', '.join(k.value for k in MachineKind)}",
                           field=prefix + "machine_kind")
    return StepDraft(
        name=string(item, "name", prefix=prefix), machine_kind=kind,
        minutes_per_unit=_decimal(item, "minutes_per_unit", prefix),
        setup_minutes=_whole(item, "setup_minutes", prefix=prefix, default=0),
        material=_nullable_string(item, "material", prefix), min_volume_mm=_volume(item, prefix),
        min_temperature_c=_whole(item, "min_temperature_c", prefix=prefix),
        setup_family=_nullable_string(item, "setup_family", prefix) or "",
        batch_capacity=_whole(item, "batch_capacity", prefix=prefix))


def _bom_line(item: dict, prefix: str) -> BomLine:
    return BomLine(material=string(item, "material", prefix=prefix),
                   quantity_per_unit=_decimal(item, "quantity_per_unit", prefix),
                   unit=string(item, "unit", prefix=prefix), step=_whole(item, "step", prefix=prefix, default=1))


def _whole(body: dict, name: str, *, prefix: str = "", default: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if type(value) is not int:  # bool is an int to Python, not to JSON
        raise InvalidParameter(f"`{prefix + name}` must be a whole number", field=prefix + name)
    return value


def _nullable_string(body: dict, name: str, prefix: str) -> str | None:
    return None if body.get(name) is None else string(body, name, prefix=prefix)


def _decimal(body: dict, name: str, prefix: str) -> Decimal | str:
    value = body[name]
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidParameter(f"`{prefix + name}` must be a decimal string such as \"45.00\"", field=prefix + name)
    return value if isinstance(value, str) else Decimal(value)


def _volume(item: dict, prefix: str) -> tuple[int, int, int] | None:
    value = item.get("min_volume_mm")
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 3 or any(type(side) is not int for side in value):
        raise InvalidParameter(f"`{prefix}min_volume_mm` must be three whole numbers [x, y, z]",
                               field=prefix + "min_volume_mm")
    return value[0], value[1], value[2]
