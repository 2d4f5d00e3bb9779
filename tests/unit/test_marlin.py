"""Marlin's lines and MarlinDriver's bookkeeping, with lines as real Marlin 2.x prints them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.firmware import (
    Ack,
    Busy,
    Fault,
    FirmwareDriver,
    FirmwareError,
    FirmwareInfo,
    MachineEvent,
    Malformed,
    Message,
    Metrics,
    Noise,
    Progress,
    ResendRequest,
    ResetDetected,
    StateChanged,
    UnsupportedCommand,
)
from drivers.marlin import MarlinDriver, checksum, numbered, parse_line
from drivers.states import MachineState

M115 = ("FIRMWARE_NAME:Marlin 2.1.2.1 (Jul  1 2023 12:00:00) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin "
        "PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender-3 V2 EXTRUDER_COUNT:1 UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff")

LINES = [
    ("ok", "ok", [Ack()]),
    ("advanced-ok", "ok N10 P15 B3", [Ack(detail="N10 P15 B3")]),
    ("ok-with-m105", "ok T:210.0 /210.0 B:60.0 /60.0 @:127 B@:0",
     [Ack(), Metrics(values={"hotend_c": 210.0, "bed_c": 60.0}, targets={"hotend_c": 210.0, "bed_c": 60.0})]),
    ("auto-report-with-t0", " T:20.1 /0.0 B:19.8 /0.0 T0:20.1 /0.0 @:0 B@:0",
     [Metrics(values={"hotend_c": 20.1, "bed_c": 19.8}, targets={"hotend_c": 0.0, "bed_c": 0.0})]),
    ("m109-wait-line", " T:150.23 /210.00 B:60.00 /60.00 @:127 B@:0 W:?",
     [Metrics(values={"hotend_c": 150.23, "bed_c": 60.0}, targets={"hotend_c": 210.0, "bed_c": 60.0})]),
    ("chamber", "T:200.0 /200.0 B:60.0 /60.0 C:35.5 /40.0 @:64 B@:0 C@:127",
     [Metrics(values={"hotend_c": 200.0, "bed_c": 60.0, "chamber_c": 35.5},
              targets={"hotend_c": 200.0, "bed_c": 60.0, "chamber_c": 40.0})]),
    ("m115", M115, [FirmwareInfo(name="Marlin 2.1.2.1 (Jul  1 2023 12:00:00)", fields={
        "SOURCE_CODE_URL": "github.com/MarlinFirmware/Marlin", "PROTOCOL_VERSION": "1.0",
        "MACHINE_TYPE": "Ender-3 V2", "EXTRUDER_COUNT": "1", "UUID": "cede2a2f-41a2-4748-9b12-c55c62f367ff"})]),
    ("cap-on", "Cap:AUTOREPORT_TEMP:1", [FirmwareInfo(name="cap", fields={"AUTOREPORT_TEMP": "1"})]),
    ("cap-off", "Cap:AUTOREPORT_SD_STATUS:0", [FirmwareInfo(name="cap", fields={"AUTOREPORT_SD_STATUS": "0"})]),
    ("sd-printing", "SD printing byte 1234/5678", [Progress(done=1234, total=5678)]),
    ("not-sd-printing", "Not SD printing", [Progress(done=0, total=None)]),
    ("done-printing", "Done printing file", [Message(text="Done printing file")]),
    ("file-opened", "File opened: benchy.gco Size: 5678",
     [FirmwareInfo(name="file", fields={"file": "benchy.gco", "size": "5678"})]),
    ("file-selected", "File selected", [Noise(text="File selected")]),
    ("open-failed", "open failed, File: nope.gco.", [FirmwareError(code="open_failed", detail="nope.gco")]),
    ("busy-processing", "echo:busy: processing", [Busy(reason="processing")]),
    ("busy-paused-for-user", "busy: paused for user", [Busy(reason="paused for user")]),
    ("wait", "wait", [Noise(text="wait")]),
    ("resend", "Resend: 10", [ResendRequest(line=10)]),
    ("rs", "rs N10", [ResendRequest(line=10)]),
    ("line-number-error", "Error:Line Number is not Last Line Number+1, Last Line: 9",
     [FirmwareError(code="line_number", detail="Line Number is not Last Line Number+1, Last Line: 9")]),
    ("checksum-error", "Error:checksum mismatch, Last Line: 9",
     [FirmwareError(code="checksum", detail="checksum mismatch, Last Line: 9")]),
    ("halted", "Error:Printer halted. kill() called!", [Fault(code="halted", detail="Printer halted. kill() called!")]),
    ("thermal-runaway", "Error:Thermal Runaway, system stopped! Heater_ID: 0",
     [Fault(code="thermal_runaway", detail="Thermal Runaway, system stopped! Heater_ID: 0")]),
    ("mintemp", "Error:MINTEMP triggered, system stopped! Heater_ID: bed",
     [Fault(code="mintemp", detail="MINTEMP triggered, system stopped! Heater_ID: bed")]),
    ("old-style-error", "!! Printer halted. kill() called!",
     [Fault(code="halted", detail="Printer halted. kill() called!")]),
    ("start", "start", [ResetDetected(banner="start")]),
    ("echo", "echo:SD card ok", [Message(text="SD card ok")]),
    ("unknown-command", 'echo:Unknown command: "M999x"', [Message(text='Unknown command: "M999x"')]),
    ("position", "X:10.00 Y:20.00 Z:5.00 E:0.00 Count X:800 Y:1600 Z:2000",
     [Metrics(values={"x_mm": 10.0, "y_mm": 20.0, "z_mm": 5.0})]),
    ("blank", "", [Noise(text="")]),
    ("binary-noise", "\x8f\x13#\xfa~", [Malformed(text="\x8f\x13#\xfa~")]),
    ("truncated-temperature", " T:20.1 /0.0 B:1#", [Malformed(text="T:20.1 /0.0 B:1#")]),
    ("foreign", "Grbl 1.1h ['$' for help]", [Malformed(text="Grbl 1.1h ['$' for help]")]),
]


@pytest.mark.parametrize(("line", "expected"), [pytest.param(line, exp, id=i) for i, line, exp in LINES])
def test_marlin_line_parses_to(line, expected):
    assert parse_line(line) == expected


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("N0 M110 N0", 125, id="m110"),
    pytest.param("N1 M115", 39, id="m115"),
    pytest.param("N10 G28", checksum("N10 G28"), id="self-consistent"),
])
def test_checksum_is_xor_of_bytes(text, expected):
    value = 0
    for byte in text.encode():
        value ^= byte
    assert checksum(text) == value == expected


def test_numbered_line_carries_number_and_checksum():
    assert numbered(3, "M105") == b"N3 M105*" + str(checksum("N3 M105")).encode() + b"\n"


@given(st.text(max_size=200))
def test_any_text_never_raises_and_malformed_is_counted(text):
    driver = MarlinDriver()
    observations = driver.feed(text)
    malformed = sum(isinstance(o, Malformed) for o in observations)
    assert driver.counters["malformed"] == malformed


# --- the driver --------------------------------------------------------------------------------------


def connected(caps: tuple[str, ...] = ("AUTOREPORT_TEMP", "AUTOREPORT_SD_STATUS")) -> tuple[MarlinDriver, list]:
    """A driver after its handshake with a firmware advertising `caps`; returns it and every line it sent."""
    driver = MarlinDriver(interval=2)
    sent = driver.handshake()
    sent += feed(driver, "ok")
    sent += feed(driver, M115, *[f"Cap:{cap}:1" for cap in caps], "ok")
    while not driver.answered:
        sent += feed(driver, "ok")
    return driver, sent


def feed(driver: MarlinDriver, *lines: str) -> list[bytes]:
    out: list[bytes] = []
    for line in lines:
        driver.feed(line)
        out += driver.outgoing()
    return out


def test_driver_satisfies_the_firmware_driver_protocol():
    assert isinstance(MarlinDriver(), FirmwareDriver)


def test_handshake_resets_numbering_then_asks_m115_after_ok():
    driver = MarlinDriver()
    assert driver.handshake() == [b"N0 M110 N0*125\n"]
    assert feed(driver, "ok") == [numbered(1, "M115")]


def test_auto_report_capabilities_turn_on_m155_and_m27_with_the_interval():
    _, sent = connected()
    assert sent[2:] == [numbered(2, "M155 S2"), numbered(3, "M27 S2")]


def test_poll_sends_nothing_when_both_auto_reports_are_on():
    driver, _ = connected()
    assert driver.poll() == []


def test_poll_asks_m105_and_m27_one_at_a_time_without_auto_report():
    driver, _ = connected(caps=())
    assert driver.poll() == [numbered(2, "M105")]
    assert feed(driver, "ok T:20.0 /0.0 B:20.0 /0.0 @:0 B@:0") == [numbered(3, "M27")]
    assert driver.snapshot().metrics == {"hotend_c": 20.0, "bed_c": 20.0}


def test_poll_does_not_pile_up_the_same_query():
    driver, _ = connected(caps=())
    driver.poll()
    assert driver.poll() == []


def test_resend_sends_the_remembered_line_and_skips_the_ok_that_follows():
    driver, _ = connected()
    home = driver.command("home", {})
    assert home == [numbered(4, "G28")]
    pause = driver.command("pause", {})
    assert pause == []  # one line in flight
    resent = feed(driver, "Error:checksum mismatch, Last Line: 3", "Resend: 4", "ok")
    assert resent == [home[0]]
    assert feed(driver, "ok") == [numbered(5, "M25")]


def test_ok_names_the_line_it_acknowledges():
    driver, _ = connected()
    driver.command("home", {})
    assert driver.feed("ok")[0] == Ack(command="G28")


def test_resend_of_a_forgotten_line_renumbers_with_m110():
    driver, _ = connected()
    assert feed(driver, "Resend: 1000") == [b"M110 N3\n"]


def test_lost_ok_is_given_up_after_stall_polls():
    driver = MarlinDriver(stall_polls=2)
    driver.handshake()
    for _ in range(2):
        driver.poll()
    sent = driver.poll()
    assert numbered(1, "M115") in sent
    assert driver.counters["lost_ok"] == 1


def test_busy_keepalive_keeps_a_long_command_in_flight():
    driver, _ = connected()
    driver.command("home", {})
    for _ in range(10):
        driver.poll()
        feed(driver, "echo:busy: processing")
    assert not driver.answered
    assert "lost_ok" not in driver.counters


@pytest.mark.parametrize(("cmd", "args", "gcode"), [
    pytest.param("pause", {}, "M25", id="pause"),
    pytest.param("resume", {}, "M24", id="resume"),
    pytest.param("stop", {}, "M524", id="stop"),
    pytest.param("home", {}, "G28", id="home"),
    pytest.param("start_job", {"file": "benchy.gco"}, "M23 benchy.gco", id="start-job"),
])
def test_commands_become_numbered_gcode(cmd, args, gcode):
    driver, _ = connected()
    assert driver.command(cmd, args) == [numbered(4, gcode)]


@pytest.mark.parametrize(("cmd", "args"), [
    pytest.param("start_job", {}, id="start-job-without-file"),
    pytest.param("launch", {}, id="unknown"),
])
def test_unsupported_commands_raise(cmd, args):
    with pytest.raises(UnsupportedCommand):
        MarlinDriver().command(cmd, args)


# --- state mapping ---------------------------------------------------------------------------------------


def printing(job: str | None = None) -> MarlinDriver:
    driver, _ = connected()
    driver.command("start_job", {"file": "benchy.gco", **({"job": job} if job else {})})
    feed(driver, "File opened: benchy.gco Size: 5678", "File selected", "ok", "ok", "SD printing byte 0/5678")
    return driver


def test_a_print_started_for_a_job_carries_the_job_id_not_the_file_name():
    driver = printing(job="job-42")
    assert driver.snapshot().job == "job-42"
    events = [o for o in driver.feed("Done printing file") if isinstance(o, MachineEvent)]
    assert [(e.event, e.job) for e in events] == [("job_finished", "job-42")]
    again = printing()
    assert again.snapshot().job == "benchy.gco", "without a job id the file names the print"


def test_state_is_offline_until_the_firmware_speaks_then_idle():
    driver = MarlinDriver()
    assert driver.snapshot().state is MachineState.OFFLINE
    driver.feed("garbage\x00")
    assert driver.snapshot().state is MachineState.OFFLINE
    driver.feed("start")
    assert driver.snapshot().state is MachineState.IDLE


def test_sd_printing_is_running_with_job_and_progress():
    driver = printing()
    observations = driver.feed("SD printing byte 2839/5678")
    snap = driver.snapshot()
    assert (snap.state, snap.job, snap.progress) == (MachineState.RUNNING, "benchy.gco", 0.5)
    assert not any(isinstance(o, StateChanged) for o in observations)


def test_pause_ok_makes_paused_and_resume_ok_running_again():
    driver = printing()
    driver.command("pause", {})
    changed = driver.feed("ok")
    assert driver.snapshot().state is MachineState.PAUSED
    assert [o.snapshot.state for o in changed if isinstance(o, StateChanged)] == [MachineState.PAUSED]
    driver.command("resume", {})
    driver.feed("ok")
    assert driver.snapshot().state is MachineState.RUNNING


def test_paused_for_user_is_paused_until_progress_moves():
    driver = printing()
    driver.feed("SD printing byte 100/5678")
    driver.feed("echo:busy: paused for user")
    assert driver.snapshot().state is MachineState.PAUSED
    driver.feed("SD printing byte 200/5678")
    assert driver.snapshot().state is MachineState.RUNNING


def test_done_printing_is_job_finished_and_idle():
    driver = printing()
    events = [o for o in driver.feed("Done printing file") if isinstance(o, MachineEvent)]
    assert events == [MachineEvent(event="job_finished", job="benchy.gco", detail="done printing file")]
    assert driver.snapshot().state is MachineState.IDLE
    assert driver.feed("Not SD printing")[1:] == []


def test_stop_is_job_failed_when_its_ok_arrives():
    driver = printing()
    driver.command("stop", {})
    events = [o for o in driver.feed("ok") if isinstance(o, MachineEvent)]
    assert [(e.event, e.code) for e in events] == [("job_failed", "aborted")]
    assert driver.snapshot().state is MachineState.IDLE


def test_thermal_runaway_fails_the_job_and_is_a_fault_until_restart():
    driver = printing()
    runaway = driver.feed("Error:Thermal Runaway, system stopped! Heater_ID: 0")
    events = [o for o in runaway if isinstance(o, MachineEvent)]
    assert [(e.event, e.code) for e in events] == [("job_failed", "thermal_runaway"), ("fault", "thermal_runaway")]
    assert [o for o in driver.feed("Error:Printer halted. kill() called!") if isinstance(o, MachineEvent)] == []
    assert driver.snapshot().state is MachineState.FAULT
    events = [o for o in driver.feed("start") if isinstance(o, MachineEvent)]
    assert [e.event for e in events] == ["fault_cleared"]
    assert driver.snapshot().state is MachineState.IDLE


def test_changed_is_true_until_the_bridge_takes_a_snapshot():
    driver = MarlinDriver()
    driver.snapshot()
    driver.feed("start")
    assert driver.changed
    driver.snapshot()
    assert not driver.changed


def test_connection_lost_is_offline():
    driver = printing()
    driver.connection_lost()
    assert driver.snapshot().state is MachineState.OFFLINE
    assert driver.answered


def test_garbage_between_lines_is_counted_and_state_survives():
    driver = printing()
    for junk in ("\x8f\x13#", "T:2#0", "ok T:", "SD printing byte 12/", "\x00" * 5):
        driver.feed(junk)
    assert driver.counters["malformed"] == 5
    assert driver.snapshot().state is MachineState.RUNNING
