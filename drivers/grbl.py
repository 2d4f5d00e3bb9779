"""GRBL 1.1's serial protocol: pure parsers of its lines, and `GrblDriver`, the sans-IO host side.

GRBL answers each line with `ok` or `error:n`, answers the real-time `?` at any time with a status report
`<State|MPos:...|FS:...>` and no `ok`, reports alarms as `ALARM:n` followed by `[MSG:...]`, and prints its
banner after every reset. Pause, resume and stop are single real-time bytes (`!`, `~`, Ctrl-X).
"""

from __future__ import annotations

import dataclasses
import re
from collections import deque

from drivers.firmware import (
    ALARM,
    DOOR_CLOSED,
    DOOR_OPEN,
    FAULT_CLEARED,
    Ack,
    Fault,
    FirmwareInfo,
    MachineEvent,
    Malformed,
    Message,
    Noise,
    Observation,
    ResetDetected,
    Setting,
    Status,
    TrackedDriver,
    UnsupportedCommand,
)
from drivers.states import MachineState

ERRORS = {
    1: "G-code words consist of a letter and a value. Letter was not found.",
    2: "Numeric value format is not valid or missing an expected value.",
    3: "Grbl '$' system command was not recognized or supported.",
    4: "Negative value received for an expected positive value.",
    5: "Homing cycle is not enabled via settings.",
    6: "Minimum step pulse time must be greater than 3usec.",
    7: "EEPROM read failed. Reset and restored to default values.",
    8: "Grbl '$' command cannot be used unless Grbl is IDLE.",
    9: "G-code locked out during alarm or jog state.",
    10: "Soft limits cannot be enabled without homing also enabled.",
    11: "Max characters per line exceeded. Line was not processed and executed.",
    12: "Grbl '$' setting value exceeds the maximum step rate supported.",
    13: "Safety door detected as opened and door state initiated.",
    14: "Build info or startup line exceeded EEPROM line length limit.",
    15: "Jog target exceeds machine travel. Command ignored.",
    16: "Jog command with no '=' or contains prohibited g-code.",
    17: "Laser mode requires PWM output.",
    20: "Unsupported or invalid g-code command found in block.",
    21: "More than one g-code command from same modal group found in block.",
    22: "Feed rate has not yet been set or is undefined.",
    23: "G-code command in block requires an integer value.",
    24: "Two G-code commands that both require the use of the XYZ axis words were detected in the block.",
    25: "A G-code word was repeated in the block.",
    26: "A G-code command implicitly or explicitly requires XYZ axis words in the block, but none were detected.",
    27: "N line number value is not within the valid range of 1 - 9,999,999.",
    28: "A G-code command was sent, but is missing some required P or L value words in the line.",
    29: "Grbl supports six work coordinate systems G54-G59. G59.1, G59.2, and G59.3 are not supported.",
    30: "The G53 G-code command requires either a G0 seek or G1 feed motion mode to be active.",
    31: "There are unused axis words in the block and G80 motion mode cancel is active.",
    32: "A G2 or G3 arc was commanded but there are no XYZ axis words in the selected plane to trace the arc.",
    33: "The motion command has an invalid target.",
    34: "A G2 or G3 arc, traced with the radius definition, had a mathematical error when computing the arc.",
    35: "A G2 or G3 arc, traced with the offset definition, is missing the IJK offset word in the plane.",
    36: "There are unused, leftover G-code words that aren't used by any command in the block.",
    37: "The G43.1 dynamic tool length offset command cannot apply an offset to an axis other than configured.",
    38: "Tool number greater than max supported value.",
}

ALARMS = {
    1: "Hard limit triggered. Machine position is likely lost due to sudden and immediate halt.",
    2: "G-code motion target exceeds machine travel. Machine position safely retained.",
    3: "Reset while in motion. Machine position is likely lost due to sudden and immediate halt.",
    4: "Probe fail. The probe is not in the expected initial state before starting probe cycle.",
    5: "Probe fail. Probe did not contact the workpiece within the programmed travel.",
    6: "Homing fail. Reset during active homing cycle.",
    7: "Homing fail. Safety door was opened during active homing cycle.",
    8: "Homing fail. Cycle failed to clear limit switch when pulling off.",
    9: "Homing fail. Could not find limit switch within search distance.",
    10: "Homing fail. On dual axis machines, could not find the second limit switch.",
}

