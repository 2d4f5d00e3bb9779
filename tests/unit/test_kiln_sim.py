"""The simulated kiln's controller: it follows a firing schedule to the end and cuts out on over-temperature."""

from __future__ import annotations

import pytest

from drivers.messages import Event
from drivers.simulators.kiln_sim import Kiln
from drivers.states import MachineState


def fire(kiln: Kiln, hours: float, step_s: float = 30.0) -> None:
    for _ in range(int(hours * 3600 / step_s)):
        kiln.advance(step_s)


def test_a_firing_runs_its_schedule_and_finishes_idle():
    kiln = Kiln()
    kiln.start("mugs", "bisque")
    fire(kiln, 2)
    assert kiln.state is MachineState.RUNNING
    assert 0 < kiln.progress < 1
    assert kiln.chamber_c > 150
    fire(kiln, 14)
    assert kiln.state is MachineState.IDLE
    assert [e for e, _, _ in kiln.events] == [Event.JOB_STARTED, Event.JOB_FINISHED]


def test_a_stuck_relay_overshoots_and_the_kiln_faults_with_a_reason():
    kiln = Kiln()
    kiln.start("mugs", "test")
    kiln.stuck_relay = True
    fire(kiln, 1)
    assert kiln.state is MachineState.FAULT
    assert (Event.FAULT, "over_temperature") in [(e, c) for e, c, _ in kiln.events]
    assert kiln.power_w == 0.0


def test_stop_after_a_fault_clears_it():
    kiln = Kiln()
    kiln.start("mugs", "test")
    kiln.stuck_relay = True
    fire(kiln, 1)
    kiln.stop()
    assert kiln.state is MachineState.IDLE
    assert kiln.events[-1][0] is Event.FAULT_CLEARED


def test_a_busy_kiln_refuses_a_second_firing_and_unknown_schedules():
    kiln = Kiln()
    with pytest.raises(ValueError, match="unknown schedule"):
        kiln.start("x", "raku")
    kiln.start("mugs", "glaze")
    with pytest.raises(ValueError, match="not idle"):
        kiln.start("more", "glaze")
