"""The simulators' own jobs for the demo: a Marlin print heats and cools, a GRBL mill rests between jobs.

The simulators run here without a pseudo-terminal (nothing started, what they emit goes nowhere); their
clocks are driven by calling `tick` with the real monotonic time.
"""

from __future__ import annotations

import time

from drivers.simulators.grbl_sim import GrblSimulator
from drivers.simulators.marlin_sim import MarlinSimulator


def run_until(simulator, condition, timeout: float = 5.0) -> float:
    """Tick until `condition()`; the seconds it took."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, "condition not reached"
        time.sleep(0.005)
        simulator.tick(time.monotonic())
    return time.monotonic() - start


def test_a_print_with_print_temps_heats_while_it_runs_and_turns_the_heaters_off_when_done():
    marlin = MarlinSimulator(None, print_seconds=0.3, print_temps=(215.0, 60.0), boot_seconds=0.0)
    marlin.receive(b"M23 benchy.gco\nM24\n")
    assert marlin.printing and (marlin.temps["T"][1], marlin.temps["B"][1]) == (215.0, 60.0)
    run_until(marlin, lambda: not marlin.printing)
    assert (marlin.temps["T"][1], marlin.temps["B"][1]) == (0.0, 0.0)


def test_a_print_without_print_temps_leaves_the_heaters_alone():
    marlin = MarlinSimulator(None, print_seconds=0.3, boot_seconds=0.0)
    marlin.receive(b"M23 benchy.gco\nM24\n")
    assert marlin.printing and marlin.temps["T"][1] == 0.0


def test_a_repeated_grbl_job_starts_at_once_then_waits_its_rest_after_each_end():
    grbl = GrblSimulator(None, repeat_job=True, job_rest_s=0.4, speed=500.0, boot_seconds=0.0)
    run_until(grbl, lambda: grbl.state == "Run", timeout=0.2)
    run_until(grbl, lambda: grbl.state == "Idle")
    assert run_until(grbl, lambda: grbl.state == "Run") >= 0.35
