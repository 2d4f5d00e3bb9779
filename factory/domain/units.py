"""Units of measure for materials, and exact quantities in them (Decimal, never float).

A unit's value (`Unit.KG == "kg"`) is its stable code, stored as is; `symbol` is what people read.
Each unit has an exact factor to its dimension's base unit (g, ml, mm, mm2, piece), so conversions within
a dimension are exact and conversions across dimensions are refused.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext
from enum import StrEnum

from factory.domain.errors import InvalidInput

MAX_QUANTITY = Decimal(10) ** 9
_NUMBER = re.compile(r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
# Wide enough for any product of two quantities; Inexact trapped, so a conversion is exact or it raises.
_EXACT = Context(prec=60, traps=[Inexact, InvalidOperation])


class Dimension(StrEnum):
    MASS = "mass"
    VOLUME = "volume"
    LENGTH = "length"
    AREA = "area"
    COUNT = "count"


class Unit(StrEnum):
    G = "g"
    KG = "kg"
    T = "t"
    ML = "ml"
    L = "l"
    MM = "mm"
    CM = "cm"
    M = "m"
    MM2 = "mm2"
    CM2 = "cm2"
    M2 = "m2"
    PIECE = "piece"

    @property
    def dimension(self) -> Dimension:
        return _TABLE[self][0]

    @property
    def factor(self) -> Decimal:
        """How many of the dimension's base unit one of this unit is, exactly."""
        return _TABLE[self][1]

    @property
    def symbol(self) -> str:
        return _TABLE[self][2]

    @property
    def label(self) -> str:
        return _TABLE[self][3]


_TABLE: dict[Unit, tuple[Dimension, Decimal, str, str]] = {
    Unit.G: (Dimension.MASS, Decimal(1), "g", "grams"),
    Unit.KG: (Dimension.MASS, Decimal(1_000), "kg", "kilograms"),
    Unit.T: (Dimension.MASS, Decimal(1_000_000), "t", "tonnes"),
    Unit.ML: (Dimension.VOLUME, Decimal(1), "ml", "millilitres"),
    Unit.L: (Dimension.VOLUME, Decimal(1_000), "l", "litres"),
    Unit.MM: (Dimension.LENGTH, Decimal(1), "mm", "millimetres"),
    Unit.CM: (Dimension.LENGTH, Decimal(10), "cm", "centimetres"),
    Unit.M: (Dimension.LENGTH, Decimal(1_000), "m", "metres"),
    Unit.MM2: (Dimension.AREA, Decimal(1), "mm²", "square millimetres"),
    Unit.CM2: (Dimension.AREA, Decimal(100), "cm²", "square centimetres"),
    Unit.M2: (Dimension.AREA, Decimal(1_000_000), "m²", "square metres"),
    Unit.PIECE: (Dimension.COUNT, Decimal(1), "pcs", "pieces"),
}

_NAMES: dict[str, Unit] = {unit.value: unit for unit in Unit} | {unit.symbol.lower(): unit for unit in Unit} | {
    "gram": Unit.G, "grams": Unit.G, "kilogram": Unit.KG, "kilograms": Unit.KG, "kilo": Unit.KG,
    "kilos": Unit.KG, "tonne": Unit.T, "tonnes": Unit.T,
    "millilitre": Unit.ML, "millilitres": Unit.ML, "milliliter": Unit.ML, "milliliters": Unit.ML,
    "litre": Unit.L, "litres": Unit.L, "liter": Unit.L, "liters": Unit.L,
    "mm^2": Unit.MM2, "cm^2": Unit.CM2, "m^2": Unit.M2, "sq m": Unit.M2, "sqm": Unit.M2,
    "pc": Unit.PIECE, "pieces": Unit.PIECE, "count": Unit.PIECE, "each": Unit.PIECE,
}


def units_of(dimension: Dimension) -> tuple[Unit, ...]:
    """The units of one dimension, smallest first (for a form's choices)."""
    return tuple(unit for unit in Unit if unit.dimension is dimension)


def parse_unit(text: str, *, field: str) -> Unit:
    """A unit as typed: its code or symbol in any case (`KG`, `m²`), or a common name (`pcs`, `litres`)."""
    key = " ".join((text or "").strip().lower().split())
    if key in _NAMES:
        return _NAMES[key]
    choices = ", ".join(unit.value for unit in Unit)
    raise InvalidInput(f"unknown unit {text!r}; use one of {choices}", field=field, code="unknown_unit")


def convert(quantity: Decimal, from_unit: Unit, to_unit: Unit) -> Decimal:
    """The same amount in another unit of the same dimension, exactly (`convert(Decimal("0.001"), KG, G) == 1`)."""
    if not isinstance(quantity, Decimal | int) or isinstance(quantity, bool):
        raise TypeError(f"quantities are Decimal, not {type(quantity).__name__}")
    if from_unit.dimension is not to_unit.dimension:
        raise InvalidInput(f"cannot convert {from_unit.label} ({from_unit.dimension}) to {to_unit.label} "
                           f"({to_unit.dimension})", field="unit", code="incompatible_units")
    if from_unit is to_unit:
        return Decimal(quantity)
    with localcontext(_EXACT):
        return Decimal(quantity) * from_unit.factor / to_unit.factor


def parse_quantity(value: str | int | Decimal, *, field: str, places: int = 3,
                   allow_negative: bool = False) -> Decimal:
    """A quantity as typed or sent: a decimal string with '.' (`"1.5"`), an int or a Decimal.

    Refused (InvalidInput naming `field`): floats, NaN, infinities, exponents, ',' as a separator, more than
    `places` decimals, a sign unless `allow_negative`, more than 10**9. Returned quantized to `places`.
    """
    number = _as_decimal(value, field)
    if number < 0 and not allow_negative:
        raise InvalidInput("must not be negative", field=field, code="negative_quantity")
    if abs(number) > MAX_QUANTITY:
        raise InvalidInput(f"must be at most {MAX_QUANTITY:,f}", field=field, code="quantity_too_large")
    step = Decimal(1).scaleb(-places)
    if number != number.quantize(step):
        raise InvalidInput(f"use at most {places} decimals", field=field, code="too_many_decimals")
    if number == 0:
        number = Decimal(0)  # no "-0"
    return number.quantize(step)


def format_quantity(quantity: Decimal, unit: Unit) -> str:
    """`1,250 g`, `2.5 kg`, `12 pcs`: thousands separated by ',', trailing zeros dropped."""
    return f"{format_number(quantity)} {unit.symbol}"


def format_number(quantity: Decimal) -> str:
    """`1,250`, `2.5`, `-0.125`: never an exponent, never "-0"."""
    number = Decimal(0) if quantity == 0 else quantity.normalize()
    return f"{number:,f}"


def _as_decimal(value: str | int | Decimal, field: str) -> Decimal:
    if isinstance(value, float):
        raise InvalidInput("give the quantity as a decimal string, not a float", field=field, code="not_decimal")
    if isinstance(value, bool):
        raise InvalidInput("give a number", field=field, code="not_a_number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInput("give a finite number", field=field, code="not_a_number")
        return value
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise InvalidInput("give a quantity", field=field, code="required")
    if "," in text:
        raise InvalidInput("use '.' for decimals and no thousands separator", field=field, code="not_a_number")
    if not _NUMBER.fullmatch(text):
        raise InvalidInput(f"{text!r} is not a number like 12 or 1.5", field=field, code="not_a_number")
    return Decimal(text)