STATES = {
    "Idle": MachineState.IDLE,
    "Run": MachineState.RUNNING,
    "Jog": MachineState.RUNNING,
    "Home": MachineState.RUNNING,
    "Hold": MachineState.PAUSED,
    "Door": MachineState.PAUSED,
    "Alarm": MachineState.FAULT,
    "Check": MachineState.IDLE,
    # Sleep ($SLP) powers the steppers down until a reset: not broken, not working -> idle, said in detail.
    "Sleep": MachineState.IDLE,
}
SUBSTATES = {"Hold": "01", "Door": "0123"}
DETAILS = {
    "Hold:0": "feed hold, ready to resume", "Hold:1": "feed hold, stopping",
    "Door:0": "door closed, ready to resume", "Door:1": "door ajar, machine stopped",
    "Door:2": "door opened, parking", "Door:3": "door closed, restoring", "Check": "check mode (no motion)",
    "Sleep": "sleeping; reset to wake", "Jog": "jogging", "Home": "homing",
}
INCH = 25.4
_NUM = r"-?\d+(?:\.\d*)?"
_VECTOR = re.compile(rf"^{_NUM}(?:,{_NUM})*$")
_STATUS = re.compile(r"^<([A-Za-z]+)(?::(\d))?((?:\|[A-Za-z]+:[^|<>]*)*)>$")
_BANNER = re.compile(r"^Grbl (\S+) \['\$' for help\]$")
_BRACKET = re.compile(r"^\[([A-Z0-9]+):(.*)\]$")
_FIELD_SHAPES = {"MPos": _VECTOR, "WPos": _VECTOR, "WCO": _VECTOR, "FS": _VECTOR, "F": _VECTOR,
                 "Bf": _VECTOR, "Ln": _VECTOR, "Ov": _VECTOR, "Pn": re.compile(r"^[XYZABCPDHRS]*$"),
                 "A": re.compile(r"^[SCFM]*$")}


def parse_status(text: str) -> Status | None:
    """`<Hold:1|MPos:1.000,2.000,0.000|FS:0,0|Pn:XY>` -> Status(name "Hold:1", fields), None if not one."""
    match = _STATUS.match(text)
    if not match or match[1] not in STATES:
        return None
    if (match[2] is not None) != (match[1] in SUBSTATES) or (match[2] and match[2] not in SUBSTATES[match[1]]):
        return None
    fields = dict(part.split(":", 1) for part in match[3].split("|")[1:])
    for key, value in fields.items():
        shape = _FIELD_SHAPES.get(key)
        if shape is not None and not shape.match(value):
            return None
    name = match[1] + (f":{match[2]}" if match[2] is not None else "")
    return Status(name=name, fields=fields)


def parse_line(line: str) -> list[Observation]:
    """One received GRBL line -> its observations. Never raises; unknown -> Malformed."""
    text = line.strip()
    if not text:
        return [Noise(text="")]
    if not text.isprintable():
        return [Malformed(text=line)]
    if text == "ok":
        return [Ack()]
    if text.startswith("<"):
        status = parse_status(text)
        return [status] if status else [Malformed(text=text)]
    if match := re.match(r"^error:(\d+)$", text):
        code = int(match[1])
        return [Ack(ok=False, code=code, detail=ERRORS.get(code, f"unknown error {code}"))]
    if match := re.match(r"^ALARM:(\d+)$", text):
        code = int(match[1])
        return [Fault(code=f"ALARM:{code}", detail=ALARMS.get(code, f"unknown alarm {code}"))]
    if match := _BANNER.match(text):
        return [ResetDetected(banner=text)]
    if match := re.match(r"^\$(\d+)=(" + _NUM + r")$", text):
        return [Setting(key=f"${match[1]}", value=match[2])]
    if match := _BRACKET.match(text):
        if match[1] == "MSG":
            return [Message(text=match[2])]
        return [FirmwareInfo(name=match[1], fields={"value": match[2]})]
    if text.startswith(">") and text.endswith((":ok", ":error")):
        return [Message(text=text)]  # startup line executed: `>G54G20:ok`
    return [Malformed(text=text)]


