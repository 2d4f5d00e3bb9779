from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factory.domain.errors import InvalidInput
from factory.domain.units import (
    Dimension,
    Unit,
    convert,
    format_quantity,
    parse_quantity,
    parse_unit,
    units_of,
)

D = Decimal


@pytest.mark.parametrize(("quantity", "from_unit", "to_unit", "expected"), [
    ("0.001", Unit.KG, Unit.G, "1"),
    ("1", Unit.G, Unit.KG, "0.001"),
    ("1250", Unit.G, Unit.KG, "1.25"),
    ("0.5", Unit.T, Unit.KG, "500"),
    ("1", Unit.G, Unit.T, "0.000001"),
    ("1.5", Unit.L, Unit.ML, "1500"),
    ("3", Unit.ML, Unit.L, "0.003"),
    ("2.5", Unit.M, Unit.CM, "250"),
    ("7", Unit.MM, Unit.CM, "0.7"),
    ("1", Unit.M2, Unit.CM2, "10000"),
    ("0.25", Unit.M2, Unit.MM2, "250000"),
    ("12", Unit.PIECE, Unit.PIECE, "12"),
])
def test_conversions_within_a_dimension_are_exact(quantity, from_unit, to_unit, expected):
    converted = convert(D(quantity), from_unit, to_unit)
    assert isinstance(converted, Decimal)
    assert converted == D(expected)


@given(st.decimals(min_value=0, max_value=10**9, places=3), st.sampled_from(list(Unit)))
def test_converting_to_the_base_unit_and_back_gives_the_same_quantity(quantity, unit):
    base = units_of(unit.dimension)[0]
    assert convert(convert(quantity, unit, base), base, unit) == quantity


@pytest.mark.parametrize(("from_unit", "to_unit"), [
    (Unit.KG, Unit.L), (Unit.M, Unit.M2), (Unit.PIECE, Unit.G), (Unit.ML, Unit.MM),
])
def test_converting_across_dimensions_is_refused(from_unit, to_unit):
    with pytest.raises(InvalidInput) as raised:
        convert(D(1), from_unit, to_unit)
    assert raised.value.code == "incompatible_units"


def test_converting_a_float_is_a_programming_error():
    with pytest.raises(TypeError):
        convert(1.5, Unit.KG, Unit.G)  # type: ignore[arg-type]


def test_every_dimension_has_a_base_unit_of_factor_one_listed_first():
    for dimension in Dimension:
        units = units_of(dimension)
        assert units[0].factor == 1
        assert [u.factor for u in units] == sorted(u.factor for u in units)


@pytest.mark.parametrize(("text", "unit"), [
    ("g", Unit.G), ("KG", Unit.KG), (" Kg ", Unit.KG), ("kilograms", Unit.KG), ("t", Unit.T),
    ("ml", Unit.ML), ("L", Unit.L), ("litres", Unit.L), ("liter", Unit.L),
    ("mm", Unit.MM), ("cm", Unit.CM), ("m", Unit.M),
    ("m2", Unit.M2), ("m²", Unit.M2), ("M²", Unit.M2), ("cm²", Unit.CM2), ("mm2", Unit.MM2),
    ("pcs", Unit.PIECE), ("piece", Unit.PIECE), ("Pieces", Unit.PIECE), ("pc", Unit.PIECE),
    (Unit.KG, Unit.KG),
])
def test_units_are_read_in_any_case_by_code_symbol_or_name(text, unit):
    assert parse_unit(text, field="unit") is unit


@pytest.mark.parametrize("text", ["", "lb", "kgs?", "m3", None])
def test_an_unknown_unit_names_the_field_and_lists_the_choices(text):
    with pytest.raises(InvalidInput) as raised:
        parse_unit(text, field="material_unit")
    assert raised.value.field == "material_unit"
    assert raised.value.code == "unknown_unit"
    assert "g, kg, t, ml, l, mm, cm, m, mm2, cm2, m2, piece" in raised.value.message


