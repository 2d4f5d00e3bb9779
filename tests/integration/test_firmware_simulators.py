"""The drivers against the simulated firmwares over real pseudo-terminals, opened the way the bridge opens them.

`Link` below is the smallest honest bridge loop: write `handshake()` on open and after a reset, `feed`
every line and write `outgoing()`, write `poll()` every interval. Each test waits for an observable
outcome with a deadline, never for a fixed time.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import serial

from drivers.firmware import Ack, FirmwareDriver, MachineEvent, Observation, ResetDetected
from drivers.grbl import GrblDriver
from drivers.marlin import MarlinDriver
from drivers.simulators.grbl_sim import GrblSimulator
from drivers.simulators.marlin_sim import MarlinSimulator
from drivers.states import MachineState

INTERVAL = 0.2


class Link:
    """A pyserial port driven by a FirmwareDriver, with a record of every observation."""

    def __init__(self, path: str, driver: FirmwareDriver) -> None:
        self.driver = driver
        self.port = serial.serial_for_url(path, baudrate=115200, timeout=0.02)
        self.seen: list[Observation] = []
        self.write(driver.handshake())
        self._next_poll = time.monotonic() + INTERVAL

    def write(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.port.write(chunk)

    def command(self, cmd: str, args: dict | None = None) -> None:
        self.write(self.driver.command(cmd, args or {}))

    def pump_until(self, done: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; snapshot {self.driver.snapshot()}, last {self.seen[-8:]}")
            raw = self.port.readline()
            if raw:
                observations = self.driver.feed(raw.decode("ascii", "replace"))
                self.seen += observations
                self.write(self.driver.outgoing())
                if any(isinstance(o, ResetDetected) for o in observations):
                    self.write(self.driver.handshake())
            if time.monotonic() >= self._next_poll:
                self._next_poll = time.monotonic() + INTERVAL
                self.write(self.driver.poll())

    def state_is(self, state: MachineState) -> Callable[[], bool]:
        return lambda: self.driver.snapshot().state is state

    def events(self) -> list[str]:
        return [o.event for o in self.seen if isinstance(o, MachineEvent)]

    def close(self) -> None:
        self.port.close()


@pytest.fixture
def marlin(tmp_path):
    with MarlinSimulator(tmp_path / "marlin", print_seconds=1.5, home_seconds=0.3) as sim:
        yield sim


@pytest.fixture
def grbl(tmp_path):
    with GrblSimulator(tmp_path / "grbl", speed=20.0, home_seconds=0.2) as sim:
        yield sim


def open_link(sim, driver) -> Link:
    link = Link(sim.path, driver)
    link.pump_until(lambda: any(isinstance(o, ResetDetected) for o in link.seen))
    return link


# --- Marlin ----------------------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_marlin_handshake_enables_auto_reports_and_temperatures_arrive(marlin):
    link = open_link(marlin, MarlinDriver(interval=1))
    link.pump_until(lambda: "hotend_c" in link.driver.snapshot().metrics and marlin.temp_every == 1)
    assert link.driver.capabilities["AUTOREPORT_TEMP"] and link.driver.capabilities["AUTOREPORT_SD_STATUS"]
    assert link.driver.snapshot().state is MachineState.IDLE
    assert link.driver.snapshot().metrics["bed_c"] == pytest.approx(20.0, abs=1)
    link.close()


@pytest.mark.timeout(30)
def test_marlin_polls_m105_and_m27_when_firmware_has_no_auto_report(tmp_path):
    with MarlinSimulator(tmp_path / "tty", autoreport=False) as sim:
        link = open_link(sim, MarlinDriver(interval=1))
        link.pump_until(lambda: "hotend_c" in link.driver.snapshot().metrics)
        link.pump_until(lambda: any(" M27*" in line for line in sim.received))
        assert any(" M105*" in line for line in sim.received)
        assert sim.temp_every == 0
        link.close()


@pytest.mark.timeout(30)
def test_marlin_sd_print_runs_pauses_resumes_and_finishes(marlin):
    link = open_link(marlin, MarlinDriver(interval=1))
    link.command("start_job", {"file": "benchy.gco"})
    link.pump_until(link.state_is(MachineState.RUNNING))
    assert link.driver.snapshot().job == "benchy.gco"
    link.command("pause")
    link.pump_until(link.state_is(MachineState.PAUSED))
    assert marlin.paused
    link.command("resume")
    link.pump_until(link.state_is(MachineState.RUNNING))
    link.pump_until(lambda: "job_finished" in link.events())
    assert link.driver.snapshot().state is MachineState.IDLE
    assert link.events() == ["job_started", "job_finished"]
    link.close()


@pytest.mark.timeout(30)
def test_marlin_stop_aborts_the_print_as_a_failed_job(marlin):
    link = open_link(marlin, MarlinDriver(interval=1))
    link.command("start_job", {"file": "benchy.gco"})
    link.pump_until(link.state_is(MachineState.RUNNING))
    link.command("stop")
    link.pump_until(link.state_is(MachineState.IDLE))
    assert link.events() == ["job_started", "job_failed"]
    assert not marlin.printing
    link.close()


@pytest.mark.timeout(30)
def test_marlin_home_waits_through_busy_keepalives(marlin):
    link = open_link(marlin, MarlinDriver(interval=1))
    link.pump_until(lambda: marlin.temp_every == 1)
    link.command("home")
    link.pump_until(lambda: link.driver.counters.get("busy", 0) >= 1)
    link.pump_until(lambda: link.driver.answered)
    assert any("G28" in line for line in marlin.received)
    link.close()


@pytest.mark.timeout(30)
def test_marlin_corrupted_line_is_resent_and_numbering_continues(marlin):
    link = open_link(marlin, MarlinDriver(interval=1))
    link.pump_until(lambda: marlin.temp_every == 1 and link.driver.answered)
    link.port.write(b"N99 M105*1\n")  # what a line hit by noise looks like to Marlin: wrong number and sum
    link.pump_until(lambda: link.driver.counters.get("resend", 0) >= 1)
    link.command("home")
    link.pump_until(lambda: any("G28" in line for line in marlin.received) and link.driver.answered)
    assert link.driver.counters["error"] >= 1
    assert marlin.last_n == link.driver.last_line
    link.close()


@pytest.mark.timeout(30)
def test_marlin_resend_request_gets_the_remembered_line(marlin):
    link = open_link(marlin, MarlinDriver(interval=1))
    link.pump_until(lambda: marlin.temp_every == 1 and link.driver.answered)
    link.command("home")
    link.pump_until(lambda: link.driver.answered and any("G28" in line for line in marlin.received))
    home_line = marlin.received[-1]
    marlin.last_n -= 1  # the firmware "lost" the G28 line: it now expects it again
    link.command("pause")  # arrives with the next number -> Error + Resend of the G28 line
    # the G28 line is sent again, then the M25 line after it: numbering agrees again (a timeout if never)
    link.pump_until(lambda: link.driver.counters.get("resend", 0) >= 1 and link.driver.answered
                    and marlin.last_n == link.driver.last_line)
    assert marlin.received.count(home_line) == 2
    assert any("M25" in line for line in marlin.received)
    link.close()


@pytest.mark.timeout(30)
def test_marlin_thermal_runaway_is_a_fault_until_the_board_restarts(marlin):
    link = open_link(marlin, MarlinDriver(interval=1))
    link.pump_until(lambda: marlin.temp_every == 1)
    marlin.inject_thermal_runaway()
    link.pump_until(link.state_is(MachineState.FAULT))
    assert link.driver.snapshot().detail.startswith("Thermal Runaway")
    marlin.reset()
    link.pump_until(link.state_is(MachineState.IDLE))
    assert link.events() == ["fault", "fault_cleared"]
    link.close()


@pytest.mark.timeout(30)
def test_marlin_garbage_and_truncated_lines_are_counted_and_survived(tmp_path):
    with MarlinSimulator(tmp_path / "tty", garbage_every=3, truncate_every=2) as sim:
        link = open_link(sim, MarlinDriver(interval=1))
        link.pump_until(lambda: link.driver.counters["malformed"] >= 5 and sim.temp_every == 1, timeout=10)
        link.command("start_job", {"file": "benchy.gco"})
        link.pump_until(link.state_is(MachineState.RUNNING), timeout=10)
        link.close()


@pytest.mark.timeout(30)
def test_marlin_unplug_and_replug_at_the_same_path(marlin):
    path = marlin.path
    link = open_link(marlin, MarlinDriver(interval=1))
    link.pump_until(lambda: marlin.temp_every == 1)
    marlin.unplug()
    with pytest.raises(serial.SerialException):
        for _ in range(50):
            link.port.readline()
    link.driver.connection_lost()
    assert link.driver.snapshot().state is MachineState.OFFLINE
    link.port.close()
    marlin.replug()
    assert marlin.path == path
    again = open_link(marlin, link.driver)
    again.pump_until(lambda: marlin.temp_every == 1 and again.driver.snapshot().state is MachineState.IDLE)
    again.close()


# --- GRBL ------------------------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_grbl_handshake_reads_settings_and_status(grbl):
    link = open_link(grbl, GrblDriver())
    link.pump_until(lambda: "$110" in link.driver.settings and "x_mm" in link.driver.snapshot().metrics)
    assert link.driver.version == "1.1h"
    assert link.driver.snapshot().state is MachineState.IDLE
    link.close()


@pytest.mark.timeout(30)
def test_grbl_job_moves_the_machine_and_hold_resume_map_to_paused_running(grbl):
    link = open_link(grbl, GrblDriver())
    link.pump_until(link.state_is(MachineState.IDLE))
    grbl.speed = 1.0
    grbl.run_job()
    link.pump_until(link.state_is(MachineState.RUNNING))
    link.command("pause")
    link.pump_until(link.state_is(MachineState.PAUSED))
    link.pump_until(lambda: link.driver.snapshot().detail == "feed hold, ready to resume")
    link.command("resume")
    link.pump_until(link.state_is(MachineState.RUNNING))
    metrics = link.driver.snapshot().metrics
    assert metrics["feed_mm_min"] > 0 and metrics["spindle_rpm"] == 8000
    grbl.speed = 50.0
    link.pump_until(link.state_is(MachineState.IDLE), timeout=10)
    assert link.driver.snapshot().metrics["x_mm"] == pytest.approx(grbl.wco[0])
    link.close()


@pytest.mark.timeout(30)
def test_grbl_stop_in_motion_is_alarm_3_and_home_clears_it(grbl):
    link = open_link(grbl, GrblDriver())
    link.pump_until(link.state_is(MachineState.IDLE))
    grbl.speed = 0.5
    grbl.run_job()
    link.pump_until(link.state_is(MachineState.RUNNING))
    link.command("stop")
    link.pump_until(link.state_is(MachineState.FAULT))
    assert link.events()[0] == "alarm"
    link.command("home")
    link.pump_until(link.state_is(MachineState.IDLE))
    assert link.events()[-1] == "fault_cleared"
    assert any(isinstance(o, Ack) and o.ok and o.command == "$H" for o in link.seen)
    link.close()


@pytest.mark.timeout(30)
def test_grbl_hard_limit_alarm_needs_a_reset_and_unlock(grbl):
    link = open_link(grbl, GrblDriver())
    link.pump_until(link.state_is(MachineState.IDLE))
    grbl.inject_hard_limit()
    link.pump_until(link.state_is(MachineState.FAULT))
    assert link.driver.snapshot().detail.startswith("Hard limit")
    link.command("home")  # ignored: GRBL waits for a reset
    link.command("stop")
    link.pump_until(lambda: link.driver.counters.get("reset", 0) >= 2)
    link.command("home")
    link.pump_until(link.state_is(MachineState.IDLE))
    assert link.events() == ["alarm", "fault_cleared"]
    link.close()


@pytest.mark.timeout(30)
def test_grbl_door_pauses_and_reports_open_and_closed(grbl):
    link = open_link(grbl, GrblDriver())
    link.pump_until(link.state_is(MachineState.IDLE))
    grbl.open_door()
    link.pump_until(link.state_is(MachineState.PAUSED))
    grbl.close_door()
    link.command("resume")
    link.pump_until(link.state_is(MachineState.IDLE))
    assert link.events() == ["door_open", "door_closed"]
    link.close()


@pytest.mark.timeout(30)
def test_grbl_work_positions_are_turned_into_machine_positions(tmp_path):
    with GrblSimulator(tmp_path / "tty", report_wpos=True, wco=(10.0, 5.0, -2.0)) as sim:
        link = open_link(sim, GrblDriver())
        link.pump_until(lambda: link.driver.counters.get("status", 0) >= 3)
        assert [link.driver.snapshot().metrics[k] for k in ("x_mm", "y_mm", "z_mm")] == [0.0, 0.0, 0.0]
        link.close()


@pytest.mark.timeout(30)
def test_grbl_garbage_is_counted_and_survived_and_unplug_replug_recovers(tmp_path):
    with GrblSimulator(tmp_path / "tty", garbage_every=2, truncate_every=3) as sim:
        link = open_link(sim, GrblDriver())
        link.pump_until(lambda: link.driver.counters["malformed"] >= 4 and link.driver.counters.get("status", 0) >= 2)
        sim.unplug()
        with pytest.raises(serial.SerialException):
            for _ in range(50):
                link.port.readline()
        link.driver.connection_lost()
        link.port.close()
        sim.replug()
        again = open_link(sim, link.driver)
        again.pump_until(lambda: again.driver.snapshot().state is MachineState.IDLE)
        again.close()
