import pytest

from factory.domain.capabilities import Capabilities, parse_materials
from factory.domain.errors import InvalidInput
from factory.domain.vocabulary import MachineKind

PRINTER = Capabilities(250, 210, 220, ("PLA", " petg ", "pla"), 290)


def test_printer_capabilities_are_normalised_to_lower_case_without_duplicates():
    assert PRINTER.validated(MachineKind.FDM_PRINTER).materials == ("pla", "petg")


@pytest.mark.parametrize(("kind", "capabilities", "field"), [
    (MachineKind.FDM_PRINTER, Capabilities(None, None, None, ("pla",), 260), "build_x_mm"),
    (MachineKind.FDM_PRINTER, Capabilities(200, 200, 200, (), 260), "materials"),
    (MachineKind.FDM_PRINTER, Capabilities(200, 200, 200, ("pla",)), "max_temperature_c"),
    (MachineKind.CNC_MILL, Capabilities(400, 300, 200, ("aluminium",)), "spindle_power_w"),
    (MachineKind.LASER_CUTTER, Capabilities(600, 400, 50, ("plywood",)), "spindle_power_w"),
    (MachineKind.KILN, Capabilities(600, 600, 600), "max_temperature_c"),
    (MachineKind.FURNACE, Capabilities(), "max_temperature_c"),
])
def test_each_kind_must_declare_what_the_planner_needs(kind, capabilities, field):
    with pytest.raises(InvalidInput) as raised:
        capabilities.validated(kind)
    assert raised.value.field == field


def test_other_machines_need_no_capabilities():
    assert Capabilities().validated(MachineKind.OTHER) == Capabilities()


def test_partial_build_volume_names_the_missing_axis():
    with pytest.raises(InvalidInput) as raised:
        Capabilities(200, None, 100).validated(MachineKind.OTHER)
    assert raised.value.field == "build_y_mm"


@pytest.mark.parametrize(("capabilities", "field"), [
    (Capabilities(0, 200, 200), "build_x_mm"),
    (Capabilities(200, 200, 10_001), "build_z_mm"),
    (Capabilities(max_temperature_c=-5), "max_temperature_c"),
    (Capabilities(max_temperature_c=3_001), "max_temperature_c"),
    (Capabilities(spindle_power_w=0), "spindle_power_w"),
])
def test_values_outside_physical_ranges_are_refused(capabilities, field):
    with pytest.raises(InvalidInput) as raised:
        capabilities.validated(MachineKind.OTHER)
    assert raised.value.field == field


def test_materials_from_a_form_split_on_commas_and_lines_and_join_words_with_dashes():
    assert parse_materials("PLA, PETG\nstandard resin,, ") == ("pla", "petg", "standard-resin")


def test_material_names_with_odd_characters_are_refused():
    with pytest.raises(InvalidInput) as raised:
        parse_materials("pla; drop table")
    assert raised.value.field == "materials"


def test_capabilities_as_dict_reports_volume_as_a_triple_or_none():
    assert PRINTER.as_dict()["build_volume_mm"] == [250, 210, 220]
    assert Capabilities().as_dict()["build_volume_mm"] is None
