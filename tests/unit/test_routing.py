"""Which machine can do a routing step, how an order splits into jobs, and how long an operation takes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from factory.domain.capabilities import Capabilities
from factory.domain.routing import StepNeeds, missing_capability, operation_minutes, split_into_jobs, why_not
from factory.domain.vocabulary import MachineKind

PRINTER = Capabilities(250, 210, 220, ("pla", "petg"), 290)
KILN = Capabilities(600, 600, 680, ("stoneware",), 1200)


@pytest.mark.parametrize(("needs", "kind", "caps", "reason"), [
    (StepNeeds(MachineKind.FDM_PRINTER, "petg"), "fdm_printer", PRINTER, None),
    (StepNeeds(MachineKind.FDM_PRINTER, "asa"), "fdm_printer", PRINTER, "does not take asa"),
    (StepNeeds(MachineKind.FDM_PRINTER, min_volume_mm=(200, 250, 100)), "fdm_printer", PRINTER, None),
    (StepNeeds(MachineKind.FDM_PRINTER, min_volume_mm=(300, 100, 100)), "fdm_printer", PRINTER,
     "is too small for the part (300 × 100 × 100 mm)"),
    (StepNeeds(MachineKind.KILN, min_temperature_c=1240), "kiln", KILN, "does not reach 1,240 °C"),
    (StepNeeds(MachineKind.KILN, min_temperature_c=1200), "kiln", KILN, None),
    (StepNeeds(MachineKind.KILN), "fdm_printer", PRINTER, "is not a kiln"),
], ids=["material-ok", "material-missing", "part-fits-turned", "part-too-big", "too-cold", "hot-enough",
        "wrong-kind"])
def test_a_machine_can_do_a_step_unless_it_lacks_what_the_step_needs(needs, kind, caps, reason):
    assert why_not(needs, kind, caps) == reason


def test_missing_capability_says_what_the_step_needs_and_how_near_the_machines_come():
    text = missing_capability("glaze firing", 2, StepNeeds(MachineKind.KILN, min_temperature_c=1240),
                              [("Skutt kiln", "kiln", KILN), ("Prusa", "fdm_printer", PRINTER)])

    assert text == ("no machine can do step 2 (glaze firing): it needs a kiln reaching 1,240 °C "
                    "(Skutt kiln does not reach 1,240 °C)")


def test_missing_capability_says_when_the_commune_has_no_machine_of_that_kind():
    text = missing_capability("melt", 1, StepNeeds(MachineKind.FURNACE), [("Prusa", "fdm_printer", PRINTER)])

    assert text == "no machine can do step 1 (melt): it needs a furnace, and the commune has none"


@pytest.mark.parametrize(("quantity", "batch", "jobs"), [
    (20, 8, [7, 7, 6]), (8, 8, [8]), (1, 8, [1]), (9, 8, [5, 4]), (100, 10, [10] * 10),
])
def test_an_order_splits_into_even_jobs_no_bigger_than_the_batch(quantity, batch, jobs):
    assert split_into_jobs(quantity, batch) == jobs
    assert sum(split_into_jobs(quantity, batch)) == quantity


@pytest.mark.parametrize(("quantity", "per_unit", "setup", "capacity", "minutes"), [
    (7, Decimal("12.5"), 10, None, 10 + 88),   # 87.5 rounds up to whole minutes
    (7, Decimal("480"), 30, 40, 30 + 480),    # one firing holds all seven
    (50, Decimal("480"), 30, 40, 30 + 960),   # two firings
    (3, Decimal("0"), 0, None, 1),            # never a zero-length operation
])
def test_an_operation_takes_setup_plus_per_piece_or_per_run_time(quantity, per_unit, setup, capacity, minutes):
    assert operation_minutes(quantity, per_unit, setup, capacity) == minutes
