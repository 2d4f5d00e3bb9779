"""The design form's routing and bill of materials as text: one line a step or material, read into the design
service's fields, a bad line named by its field and number, and the text written back as it is read."""

from __future__ import annotations

from decimal import Decimal

import pytest

from factory.domain.design_text import format_bom, format_steps, parse_bom, parse_steps
from factory.domain.errors import InvalidInput

MUG_STEPS = ("bisque firing | kiln | 480 | setup 30 | material stoneware | min 1000 °C | batch 24 | family bisque\n"
             "glaze firing | kiln | 600 | setup 30 | min 1240 °C | batch 24")
MUG_BOM = "stoneware | 350 g | step 1\nglaze | 40 ml | step 2"


def test_a_step_line_gives_its_name_kind_minutes_and_options():
    bisque, glaze = parse_steps(MUG_STEPS)

    assert bisque == {"name": "bisque firing", "machine_kind": "kiln", "minutes_per_unit": "480",
                      "setup_minutes": 30, "material": "stoneware", "min_volume_mm": None,
                      "min_temperature_c": 1000, "setup_family": "bisque", "batch_capacity": 24}
    assert (glaze["name"], glaze["material"], glaze["setup_family"]) == ("glaze firing", None, "")


def test_options_come_in_any_order_and_blank_lines_are_skipped():
    (step,) = parse_steps("\n  print | FDM_PRINTER | 7.5 min | volume 200 x 200×150 mm | setup 10 min\n\n")

    assert (step["machine_kind"], step["minutes_per_unit"], step["setup_minutes"], step["min_volume_mm"]) == (
        "fdm_printer", "7.5", 10, (200, 200, 150))


def test_a_bom_line_gives_material_quantity_unit_and_step_which_defaults_to_the_first():
    assert parse_bom(MUG_BOM + "\nPETG-black | 0.300kg") == (
        {"material": "stoneware", "quantity_per_unit": "350", "unit": "g", "step": 1},
        {"material": "glaze", "quantity_per_unit": "40", "unit": "ml", "step": 2},
        {"material": "petg-black", "quantity_per_unit": "0.300", "unit": "kg", "step": 1})


@pytest.mark.parametrize(("text", "line", "words"), [
    ("print | fdm_printer", 1, "name | machine kind | minutes"),
    ("print | fdm_printer | 45\nfire | oven | 60", 2, "unknown machine kind 'oven'"),
    ("print | fdm_printer | quick", 1, "minutes must be a number"),
    ("print | fdm_printer | 45 | hot", 1, "cannot read 'hot'"),
    ("\n\nfire | kiln | 60 | min hot °C", 3, "cannot read 'min hot °C'"),
])
def test_a_bad_step_line_is_refused_on_the_steps_field_with_its_line_number(text, line, words):
    with pytest.raises(InvalidInput) as refused:
        parse_steps(text)

    assert refused.value.field == "steps"
    assert refused.value.message.startswith(f"line {line}: ") and words in refused.value.message


@pytest.mark.parametrize(("text", "line", "words"), [
    ("stoneware", 1, "material | quantity and unit"),
    ("stoneware | 350 g\nglaze | some | step 2", 2, "quantity one piece takes"),
    ("stoneware | 350 g | first", 1, "'step N'"),
    ("stoneware | 350 g | step 1 | extra", 1, "material | quantity and unit"),
])
def test_a_bad_bom_line_is_refused_on_the_bom_field_with_its_line_number(text, line, words):
    with pytest.raises(InvalidInput) as refused:
        parse_bom(text)

    assert refused.value.field == "bom"
    assert refused.value.message.startswith(f"line {line}: ") and words in refused.value.message


def test_formatted_routing_and_bom_read_back_to_the_same_text_and_fields():
    steps, bom = parse_steps(MUG_STEPS), parse_bom(MUG_BOM)

    assert format_steps(steps) == MUG_STEPS and format_bom(bom) == MUG_BOM
    assert parse_steps(format_steps(steps)) == steps and parse_bom(format_bom(bom)) == bom


def test_stored_decimals_are_written_without_trailing_zeros():
    step = {"name": "print", "machine_kind": "fdm_printer", "minutes_per_unit": Decimal("45.50"),
            "setup_minutes": 0, "min_volume_mm": (100, 80, 20)}

    assert format_steps([step]) == "print | fdm_printer | 45.5 | volume 100 x 80 x 20 mm"
    assert format_bom([{"material": "petg", "quantity_per_unit": Decimal("0.300"), "unit": "kg", "step": 1}]) == \
        "petg | 0.3 kg | step 1"
    assert parse_steps(format_steps([step]))[0]["min_volume_mm"] == (100, 80, 20)