def test_a_unit_is_stored_by_its_stable_code():
    assert Unit("m2") is Unit.M2 and str(Unit.M2) == "m2" and Unit.M2.symbol == "m²"
    assert Unit.KG.dimension is Dimension.MASS and Unit.KG.factor == 1000 and Unit.KG.label == "kilograms"


@pytest.mark.parametrize(("value", "expected"), [
    ("1.5", "1.5"), (" 12 ", "12"), ("0.125", "0.125"), (".5", "0.5"), ("5.", "5"), ("+3", "3"),
    ("0", "0"), ("1000000000", "1000000000"), (7, "7"), (D("2.50"), "2.5"), (D("1E+3"), "1000"),
    ("1.5000", "1.5"),
])
def test_quantities_are_read_exactly(value, expected):
    quantity = parse_quantity(value, field="quantity")
    assert isinstance(quantity, Decimal)
    assert quantity == D(expected)
    assert quantity.as_tuple().exponent == -3  # quantized to the places, ready for a NUMERIC column


def test_negative_zero_is_read_as_zero():
    assert str(parse_quantity("-0", field="q", allow_negative=True)) == "0.000"


def test_a_negative_quantity_is_read_only_when_allowed():
    assert parse_quantity("-2.5", field="quantity", allow_negative=True) == D("-2.5")


@pytest.mark.parametrize(("value", "code"), [
    (1.5, "not_decimal"),
    (0.1, "not_decimal"),
    (True, "not_a_number"),
    ("", "required"),
    ("   ", "required"),
    (None, "required"),
    ("1,5", "not_a_number"),
    ("1,250", "not_a_number"),
    ("1e3", "not_a_number"),
    ("NaN", "not_a_number"),
    ("inf", "not_a_number"),
    ("Infinity", "not_a_number"),
    (D("NaN"), "not_a_number"),
    (D("Infinity"), "not_a_number"),
    ("0x10", "not_a_number"),
    ("1.5 kg", "not_a_number"),
    ("١٢", "not_a_number"),
    ("1.2345", "too_many_decimals"),
    (D("0.0001"), "too_many_decimals"),
    ("-1", "negative_quantity"),
    ("1000000000.001", "quantity_too_large"),
    (10**12, "quantity_too_large"),
])
def test_a_bad_quantity_names_the_field(value, code):
    with pytest.raises(InvalidInput) as raised:
        parse_quantity(value, field="quantity")
    assert raised.value.field == "quantity"
    assert raised.value.code == code


def test_a_float_is_refused_with_a_hint_to_send_a_string():
    with pytest.raises(InvalidInput, match="give the quantity as a decimal string"):
        parse_quantity(2.0, field="quantity")


def test_fewer_places_may_be_asked_for():
    assert parse_quantity("3", field="count", places=0) == 3
    with pytest.raises(InvalidInput, match="at most 0 decimals"):
        parse_quantity("2.5", field="count", places=0)


def test_too_large_applies_to_negative_adjustments_too():
    with pytest.raises(InvalidInput) as raised:
        parse_quantity("-1000000001", field="quantity", allow_negative=True)
    assert raised.value.code == "quantity_too_large"


@pytest.mark.parametrize(("quantity", "unit", "text"), [
    ("1250", Unit.G, "1,250 g"),
    ("2.500", Unit.KG, "2.5 kg"),
    ("1000000", Unit.G, "1,000,000 g"),
    ("0.000", Unit.L, "0 l"),
    ("-0", Unit.L, "0 l"),
    ("-3.25", Unit.M, "-3.25 m"),
    ("1E+3", Unit.MM, "1,000 mm"),
    ("0.000001", Unit.T, "0.000001 t"),
    ("1.5", Unit.M2, "1.5 m²"),
    ("12", Unit.PIECE, "12 pcs"),
])
def test_quantities_are_shown_with_thousands_separated_and_trailing_zeros_dropped(quantity, unit, text):
    assert format_quantity(D(quantity), unit) == text