class GrblDriver(TrackedDriver):
    """Host side of GRBL 1.1 (drivers/firmware.py `FirmwareDriver`).

    Positions are machine positions (MPos); a WPos report is turned back into MPos with the last WCO
    (zero until GRBL sends one). `$13=1` (report inches) is honoured. GRBL has no notion of a job, so this
    driver emits no job events; it emits `alarm` (with `ALARM:n`), `fault_cleared`, `door_open` and
    `door_closed`. Stop is a soft reset: in motion GRBL then raises ALARM:3 and asks for homing.
    """

    REALTIME = {"pause": b"!", "resume": b"~", "stop": b"\x18"}

    def __init__(self) -> None:
        super().__init__()
        self.version = ""
        self.settings: dict[str, str] = {}
        self._pending: deque[str] = deque()
        self._wco = (0.0, 0.0, 0.0)
        self._status = ""
        self._alarm: str | None = None
        self._alarm_detail = ""
        self._resetting = False
        self._held: list[str] = []

    def handshake(self) -> list[bytes]:
        """Read the settings (units, limits) and ask where the machine stands."""
        return [self._line("$$"), b"?"]

    def poll(self) -> list[bytes]:
        return [b"?"]

    def command(self, cmd: str, args: dict) -> list[bytes]:
        """pause `!`, resume `~`, stop Ctrl-X (soft reset), home `$H`; start_job is not supported."""
        if cmd == "stop":
            self._resetting = True
        if cmd in self.REALTIME:
            return [self.REALTIME[cmd]]
        if cmd != "home":
            raise UnsupportedCommand(f"GRBL driver cannot {cmd!r}")
        if self._resetting:  # GRBL drops what arrives before its banner: hold the line until then
            self._held.append("$H")
            return []
        return [self._line("$H")]

    def outgoing(self) -> list[bytes]:
        """Lines held back while GRBL was resetting, once its banner has arrived (in either order with
        `handshake()`: a line counts as sent, for `ok` attribution, when it is handed out here)."""
        if self._resetting:
            return []
        out, self._held = [self._line(text) for text in self._held], []
        return out

    def _line(self, text: str) -> bytes:
        self._pending.append(text)
        return f"{text}\n".encode()

    def feed(self, line: str) -> list[Observation]:
        observations = parse_line(line)
        self._track.count(observations)
        result: list[Observation] = []
        for obs in observations:
            if not isinstance(obs, Malformed) and self._track.state is MachineState.OFFLINE:
                self._track.state = MachineState.IDLE
            if isinstance(obs, Ack) and self._pending:
                obs = dataclasses.replace(obs, command=self._pending.popleft())
            result.append(obs)
            result += self._apply(obs)
        return result + self._track.settle()

    def connection_lost(self) -> None:
        self._pending.clear()
        self._held.clear()
        self._resetting = False
        self._status = ""
        self._track.state, self._track.detail = MachineState.OFFLINE, "serial port lost"

    # --- what lines mean -------------------------------------------------------------------------------

    def _apply(self, obs: Observation) -> list[Observation]:
        if isinstance(obs, Status):
            return self._status_report(obs)
        if isinstance(obs, Fault):
            return self._alarmed(obs.code, obs.detail)
        if isinstance(obs, Setting):
            self.settings[obs.key] = obs.value
        elif isinstance(obs, ResetDetected):
            self.version = obs.banner.split()[1]
            self._pending.clear()
            self._resetting = False
        elif isinstance(obs, Message) and obs.text in ("'$H'|'$X' to unlock", "Reset to continue"):
            if self._alarm is None:
                return self._alarmed("locked", "alarm lock", obs.text)
            self._track.detail = f"{self._alarm_detail}; {obs.text}"
        return []

    def _alarmed(self, code: str, detail: str, message: str = "") -> list[Observation]:
        first = self._alarm is None
        self._alarm, self._alarm_detail = code, detail
        self._track.state = MachineState.FAULT
        self._track.detail = f"{detail}; {message}" if message else detail
        return [MachineEvent(event=ALARM, code=code, detail=detail)] if first and code != "locked" else []

    def _status_report(self, obs: Status) -> list[Observation]:
        events: list[Observation] = []
        was_door, is_door = self._status.startswith("Door"), obs.name.startswith("Door")
        if is_door and not was_door:
            events.append(MachineEvent(event=DOOR_OPEN, detail=DETAILS[obs.name]))
        elif was_door and not is_door:
            events.append(MachineEvent(event=DOOR_CLOSED))
        base = obs.name.split(":")[0]
        if base != "Alarm" and self._alarm is not None:
            events.append(MachineEvent(event=FAULT_CLEARED, code=self._alarm, detail=f"now {obs.name}"))
            self._alarm = None
        self._status = obs.name
        if base == "Alarm":
            self._track.state = MachineState.FAULT
            if self._alarm is None:
                self._alarm = self._alarm_detail = self._track.detail = "alarm"
        else:
            self._track.state, self._track.detail = STATES[base], DETAILS.get(obs.name, "")
        self._metrics(obs.fields)
        return events

    def _metrics(self, fields: dict[str, str]) -> None:
        scale = INCH if self.settings.get("$13", "0").startswith("1") else 1.0
        if "WCO" in fields:
            self._wco = _floats(fields["WCO"], 3)
        position = None
        if "MPos" in fields:
            position = _floats(fields["MPos"], 3)
        elif "WPos" in fields:
            position = tuple(w + o for w, o in zip(_floats(fields["WPos"], 3), self._wco, strict=True))
        metrics = self._track.metrics
        if position is not None:
            metrics.update({f"{axis}_mm": round(value * scale, 4) for axis, value in zip("xyz", position, strict=True)})
        if "FS" in fields:
            feed, rpm = _floats(fields["FS"], 2)
            metrics.update({"feed_mm_min": round(feed * scale, 4), "spindle_rpm": rpm})
        elif "F" in fields:
            metrics["feed_mm_min"] = round(_floats(fields["F"], 1)[0] * scale, 4)


def _floats(text: str, count: int) -> tuple[float, ...]:
    """The first `count` numbers of `1.0,2.0,3.0`, padded with zeros (GRBL may have fewer axes)."""
    values = [float(v) for v in text.split(",")[:count]]
    return tuple(values + [0.0] * (count - len(values)))
