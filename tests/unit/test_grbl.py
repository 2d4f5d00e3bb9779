"""GRBL 1.1's lines and GrblDriver's state mapping, with lines as a real GRBL 1.1h prints them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.firmware import (
    Ack,
    Fault,
    FirmwareDriver,
    FirmwareInfo,
    MachineEvent,
    Malformed,
    Message,
    Noise,
    ResetDetected,
    Setting,
    Status,
    UnsupportedCommand,
)
from drivers.grbl import ALARMS, ERRORS, GrblDriver, parse_line
from drivers.states import MachineState

ZERO = "MPos:0.000,0.000,0.000|FS:0,0"

LINES = [
    ("ok", "ok", [Ack()]),
    ("error-9", "error:9", [Ack(ok=False, code=9, detail=ERRORS[9])]),
    ("error-20", "error:20", [Ack(ok=False, code=20, detail=ERRORS[20])]),
    ("error-unknown", "error:99", [Ack(ok=False, code=99, detail="unknown error 99")]),
    ("alarm-1", "ALARM:1", [Fault(code="ALARM:1", detail=ALARMS[1])]),
    ("alarm-9", "ALARM:9", [Fault(code="ALARM:9", detail=ALARMS[9])]),
    ("msg-reset", "[MSG:Reset to continue]", [Message(text="Reset to continue")]),
    ("msg-unlock", "[MSG:'$H'|'$X' to unlock]", [Message(text="'$H'|'$X' to unlock")]),
    ("banner", "Grbl 1.1h ['$' for help]", [ResetDetected(banner="Grbl 1.1h ['$' for help]")]),
    ("setting", "$110=500.000", [Setting(key="$110", value="500.000")]),
    ("setting-int", "$13=0", [Setting(key="$13", value="0")]),
    ("gc", "[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]",
     [FirmwareInfo(name="GC", fields={"value": "G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0"})]),
    ("ver", "[VER:1.1h.20190825:]", [FirmwareInfo(name="VER", fields={"value": "1.1h.20190825:"})]),
    ("opt", "[OPT:V,15,128]", [FirmwareInfo(name="OPT", fields={"value": "V,15,128"})]),
    ("startup-line", ">G54G20:ok", [Message(text=">G54G20:ok")]),
    ("blank", "", [Noise(text="")]),
    ("binary", "\xff\xfe\x00", [Malformed(text="\xff\xfe\x00")]),
    ("grbl-0.9-status", "<Idle,MPos:0.000,0.000,0.000,WPos:0.000,0.000,0.000>",
     [Malformed(text="<Idle,MPos:0.000,0.000,0.000,WPos:0.000,0.000,0.000>")]),
    ("truncated-status", "<Run|MPos:1.000,2.0", [Malformed(text="<Run|MPos:1.000,2.0")]),
    ("bad-number", "<Idle|MPos:1.0,x,0|FS:0,0>", [Malformed(text="<Idle|MPos:1.0,x,0|FS:0,0>")]),
    ("bad-substate", "<Hold:5|MPos:0,0,0|FS:0,0>", [Malformed(text="<Hold:5|MPos:0,0,0|FS:0,0>")]),
    ("missing-substate", "<Door|MPos:0,0,0|FS:0,0>", [Malformed(text="<Door|MPos:0,0,0|FS:0,0>")]),
    ("unknown-state", "<Dance|MPos:0,0,0|FS:0,0>", [Malformed(text="<Dance|MPos:0,0,0|FS:0,0>")]),
    ("marlin-line", "ok T:20.0 /0.0", [Malformed(text="ok T:20.0 /0.0")]),
]


@pytest.mark.parametrize(("line", "expected"), [pytest.param(line, exp, id=i) for i, line, exp in LINES])
def test_grbl_line_parses_to(line, expected):
    assert parse_line(line) == expected


def test_full_status_report_keeps_every_field():
    line = "<Run|MPos:1.000,2.000,3.000|Bf:15,128|FS:500,8000|Ln:99|WCO:0.000,0.000,1.000|Ov:100,100,100|Pn:XZ|A:SF>"
    assert parse_line(line) == [Status(name="Run", fields={
        "MPos": "1.000,2.000,3.000", "Bf": "15,128", "FS": "500,8000", "Ln": "99", "WCO": "0.000,0.000,1.000",
        "Ov": "100,100,100", "Pn": "XZ", "A": "SF"})]


STATES = [
    ("Idle", MachineState.IDLE, ""),
    ("Run", MachineState.RUNNING, ""),
    ("Jog", MachineState.RUNNING, "jogging"),
    ("Home", MachineState.RUNNING, "homing"),
    ("Hold:0", MachineState.PAUSED, "feed hold, ready to resume"),
    ("Hold:1", MachineState.PAUSED, "feed hold, stopping"),
    ("Door:0", MachineState.PAUSED, "door closed, ready to resume"),
    ("Door:1", MachineState.PAUSED, "door ajar, machine stopped"),
    ("Door:2", MachineState.PAUSED, "door opened, parking"),
    ("Door:3", MachineState.PAUSED, "door closed, restoring"),
    ("Alarm", MachineState.FAULT, "alarm"),
    ("Check", MachineState.IDLE, "check mode (no motion)"),
    ("Sleep", MachineState.IDLE, "sleeping; reset to wake"),
]


@pytest.mark.parametrize(("name", "state", "detail"), [pytest.param(*row, id=row[0]) for row in STATES])
def test_each_grbl_state_maps_to_a_machine_state(name, state, detail):
    driver = GrblDriver()
    driver.feed(f"<{name}|{ZERO}>")
    snap = driver.snapshot()
    assert (snap.state, snap.detail) == (state, detail)


@given(st.text(max_size=200))
def test_any_text_never_raises_and_malformed_is_counted(text):
    driver = GrblDriver()
    observations = driver.feed(text)
    assert driver.counters["malformed"] == sum(isinstance(o, Malformed) for o in observations)


def test_driver_satisfies_the_firmware_driver_protocol():
    assert isinstance(GrblDriver(), FirmwareDriver)


def events(driver: GrblDriver, line: str) -> list[tuple[str, str | None]]:
    return [(o.event, o.code) for o in driver.feed(line) if isinstance(o, MachineEvent)]


# --- bytes written -------------------------------------------------------------------------------------


def test_handshake_asks_settings_then_status_and_poll_is_one_byte():
    driver = GrblDriver()
    assert driver.handshake() == [b"$$\n", b"?"]
    assert driver.poll() == [b"?"]


@pytest.mark.parametrize(("cmd", "written"), [
    pytest.param("pause", b"!", id="pause"),
    pytest.param("resume", b"~", id="resume"),
    pytest.param("stop", b"\x18", id="stop"),
    pytest.param("home", b"$H\n", id="home"),
])
def test_commands_are_realtime_bytes_or_lines(cmd, written):
    assert GrblDriver().command(cmd, {}) == [written]


def test_start_job_is_unsupported():
    with pytest.raises(UnsupportedCommand):
        GrblDriver().command("start_job", {"file": "part.nc"})


def test_error_is_attributed_to_the_line_that_caused_it():
    driver = GrblDriver()
    driver.handshake()
    driver.command("home", {})
    acks = [o for line in ("ok", "error:9") for o in driver.feed(line) if isinstance(o, Ack)]
    assert [(a.ok, a.command) for a in acks] == [(True, "$$"), (False, "$H")]


def test_home_after_stop_waits_for_the_banner():
    driver = GrblDriver()
    driver.command("stop", {})
    assert driver.command("home", {}) == []
    driver.feed("ALARM:3")
    assert driver.outgoing() == []
    driver.feed("Grbl 1.1h ['$' for help]")
    assert driver.outgoing() == [b"$H\n"]


# --- metrics -------------------------------------------------------------------------------------------


def test_mpos_and_fs_become_metrics():
    driver = GrblDriver()
    driver.feed("<Run|MPos:1.500,-2.000,3.250|FS:1200,9000>")
    assert driver.snapshot().metrics == {"x_mm": 1.5, "y_mm": -2.0, "z_mm": 3.25, "feed_mm_min": 1200.0,
                                         "spindle_rpm": 9000.0}


def test_wpos_plus_the_last_wco_is_machine_position():
    driver = GrblDriver()
    driver.feed("<Idle|WPos:1.000,2.000,3.000|FS:0,0|WCO:10.000,5.000,-2.000>")
    driver.feed("<Idle|WPos:2.000,2.000,3.000|FS:0,0>")
    metrics = driver.snapshot().metrics
    assert (metrics["x_mm"], metrics["y_mm"], metrics["z_mm"]) == (12.0, 7.0, 1.0)


def test_f_field_without_spindle_is_feed_only():
    driver = GrblDriver()
    driver.feed("<Run|MPos:0.000,0.000,0.000|F:300>")
    assert driver.snapshot().metrics["feed_mm_min"] == 300.0
    assert "spindle_rpm" not in driver.snapshot().metrics


def test_inch_reports_are_converted_to_millimetres():
    driver = GrblDriver()
    driver.feed("$13=1")
    driver.feed("<Run|MPos:1.000,0.000,0.000|FS:10,0>")
    assert driver.snapshot().metrics["x_mm"] == 25.4
    assert driver.snapshot().metrics["feed_mm_min"] == 254.0


# --- events --------------------------------------------------------------------------------------------


def test_alarm_is_an_alarm_event_and_a_fault_until_status_leaves_alarm():
    driver = GrblDriver()
    driver.feed(f"<Run|{ZERO}>")
    assert events(driver, "ALARM:1") == [("alarm", "ALARM:1")]
    driver.feed("[MSG:Reset to continue]")
    snap = driver.snapshot()
    assert (snap.state, snap.detail) == (MachineState.FAULT, f"{ALARMS[1]}; Reset to continue")
    assert events(driver, "Grbl 1.1h ['$' for help]") == []
    driver.feed("[MSG:'$H'|'$X' to unlock]")
    assert events(driver, f"<Alarm|{ZERO}>") == []
    assert driver.snapshot().state is MachineState.FAULT
    assert events(driver, f"<Idle|{ZERO}>") == [("fault_cleared", "ALARM:1")]
    assert driver.snapshot().state is MachineState.IDLE


def test_power_up_alarm_lock_is_a_fault_without_an_alarm_event():
    driver = GrblDriver()
    driver.feed("Grbl 1.1h ['$' for help]")
    assert events(driver, "[MSG:'$H'|'$X' to unlock]") == []
    assert driver.snapshot().state is MachineState.FAULT


def test_door_open_and_closed_events():
    driver = GrblDriver()
    driver.feed(f"<Run|{ZERO}>")
    assert events(driver, f"<Door:1|{ZERO}|Pn:D>") == [("door_open", None)]
    assert events(driver, f"<Door:0|{ZERO}>") == []
    assert events(driver, f"<Run|{ZERO}>") == [("door_closed", None)]


def test_garbage_between_reports_is_counted_and_state_survives():
    driver = GrblDriver()
    driver.feed(f"<Run|{ZERO}>")
    for junk in ("<Run|MPos:1.0", "\x8f\x13#", "error:", "ALARM:", "<>"):
        driver.feed(junk)
    assert driver.counters["malformed"] == 5
    assert driver.snapshot().state is MachineState.RUNNING


def test_connection_lost_is_offline_and_next_report_restores_state():
    driver = GrblDriver()
    driver.feed(f"<Hold:0|{ZERO}>")
    driver.connection_lost()
    assert driver.snapshot().state is MachineState.OFFLINE
    driver.feed(f"<Hold:0|{ZERO}>")
    assert driver.snapshot().state is MachineState.PAUSED


def test_held_home_is_attributed_correctly_whichever_the_bridge_writes_first():
    driver = GrblDriver()
    driver.command("stop", {})
    driver.command("home", {})
    driver.feed("Grbl 1.1h ['$' for help]")
    assert driver.handshake() + driver.outgoing() == [b"$$\n", b"?", b"$H\n"]
    acks = [o for line in ("ok", "ok") for o in driver.feed(line) if isinstance(o, Ack)]
    assert [a.command for a in acks] == ["$$", "$H"]
